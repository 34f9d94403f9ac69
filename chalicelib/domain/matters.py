"""Clients, matters, contacts and the firm's activity types: what time is billed to."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum

from chalicelib.domain.errors import FieldError, InvalidInput


class MatterStatus(StrEnum):
    OPEN = "open"
    PENDING = "pending"
    CLOSED = "closed"


class BillingMethod(StrEnum):
    HOURLY = "hourly"
    FLAT_FEE = "flat_fee"
    CONTINGENCY = "contingency"
    PRO_BONO = "pro_bono"


@dataclass(frozen=True)
class Client:
    """Who pays. ``external_ids`` tie it to billing systems and imports: {"clio": "77", "import": "C-1"}."""

    firm_id: str
    client_id: str
    name: str
    domains: tuple[str, ...] = ()
    external_ids: dict[str, str] = field(default_factory=dict)
    rounding_increment_seconds: int | None = None
    created_at: datetime | None = None
    version: int = 0


@dataclass(frozen=True)
class Matter:
    """A client matter (the contractor module's "case").

    ``problem_code`` is a key of the firm's legal problem code lookup (checked by the service against the
    lookup; here only its shape). With the Contractor Matter Allocations add-on it sets the case's
    default contractor allocation (``contractors.allocations``). ``languages`` are the languages the client
    speaks, free text ("Spanish"), kept as ``clean_languages`` leaves them; with ``problem_code`` they are the
    case data the recommended-contractors list inherits its default filters from."""

    firm_id: str
    matter_id: str
    number: str
    name: str
    client_id: str
    status: MatterStatus = MatterStatus.OPEN
    responsible_user_id: str | None = None
    billing_method: BillingMethod = BillingMethod.HOURLY
    utbms_required: bool = False
    rounding_increment_seconds: int | None = None
    opened_on: date | None = None
    closed_on: date | None = None
    contact_ids: tuple[str, ...] = ()
    external_ids: dict[str, str] = field(default_factory=dict)
    created_at: datetime | None = None
    problem_code: str | None = None
    languages: tuple[str, ...] = ()
    version: int = 0


@dataclass(frozen=True)
class ProblemCodeChange:
    """A case whose legal problem code was just written: created with it, or changed to it."""

    matter_id: str
    problem_code: str | None
    new_case: bool


@dataclass(frozen=True)
class Contact:
    """A person or company the firm deals with."""

    firm_id: str
    contact_id: str
    name: str
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    company: str = ""
    client_id: str | None = None
    external_ids: dict[str, str] = field(default_factory=dict)
    created_at: datetime | None = None
    version: int = 0

    @property
    def domains(self) -> tuple[str, ...]:
        return tuple(sorted({email.rsplit("@", 1)[-1] for email in self.emails if "@" in email}))


@dataclass(frozen=True)
class ActivityType:
    """A firm activity (e.g. "Draft pleading") with its UTBMS task and activity codes."""

    firm_id: str
    code: str
    name: str
    utbms_task: str | None = None
    utbms_activity: str | None = None
    billable: bool = True
    rate: str | None = None  # decimal as text; money is never a float
    external_ids: dict[str, str] = field(default_factory=dict)
    version: int = 0


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DOMAIN = re.compile(r"^(?=.{3,253}$)([a-z0-9-]+\.)+[a-z]{2,}$")
MATTER_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9./_-]{0,39}$")
# The shape of a lookup key (``contractors.lookups``): lower-case letters, digits and _.
PROBLEM_CODE = re.compile(r"^[a-z0-9][a-z0-9_]{0,63}$")
MAX_LANGUAGES = 10
MAX_LANGUAGE = 40


def clean_languages(languages: Iterable[str]) -> tuple[str, ...]:
    """Languages as a matter keeps them: trimmed, each once whatever its case (the first spelling wins).

    Blank entries are kept so ``validate_matter`` can refuse them rather than silently drop a typo."""
    seen: dict[str, str] = {}
    for language in languages:
        text = language.strip()
        seen.setdefault(text.casefold(), text)
    return tuple(seen.values())


def normalize_matter_number(number: str) -> str:
    """Matter numbers compare without case and surrounding spaces."""
    return number.strip().upper()


def validate_client(client: Client) -> None:
    problems: list[FieldError] = []
    if not client.name.strip():
        problems.append(FieldError("name", "a client needs a name"))
    for domain in client.domains:
        if not _DOMAIN.match(domain):
            problems.append(FieldError("domains", f"'{domain}' is not a domain like example.com"))
    _check_increment(client.rounding_increment_seconds, problems)
    if problems:
        raise InvalidInput("the client is not valid", field_errors=problems)


def with_status(matter: Matter, status: MatterStatus, today: date) -> Matter:
    """``matter`` in ``status``: closing keeps the day it closed (today when it had none); any other status
    reopens it, so the closing day goes. A matter never shows a closing day while it is open."""
    if status is MatterStatus.CLOSED:
        return replace(matter, status=status, closed_on=matter.closed_on or today)
    return replace(matter, status=status, closed_on=None)


def validate_matter(matter: Matter) -> None:
    problems: list[FieldError] = []
    if not MATTER_NUMBER.match(matter.number):
        problems.append(
            FieldError("number", f"'{matter.number}' is not a matter number (letters, digits, . / _ -)")
        )
    if not matter.name.strip():
        problems.append(FieldError("name", "a matter needs a name"))
    if matter.closed_on and matter.opened_on and matter.closed_on < matter.opened_on:
        problems.append(FieldError("closed_on", "a matter cannot close before it opened"))
    if matter.closed_on and matter.status is not MatterStatus.CLOSED:
        problems.append(
            FieldError(
                "closed_on", f"a {matter.status.value} matter has no closing day: close it, or leave it out"
            )
        )
    if matter.problem_code is not None and not PROBLEM_CODE.match(matter.problem_code):
        problems.append(
            FieldError("problem_code", f"'{matter.problem_code}' is not a legal problem code key")
        )
    _check_languages(matter.languages, problems)
    _check_increment(matter.rounding_increment_seconds, problems)
    if problems:
        raise InvalidInput("the matter is not valid", field_errors=problems)


def validate_contact(contact: Contact) -> None:
    problems: list[FieldError] = []
    if not contact.name.strip():
        problems.append(FieldError("name", "a contact needs a name"))
    for email in contact.emails:
        if not _EMAIL.match(email):
            problems.append(FieldError("emails", f"'{email}' is not an email address"))
    if problems:
        raise InvalidInput("the contact is not valid", field_errors=problems)


def _check_languages(languages: tuple[str, ...], problems: list[FieldError]) -> None:
    if len(languages) > MAX_LANGUAGES:
        problems.append(FieldError("languages", f"at most {MAX_LANGUAGES} languages"))
    for language in languages:
        if not language.strip() or len(language) > MAX_LANGUAGE or language != language.strip():
            problems.append(
                FieldError("languages", f"'{language}' is not a language: 1 to {MAX_LANGUAGE} characters")
            )


def _check_increment(seconds: int | None, problems: list[FieldError]) -> None:
    if seconds is not None and not 1 <= seconds <= 3600:
        problems.append(FieldError("rounding_increment_seconds", "must be between 1 and 3600 seconds"))
