"""Progress of long requests (imports), so a second client can show it while the first one waits."""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.persistence.codec import dt_out, int_in, strip_none
from chalicelib.adapters.persistence.table import Table
from chalicelib.ports import Clock


def _key(firm_id: str, job_id: str) -> tuple[str, str]:
    return (f"FIRM#{firm_id}#JOBS", job_id)


class TableJobProgress:
    """One item per job; last write wins (progress only moves forward within a job)."""

    def __init__(self, table: Table, clock: Clock) -> None:
        self._table = table
        self._clock = clock

    def report(self, firm_id: str, job_id: str, *, phase: str, done: int, total: int, owner: str) -> None:
        pk, sk = _key(firm_id, job_id)
        self._table.put(
            strip_none(
                {
                    "PK": pk,
                    "SK": sk,
                    "type": "job",
                    "firm_id": firm_id,
                    "owner": owner,
                    "phase": phase,
                    "done": done,
                    "total": total,
                    "updated_at": dt_out(self._clock.now()),
                    # Progress is worth a day; DynamoDB's TTL removes it after that.
                    "expires_at_epoch": int(self._clock.now().timestamp()) + 86_400,
                }
            )
        )

    def get(self, firm_id: str, job_id: str) -> dict[str, Any] | None:
        item = self._table.get(*_key(firm_id, job_id))
        if item is None:
            return None
        return {
            "job_id": job_id,
            "owner": item["owner"],
            "phase": item["phase"],
            "done": int_in(item["done"]),
            "total": int_in(item["total"]),
            "updated_at": item["updated_at"],
        }
