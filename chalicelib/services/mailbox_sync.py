"""Microsoft 365 capture: connect a tenant, keep subscriptions alive, sync mailboxes into the timeline.

    Graph ──notification──▶ webhook: clientState checked ─▶ one job per (user, folder), coalesced ─▶ 202
                                                                          │ SQS
    worker: sync_folder(user, folder) ◀───────────────────────────────────┘
        lease the folder's state ─▶ delta pages from the stored link ─▶ per page:
            captures ─▶ timeline.ingest ─▶ meeting ledger ─▶ state := page's link (conditional write)
        410 Gone ─▶ start over from no state: every capture merges by its stable key, so nothing doubles
    schedule (every 30 min) ─▶ one maintenance job per firm: renew subscriptions at half life, recreate
        lost ones, release meetings that have ended, sync folders nobody has heard from in hours

Crash anywhere, and the next run replays from the last stored link: the state moves on only after the
page's captures are stored, and a replayed capture changes nothing (``chalicelib.domain.capture``).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from chalicelib.domain.capture import Source
from chalicelib.domain.errors import InvalidInput, NotFound, StaleVersion
from chalicelib.domain.identity import Permission, Principal, Role
from chalicelib.domain.m365 import (
    CAPTURED_FOLDERS,
    CapturedUser,
    ChangeNotification,
    FolderSyncState,
    LifecycleEvent,
    M365Connection,
    MailProtocol,
    MailServerError,
    NotificationOutcome,
    Subscription,
    SubscriptionGone,
    SyncTarget,
    calendar_window,
    client_state_matches,
    hash_client_state,
    subscription_resource,
    valid_mailbox,
    validate_connection,
    window_needs_roll,
)
from chalicelib.domain.mail_capture import CaptureRules, plan_changes, release_due
from chalicelib.domain.mailbox import Folder, SyncPage, SyncStateExpired
from chalicelib.domain.roster import UserStatus
from chalicelib.ports import (
    Clock,
    FirmRepository,
    MailboxGateway,
    MailboxRepository,
    SecretBox,
    UserRepository,
    WorkQueue,
)
from chalicelib.services.paging import every_item
from chalicelib.services.timeline import TimelineService

logger = logging.getLogger(__name__)

SYNC_ACTOR = "system:m365-sync"
JOB_SYNC = "mailbox_sync"
JOB_MAINTAIN = "mailbox_maintain"
JOB_SUBSCRIPTION = "mailbox_subscription"
CHANGE_TYPES = "created,updated,deleted"
_LIFECYCLE_EVENTS = frozenset(event.value for event in LifecycleEvent)


@dataclass(frozen=True)
class MailboxSyncSettings:
    """How capture behaves; from ``Settings`` in production, shortened in tests."""

    api_base_url: str
    default_client_id: str | None = None
    subscription_lifetime: timedelta = timedelta(minutes=4200)
    calendar_past_days: int = 7
    calendar_future_days: int = 28
    backfill_days: int = 7
    # A worker holds a folder this long per page; a crashed worker's lease simply runs out.
    lease: timedelta = timedelta(minutes=10)
    # A folder another worker is syncing: try again after this, at most this many times.
    requeue_delay_seconds: int = 15
    max_requeues: int = 3
    # A queued job not started after this long is assumed lost (a new notification queues another).
    queued_stale: timedelta = timedelta(minutes=15)
    # Notifications are not guaranteed: a folder not synced for this long is synced by maintenance.
    safety_sync: timedelta = timedelta(hours=6)
    # A long first sync is split into runs of this many pages (each a queued job), so no run comes
    # near the worker's time limit and other mailboxes get their turn in between.
    max_pages_per_run: int = 40

    @property
    def notification_url(self) -> str:
        return f"{self.api_base_url.rstrip('/')}/webhooks/graph"

    @property
    def lifecycle_url(self) -> str:
        return f"{self.api_base_url.rstrip('/')}/webhooks/graph/lifecycle"


@dataclass(frozen=True)
class SyncOutcome:
    """What one folder sync did. ``status``: synced, busy, superseded, disabled or failed."""

    target: SyncTarget
    status: str
    pages: int = 0
    captures: int = 0
    events_changed: int = 0
    full_resync: bool = False
    error: str | None = None
    skipped: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class UserStatusView:
    """One captured user as the connection screen shows them."""

    user: CapturedUser
    states: dict[Folder, FolderSyncState]
    subscriptions: dict[Folder, Subscription]


@dataclass(frozen=True)
class ConnectionStatus:
    """The firm's connection, its users' sync states and subscriptions (never mail content)."""

    connection: M365Connection
    users: list[UserStatusView]

    @property
    def errors(self) -> list[tuple[str, Folder, str]]:
        return [
            (view.user.user_id, folder, state.last_error)
            for view in self.users
            for folder, state in view.states.items()
            if state.last_error
        ]


@dataclass(frozen=True)
class ConnectRequest:
    """What an admin sends to connect (or reconfigure) the firm's Microsoft 365 tenant."""

    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    protocol: MailProtocol = MailProtocol.GRAPH
    ews_endpoint: str | None = None
    # (user id, enabled, mailbox or None for the roster email); None keeps the current list, or on a
    # first connect captures every active attorney.
    users: Sequence[tuple[str, bool, str | None]] | None = None
    capture_free_meetings: bool = False
    capture_all_day_meetings: bool = False
    capture_unanswered_meetings: bool = False


