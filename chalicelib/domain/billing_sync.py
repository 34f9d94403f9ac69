"""What a sync from a billing system changes in the firm's records (pure; the service writes the plan).

Records are matched first by the system's id (``external_ids[system]``), then by what people would
recognise — matter number, client name, contact email, user email, activity name — and then linked,
so a firm that imported its matters from a CSV before connecting Clio gets links, not duplicates.
Closed matters are created only when the connection's ``SHOW_CLOSED_CASES`` is on, but a linked
matter that closed in the billing system always closes here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeVar

from chalicelib.domain.billing import RemoteActivityType, RemoteContact, RemoteMatter, RemoteUser
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.imports import ExistingRecords
from chalicelib.domain.matters import (
    ActivityType,
    Client,
    Contact,
    Matter,
    MatterStatus,
    normalize_matter_number,
    validate_client,
    validate_contact,
    validate_matter,
    with_status,
)
from chalicelib.domain.roster import User, normalize_email


@dataclass
class SyncPlan:
    """Creates and updates per kind, plus what could not be taken and why."""

    clients: tuple[list[Client], list[Client]] = field(default_factory=lambda: ([], []))
    matters: tuple[list[Matter], list[Matter]] = field(default_factory=lambda: ([], []))
    contacts: tuple[list[Contact], list[Contact]] = field(default_factory=lambda: ([], []))
    activity_types: tuple[list[ActivityType], list[ActivityType]] = field(default_factory=lambda: ([], []))
    users: list[User] = field(default_factory=list)
    unmatched_users: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        """Counts for the connection's status line and the CLI."""
        counts: dict[str, int] = {}
        for kind in ("clients", "matters", "contacts", "activity_types"):
            creates, updates = getattr(self, kind)
            counts[f"{kind}_created"] = len(creates)
            counts[f"{kind}_updated"] = len(updates)
        counts["users_linked"] = len(self.users)
        counts["users_unmatched"] = len(self.unmatched_users)
        counts["skipped"] = len(self.skipped)
        return counts


_STATUS = {"open": MatterStatus.OPEN, "pending": MatterStatus.PENDING, "closed": MatterStatus.CLOSED}


def plan_sync(
    *,
    firm_id: str,
    system: str,
    existing: ExistingRecords,
    activity_types: list[ActivityType],
    remote_users: Iterable[RemoteUser],
    remote_matters: Iterable[RemoteMatter],
    remote_contacts: Iterable[RemoteContact],
    remote_activities: Iterable[RemoteActivityType],
    include_closed: bool,
    new_id: Callable[[], str],
    now: datetime,
) -> SyncPlan:
    """Match the system's records to ours and say what to create, update and link."""
    plan = SyncPlan()
    clients = _plan_clients(plan, firm_id, system, existing, remote_contacts, remote_matters, new_id, now)
    _plan_contacts(plan, firm_id, system, existing, remote_contacts, clients, new_id, now)
    _plan_matters(plan, firm_id, system, existing, remote_matters, clients, include_closed, new_id, now)
    _plan_activities(plan, firm_id, system, activity_types, remote_activities)
    _plan_users(plan, system, existing, remote_users)
    return plan


def _plan_clients(
    plan: SyncPlan,
    firm_id: str,
    system: str,
    existing: ExistingRecords,
    contacts: Iterable[RemoteContact],
    matters: Iterable[RemoteMatter],
    new_id: Callable[[], str],
    now: datetime,
) -> dict[str, Client]:
    """Clients are the system's client contacts and every client a matter names; keyed by external id."""
    wanted: dict[str, str] = {}
    for contact in contacts:
        if contact.is_client:
            wanted[contact.external_id] = contact.name
    for matter in matters:
        if matter.client_external_id and matter.client_name:
            wanted.setdefault(matter.client_external_id, matter.client_name)
    result: dict[str, Client] = {}
    creates, updates = plan.clients
    for external_id, name in wanted.items():
        current = existing.clients_by_external_id.get(external_id)
        if current is None:
            by_name = existing.clients_by_name.get(name.strip())
            if by_name is not None and system not in by_name.external_ids:
                linked = replace(by_name, external_ids={**by_name.external_ids, system: external_id})
                updates.append(linked)
                result[external_id] = linked
                continue
            client = Client(
                firm_id=firm_id,
                client_id=new_id(),
                name=name.strip(),
                external_ids={system: external_id},
                created_at=now,
            )
            if _valid(plan, validate_client, client, f"client {name!r}"):
                creates.append(client)
                result[external_id] = client
            continue
        result[external_id] = current
        if current.name != name.strip():
            renamed = replace(current, name=name.strip())
            if _valid(plan, validate_client, renamed, f"client {name!r}"):
                updates.append(renamed)
                result[external_id] = renamed
    return result


