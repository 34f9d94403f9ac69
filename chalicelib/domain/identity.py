"""Who is calling and what they may do: roles, permissions, API token scopes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from chalicelib.domain.errors import Forbidden


class Role(StrEnum):
    """The roles a firm's users hold (a user may hold several)."""

    ATTORNEY = "attorney"
    ASSISTANT = "assistant"
    FIRM_ADMIN = "firm_admin"
    BILLING_MANAGER = "billing_manager"
    CONTRACTOR = "contractor"
    CONTRACTOR_STAFF = "contractor_staff"


class Permission(StrEnum):
    """Firm-level permissions. API tokens are scoped to a subset of these."""

    ROSTER_READ = "roster:read"
    ROSTER_WRITE = "roster:write"
    TOKENS_MANAGE = "tokens:manage"
    AUDIT_READ = "audit:read"
    TIME_READ_OWN = "time:read-own"
    TIME_WRITE_OWN = "time:write-own"
    MATTERS_READ = "matters:read"
    MATTERS_WRITE = "matters:write"
    BILLING_EXPORT = "billing:export"
    # Connect or disconnect a billing system and change its properties: firm admins only.
    BILLING_CONNECT = "billing:connect"


# What each role may do. Contractor permissions (verify, approve, ...) come with the contractor module.
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ATTORNEY: frozenset({Permission.TIME_READ_OWN, Permission.TIME_WRITE_OWN, Permission.MATTERS_READ}),
    Role.ASSISTANT: frozenset({Permission.MATTERS_READ, Permission.ROSTER_READ}),
    Role.FIRM_ADMIN: frozenset(Permission),
    Role.BILLING_MANAGER: frozenset(
        {
            Permission.MATTERS_READ,
            Permission.MATTERS_WRITE,
            Permission.BILLING_EXPORT,
            Permission.ROSTER_READ,
            Permission.AUDIT_READ,
        }
    ),
    Role.CONTRACTOR: frozenset(),
    Role.CONTRACTOR_STAFF: frozenset({Permission.MATTERS_READ}),
}

# Scopes an API token may carry: what a billing system or firm IT needs, never a person's own timeline.
API_TOKEN_SCOPES: frozenset[Permission] = frozenset(
    {
        Permission.ROSTER_READ,
        Permission.ROSTER_WRITE,
        Permission.AUDIT_READ,
        Permission.MATTERS_READ,
        Permission.MATTERS_WRITE,
        Permission.BILLING_EXPORT,
    }
)


def permissions_for(roles: frozenset[Role]) -> frozenset[Permission]:
    """The union of what the given roles allow."""
    granted: set[Permission] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS[role]
    return frozenset(granted)


@dataclass(frozen=True)
class Principal:
    """A verified caller: a firm's user (signed in with Entra ID) or an API token."""

    firm_id: str
    subject_id: str
    kind: str  # "user" | "api_token"
    roles: frozenset[Role] = field(default_factory=frozenset)
    scopes: frozenset[Permission] = field(default_factory=frozenset)
    email: str | None = None

    @property
    def permissions(self) -> frozenset[Permission]:
        """Roles' permissions for a user; exactly the granted scopes for an API token."""
        if self.kind == "api_token":
            return self.scopes
        return permissions_for(self.roles)

    @property
    def actor(self) -> str:
        """How this caller is named in audit records."""
        return f"{self.kind}:{self.subject_id}"

    def can(self, permission: Permission) -> bool:
        """Whether the caller holds the permission."""
        return permission in self.permissions

    def require(self, permission: Permission) -> None:
        """Raise ``Forbidden`` unless the caller holds the permission."""
        if not self.can(permission):
            raise Forbidden(f"this needs the '{permission.value}' permission, which you do not have")


SYSTEM_ACTOR = "system"
