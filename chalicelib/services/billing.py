"""Billing connections: OAuth connect, sealed tokens that renew themselves, properties, and sync.

    admin ──POST /connections/billing/{system}/authorize──▶ state saved (single use, 10 min)
          ◀── URL of the system's consent page
    browser ──consent──▶ system ──redirect──▶ GET /connections/billing/{system}/callback?code&state
          state taken ──▶ code exchanged ──▶ tokens sealed with KMS ──▶ connection saved ──▶ console

Tokens renew on a 401 (or shortly before they expire): see ``billing_tokens``.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from chalicelib.domain.billing import (
    BillingConnection,
    BillingError,
    BillingSystem,
    ConnectionStatus,
    OAuthTokens,
    ReauthorizationRequired,
    parse_properties,
    sync_due,
)
from chalicelib.domain.billing_sync import SyncPlan, plan_sync
from chalicelib.domain.billing_users import (
    USER_AUTHORIZED_SYSTEMS,
    BillingUserAuthorization,
    UserAuthorizationMode,
    UserAuthorizationStatus,
    mode_of,
    takes_user_authorization,
)
from chalicelib.domain.errors import (
    Conflict,
    DomainError,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
    StaleVersion,
    UpstreamFailed,
)
from chalicelib.domain.identity import Permission, Principal, permissions_for
from chalicelib.domain.imports import ExistingRecords
from chalicelib.domain.roster import User, UserStatus
from chalicelib.ports import (
    BillingIdentity,
    BillingRepository,
    BillingSystems,
    BillingTarget,
    BillingUserAuthorizations,
    Clock,
    EntityStore,
    MatterRepository,
    SecretBox,
    UserRepository,
)
from chalicelib.services.billing_tokens import (
    JustIssued,
    StoredTokenSource,
    UserTokenSource,
    tokens_to_bytes,
)
from chalicelib.services.paging import every_item

STATE_LIFETIME = timedelta(minutes=10)
logger = logging.getLogger(__name__)
# A person's consent state starts with this; ``secrets.token_urlsafe`` never writes a '.', so no firm
# state can. It lets the callback tell a person's link even after the stored state is used up or gone.
USER_STATE_PREFIX = "u."
NEEDS_CODE = "this callback needs the code and state the billing system sends; start connecting again"


def _title(system: BillingSystem) -> str:
    return "Actionstep" if system is BillingSystem.ACTIONSTEP else system.value.title()


class UnknownState(Forbidden):
    """The callback's state is in neither flow's store: unknown, already used, or long gone."""


class ConsentRefused(Forbidden):
    """A person's consent came back but cannot be used. ``outcome`` is the code the console shows it by,
    ``system`` the system the person was connecting; the message says what to do next."""

    def __init__(self, system: BillingSystem, outcome: str, message: str) -> None:
        super().__init__(message)
        self.system = system
        self.outcome = outcome


def _refusal(system: BillingSystem, outcome: str, who: str | None = None) -> ConsentRefused:
    """The person-facing refusal for ``outcome``: what happened and what to do next (never whose data)."""
    title = _title(system)
    again = f"choose Connect to {title} again"
    messages = {
        "wrong_login": f"You signed in to {title} as {who or 'someone else'}, not as yourself: "
        f"{again} and sign in with your own {title} login.",
        "expired": f"That sign-in link expired (links last 10 minutes); {again}.",
        "used": f"That sign-in link was already used or is not one Matterline made; {again}.",
        "other_system": f"That sign-in link was made for {title}, not another system; {again}.",
        "not_in_firm": f"That sign-in link belongs to nobody in your firm any more; sign in to the console "
        f"as yourself and {again}.",
        "code_refused": f"{title} did not accept the sign-in; {again}.",
        "no_code": f"{title} sent you back without a sign-in code; {again}.",
        "failed": f"{title} did not complete the sign-in; wait a minute and {again}.",
    }
    return ConsentRefused(system, outcome, messages[outcome])


@dataclass(frozen=True)
class CallbackLanding:
    """Where the callback sends the browser; ``refused`` when it is to say what went wrong (a 303)."""

    location: str
    refused: bool = False


@dataclass(frozen=True)
class PersonAuthorization:
    """One person of the admin's overview: who they are and their own authorization (or None)."""

    user: User
    authorization: BillingUserAuthorization | None

    @property
    def status(self) -> UserAuthorizationStatus:
        """``disconnected`` for someone who never authorized."""
        return self.authorization.status if self.authorization else UserAuthorizationStatus.DISCONNECTED


