"""The interfaces the use cases need. Adapters implement them; ``bootstrap`` wires them together."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from chalicelib.domain.api_tokens import ApiToken
from chalicelib.domain.audit import AuditRecord
from chalicelib.domain.billing import (
    BillingConnection,
    ExportRecord,
    OAuthTokens,
    PostingRecord,
    RemoteActivityType,
    RemoteContact,
    RemoteMatter,
    RemoteUser,
    TimePosting,
)
from chalicelib.domain.billing_users import BillingUserAuthorization
from chalicelib.domain.capture import ActivityEvent
from chalicelib.domain.classification import ClassificationRule
from chalicelib.domain.contractors.events import ContractorEvent
from chalicelib.domain.delegation import Delegates, Grant
from chalicelib.domain.entries import Entry
from chalicelib.domain.m365 import FolderSyncState, M365Connection, Subscription, SyncTarget
from chalicelib.domain.mail_capture import LedgerEntry
from chalicelib.domain.mailbox import Folder, SyncPage
from chalicelib.domain.matters import ActivityType, Client, Contact, Matter, ProblemCodeChange
from chalicelib.domain.policy import CapturePolicy
from chalicelib.domain.reports import ExportSchedule, ReportPreferences
from chalicelib.domain.roster import Firm, User
from chalicelib.domain.suggestions import Learning


class Clock(Protocol):
    """The one source of ``now`` (UTC, timezone-aware). Tests freeze it."""

    def now(self) -> datetime: ...


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing and the cursor for the next, if any."""

    items: list[T]
    next_cursor: str | None = None


class FirmRepository(Protocol):
    """Firms, keyed by id and by their Microsoft 365 tenant."""

    def get(self, firm_id: str) -> Firm | None: ...

    def get_by_tenant(self, tenant_id: str) -> Firm | None: ...

    def add(self, firm: Firm, actor: str) -> Firm: ...

    def list_all(self) -> list[Firm]: ...


class UserRepository(Protocol):
    """A firm's roster. Email and Entra object id are unique within a firm (guard items)."""

    def get(self, firm_id: str, user_id: str) -> User | None: ...

    def get_by_email(self, firm_id: str, email: str) -> User | None: ...

    def get_by_identity(self, firm_id: str, oid: str) -> User | None: ...

    def list(self, firm_id: str, cursor: str | None = None, limit: int = 100) -> Page[User]: ...

    def add(self, user: User, actor: str) -> User: ...

    def update(self, user: User, actor: str, action: str = "update") -> User:
        """Save ``user`` unless it changed since read (``user.version``); returns the new version."""
        ...


class ApiTokenRepository(Protocol):
    """API tokens, looked up by the hash of the secret, listed per firm."""

    def add(self, token: ApiToken, actor: str) -> ApiToken: ...

    def get_by_hash(self, token_hash: str) -> ApiToken | None: ...

    def get(self, firm_id: str, token_id: str) -> ApiToken | None: ...

    def list(self, firm_id: str) -> list[ApiToken]: ...

    def update(self, token: ApiToken, actor: str, action: str) -> ApiToken: ...

    def record_use(self, token: ApiToken, at: datetime) -> None:
        """Stamp the last use; losing a race here is harmless, so it is not audited."""
        ...


class AuditLog(Protocol):
    """Reads the audit trail that the repositories append to inside their transactions."""

    def for_entity(self, firm_id: str, entity_type: str, entity_id: str) -> list[AuditRecord]: ...

    def recent(self, firm_id: str, cursor: str | None = None, limit: int = 50) -> Page[AuditRecord]: ...


@dataclass(frozen=True)
class VerifiedToken:
    """The claims we rely on from a verified Entra ID access token."""

    tenant_id: str
    object_id: str
    email: str | None
    name: str | None
    scopes: Sequence[str]
    claims: Mapping[str, Any]


class TokenVerifier(Protocol):
    """Verifies a bearer JWT: signature against JWKS, audience, issuer, expiry."""

    def verify(self, token: str) -> VerifiedToken: ...


class WorkflowStarter(Protocol):
    """Starts a named workflow (a Step Functions state machine) once per ``run_name``."""

    def start(self, workflow: str, run_name: str, payload: Mapping[str, Any]) -> str: ...


