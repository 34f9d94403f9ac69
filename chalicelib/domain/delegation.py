"""Delegation: an attorney lets someone (usually an assistant) view or work on their timeline.

A delegate acts through a ``DelegatedPrincipal``: the timeline's owner as subject (so every timeline rule
reads the owner's data), the delegate as actor (so the audit trail names who really did it), and exactly
the permissions the grant gives — never more than the owner has. Personal items stay the owner's alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from chalicelib.domain.errors import FieldError
from chalicelib.domain.identity import Permission, Principal

# Enough for a team's assistants and paralegals; a grant list stays one small item.
MAX_DELEGATES = 20


class Access(StrEnum):
    """How far a delegate may go: look at the timeline, or also change and release entries."""

    VIEW = "view"
    ACT = "act"


ACCESS_PERMISSIONS: dict[Access, frozenset[Permission]] = {
    Access.VIEW: frozenset({Permission.TIME_READ_OWN, Permission.MATTERS_READ}),
    Access.ACT: frozenset({Permission.TIME_READ_OWN, Permission.TIME_WRITE_OWN, Permission.MATTERS_READ}),
}


@dataclass(frozen=True)
class Grant:
    """``delegate_id`` may use ``owner_id``'s timeline with ``access``."""

    owner_id: str
    delegate_id: str
    access: Access


@dataclass(frozen=True)
class Delegates:
    """Everyone an owner has delegated to, and the version of that list (0: never set)."""

    owner_id: str
    grants: tuple[Grant, ...] = ()
    version: int = 0

    def grant_for(self, delegate_id: str) -> Grant | None:
        """The grant naming ``delegate_id``, if any."""
        return next((grant for grant in self.grants if grant.delegate_id == delegate_id), None)


@dataclass(frozen=True)
class DelegatedPrincipal(Principal):
    """A delegate working on an owner's timeline: subject is the owner, actor the delegate."""

    delegate_id: str = ""
    access: Access = Access.VIEW

    @property
    def permissions(self) -> frozenset[Permission]:
        """What the grant allows, within what the owner's own roles allow."""
        return ACCESS_PERMISSIONS[self.access] & super().permissions

    @property
    def actor(self) -> str:
        """The person who did it, as audit records name users."""
        return f"user:{self.delegate_id}"


def is_delegated(principal: Principal) -> bool:
    """Whether the caller works on someone else's timeline (and so never sees personal items)."""
    return isinstance(principal, DelegatedPrincipal)


def check_grants(owner_id: str, wanted: list[tuple[str, Access]], known_users: set[str]) -> list[FieldError]:
    """What is wrong with a new delegate list: unknown people, the owner, repeats, too many."""
    problems: list[FieldError] = []
    if len(wanted) > MAX_DELEGATES:
        problems.append(FieldError("delegates", f"at most {MAX_DELEGATES} delegates"))
    seen: set[str] = set()
    for index, (delegate_id, _) in enumerate(wanted):
        where = f"delegates[{index}].user_id"
        if delegate_id == owner_id:
            problems.append(FieldError(where, "you cannot be your own delegate"))
        elif delegate_id in seen:
            problems.append(FieldError(where, f"{delegate_id} is listed twice"))
        elif delegate_id not in known_users:
            problems.append(FieldError(where, f"{delegate_id} is not an active person in your firm"))
        seen.add(delegate_id)
    return problems
