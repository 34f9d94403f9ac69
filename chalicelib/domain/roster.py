"""Firms and their people: the roster every other capability hangs off."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.domain.errors import FieldError, InvalidInput
from chalicelib.domain.identity import Role

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_RATE = re.compile(r"^\d{1,6}(\.\d{1,2})?$")
# LEDES 1998B timekeeper classifications: partner, associate, of counsel, legal assistant, other.
TIMEKEEPER_CLASSES = ("PT", "AS", "OC", "LA", "OT")


class UserStatus(StrEnum):
    """Invited users become active when they first sign in; disabled users cannot sign in."""

    INVITED = "invited"
    ACTIVE = "active"
    DISABLED = "disabled"


@dataclass(frozen=True)
class Firm:
    """A law firm: one Microsoft 365 tenant, one roster, one set of matters."""

    firm_id: str
    name: str
    tenant_id: str
    time_zone: str = "America/New_York"
    created_at: datetime | None = None
    version: int = 0


@dataclass(frozen=True)
class User:
    """A person in a firm's roster."""

    firm_id: str
    user_id: str
    email: str
    display_name: str
    roles: frozenset[Role]
    status: UserStatus = UserStatus.INVITED
    time_zone: str | None = None
    # Ids of this person in other systems: {"clio": "344", "actionstep": "12", "payroll": "E-77"}.
    external_ids: dict[str, str] = field(default_factory=dict)
    phone_extensions: tuple[str, ...] = ()
    # As a timekeeper on bills: LEDES classification (PT, AS, OC, LA, OT) and hourly rate (decimal text).
    timekeeper_class: str | None = None
    hourly_rate: str | None = None
    # The Entra ID object id, bound at first sign-in.
    identity_oid: str | None = None
    created_at: datetime | None = None
    version: int = 0

    def with_changes(self, **changes: object) -> User:
        """A copy with the given fields changed, validated."""
        updated = replace(self, **changes)  # type: ignore[arg-type]
        validate_user(updated)
        return updated


def normalize_email(email: str) -> str:
    """Emails compare case-insensitively and without surrounding spaces."""
    return email.strip().lower()


def validate_time_zone(name: str) -> bool:
    """Whether ``name`` is an IANA time zone this machine knows."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def validate_user(user: User) -> None:
    """Raise ``InvalidInput`` naming every field that breaks a roster rule."""
    problems: list[FieldError] = []
    if not _EMAIL.match(user.email):
        problems.append(FieldError("email", f"'{user.email}' is not an email address"))
    if not user.display_name.strip():
        problems.append(FieldError("display_name", "a name is required"))
    if not user.roles:
        problems.append(FieldError("roles", "a user needs at least one role"))
    if user.time_zone is not None and not validate_time_zone(user.time_zone):
        problems.append(FieldError("time_zone", f"'{user.time_zone}' is not an IANA time zone"))
    for extension in user.phone_extensions:
        if not extension.isdigit() or not 2 <= len(extension) <= 8:
            problems.append(FieldError("phone_extensions", f"'{extension}' is not a 2-8 digit extension"))
    if user.timekeeper_class is not None and user.timekeeper_class not in TIMEKEEPER_CLASSES:
        problems.append(
            FieldError(
                "timekeeper_class", f"must be one of {', '.join(TIMEKEEPER_CLASSES)} (LEDES classification)"
            )
        )
    if user.hourly_rate is not None and not _RATE.match(user.hourly_rate):
        problems.append(FieldError("hourly_rate", f"'{user.hourly_rate}' is not an amount like 350.00"))
    for system, external_id in user.external_ids.items():
        if not system or not external_id.strip():
            problems.append(FieldError("external_ids", f"external id for '{system}' is empty"))
    if problems:
        raise InvalidInput("the user record is not valid", field_errors=problems)
