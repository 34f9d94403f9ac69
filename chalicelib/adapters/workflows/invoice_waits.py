"""``InvoiceWaits`` on the table.

| item | PK | SK |
| --- | --- | --- |
| the invoice's current execution | FIRM#{firm}#INVOICEFLOW#{invoice} | CURRENT |
| a waiting step's task token | FIRM#{firm}#INVOICEFLOW#{invoice} | TOKEN#{execution}#{step} |
| a decision that came first | FIRM#{firm}#INVOICEFLOW#{invoice} | DECISION#{execution}#{step} |

The hand-over between the waiting task and the staff decision, which may come in either order:

    waiting task (lambda)                     decision (contractor service → event sink)
    ─────────────────────                     ──────────────────────────────────────────
    put_token                                 put_decision
    take_decision → found: answer own token   take_token → found: answer it, take_decision

Both sides write first and read second, so at least one sees the other; if both do, the token is
answered twice with the same decision and Step Functions keeps the first. ``take_*`` removes what it
reads, so a later wait on the same step (the next round after a dispute) starts clean.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from chalicelib.adapters.persistence.codec import dt_out
from chalicelib.adapters.persistence.table import AttributeEquals, ConditionFailed, Table
from chalicelib.ports import Clock

# Tokens and parked decisions live as long as an execution may (a year), then TTL removes them.
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
        self, firm_id: str, invoice_id: str, execution: str, step: str, decision: Mapping[str, Any]
    ) -> None:
        self._table.put(
            self._item(
                firm_id, invoice_id, f"DECISION#{execution}#{step}", decision=json.dumps(dict(decision))
            )
        )

    def take_decision(
        self, firm_id: str, invoice_id: str, execution: str, step: str
    ) -> dict[str, Any] | None:
        found = self._take(firm_id, invoice_id, f"DECISION#{execution}#{step}", "decision")
        return dict(json.loads(str(found))) if found is not None else None

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
