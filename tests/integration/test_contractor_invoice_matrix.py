"""Every invoice state x every action x the action's permission present or absent, through the service.

The pure domain has its own table-driven test; this one proves the service's wiring: the service reaches
the same outcome as the domain given the same invoice, its BTs and the same actor (the role mapping
decides the actor's permissions), and the rules of the seed hold on top:

- without the action's permission: refused (403), whatever the state;
- with it, in a state the action does not start from: refused (409);
- otherwise exactly what the domain decides (some actions have preconditions of their own), and a
  refusal changes nothing in the table.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from chalicelib.adapters.persistence.memory_table import MemoryTable
from chalicelib.domain.contractors import invoices as domain
from chalicelib.domain.contractors.lookups import InvoiceStatus, LookupKind
from chalicelib.domain.contractors.pay_periods import period_starting
from chalicelib.domain.contractors.permissions import (
    DEFAULT_ROLE_PERMISSIONS,
    INVOICE_ACTION_PERMISSIONS,
    ContractorPermission,
    InvoiceAction,
    actor_for,
)
from chalicelib.domain.errors import DomainError, Forbidden
from chalicelib.domain.identity import Role
from tests.support.clock import ManualClock
from tests.support.contractors import PAY_PERIODS, ServiceWorld, seed_service_world

ACTIONS = [a for a in InvoiceAction if a not in (InvoiceAction.CREATE, InvoiceAction.VIEW)]
STATES = list(InvoiceStatus)
_BLANKET = ContractorPermission.INVOICE_CREATE_EDIT


def the_permission(action: InvoiceAction) -> ContractorPermission:
    """The permission that decides the action: its specific one, or the blanket one."""
    specific = INVOICE_ACTION_PERMISSIONS[action] - {_BLANKET}
    return next(iter(specific)) if specific else _BLANKET


def drive_to(world: ServiceWorld, status: InvoiceStatus) -> tuple[Any, list[str]]:
    """An invoice of three BTs in ``status``; from submitted on, the second BT is disputed."""
    ids = world.log_copies(3)
    view = world.invoice_of(ids)
    steps: list[tuple[str, dict[str, Any]]] = []
    if status is not InvoiceStatus.DRAFT:
        steps += [("submit", {}), ("dispute_bts", {"bt_ids": [ids[1]], "reason": "not asked for"})]
    if status is InvoiceStatus.DISPUTED:
        steps.append(("dispute", {}))
    if status in (
        InvoiceStatus.VERIFIED,
        InvoiceStatus.APPROVED,
        InvoiceStatus.PAYMENT_SCHEDULED,
        InvoiceStatus.PAID,
    ):
        steps.append(("verify", {}))
    if status in (InvoiceStatus.APPROVED, InvoiceStatus.PAYMENT_SCHEDULED, InvoiceStatus.PAID):
        steps.append(("approve", {}))
    if status in (InvoiceStatus.PAYMENT_SCHEDULED, InvoiceStatus.PAID):
        steps.append(("schedule", {"pay_period_start": date(2026, 3, 1)}))
    if status is InvoiceStatus.PAID:
        steps.append(("pay", {"payment_method": "check", "payment_reference": "CHK-1"}))
    for action, params in steps:
        view = world.act(view, action, **params)
    assert view.invoice.status is status
    return view, ids


def params_for(action: InvoiceAction, ids: list[str], fresh: str) -> dict[str, Any]:
    return {
        InvoiceAction.ADD_BTS: {"bt_ids": [fresh]},
        InvoiceAction.REMOVE_BTS: {"bt_ids": [ids[0]]},
        InvoiceAction.EDIT_DETAILS: {"invoice_date": date(2026, 3, 9), "due_date": date(2026, 4, 9)},
        InvoiceAction.ADD_NOTE: {"note": "please call"},
        InvoiceAction.VERIFY_BTS: {"bt_ids": [ids[0]]},
        InvoiceAction.DISPUTE_BTS: {"bt_ids": [ids[0]], "reason": "wrong date"},
        InvoiceAction.DENY_BTS: {"bt_ids": [ids[0]], "reason": "duplicate"},
        InvoiceAction.SCHEDULE: {"pay_period_start": date(2026, 3, 16)},
        InvoiceAction.PAY: {"payment_method": "check", "payment_reference": "CHK-2"},
    }.get(action, {})


def domain_outcome(
    world: ServiceWorld, role_permissions: Any, view: Any, action: InvoiceAction, params: dict[str, Any]
) -> str:
    """What the pure domain decides for the same invoice, BTs and actor: 'ok' or the error's code."""
    invoice, bts = world.service._repo.invoice_with_bts(world.firm_id, view.invoice.invoice_id)
    actor = actor_for(world.staff, role_permissions)
    at = world.clock.now()
    pool = {bt.bt_id: bt for bt in world.service._repo.pool(world.firm_id, world.casey_ref)}
    method = world.service._repo.lookup(world.firm_id, LookupKind.PAYMENT_METHOD)[0].get("check")
    calls: dict[InvoiceAction, Callable[[], Any]] = {
        InvoiceAction.ADD_BTS: lambda: domain.add_bts(
            invoice, bts, [pool[i] for i in params.get("bt_ids", [])], actor=actor, at=at
        ),
        InvoiceAction.REMOVE_BTS: lambda: domain.remove_bts(
            invoice, bts, params["bt_ids"], actor=actor, at=at
        ),
        InvoiceAction.EDIT_DETAILS: lambda: domain.edit_details(
            invoice, actor=actor, at=at, invoice_date=params["invoice_date"], due_date=params["due_date"]
        ),
        InvoiceAction.ADD_NOTE: lambda: domain.add_note(
            invoice, actor=actor, at=at, note_id="x", text=params["note"]
        ),
        InvoiceAction.DELETE: lambda: domain.delete_invoice(invoice, bts, actor=actor, at=at),
        InvoiceAction.SUBMIT: lambda: domain.submit(invoice, bts, actor=actor, at=at),
        InvoiceAction.RETURN_TO_DRAFT: lambda: domain.return_to_draft(invoice, bts, actor=actor, at=at),
        InvoiceAction.VERIFY_BTS: lambda: domain.verify_bts(
            invoice, bts, params["bt_ids"], actor=actor, at=at
        ),
        InvoiceAction.DISPUTE_BTS: lambda: domain.dispute_bts(
            invoice, bts, params["bt_ids"], reason=params["reason"], actor=actor, at=at
        ),
        InvoiceAction.DENY_BTS: lambda: domain.deny_bts(
            invoice, bts, params["bt_ids"], reason=params["reason"], actor=actor, at=at
        ),
        InvoiceAction.VERIFY: lambda: domain.verify_invoice(invoice, bts, actor=actor, at=at),
        InvoiceAction.DISPUTE: lambda: domain.dispute_invoice(invoice, bts, actor=actor, at=at),
        InvoiceAction.RESUBMIT: lambda: domain.resubmit(invoice, bts, actor=actor, at=at),
        InvoiceAction.APPROVE: lambda: domain.approve(invoice, bts, actor=actor, at=at),
        InvoiceAction.UNAPPROVE: lambda: domain.unapprove(invoice, bts, actor=actor, at=at),
        InvoiceAction.SCHEDULE: lambda: domain.schedule(
            invoice,
            period=period_starting(PAY_PERIODS, params["pay_period_start"]),
            pay_periods=PAY_PERIODS,
            today=at.date(),
            actor=actor,
            at=at,
        ),
        InvoiceAction.PAY: lambda: domain.pay(
            invoice,
            bts,
            payment_method=method,
            payment_reference=params["payment_reference"],
            actor=actor,
            at=at,
        ),
    }
    try:
        calls[action]()
    except DomainError as error:
        return error.code
    return "ok"