@dataclass(frozen=True)
class AuthorizationOverview:
    """The admin's view of a system's people: its connection, the mode, and everyone who records time."""

    connection: BillingConnection
    mode: UserAuthorizationMode
    people: list[PersonAuthorization]

    @property
    def connected(self) -> int:
        """How many of ``people`` are connected."""
        return sum(1 for p in self.people if p.status is UserAuthorizationStatus.CONNECTED)


def records_time(user: User) -> bool:
    """Whether ``user`` is on the roster of people whose time is posted (and so may connect a login)."""
    return user.status is not UserStatus.DISABLED and Permission.TIME_WRITE_OWN in permissions_for(user.roles)


def system_named(name: str) -> BillingSystem:
    """The billing system called ``name``, or a 404 that lists the ones we know."""
    try:
        return BillingSystem(name)
    except ValueError:
        known = ", ".join(s.value for s in BillingSystem)
        raise NotFound(f"there is no billing system '{name}'; known: {known}") from None


class BillingConnectionService:
    """Connect, inspect, configure and sync a firm's billing systems."""

    def __init__(
        self,
        *,
        repository: BillingRepository,
        systems: BillingSystems,
        box: SecretBox,
        matters: MatterRepository,
        users: UserRepository,
        clock: Clock,
        callback_base_url: str,
        console_url: str,
        user_authorizations: BillingUserAuthorizations,
    ) -> None:
        self._repository = repository
        self._user_authorizations = user_authorizations
        self._systems = systems
        self._box = box
        self._matters = matters
        self._users = users
        self._clock = clock
        self._callback_base_url = callback_base_url.rstrip("/")
        self._console_url = console_url

    def redirect_uri(self, system: BillingSystem) -> str:
        """Where the billing system sends the admin back (register it with the system's app)."""
        return f"{self._callback_base_url}/connections/billing/{system.value}/callback"

    def begin_connect(self, principal: Principal, system_name: str) -> str:
        """The consent page URL to send the admin's browser to."""
        principal.require(Permission.BILLING_CONNECT)
        system = system_named(system_name)
        state = secrets.token_urlsafe(32)
        expires = self._clock.now() + STATE_LIFETIME
        self._repository.save_oauth_state(state, principal.firm_id, system.value, principal.actor, expires)
        return self._systems.oauth(system.value).authorize_url(state, self.redirect_uri(system))

    def complete_connect(self, system_name: str, code: str, state: str) -> BillingConnection:
        """The callback: check the single-use state, exchange the code, seal and keep the tokens."""
        system = system_named(system_name)
        taken = self._repository.take_oauth_state(state)
        if taken is None:
            raise UnknownState("this sign-in link was already used or is unknown; start connecting again")
        firm_id, state_system, actor, expires_at = taken
        if state_system != system.value:
            raise Forbidden("this sign-in link was made for another billing system; start again")
        if expires_at < self._clock.now():
            raise Forbidden("this sign-in link expired (10 minutes); start connecting again")
        try:
            tokens = self._systems.oauth(system.value).exchange_code(code, self.redirect_uri(system))
        except ReauthorizationRequired:
            raise Forbidden(
                f"{system.value} did not accept the sign-in code; start connecting again"
            ) from None
        except BillingError as failure:
            raise UpstreamFailed(
                f"{system.value} failed to complete the sign-in ({failure}); try again"
            ) from None
        current = self._repository.connection(firm_id, system.value)
        now = self._clock.now()
        connection = replace(
            current or BillingConnection(firm_id=firm_id, system=system),
            status=ConnectionStatus.CONNECTED,
            sealed_tokens=self._box.seal(tokens_to_bytes(tokens), firm_id),
            connected_by=actor,
            connected_at=now,
            last_error=None,
        )
        return self._repository.save_connection(connection, actor, "connect")

    def console_link(self, system: BillingSystem, outcome: str) -> str:
        """Where the callback sends the admin's browser afterwards."""
        return f"{self._console_url}#connections?{system.value}={outcome}"

    def my_console_link(self, system: BillingSystem, outcome: str) -> str:
        """Where the callback sends a person who authorized their own account: their preferences."""
        return f"{self._console_url}#preferences?{system.value}={outcome}"

    def finish_callback(
        self,
        system_name: str,
        code: str | None,
        state: str | None,
        error: str | None,
        *,
        navigation: bool = False,
    ) -> CallbackLanding:
        """The shared callback, for either flow: where to send the browser.

        The flow is told by where the state is kept, and a person's also by its prefix (so a used-up or
        forged one is still theirs). A person's refused consent goes back to their Preferences with an
        outcome code and what to do next (``refused``), having changed nothing; so does a state nobody
        can place when a browser navigated here: a person would be stranded on a JSON page, an API
        client reads the 403. The firm flow's refusals stay 403s. A declined consent uses up a person's
        state and says so; a declined firm connection keeps its state unused (it expires by itself).
        """
        system = system_named(system_name)
        declined = f"declined&reason={quote(error or '')}"
        if not state:
            if error:
                return CallbackLanding(self.console_link(system, declined))
            return self._unplaced(system, navigation)
        personal = state.startswith(USER_STATE_PREFIX)
        if not (code or error):
            # Nothing to complete: a person's state is left to expire rather than used up for nothing.
            if personal:
                return self._refused(_refusal(system, "no_code"))
            return self._unplaced(system, navigation)
        taken = self._user_authorizations.take_user_oauth_state(state)
        if taken is None and not personal:
            if error:
                return CallbackLanding(self.console_link(system, declined))
            try:
                self.complete_connect(system_name, code or "", state)
            except UnknownState as unknown:
                return self._unplaced(system, navigation, unknown.message)
            return CallbackLanding(self.console_link(system, "connected"))
        if error:
            return CallbackLanding(self.my_console_link(system, declined))
        try:
            if taken is None:
                raise _refusal(system, "used")
            self.complete_user_authorization(system, code or "", taken)
        except ConsentRefused as refused:
            return self._refused(refused)
        except DomainError as failure:
            # The system failed, or the record changed meanwhile: nothing was saved; the detail is logged
            # rather than put in the browser's address bar.
            logger.warning("a person's %s sign-in did not complete: %s", system.value, failure.message)
            return self._refused(_refusal(system, "failed"))
        return CallbackLanding(self.my_console_link(system, "connected"))

    def _refused(self, refused: ConsentRefused) -> CallbackLanding:
        """Back to the person's Preferences with the outcome and the message to show as an error."""
        outcome = urlencode({"message": refused.message})
        return CallbackLanding(self.my_console_link(refused.system, f"{refused.outcome}&{outcome}"), True)

    def _unplaced(
        self, system: BillingSystem, navigation: bool, problem: str = NEEDS_CODE
    ) -> CallbackLanding:
        """A callback no flow can be found for: a browser goes to Preferences saying so; a client, 403."""
        if not navigation:
            raise Forbidden(problem)
        return self._refused(_refusal(system, "used"))

    # -- a person's own authorization (Actionstep)

    def my_authorizations(
        self, principal: Principal
    ) -> list[tuple[BillingConnection, BillingUserAuthorization]]:
        """For each system the firm has connected whose people authorize themselves: theirs, or a blank."""
        self._require_person(principal)
        found = []
        for system in sorted(USER_AUTHORIZED_SYSTEMS):
            connection = self._repository.connection(principal.firm_id, system.value)
            if connection is None or connection.status is ConnectionStatus.DISCONNECTED:
                continue
            mine = self._user_authorizations.authorization(
                principal.firm_id, system.value, principal.subject_id
            )
            found.append(
                (
                    connection,
                    mine
                    or BillingUserAuthorization(
                        firm_id=principal.firm_id, system=system, user_id=principal.subject_id
                    ),
                )
            )
        return found

    def authorization_overview(self, principal: Principal, system_name: str) -> AuthorizationOverview:
        """For an admin deciding on ``USER_AUTHORIZATION``: everyone who records time and whether their
        own login is connected. One Query for the firm's authorizations (not one read per person); the
        roster is read page by page as the roster page does. Names and emails are roster data, so it takes
        ``roster:read`` beside the connection routes' ``billing:export``."""
        principal.require(Permission.BILLING_EXPORT)
        principal.require(Permission.ROSTER_READ)
        system = self._user_system(system_name)
        firm_id = principal.firm_id
        connection = self._repository.connection(firm_id, system.value) or BillingConnection(
            firm_id=firm_id, system=system
        )
        stored = {a.user_id: a for a in self._user_authorizations.authorizations(firm_id, system.value)}
        roster = every_item(lambda cursor: self._users.list(firm_id, cursor=cursor, limit=200))
        people = [PersonAuthorization(u, stored.get(u.user_id)) for u in roster if records_time(u)]
        people.sort(key=lambda p: (p.user.display_name.casefold(), p.user.email))
        return AuthorizationOverview(connection, mode_of(connection.properties.user_authorization), people)

    def begin_user_authorization(self, principal: Principal, system_name: str) -> str:
        """The consent page for the signed-in person's own login; the state names firm, person, system."""
        self._require_person(principal)
        system = self._user_system(system_name)
        self.connected(principal.firm_id, system.value)
        state = USER_STATE_PREFIX + secrets.token_urlsafe(32)
        expires = self._clock.now() + STATE_LIFETIME
        self._user_authorizations.save_user_oauth_state(
            state, principal.firm_id, system.value, principal.subject_id, expires
        )
        return self._systems.oauth(system.value).authorize_url(state, self.redirect_uri(system))

    def complete_user_authorization(
        self, system: BillingSystem, code: str, taken: tuple[str, str, str, datetime]
    ) -> BillingUserAuthorization:
        """Exchange the code, check whose login it is, seal and keep the person's tokens."""
        firm_id, state_system, user_id, expires_at = taken
        if state_system != system.value:
            # Said in terms of the system the person was connecting: that is where they start again.
            raise _refusal(system_named(state_system), "other_system")
        if expires_at < self._clock.now():
            raise _refusal(system, "expired")
        user = self._users.get(firm_id, user_id)
        if user is None:
            raise _refusal(system, "not_in_firm")
        tokens = self._exchange(system, code)
        who_id, who_name = self._whose_login(system, tokens)
        linked = user.external_ids.get(system.value)
        if who_id and linked and who_id != linked:
            # The name is of the login this browser itself just signed in with: telling it back reveals
            # nothing of anyone else's, and is what the person needs to see to fix it.
            raise _refusal(system, "wrong_login", who_name)
        current = self._user_authorizations.authorization(firm_id, system.value, user_id)
        now = self._clock.now()
        authorization = replace(
            current or BillingUserAuthorization(firm_id=firm_id, system=system, user_id=user_id),
            status=UserAuthorizationStatus.CONNECTED,
            sealed_tokens=self._box.seal(tokens_to_bytes(tokens), firm_id),
            participant_id=who_id or linked,
            participant_name=who_name or user.display_name,
            authorized_at=now,
            changed_at=now,
            last_error=None,
        )
        return self._user_authorizations.save_authorization(authorization, f"user:{user_id}", "authorize")

    def disconnect_my_authorization(self, principal: Principal, system_name: str) -> None:
        """Forget the person's own tokens; their time goes through the firm connection (or waits)."""
        self._require_person(principal)
        system = self._user_system(system_name)
        current = self._user_authorizations.authorization(
            principal.firm_id, system.value, principal.subject_id
        )
        if current is None or current.status is UserAuthorizationStatus.DISCONNECTED:
            return  # already disconnected: repeating is harmless
        changed = replace(
            current,
            status=UserAuthorizationStatus.DISCONNECTED,
            sealed_tokens=None,
            changed_at=self._clock.now(),
        )
        self._user_authorizations.save_authorization(changed, principal.actor, "disconnect")

    def user_authorization(
        self, firm_id: str, system: BillingSystem, user_id: str
    ) -> BillingUserAuthorization | None:
        """A person's own authorization, for posting."""
        if not takes_user_authorization(system):
            return None
        return self._user_authorizations.authorization(firm_id, system.value, user_id)

    def user_target(self, authorization: BillingUserAuthorization) -> BillingTarget:
        """The adapter carrying a person's own token (renewed as theirs, marked as theirs if refused)."""
        tokens = UserTokenSource(
            self._user_authorizations, self._box, self._systems, self._clock, authorization
        )
        return self._systems.target(authorization.system.value, tokens)

    @staticmethod
    def _require_person(principal: Principal) -> None:
        # Delegates act on someone's timeline, never on their billing login; tokens have no login at all.
        if principal.kind != "user" or principal.actor != f"user:{principal.subject_id}":
            raise Forbidden("a billing login belongs to a person: sign in to the console as yourself")

    @staticmethod
    def _user_system(system_name: str) -> BillingSystem:
        system = system_named(system_name)
        if not takes_user_authorization(system):
            # Not a state to wait out but a thing that does not exist: Clio has no per-person logins.
            raise NotFound(
                f"{system.value} is connected once for the whole firm; people do not connect it themselves"
            )
        return system

    def _exchange(self, system: BillingSystem, code: str) -> OAuthTokens:
        try:
            return self._systems.oauth(system.value).exchange_code(code, self.redirect_uri(system))
        except ReauthorizationRequired:
            raise _refusal(system, "code_refused") from None
        except BillingError as failure:
            if failure.status in (400, 401, 403):
                # The token endpoint turned the code down (invalid_grant: unknown, used or stale); the
                # same code never works later, so the person starts again rather than waits.
                raise _refusal(system, "code_refused") from None
            raise UpstreamFailed(
                f"{system.value} failed to complete the sign-in ({failure}); try again"
            ) from None

    def _whose_login(self, system: BillingSystem, tokens: OAuthTokens) -> tuple[str | None, str | None]:
        """The system's id and name of the login ``tokens`` sign in as, when the adapter can tell."""
        target = self._systems.target(system.value, JustIssued(tokens))
        if not isinstance(target, BillingIdentity):
            return None, None
        try:
            who = target.current_user()
        except BillingError as failure:
            raise UpstreamFailed(
                f"{system.value} did not say whose login this is ({failure}); try again"
            ) from None
        return who.external_id, who.name

    def connections(self, principal: Principal) -> list[BillingConnection]:
        """Every billing system with the firm's connection to it (disconnected when there is none)."""
        principal.require(Permission.BILLING_EXPORT)
        stored = {c.system: c for c in self._repository.connections(principal.firm_id)}
        return [
            stored.get(s) or BillingConnection(firm_id=principal.firm_id, system=s) for s in BillingSystem
        ]

    def connection(self, principal: Principal, system_name: str) -> BillingConnection:
        """One connection, whatever its status."""
        principal.require(Permission.BILLING_EXPORT)
        system = system_named(system_name)
        stored = self._repository.connection(principal.firm_id, system.value)
        return stored or BillingConnection(firm_id=principal.firm_id, system=system)

    def set_properties(
        self, principal: Principal, system_name: str, named: dict[str, str], version: int
    ) -> BillingConnection:
        """Change the connection's properties (by their documented names)."""
        principal.require(Permission.BILLING_CONNECT)
        system = system_named(system_name)
        current = self._repository.connection(principal.firm_id, system.value)
        if current is None:
            current = BillingConnection(firm_id=principal.firm_id, system=system)
        if current.version != version:
            raise StaleVersion("billing connection", system.value)
        if "USER_AUTHORIZATION" in named and not takes_user_authorization(system):
            raise InvalidInput(
                "some connection properties are not valid",
                field_errors=[
                    FieldError(
                        "USER_AUTHORIZATION",
                        f"{system.value} is connected once for the whole firm; only Actionstep has it",
                    )
                ],
            )
        changed = replace(current, properties=parse_properties(named, current.properties))
        return self._repository.save_connection(changed, principal.actor, "properties")

    def disconnect(self, principal: Principal, system_name: str, version: int) -> BillingConnection:
        """Forget the tokens; posted history and links stay."""
        principal.require(Permission.BILLING_CONNECT)
        system = system_named(system_name)
        current = self._repository.connection(principal.firm_id, system.value)
        if current is None or current.status is ConnectionStatus.DISCONNECTED:
            raise Conflict(f"{system.value} is not connected")
        if current.version != version:
            raise StaleVersion("billing connection", system.value)
        changed = replace(current, status=ConnectionStatus.DISCONNECTED, sealed_tokens=None)
        return self._repository.save_connection(changed, principal.actor, "disconnect")

    # -- adapters for the other services

    def target(self, firm_id: str, system: BillingSystem) -> BillingTarget:
        """The adapter for a connected system, with tokens that renew themselves."""
        tokens = StoredTokenSource(self._repository, self._box, self._systems, self._clock, firm_id, system)
        return self._systems.target(system.value, tokens)

    def connected(self, firm_id: str, system_name: str) -> BillingConnection:
        """The connection, or a 409 telling the admin what to do."""
        system = system_named(system_name)
        connection = self._repository.connection(firm_id, system.value)
        if connection is None or connection.status is ConnectionStatus.DISCONNECTED:
            raise Conflict(f"{system.value} is not connected: an admin connects it under Connections")
        if connection.status is ConnectionStatus.REAUTHORIZE:
            raise Conflict(
                f"{system.value} needs to be connected again: an admin reconnects it under Connections"
            )
        return connection

    # -- sync

    def sync(self, principal: Principal, system_name: str) -> dict[str, Any]:
        """Bring in users, matters, clients, contacts and activity types; returns the counts."""
        principal.require(Permission.BILLING_EXPORT)
        return self.sync_firm(principal.firm_id, system_name, principal.actor)

    def sync_due(self, firm_ids: list[str]) -> dict[str, int]:
        """The schedule: sync each connected system whose intervals have passed; one failure stops none."""
        done = {"synced": 0, "failed": 0}
        now = self._clock.now()
        for firm_id in firm_ids:
            for connection in self._repository.connections(firm_id):
                matters, activities = sync_due(connection, now)
                if not (matters or activities):
                    continue
                try:
                    self.sync_firm(
                        firm_id, connection.system.value, "system:schedule", activity_types=activities
                    )
                    done["synced"] += 1
                except DomainError as failure:
                    done["failed"] += 1
                    self._record_failure(connection, failure.message)
        return done

    def _record_failure(self, connection: BillingConnection, message: str) -> None:
        latest = self._repository.connection(connection.firm_id, connection.system.value) or connection
        with contextlib.suppress(StaleVersion):
            self._repository.save_connection(
                replace(latest, last_error=message), "system:schedule", "sync_failed"
            )

    def sync_firm(
        self, firm_id: str, system_name: str, actor: str, *, activity_types: bool = True
    ) -> dict[str, Any]:
        """The sync itself, for a person or the schedule. Incremental after the first run; activity types
        (Actionstep's quick codes) only when ``activity_types`` (they have their own interval)."""
        connection = self.connected(firm_id, system_name)
        target = self.target(firm_id, connection.system)
        since = connection.last_sync_at
        started = self._clock.now()
        system = connection.system.value
        try:
            plan = plan_sync(
                firm_id=firm_id,
                system=system,
                existing=self._existing(firm_id, system),
                activity_types=self._matters.list_activity_types(firm_id),
                remote_users=list(target.users()),
                remote_matters=list(target.matters(include_closed=True, updated_since=since)),
                remote_contacts=list(target.contacts(updated_since=since)),
                remote_activities=list(target.activity_types()) if activity_types else [],
                include_closed=connection.properties.show_closed_cases,
                new_id=lambda: uuid.uuid4().hex[:16],
                now=started,
            )
        except ReauthorizationRequired:
            raise Conflict(
                f"{system} refused our sign-in: an admin reconnects it under Connections"
            ) from None
        except BillingError as failure:
            raise UpstreamFailed(
                f"{system} failed during the sync ({failure}); nothing changed, try again"
            ) from None
        self._apply(plan, actor)
        summary: dict[str, Any] = plan.summary()
        latest = self._repository.connection(firm_id, system) or connection
        self._repository.save_connection(
            replace(
                latest,
                last_sync_at=started,
                last_activity_sync_at=started if activity_types else latest.last_activity_sync_at,
                last_sync=summary,
                last_error=None,
            ),
            actor,
            "sync",
        )
        return {**summary, "unmatched_users": plan.unmatched_users, "skipped_details": plan.skipped[:50]}

    def _apply(self, plan: SyncPlan, actor: str) -> None:
        # Clients before matters and contacts: both refer to clients by id.
        stores: list[tuple[EntityStore[Any], tuple[list[Any], list[Any]]]] = [
            (self._matters.clients, plan.clients),
            (self._matters.contacts, plan.contacts),
            (self._matters.matters, plan.matters),
            (self._matters.activities, plan.activity_types),
        ]
        for store, (creates, updates) in stores:
            for record in creates:
                store.add(record, actor)
            for record in updates:
                store.update(record, actor, "sync")
        for user in plan.users:
            self._users.update(user, actor, "link")

    def _existing(self, firm_id: str, system: str) -> ExistingRecords:
        return ExistingRecords.of(
            clients=every_item(lambda cursor: self._matters.list_clients(firm_id, cursor, 200)),
            matters=every_item(lambda cursor: self._matters.list_matters(firm_id, cursor, 200)),
            contacts=every_item(lambda cursor: self._matters.list_contacts(firm_id, cursor, 200)),
            users=every_item(lambda cursor: self._users.list(firm_id, cursor=cursor, limit=200)),
            source=system,
        )