def _plan_contacts(
    plan: SyncPlan,
    firm_id: str,
    system: str,
    existing: ExistingRecords,
    contacts: Iterable[RemoteContact],
    clients: dict[str, Client],
    new_id: Callable[[], str],
    now: datetime,
) -> None:
    creates, updates = plan.contacts
    # One address, one contact: a system may list a person twice (as a client and as a contact).
    planned: set[str] = set()
    for remote in contacts:
        email = normalize_email(remote.email) if remote.email else None
        if email in planned:
            continue
        if email:
            planned.add(email)
        client = clients.get(remote.external_id)
        current = existing.contacts_by_external_id.get(remote.external_id)
        if current is None and email:
            current = existing.contacts_by_email.get(email)
        if current is None:
            if not email:
                continue  # a contact without an address suggests nothing; keep the roster lean
            contact = Contact(
                firm_id=firm_id,
                contact_id=new_id(),
                name=remote.name.strip(),
                emails=(email,),
                client_id=client.client_id if client else None,
                external_ids={system: remote.external_id},
                created_at=now,
            )
            if _valid(plan, validate_contact, contact, f"contact {remote.name!r}"):
                creates.append(contact)
            continue
        emails = current.emails if not email or email in current.emails else (*current.emails, email)
        changed = replace(
            current,
            name=remote.name.strip() or current.name,
            emails=emails,
            client_id=current.client_id or (client.client_id if client else None),
            external_ids={**current.external_ids, system: remote.external_id},
        )
        if changed != current and _valid(plan, validate_contact, changed, f"contact {remote.name!r}"):
            updates.append(changed)


def _plan_matters(
    plan: SyncPlan,
    firm_id: str,
    system: str,
    existing: ExistingRecords,
    matters: Iterable[RemoteMatter],
    clients: dict[str, Client],
    include_closed: bool,
    new_id: Callable[[], str],
    now: datetime,
) -> None:
    creates, updates = plan.matters
    for remote in matters:
        status = _STATUS.get(remote.status, MatterStatus.OPEN)
        client = clients.get(remote.client_external_id or "")
        current = existing.matters_by_external_id.get(remote.external_id)
        if current is None:
            current = existing.matters_by_number.get(normalize_matter_number(remote.number))
        if current is None:
            if status is MatterStatus.CLOSED and not include_closed:
                continue
            if client is None:
                plan.skipped.append(f"matter {remote.number}: its client is not known to {system}")
                continue
            matter = Matter(
                firm_id=firm_id,
                matter_id=new_id(),
                number=remote.number.strip(),
                name=remote.name.strip(),
                client_id=client.client_id,
                external_ids={system: remote.external_id},
                opened_on=now.date(),
                created_at=now,
            )
            matter = with_status(matter, status, now.date())
            if _valid(plan, validate_matter, matter, f"matter {remote.number}"):
                creates.append(matter)
            continue
        changed = replace(
            with_status(current, status, now.date()),
            name=remote.name.strip() or current.name,
            client_id=client.client_id if client else current.client_id,
            external_ids={**current.external_ids, system: remote.external_id},
        )
        if changed != current and _valid(plan, validate_matter, changed, f"matter {remote.number}"):
            updates.append(changed)


def _plan_activities(
    plan: SyncPlan,
    firm_id: str,
    system: str,
    current_types: list[ActivityType],
    remote: Iterable[RemoteActivityType],
) -> None:
    creates, updates = plan.activity_types
    by_external = {a.external_ids[system]: a for a in current_types if system in a.external_ids}
    by_name = {a.name.strip().lower(): a for a in current_types}
    codes = {a.code for a in current_types}
    for item in remote:
        current = by_external.get(item.external_id) or by_name.get(item.name.strip().lower())
        if current is None:
            code = _unique_code(item.name, codes)
            codes.add(code)
            creates.append(
                ActivityType(
                    firm_id=firm_id,
                    code=code,
                    name=item.name.strip(),
                    utbms_task=item.utbms_task,
                    utbms_activity=item.utbms_activity,
                    rate=item.rate,
                    external_ids={system: item.external_id},
                )
            )
            continue
        changed = replace(
            current,
            rate=item.rate if item.rate is not None else current.rate,
            utbms_task=current.utbms_task or item.utbms_task,
            utbms_activity=current.utbms_activity or item.utbms_activity,
            external_ids={**current.external_ids, system: item.external_id},
        )
        if changed != current:
            updates.append(changed)


def _plan_users(plan: SyncPlan, system: str, existing: ExistingRecords, remote: Iterable[RemoteUser]) -> None:
    """Users are never created by a sync (the roster is the firm's); they are linked by email."""
    for user in remote:
        current = existing.users_by_external_id.get(user.external_id)
        if current is not None:
            continue
        current = existing.users_by_email.get(normalize_email(user.email))
        if current is None:
            if user.enabled:
                plan.unmatched_users.append(user.email)
            continue
        plan.users.append(replace(current, external_ids={**current.external_ids, system: user.external_id}))


def _unique_code(name: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Z0-9]+", "_", name.upper()).strip("_")[:24] or "ACTIVITY"
    code, counter = base, 2
    while code in taken:
        code = f"{base}_{counter}"
        counter += 1
    return code


RecordT = TypeVar("RecordT")


def _valid(plan: SyncPlan, check: Callable[[RecordT], None], record: RecordT, label: str) -> bool:
    try:
        check(record)
    except InvalidInput as invalid:
        reasons = "; ".join(f"{e.field}: {e.message}" for e in invalid.field_errors) or invalid.message
        plan.skipped.append(f"{label}: {reasons}")
        return False
    return True
