"""Billing systems: what we sync in from them, what we post to them, and the connection's properties.

Pure data and rules. The HTTP clients for Clio and Actionstep live in ``chalicelib/adapters/billing/``
and implement ``chalicelib.ports.BillingTarget`` with these types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from chalicelib.domain.errors import FieldError, InvalidInput


class BillingSystem(StrEnum):
    CLIO = "clio"
    ACTIONSTEP = "actionstep"


class BillingError(Exception):
    """A billing system refused or failed a request; ``retryable`` says whether trying later may help."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable


class ReauthorizationRequired(BillingError):
    """The connection's refresh token was refused: an admin must connect the billing system again."""

    def __init__(
        self, message: str = "the billing system refused our refresh token; connect it again"
    ) -> None:
        super().__init__(message, status=401, retryable=False)


@dataclass(frozen=True)
class OAuthTokens:
    """A connection's OAuth tokens. ``api_base`` is where the account's API lives (Actionstep names it)."""

    access_token: str
    refresh_token: str
    expires_at: datetime
    api_base: str | None = None


@dataclass(frozen=True)
class RemoteUser:
    external_id: str
    email: str
    name: str
    enabled: bool = True


@dataclass(frozen=True)
class RemoteMatter:
    external_id: str
    number: str
    name: str
    # "open", "pending" or "closed", mapped from the system's own words.
    status: str
    client_external_id: str | None = None
    client_name: str | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class RemoteContact:
    external_id: str
    name: str
    email: str | None = None
    is_client: bool = False
    updated_at: datetime | None = None


@dataclass(frozen=True)
class RemoteActivityType:
    external_id: str
    name: str
    # Decimal as text: money is never a float.
    rate: str | None = None
    utbms_task: str | None = None
    utbms_activity: str | None = None


@dataclass(frozen=True)
class TimePosting:
    """One released entry as a billing system receives it.

    ``reference`` is ours and unique per entry (``ML-<entry id>``): Actionstep stores it in
    ``importExternalReference``; Clio has no such field, so the adapter keeps it in the note and finds
    it there when a retry must learn whether an earlier attempt already created the activity.
    """

    reference: str
    day: date
    seconds: int
    matter_external_id: str
    user_external_id: str
    note: str
    non_billable: bool = False
    activity_external_id: str | None = None
    # Raw (worked) seconds, for Actionstep's actualHours beside billableHours.
    worked_seconds: int | None = None


# ------------------------------------------------------------------ connection properties

PROPERTY_NAMES = (
    "SHOW_CLOSED_CASES",
    "ADD_SUMMARY_TO_NARRATIVE",
    "ACTIVITY_TYPES_NON_BILLABLE",
    "BILLABLE_TIME_ROUNDING_SEC",
    "ACTION_SYNC_INTERVAL_MINUTES",
    "QUICK_CODE_SYNC_INTERVAL_MINUTES",
    "USER_AUTHORIZATION",
)
# ``USER_AUTHORIZATION`` (Actionstep): whether each person must connect their own account to post.
USER_AUTHORIZATION_VALUES = ("OPTIONAL", "REQUIRED")


@dataclass(frozen=True)
class ConnectionProperties:
    """The per-connection switches the seed documents name (README, "Billing connections")."""

    show_closed_cases: bool = False
    add_summary_to_narrative: bool = False
    activity_types_non_billable: tuple[str, ...] = ()
    billable_time_rounding_sec: int = 0
    action_sync_interval_minutes: int = 60
    quick_code_sync_interval_minutes: int = 1440
    user_authorization: str = "OPTIONAL"

    def as_named(self) -> dict[str, str]:
        """The properties under the names admins know them by."""
        return {
            "SHOW_CLOSED_CASES": _flag(self.show_closed_cases),
            "ADD_SUMMARY_TO_NARRATIVE": _flag(self.add_summary_to_narrative),
            "ACTIVITY_TYPES_NON_BILLABLE": ",".join(self.activity_types_non_billable),
            "BILLABLE_TIME_ROUNDING_SEC": str(self.billable_time_rounding_sec),
            "ACTION_SYNC_INTERVAL_MINUTES": str(self.action_sync_interval_minutes),
            "QUICK_CODE_SYNC_INTERVAL_MINUTES": str(self.quick_code_sync_interval_minutes),
            "USER_AUTHORIZATION": self.user_authorization,
        }


