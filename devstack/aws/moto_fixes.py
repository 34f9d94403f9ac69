"""Fixes to moto (5.2.5) that the devstack, the tests and the benchmarks need.

``TransactWriteItems`` backs up every table it touches so that a failed transaction can roll back, but
it deep-copies the whole table once per *operation* of the call, not once per table: 100 operations on
a table of 10,000 items copy a million items. Under the devstack (every API change is a transaction
with its audit record) that grew a process to 14 GB. All the copies are taken before any operation is
applied, so they are identical: one per table per call keeps the rollback exactly as it was.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

_calls = threading.local()  # the moto server answers requests on several threads


class _CopyModule:
    """Stands in for the ``copy`` module inside ``moto.dynamodb.models``: the same functions, except
    that within one ``transact_write_items`` call on this thread a table is deep-copied once."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table

        backups: dict[int, Any] | None = getattr(_calls, "backups", None)
        if backups is None or not isinstance(value, Table):
            return copy.deepcopy(value, memo)
        if id(value) not in backups:
            backups[id(value)] = copy.deepcopy(value)
        return backups[id(value)]


def back_up_each_table_once() -> None:
    """Install the fix (idempotent)."""
    from moto.dynamodb import models

    original = models.DynamoDBBackend.transact_write_items
    if getattr(original, "backs_up_each_table_once", False):
        return

    def transact_write_items(self: Any, transact_items: Any) -> Any:
        _calls.backups = {}
        try:
            return original(self, transact_items)
        finally:
            _calls.backups = None

    transact_write_items.backs_up_each_table_once = True  # type: ignore[attr-defined]
    models.copy = _CopyModule()  # type: ignore[assignment]
    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
