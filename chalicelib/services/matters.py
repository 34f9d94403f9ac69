"""Clients, matters, contacts and activity types: create, edit, close, search.

A matter's legal problem code is checked against the firm's legal problem code lookup, and a created case
or a changed code is reported to the ``CaseProblemCodes`` port (the contractor module's matter allocation
follows it). The matter is written first and the port called after: the port's work is idempotent, so a
retried request brings a missed allocation in line (see ``services.contractors.cases`` for why this is not
one transaction).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import Any

from chalicelib.domain.errors import Conflict, FieldError, InvalidInput, NotFound, StaleVersion
from chalicelib.domain.identity import Permission, Principal
from chalicelib.domain.matters import (
    ActivityType,
    Client,
    Contact,
    Matter,
    MatterStatus,
    ProblemCodeChange,
    clean_languages,
    validate_client,
    validate_contact,
    validate_matter,
    with_status,
)
from chalicelib.domain.utbms import is_activity, is_billable_task
from chalicelib.ports import CaseProblemCodes, Clock, MatterRepository, Page


def _new_id() -> str:
    return uuid.uuid4().hex[:16]


class NoProblemCodes:
    """``CaseProblemCodes`` for a firm setup without the lookup: no code is valid, nothing follows."""

    def active_codes(self, firm_id: str) -> frozenset[str]:
        """No codes at all."""
        return frozenset()

    def cases_changed(self, firm_id: str, changes: Sequence[ProblemCodeChange], actor: str) -> None:
        """Nothing follows a problem code here."""


class MatterService:
    """Use cases on what time is billed to."""

    def __init__(
        self, repository: MatterRepository, clock: Clock, problem_codes: CaseProblemCodes | None = None
    ) -> None:
        self._repo = repository
        self._clock = clock
        self._problem_codes: CaseProblemCodes = problem_codes or NoProblemCodes()

    def _require_problem_code(self, firm_id: str, code: str | None) -> None:
        """A code being set must be an active value of the firm's legal problem code lookup."""
        if code is None:
            return
        if code not in self._problem_codes.active_codes(firm_id):
            message = f"'{code}' is not an active legal problem code; an admin adds them in the lookups"
            raise InvalidInput(message, field_errors=[FieldError("problem_code", message)])

    # clients

    def create_client(self, principal: Principal, **fields: Any) -> Client:
        principal.require(Permission.MATTERS_WRITE)
        client = Client(
            firm_id=principal.firm_id, client_id=_new_id(), created_at=self._clock.now(), **fields
        )
        validate_client(client)
        return self._repo.clients.add(client, principal.actor)

    def update_client(self, principal: Principal, client_id: str, version: int, **changes: Any) -> Client:
        principal.require(Permission.MATTERS_WRITE)
        client = _versioned(self.client(principal, client_id), version)
        updated = replace(client, **changes)
        validate_client(updated)
        return self._repo.clients.update(updated, principal.actor)

    def client(self, principal: Principal, client_id: str) -> Client:
        principal.require(Permission.MATTERS_READ)
        client = self._repo.client(principal.firm_id, client_id)
        if client is None:
            raise NotFound("there is no such client in your firm")
        return client

    def clients(self, principal: Principal, name: str | None, cursor: str | None, limit: int) -> Page[Client]:
        """All clients, or those whose name starts with ``name``."""
        principal.require(Permission.MATTERS_READ)
        if name:
            return self._repo.clients_named(principal.firm_id, name, cursor, limit)
        return self._repo.list_clients(principal.firm_id, cursor, limit)

    # matters

    def create_matter(self, principal: Principal, **fields: Any) -> Matter:
        principal.require(Permission.MATTERS_WRITE)
        self.client(principal, fields["client_id"])  # the client must exist in this firm
        matter = Matter(
            firm_id=principal.firm_id,
            matter_id=_new_id(),
            created_at=self._clock.now(),
            **_cleaned(fields),
        )
        validate_matter(matter)
        self._require_problem_code(principal.firm_id, matter.problem_code)
        created = self._repo.matters.add(matter, principal.actor)
        if created.problem_code is not None:
            self._problem_codes.cases_changed(
                principal.firm_id,
                [ProblemCodeChange(created.matter_id, created.problem_code, new_case=True)],
                principal.actor,
            )
        return created

    def update_matter(self, principal: Principal, matter_id: str, version: int, **changes: Any) -> Matter:
        """Change a matter. Whenever the change names a problem code (even the one the matter has), the
        contractor allocation is brought in line, which also finishes a change a crash left half done."""
        principal.require(Permission.MATTERS_WRITE)
        matter = _versioned(self.matter(principal, matter_id), version)
        if "client_id" in changes:
            self.client(principal, changes["client_id"])
        cleaned = _cleaned(changes)
        status = cleaned.pop("status", matter.status)
        updated = with_status(replace(matter, **cleaned), status, self._clock.now().date())
        validate_matter(updated)
        if updated.problem_code != matter.problem_code:
            self._require_problem_code(principal.firm_id, updated.problem_code)
        saved = self._repo.matters.update(updated, principal.actor, _status_action(matter, updated))
        if "problem_code" in changes:
            self._problem_codes.cases_changed(
                principal.firm_id,
                [ProblemCodeChange(matter_id, saved.problem_code, new_case=False)],
                principal.actor,
            )
        return saved

    def close_matter(
        self, principal: Principal, matter_id: str, version: int, closed_on: date | None
    ) -> Matter:
        """Close a matter: it is no longer offered for new time unless the firm shows closed cases."""
        principal.require(Permission.MATTERS_WRITE)
        matter = _versioned(self.matter(principal, matter_id), version)
        if matter.status is MatterStatus.CLOSED:
            raise Conflict("the matter is already closed")
        closed = with_status(
            replace(matter, closed_on=closed_on), MatterStatus.CLOSED, self._clock.now().date()
        )
        validate_matter(closed)
        return self._repo.matters.update(closed, principal.actor, "close")

    def matter(self, principal: Principal, matter_id: str) -> Matter:
        principal.require(Permission.MATTERS_READ)
        matter = self._repo.matter(principal.firm_id, matter_id)
        if matter is None:
            raise NotFound("there is no such matter in your firm")
        return matter

    def search_matters(
        self,
        principal: Principal,
        *,
        number: str | None,
        name: str | None,
        client_id: str | None,
        include_closed: bool,
        cursor: str | None,
        limit: int,
    ) -> Page[Matter]:
        """Matters by number prefix, name prefix or client; closed ones only when asked."""
        principal.require(Permission.MATTERS_READ)
        if sum(value is not None for value in (number, name, client_id)) > 1:
            raise InvalidInput(
                "search by one of number, name or client_id", field_errors=[FieldError("query", "one")]
            )
        page = self._repo.search_matters(
            principal.firm_id,
            number_prefix=number,
            name_prefix=name,
            client_id=client_id,
            cursor=cursor,
            limit=limit,
        )
        if include_closed:
            return page
        return Page([m for m in page.items if m.status is not MatterStatus.CLOSED], page.next_cursor)

    # contacts

    def create_contact(self, principal: Principal, **fields: Any) -> Contact:
        principal.require(Permission.MATTERS_WRITE)
        if fields.get("client_id"):
            self.client(principal, fields["client_id"])
        contact = Contact(
            firm_id=principal.firm_id, contact_id=_new_id(), created_at=self._clock.now(), **fields
        )
        validate_contact(contact)
        return self._repo.contacts.add(contact, principal.actor)

    def update_contact(self, principal: Principal, contact_id: str, version: int, **changes: Any) -> Contact:
        principal.require(Permission.MATTERS_WRITE)
        contact = _versioned(self.contact(principal, contact_id), version)
        if changes.get("client_id"):
            self.client(principal, changes["client_id"])
        updated = replace(contact, **changes)
        validate_contact(updated)
        return self._repo.contacts.update(updated, principal.actor)

    def contact(self, principal: Principal, contact_id: str) -> Contact:
        principal.require(Permission.MATTERS_READ)
        contact = self._repo.contact(principal.firm_id, contact_id)
        if contact is None:
            raise NotFound("there is no such contact in your firm")
        return contact

    def contacts(
        self, principal: Principal, name: str | None, email: str | None, cursor: str | None, limit: int
    ) -> Page[Contact]:
        """All contacts, those whose name starts with ``name``, or the one with ``email``."""
        principal.require(Permission.MATTERS_READ)
        if email:
            found = self._repo.contact_by_email(principal.firm_id, email)
            return Page([found] if found else [], None)
        if name:
            return self._repo.contacts_named(principal.firm_id, name, cursor, limit)
        return self._repo.list_contacts(principal.firm_id, cursor, limit)

    # activity types

    def activity_types(self, principal: Principal) -> list[ActivityType]:
        principal.require(Permission.MATTERS_READ)
        return self._repo.list_activity_types(principal.firm_id)

    def put_activity_type(self, principal: Principal, activity: ActivityType) -> ActivityType:
        """Create or change a firm activity type; UTBMS codes must come from the ABA code set."""
        principal.require(Permission.MATTERS_WRITE)
        problems: list[FieldError] = []
        if activity.utbms_task and not is_billable_task(activity.utbms_task):
            problems.append(
                FieldError("utbms_task", f"'{activity.utbms_task}' is not a UTBMS task code (L110 to L530)")
            )
        if activity.utbms_activity and not is_activity(activity.utbms_activity):
            problems.append(
                FieldError("utbms_activity", f"'{activity.utbms_activity}' is not one of A101 to A111")
            )
        if problems:
            raise InvalidInput("the activity type is not valid", field_errors=problems)
        activity = replace(activity, firm_id=principal.firm_id)
        existing = {a.code: a for a in self._repo.list_activity_types(principal.firm_id)}
        if activity.code not in existing:
            return self._repo.activities.add(replace(activity, version=0), principal.actor)
        _versioned(existing[activity.code], activity.version)
        # Links made by a billing-system sync stay unless the change names them.
        merged = {**existing[activity.code].external_ids, **activity.external_ids}
        return self._repo.activities.update(replace(activity, external_ids=merged), principal.actor)


def _cleaned(fields: dict[str, Any]) -> dict[str, Any]:
    """Matter fields with the client's languages trimmed and each listed once (whatever its case)."""
    if "languages" not in fields:
        return fields
    return {**fields, "languages": clean_languages(fields["languages"] or ())}


def _versioned(entity: Any, version: int) -> Any:
    """The entity, if it is still at the version the caller read."""
    if entity.version != version:
        kind = type(entity).__name__.lower()
        raise StaleVersion(kind, getattr(entity, f"{kind}_id", getattr(entity, "code", "")))
    return entity


def _status_action(before: Matter, after: Matter) -> str:
    """The audit action of a change: closing and reopening read as such, anything else as an update."""
    was_closed, is_closed = before.status is MatterStatus.CLOSED, after.status is MatterStatus.CLOSED
    if was_closed == is_closed:
        return "update"
    return "close" if is_closed else "reopen"