def _flag(value: bool) -> str:
    return "true" if value else "false"


def parse_properties(named: dict[str, str], base: ConnectionProperties | None = None) -> ConnectionProperties:
    """Apply admin-entered properties (text, by name) over ``base``; raise naming every bad one."""
    base = base or ConnectionProperties()
    problems: list[FieldError] = []
    values: dict[str, object] = {}

    def flag(name: str) -> bool | None:
        text = named[name].strip().lower()
        if text in ("true", "yes", "1", "on", "t"):
            return True
        if text in ("false", "no", "0", "off", "f", ""):
            return False
        problems.append(FieldError(name, "must be true or false"))
        return None

    def minutes(name: str, low: int, high: int) -> int | None:
        text = named[name].strip()
        if not text.isdigit() or not low <= int(text) <= high:
            problems.append(FieldError(name, f"must be a whole number from {low} to {high}"))
            return None
        return int(text)

    for name in named:
        if name not in PROPERTY_NAMES:
            problems.append(FieldError(name, f"unknown property; known: {', '.join(PROPERTY_NAMES)}"))
    if "SHOW_CLOSED_CASES" in named:
        values["show_closed_cases"] = flag("SHOW_CLOSED_CASES")
    if "ADD_SUMMARY_TO_NARRATIVE" in named:
        values["add_summary_to_narrative"] = flag("ADD_SUMMARY_TO_NARRATIVE")
    if "ACTIVITY_TYPES_NON_BILLABLE" in named:
        codes = [c.strip() for c in named["ACTIVITY_TYPES_NON_BILLABLE"].split(",") if c.strip()]
        values["activity_types_non_billable"] = tuple(dict.fromkeys(codes))
    if "BILLABLE_TIME_ROUNDING_SEC" in named:
        values["billable_time_rounding_sec"] = minutes("BILLABLE_TIME_ROUNDING_SEC", 0, 3600)
    if "ACTION_SYNC_INTERVAL_MINUTES" in named:
        values["action_sync_interval_minutes"] = minutes("ACTION_SYNC_INTERVAL_MINUTES", 5, 10080)
    if "QUICK_CODE_SYNC_INTERVAL_MINUTES" in named:
        values["quick_code_sync_interval_minutes"] = minutes("QUICK_CODE_SYNC_INTERVAL_MINUTES", 5, 10080)
    if "USER_AUTHORIZATION" in named:
        mode = named["USER_AUTHORIZATION"].strip().upper() or "OPTIONAL"
        if mode in USER_AUTHORIZATION_VALUES:
            values["user_authorization"] = mode
        else:
            problems.append(FieldError("USER_AUTHORIZATION", "must be OPTIONAL or REQUIRED"))
    if problems:
        raise InvalidInput("some connection properties are not valid", field_errors=problems)
    current = base.__dict__ | values
    return ConnectionProperties(**current)


def sync_due(connection: BillingConnection, now: datetime) -> tuple[bool, bool]:
    """Whether the schedule should sync matters (and the rest), and activity types, now."""
    if connection.status is not ConnectionStatus.CONNECTED:
        return False, False
    properties = connection.properties
    matters = connection.last_sync_at is None or now - connection.last_sync_at >= timedelta(
        minutes=properties.action_sync_interval_minutes
    )
    activities = (
        connection.last_activity_sync_at is None
        or now - connection.last_activity_sync_at
        >= timedelta(minutes=properties.quick_code_sync_interval_minutes)
    )
    return matters, activities


def posting_reference(entry_id: str) -> str:
    """Our reference for an entry in a billing system: stable, so a retry can find an earlier post."""
    return f"ML-{entry_id}"


def note_with_reference(note: str, reference: str) -> str:
    """Where a system has no external reference field (Clio) the reference rides at the end of the note."""
    return f"{note} [{reference}]"


