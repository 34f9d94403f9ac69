"""Two staff approving one invoice at once, and crashed multi-step changes completed by a retry.

On the in-memory twin (real locking) the two approvals run in threads that both read the invoice and both
decide before either writes; on moto's DynamoDB the second approval is sequentially stale. Either way
exactly one succeeds, the other is a 409 (``StaleVersion``), and the totals and the case allocation are
exactly those of one approval.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.adapters.persistence.contractors import TableContractorRepository
from chalicelib.adapters.persistence.memory_table import MemoryTable
from chalicelib.api.errors import from_domain_error
from chalicelib.domain.contractors.lookups import BtStatus, InvoiceStatus
from chalicelib.domain.errors import StaleVersion
from chalicelib.domain.identity import Principal, Role
from tests.support.clock import ManualClock
from tests.support.contractors import ServiceWorld, seed_service_world


class RacingRepository(TableContractorRepository):
    """Holds every invoice commit until two of them have been decided: both approvals read the same
    version and decide before either writes."""

    def __init__(self, table: Any, clock: Any, barrier: threading.Barrier) -> None:
        super().__init__(table, clock)
        self._barrier = barrier

    def commit_invoice(self, **kwargs: Any) -> Any:
        self._barrier.wait(timeout=10)
        return super().commit_invoice(**kwargs)


def verified_invoice(world: ServiceWorld, count: int = 3) -> Any:
    view = world.invoice_of(world.log_copies(count))
    view = world.act(view, "submit", world.casey)
    return world.act(view, "verify")


def second_staff(world: ServiceWorld) -> Principal:
    return Principal(world.firm_id, "tess", "user", frozenset({Role.CONTRACTOR_STAFF}))


def test_two_staff_approving_at_once_one_wins_the_other_gets_409_and_totals_stay_exact() -> None:
    world = seed_service_world(MemoryTable(), ManualClock())
    view = verified_invoice(world)
    barrier = threading.Barrier(2)
    racing = world.with_permissions(world.service._role_permissions)
    racing._repo = RacingRepository(world.table, world.clock, barrier)
    outcomes: list[Any] = []

    def approve(principal: Principal) -> None:
        try:
            outcomes.append(
                racing.act(principal, view.invoice.invoice_id, action("approve"), view.invoice.version, {})
            )
        except StaleVersion as stale:
            outcomes.append(stale)

    threads = [threading.Thread(target=approve, args=(p,)) for p in (world.staff, second_staff(world))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    refused = [o for o in outcomes if isinstance(o, StaleVersion)]
    approved = [o for o in outcomes if not isinstance(o, StaleVersion)]
    assert len(approved) == 1 and len(refused) == 1
    assert from_domain_error(refused[0]).status_code == 409
    assert_approved_once(world, view.invoice.invoice_id, Decimal("3.00"))


def action(name: str) -> Any:
    from chalicelib.domain.contractors.permissions import InvoiceAction

    return InvoiceAction(name)


def assert_approved_once(world: ServiceWorld, invoice_id: str, total: Decimal) -> None:
    final = world.service.invoice(world.staff, invoice_id)
    assert final.invoice.status is InvoiceStatus.APPROVED and final.invoice.total == total
    case = world.service.case(world.staff, world.matter_id)
    assert case.budget.approved == total
    assert [line.reason.value for line in case.log] == ["invoice_approved"]
    approvals = [e for e in world.events.published if e.name == "InvoiceApproved"]
    assert len(approvals) == 1


def test_on_dynamodb_the_second_of_two_approvals_read_at_the_same_version_is_a_409(
    dynamodb_table: Any,
) -> None:
    world = seed_service_world(dynamodb_table, ManualClock())
    view = verified_invoice(world)

    first = world.act(view, "approve", world.staff)
    with pytest.raises(StaleVersion) as stale:
        world.act(view, "approve", second_staff(world))

    assert first.invoice.status is InvoiceStatus.APPROVED
    assert from_domain_error(stale.value).status_code == 409
    assert_approved_once(world, view.invoice.invoice_id, Decimal("3.00"))


def end_state(world: ServiceWorld, invoice_id: str) -> tuple[Any, ...]:
    view = world.service.invoice(world.staff, invoice_id)
    pool = world.service.pool(world.staff, world.casey_ref)
    return (
        view.invoice.status,
        view.invoice.total,
        view.invoice.bt_count,
        sorted(bt.status.value for bt in view.bts),
        sorted(bt.status.value for bt in pool),
        world.service.case(world.staff, world.matter_id).budget.approved,
    )


@pytest.mark.parametrize("table_kind", ["memory", "dynamodb"])
def test_an_approval_interrupted_mid_way_completes_on_the_next_read_as_one_clean_run(
    table_kind: str, request: pytest.FixtureRequest
) -> None:
    table = MemoryTable() if table_kind == "memory" else request.getfixturevalue("dynamodb_table")

    def prepared(firm_id: str) -> tuple[ServiceWorld, Any]:
        # 60 of 70 BTs denied: approval returns 60 BTs to the pool, in batches of 49 and 11.
        world = seed_service_world(table, ManualClock(), firm_id)
        ids = world.log_copies(70)
        view = world.act(world.invoice_of(ids), "submit", world.casey)
        view = world.act(view, "deny_bts", bt_ids=ids[10:], reason="duplicates")
        return world, world.act(view, "verify")

    clean_world, clean = prepared("f-clean")
    clean_world.act(clean, "approve")
    crashed_world, crashed = prepared("f-crashed")

    with pytest.raises(RuntimeError, match="simulated crash"):
        crashed_world.service.act(
            crashed_world.staff,
            crashed.invoice.invoice_id,
            action("approve"),
            crashed.invoice.version,
            {},
            fail_after_batches=1,
        )
    repository = crashed_world.service._repo
    assert len(repository.bts_of_invoice_raw(crashed_world.firm_id, crashed.invoice.invoice_id)) == 70 - 49

    assert end_state(crashed_world, crashed.invoice.invoice_id) == end_state(
        clean_world, clean.invoice.invoice_id
    )
    with pytest.raises(StaleVersion):  # the client's own retry: the approval already happened
        crashed_world.act(crashed, "approve")
    assert end_state(crashed_world, crashed.invoice.invoice_id)[4] == [BtStatus.DENIED.value] * 60
