"""Delegates: who may view or work on my timeline, and acting for someone who granted it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chalicelib.domain.delegation import (
    Access,
    DelegatedPrincipal,
    Delegates,
    Grant,
    check_grants,
)
from chalicelib.domain.errors import FieldError, Forbidden, InvalidInput, NotFound, StaleVersion
from chalicelib.domain.identity import Permission, Principal
from chalicelib.domain.roster import User, UserStatus, normalize_email
from chalicelib.ports import DelegateRepository, UserRepository


@dataclass(frozen=True)
class DelegationView:
    """My delegates (with who they are) and the people who made me their delegate."""

    delegates: Delegates
    people: dict[str, User]
    acting_for: list[Grant]


@dataclass(frozen=True)
class DelegateChoice:
    """One person on the caller's delegate list, by ``user_id`` or by ``email`` (exactly one)."""

    access: Access
    user_id: str | None = None
    email: str | None = None


class DelegateService:
    """Use cases of delegation. Every check happens here, on every request: revoking is immediate."""

    def __init__(self, delegates: DelegateRepository, users: UserRepository) -> None:
        self._delegates = delegates
        self._users = users

    def mine(self, principal: Principal) -> DelegationView:
        """The caller's delegates and whose timelines the caller may open."""
        self._require_person(principal)
        current = self._delegates.delegates_of(principal.firm_id, principal.subject_id)
        acting_for = self._delegates.grants_to(principal.firm_id, principal.subject_id)
        return self._view(principal.firm_id, current, acting_for)

    def set_mine(
        self, principal: Principal, wanted: Sequence[DelegateChoice], version: int
    ) -> DelegationView:
        """Replace the caller's delegate list; 409 if it changed since ``version`` was read.

        Each person is named by user id or by email: attorneys, who grant delegation, cannot read the
        roster to learn anyone's user id.
        """
        self._require_person(principal)
        principal.require(Permission.TIME_READ_OWN)
        current = self._delegates.delegates_of(principal.firm_id, principal.subject_id)
        if current.version != version:
            raise StaleVersion("delegates", principal.subject_id)
        by_email = {index for index, choice in enumerate(wanted) if choice.email is not None}
        resolved = [(self._user_id_of(principal.firm_id, choice), choice.access) for choice in wanted]
        known = {
            delegate_id
            for delegate_id, _ in resolved
            if (user := self._users.get(principal.firm_id, delegate_id)) is not None
            and user.status is not UserStatus.DISABLED
        }
        # Each problem names the field the caller sent: an email that matches nobody is the email's fault.
        sent_as = {f"delegates[{index}].user_id": f"delegates[{index}].email" for index in by_email}
        problems = [
            FieldError(sent_as.get(p.field, p.field), p.message)
            for p in check_grants(principal.subject_id, resolved, known)
        ]
        if problems:
            raise InvalidInput("the delegate list cannot be saved", field_errors=problems)
        grants = tuple(Grant(principal.subject_id, d, access) for d, access in resolved)
        if grants == current.grants:
            saved = current  # sending the same list again changes nothing, not even the version
        else:
            saved = self._delegates.save(
                principal.firm_id,
                Delegates(owner_id=principal.subject_id, grants=grants, version=version),
                principal.actor,
            )
        acting_for = self._delegates.grants_to(principal.firm_id, principal.subject_id)
        return self._view(principal.firm_id, saved, acting_for)

    def acting(self, principal: Principal, user_id: str | None) -> Principal:
        """The principal to use on ``user_id``'s timeline: the caller on their own, else a delegate.

        Raises ``Forbidden`` unless ``user_id`` has made the caller a delegate, and ``NotFound`` if there
        is no such person in the caller's firm.
        """
        if user_id is None or user_id == principal.subject_id:
            return principal
        self._require_person(principal)
        owner = self._users.get(principal.firm_id, user_id)
        if owner is None:
            raise NotFound("there is no such user in your firm")
        grant = self._delegates.delegates_of(principal.firm_id, user_id).grant_for(principal.subject_id)
        if grant is None:
            raise Forbidden(f"{owner.display_name} has not made you a delegate")
        return DelegatedPrincipal(
            firm_id=principal.firm_id,
            subject_id=owner.user_id,
            kind="user",
            roles=owner.roles,
            delegate_id=principal.subject_id,
            access=grant.access,
        )

    def _user_id_of(self, firm_id: str, choice: DelegateChoice) -> str:
        if choice.email is None:
            return choice.user_id or ""
        # Nobody with that email: keep the email, which then fails the roster check naming it.
        user = self._users.get_by_email(firm_id, normalize_email(choice.email))
        return user.user_id if user else choice.email

    @staticmethod
    def _require_person(principal: Principal) -> None:
        # Tokens belong to systems, and a delegate cannot pass their delegation on.
        if principal.kind != "user" or isinstance(principal, DelegatedPrincipal):
            raise Forbidden("only a signed-in person has delegates")

    def _view(self, firm_id: str, delegates: Delegates, acting_for: list[Grant]) -> DelegationView:
        ids = {g.delegate_id for g in delegates.grants} | {g.owner_id for g in acting_for}
        people = {uid: user for uid in ids if (user := self._users.get(firm_id, uid)) is not None}
        return DelegationView(delegates=delegates, people=people, acting_for=acting_for)
