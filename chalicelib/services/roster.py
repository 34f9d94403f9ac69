"""Firms and their rosters: create a firm, invite and edit users, read who I am."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from chalicelib.domain.errors import FieldError, Forbidden, InvalidInput, NotFound, StaleVersion
from chalicelib.domain.identity import Permission, Principal, Role
from chalicelib.domain.roster import (
    Firm,
    User,
    UserStatus,
    normalize_email,
    validate_time_zone,
    validate_user,
)
from chalicelib.ports import Clock, FirmRepository, Page, UserRepository


@dataclass(frozen=True)
class UserChanges:
    """Fields an admin may change; None leaves a field as it is."""

    display_name: str | None = None
    roles: frozenset[Role] | None = None
    status: UserStatus | None = None
    time_zone: str | None = None
    external_ids: dict[str, str] | None = None
    phone_extensions: tuple[str, ...] | None = None
    timekeeper_class: str | None = None
    hourly_rate: str | None = None


class RosterService:
    """Use cases on firms and users."""

    def __init__(self, firms: FirmRepository, users: UserRepository, clock: Clock) -> None:
        self._firms = firms
        self._users = users
        self._clock = clock

    def create_firm(self, *, name: str, tenant_id: str, time_zone: str, actor: str) -> Firm:
        """Register a firm for a Microsoft 365 tenant (done by Matterline operations, not by a firm)."""
        if not validate_time_zone(time_zone):
            raise InvalidInput(
                "the firm is not valid", field_errors=[FieldError("time_zone", "not an IANA zone")]
            )
        firm = Firm(
            firm_id=uuid.uuid4().hex[:16],
            name=name.strip(),
            tenant_id=tenant_id,
            time_zone=time_zone,
            created_at=self._clock.now(),
        )
        return self._firms.add(firm, actor)

    def firm_for_tenant(self, tenant_id: str) -> Firm | None:
        """The firm registered for a Microsoft 365 tenant, if any (operations and onboarding)."""
        return self._firms.get_by_tenant(tenant_id)

    def member(self, firm_id: str, user_id: str) -> User | None:
        """A roster entry by id, for system work (schedules, the devstack) that acts without a caller."""
        return self._users.get(firm_id, user_id)

    def firm_of(self, principal: Principal) -> Firm:
        """The caller's firm."""
        firm = self._firms.get(principal.firm_id)
        if firm is None:
            raise NotFound("your firm no longer exists")
        return firm

    def me(self, principal: Principal) -> User:
        """The signed-in user's own record."""
        if principal.kind != "user":
            raise NotFound("an API token is not a person; /me is for signed-in users")
        user = self._users.get(principal.firm_id, principal.subject_id)
        if user is None:
            raise NotFound("your user record no longer exists")
        return user

    def invite(
        self,
        principal: Principal,
        *,
        email: str,
        display_name: str,
        roles: frozenset[Role],
        time_zone: str | None = None,
        external_ids: dict[str, str] | None = None,
        phone_extensions: tuple[str, ...] = (),
        timekeeper_class: str | None = None,
        hourly_rate: str | None = None,
    ) -> User:
        """Add a person to the roster; they become active at their first sign-in."""
        principal.require(Permission.ROSTER_WRITE)
        self._guard_admin_grant(principal, roles)
        user = User(
            firm_id=principal.firm_id,
            user_id=uuid.uuid4().hex[:16],
            email=normalize_email(email),
            display_name=display_name.strip(),
            roles=roles,
            status=UserStatus.INVITED,
            time_zone=time_zone,
            external_ids=dict(external_ids or {}),
            phone_extensions=phone_extensions,
            timekeeper_class=timekeeper_class,
            hourly_rate=hourly_rate,
            created_at=self._clock.now(),
        )
        validate_user(user)
        return self._users.add(user, principal.actor)

    def add_member(self, firm_id: str, user: User, actor: str) -> User:
        """Seed or import a roster entry without a signed-in principal (devstack, firm onboarding)."""
        validate_user(user)
        if user.firm_id != firm_id:
            raise Forbidden("a user can only be added to their own firm")
        return self._users.add(user, actor)

    def get(self, principal: Principal, user_id: str) -> User:
        """One roster entry of the caller's firm."""
        if user_id != principal.subject_id:
            principal.require(Permission.ROSTER_READ)
        user = self._users.get(principal.firm_id, user_id)
        if user is None:
            raise NotFound("there is no such user in your firm")
        return user

    def list(self, principal: Principal, cursor: str | None, limit: int) -> Page[User]:
        """The caller's firm's roster, a page at a time."""
        principal.require(Permission.ROSTER_READ)
        return self._users.list(principal.firm_id, cursor=cursor, limit=limit)

    def update(self, principal: Principal, user_id: str, expected_version: int, changes: UserChanges) -> User:
        """Change a roster entry, if nobody else changed it since ``expected_version``."""
        principal.require(Permission.ROSTER_WRITE)
        current = self._users.get(principal.firm_id, user_id)
        if current is None:
            raise NotFound("there is no such user in your firm")
        if current.version != expected_version:
            raise StaleVersion("user", user_id)
        if changes.roles is not None:
            self._guard_admin_grant(principal, changes.roles ^ current.roles)
            if principal.subject_id == user_id and Role.FIRM_ADMIN not in changes.roles:
                raise Forbidden("you cannot remove your own firm admin role; ask another admin")
        updates = {name: value for name, value in vars(changes).items() if value is not None}
        if not updates:
            return current
        return self._users.update(current.with_changes(**updates), principal.actor)

    @staticmethod
    def _guard_admin_grant(principal: Principal, roles: frozenset[Role]) -> None:
        # Only a firm admin in person may hand out (or take away) the firm admin role; an API token
        # with roster:write must not be able to mint administrators.
        if Role.FIRM_ADMIN in roles and (principal.kind != "user" or Role.FIRM_ADMIN not in principal.roles):
            raise Forbidden("only a firm admin can grant or remove the firm admin role")
