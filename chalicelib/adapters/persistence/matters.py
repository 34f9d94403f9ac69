"""Clients, matters, contacts and activity types on the single table.

Each kind is stored by one small generic store: the entity item, its uniqueness guards (matter number,
external ids, contact emails) and its non-unique lookup items (matter by name, matter by client) are
written in one transaction with the audit record, so a lookup can never point at a stale name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any, Generic, Protocol, TypeVar

from chalicelib.adapters.persistence import keys
from chalicelib.adapters.persistence.codec import (
    decode_cursor,
    dt_in,
    dt_out,
    encode_cursor,
    int_in,
    strip_none,
)
from chalicelib.adapters.persistence.repositories import Guard, VersionedWriter
from chalicelib.adapters.persistence.table import Delete, Item, KeyRange, Operation, Put, Table
from chalicelib.domain.errors import InvalidInput, NotFound, StaleVersion
from chalicelib.domain.matters import (
    ActivityType,
    BillingMethod,
    Client,
    Contact,
    Matter,
    MatterStatus,
    normalize_matter_number,
)
from chalicelib.ports import Clock, Page


class _Entity(Protocol):
    @property
    def firm_id(self) -> str: ...

    @property
    def version(self) -> int: ...


E = TypeVar("E", bound=_Entity)


class _Store(Generic[E]):
    """Versioned, guarded, audited storage of one kind of entity."""

    def __init__(
        self,
        table: Table,
        clock: Clock,
        *,
        kind: str,
        key_of: Callable[[E], tuple[str, str]],
        id_of: Callable[[E], str],
        to_item: Callable[[E], Item],
        from_item: Callable[[Item], E],
        guards_of: Callable[[E], list[Guard]],
        lookups_of: Callable[[E], list[Item]] | None = None,
    ) -> None:
        self._table = table
        self._writer = VersionedWriter(table, clock)
        self.kind = kind
        self._key_of = key_of
        self._id_of = id_of
        self._to_item = to_item
        self._from_item = from_item
        self._guards_of: Callable[[E], list[Guard]] = guards_of
        self._lookups_of: Callable[[E], list[Item]] = lookups_of or (lambda _entity: [])

    def get(self, pk: str, sk: str) -> E | None:
        item = self._table.get(pk, sk)
        return self._from_item(item) if item else None

    def add(self, entity: E, actor: str) -> E:
        version = self._writer.write(
            firm_id=entity.firm_id,
            entity_type=self.kind,
            entity_id=self._id_of(entity),
            item=self._to_item(entity),
            before=None,
            after=_snapshot(self._to_item(entity)),
            expected_version=None,
            actor=actor,
            action="create",
            add_guards=self._guards_of(entity),
            extra=[Put(item) for item in self._lookups_of(entity)],
        )
        return replace(entity, version=version)  # type: ignore[type-var]

    def update(self, entity: E, actor: str, action: str = "update") -> E:
        stored = self.get(*self._key_of(entity))
        if stored is None:
            raise NotFound(f"there is no such {self.kind} in your firm")
        if stored.version != entity.version:
            raise StaleVersion(self.kind, self._id_of(entity))
        old_guards = {(g.pk, g.sk): g for g in self._guards_of(stored)}
        new_guards = {(g.pk, g.sk): g for g in self._guards_of(entity)}
        old_lookups = {(i["PK"], i["SK"]) for i in self._lookups_of(stored)}
        new_lookups = {(i["PK"], i["SK"]): i for i in self._lookups_of(entity)}
        extra: list[Operation] = [Delete(pk, sk) for pk, sk in old_lookups - new_lookups.keys()]
        extra += [Put(item) for key, item in new_lookups.items() if key not in old_lookups]
        version = self._writer.write(
            firm_id=entity.firm_id,
            entity_type=self.kind,
            entity_id=self._id_of(entity),
            item=self._to_item(entity),
            before=_snapshot(self._to_item(stored)),
            after=_snapshot(self._to_item(entity)),
            expected_version=entity.version,
            actor=actor,
            action=action,
            add_guards=[g for key, g in new_guards.items() if key not in old_guards],
            remove_guards=[g for key, g in old_guards.items() if key not in new_guards],
            extra=extra,
        )
        return replace(entity, version=version)  # type: ignore[type-var]

    def page(
        self, pk: str, prefix: str | None, cursor: str | None, limit: int, index: str | None = None
    ) -> Page[E]:
        try:
            start = decode_cursor(cursor, f"{index}PK" if index else "PK", pk)
        except ValueError as error:
            raise InvalidInput(str(error)) from error
        found = self._table.query(
            pk, KeyRange(prefix=prefix) if prefix else None, index=index, limit=limit, start_after=start
        )
        return Page([self._from_item(item) for item in found.items], encode_cursor(found.last_key))


def _snapshot(item: Item) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in {"PK", "SK", "GSI1PK", "GSI1SK", "type", "firm_id"}}


def _external_guards(kind: str, firm_id: str, external_ids: dict[str, str]) -> list[Guard]:
    return [
        Guard(*keys.external_id_guard(firm_id, kind, source, value), f"{source} id", value)
        for source, value in sorted(external_ids.items())
    ]


# ---------------------------------------------------------------- clients


def _client_item(client: Client) -> Item:
    return strip_none(
        {
            "PK": keys.clients(client.firm_id),
            "SK": f"CLIENT#{client.client_id}",
            "type": "client",
            "firm_id": client.firm_id,
            "client_id": client.client_id,
            "name": client.name,
            "domains": list(client.domains),
            "external_ids": dict(client.external_ids),
            "rounding_increment_seconds": client.rounding_increment_seconds,
            "created_at": dt_out(client.created_at),
            "version": client.version,
        }
    )


def _client_from(item: Item) -> Client:
    increment = item.get("rounding_increment_seconds")
    return Client(
        firm_id=item["firm_id"],
        client_id=item["client_id"],
        name=item["name"],
        domains=tuple(item.get("domains", [])),
        external_ids=dict(item.get("external_ids", {})),
        rounding_increment_seconds=int_in(increment) if increment is not None else None,
        created_at=dt_in(item.get("created_at")),
        version=int_in(item.get("version", 0)),
    )


# ---------------------------------------------------------------- matters


def _matter_item(matter: Matter) -> Item:
    number = normalize_matter_number(matter.number)
    increment = matter.rounding_increment_seconds
    return strip_none(
        {
            "PK": keys.matters(matter.firm_id),
            "SK": f"MATTER#{matter.matter_id}",
            "GSI1PK": keys.matter_numbers(matter.firm_id),
            "GSI1SK": number,
            "type": "matter",
            "firm_id": matter.firm_id,
            "matter_id": matter.matter_id,
            "number": matter.number,
            "name": matter.name,
            "client_id": matter.client_id,
            "status": matter.status.value,
            "responsible_user_id": matter.responsible_user_id,
            "billing_method": matter.billing_method.value,
            "utbms_required": matter.utbms_required,
            "rounding_increment_seconds": increment,
            "opened_on": matter.opened_on.isoformat() if matter.opened_on else None,
            "closed_on": matter.closed_on.isoformat() if matter.closed_on else None,
            "contact_ids": list(matter.contact_ids),
            "external_ids": dict(matter.external_ids),
            "created_at": dt_out(matter.created_at),
            "problem_code": matter.problem_code,
            "languages": list(matter.languages),
            "version": matter.version,
        }
    )


def _matter_from(item: Item) -> Matter:
    increment = item.get("rounding_increment_seconds")
    return Matter(
        firm_id=item["firm_id"],
        matter_id=item["matter_id"],
        number=item["number"],
        name=item["name"],
        client_id=item["client_id"],
        status=MatterStatus(item["status"]),
        responsible_user_id=item.get("responsible_user_id"),
        billing_method=BillingMethod(item.get("billing_method", "hourly")),
        utbms_required=bool(item.get("utbms_required", False)),
        rounding_increment_seconds=int_in(increment) if increment is not None else None,
        opened_on=date.fromisoformat(item["opened_on"]) if item.get("opened_on") else None,
        closed_on=date.fromisoformat(item["closed_on"]) if item.get("closed_on") else None,
        contact_ids=tuple(item.get("contact_ids", [])),
        external_ids=dict(item.get("external_ids", {})),
        created_at=dt_in(item.get("created_at")),
        problem_code=item.get("problem_code"),
        languages=tuple(item.get("languages", [])),
        version=int_in(item.get("version", 0)),
    )


def _matter_lookups(matter: Matter) -> list[Item]:
    summary = {"type": "matter_ref", "firm_id": matter.firm_id, "matter_id": matter.matter_id}
    return [
        {
            "PK": keys.matter_names(matter.firm_id),
            "SK": f"{matter.name.lower()}#{matter.matter_id}",
            **summary,
        },
        {"PK": keys.client_matters(matter.firm_id, matter.client_id), "SK": matter.matter_id, **summary},
    ]


def _client_lookups(client: Client) -> list[Item]:
    ref = {"type": "client_ref", "firm_id": client.firm_id, "client_id": client.client_id}
    return [
        {"PK": f"FIRM#{client.firm_id}#CLIENTNAMES", "SK": f"{client.name.lower()}#{client.client_id}", **ref}
    ]


# ---------------------------------------------------------------- contacts


def _contact_lookups(contact: Contact) -> list[Item]:
    ref = {"type": "contact_ref", "firm_id": contact.firm_id, "contact_id": contact.contact_id}
    return [
        {
            "PK": f"FIRM#{contact.firm_id}#CONTACTNAMES",
            "SK": f"{contact.name.lower()}#{contact.contact_id}",
            **ref,
        }
    ]


def _contact_item(contact: Contact) -> Item:
    return strip_none(
        {
            "PK": keys.contacts(contact.firm_id),
            "SK": f"CONTACT#{contact.contact_id}",
            "type": "contact",
            "firm_id": contact.firm_id,
            "contact_id": contact.contact_id,
            "name": contact.name,
            "emails": list(contact.emails),
            "phones": list(contact.phones),
            "company": contact.company or None,
            "client_id": contact.client_id,
            "external_ids": dict(contact.external_ids),
            "created_at": dt_out(contact.created_at),
            "version": contact.version,
        }
    )


def _contact_from(item: Item) -> Contact:
    return Contact(
        firm_id=item["firm_id"],
        contact_id=item["contact_id"],
        name=item["name"],
        emails=tuple(item.get("emails", [])),
        phones=tuple(item.get("phones", [])),
        company=item.get("company", ""),
        client_id=item.get("client_id"),
        external_ids=dict(item.get("external_ids", {})),
        created_at=dt_in(item.get("created_at")),
        version=int_in(item.get("version", 0)),
    )


# ---------------------------------------------------------------- activity types


def _activity_item(activity: ActivityType) -> Item:
    return strip_none(
        {
            "PK": keys.activity_types(activity.firm_id),
            "SK": activity.code,
            "type": "activity_type",
            "firm_id": activity.firm_id,
            "code": activity.code,
            "name": activity.name,
            "utbms_task": activity.utbms_task,
            "utbms_activity": activity.utbms_activity,
            "billable": activity.billable,
            "rate": activity.rate,
            "external_ids": dict(activity.external_ids),
            "version": activity.version,
        }
    )


def _activity_from(item: Item) -> ActivityType:
    return ActivityType(
        firm_id=item["firm_id"],
        code=item["code"],
        name=item["name"],
        utbms_task=item.get("utbms_task"),
        utbms_activity=item.get("utbms_activity"),
        billable=bool(item.get("billable", True)),
        rate=item.get("rate"),
        external_ids=dict(item.get("external_ids", {})),
        version=int_in(item.get("version", 0)),
    )


class TableMatterRepository:
    """Clients, matters, contacts and activity types of a firm."""

    def __init__(self, table: Table, clock: Clock) -> None:
        self._table = table
        self.clients: _Store[Client] = _Store(
            table,
            clock,
            kind="client",
            key_of=lambda c: (keys.clients(c.firm_id), f"CLIENT#{c.client_id}"),
            id_of=lambda c: c.client_id,
            to_item=_client_item,
            from_item=_client_from,
            guards_of=lambda c: _external_guards("client", c.firm_id, c.external_ids),
            lookups_of=_client_lookups,
        )
        self.matters: _Store[Matter] = _Store(
            table,
            clock,
            kind="matter",
            key_of=lambda m: (keys.matters(m.firm_id), f"MATTER#{m.matter_id}"),
            id_of=lambda m: m.matter_id,
            to_item=_matter_item,
            from_item=_matter_from,
            guards_of=lambda m: [
                Guard(
                    *keys.matter_number_guard(m.firm_id, normalize_matter_number(m.number)),
                    "matter number",
                    m.number,
                ),
                *_external_guards("matter", m.firm_id, m.external_ids),
            ],
            lookups_of=_matter_lookups,
        )
        self.contacts: _Store[Contact] = _Store(
            table,
            clock,
            kind="contact",
            key_of=lambda c: (keys.contacts(c.firm_id), f"CONTACT#{c.contact_id}"),
            id_of=lambda c: c.contact_id,
            to_item=_contact_item,
            from_item=_contact_from,
            guards_of=lambda c: [
                *(Guard(*keys.contact_email_guard(c.firm_id, e.lower()), "email", e) for e in c.emails),
                *_external_guards("contact", c.firm_id, c.external_ids),
            ],
            lookups_of=_contact_lookups,
        )
        self.activities: _Store[ActivityType] = _Store(
            table,
            clock,
            kind="activity_type",
            key_of=lambda a: (keys.activity_types(a.firm_id), a.code),
            id_of=lambda a: a.code,
            to_item=_activity_item,
            from_item=_activity_from,
            guards_of=lambda a: [],
        )

    def client(self, firm_id: str, client_id: str) -> Client | None:
        return self.clients.get(keys.clients(firm_id), f"CLIENT#{client_id}")

    def matter(self, firm_id: str, matter_id: str) -> Matter | None:
        return self.matters.get(keys.matters(firm_id), f"MATTER#{matter_id}")

    def contact(self, firm_id: str, contact_id: str) -> Contact | None:
        return self.contacts.get(keys.contacts(firm_id), f"CONTACT#{contact_id}")

    def matter_by_number(self, firm_id: str, number: str) -> Matter | None:
        guard = self._table.get(*keys.matter_number_guard(firm_id, normalize_matter_number(number)))
        return self.matter(firm_id, guard["owner"]) if guard else None

    def by_external_id(self, firm_id: str, kind: str, source: str, external_id: str) -> str | None:
        """The id of the client, matter or contact carrying this external id, if any."""
        guard = self._table.get(*keys.external_id_guard(firm_id, kind, source, external_id))
        return str(guard["owner"]) if guard else None

    def search_matters(
        self,
        firm_id: str,
        *,
        number_prefix: str | None,
        name_prefix: str | None,
        client_id: str | None,
        cursor: str | None,
        limit: int,
    ) -> Page[Matter]:
        """One Query: by number prefix (GSI1), name prefix, or a client's matters."""
        if number_prefix is not None:
            return self.matters.page(
                keys.matter_numbers(firm_id),
                normalize_matter_number(number_prefix),
                cursor,
                limit,
                index="GSI1",
            )
        pk, prefix = (
            (keys.client_matters(firm_id, client_id), None)
            if client_id
            else (keys.matter_names(firm_id), (name_prefix or "").lower() or None)
        )
        try:
            start = decode_cursor(cursor, "PK", pk)
        except ValueError as error:
            raise InvalidInput(str(error)) from error
        refs = self._table.query(
            pk, KeyRange(prefix=prefix) if prefix else None, limit=limit, start_after=start
        )
        found = [m for ref in refs.items if (m := self.matter(firm_id, ref["matter_id"]))]
        return Page(found, encode_cursor(refs.last_key))

    def clients_named(self, firm_id: str, prefix: str, cursor: str | None, limit: int) -> Page[Client]:
        """Clients whose name starts with ``prefix`` (one Query)."""
        return self._by_name(
            f"FIRM#{firm_id}#CLIENTNAMES", prefix, cursor, limit, "client_id", self.client, firm_id
        )

    def contacts_named(self, firm_id: str, prefix: str, cursor: str | None, limit: int) -> Page[Contact]:
        """Contacts whose name starts with ``prefix`` (one Query)."""
        return self._by_name(
            f"FIRM#{firm_id}#CONTACTNAMES", prefix, cursor, limit, "contact_id", self.contact, firm_id
        )

    def contact_by_email(self, firm_id: str, email: str) -> Contact | None:
        guard = self._table.get(*keys.contact_email_guard(firm_id, email.strip().lower()))
        return self.contact(firm_id, guard["owner"]) if guard else None

    def _by_name(
        self,
        pk: str,
        prefix: str,
        cursor: str | None,
        limit: int,
        id_field: str,
        load: Callable[[str, str], Any],
        firm_id: str,
    ) -> Page[Any]:
        try:
            start = decode_cursor(cursor, "PK", pk)
        except ValueError as error:
            raise InvalidInput(str(error)) from error
        refs = self._table.query(pk, KeyRange(prefix=prefix.lower()), limit=limit, start_after=start)
        found = [record for ref in refs.items if (record := load(firm_id, ref[id_field]))]
        return Page(found, encode_cursor(refs.last_key))

    def list_clients(self, firm_id: str, cursor: str | None, limit: int) -> Page[Client]:
        return self.clients.page(keys.clients(firm_id), "CLIENT#", cursor, limit)

    def list_contacts(self, firm_id: str, cursor: str | None, limit: int) -> Page[Contact]:
        return self.contacts.page(keys.contacts(firm_id), "CONTACT#", cursor, limit)

    def list_matters(self, firm_id: str, cursor: str | None, limit: int) -> Page[Matter]:
        return self.matters.page(keys.matters(firm_id), "MATTER#", cursor, limit)

    def list_activity_types(self, firm_id: str) -> list[ActivityType]:
        found: list[ActivityType] = []
        cursor: str | None = None
        while True:
            page = self.activities.page(keys.activity_types(firm_id), None, cursor, 200)
            found += page.items
            if page.next_cursor is None:
                return found
            cursor = page.next_cursor
