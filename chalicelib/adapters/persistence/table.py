"""The narrow table interface the repositories are written against.

Two implementations keep the same semantics: ``DynamoTable`` (DynamoDB through boto3) and ``MemoryTable``
(a dict, for fast unit tests). One contract suite runs the repositories against both, so a rule that holds
in memory holds in DynamoDB.

Conditions are a tiny algebra rather than raw expression strings so both implementations can evaluate
them; add a form here when a use case needs it, and to both tables.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

Item = dict[str, Any]


@dataclass(frozen=True)
class ItemAbsent:
    """The item must not exist yet (``attribute_not_exists(PK)``)."""


@dataclass(frozen=True)
class ItemPresent:
    """The item must already exist."""


@dataclass(frozen=True)
class AttributeEquals:
    """The item exists and ``name`` equals ``value`` (e.g. ``version = 3``)."""

    name: str
    value: Any


@dataclass(frozen=True)
class AttributeIn:
    """The item exists and ``name`` is one of ``values`` (e.g. an expected status)."""

    name: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class AllOf:
    """Every condition holds."""

    conditions: tuple[Condition, ...]


Condition = ItemAbsent | ItemPresent | AttributeEquals | AttributeIn | AllOf


@dataclass(frozen=True)
class Put:
    """Write a whole item, if the condition on the current item holds."""

    item: Item
    condition: Condition | None = None


@dataclass(frozen=True)
class Delete:
    """Remove an item, if the condition holds."""

    pk: str
    sk: str
    condition: Condition | None = None


@dataclass(frozen=True)
class Check:
    """Only assert a condition on another item inside a transaction."""

    pk: str
    sk: str
    condition: Condition


Operation = Put | Delete | Check


@dataclass(frozen=True)
class QueryPage:
    """Items of one query page and the key to continue after, if there is more."""

    items: list[Item]
    last_key: Item | None = None


@dataclass(frozen=True)
class KeyRange:
    """The sort-key part of a query: a prefix, or an inclusive range."""

    prefix: str | None = None
    between: tuple[str, str] | None = None


class ConditionFailed(Exception):
    """A single write's condition did not hold."""


class TransactionCancelled(Exception):
    """A transaction did not apply. ``failed`` holds the indexes of the operations whose condition failed."""

    def __init__(self, failed: list[int], message: str = "transaction cancelled") -> None:
        super().__init__(f"{message}: conditions failed at {failed}")
        self.failed = failed


# DynamoDB accepts at most 100 operations in one transaction.
MAX_TRANSACTION_ITEMS = 100


@dataclass
class IndexSpec:
    """A global secondary index: its name and key attributes."""

    name: str
    pk: str
    sk: str


INDEXES: dict[str, IndexSpec] = {
    "GSI1": IndexSpec("GSI1", "GSI1PK", "GSI1SK"),
    "GSI2": IndexSpec("GSI2", "GSI2PK", "GSI2SK"),
}


class Table(Protocol):
    """The operations the repositories use. Keys are always the strings ``PK`` and ``SK``."""

    def get(self, pk: str, sk: str) -> Item | None:
        """A strongly consistent read of one item."""
        ...

    def put(self, item: Item, condition: Condition | None = None) -> None:
        """Write one item; raises ``ConditionFailed``."""
        ...

    def delete(self, pk: str, sk: str, condition: Condition | None = None) -> None:
        """Remove one item; raises ``ConditionFailed``."""
        ...

    def transact(self, operations: Iterable[Operation]) -> None:
        """Apply all or nothing; raises ``TransactionCancelled``."""
        ...

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
        """One page of the items under a partition key, in sort-key order.

        ``consistent`` asks for a strongly consistent read (main table only): use it where a read
        decides a write; index reads may lag the table by a moment, as in DynamoDB.
        """
        ...


@dataclass
class TableStats:
    """Counts of calls, so tests and benchmarks can assert 'one Query' rather than time."""

    queries: int = 0
    gets: int = 0
    writes: int = 0
    transactions: int = 0
    by_partition: dict[str, int] = field(default_factory=dict)