class TimelineRepository(Protocol):
    """A user's events and entries (one partition per user; views are one Query on GSI1)."""

    def get_event(self, firm_id: str, user_id: str, event_id: str) -> ActivityEvent | None: ...

    def save_event(self, event: ActivityEvent) -> ActivityEvent:
        """Conditional on ``event.version``; raises ``StaleVersion`` when another writer won."""
        ...

    def change_event(self, event: ActivityEvent, actor: str, action: str) -> ActivityEvent: ...

    def between(
        self, firm_id: str, user_id: str, start: datetime, end: datetime
    ) -> tuple[list[ActivityEvent], list[Entry]]: ...

    def entries_of_day(self, firm_id: str, user_id: str, day: date) -> list[Entry]: ...

    def get_entry(self, firm_id: str, user_id: str, day: date, entry_id: str) -> Entry | None: ...

    def save_entries(
        self, put: Iterable[Entry], remove: Iterable[Entry], actor: str, action: str
    ) -> list[Entry]: ...


class PolicyRepository(Protocol):
    """The firm's capture policy and users' own capture rules."""

    def get(self, firm_id: str) -> CapturePolicy: ...

    def save(self, policy: CapturePolicy, actor: str) -> CapturePolicy: ...

    def user_rules(self, firm_id: str, user_id: str) -> tuple[tuple[ClassificationRule, ...], int]: ...

    def save_user_rules(
        self, firm_id: str, user_id: str, rules: tuple[ClassificationRule, ...], version: int, actor: str
    ) -> int: ...


EntityT = TypeVar("EntityT")


class EntityStore(Protocol[EntityT]):
    """Versioned, guarded, audited storage of one kind of entity."""

    def add(self, entity: EntityT, actor: str) -> EntityT: ...

    def update(self, entity: EntityT, actor: str, action: str = "update") -> EntityT: ...


class MatterRepository(Protocol):
    """Clients, matters, contacts and activity types of a firm."""

    @property
    def clients(self) -> EntityStore[Client]: ...

    @property
    def matters(self) -> EntityStore[Matter]: ...

    @property
    def contacts(self) -> EntityStore[Contact]: ...

    @property
    def activities(self) -> EntityStore[ActivityType]: ...

    def client(self, firm_id: str, client_id: str) -> Client | None: ...

    def matter(self, firm_id: str, matter_id: str) -> Matter | None: ...

    def contact(self, firm_id: str, contact_id: str) -> Contact | None: ...

    def matter_by_number(self, firm_id: str, number: str) -> Matter | None: ...

    def by_external_id(self, firm_id: str, kind: str, source: str, external_id: str) -> str | None: ...

    def search_matters(
        self,
        firm_id: str,
        *,
        number_prefix: str | None,
        name_prefix: str | None,
        client_id: str | None,
        cursor: str | None,
        limit: int,
    ) -> Page[Matter]: ...

    def list_clients(self, firm_id: str, cursor: str | None, limit: int) -> Page[Client]: ...

    def clients_named(self, firm_id: str, prefix: str, cursor: str | None, limit: int) -> Page[Client]: ...

    def contacts_named(self, firm_id: str, prefix: str, cursor: str | None, limit: int) -> Page[Contact]: ...

    def contact_by_email(self, firm_id: str, email: str) -> Contact | None: ...

    def list_contacts(self, firm_id: str, cursor: str | None, limit: int) -> Page[Contact]: ...

    def list_matters(self, firm_id: str, cursor: str | None, limit: int) -> Page[Matter]: ...

    def list_activity_types(self, firm_id: str) -> list[ActivityType]: ...


class CaseProblemCodes(Protocol):
    """The legal problem codes a case may carry, and what the contractor module does when one is set.

    The matter service and the matter import validate codes and report changes through this port; the
    contractor module implements it (``services.contractors.cases``), so matters never import contractor
    persistence. ``cases_changed`` must be idempotent: it may be called again for a change it already
    applied (a retried request, a re-run import) and must leave the same result."""

    def active_codes(self, firm_id: str) -> frozenset[str]: ...

    def cases_changed(self, firm_id: str, changes: Sequence[ProblemCodeChange], actor: str) -> None: ...