@pytest.mark.parametrize("permitted", [True, False], ids=["permitted", "not-permitted"])
@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.value)
@pytest.mark.parametrize("status", STATES, ids=lambda s: s.value)
def test_the_service_decides_every_action_in_every_state_as_the_rules_say(
    status: InvoiceStatus, action: InvoiceAction, permitted: bool
) -> None:
    world = seed_service_world(MemoryTable(), ManualClock())
    view, ids = drive_to(world, status)
    fresh = world.log_copies(1)[0]
    permissions = dict(DEFAULT_ROLE_PERMISSIONS)
    if not permitted:
        permissions[Role.CONTRACTOR_STAFF] = permissions[Role.CONTRACTOR_STAFF] - {the_permission(action)}
    probe = world.with_permissions(permissions)
    params = params_for(action, ids, fresh)
    expected = domain_outcome(world, permissions, view, action, params)
    before = world.table.all_items()

    try:
        probe.act(world.staff, view.invoice.invoice_id, action, view.invoice.version, params)
        outcome = "ok"
    except DomainError as error:
        outcome = error.code
        assert world.table.all_items() == before

    assert outcome == expected
    if not permitted:
        assert outcome == Forbidden.code
    elif status not in domain.ALLOWED_FROM[action]:
        assert outcome == "conflict"
