"""What the contractor service stamps on what it does: invoice events carry the version their transition
wrote (the invoice workflow orders its decision log by it), and "today" is the firm's today."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from tests.integration.test_contractor_concurrency import verified_invoice
from tests.support.clock import ManualClock
from tests.support.contractors import seed_service_world


def test_each_invoice_event_carries_the_version_its_transition_wrote_on_dynamodb(dynamodb_table: Any) -> None:
    world = seed_service_world(dynamodb_table, ManualClock())
    view = verified_invoice(world)
    view = world.act(view, "approve")

    written = [
        e.invoice_version for e in world.events.published if e.name in {"InvoiceSubmitted", "InvoiceApproved"}
    ]
    stored = world.service.invoice(world.staff, view.invoice.invoice_id).invoice.version
    assert written[-1] == stored == view.invoice.version
    assert written == sorted(set(written)), "the workflow orders its decision log by these versions"


def test_pay_periods_turn_over_at_the_firms_midnight_not_at_utcs(dynamodb_table: Any) -> None:
    from chalicelib.adapters.persistence.repositories import TableFirmRepository
    from chalicelib.domain.roster import Firm

    # 21:00 on 15 March in New York is already the 16th in UTC: the 1st-15th period is still current.
    clock = ManualClock(datetime(2026, 3, 16, 1, 0, tzinfo=UTC))
    world = seed_service_world(dynamodb_table, clock)
    TableFirmRepository(dynamodb_table, clock).add(
        Firm(world.firm_id, "Night Owls LLP", "tenant-owls", time_zone="America/New_York"), actor="test"
    )

    current = world.service.pay_periods(world.staff, 1)[0]
    assert (current.start, current.end) == (date(2026, 3, 1), date(2026, 3, 15))

    clock.advance(hours=4)  # 01:00 on the 16th in New York
    current = world.service.pay_periods(world.staff, 1)[0]
    assert (current.start, current.end) == (date(2026, 3, 16), date(2026, 3, 31))