class JobProgress(Protocol):
    """Where long requests report how far they are."""

    def report(self, firm_id: str, job_id: str, *, phase: str, done: int, total: int, owner: str) -> None: ...

    def get(self, firm_id: str, job_id: str) -> dict[str, Any] | None: ...


class LearningStore(Protocol):
    """Users' suggestion learning and the firm's thread → matter assignments."""

    def load(self, firm_id: str, user_id: str) -> Learning: ...

    def update(self, firm_id: str, user_id: str, change: Callable[[Learning], None]) -> None: ...

    def thread_matter(self, firm_id: str, conversation_id: str) -> str | None: ...

    def set_thread_matter(self, firm_id: str, conversation_id: str, matter_id: str) -> None: ...


class MatterAssistant(Protocol):
    """What the capture pipeline asks of the suggestion engine."""

    def auto_matter(self, firm_id: str, user_id: str, event: ActivityEvent) -> tuple[str, str] | None: ...

    def learn(
        self,
        firm_id: str,
        user_id: str,
        events: Iterable[ActivityEvent],
        matter_id: str,
        replaced: str | None,
    ) -> None: ...


# ------------------------------------------------------------------ billing systems


class TokenSource(Protocol):
    """Gives a billing adapter a valid access token and renews it when the system says it expired."""

    def current(self) -> OAuthTokens: ...

    def refresh(self, rejected: OAuthTokens) -> OAuthTokens:
        """Renew after ``rejected`` was refused (401). Raises ``ReauthorizationRequired`` if it cannot."""
        ...


class OAuthClient(Protocol):
    """A billing system's OAuth2 authorization-code flow."""

    def authorize_url(self, state: str, redirect_uri: str) -> str: ...

    def exchange_code(self, code: str, redirect_uri: str) -> OAuthTokens: ...

    def refresh(self, tokens: OAuthTokens) -> OAuthTokens: ...


class BillingTarget(Protocol):
    """One connected billing system account (Clio, Actionstep).

    Reads page through everything (the adapter follows the system's paging). Every call honours the
    system's rate limits (``X-RateLimit-*``, 429 + ``Retry-After``) and renews the access token once on a
    401 through its ``TokenSource``. Failures raise ``BillingError`` (``retryable`` when worth retrying).
    """

    def users(self) -> Iterable[RemoteUser]: ...

    def matters(
        self, include_closed: bool, updated_since: datetime | None = None
    ) -> Iterable[RemoteMatter]: ...

    def contacts(self, updated_since: datetime | None = None) -> Iterable[RemoteContact]: ...

    def activity_types(self) -> Iterable[RemoteActivityType]: ...

    def find_posted(self, posting: TimePosting) -> str | None:
        """The external id of a time entry an earlier attempt created for ``posting.reference``, if any."""
        ...

    def post_time(self, posting: TimePosting) -> str:
        """Create the time entry; returns its external id. Not idempotent on the remote side."""
        ...


class BillingSystems(Protocol):
    """Makes the adapters for one billing system (Clio, Actionstep), configured from settings."""

    def oauth(self, system: str) -> OAuthClient: ...

    def target(self, system: str, tokens: TokenSource) -> BillingTarget: ...


class SecretBox(Protocol):
    """Seals secrets (OAuth tokens) before they are stored; KMS in AWS, bound to the firm."""

    def seal(self, plaintext: bytes, firm_id: str) -> str: ...

    def open(self, sealed: str, firm_id: str) -> bytes: ...


class FileStore(Protocol):
    """Where exports and documents are kept (S3)."""

    def put(self, key: str, path: str, content_type: str) -> None:
        """Upload the local file at ``path``."""
        ...

    def get(self, key: str) -> bytes: ...

    def link(self, key: str, file_name: str, seconds: int = 3600) -> str:
        """A time-limited download link."""
        ...


class BillingUserAuthorizations(Protocol):
    """Each person's own authorization with a billing system (Actionstep), and its OAuth states."""

    def authorization(self, firm_id: str, system: str, user_id: str) -> BillingUserAuthorization | None: ...

    def authorizations(self, firm_id: str, system: str) -> list[BillingUserAuthorization]:
        """Everyone's authorization with ``system`` in one Query (for the admin's overview)."""
        ...

    def save_authorization(
        self, authorization: BillingUserAuthorization, actor: str, action: str
    ) -> BillingUserAuthorization:
        """Conditional on ``authorization.version`` (0 = new); raises ``StaleVersion``."""
        ...

    def save_user_oauth_state(
        self, state: str, firm_id: str, system: str, user_id: str, expires_at: datetime
    ) -> None: ...

    def take_user_oauth_state(self, state: str) -> tuple[str, str, str, datetime] | None:
        """Consume a person's state once: (firm, system, user, expires_at), or None if unknown or used."""
        ...


