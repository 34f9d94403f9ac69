"""A firm's Microsoft 365 connection: which tenant, which app, which protocol, whose mailboxes.

Pure data and rules; the Graph and EWS adapters, the table and the sync service build on it.

    firm ──1:1── M365Connection (tenant, app registration, graph | ews, capture switches)
                   └── CapturedUser, one per person (roster user ↔ mailbox, on/off)
                          └── per folder (inbox, sentitems, calendar):
                                 FolderSyncState  (the delta link we resume from)
                                 Subscription     (Graph change notifications, renewed at half life)
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from chalicelib.domain.errors import FieldError, InvalidInput
from chalicelib.domain.mailbox import Folder

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_TENANT_DOMAIN = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")
_MAILBOX = re.compile(r"^[^@\s/?#'\"]+@[^@\s/?#'\"]+\.[^@\s/?#'\"]+$")

# The folders every captured mailbox is synced and subscribed for.
CAPTURED_FOLDERS: tuple[Folder, ...] = (Folder.SENT, Folder.INBOX, Folder.CALENDAR)

# Graph caps clientState at 128 characters.
MAX_CLIENT_STATE_CHARS = 128


class MailProtocol(StrEnum):
    """How Matterline reads the firm's mailboxes: Microsoft Graph (Exchange Online, the default) or EWS
    (on-premises Exchange; Exchange Online is switching EWS off in 2026-2027)."""

    GRAPH = "graph"
    EWS = "ews"


@dataclass(frozen=True)
class CapturedUser:
    """One roster user whose mailbox is captured. ``mailbox`` is the address (or Graph user id) the
    mail server knows them by; ``enabled`` is the per-user switch an admin (or the user) flips."""

    user_id: str
    mailbox: str
    enabled: bool = True


@dataclass(frozen=True)
class M365Connection:
    """The firm's connection to its Microsoft 365 tenant (or on-premises Exchange).

    ``client_id`` is the app registration the tenant's admin consented to (application permissions
    Mail.Read and Calendars.Read). ``client_secret_sealed`` holds the firm's own app secret, sealed by
    the secret box, when the firm registered its own app instead of consenting to Matterline's.
    """

    firm_id: str
    tenant_id: str
    client_id: str
    protocol: MailProtocol = MailProtocol.GRAPH
    ews_endpoint: str | None = None
    users: tuple[CapturedUser, ...] = ()
    capture_free_meetings: bool = False
    capture_all_day_meetings: bool = False
    capture_unanswered_meetings: bool = False
    client_secret_sealed: str | None = None
    connected_at: datetime | None = None
    connected_by: str = ""
    version: int = 0

    def user(self, user_id: str) -> CapturedUser | None:
        """The captured user with ``user_id``, if any."""
        return next((u for u in self.users if u.user_id == user_id), None)

    @property
    def enabled_users(self) -> tuple[CapturedUser, ...]:
        return tuple(u for u in self.users if u.enabled)

    def with_user(self, user: CapturedUser) -> M365Connection:
        """A copy with ``user`` added or replacing the entry of the same roster user."""
        others = tuple(u for u in self.users if u.user_id != user.user_id)
        return replace(self, users=tuple(sorted((*others, user), key=lambda u: u.user_id)))

    @property
    def uses_notifications(self) -> bool:
        """Graph pushes change notifications; EWS mailboxes are polled by the maintenance schedule."""
        return self.protocol is MailProtocol.GRAPH


def validate_connection(connection: M365Connection) -> None:
    """Raise ``InvalidInput`` naming every field that breaks a rule."""
    problems: list[FieldError] = []
    if not (_GUID.match(connection.tenant_id) or _TENANT_DOMAIN.match(connection.tenant_id.lower())):
        problems.append(FieldError("tenant_id", "give the directory (tenant) id, a GUID, or its domain name"))
    if not _GUID.match(connection.client_id):
        problems.append(FieldError("client_id", "the application (client) id is a GUID"))
    if connection.protocol is MailProtocol.EWS:
        endpoint = connection.ews_endpoint or ""
        if not endpoint.lower().startswith("https://"):
            problems.append(
                FieldError(
                    "ews_endpoint",
                    "EWS needs the server's https URL, e.g. https://mail.firm/EWS/Exchange.asmx",
                )
            )
    elif connection.ews_endpoint:
        problems.append(FieldError("ews_endpoint", "only an EWS connection has an EWS endpoint"))
    seen_users: set[str] = set()
    seen_mailboxes: set[str] = set()
    for captured in connection.users:
        if not _MAILBOX.match(captured.mailbox) and not _GUID.match(captured.mailbox):
            problems.append(FieldError("users", f"'{captured.mailbox}' is not a mailbox address"))
        if captured.user_id in seen_users:
            problems.append(FieldError("users", f"user {captured.user_id} is listed twice"))
        if captured.mailbox.lower() in seen_mailboxes:
            problems.append(FieldError("users", f"mailbox {captured.mailbox} belongs to two users"))
        seen_users.add(captured.user_id)
        seen_mailboxes.add(captured.mailbox.lower())
    if problems:
        raise InvalidInput("the Microsoft 365 connection is not valid", field_errors=problems)


def valid_mailbox(mailbox: str) -> bool:
    """Whether ``mailbox`` looks like an address (or a Graph user id) safe to put in a URL path."""
    return bool(_MAILBOX.match(mailbox) or _GUID.match(mailbox))


# ---------------------------------------------------------------- sync state


@dataclass(frozen=True)
class FolderSyncState:
    """Where one user's folder sync stands.

    ``state`` is the server's opaque resume point (a Graph nextLink/deltaLink, an EWS SyncState); None
    means the next run is a full sync. ``version`` makes every advance conditional: two workers that
    read the same version cannot both move the state on. ``lease_owner``/``lease_until`` mark the run
    in progress so a second worker does not fetch the same pages at the same time.
    """

    firm_id: str
    user_id: str
    folder: Folder
    state: str | None = None
    round_complete: bool = False
    window_start: datetime | None = None
    window_end: datetime | None = None
    last_synced_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    full_syncs: int = 0
    captures: int = 0
    lease_owner: str | None = None
    lease_until: datetime | None = None
    version: int = 0

    def leased_by_other(self, owner: str, now: datetime) -> bool:
        """Another worker holds an unexpired lease."""
        return (
            self.lease_owner is not None
            and self.lease_owner != owner
            and self.lease_until is not None
            and self.lease_until > now
        )


def calendar_window(now: datetime, past_days: int, future_days: int) -> tuple[datetime, datetime]:
    """The calendarView window a new calendar sync round covers, on whole UTC days."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=past_days), today + timedelta(days=future_days + 1)