def sync_job(target: SyncTarget, attempt: int = 0) -> dict[str, Any]:
    """The work-queue message that syncs one folder."""
    return {
        "kind": JOB_SYNC,
        "firm_id": target.firm_id,
        "user_id": target.user_id,
        "folder": target.folder.value,
        "attempt": attempt,
    }


def maintain_job(firm_id: str) -> dict[str, Any]:
    """The work-queue message that maintains one firm's subscriptions and meeting ledger."""
    return {"kind": JOB_MAINTAIN, "firm_id": firm_id}


def subscription_job(target: SyncTarget, action: str) -> dict[str, Any]:
    """The work-queue message that renews or recreates one subscription (then syncs the folder)."""
    return {
        "kind": JOB_SUBSCRIPTION,
        "firm_id": target.firm_id,
        "user_id": target.user_id,
        "folder": target.folder.value,
        "action": action,
    }


class MailboxSyncService:
    """Use cases of Microsoft 365 capture."""

    def __init__(
        self,
        *,
        mailboxes: MailboxRepository,
        gateway: MailboxGateway,
        timeline: TimelineService,
        queue: WorkQueue,
        firms: FirmRepository,
        users: UserRepository,
        clock: Clock,
        settings: MailboxSyncSettings,
        secrets: SecretBox | None = None,
    ) -> None:
        self._mailboxes = mailboxes
        self._gateway = gateway
        self._timeline = timeline
        self._queue = queue
        self._firms = firms
        self._users = users
        self._clock = clock
        self.settings = settings
        self._box = secrets

    # ------------------------------------------------------------ the admin's use cases

    def connect(self, principal: Principal, request: ConnectRequest) -> M365Connection:
        """Connect (or reconfigure) the caller's firm; subscriptions and first syncs follow in the
        background (one maintenance job), so the admin does not wait on Graph."""
        principal.require(Permission.ROSTER_WRITE)
        firm = self._firms.get(principal.firm_id)
        if firm is None:
            raise NotFound("your firm does not exist")
        existing = self._mailboxes.connection(principal.firm_id)
        client_id = (
            request.client_id or (existing.client_id if existing else None) or self.settings.default_client_id
        )
        if not client_id:
            raise InvalidInput(
                "give the application (client) id of the app registration your admin consented to"
            )
        sealed = existing.client_secret_sealed if existing and existing.client_id == client_id else None
        if request.client_secret:
            if self._box is None:
                raise InvalidInput("this deployment cannot keep secrets; use Matterline's app registration")
            sealed = self._box.seal(request.client_secret.encode(), principal.firm_id)
        if (
            request.protocol is MailProtocol.GRAPH
            and client_id != self.settings.default_client_id
            and sealed is None
        ):
            raise InvalidInput("your own app registration needs its client secret (client_secret)")
        users = self._captured_users(principal.firm_id, request.users, existing)
        connection = M365Connection(
            firm_id=principal.firm_id,
            tenant_id=(request.tenant_id or (existing.tenant_id if existing else None) or firm.tenant_id),
            client_id=client_id,
            protocol=request.protocol,
            ews_endpoint=request.ews_endpoint if request.protocol is MailProtocol.EWS else None,
            users=users,
            capture_free_meetings=request.capture_free_meetings,
            capture_all_day_meetings=request.capture_all_day_meetings,
            capture_unanswered_meetings=request.capture_unanswered_meetings,
            client_secret_sealed=sealed,
            connected_at=existing.connected_at if existing and existing.connected_at else self._clock.now(),
            connected_by=existing.connected_by if existing else principal.actor,
            version=existing.version if existing else 0,
        )
        validate_connection(connection)
        saved = self._mailboxes.save_connection(
            connection, principal.actor, "reconnect" if existing else "connect"
        )
        self._queue.send([maintain_job(principal.firm_id)])
        return saved

    def _captured_users(
        self,
        firm_id: str,
        wanted: Sequence[tuple[str, bool, str | None]] | None,
        existing: M365Connection | None,
    ) -> tuple[CapturedUser, ...]:
        if wanted is None and existing is not None:
            return existing.users
        if wanted is None:
            roster = every_item(lambda cursor: self._users.list(firm_id, cursor, 200))
            return tuple(
                CapturedUser(user.user_id, user.email, True)
                for user in roster
                if Role.ATTORNEY in user.roles and user.status is not UserStatus.DISABLED
            )
        users: list[CapturedUser] = []
        for user_id, enabled, mailbox in wanted:
            person = self._users.get(firm_id, user_id)
            if person is None:
                raise InvalidInput(f"there is no user {user_id} in your firm")
            users.append(CapturedUser(user_id, (mailbox or person.email).strip(), enabled))
        return tuple(sorted(users, key=lambda u: u.user_id))

    def set_user(
        self, principal: Principal, user_id: str, *, enabled: bool, mailbox: str | None
    ) -> CapturedUser:
        """Turn capture on or off for one person (mailbox: the roster email unless given)."""
        principal.require(Permission.ROSTER_WRITE)
        person = self._users.get(principal.firm_id, user_id)
        if person is None:
            raise NotFound("there is no such user in your firm")
        connection = self._require_connection(principal.firm_id)
        current = connection.user(user_id)
        address = (mailbox or (current.mailbox if current else None) or person.email).strip()
        if not valid_mailbox(address):
            raise InvalidInput(f"'{address}' is not a mailbox address")
        captured = CapturedUser(user_id, address, enabled)
        updated = connection.with_user(captured)
        validate_connection(updated)
        self._mailboxes.save_connection(updated, principal.actor, "capture on" if enabled else "capture off")
        self._queue.send([maintain_job(principal.firm_id)])
        return captured

    def status(self, principal: Principal) -> ConnectionStatus:
        """The connection, each captured user's folders and subscriptions."""
        principal.require(Permission.ROSTER_READ)
        connection = self._require_connection(principal.firm_id)
        states = self._mailboxes.sync_states(principal.firm_id)
        subscriptions = self._mailboxes.subscriptions(principal.firm_id)
        views = [
            UserStatusView(
                user=user,
                states={s.folder: s for s in states if s.user_id == user.user_id},
                subscriptions={s.folder: s for s in subscriptions if s.user_id == user.user_id},
            )
            for user in connection.users
        ]
        return ConnectionStatus(connection=connection, users=views)

    def subscriptions_of(self, principal: Principal) -> list[Subscription]:
        """The firm's Graph subscriptions."""
        principal.require(Permission.ROSTER_READ)
        self._require_connection(principal.firm_id)
        return self._mailboxes.subscriptions(principal.firm_id)

    def sync_now(self, principal: Principal, user_id: str | None = None) -> list[SyncTarget]:
        """Queue a sync of every folder of every captured user (or one user), now."""
        principal.require(Permission.ROSTER_WRITE)
        connection = self._require_connection(principal.firm_id)
        users = connection.enabled_users
        if user_id is not None:
            users = tuple(u for u in users if u.user_id == user_id)
            if not users:
                raise NotFound("that user is not captured; turn capture on for them first")
        now = self._clock.now()
        targets = [
            SyncTarget(principal.firm_id, u.user_id, folder) for u in users for folder in CAPTURED_FOLDERS
        ]
        for target in targets:
            self._mailboxes.mark_queued(target, now, stale_before=now + timedelta(seconds=1))
        self._queue.send([sync_job(target) for target in targets])
        return targets

    def connection_of(self, firm_id: str) -> M365Connection | None:
        """The firm's connection, if any (for the devstack and schedules; no caller to check)."""
        return self._mailboxes.connection(firm_id)

    def _require_connection(self, firm_id: str) -> M365Connection:
        connection = self._mailboxes.connection(firm_id)
        if connection is None:
            raise NotFound("Microsoft 365 is not connected yet: PUT /connections/microsoft first")
        return connection

    # ------------------------------------------------------------ webhooks (public, fast)

    def handle_notifications(self, notifications: Sequence[ChangeNotification]) -> NotificationOutcome:
        """A change-notification batch: check each item's clientState against its subscription,
        queue one sync per (user, folder) touched. Items that do not match are dropped and counted
        (answering with an error would only make Graph send them again)."""
        outcome = NotificationOutcome()
        targets: dict[SyncTarget, None] = {}
        for _, subscription in self._authentic(notifications, outcome):
            targets.setdefault(SyncTarget(subscription.firm_id, subscription.user_id, subscription.folder))
        self._enqueue_syncs(list(targets), outcome)
        return outcome

    def handle_lifecycle(self, notifications: Sequence[ChangeNotification]) -> NotificationOutcome:
        """Lifecycle events: reauthorizationRequired renews, subscriptionRemoved recreates then
        resyncs, missed resyncs. Graph calls happen in the worker, not here (3 s to answer)."""
        outcome = NotificationOutcome()
        jobs: dict[tuple[SyncTarget, str], None] = {}
        for notification, subscription in self._authentic(notifications, outcome):
            target = SyncTarget(subscription.firm_id, subscription.user_id, subscription.folder)
            event = notification.lifecycle_event
            if event is None:
                continue
            outcome.lifecycle[event.value] = outcome.lifecycle.get(event.value, 0) + 1
            action = {
                LifecycleEvent.REAUTHORIZATION_REQUIRED: "renew",
                LifecycleEvent.SUBSCRIPTION_REMOVED: "recreate",
                LifecycleEvent.MISSED: "resync",
            }[event]
            jobs.setdefault((target, action))
        if jobs:
            self._queue.send([subscription_job(target, action) for target, action in jobs])
            outcome.enqueued += len(jobs)
        return outcome

    def _authentic(
        self, notifications: Sequence[ChangeNotification], outcome: NotificationOutcome
    ) -> Iterator[tuple[ChangeNotification, Subscription]]:
        found: dict[str, Subscription | None] = {}
        for notification in notifications:
            if notification.subscription_id not in found:
                found[notification.subscription_id] = self._mailboxes.subscription_by_id(
                    notification.subscription_id
                )
            subscription = found[notification.subscription_id]
            if subscription is None or not client_state_matches(subscription, notification.client_state):
                outcome.rejected += 1
                continue
            outcome.accepted += 1
            yield notification, subscription

    def _enqueue_syncs(
        self, targets: Iterable[SyncTarget], outcome: NotificationOutcome, *, force: bool = False
    ) -> None:
        """Queue a sync per target unless one is already waiting; ``force`` queues regardless (after a
        lost subscription the waiting job's message may be among what was lost)."""
        now = self._clock.now()
        stale_before = now + timedelta(seconds=1) if force else now - self.settings.queued_stale
        jobs = []
        for target in targets:
            if self._mailboxes.mark_queued(target, now, stale_before):
                jobs.append(sync_job(target))
            else:
                outcome.coalesced += 1
        if jobs:
            self._queue.send(jobs)
        outcome.enqueued += len(jobs)

    # ------------------------------------------------------------ the worker's use cases

    def run_sync_job(self, target: SyncTarget, attempt: int, worker: str) -> SyncOutcome:
        """Sync one folder; if another worker has it, try again a little later (a few times)."""
        outcome = self.sync_folder(target, worker=worker)
        if outcome.status == "busy" and attempt < self.settings.max_requeues:
            self._queue.send(
                [sync_job(target, attempt + 1)], delay_seconds=self.settings.requeue_delay_seconds
            )
        return outcome

    def sync_folder(self, target: SyncTarget, *, worker: str) -> SyncOutcome:
        """Run one folder's delta from its stored state to the end of the round.

        Raises ``MailServerError`` when it is worth retrying (the queue redelivers); errors an admin
        must fix are recorded on the folder's state (the status screen shows them) and returned.
        """
        connection = self._mailboxes.connection(target.firm_id)
        captured = connection.user(target.user_id) if connection else None
        self._mailboxes.clear_queued(target)  # changes from now on queue a new job
        if connection is None or captured is None or not captured.enabled:
            return SyncOutcome(target, "disabled")
        now = self._clock.now()
        state = self._mailboxes.sync_state(target.firm_id, target.user_id, target.folder)
        if state.leased_by_other(worker, now):
            return SyncOutcome(target, "busy")
        try:
            state = self._mailboxes.save_sync_state(
                replace(state, lease_owner=worker, lease_until=now + self.settings.lease)
            )
        except StaleVersion:
            return SyncOutcome(target, "busy")
        run = _Run(target)
        try:
            state = self._run_rounds(connection, captured, state, run)
        except StaleVersion:
            logger.warning("mailbox sync superseded for %s/%s", target.user_id, target.folder.value)
            return run.outcome("superseded")
        except _Pause as pause:
            self._mailboxes.save_sync_state(replace(pause.state, lease_owner=None, lease_until=None))
            self._enqueue_syncs([target], NotificationOutcome(), force=True)
            return run.outcome("continued")
        except MailServerError as error:
            self._record_failure(state, error, worker)
            if error.retryable:
                raise
            return run.outcome("failed", error=error.message)
        except Exception as error:
            # A bug or an outage of our own: hand the folder back at once (the queue retries the job).
            self._record_failure(state, MailServerError(f"sync failed: {error}", retryable=True), worker)
            raise
        self._mailboxes.save_sync_state(
            replace(
                state,
                lease_owner=None,
                lease_until=None,
                last_error=None,
                last_error_at=None,
                last_synced_at=self._clock.now(),
            )
        )
        if target.folder is Folder.CALENDAR:
            self.release_due_meetings(target.firm_id)
        return run.outcome("synced")

    def _run_rounds(
        self, connection: M365Connection, captured: CapturedUser, state: FolderSyncState, run: _Run
    ) -> FolderSyncState:
        source = self._gateway.source(connection)
        rules = self._rules(connection, captured)
        expired_once = False
        while True:
            now = self._clock.now()
            if state.folder is Folder.CALENDAR and (
                state.state is None or window_needs_roll(state, now, self.settings.calendar_future_days)
            ):
                start, end = calendar_window(
                    now, self.settings.calendar_past_days, self.settings.calendar_future_days
                )
                state = replace(state, state=None, window_start=start, window_end=end, round_complete=False)
            try:
                if state.folder is Folder.CALENDAR:
                    assert state.window_start is not None and state.window_end is not None
                    pages = source.calendar_changes(
                        captured.mailbox, state.window_start, state.window_end, state.state
                    )
                else:
                    pages = source.mail_changes(captured.mailbox, state.folder, state.state)
                for page in pages:
                    state = self._apply(page, state, rules, run)
                    if page.more and run.pages >= self.settings.max_pages_per_run:
                        raise _Pause(state)
                return state
            except SyncStateExpired:
                if expired_once:
                    raise MailServerError(
                        "Graph expired the sync state twice in one run", retryable=True
                    ) from None
                expired_once = True
                run.full_resync = True
                logger.info(
                    "mailbox sync state expired for %s/%s: full resync", state.user_id, state.folder.value
                )
                state = self._mailboxes.save_sync_state(
                    replace(
                        state,
                        state=None,
                        round_complete=False,
                        window_end=None,
                        full_syncs=state.full_syncs + 1,
                    )
                )

    def _apply(
        self, page: SyncPage, state: FolderSyncState, rules: CaptureRules, run: _Run
    ) -> FolderSyncState:
        """One page: captures stored first, then the ledger, then (conditionally) the state."""
        now = self._clock.now()
        calendar_ids = (
            [getattr(change, "item_id", "") for change in page.changes]
            if state.folder is Folder.CALENDAR
            else []
        )
        known = self._mailboxes.ledger(state.firm_id, state.user_id, calendar_ids) if calendar_ids else {}
        plan = plan_changes(page.changes, rules=rules, now=now, known=known)
        if plan.captures:
            result = self._timeline.ingest(state.firm_id, state.user_id, plan.captures, actor=SYNC_ACTOR)
            run.events_changed += result.events_changed
        if plan.remember or plan.forget:
            self._mailboxes.update_ledger(state.firm_id, state.user_id, plan.remember, plan.forget)
        run.pages += 1
        run.captures += len(plan.captures)
        for reason, count in plan.skipped.items():
            run.skipped[reason] = run.skipped.get(reason, 0) + count
        return self._mailboxes.save_sync_state(
            replace(
                state,
                state=page.state,
                round_complete=not page.more,
                captures=state.captures + len(plan.captures),
                lease_until=now + self.settings.lease,
            )
        )

    def _rules(self, connection: M365Connection, captured: CapturedUser) -> CaptureRules:
        connected = connection.connected_at or self._clock.now()
        return CaptureRules(
            owner=captured.mailbox,
            source=Source.GRAPH if connection.protocol is MailProtocol.GRAPH else Source.EWS,
            since=connected - timedelta(days=self.settings.backfill_days),
            capture_free_meetings=connection.capture_free_meetings,
            capture_all_day_meetings=connection.capture_all_day_meetings,
            capture_unanswered_meetings=connection.capture_unanswered_meetings,
        )

    def _record_failure(self, state: FolderSyncState, error: MailServerError, worker: str) -> None:
        try:
            current = self._mailboxes.sync_state(state.firm_id, state.user_id, state.folder)
            if current.lease_owner not in (None, worker):
                return  # another worker has taken over; its outcome is the one to show
            self._mailboxes.save_sync_state(
                replace(
                    current,
                    last_error=error.message[:500],
                    last_error_at=self._clock.now(),
                    lease_owner=None,
                    lease_until=None,
                )
            )
        except StaleVersion:
            pass  # another worker is on it; its outcome is the one to show
        except Exception:
            logger.exception("could not record a sync failure for %s/%s", state.user_id, state.folder.value)

    def release_due_meetings(self, firm_id: str) -> int:
        """Capture the meetings that were still to come at their last sync and have now ended."""
        due = self._mailboxes.due_meetings(firm_id, self._clock.now())
        by_user: dict[str, list[Any]] = {}
        for user_id, entry in due:
            by_user.setdefault(user_id, []).append(entry)
        released = 0
        for user_id, entries in by_user.items():
            plan = release_due(entries, self._clock.now())
            if plan.captures:
                self._timeline.ingest(firm_id, user_id, plan.captures, actor=SYNC_ACTOR)
                released += len(plan.captures)
            self._mailboxes.update_ledger(firm_id, user_id, plan.remember, ())
        return released

    # ------------------------------------------------------------ subscriptions and maintenance

    def schedule_maintenance(self) -> int:
        """The schedule's part: one maintenance job per connected firm (the work fans out in SQS)."""
        firms = self._mailboxes.connected_firms()
        for offset in range(0, len(firms), 10):
            self._queue.send([maintain_job(firm_id) for firm_id in firms[offset : offset + 10]])
        return len(firms)

    def maintain(self, firm_id: str) -> dict[str, int]:
        """Keep a firm's capture healthy: subscriptions (renew at half life, recreate what was lost,
        remove those of users turned off), meetings that have ended, and folders that went quiet."""
        counts = dict.fromkeys(
            ("created", "renewed", "recreated", "removed", "failed", "synced", "released"), 0
        )
        connection = self._mailboxes.connection(firm_id)
        if connection is None:
            return counts
        now = self._clock.now()
        enabled = {u.user_id: u for u in connection.enabled_users}
        to_sync: list[SyncTarget] = []
        resubscribed: list[SyncTarget] = []
        client = self._gateway.subscriptions(connection) if connection.uses_notifications else None
        for subscription in self._mailboxes.subscriptions(firm_id):
            if subscription.user_id not in enabled or client is None:
                self._remove_subscription(client, subscription)
                counts["removed"] += 1
        states = {(s.user_id, s.folder): s for s in self._mailboxes.sync_states(firm_id)}
        for user in enabled.values():
            for folder in CAPTURED_FOLDERS:
                target = SyncTarget(firm_id, user.user_id, folder)
                if client is not None:
                    try:
                        action = self._ensure_subscription(client, connection, user, folder)
                    except MailServerError as error:
                        # One mailbox's trouble (consent, a deleted mailbox) must not stop the others.
                        logger.warning(
                            "subscription for %s/%s: %s", user.user_id, folder.value, error.message
                        )
                        counts["failed"] += 1
                        continue
                    if action:
                        counts[action] += 1
                    if action in ("created", "recreated"):
                        resubscribed.append(target)  # what happened while nobody listened
                        continue
                state = states.get((user.user_id, folder))
                quiet = (
                    state is None
                    or state.last_synced_at is None
                    or now - state.last_synced_at >= self.settings.safety_sync
                )
                # EWS has no notifications: every maintenance run polls its folders.
                if quiet or client is None:
                    to_sync.append(target)
        outcome = NotificationOutcome()
        self._enqueue_syncs(to_sync, outcome)
        self._enqueue_syncs(resubscribed, outcome, force=True)
        counts["synced"] = outcome.enqueued
        counts["released"] = self.release_due_meetings(firm_id)
        return counts

    def handle_subscription_job(self, target: SyncTarget, action: str, *, worker: str) -> str:
        """A lifecycle event's work: renew, recreate (then resync) or resync one folder. The resync
        runs here, not through the queue: the event says notifications (and so jobs) were lost."""
        connection = self._mailboxes.connection(target.firm_id)
        user = connection.user(target.user_id) if connection else None
        if connection is None or user is None or not user.enabled:
            return "disabled"
        client = self._gateway.subscriptions(connection)
        done = "resync"
        if client is not None and action in ("renew", "recreate"):
            done = self._ensure_subscription(client, connection, user, target.folder, force=action) or action
        if action != "renew" or done == "recreated":
            self.run_sync_job(target, 0, worker)
        return done

    def _ensure_subscription(
        self,
        client: Any,
        connection: M365Connection,
        user: CapturedUser,
        folder: Folder,
        force: str | None = None,
    ) -> str | None:
        """Create, renew or recreate one subscription as needed; returns what was done (or None)."""
        now = self._clock.now()
        current = self._mailboxes.subscription(connection.firm_id, user.user_id, folder)
        expected_resource = subscription_resource(user.mailbox, folder)
        if current is None:
            self._create_subscription(client, connection, user, folder, replaces=None)
            return "created"
        if force == "recreate" or current.expired(now) or current.resource != expected_resource:
            self._remove_remote(client, current)
            self._create_subscription(client, connection, user, folder, replaces=current)
            return "recreated"
        if force == "renew" or current.renewal_due(now):
            wanted = now + self.settings.subscription_lifetime
            try:
                granted = client.renew(current.subscription_id, wanted)
            except SubscriptionGone:
                self._create_subscription(client, connection, user, folder, replaces=current)
                return "recreated"
            self._mailboxes.save_subscription(
                replace(current, expires_at=granted, renewed_at=now, renewals=current.renewals + 1),
                replaces=current,
            )
            return "renewed"
        return None

    def _create_subscription(
        self,
        client: Any,
        connection: M365Connection,
        user: CapturedUser,
        folder: Folder,
        replaces: Subscription | None,
    ) -> Subscription:
        now = self._clock.now()
        client_state = secrets.token_urlsafe(48)  # 64 characters; Graph allows 128
        resource = subscription_resource(user.mailbox, folder)
        subscription_id, expires_at = client.create(
            resource=resource,
            change_type=CHANGE_TYPES,
            notification_url=self.settings.notification_url,
            lifecycle_url=self.settings.lifecycle_url,
            expires_at=now + self.settings.subscription_lifetime,
            client_state=client_state,
        )
        subscription = Subscription(
            firm_id=connection.firm_id,
            user_id=user.user_id,
            folder=folder,
            subscription_id=subscription_id,
            resource=resource,
            expires_at=expires_at,
            renewed_at=now,
            client_state_hash=hash_client_state(client_state),
            created_at=now,
            version=replaces.version if replaces else 0,
        )
        return self._mailboxes.save_subscription(subscription, replaces=replaces)

    def _remove_subscription(self, client: Any, subscription: Subscription) -> None:
        self._remove_remote(client, subscription)
        self._mailboxes.delete_subscription(subscription)

    @staticmethod
    def _remove_remote(client: Any, subscription: Subscription) -> None:
        if client is None:
            return
        try:
            client.delete(subscription.subscription_id)
        except MailServerError as error:
            # It expires on its own; its notifications will no longer match anything we keep.
            logger.warning(
                "could not delete subscription %s: %s", subscription.subscription_id, error.message
            )


