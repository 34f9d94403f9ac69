"""``InvoiceWaits`` on the table.

| item | PK | SK |
| --- | --- | --- |
| the invoice's current execution | FIRM#{firm}#INVOICEFLOW#{invoice} | CURRENT |
| a waiting step's task token | FIRM#{firm}#INVOICEFLOW#{invoice} | TOKEN#{execution}#{step} |
| a staff decision | FIRM#{firm}#INVOICEFLOW#{invoice} | DECISION#{execution}#{version:012d} |

Decisions form a log: each is kept under the invoice version its transition committed, and the
execution remembers the version of the last decision it acted on (its cursor, ``$.decision.seq``).
A waiting step takes the first decision after the cursor that answers it. The hand-over between the
waiting task and the staff decision, which may come in either order:

    waiting task (lambda)                        decision (contractor service → event sink)
    ─────────────────────                        ──────────────────────────────────────────
    put_token                                    put_decision
    decisions_after(cursor) → one answers this   take_token → found: answer it
    step: answer own token

Both sides write first and read second, so at least one sees the other; if both do, the token is
answered twice with the same decision and Step Functions keeps the first. Nothing is removed when it
is read: a decision whose answer was lost (its token timed out into a reminder at that moment) is
still there for the step's next wait, and one the workflow has moved past sits behind the cursor.
TTL removes the log when no execution can need it any more.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from chalicelib.adapters.persistence.codec import dt_out
from chalicelib.adapters.persistence.table import AttributeEquals, ConditionFailed, Item, KeyRange, Table
from chalicelib.ports import Clock

# Tokens and the decision log live as long as an execution may (a year), then TTL removes them.
RETENTION_SECONDS = 366 * 86_400


class TableInvoiceWaits:
    """Task tokens and early decisions of invoice approval workflows."""

    def __init__(self, table: Table, clock: Clock) -> None:
        self._table = table
        self._clock = clock

    @staticmethod
    def _pk(firm_id: str, invoice_id: str) -> str:
        return f"FIRM#{firm_id}#INVOICEFLOW#{invoice_id}"

    def _item(self, firm_id: str, invoice_id: str, sk: str, **values: Any) -> dict[str, Any]:
        now = self._clock.now()
        return {
            "PK": self._pk(firm_id, invoice_id),
            "SK": sk,
            "type": "invoice_flow",
            "firm_id": firm_id,
            "invoice_id": invoice_id,
            "at": dt_out(now),
            "expires_at_epoch": int(now.timestamp()) + RETENTION_SECONDS,
            **values,
        }

    def set_current(self, firm_id: str, invoice_id: str, execution: str) -> None:
        self._table.put(self._item(firm_id, invoice_id, "CURRENT", execution=execution))

    def current(self, firm_id: str, invoice_id: str) -> str | None:
        item = self._table.get(self._pk(firm_id, invoice_id), "CURRENT")
        return str(item["execution"]) if item else None

    def put_token(self, firm_id: str, invoice_id: str, execution: str, step: str, token: str) -> None:
        self._table.put(self._item(firm_id, invoice_id, f"TOKEN#{execution}#{step}", token=token))

    def take_token(self, firm_id: str, invoice_id: str, execution: str, step: str) -> str | None:
        found = self._take(firm_id, invoice_id, f"TOKEN#{execution}#{step}", "token")
        return str(found) if found is not None else None

    def put_decision(
        self,
        firm_id: str,
        invoice_id: str,
        execution: str,
        seq: int,
        steps: Sequence[str],
        decision: Mapping[str, Any],
    ) -> None:
        self._table.put(
            self._item(
                firm_id,
                invoice_id,
                _decision_sk(execution, seq),
                steps=list(steps),
                decision=json.dumps({**decision, "seq": seq}),
            )
        )

    def decisions_after(
        self, firm_id: str, invoice_id: str, execution: str, seq: int
    ) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
        """(steps it answers, decision) of each decision after version ``seq``, oldest first."""
        found: list[tuple[tuple[str, ...], dict[str, Any]]] = []
        key_range = KeyRange(between=(_decision_sk(execution, seq + 1), _decision_sk(execution, _LAST)))
        start: Item | None = None
        while True:
            page = self._table.query(
                self._pk(firm_id, invoice_id), key_range, start_after=start, consistent=True
            )
            found.extend(
                (tuple(item["steps"]), dict(json.loads(str(item["decision"])))) for item in page.items
            )
            if page.last_key is None:
                return found
            start = page.last_key

    def _take(self, firm_id: str, invoice_id: str, sk: str, attribute: str) -> Any:
        pk = self._pk(firm_id, invoice_id)
        item = self._table.get(pk, sk)
        if item is None:
            return None
        try:
            self._table.delete(pk, sk, AttributeEquals(attribute, item[attribute]))
        except ConditionFailed:
            return None  # someone else took it first
        return item[attribute]


_LAST = 10**12 - 1


def _decision_sk(execution: str, seq: int) -> str:
    # Zero-padded, so the sort key orders decisions as the invoice's versions do.
    return f"DECISION#{execution}#{seq:012d}"
