"""Request and response models of billing connections, posting, exports and the billing-system API."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from chalicelib.api.schemas import ApiModel, Input, PageQuery
from chalicelib.api.timeline_schemas import EntryOut
from chalicelib.domain.billing import (
    BillingConnection,
    ConnectionStatus,
    ExportRecord,
    PostingRecord,
    PostingReport,
    PostingResult,
)
from chalicelib.domain.billing_users import (
    BillingUserAuthorization,
    UserAuthorizationStatus,
    takes_user_authorization,
)

if TYPE_CHECKING:  # the services stay out of the import of the API's models
    from chalicelib.services.billing import AuthorizationOverview, PersonAuthorization

PropertyName = Literal[
    "SHOW_CLOSED_CASES",
    "ADD_SUMMARY_TO_NARRATIVE",
    "ACTIVITY_TYPES_NON_BILLABLE",
    "BILLABLE_TIME_ROUNDING_SEC",
    "ACTION_SYNC_INTERVAL_MINUTES",
    "QUICK_CODE_SYNC_INTERVAL_MINUTES",
    "USER_AUTHORIZATION",
]


class ConnectionOut(ApiModel):
    system: str
    status: str
    properties: dict[str, str]
    connected_by: str | None
    connected_at: datetime | None
    last_sync_at: datetime | None
    last_sync: dict[str, int]
    last_post_at: datetime | None
    last_error: str | None
    version: int

    @classmethod
    def of(cls, connection: BillingConnection) -> ConnectionOut:
        return cls(
            system=connection.system.value,
            status=connection.status.value,
            properties=_named_properties(connection),
            connected_by=connection.connected_by,
            connected_at=connection.connected_at,
            last_sync_at=connection.last_sync_at,
            last_sync=connection.last_sync,
            last_post_at=connection.last_post_at,
            last_error=connection.last_error,
            version=connection.version,
        )


def _named_properties(connection: BillingConnection) -> dict[str, str]:
    named = connection.properties.as_named()
    if not takes_user_authorization(connection.system):
        # Only Actionstep's people authorize themselves; elsewhere the switch means nothing.
        named.pop("USER_AUTHORIZATION", None)
    return named


class UserAuthorizationOut(ApiModel):
    system: str
    firm_connected: bool = Field(description="whether the firm's own connection to the system works")
    status: str = Field(description="connected, reauthorize (connect again) or disconnected")
    connected_as: str | None = Field(description="the system's name of the login that authorized")
    participant_id: str | None = Field(description="the system's id of that login (Actionstep participant)")
    authorized_at: datetime | None
    required: bool = Field(description="whether time is posted only after authorizing (USER_AUTHORIZATION)")
    last_error: str | None

    @classmethod
    def of(cls, connection: BillingConnection, mine: BillingUserAuthorization) -> UserAuthorizationOut:
        return cls(
            system=connection.system.value,
            firm_connected=connection.status is ConnectionStatus.CONNECTED,
            status=mine.status.value,
            connected_as=mine.participant_name
            if mine.status is not UserAuthorizationStatus.DISCONNECTED
            else None,
            participant_id=mine.participant_id
            if mine.status is not UserAuthorizationStatus.DISCONNECTED
            else None,
            authorized_at=mine.authorized_at,
            required=connection.properties.user_authorization == "REQUIRED",
            last_error=mine.last_error,
        )


class PersonAuthorizationOut(ApiModel):
    user_id: str
    display_name: str
    email: str
    status: str = Field(
        description="connected, reauthorize (must connect again) or disconnected (never or no more)"
    )
    connected_as: str | None = Field(description="the system's name of the login they connected with")
    authorized_at: datetime | None = Field(description="when they last connected it")
    last_error: str | None

    @classmethod
    def of(cls, person: PersonAuthorization) -> PersonAuthorizationOut:
        # Only what an admin needs to judge: never the tokens, sealed or not.
        mine = person.authorization
        active = mine is not None and mine.status is not UserAuthorizationStatus.DISCONNECTED
        return cls(
            user_id=person.user.user_id,
            display_name=person.user.display_name,
            email=person.user.email,
            status=person.status.value,
            connected_as=mine.participant_name if mine and active else None,
            authorized_at=mine.authorized_at if mine and active else None,
            last_error=mine.last_error if mine and active else None,
        )


class AuthorizationOverviewOut(ApiModel):
    system: str
    firm_status: str = Field(description="the firm connection's status: connected, reauthorize, disconnected")
    user_authorization: str = Field(description="OPTIONAL or REQUIRED: the connection's USER_AUTHORIZATION")
    connected_count: int = Field(description="how many of the people have their own login connected")
    people_count: int = Field(description="how many people record time (the roster below)")
    people: list[PersonAuthorizationOut]

    @classmethod
    def of(cls, overview: AuthorizationOverview) -> AuthorizationOverviewOut:
        return cls(
            system=overview.connection.system.value,
            firm_status=overview.connection.status.value,
            user_authorization=overview.mode.value,
            connected_count=overview.connected,
            people_count=len(overview.people),
            people=[PersonAuthorizationOut.of(p) for p in overview.people],
        )


class UserAuthorizeOut(ApiModel):
    authorize_url: str = Field(description="send your browser here to sign in and grant access")


class AuthorizeOut(ApiModel):
    authorize_url: str = Field(description="send the admin's browser here to grant access")
    redirect_uri: str = Field(description="register this callback with the billing system's app")


class CallbackQuery(Input):
    model_config = {"extra": "ignore", "str_strip_whitespace": True, "defer_build": True}

    code: str | None = Field(default=None, max_length=4096)
    state: str | None = Field(default=None, max_length=256)
    error: str | None = Field(default=None, max_length=200)


class PropertiesIn(Input):
    version: int = Field(ge=0, description="the connection's version as read (0 before the first change)")
    properties: dict[PropertyName, str] = Field(min_length=1)


class VersionIn(Input):
    version: int = Field(ge=1)


class SyncOut(ApiModel):
    counts: dict[str, int]
    unmatched_users: list[str]
    skipped: list[str]


class PostIn(Input):
    first_day: date | None = None
    last_day: date | None = None
    # One request posts a bounded batch (a billing system allows ~50 requests a minute); the CLI and the
    # scheduled export call again until nothing is left.
    limit: int = Field(default=200, ge=1, le=500)

    @model_validator(mode="after")
    def _ordered(self) -> PostIn:
        if self.first_day and self.last_day and self.last_day < self.first_day:
            raise ValueError("last_day is before first_day")
        return self


class PostingResultOut(ApiModel):
    entry_id: str
    outcome: str = Field(description="posted, already_posted, failed, skipped or stopped")
    external_id: str | None
    message: str
    attempts: int

    @classmethod
    def of(cls, result: PostingResult) -> PostingResultOut:
        return cls(
            entry_id=result.entry_id,
            outcome=result.outcome,
            external_id=result.external_id,
            message=result.message,
            attempts=result.attempts,
        )


class PostingReportOut(ApiModel):
    posted: int
    already_posted: int
    failed: int
    skipped: int
    stopped: int
    results: list[PostingResultOut]

    @classmethod
    def of(cls, report: PostingReport) -> PostingReportOut:
        return cls(
            posted=report.count("posted"),
            already_posted=report.count("already_posted"),
            failed=report.count("failed"),
            skipped=report.count("skipped"),
            stopped=report.count("stopped"),
            results=[PostingResultOut.of(r) for r in report.results],
        )


class PostingRecordOut(ApiModel):
    entry_id: str
    user_id: str
    day: date
    reference: str
    state: str
    attempts: int
    external_id: str | None
    message: str

    @classmethod
    def of(cls, record: PostingRecord) -> PostingRecordOut:
        return cls(
            entry_id=record.entry_id,
            user_id=record.user_id,
            day=record.day,
            reference=record.reference,
            state=record.state.value,
            attempts=record.attempts,
            external_id=record.external_id,
            message=record.message,
        )


class PostingPage(ApiModel):
    items: list[PostingRecordOut]
    next_cursor: str | None


class ExportIn(Input):
    format: Literal["tabs3", "pclaw", "timeslips", "abacus", "csv", "ledes"]
    first_day: date
    last_day: date

    @model_validator(mode="after")
    def _ordered(self) -> ExportIn:
        if self.last_day < self.first_day:
            raise ValueError("last_day is before first_day")
        return self


class ExportOut(ApiModel):
    export_id: str
    format: str
    first_day: date
    last_day: date
    sequence: int
    state: str
    entries: int
    lines: int
    total_hours: str
    total_amount: str
    file_name: str | None
    sha256: str | None
    created_by: str
    created_at: datetime
    download_url: str | None = None

    @classmethod
    def of(cls, record: ExportRecord, download_url: str | None = None) -> ExportOut:
        return cls(
            export_id=record.export_id,
            format=record.format.value,
            first_day=record.first_day,
            last_day=record.last_day,
            sequence=record.sequence,
            state=record.state.value,
            entries=record.entry_count,
            lines=record.lines,
            total_hours=record.total_hours,
            total_amount=record.total_amount,
            file_name=record.file_name,
            sha256=record.sha256,
            created_by=record.created_by,
            created_at=record.created_at,
            download_url=download_url,
        )


class ExportPage(ApiModel):
    items: list[ExportOut]
    next_cursor: str | None


class ReleasedQuery(PageQuery):
    first_day: date
    last_day: date
    user_id: str | None = Field(default=None, max_length=64)
    matter_id: str | None = Field(default=None, max_length=64)


class ReleasedEntryOut(EntryOut):
    user_id: str


class ReleasedPage(ApiModel):
    items: list[ReleasedEntryOut]
    next_cursor: str | None


class ExportedEntryIn(Input):
    user_id: str = Field(min_length=1, max_length=64)
    day: date
    entry_id: str = Field(min_length=1, max_length=64)
    version: int = Field(ge=1)


class MarkExportedIn(Input):
    reference: str = Field(min_length=1, max_length=100, description="your batch or invoice id")
    entries: list[ExportedEntryIn] = Field(min_length=1, max_length=500)


class MarkedOut(ApiModel):
    entry_id: str
    outcome: str = Field(description="exported, already_exported, conflict or not_found")
    version: int | None = None
    message: str | None = None