def window_needs_roll(state: FolderSyncState, now: datetime, future_days: int) -> bool:
    """A calendar delta link is tied to its window: start a new round once less than half of the
    window's future is left, so meetings further out are seen well before they happen."""
    if state.window_end is None:
        return state.state is not None
    return state.window_end - now < timedelta(days=future_days / 2)


# ---------------------------------------------------------------- subscriptions


@dataclass(frozen=True)
class Subscription:
    """A Graph change-notification subscription for one user's folder.

    Only a hash of ``clientState`` is kept: the secret goes to Graph once, at creation, and every
    notification is checked against the hash.
    """

    firm_id: str
    user_id: str
    folder: Folder
    subscription_id: str
    resource: str
    expires_at: datetime
    renewed_at: datetime
    client_state_hash: str
    created_at: datetime | None = None
    renewals: int = 0
    last_notification_at: datetime | None = None
    version: int = 0

    def renewal_due(self, now: datetime) -> bool:
        """Renew at half life: once half the time between the last (re)new and expiry has passed."""
        half_life = (self.expires_at - self.renewed_at) / 2
        return now >= self.renewed_at + half_life

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


def hash_client_state(client_state: str) -> str:
    """What is stored of a subscription's clientState."""
    return hashlib.sha256(client_state.encode()).hexdigest()


def client_state_matches(subscription: Subscription, client_state: str | None) -> bool:
    """Constant-time check of a notification's clientState against the subscription's."""
    if not client_state or len(client_state) > MAX_CLIENT_STATE_CHARS:
        return False
    return hmac.compare_digest(hash_client_state(client_state), subscription.client_state_hash)


def subscription_resource(mailbox: str, folder: Folder) -> str:
    """The Graph resource a subscription watches for one folder of one mailbox."""
    if folder is Folder.CALENDAR:
        return f"users/{mailbox}/events"
    return f"users/{mailbox}/mailFolders('{folder.value}')/messages"


# ---------------------------------------------------------------- notifications


class LifecycleEvent(StrEnum):
    """Graph lifecycle notifications."""

    REAUTHORIZATION_REQUIRED = "reauthorizationRequired"
    SUBSCRIPTION_REMOVED = "subscriptionRemoved"
    MISSED = "missed"


@dataclass(frozen=True)
class ChangeNotification:
    """One item of a Graph notification (or lifecycle notification) batch."""

    subscription_id: str
    client_state: str | None
    change_type: str = ""
    resource: str = ""
    resource_id: str | None = None
    lifecycle_event: LifecycleEvent | None = None
    tenant_id: str | None = None


@dataclass(frozen=True)
class SyncTarget:
    """One (user, folder) of one firm: the unit of sync work."""

    firm_id: str
    user_id: str
    folder: Folder


@dataclass
class NotificationOutcome:
    """What a notification batch did: accepted items, rejected (unknown or wrong clientState), jobs."""

    accepted: int = 0
    rejected: int = 0
    enqueued: int = 0
    coalesced: int = 0
    lifecycle: dict[str, int] = field(default_factory=dict)


# ---------------------------------------------------------------- what the mail server can say


class MailServerError(Exception):
    """The mail server refused or failed. ``retryable``: worth another attempt later (throttled past
    patience, 5xx, network); otherwise an admin must act (consent revoked, mailbox gone)."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status = status


class SubscriptionGone(Exception):
    """Graph no longer knows the subscription (expired or removed): create a new one."""
