"""Request and response models for clients, matters, contacts and activity types."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any

from pydantic import Field, field_validator

from chalicelib.api.schemas import ApiModel, Input, PageQuery
from chalicelib.domain.matters import ActivityType, BillingMethod, Client, Contact, Matter, MatterStatus

ExternalIds: Any = Field(default_factory=dict, max_length=10)
LANGUAGES = (
    "languages the client speaks, free text like 'Spanish': trimmed and listed once whatever their case, "
    "at most 10 of 1 to 40 characters; the recommended contractors for the case inherit them as a filter"
)


class ClientIn(Input):
    name: str = Field(min_length=1, max_length=200)
    domains: list[str] = Field(default_factory=list, max_length=20)
    external_ids: dict[str, str] = ExternalIds
    rounding_increment_seconds: int | None = Field(default=None, ge=1, le=3600)

    def fields(self) -> dict[str, Any]:
        data = self.model_dump()
        data["domains"] = tuple(d.lower().lstrip("@") for d in self.domains)
        return data


class ClientUpdate(ClientIn):
    version: int = Field(ge=1)

    def fields(self) -> dict[str, Any]:
        return {k: v for k, v in super().fields().items() if k != "version"}


class ClientOut(ApiModel):
    client_id: str
    name: str
    domains: list[str]
    external_ids: dict[str, str]
    rounding_increment_seconds: int | None
    version: int

    @classmethod
    def of(cls, client: Client) -> ClientOut:
        data = asdict(client)
        return cls(**{k: data[k] for k in cls.model_fields})


class MatterIn(Input):
    number: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=300)
    client_id: str = Field(min_length=1, max_length=64)
    status: MatterStatus = MatterStatus.OPEN
    responsible_user_id: str | None = Field(default=None, max_length=64)
    billing_method: BillingMethod = BillingMethod.HOURLY
    utbms_required: bool = False
    rounding_increment_seconds: int | None = Field(default=None, ge=1, le=3600)
    opened_on: date | None = None
    contact_ids: list[str] = Field(default_factory=list, max_length=200)
    external_ids: dict[str, str] = ExternalIds
    problem_code: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="a key of the firm's legal problem code lookup; sets the case's contractor allocation",
    )
    languages: list[str] = Field(default_factory=list, max_length=20, description=LANGUAGES)

    def fields(self) -> dict[str, Any]:
        data = self.model_dump()
        data["contact_ids"] = tuple(self.contact_ids)
        data["languages"] = tuple(self.languages)
        return data


def _without_null(schema: dict[str, Any]) -> None:
    """The documented schema of a kept-when-omitted field: its value's type, no null, no default."""
    branches = schema.pop("anyOf", None)
    if branches:
        schema.update(next(branch for branch in branches if branch.get("type") != "null"))
    schema.pop("default", None)


def kept_when_omitted(**constraints: Any) -> Any:
    """A PATCH field: left out, the current value stays; sent, it must be a value (null is refused)."""
    return Field(default=None, json_schema_extra=_without_null, **constraints)


class MatterUpdate(Input):
    """Send only what changes. ``responsible_user_id``, ``rounding_increment_seconds`` and
    ``problem_code`` may be null (that clears them); every other field is kept when left out and cannot
    be null."""

    version: int = Field(ge=1)
    name: str | None = kept_when_omitted(min_length=1, max_length=300)
    client_id: str | None = kept_when_omitted(min_length=1, max_length=64)
    status: MatterStatus | None = kept_when_omitted()
    responsible_user_id: str | None = Field(default=None, max_length=64)
    billing_method: BillingMethod | None = kept_when_omitted()
    utbms_required: bool | None = kept_when_omitted()
    rounding_increment_seconds: int | None = Field(default=None, ge=1, le=3600)
    contact_ids: list[str] | None = kept_when_omitted(max_length=200)
    external_ids: dict[str, str] | None = kept_when_omitted(max_length=10)
    problem_code: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="a key of the legal problem code lookup (null clears it); moves the contractor "
        "allocation until it was adjusted by hand or by an approval",
    )
    languages: list[str] | None = kept_when_omitted(max_length=20, description=LANGUAGES)

    @field_validator(
        "name",
        "client_id",
        "status",
        "billing_method",
        "utbms_required",
        "contact_ids",
        "external_ids",
        "languages",
        mode="before",
    )
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # A null here used to reach the matter itself (a matter without a name or a client).
        if value is None:
            raise ValueError("cannot be null; leave the field out to keep its value")
        return value

    def changes(self) -> dict[str, Any]:
        data = self.model_dump(exclude_unset=True, exclude={"version"})
        if "contact_ids" in data:
            data["contact_ids"] = tuple(data["contact_ids"])
        if "languages" in data:
            data["languages"] = tuple(data["languages"])
        return data


