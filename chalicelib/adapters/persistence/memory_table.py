"""``Table`` in memory: the twin of ``DynamoTable`` for fast tests, with the same semantics.

Items are round-tripped through DynamoDB's type serializer on write, so what a repository reads back
(``Decimal`` numbers, sets) is exactly what DynamoDB would give it.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right, insort
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


_Order = tuple[Any, str, str]  # (sort key of the index, PK, SK)


class MemoryTable:
    """A dict of items keyed by (PK, SK), guarded by one lock so transactions are atomic.

    Like DynamoDB, every partition (of the table and of each index) keeps its items in sort-key order,
    so a query costs the items it returns, not the size of the table.
    """

    def __init__(self) -> None:
        self._items: dict[tuple[str, str], Item] = {}
        self._partitions: dict[tuple[str | None, Any], list[_Order]] = {}
        self._lock = threading.RLock()
        self.stats = TableStats()

    def _orders(self, item: Item) -> list[tuple[tuple[str | None, Any], _Order]]:
        found: list[tuple[tuple[str | None, Any], _Order]] = [
            ((None, item["PK"]), (item["SK"], item["PK"], item["SK"]))
        ]
        for name, spec in INDEXES.items():
            if spec.pk in item and spec.sk in item:
                found.append(((name, item[spec.pk]), (item[spec.sk], item["PK"], item["SK"])))
        return found

    def _store(self, item: Item) -> None:
        key = (item["PK"], item["SK"])
        self._drop(key)
        self._items[key] = item
        for partition, order in self._orders(item):
            insort(self._partitions.setdefault(partition, []), order)

    def _drop(self, key: tuple[str, str]) -> None:
        old = self._items.pop(key, None)
        if old is None:
            return
        for partition, order in self._orders(old):
            orders = self._partitions[partition]
            del orders[bisect_left(orders, order)]

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
            self._store(from_dynamo(to_dynamo(item)))

    def delete(self, pk: str, sk: str, condition: Condition | None = None) -> None:
        self.stats.writes += 1
        with self._lock:
            if not holds(condition, self._items.get((pk, sk))):
                raise ConditionFailed(f"condition failed for {(pk, sk)}")
            self._drop((pk, sk))

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
                    self._store(from_dynamo(to_dynamo(op.item)))
                elif isinstance(op, Delete):
                    self._drop((op.pk, op.sk))

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
            orders = self._partitions.get((index, pk), [])
            low, high = 0, len(orders)
            if key_range is not None and key_range.between is not None:
                low = bisect_left(orders, (key_range.between[0],))
                high = bisect_right(orders, (key_range.between[1], "\uffff", "\uffff"))
            elif key_range is not None and key_range.prefix is not None:
                low = bisect_left(orders, (key_range.prefix,))
                high = bisect_left(orders, (key_range.prefix + "\uffff",))
            if start_after is not None:
                marker = (start_after[sk_name], start_after["PK"], start_after["SK"])
                if forward:
                    low = max(low, bisect_right(orders, marker))
                else:
                    high = min(high, bisect_left(orders, marker))
            window = orders[low:high] if forward else orders[low:high][::-1]
            if limit:
                window = window[: limit + 1]
            matches = [self._items[(item_pk, item_sk)] for _, item_pk, item_sk in window]
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