def billed_seconds_for(billed: int, rounding_sec: int) -> int:
    """``BILLABLE_TIME_ROUNDING_SEC`` rounds billed time up once more, for systems with their own unit."""
    if rounding_sec <= 0 or billed % rounding_sec == 0:
        return billed
    return (billed // rounding_sec + 1) * rounding_sec


def summary_suffix(worked_seconds: float, billed_seconds: int) -> str:
    """``ADD_SUMMARY_TO_NARRATIVE``: the worked and billed totals, appended to the narrative."""
    return f" (worked {_hm(round(worked_seconds))}, billed {_hm(billed_seconds)})"


def _hm(seconds: int) -> str:
    minutes = (seconds + 59) // 60
    return f"{minutes // 60}h{minutes % 60:02d}m"


@dataclass
class PostingResult:
    """What happened to one entry in a posting run."""

    entry_id: str
    outcome: str  # posted | already_posted | failed | skipped
    external_id: str | None = None
    message: str = ""
    attempts: int = 1
    # Whether trying again may help (throttling, a lost reply, a 5xx); the run retries these once.
    retryable: bool = False


@dataclass
class PostingReport:
    """A posting run's per-entry results and totals."""

    results: list[PostingResult] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for result in self.results if result.outcome == outcome)


# ------------------------------------------------------------------ connections, postings, exports


class ConnectionStatus(StrEnum):
    """``connected`` until the system refuses our refresh token (``reauthorize``) or an admin disconnects."""

    CONNECTED = "connected"
    REAUTHORIZE = "reauthorize"
    DISCONNECTED = "disconnected"


@dataclass(frozen=True)
class BillingConnection:
    """A firm's link to one billing system account. ``sealed_tokens`` is KMS ciphertext, never logged."""

    firm_id: str
    system: BillingSystem
    status: ConnectionStatus = ConnectionStatus.DISCONNECTED
    properties: ConnectionProperties = field(default_factory=ConnectionProperties)
    sealed_tokens: str | None = None
    connected_by: str | None = None
    connected_at: datetime | None = None
    last_sync_at: datetime | None = None
    last_activity_sync_at: datetime | None = None
    last_sync: dict[str, int] = field(default_factory=dict)
    last_post_at: datetime | None = None
    last_error: str | None = None
    version: int = 0


class PostingState(StrEnum):
    CLAIMED = "claimed"
    POSTED = "posted"
    FAILED = "failed"


@dataclass(frozen=True)
class PostingRecord:
    """The ledger line of one entry's posting to one system: the exactly-once record.

        released ──claim──▶ claimed ──remote 201──▶ (record) posted ──▶ entry marked posted
                               │  crash / lost reply        ▲
                               ▼                            │ retry: find_posted(reference) first
                            failed / stale claim ───────────┘

    A claim is a conditional write; a second worker cannot claim while a claim is fresh
    (``claimed_at`` within the lease), and a retry after an attempt that may have reached the system
    always asks the system for ``reference`` before creating anything.
    """

    firm_id: str
    system: BillingSystem
    entry_id: str
    user_id: str
    day: date
    reference: str
    state: PostingState
    attempts: int
    claimed_at: datetime
    external_id: str | None = None
    message: str = ""
    # Whether an attempt may have created the record remotely (a POST was sent without a clear refusal).
    maybe_created: bool = False


class ExportFormat(StrEnum):
    TABS3 = "tabs3"
    PCLAW = "pclaw"
    TIMESLIPS = "timeslips"
    ABACUS = "abacus"
    CSV = "csv"
    LEDES = "ledes"


class ExportState(StrEnum):
    BUILDING = "building"
    COMPLETE = "complete"


@dataclass(frozen=True)
class ExportRecord:
    """One export run: which entries it billed, and the file it made (stored, so it can be fetched again).

    The entry list (the manifest, kept beside the file because it can outgrow a table item) is fixed
    when the run starts, so a run that dies half-way resumes with the same list and the same bytes.
    """

    firm_id: str
    export_id: str
    format: ExportFormat
    first_day: date
    last_day: date
    sequence: int
    state: ExportState
    entry_count: int
    manifest_key: str
    created_by: str
    created_at: datetime
    file_key: str | None = None
    file_name: str | None = None
    sha256: str | None = None
    lines: int = 0
    total_hours: str = "0"
    total_amount: str = "0"
    version: int = 0
