"""The contractor repository against both tables (in-memory twin and moto's DynamoDB): the same results."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from chalicelib.adapters.persistence.contractors_codec import dumps, loads
from chalicelib.domain.contractors.invoices import Invoice
from chalicelib.domain.contractors.lookups import BtStatus, InvoiceStatus
from chalicelib.domain.contractors.transactions import BillingTransaction
from chalicelib.domain.contractors.work_orders import WorkOrder
from chalicelib.domain.errors import StaleVersion
from tests.support.clock import ManualClock
from tests.support.contractors import a_work_order, invoice_in, seed_service_world


def test_records_round_trip_exactly_through_their_stored_form() -> None:
    work_order = a_work_order()
    invoice, bts = invoice_in(InvoiceStatus.PAID)
    assert loads(WorkOrder, dumps(work_order)) == work_order
    assert loads(Invoice, dumps(invoice)) == invoice
    assert [loads(BillingTransaction, dumps(bt)) for bt in bts] == bts
    assert '"amount":"42.50"' in dumps(bts[-1])  # money is text, never a float


def test_an_invoice_of_many_transactions_moves_them_in_batches_and_keeps_every_screen_one_query(
    table: Any,
) -> None:
    world = seed_service_world(table, ManualClock())
    ids = world.log_copies(120, units="1")
    view = world.invoice_of(ids)
    repository = world.service._repo

    assert view.invoice.bt_count == 120 and view.invoice.total == Decimal("12.00")
    assert repository.pool(world.firm_id, world.casey_ref) == []
    on_invoice = repository.bts_of_invoice_raw(world.firm_id, view.invoice.invoice_id)
    assert {bt.status for bt in on_invoice} == {BtStatus.INVOICED} and len(on_invoice) == 120
    submitted = world.act(world.act(view, "submit", world.casey), "verify")
    assert {bt.status for bt in submitted.bts} == {BtStatus.VERIFIED}

    table.stats.queries = 0
    page = repository.invoices_by_status(world.firm_id, InvoiceStatus.VERIFIED, None, 10)
    assert [i.invoice_id for i in page.items] == [view.invoice.invoice_id] and table.stats.queries == 1


def test_a_deleted_invoice_leaves_no_trace_but_its_audit_and_its_transactions_in_the_pool(table: Any) -> None:
    world = seed_service_world(table, ManualClock())
    ids = world.log_copies(60)
    view = world.invoice_of(ids)

    world.service.act(world.casey, view.invoice.invoice_id, _action("delete"), view.invoice.version, {})

    repository = world.service._repo
    assert repository.invoice(world.firm_id, view.invoice.invoice_id) is None
    pool = repository.pool(world.firm_id, world.casey_ref)
    assert len(pool) == 60 and {bt.status for bt in pool} == {BtStatus.PENDING}
    assert all(bt.invoice_id is None for bt in pool)


def test_a_stale_work_order_version_is_refused(table: Any) -> None:
    world = seed_service_world(table, ManualClock())
    current = world.service.work_order(world.staff, world.work_order_id)[0]
    world.service.complete_work_order(world.staff, world.work_order_id, current.version)
    with pytest.raises(StaleVersion):
        world.service.reopen_work_order(world.staff, world.work_order_id, current.version)


def _action(name: str) -> Any:
    from chalicelib.domain.contractors.permissions import InvoiceAction

    return InvoiceAction(name)