class _Pause(Exception):
    """A run reached its page budget with more to come: the state is stored, a new job continues."""

    def __init__(self, state: FolderSyncState) -> None:
        super().__init__("page budget reached")
        self.state = state


@dataclass
class _Run:
    """Counters of one sync run."""

    target: SyncTarget
    pages: int = 0
    captures: int = 0
    events_changed: int = 0
    full_resync: bool = False
    skipped: dict[str, int] = field(default_factory=dict)

    def outcome(self, status: str, error: str | None = None) -> SyncOutcome:
        return SyncOutcome(
            self.target,
            status,
            pages=self.pages,
            captures=self.captures,
            events_changed=self.events_changed,
            full_resync=self.full_resync,
            error=error,
            skipped=dict(self.skipped),
        )


def notifications_from(values: Iterable[Mapping[str, Any]]) -> list[ChangeNotification]:
    """Graph's notification items (already shape-checked by the API) as domain values."""
    notifications = []
    for value in values:
        event = str(value.get("lifecycleEvent") or "")
        resource_data = value.get("resourceData") or {}
        notifications.append(
            ChangeNotification(
                subscription_id=str(value["subscriptionId"]),
                client_state=value.get("clientState"),
                change_type=str(value.get("changeType") or ""),
                resource=str(value.get("resource") or ""),
                resource_id=resource_data.get("id") if isinstance(resource_data, Mapping) else None,
                # An event this code does not know yet (Graph adds them) is ignored, not refused.
                lifecycle_event=LifecycleEvent(event) if event in _LIFECYCLE_EVENTS else None,
                tenant_id=value.get("tenantId"),
            )
        )
    return notifications
