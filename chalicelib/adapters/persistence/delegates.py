"""Delegation grants: the owner's list as one item, and one lookup item per delegate.

| item | PK | SK |
| --- | --- | --- |
| owner's grant list | FIRM#{firm} | DELEGATES#{owner} |
| lookup by delegate | FIRM#{firm}#DELEGATE#{delegate} | FOR#{owner} |

Checking a grant on a request is one Get of the owner's list (so revoking takes effect on the next
request); "whose timelines may I open" is one Query of the delegate's partition. The list, the lookup
items and the audit record change in one transaction, conditional on the list's version.
"""

from __future__ import annotations

import json

from chalicelib.adapters.persistence.codec import int_in
from chalicelib.adapters.persistence.repositories import VersionedWriter
from chalicelib.adapters.persistence.table import Delete, KeyRange, Operation, Put, Table
from chalicelib.domain.delegation import Access, Delegates, Grant
from chalicelib.ports import Clock

ENTITY = "delegates"


def _list_key(firm_id: str, owner_id: str) -> tuple[str, str]:
    return (f"FIRM#{firm_id}", f"DELEGATES#{owner_id}")


def _lookup_partition(firm_id: str, delegate_id: str) -> str:
    return f"FIRM#{firm_id}#DELEGATE#{delegate_id}"


def _as_json(delegates: Delegates) -> list[dict[str, str]]:
    return [{"user_id": g.delegate_id, "access": g.access.value} for g in delegates.grants]


class TableDelegateRepository:
    """``DelegateRepository`` over the single table."""

    def __init__(self, table: Table, clock: Clock) -> None:
        self._table = table
        self._writer = VersionedWriter(table, clock)

    def delegates_of(self, firm_id: str, owner_id: str) -> Delegates:
        item = self._table.get(*_list_key(firm_id, owner_id))
        if item is None:
            return Delegates(owner_id=owner_id)
        grants = tuple(
            Grant(owner_id, row["user_id"], Access(row["access"])) for row in json.loads(item["grants"])
        )
        return Delegates(owner_id=owner_id, grants=grants, version=int_in(item["version"]))

    def save(self, firm_id: str, delegates: Delegates, actor: str) -> Delegates:
        before = self.delegates_of(firm_id, delegates.owner_id)
        owner = delegates.owner_id
        pk, sk = _list_key(firm_id, owner)
        lookups: list[Operation] = []
        kept = {g.delegate_id for g in delegates.grants}
        for grant in before.grants:
            if grant.delegate_id not in kept:
                lookups.append(Delete(_lookup_partition(firm_id, grant.delegate_id), f"FOR#{owner}"))
        for grant in delegates.grants:
            lookups.append(
                Put(
                    {
                        "PK": _lookup_partition(firm_id, grant.delegate_id),
                        "SK": f"FOR#{owner}",
                        "type": "delegate_lookup",
                        "firm_id": firm_id,
                        "owner_id": owner,
                        "access": grant.access.value,
                    }
                )
            )
        after = _as_json(delegates)
        version = self._writer.write(
            firm_id=firm_id,
            entity_type=ENTITY,
            entity_id=owner,
            item={
                "PK": pk,
                "SK": sk,
                "type": "delegates",
                "firm_id": firm_id,
                "owner_id": owner,
                "grants": json.dumps(after, separators=(",", ":")),
            },
            before={"delegates": _as_json(before)} if delegates.version else None,
            after={"delegates": after},
            # The version the caller read: 0 means the list must not exist yet.
            expected_version=delegates.version or None,
            actor=actor,
            action="set_delegates",
            extra=lookups,
        )
        return Delegates(owner_id=owner, grants=delegates.grants, version=version)

    def grants_to(self, firm_id: str, delegate_id: str) -> list[Grant]:
        grants: list[Grant] = []
        start = None
        while True:
            page = self._table.query(
                _lookup_partition(firm_id, delegate_id), KeyRange(prefix="FOR#"), start_after=start
            )
            grants.extend(
                Grant(str(item["owner_id"]), delegate_id, Access(item["access"])) for item in page.items
            )
            if page.last_key is None:
                return grants
            start = page.last_key