@runtime_checkable
class BillingIdentity(Protocol):
    """A billing target that can say whose login its token is (Actionstep: ``users/current``)."""

    def current_user(self) -> RemoteUser: ...


class BillingRepository(Protocol):
    """Billing connections, the posting ledger and export records of a firm."""

    def connection(self, firm_id: str, system: str) -> BillingConnection | None: ...

    def connections(self, firm_id: str) -> list[BillingConnection]: ...

    def save_connection(self, connection: BillingConnection, actor: str, action: str) -> BillingConnection:
        """Conditional on ``connection.version`` (0 = new); raises ``StaleVersion``."""
        ...

    def save_oauth_state(
        self, state: str, firm_id: str, system: str, actor: str, expires_at: datetime
    ) -> None: ...

    def take_oauth_state(self, state: str) -> tuple[str, str, str, datetime] | None:
        """Consume a state once: (firm, system, actor, expires_at), or None if unknown or used."""
        ...

    def posting(self, firm_id: str, system: str, entry_id: str) -> PostingRecord | None: ...

    def claim_posting(self, record: PostingRecord, stale_before: datetime) -> bool:
        """Write ``record`` (state claimed) unless another fresh claim or a posted record exists."""
        ...

    def save_posting(self, record: PostingRecord) -> None:
        """Record the outcome of a claimed attempt (posted or failed)."""
        ...

    def postings(self, firm_id: str, system: str, cursor: str | None, limit: int) -> Page[PostingRecord]: ...

    def export(self, firm_id: str, export_id: str) -> ExportRecord | None: ...

    def exports(self, firm_id: str, cursor: str | None, limit: int) -> Page[ExportRecord]: ...

    def exports_of_period(
        self, firm_id: str, format: str, first_day: date, last_day: date
    ) -> list[ExportRecord]: ...

    def save_export(self, record: ExportRecord, actor: str) -> ExportRecord:
        """Conditional on ``record.version`` (0 = new; the id encodes format, period and sequence)."""
        ...

    def released(
        self, firm_id: str, first_day: date, last_day: date, cursor: str | None, limit: int
    ) -> Page[Entry]:
        """Released entries waiting in the firm-wide queue, by day."""
        ...


# ------------------------------------------------------------------ Microsoft 365 mailboxes


class MailboxSource(Protocol):
    """Reads a mailbox's changes incrementally (Graph delta queries or EWS ``SyncFolderItems``).

    ``state`` None starts a full sync. Pages come back in order; raises ``SyncStateExpired`` when the
    server forgot the state (the caller starts over) and honours throttling (``Retry-After``) itself.
    """

    def mail_changes(self, mailbox: str, folder: Folder, state: str | None) -> Iterator[SyncPage]: ...

    def calendar_changes(
        self, mailbox: str, start: datetime, end: datetime, state: str | None
    ) -> Iterator[SyncPage]: ...


class SubscriptionClient(Protocol):
    """Graph change-notification subscriptions of one tenant (``/subscriptions``)."""

    def create(
        self,
        *,
        resource: str,
        change_type: str,
        notification_url: str,
        lifecycle_url: str,
        expires_at: datetime,
        client_state: str,
    ) -> tuple[str, datetime]:
        """Create (Graph runs the validation handshake first); returns (id, expiry Graph granted)."""
        ...

    def renew(self, subscription_id: str, expires_at: datetime) -> datetime:
        """Extend (PATCH); returns the expiry Graph granted. Raises ``SubscriptionGone``."""
        ...

    def delete(self, subscription_id: str) -> None:
        """Remove; a subscription Graph no longer knows counts as removed."""
        ...


class MailboxGateway(Protocol):
    """Opens the mail server a connection names: its ``MailboxSource`` and, for Graph, subscriptions."""

    def source(self, connection: M365Connection) -> MailboxSource: ...

    def subscriptions(self, connection: M365Connection) -> SubscriptionClient | None:
        """None when the protocol has no push notifications (EWS: polled instead)."""
        ...


