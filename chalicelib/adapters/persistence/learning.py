"""What each user chose before (the suggestion engine's learning) and the firm's thread assignments."""

from __future__ import annotations

import json
from collections.abc import Callable

from chalicelib.adapters.persistence import keys
from chalicelib.adapters.persistence.codec import int_in
from chalicelib.adapters.persistence.table import AttributeEquals, ConditionFailed, ItemAbsent, Table
from chalicelib.domain.errors import Conflict
from chalicelib.domain.suggestions import Learning
from chalicelib.ports import Clock

MAX_ATTEMPTS = 5


def _thread_key(firm_id: str, conversation_id: str) -> tuple[str, str]:
    return (f"FIRM#{firm_id}#THREADS", conversation_id)


class TableLearningStore:
    """A user's learning is one item in their timeline partition (pruned to stay far below 400 KB)."""

    def __init__(self, table: Table, clock: Clock) -> None:
        self._table = table
        self._clock = clock

    def load(self, firm_id: str, user_id: str) -> Learning:
        item = self._table.get(keys.timeline(firm_id, user_id), "LEARNING")
        return Learning.from_dict(json.loads(item["state"])) if item else Learning()

    def update(self, firm_id: str, user_id: str, change: Callable[[Learning], None]) -> None:
        """Read, change, write if nobody wrote in between; retried, because changes commute."""
        pk = keys.timeline(firm_id, user_id)
        for _ in range(MAX_ATTEMPTS):
            item = self._table.get(pk, "LEARNING")
            learning = Learning.from_dict(json.loads(item["state"])) if item else Learning()
            version = int_in(item["version"]) if item else 0
            change(learning)
            # Forget choices whose weight has decayed to nothing, so the item stays far below 400 KB.
            learning.prune(self._clock.now())
            condition = AttributeEquals("version", version) if item else ItemAbsent()
            try:
                self._table.put(
                    {
                        "PK": pk,
                        "SK": "LEARNING",
                        "type": "learning",
                        "firm_id": firm_id,
                        "user_id": user_id,
                        "state": json.dumps(learning.to_dict(), separators=(",", ":")),
                        "version": version + 1,
                    },
                    condition,
                )
                return
            except ConditionFailed:
                continue
        raise Conflict("your suggestions are being updated from several places; try again")

    def thread_matter(self, firm_id: str, conversation_id: str) -> str | None:
        if not conversation_id:
            return None
        item = self._table.get(*_thread_key(firm_id, conversation_id))
        return str(item["matter_id"]) if item else None

    def set_thread_matter(self, firm_id: str, conversation_id: str, matter_id: str) -> None:
        pk, sk = _thread_key(firm_id, conversation_id)
        self._table.put({"PK": pk, "SK": sk, "type": "thread", "firm_id": firm_id, "matter_id": matter_id})
