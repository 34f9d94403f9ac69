"""Request and response models of the public API (pydantic v2). Inputs forbid unknown fields."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from chalicelib.domain.api_tokens import ApiToken
from chalicelib.domain.audit import AuditRecord
from chalicelib.domain.identity import Permission, Principal, Role
from chalicelib.domain.roster import Firm, User, UserStatus


class ApiModel(BaseModel):
    """Base of every API model. Validators are built on first use, not at import: importing the API is
    a Lambda cold start, and most invocations touch two or three models."""

    model_config = ConfigDict(defer_build=True)


class Input(ApiModel):
    """Base of request bodies: unknown fields are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)


class Health(ApiModel):
    status: str = "ok"


class PageQuery(Input):
    cursor: str | None = Field(default=None, max_length=2048)
    limit: int = Field(default=50, ge=1, le=200)


class UserOut(ApiModel):
    user_id: str
    email: str
    display_name: str
    roles: list[Role]
    status: UserStatus
    time_zone: str | None
    external_ids: dict[str, str]
    phone_extensions: list[str]
    timekeeper_class: str | None = None
    hourly_rate: str | None = None
    version: int

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            user_id=user.user_id,
            email=user.email,
            display_name=user.display_name,
            roles=sorted(user.roles),
            status=user.status,
            time_zone=user.time_zone,
            external_ids=user.external_ids,
            phone_extensions=list(user.phone_extensions),
            timekeeper_class=user.timekeeper_class,
            hourly_rate=user.hourly_rate,
            version=user.version,
        )


class UserPage(ApiModel):
    items: list[UserOut]
    next_cursor: str | None


class FirmOut(ApiModel):
    firm_id: str
    name: str
    time_zone: str

    @classmethod
    def of(cls, firm: Firm) -> FirmOut:
        return cls(firm_id=firm.firm_id, name=firm.name, time_zone=firm.time_zone)


class ContractorSelfOut(ApiModel):
    """Who a contractor user is in the contractor module (they see only their own records)."""

    kind: str
    contractor_id: str


class MeOut(ApiModel):
    """The signed-in person, their firm, and what they may do."""

    user: UserOut
    firm: FirmOut
    permissions: list[Permission]
    contractor_permissions: list[str] = Field(
        description="the contractor module permissions the firm gives the caller's roles (e.g. "
        "'contractor:invoice-verify'); empty when none"
    )
    contractor: ContractorSelfOut | None = Field(
        description="set for a contractor user: the contractor they are, whose records alone they see"
    )

    @classmethod
    def of(
        cls,
        user: User,
        firm: Firm,
        principal: Principal,
        contractor_permissions: Iterable[str] = (),
        contractor: tuple[str, str] | None = None,
    ) -> MeOut:
        """``contractor``: (kind, contractor id) of a contractor user."""
        return cls(
            user=UserOut.of(user),
            firm=FirmOut.of(firm),
            permissions=sorted(principal.permissions),
            contractor_permissions=sorted(contractor_permissions),
            contractor=ContractorSelfOut(kind=contractor[0], contractor_id=contractor[1])
            if contractor
            else None,
        )


Email = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class InviteUser(Input):
    email: str = Email
    display_name: str = Field(min_length=1, max_length=200)
    roles: list[Role] = Field(min_length=1)
    time_zone: str | None = Field(default=None, max_length=64)
    external_ids: dict[str, str] = Field(default_factory=dict)
    phone_extensions: list[str] = Field(default_factory=list, max_length=10)
    timekeeper_class: str | None = Field(default=None, description="LEDES: PT, AS, OC, LA or OT")
    hourly_rate: str | None = Field(default=None, max_length=12, description="decimal, e.g. 350.00")


class UpdateUser(Input):
    """Send ``version`` as read; the change is refused (409) if someone changed the user since."""

    version: int = Field(ge=1)
    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    roles: list[Role] | None = Field(default=None, min_length=1)
    status: UserStatus | None = None
    time_zone: str | None = Field(default=None, max_length=64)
    external_ids: dict[str, str] | None = None
    phone_extensions: list[str] | None = Field(default=None, max_length=10)
    timekeeper_class: str | None = Field(default=None, description="LEDES: PT, AS, OC, LA or OT")
    hourly_rate: str | None = Field(default=None, max_length=12, description="decimal, e.g. 350.00")


class CreateApiToken(Input):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[Permission] = Field(min_length=1)
    expires_at: AwareDatetime | None = None


class ApiTokenOut(ApiModel):
    token_id: str
    name: str
    scopes: list[Permission]
    status: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, token: ApiToken) -> ApiTokenOut:
        return cls(
            token_id=token.token_id,
            name=token.name,
            scopes=sorted(token.scopes),
            status=token.status.value,
            created_by=token.created_by,
            created_at=token.created_at,
            expires_at=token.expires_at,
            revoked_at=token.revoked_at,
            last_used_at=token.last_used_at,
        )


class IssuedApiToken(ApiModel):
    """The secret appears here once; store it now, it cannot be shown again."""

    token: ApiTokenOut
    secret: str


class AuditOut(ApiModel):
    record_id: str
    entity_type: str
    entity_id: str
    action: str
    actor: str
    at: datetime
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    @classmethod
    def of(cls, record: AuditRecord) -> AuditOut:
        return cls(
            record_id=record.record_id,
            entity_type=record.entity_type,
            entity_id=record.entity_id,
            action=record.action,
            actor=record.actor,
            at=record.at,
            before=record.before,
            after=record.after,
        )


class AuditPage(ApiModel):
    items: list[AuditOut]
    next_cursor: str | None