class CloseMatter(Input):
    version: int = Field(ge=1)
    closed_on: date | None = None


class MatterOut(ApiModel):
    matter_id: str
    number: str
    name: str
    client_id: str
    status: MatterStatus
    responsible_user_id: str | None
    billing_method: BillingMethod
    utbms_required: bool
    rounding_increment_seconds: int | None
    opened_on: date | None
    closed_on: date | None
    contact_ids: list[str]
    external_ids: dict[str, str]
    problem_code: str | None
    languages: list[str]
    version: int

    @classmethod
    def of(cls, matter: Matter) -> MatterOut:
        data = asdict(matter)
        return cls(**{k: data[k] for k in cls.model_fields})


class ClientSearch(PageQuery):
    name: str | None = Field(default=None, min_length=1, max_length=200)


class ContactSearch(PageQuery):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Field(default=None, min_length=3, max_length=320)


class MatterSearch(PageQuery):
    number: str | None = Field(default=None, min_length=1, max_length=40)
    name: str | None = Field(default=None, min_length=1, max_length=300)
    client_id: str | None = Field(default=None, max_length=64)
    include_closed: bool = False


class ContactIn(Input):
    name: str = Field(min_length=1, max_length=200)
    emails: list[str] = Field(default_factory=list, max_length=20)
    phones: list[str] = Field(default_factory=list, max_length=20)
    company: str = Field(default="", max_length=200)
    client_id: str | None = Field(default=None, max_length=64)
    external_ids: dict[str, str] = ExternalIds

    def fields(self) -> dict[str, Any]:
        from chalicelib.domain.calls import normalize_number

        data = self.model_dump()
        data["emails"] = tuple(e.strip().lower() for e in self.emails)
        try:
            data["phones"] = tuple(normalize_number(p) for p in self.phones)
        except ValueError as error:
            from chalicelib.domain.errors import FieldError, InvalidInput

            raise InvalidInput(
                "the contact is not valid", field_errors=[FieldError("phones", str(error))]
            ) from error
        return data


class ContactUpdate(ContactIn):
    version: int = Field(ge=1)

    def fields(self) -> dict[str, Any]:
        return {k: v for k, v in super().fields().items() if k != "version"}


class ContactOut(ApiModel):
    contact_id: str
    name: str
    emails: list[str]
    phones: list[str]
    company: str
    client_id: str | None
    external_ids: dict[str, str]
    version: int

    @classmethod
    def of(cls, contact: Contact) -> ContactOut:
        data = asdict(contact)
        return cls(**{k: data[k] for k in cls.model_fields})


class ClientPage(ApiModel):
    items: list[ClientOut]
    next_cursor: str | None


class MatterPage(ApiModel):
    items: list[MatterOut]
    next_cursor: str | None


class ContactPage(ApiModel):
    items: list[ContactOut]
    next_cursor: str | None


class ActivityTypeIn(Input):
    version: int = Field(default=0, ge=0)
    name: str = Field(min_length=1, max_length=200)
    utbms_task: str | None = Field(default=None, max_length=8)
    utbms_activity: str | None = Field(default=None, max_length=8)
    billable: bool = True
    rate: str | None = Field(default=None, pattern=r"^\d{1,7}(\.\d{1,2})?$")
    external_ids: dict[str, str] = Field(
        default_factory=dict,
        description='ids in other systems, merged into the ones it has; "tabs3" is its Tabs3 tcode',
        max_length=20,
    )


class ActivityTypeOut(ApiModel):
    code: str
    name: str
    utbms_task: str | None
    utbms_activity: str | None
    billable: bool
    rate: str | None
    external_ids: dict[str, str] = Field(default_factory=dict)
    version: int

    @classmethod
    def of(cls, activity: ActivityType) -> ActivityTypeOut:
        data = asdict(activity)
        return cls(**{k: data[k] for k in cls.model_fields})


class CodeOut(ApiModel):
    code: str
    name: str


class UtbmsOut(ApiModel):
    tasks: list[CodeOut]
    activities: list[CodeOut]


class ImportIn(Input):
    """A CSV file. Preview (``commit`` false) changes nothing; ``job_id`` lets others follow progress."""

    csv: str = Field(min_length=1, max_length=10 * 1024 * 1024)
    commit: bool = False
    job_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{8,64}$")


class ImportRowError(ApiModel):
    line: int
    field: str
    message: str


class ImportOut(ApiModel):
    kind: str
    rows: int
    creates: int
    updates: int
    unchanged: int
    committed: bool
    error_count: int
    errors: list[ImportRowError]


class JobOut(ApiModel):
    job_id: str
    phase: str
    done: int
    total: int
    updated_at: str