class TokenCacheStore(Protocol):
    """msal's serialized token cache, kept per firm, tenant and app so every worker shares it."""

    def load(self, firm_id: str, tenant_id: str, client_id: str) -> str | None: ...

    def save(self, firm_id: str, tenant_id: str, client_id: str, blob: str) -> None: ...


class WorkQueue(Protocol):
    """Background work (SQS). Each message is a small JSON object whose ``kind`` names the job."""

    def send(self, messages: Sequence[Mapping[str, Any]], delay_seconds: int = 0) -> None: ...


class MailboxRepository(Protocol):
    """Microsoft 365 connections, per-folder sync state, subscriptions and the meeting ledger."""

    def connection(self, firm_id: str) -> M365Connection | None: ...

    def save_connection(self, connection: M365Connection, actor: str, action: str) -> M365Connection:
        """Conditional on ``connection.version`` (0 = new); raises ``StaleVersion``."""
        ...

    def connected_firms(self) -> list[str]: ...

    def sync_state(self, firm_id: str, user_id: str, folder: Folder) -> FolderSyncState:
        """The stored state, or a fresh one (version 0) when the folder was never synced."""
        ...

    def sync_states(self, firm_id: str) -> list[FolderSyncState]: ...

    def save_sync_state(self, state: FolderSyncState) -> FolderSyncState:
        """Conditional on ``state.version``: two workers never both advance one state (``StaleVersion``)."""
        ...

    def subscription(self, firm_id: str, user_id: str, folder: Folder) -> Subscription | None: ...

    def subscription_by_id(self, subscription_id: str) -> Subscription | None: ...

    def subscriptions(self, firm_id: str) -> list[Subscription]: ...

    def save_subscription(self, subscription: Subscription, replaces: Subscription | None) -> Subscription:
        """Store (conditional on ``version``) and keep the lookup by subscription id in step."""
        ...

    def delete_subscription(self, subscription: Subscription) -> None: ...

    def mark_queued(self, target: SyncTarget, now: datetime, stale_before: datetime) -> bool:
        """Note that a sync job is queued; False if one already is (queued after ``stale_before``)."""
        ...

    def clear_queued(self, target: SyncTarget) -> None: ...

    def ledger(self, firm_id: str, user_id: str, item_ids: Iterable[str]) -> dict[str, LedgerEntry]: ...

    def update_ledger(
        self, firm_id: str, user_id: str, remember: Iterable[LedgerEntry], forget: Iterable[str]
    ) -> None: ...

    def due_meetings(self, firm_id: str, before: datetime) -> list[tuple[str, LedgerEntry]]:
        """Pending meetings of the firm that ended before ``before``: (user id, entry)."""
        ...


class DelegateRepository(Protocol):
    """Who may work on whose timeline: one grant list per owner, plus a lookup by delegate."""

    def delegates_of(self, firm_id: str, owner_id: str) -> Delegates: ...

    def save(self, firm_id: str, delegates: Delegates, actor: str) -> Delegates:
        """Replace the owner's list unless it changed since read (``delegates.version``)."""
        ...

    def grants_to(self, firm_id: str, delegate_id: str) -> list[Grant]:
        """The grants naming ``delegate_id``: whose timelines they may open."""
        ...


# ------------------------------------------------------------------ email, reports, workflows


@dataclass(frozen=True)
class EmailAttachment:
    """A file sent with an email (the approved invoice PDF)."""

    file_name: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class OutgoingEmail:
    """One rendered email, ready to send: both an HTML and a plain-text body, always."""

    to: tuple[str, ...]
    subject: str
    html: str
    text: str
    cc: tuple[str, ...] = ()
    attachments: tuple[EmailAttachment, ...] = ()
    # Inline images referenced from the HTML as ``cid:<name>``.
    inline_images: tuple[EmailAttachment, ...] = ()
    # Tags for SES event publishing (kind of email, firm): never personal data.
    tags: Mapping[str, str] | None = None


class EmailSender(Protocol):
    """Sends one email (SES in AWS and in the devstack); returns the provider's message id."""

    def send(self, email: OutgoingEmail) -> str: ...


