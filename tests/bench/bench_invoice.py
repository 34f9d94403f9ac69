"""An invoice of 2,000 billing transactions: create, submit, verify, approve, against moto's DynamoDB.

The whole production path runs: ``ContractorService`` on ``TableContractorRepository`` on ``DynamoTable``
(the real boto3 adapter) against moto's in-process DynamoDB with the table of ``infra/template.yaml``.
Every DynamoDB API call the four steps make is counted by a botocore event hook on the client
(``before-call.dynamodb.*``), so the request figure is exact, not estimated.

The BTs are logged first, through the domain and the repository's own item layout, one item and its
audit record at a time (setup, not measured: 2,000 transactions would only measure moto). Then, timed
and counted together: the contractor creates the invoice from all of them (the invoice's one
conditional write, then the BTs follow in batches of 49 BTs + their audit records per transaction),
submits it (one write), staff verify it (every BT becomes verified: the same batched sync) and approve
it (one write with the case allocation's deduction).

moto (5.2.5) deep-copies the WHOLE table once per operation of a TransactWriteItems call, to roll back
on failure: a 98-operation transaction on a table of 6,000 items copies 600,000 items and the run needs
gigabytes. ``devstack.aws.moto_fixes`` makes it copy each table once per call, which keeps the rollback
(and so DynamoDB's semantics) and leaves the request count untouched. Real DynamoDB has no such cost.

Figures:

    invoice 2000 BTs seconds     wall time of create + submit + verify + approve
    invoice 2000 BTs requests    DynamoDB API calls of those four steps
    invoice 20 BTs seconds / requests       the same for 20 BTs (the baseline, same run)
    invoice requests per BT ratio           (requests 2000 - requests 20) / 1980: the marginal cost of a BT
    invoice 2000 BTs ratio                  requests 2000 / requests 20
    invoices by status queries   Query calls of the staff's "invoices by status" listing (must be 1)
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

for _variable in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "MATTERLINE_AWS_ENDPOINT_URL"):
    os.environ.pop(_variable, None)
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    }
)

LARGE = int(os.environ.get("BENCH_INVOICE_BTS", "2000"))
SMALL = 20


class CallCounter:
    """Counts DynamoDB API calls by operation name (a botocore ``before-call`` hook)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __call__(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    def total(self) -> int:
        return sum(self.calls.values())


def log_quickly(world: Any, count: int) -> list[str]:
    """``count`` copies BTs written as ``save_bt`` lays them out, without a transaction each (setup)."""
    from datetime import date

    from chalicelib.domain.contractors.transactions import log_product_service

    repository = world.service._repo
    work_order = repository.work_order(world.firm_id, world.work_order_id)
    ids = []
    for number in range(count):
        bt = log_product_service(
            work_order,
            "psr-1",
            bt_id=f"bt-{number:05d}",
            work_date=date(2026, 3, 9),
            units="10",
            actor="user:casey",
            at=world.clock.now(),
        ).bt
        for operation in repository.bt_change_operations(
            bt, "user:casey", "log", before=None, service_record=None, removed=None
        ):
            world.table.put(operation.item)
        ids.append(bt.bt_id)
    return ids


def run(table: Any, counter: CallCounter, firm_id: str, count: int) -> tuple[float, int, Counter[str]]:
    """Log ``count`` BTs, then time and count create + submit + verify + approve of one invoice."""
    from decimal import Decimal

    from tests.support.clock import ManualClock
    from tests.support.contractors import seed_service_world

    world = seed_service_world(table, ManualClock(), firm_id)
    ids = log_quickly(world, count)
    counter.calls.clear()
    started = time.perf_counter()
    view = world.invoice_of(ids)
    view = world.act(view, "submit", world.casey)
    view = world.act(view, "verify")
    view = world.act(view, "approve")
    elapsed = time.perf_counter() - started
    calls = Counter(counter.calls)
    assert view.invoice.status.value == "approved"
    assert view.invoice.bt_count == count and view.invoice.total == Decimal(count) * Decimal("1.00")
    assert {bt.status.value for bt in view.bts} == {"verified"} and len(view.bts) == count
    return elapsed, sum(calls.values()), calls


def main() -> None:
    import boto3
    from moto import mock_aws

    from chalicelib.adapters.persistence.dynamodb_table import DynamoTable
    from chalicelib.domain.contractors.lookups import InvoiceStatus
    from devstack.aws.moto_fixes import back_up_each_table_once
    from tests.support.aws import create_table
    from tests.support.clock import ManualClock
    from tests.support.contractors import seed_service_world

    back_up_each_table_once()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client, "matterline-bench")
        counter = CallCounter()
        client.meta.events.register("before-call.dynamodb", counter)
        table = DynamoTable(client, "matterline-bench")

        small_seconds, small_requests, _ = run(table, counter, "f-small", SMALL)
        large_seconds, large_requests, large_calls = run(table, counter, "f-large", LARGE)

        world = seed_service_world(table, ManualClock(), "f-queue")
        for _ in range(3):
            world.act(world.invoice_of(world.log_copies(2)), "submit", world.casey)
        counter.calls.clear()
        page = world.service.invoices(world.staff, InvoiceStatus.SUBMITTED, None, None, 50)
        listing_queries = counter.calls["Query"]
        assert len(page.items) == 3

    print(f"bench: invoice {LARGE} BTs seconds = {large_seconds:.2f} s")
    print(f"bench: invoice {LARGE} BTs requests = {large_requests} requests")
    print(f"bench: invoice {LARGE} BTs requests by operation = {dict(sorted(large_calls.items()))}")
    print(f"bench: invoice {SMALL} BTs seconds = {small_seconds:.3f} s")
    print(f"bench: invoice {SMALL} BTs requests = {small_requests} requests")
    print(f"bench: invoice requests per BT ratio = {(large_requests - small_requests) / (LARGE - SMALL):.4f}")
    print(f"bench: invoice {LARGE} BTs ratio = {large_requests / small_requests:.2f}")
    print(f"bench: invoices by status queries = {listing_queries}")


if __name__ == "__main__":
    main()
