"""A waiting step of the invoice approval workflow reads the same decision from the invoice's status as
the transition's event would have signalled it, and invoice events carry the version they commit."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from chalicelib.adapters.workflows.contractor_events import DECISIONS
from chalicelib.domain.contractors.approval_steps import STEPS, outcome_from_status
from chalicelib.domain.contractors.events import InvoiceEvent
from chalicelib.domain.contractors.invoices import ALLOWED_FROM, verify_invoice
from chalicelib.domain.contractors.lookups import InvoiceStatus
from chalicelib.domain.contractors.permissions import InvoiceAction
from chalicelib.domain.errors import Conflict, Forbidden
from tests.support.contractors import ALICE_ACTOR, AT, STAFF, invoice_in
from tests.unit.test_contractor_invoices import perform

S = InvoiceStatus
WAITS_WHILE = {
    "verify": S.SUBMITTED,
    "resubmit": S.DISPUTED,
    "approve": S.VERIFIED,
    "schedule": S.APPROVED,
    "pay": S.PAYMENT_SCHEDULED,
}
ASL = Path(__file__).parents[2] / "infra" / "statemachines" / "invoice_approval.asl.json"


@pytest.mark.parametrize("step", STEPS)
def test_a_step_keeps_waiting_while_the_invoice_is_where_it_waits(step: str) -> None:
    assert outcome_from_status(step, WAITS_WHILE[step]) is None


@pytest.mark.parametrize("step", STEPS)
def test_every_transition_out_of_a_waiting_status_reads_as_the_decision_its_event_signals(step: str) -> None:
    checked = 0
    for action, sources in ALLOWED_FROM.items():
        if action is InvoiceAction.VIEW or WAITS_WHILE[step] not in sources:
            continue
        invoice, bts = invoice_in(WAITS_WHILE[step])
        for actor in (STAFF, ALICE_ACTOR):
            try:
                change = perform(action, invoice, bts, actor)
            except (Forbidden, Conflict):
                continue
            for event in change.events:
                decision = DECISIONS.get(type(event)) if isinstance(event, InvoiceEvent) else None
                if decision is None or step not in decision[0] or change.invoice is None:
                    continue
                assert outcome_from_status(step, change.invoice.status) == decision[1], (action, event.name)
                checked += 1
            break
    assert checked, f"no transition answers {step}"


@pytest.mark.parametrize("step", STEPS)
def test_every_outcome_read_from_a_status_is_one_the_state_machine_decides_on(step: str) -> None:
    states = json.loads(ASL.read_text())["States"]
    wait = next(
        state
        for state in states.values()
        if state.get("Parameters", {}).get("Payload", {}).get("step") == step
    )
    accepted = {choice["StringEquals"] for choice in states[wait["Next"]]["Choices"]}
    read = {outcome_from_status(step, status) for status in S} - {None}
    assert read and read <= accepted


def test_an_invoice_event_carries_the_version_its_transition_commits() -> None:
    invoice, bts = invoice_in(S.SUBMITTED)
    change = verify_invoice(replace(invoice, version=4), bts, actor=STAFF, at=AT)
    assert {event.invoice_version for event in change.events if isinstance(event, InvoiceEvent)} == {5}
