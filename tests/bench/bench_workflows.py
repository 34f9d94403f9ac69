"""State transitions, the unit Step Functions (standard workflows) bills by, of Matterline's workflows.

Everything runs for real on the embedded AWS (moto executes the ASL; the bridge runs the workers):

    invoice approval transitions     one invoice from submission to paid, no dispute, no reminder
    invoice dispute round transitions what one dispute and resubmission adds to that
    invoice reminder transitions     what one reminder adds (a step that waited too long)
    export transitions per firm      a scheduled export run: (run with 3 firms - run with 1 firm) / 2
    export fixed transitions         what a run costs whatever the number of firms (listing, the Map)
    export 3 firms ratio             transitions with 3 firms / with 1 firm, measured in this run
    invoice approval cost            USD per 1,000 approved invoices at $0.025 per 1,000 transitions
"""

from __future__ import annotations

import os
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "MATTERLINE_AWS_ENDPOINT_URL"):
    os.environ.pop(name, None)
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    }
)

PRICE_PER_TRANSITION = 0.025 / 1000


def entered(stack: Any, arn: str, state: str) -> int:
    return sum(
        1
        for event in stack.history(arn)
        if event["type"].endswith("StateEntered") and event["stateEnteredEventDetails"]["name"] == state
    )


def main() -> None:
    from datetime import date

    from chalicelib.domain.contractors.events import (
        InvoiceApproved,
        InvoiceDisputed,
        InvoicePaid,
        InvoiceResubmitted,
        InvoiceScheduled,
        InvoiceVerified,
    )
    from tests.integration import test_workflow_exports as exports
    from tests.integration import test_workflow_invoices as invoices
    from tests.integration.workflow_stack import workflow_stack
    from tests.support.tokens import TokenMint

    mint = TokenMint()
    try:
        with workflow_stack(mint, "bench") as stack:
            firm = invoices.firm.__wrapped__(stack)  # type: ignore[attr-defined]

            def run_invoice(invoice_id: str, dispute: bool, reminder: bool) -> str:
                firm.book.add(invoice_id)
                sink = firm.sink(reminder_seconds=1 if reminder else 600, escalate_after=5)
                start = invoices.submitted(firm, invoice_id)
                every = invoices.facts(firm, invoice_id)
                later = start.at + timedelta(hours=1)
                arn = invoices.execution_arn(stack, start)
                sink.publish([start])
                if reminder:
                    deadline = time.monotonic() + 30
                    while entered(stack, arn, "RemindVerification") < 1:
                        assert time.monotonic() < deadline
                        time.sleep(0.05)
                invoices.wait_for_token(firm, invoice_id, start, "verify")
                if dispute:
                    sink.publish(
                        [InvoiceDisputed(**every, at=later, disputed_bt_ids=("bt-2",), denied_bt_ids=())]
                    )
                    invoices.wait_for_token(firm, invoice_id, start, "resubmit")
                    sink.publish([InvoiceResubmitted(**every, at=later, total=Decimal("792.50"))])
                    invoices.wait_for_token(firm, invoice_id, start, "verify")
                sink.publish([InvoiceVerified(**every, at=later, total=Decimal("792.50"))])
                sink.publish([InvoiceApproved(**every, at=later, total=Decimal("792.50"))])
                sink.publish(
                    [
                        InvoiceScheduled(
                            **every,
                            at=later,
                            pay_period_start=date(2026, 3, 16),
                            pay_period_end=date(2026, 3, 31),
                        )
                    ]
                )
                sink.publish(
                    [
                        InvoicePaid(
                            **every,
                            at=later,
                            total=Decimal("792.50"),
                            payment_method="check",
                            payment_reference="1",
                        )
                    ]
                )
                assert stack.wait(arn)["status"] == "SUCCEEDED"
                return arn

            plain = stack.transitions(run_invoice("B-1", dispute=False, reminder=False))
            disputed = stack.transitions(run_invoice("B-2", dispute=True, reminder=False))
            reminded = stack.transitions(run_invoice("B-3", dispute=False, reminder=True))

            def export_run(at: str) -> int:
                arn = stack.start("ExportsStateMachine", {"at": at})
                assert stack.wait(arn)["status"] == "SUCCEEDED"
                return stack.transitions(arn)

            first = exports.released_firm(stack, "Firm One LLP", "tenant-b1", "one.law", 2)
            stack.api.call(
                "PUT", "/exports/schedules/csv", token=first.admin, body={"frequency": "daily", "hour": 6}
            )
            one_firm = export_run(exports.SIX_IN_CHICAGO)
            for n in (2, 3):
                other = exports.released_firm(stack, f"Firm {n} LLP", f"tenant-b{n}", f"f{n}.law", 2)
                stack.api.call(
                    "PUT", "/exports/schedules/csv", token=other.admin, body={"frequency": "daily", "hour": 6}
                )
            three_firms = export_run("2026-03-11T11:00:00+00:00")
    finally:
        mint.close()

    per_firm = (three_firms - one_firm) / 2
    print(f"bench: invoice approval transitions = {plain} transitions")
    print(f"bench: invoice dispute round transitions = {disputed - plain} transitions")
    print(f"bench: invoice reminder transitions = {reminded - plain} transitions")
    print(f"bench: export transitions per firm = {per_firm:g} transitions")
    print(f"bench: export fixed transitions = {one_firm - per_firm:g} transitions")
    print(f"bench: export 3 firms ratio = {three_firms / one_firm:.2f}")
    print(f"bench: invoice approval cost = {plain * PRICE_PER_TRANSITION * 1000:.3f} USD per 1000 invoices")


if __name__ == "__main__":
    main()
