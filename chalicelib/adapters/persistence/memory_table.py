"""``Table`` in memory: the twin of ``DynamoTable`` for fast tests, with the same semantics.

Items are round-tripped through DynamoDB's type serializer on write, so what a repository reads back
(``Decimal`` numbers, sets) is exactly what DynamoDB would give it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from chalicelib.adapters.persistence.dynamodb_table import from_dynamo, to_dynamo
from chalicelib.adapters.persistence.table import (
    INDEXES,
    AllOf,
    AttributeEquals,
    AttributeIn,
    Check,
    Condition,
    ConditionFailed,
    Delete,
    Item,
    ItemAbsent,
    ItemPresent,
    KeyRange,
    Operation,
    Put,
    QueryPage,
    TableStats,
    TransactionCancelled,
)


def holds(condition: Condition | None, current: Item | None) -> bool:
    """Evaluate a condition against the current item (``None`` if absent), as DynamoDB would."""
    if condition is None:
        return True
    if isinstance(condition, ItemAbsent):
        return current is None
    if isinstance(condition, ItemPresent):
        return current is not None
    if isinstance(condition, AttributeEquals):
        return (
            current is not None and condition.name in current and current[condition.name] == condition.value
        )
    if isinstance(condition, AttributeIn):
        return current is not None and current.get(condition.name) in condition.values
    if isinstance(condition, AllOf):
        return all(holds(part, current) for part in condition.conditions)
    raise TypeError(f"unknown condition {condition!r}")


class MemoryTable:
    """A dict of items keyed by (PK, SK), guarded by one lock so transactions are atomic."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, str], Item] = {}
        self._lock = threading.RLock()
        self.stats = TableStats()

    def get(self, pk: str, sk: str) -> Item | None:
        self.stats.gets += 1
        with self._lock:
            item = self._items.get((pk, sk))
            return from_dynamo(to_dynamo(item)) if item is not None else None

    def put(self, item: Item, condition: Condition | None = None) -> None:
        self.stats.writes += 1
        with self._lock:
            key = (item["PK"], item["SK"])
            if not holds(condition, self._items.get(key)):
                raise ConditionFailed(f"condition failed for {key}")
            self._items[key] = from_dynamo(to_dynamo(item))

    def delete(self, pk: str, sk: str, condition: Condition | None = None) -> None:
        self.stats.writes += 1
        with self._lock:
            if not holds(condition, self._items.get((pk, sk))):
                raise ConditionFailed(f"condition failed for {(pk, sk)}")
            self._items.pop((pk, sk), None)

    def transact(self, operations: Iterable[Operation]) -> None:
        ops = list(operations)
        self.stats.transactions += 1
        with self._lock:
            keys = [self._key_of(op) for op in ops]
            if len(set(keys)) != len(keys):
                # DynamoDB refuses two operations on one item in a transaction (ValidationException).
                raise ValueError("a transaction cannot include more than one operation on one item")
            failed = [
                index
                for index, op in enumerate(ops)
                if not holds(op.condition, self._items.get(self._key_of(op)))
            ]
            if failed:
                raise TransactionCancelled(failed)
            for op in ops:
                if isinstance(op, Put):
                    self._items[self._key_of(op)] = from_dynamo(to_dynamo(op.item))
                elif isinstance(op, Delete):
                    self._items.pop((op.pk, op.sk), None)

    @staticmethod
    def _key_of(op: Operation) -> tuple[str, str]:
        if isinstance(op, Put):
            return (op.item["PK"], op.item["SK"])
        if isinstance(op, Delete | Check):
            return (op.pk, op.sk)
        raise TypeError(f"unknown operation {op!r}")

    def query(
        self,
        pk: str,
        key_range: KeyRange | None = None,
        *,
        index: str | None = None,
        limit: int | None = None,
        forward: bool = True,
        start_after: Item | None = None,
        consistent: bool = False,
    ) -> QueryPage:
        self.stats.queries += 1
        self.stats.by_partition[pk] = self.stats.by_partition.get(pk, 0) + 1
        pk_name, sk_name = (INDEXES[index].pk, INDEXES[index].sk) if index else ("PK", "SK")
        with self._lock:
            matches = [
                item
                for item in self._items.values()
                if item.get(pk_name) == pk and sk_name in item and _in_range(item[sk_name], key_range)
            ]
        # Index queries order by the index sort key, then the table key, like DynamoDB.
        matches.sort(key=lambda item: (item[sk_name], item["PK"], item["SK"]), reverse=not forward)
        if start_after is not None:
            marker = (start_after[sk_name], start_after["PK"], start_after["SK"])
            matches = [
                item
                for item in matches
                if ((item[sk_name], item["PK"], item["SK"]) > marker) == forward
                and (item[sk_name], item["PK"], item["SK"]) != marker
            ]
        page = matches[:limit] if limit else matches
        last_key: dict[str, Any] | None = None
        if limit and len(matches) > limit:
            last = page[-1]
            last_key = {"PK": last["PK"], "SK": last["SK"]}
            if index:
                last_key |= {pk_name: last[pk_name], sk_name: last[sk_name]}
        return QueryPage(items=[from_dynamo(to_dynamo(item)) for item in page], last_key=last_key)

    def all_items(self) -> list[Item]:
        """Every item (tests use it to prove that a refused request changed nothing)."""
        with self._lock:
            return [from_dynamo(to_dynamo(item)) for item in self._items.values()]


def _in_range(sort_key: Any, key_range: KeyRange | None) -> bool:
    if key_range is None:
        return True
    if key_range.prefix is not None:
        return isinstance(sort_key, str) and sort_key.startswith(key_range.prefix)
    if key_range.between is not None:
        low, high = key_range.between
        return bool(low <= sort_key <= high)
    return True