class EmailRenderer(Protocol):
    """Renders a named email template (``templates/email/<name>.html`` and ``.txt``)."""

    def render(self, name: str, context: Mapping[str, Any]) -> tuple[str, str, str]:
        """(subject, html, text)."""
        ...


class DeliveryLedger(Protocol):
    """Remembers which emails went out, so a retried task never sends a second one."""

    def claim(self, key: str, firm_id: str, stale_before: datetime) -> bool:
        """Claim the delivery ``key``; False if it was sent already or another attempt holds a fresh claim."""
        ...

    def mark_sent(self, key: str, firm_id: str, message_id: str) -> None: ...

    def release(self, key: str, firm_id: str) -> None:
        """Give a claim up after the send failed, so a retry may send."""
        ...

    def sent(self, key: str, firm_id: str) -> str | None:
        """The message id of a delivery that went out, else None."""
        ...


class ReportPreferencesRepository(Protocol):
    """Users' report preferences, one Query per firm for the hourly fan-out."""

    def get(self, firm_id: str, user_id: str) -> ReportPreferences | None: ...

    def save(self, firm_id: str, user_id: str, preferences: ReportPreferences, actor: str) -> None: ...

    def of_firm(self, firm_id: str) -> list[tuple[str, ReportPreferences]]:
        """Every user of the firm who chose preferences: (user id, preferences)."""
        ...


class ExportScheduleRepository(Protocol):
    """A firm's scheduled exports and postings (one item per target)."""

    def of_firm(self, firm_id: str) -> list[ExportSchedule]: ...

    def save(self, schedule: ExportSchedule, actor: str) -> None: ...

    def delete(self, firm_id: str, target: str) -> None: ...


class WorkflowSignals(Protocol):
    """Tells a waiting workflow step what happened (Step Functions task tokens)."""

    def succeed(self, token: str, output: Mapping[str, Any]) -> bool:
        """Answer the step waiting on ``token``; False when nothing waits on it any more (it timed out
        into a reminder, or was answered already), so the caller keeps the decision for the next wait."""
        ...

    def fail(self, token: str, error: str, cause: str) -> None: ...


# ------------------------------------------------------------------ contractor module


class ContractorEventSink(Protocol):
    """Where the contractor module hands the events of every committed invoice transition (the invoice
    workflow: notifications, reminders, the approved-invoice PDF)."""

    def publish(self, events: Sequence[ContractorEvent]) -> None: ...


class InvoiceWaits(Protocol):
    """Where an invoice's workflow keeps the task token of the staff decision it waits on, and the log of
    staff decisions by invoice version, which the workflow reads past its cursor (either may come first)."""

    def set_current(self, firm_id: str, invoice_id: str, execution: str) -> None: ...

    def current(self, firm_id: str, invoice_id: str) -> str | None: ...

    def put_token(self, firm_id: str, invoice_id: str, execution: str, step: str, token: str) -> None: ...

    def take_token(self, firm_id: str, invoice_id: str, execution: str, step: str) -> str | None:
        """Remove and return the waiting token, if any: whoever takes it is the one who answers it."""
        ...

    def put_decision(
        self,
        firm_id: str,
        invoice_id: str,
        execution: str,
        seq: int,
        steps: Sequence[str],
        decision: Mapping[str, Any],
    ) -> None:
        """Log the decision of the transition that committed invoice version ``seq``; it answers ``steps``."""
        ...

    def decisions_after(
        self, firm_id: str, invoice_id: str, execution: str, seq: int
    ) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
        """(steps it answers, decision with its ``seq``) of each decision logged after ``seq``, in order."""
        ...


class InvoiceRecords(Protocol):
    """What the invoice workflow reads of the contractor module (its repository)."""

    def invoice(self, firm_id: str, invoice_id: str) -> Any:
        """The Invoice, or None."""
        ...

    def invoice_with_bts(self, firm_id: str, invoice_id: str) -> tuple[Any, list[Any]]:
        """(Invoice | None, its BillingTransactions)."""
        ...

    def settings(self, firm_id: str) -> Any:
        """The firm's ContractorSettings."""
        ...

    def contractor(self, firm_id: str, who: Any) -> Any:
        """The Contractor named by a ContractorRef, or None."""
        ...
