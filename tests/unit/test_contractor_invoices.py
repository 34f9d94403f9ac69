"""Invoices move through the seed's seven states by exactly the seed's transitions, each guarded by the
right permission, and their totals always add up to the cent."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.contractors.allocations import AnnualStanding
from chalicelib.domain.contractors.contractors import ContractorKind, ContractorRef
from chalicelib.domain.contractors.events import (
    BtDenied,
    BtDisputed,
    InvoiceApproved,
    InvoiceNoteAdded,
    InvoicePaid,
    InvoiceScheduled,
    InvoiceSubmitted,
    InvoiceUnapproved,
)
from chalicelib.domain.contractors.invoices import (
    ALLOWED_FROM,
    Invoice,
    InvoiceChange,
    add_bts,
    add_note,
    approve,
    available_actions,
    bulk_apply,
    create_invoice,
    delete_invoice,
    deny_bts,
    dispute_bts,
    dispute_invoice,
    edit_details,
    invoice_totals,
    pay,
    payee_name,
    refresh_totals,
    remove_bts,
    resubmit,
    return_to_draft,
    schedule,
    submit,
    unapprove,
    verify_bts,
    verify_invoice,
)
from chalicelib.domain.contractors.lookups import BtStatus, BtType, InvoiceStatus, LookupKind, new_user_value
from chalicelib.domain.contractors.pay_periods import PayPeriod, period_containing
from chalicelib.domain.contractors.permissions import (
    INVOICE_ACTION_PERMISSIONS,
    ContractorActor,
    ContractorPermission,
    InvoiceAction,
)
from chalicelib.domain.contractors.settings import ContractorAddOns, ContractorSettings, NotifiedAction
from chalicelib.domain.contractors.transactions import BillingTransaction, log_product_service, revise_bt
from chalicelib.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from tests.support.contractors import (
    ACME,
    ALICE,
    ALICE_ACTOR,
    ALL_ADD_ONS,
    AT,
    BOB,
    BOB_ACTOR,
    CASE_ONE,
    CASE_TWO,
    CHECK,
    CURRENT_PERIOD,
    FIRM,
    OTHER_STAFF,
    PAY_PERIODS,
    STAFF,
    STAFF_PERMISSIONS,
    TODAY,
    a_work_order,
    copies_bt,
    draft_invoice,
    invoice_in,
    merged,
    mileage_bt,
    pool_of_bts,
)

NEXT_PERIOD = period_containing(PAY_PERIODS, CURRENT_PERIOD.end + timedelta(days=1))
S = InvoiceStatus
A = InvoiceAction


def present(change: InvoiceChange) -> Invoice:
    assert change.invoice is not None
    return change.invoice


# ------------------------------------------------------------------ the table: state x action x permission


def perform(action: InvoiceAction, invoice: Invoice, bts: list[BillingTransaction], actor: ContractorActor):
    """Take one action with sensible arguments."""
    if action is A.ADD_BTS:
        extra = copies_bt(a_work_order(work_order_id="wo-9"), "bt-new", "5")
        return add_bts(invoice, bts, [extra], actor=actor, at=AT)
    if action is A.REMOVE_BTS:
        return remove_bts(invoice, bts, ["bt-1"], actor=actor, at=AT)
    if action is A.EDIT_DETAILS:
        return edit_details(
            invoice, actor=actor, at=AT, invoice_date=TODAY, due_date=TODAY + timedelta(days=30)
        )
    if action is A.ADD_NOTE:
        return add_note(invoice, actor=actor, at=AT, note_id="n-table", text="Checked against the docket")
    if action is A.DELETE:
        return delete_invoice(invoice, bts, actor=actor, at=AT)
    if action is A.SUBMIT:
        return submit(invoice, bts, actor=actor, at=AT)
    if action is A.RETURN_TO_DRAFT:
        return return_to_draft(invoice, bts, actor=actor, at=AT)
    if action is A.VERIFY_BTS:
        return verify_bts(invoice, bts, ["bt-1"], actor=actor, at=AT)
    if action is A.DISPUTE_BTS:
        return dispute_bts(invoice, bts, ["bt-1"], reason="Hours look high", actor=actor, at=AT)
    if action is A.DENY_BTS:
        return deny_bts(invoice, bts, ["bt-1"], reason="Not authorised", actor=actor, at=AT)
    if action is A.VERIFY:
        return verify_invoice(invoice, bts, actor=actor, at=AT)
    if action is A.DISPUTE:
        return dispute_invoice(invoice, bts, actor=actor, at=AT)
    if action is A.RESUBMIT:
        return resubmit(invoice, bts, actor=actor, at=AT)
    if action is A.APPROVE:
        return approve(invoice, bts, actor=actor, at=AT)
    if action is A.UNAPPROVE:
        return unapprove(invoice, bts, actor=actor, at=AT)
    if action is A.SCHEDULE:
        return schedule(invoice, period=NEXT_PERIOD, pay_periods=PAY_PERIODS, today=TODAY, actor=actor, at=AT)
    if action is A.PAY:
        return pay(invoice, bts, payment_method=CHECK, payment_reference="CHK-7", actor=actor, at=AT)
    raise AssertionError(action)


STATUS_AFTER: dict[InvoiceAction, InvoiceStatus | None] = {
    A.DELETE: None,
    A.SUBMIT: S.SUBMITTED,
    A.RETURN_TO_DRAFT: S.DRAFT,
    A.VERIFY: S.VERIFIED,
    A.DISPUTE: S.DISPUTED,
    A.RESUBMIT: S.SUBMITTED,
    A.APPROVE: S.APPROVED,
    A.UNAPPROVE: S.VERIFIED,
    A.SCHEDULE: S.PAYMENT_SCHEDULED,
    A.PAY: S.PAID,
}
TABLE_ACTIONS = [a for a in InvoiceAction if a not in (A.CREATE, A.VIEW)]
CASES = [
    (status, action, missing)
    for status in InvoiceStatus
    for action in TABLE_ACTIONS
    for missing in (None, *sorted(INVOICE_ACTION_PERMISSIONS[action]))
]


@pytest.mark.parametrize(
    ("status", "action", "missing"),
    CASES,
    ids=[f"{s.value}-{a.value}-{'granted' if m is None else 'without-' + m.value}" for s, a, m in CASES],
)
def test_every_state_action_and_permission_follows_the_seed(
    status: InvoiceStatus, action: InvoiceAction, missing: ContractorPermission | None
) -> None:
    invoice, bts = invoice_in(status)
    needed = INVOICE_ACTION_PERMISSIONS[action]
    # Granted: exactly the permissions the action needs. Missing: everything staff has but that one.
    actor = ContractorActor("user:s-x", needed if missing is None else STAFF_PERMISSIONS - {missing})
    if missing is not None:
        with pytest.raises(Forbidden):
            perform(action, invoice, bts, actor)
    elif status not in ALLOWED_FROM[action]:
        with pytest.raises(Conflict):
            perform(action, invoice, bts, actor)
    else:
        change = perform(action, invoice, bts, actor)
        expected = STATUS_AFTER.get(action, status)
        assert (None if change.invoice is None else change.invoice.status) == expected


def test_the_table_covers_every_state_and_every_action_with_and_without_permission() -> None:
    assert {s for s, _, _ in CASES} == set(InvoiceStatus)
    assert {a for _, a, _ in CASES} == set(TABLE_ACTIONS)
    assert all(any(m is None for s2, a2, m in CASES if (s2, a2) == (s, a)) for s, a, _ in CASES)


# ------------------------------------------------------------------ creating


def test_a_contractor_creates_a_draft_invoice_from_their_pending_transactions() -> None:
    invoice, bts = draft_invoice(actor=ALICE_ACTOR)
    assert invoice.status is S.DRAFT
    assert invoice.contractor == ALICE.ref
    assert invoice.total == Decimal("43.80") and invoice.bt_count == 3
    assert {bt.status for bt in bts} == {BtStatus.INVOICED}
    assert {bt.invoice_id for bt in bts} == {"inv-1"}


def test_staff_create_an_invoice_on_behalf_of_a_contractor() -> None:
    invoice, _ = draft_invoice(actor=STAFF)
    assert invoice.contractor == ALICE.ref and invoice.created_by == STAFF.actor


def test_a_contractor_cannot_create_an_invoice_for_another_contractor() -> None:
    with pytest.raises(NotFound):
        draft_invoice(actor=BOB_ACTOR)


def test_an_invoice_needs_at_least_one_transaction() -> None:
    with pytest.raises(InvalidInput, match="at least one"):
        draft_invoice(bts=[])


def test_another_contractors_transaction_cannot_go_on_an_invoice() -> None:
    bobs = copies_bt(a_work_order(assignee=BOB, work_order_id="wo-b"), "bt-b")
    with pytest.raises(InvalidInput, match="another contractor"):
        draft_invoice(bts=[*pool_of_bts(), bobs])


def test_a_transaction_already_on_an_invoice_cannot_go_on_another() -> None:
    _, bts = draft_invoice()
    with pytest.raises(Conflict, match="already on invoice inv-1"):
        draft_invoice(bts=bts[:1])


@pytest.mark.parametrize("status", [BtStatus.VERIFIED, BtStatus.PAID, BtStatus.INVOICED])
def test_settled_or_invoiced_transactions_are_not_in_the_pool(status: BtStatus) -> None:
    bt = replace(pool_of_bts()[0], status=status)
    with pytest.raises(Conflict):
        draft_invoice(bts=[bt])


def test_disputed_and_denied_transactions_from_the_pool_keep_their_status_on_a_new_invoice() -> None:
    disputed, denied, pending = pool_of_bts()
    _, bts = draft_invoice(
        bts=[replace(disputed, status=BtStatus.DISPUTED), replace(denied, status=BtStatus.DENIED), pending]
    )
    assert [bt.status for bt in bts] == [BtStatus.DISPUTED, BtStatus.DENIED, BtStatus.INVOICED]


def test_a_contractor_over_their_annual_allocation_is_not_offered_for_a_new_invoice() -> None:
    standing = AnnualStanding(
        ALICE.ref,
        TODAY.replace(month=1, day=1),
        TODAY.replace(month=12, day=31),
        Decimal(100),
        Decimal("100.01"),
    )
    with pytest.raises(Conflict, match="no longer offered"):
        create_invoice(
            firm_id=FIRM,
            invoice_id="inv-1",
            contractor=ALICE,
            bts=pool_of_bts(),
            actor=STAFF,
            at=AT,
            add_ons=ALL_ADD_ONS,
            standing=standing,
        )


def test_an_organization_invoice_needs_the_organizations_add_on() -> None:
    acme_wo = a_work_order(assignee=ACME, work_order_id="wo-acme", items=("p-copies",))
    bt = copies_bt(acme_wo, "bt-acme", psr_id="psr-1")
    with pytest.raises(InvalidInput, match="add-on"):
        create_invoice(
            firm_id=FIRM,
            invoice_id="inv-o",
            contractor=ACME,
            bts=[bt],
            actor=STAFF,
            at=AT,
            add_ons=ContractorAddOns(),
        )
    change = create_invoice(
        firm_id=FIRM, invoice_id="inv-o", contractor=ACME, bts=[bt], actor=STAFF, at=AT, add_ons=ALL_ADD_ONS
    )
    assert present(change).contractor == ContractorRef(ContractorKind.ORGANIZATION, "o-acme")


def test_an_inactive_contractor_gets_no_new_invoice() -> None:
    with pytest.raises(Conflict, match="not an active contractor"):
        create_invoice(
            firm_id=FIRM,
            invoice_id="inv-1",
            contractor=replace(ALICE, active=False),
            bts=pool_of_bts(),
            actor=STAFF,
            at=AT,
            add_ons=ALL_ADD_ONS,
        )


def test_a_note_and_dates_can_be_given_when_creating_and_the_due_date_cannot_precede_the_invoice_date() -> (
    None
):
    change = create_invoice(
        firm_id=FIRM,
        invoice_id="inv-1",
        contractor=ALICE,
        bts=pool_of_bts(),
        actor=ALICE_ACTOR,
        at=AT,
        add_ons=ALL_ADD_ONS,
        invoice_date=TODAY,
        due_date=TODAY + timedelta(days=30),
        note="March work",
    )
    invoice = present(change)
    assert [n.text for n in invoice.notes] == ["March work"] and invoice.notes[0].by_contractor
    assert any(isinstance(e, InvoiceNoteAdded) for e in change.events)
    with pytest.raises(InvalidInput, match="fall due"):
        create_invoice(
            firm_id=FIRM,
            invoice_id="inv-2",
            contractor=ALICE,
            bts=pool_of_bts(),
            actor=ALICE_ACTOR,
            at=AT,
            add_ons=ALL_ADD_ONS,
            invoice_date=TODAY,
            due_date=TODAY - timedelta(days=1),
        )


# ------------------------------------------------------------------ draft


def test_adding_and_removing_transactions_on_a_draft_keeps_the_running_totals() -> None:
    invoice, bts = draft_invoice()
    extra = copies_bt(a_work_order(work_order_id="wo-2"), "bt-4", "25")
    added = add_bts(invoice, bts, [extra], actor=ALICE_ACTOR, at=AT)
    invoice, bts = present(added), [*bts, *added.bts]
    assert invoice.total == Decimal("46.30") and invoice.bt_count == 4
    removed = remove_bts(invoice, bts, ["bt-3"], actor=ALICE_ACTOR, at=AT)
    assert present(removed).total == Decimal("3.80")
    assert [(bt.bt_id, bt.status, bt.invoice_id) for bt in removed.bts] == [("bt-3", BtStatus.PENDING, None)]


def test_removing_a_transaction_that_is_not_on_the_invoice_is_refused() -> None:
    invoice, bts = draft_invoice()
    with pytest.raises(NotFound, match="bt-x"):
        remove_bts(invoice, bts, ["bt-x"], actor=ALICE_ACTOR, at=AT)


def test_deleting_a_draft_returns_its_transactions_to_the_pool() -> None:
    invoice, bts = draft_invoice()
    change = delete_invoice(invoice, bts, actor=ALICE_ACTOR, at=AT)
    assert change.invoice is None
    assert {(bt.status, bt.invoice_id) for bt in change.bts} == {(BtStatus.PENDING, None)}


def test_an_empty_draft_cannot_be_submitted() -> None:
    invoice, bts = draft_invoice()
    emptied = remove_bts(invoice, bts, ["bt-1", "bt-2", "bt-3"], actor=ALICE_ACTOR, at=AT)
    with pytest.raises(Conflict, match="no billing transactions"):
        submit(present(emptied), [], actor=ALICE_ACTOR, at=AT)


def test_a_stale_list_of_transactions_is_refused() -> None:
    invoice, bts = draft_invoice()
    with pytest.raises(Conflict, match="reload"):
        submit(invoice, bts[:2], actor=ALICE_ACTOR, at=AT)


def test_submitting_tells_the_list_but_not_the_contractor_who_did_it() -> None:
    invoice, bts = draft_invoice()
    change = submit(invoice, bts, actor=ALICE_ACTOR, at=AT)
    (event,) = change.events
    assert isinstance(event, InvoiceSubmitted)
    assert event.notified_action is NotifiedAction.SUBMITTED and event.by_contractor
    assert event.total == Decimal("43.80")


# ------------------------------------------------------------------ submitted


def test_on_a_submitted_invoice_the_contractor_can_only_add_a_note_or_return_it_to_draft() -> None:
    invoice, bts = invoice_in(S.SUBMITTED)
    assert available_actions(ALICE_ACTOR, invoice, bts) == {A.VIEW, A.ADD_NOTE, A.RETURN_TO_DRAFT}


def test_returning_to_draft_undoes_verifications_but_keeps_disputes_and_denials() -> None:
    invoice, bts = invoice_in(S.SUBMITTED)
    step = verify_bts(invoice, bts, ["bt-1"], actor=STAFF, at=AT)
    bts = merged(bts, step.bts)
    step = deny_bts(invoice, bts, ["bt-3"], reason="No receipt", actor=STAFF, at=AT)
    bts = merged(bts, step.bts)
    change = return_to_draft(invoice, bts, actor=ALICE_ACTOR, at=AT)
    assert present(change).status is S.DRAFT
    assert {bt.bt_id: bt.status for bt in merged(bts, change.bts)} == {
        "bt-1": BtStatus.INVOICED,
        "bt-2": BtStatus.DISPUTED,
        "bt-3": BtStatus.DENIED,
    }


def test_staff_decide_each_transaction_and_disputes_and_denials_carry_a_reason() -> None:
    invoice, bts = invoice_in(S.SUBMITTED)
    disputed = dispute_bts(invoice, bts, ["bt-1"], reason="Which hearing?", actor=STAFF, at=AT)
    assert [(bt.status, bt.review_note) for bt in disputed.bts] == [(BtStatus.DISPUTED, "Which hearing?")]
    (event,) = disputed.events
    assert isinstance(event, BtDisputed) and event.notified_action is NotifiedAction.BT_DISPUTED
    assert not event.by_contractor
    denied = deny_bts(invoice, bts, ["bt-3"], reason="Mileage is not reimbursed", actor=STAFF, at=AT)
    (event,) = denied.events
    assert isinstance(event, BtDenied) and event.notified_action is NotifiedAction.BT_DENIED
    with pytest.raises(InvalidInput, match="say why"):
        dispute_bts(invoice, bts, ["bt-1"], reason="  ", actor=STAFF, at=AT)


def test_the_dispute_button_is_active_only_once_a_transaction_is_disputed_or_denied() -> None:
    invoice, bts = draft_invoice()
    invoice = present(submit(invoice, bts, actor=ALICE_ACTOR, at=AT))
    assert A.DISPUTE not in available_actions(STAFF, invoice, bts)
    with pytest.raises(Conflict, match="dispute or deny at least one"):
        dispute_invoice(invoice, bts, actor=STAFF, at=AT)
    step = deny_bts(invoice, bts, ["bt-2"], reason="Duplicate", actor=STAFF, at=AT)
    assert A.DISPUTE in available_actions(STAFF, invoice, merged(bts, step.bts))


def test_verifying_an_invoice_verifies_every_undecided_transaction_and_leaves_disputes_alone() -> None:
    invoice, bts = invoice_in(S.SUBMITTED)
    change = verify_invoice(invoice, bts, actor=STAFF, at=AT)
    assert present(change).status is S.VERIFIED and present(change).verified_by == STAFF.actor
    assert {bt.bt_id: bt.status for bt in merged(bts, change.bts)} == {
        "bt-1": BtStatus.VERIFIED,
        "bt-2": BtStatus.DISPUTED,
        "bt-3": BtStatus.VERIFIED,
    }


def test_an_invoice_whose_transactions_are_all_contested_cannot_be_verified() -> None:
    invoice, bts = invoice_in(S.SUBMITTED)
    step = deny_bts(invoice, bts, ["bt-1", "bt-3"], reason="Out of scope", actor=STAFF, at=AT)
    with pytest.raises(Conflict, match="dispute the invoice instead"):
        verify_invoice(invoice, merged(bts, step.bts), actor=STAFF, at=AT)


@pytest.mark.parametrize(
    "action", [A.VERIFY_BTS, A.DISPUTE_BTS, A.DENY_BTS, A.VERIFY, A.DISPUTE, A.APPROVE, A.SCHEDULE, A.PAY]
)
def test_nobody_reviews_approves_or_pays_their_own_invoice_whatever_their_role_grants(
    action: InvoiceAction,
) -> None:
    status = {A.APPROVE: S.VERIFIED, A.SCHEDULE: S.APPROVED, A.PAY: S.PAYMENT_SCHEDULED}.get(
        action, S.SUBMITTED
    )
    invoice, bts = invoice_in(status)
    alice_with_everything = ContractorActor(ALICE_ACTOR.actor, frozenset(ContractorPermission), ALICE.ref)
    with pytest.raises(Forbidden, match="your own invoice"):
        perform(action, invoice, bts, alice_with_everything)


def test_another_contractors_invoice_looks_as_if_it_did_not_exist() -> None:
    invoice, bts = invoice_in(S.DRAFT)
    with pytest.raises(NotFound):
        add_note(invoice, actor=BOB_ACTOR, at=AT, note_id="n-bob", text="hello")
    assert available_actions(BOB_ACTOR, invoice, bts) == frozenset()


# ------------------------------------------------------------------ disputed


def test_the_dispute_loop_can_go_round_as_often_as_it_takes() -> None:
    invoice, bts = invoice_in(S.DISPUTED)
    work_order = a_work_order()
    for round_number in range(2, 5):
        revised = revise_bt(
            next(bt for bt in bts if bt.bt_id == "bt-2"),
            work_order,
            invoice_status=invoice.status,
            units=Decimal(2),
            actor=ALICE_ACTOR.actor,
            at=AT,
        )
        assert revised.bt is not None and revised.bt.status is BtStatus.INVOICED
        bts = merged(bts, [revised.bt])
        invoice = present(resubmit(invoice, bts, actor=ALICE_ACTOR, at=AT))
        assert invoice.status is S.SUBMITTED
        step = dispute_bts(invoice, bts, ["bt-2"], reason=f"Round {round_number}", actor=STAFF, at=AT)
        bts = merged(bts, step.bts)
        invoice = present(dispute_invoice(invoice, bts, actor=STAFF, at=AT))
        assert invoice.status is S.DISPUTED and invoice.dispute_count == round_number


def test_revising_a_transaction_on_a_disputed_invoice_updates_its_totals() -> None:
    invoice, bts = invoice_in(S.DISPUTED)
    disputed = next(bt for bt in bts if bt.bt_id == "bt-2")
    revised = revise_bt(
        disputed, a_work_order(), invoice_status=invoice.status, units="1", actor="u", at=AT
    ).bt
    assert revised is not None
    refreshed = refresh_totals(invoice, merged(bts, [revised]))
    assert refreshed.total == Decimal("43.60") and refreshed.bt_count == 3
    with pytest.raises(Conflict):
        refresh_totals(invoice_in(S.VERIFIED)[0], invoice_in(S.VERIFIED)[1])


def test_a_disputed_invoice_can_lose_a_transaction_or_be_deleted_altogether() -> None:
    invoice, bts = invoice_in(S.DISPUTED)
    removed = remove_bts(invoice, bts, ["bt-2"], actor=ALICE_ACTOR, at=AT)
    assert [(bt.bt_id, bt.status, bt.invoice_id) for bt in removed.bts] == [("bt-2", BtStatus.DISPUTED, None)]
    assert present(removed).total == Decimal("43.50")
    deleted = delete_invoice(invoice, bts, actor=ALICE_ACTOR, at=AT)
    assert deleted.invoice is None and len(deleted.bts) == 3


# ------------------------------------------------------------------ approval and payment


def test_approval_sends_disputed_and_denied_transactions_back_to_the_pool_with_their_status() -> None:
    invoice, bts = invoice_in(S.VERIFIED)
    change = approve(invoice, bts, actor=STAFF, at=AT)
    approved = present(change)
    assert approved.status is S.APPROVED and approved.approved_by == STAFF.actor
    assert approved.total == Decimal("43.50") and approved.bt_count == 2
    assert [(bt.bt_id, bt.status, bt.invoice_id) for bt in change.bts] == [("bt-2", BtStatus.DISPUTED, None)]
    (event,) = change.events
    assert isinstance(event, InvoiceApproved)
    assert event.returned_to_pool == ("bt-2",) and event.notified_action is NotifiedAction.APPROVED
    assert event.amounts_by_matter == {CASE_ONE.matter_id: Decimal("43.50")}


def test_approval_reports_the_amount_for_each_case() -> None:
    work_order = a_work_order(matters=(CASE_ONE, CASE_TWO))

    def on_case(bt_id: str, units: str, matter_id: str) -> BillingTransaction:
        bt = log_product_service(
            work_order,
            "psr-2",
            bt_id=bt_id,
            work_date=TODAY,
            units=Decimal(units),
            matter_id=matter_id,
            actor="user:u-alice",
            at=AT,
        ).bt
        assert bt is not None
        return bt

    invoice, bts = draft_invoice(
        bts=[on_case("a", "10", "m1"), on_case("b", "5", "m2"), on_case("c", "1", "m1")]
    )
    invoice = present(submit(invoice, bts, actor=ALICE_ACTOR, at=AT))
    verified = verify_invoice(invoice, bts, actor=STAFF, at=AT)
    bts = merged(bts, verified.bts)
    (event,) = approve(present(verified), bts, actor=STAFF, at=AT).events
    assert isinstance(event, InvoiceApproved)
    assert event.amounts_by_matter == {"m1": Decimal("1.10"), "m2": Decimal("0.50")}


def test_approving_an_invoice_someone_else_just_approved_is_a_conflict() -> None:
    invoice, bts = invoice_in(S.VERIFIED)
    first = approve(invoice, bts, actor=STAFF, at=AT)
    with pytest.raises(Conflict, match="approved"):
        approve(present(first), merged(bts, first.bts), actor=OTHER_STAFF, at=AT)


def test_unapproving_goes_back_to_verified_and_gives_the_case_amounts_back() -> None:
    invoice, bts = invoice_in(S.APPROVED)
    change = unapprove(invoice, bts, actor=STAFF, at=AT)
    assert present(change).status is S.VERIFIED and present(change).approved_at is None
    (event,) = change.events
    assert isinstance(event, InvoiceUnapproved)
    assert event.amounts_by_matter == {CASE_ONE.matter_id: Decimal("43.50")}
    assert present(change).bt_count == 2  # what approval removed stays in the pool


def test_scheduling_puts_an_approved_invoice_on_a_pay_period_and_can_move_it() -> None:
    invoice, _ = invoice_in(S.APPROVED)
    scheduled = schedule(
        invoice, period=CURRENT_PERIOD, pay_periods=PAY_PERIODS, today=TODAY, actor=STAFF, at=AT
    )
    assert present(scheduled).pay_period == CURRENT_PERIOD
    moved = schedule(
        present(scheduled), period=NEXT_PERIOD, pay_periods=PAY_PERIODS, today=TODAY, actor=STAFF, at=AT
    )
    (event,) = moved.events
    assert (
        isinstance(event, InvoiceScheduled)
        and event.rescheduled
        and event.pay_period_start == NEXT_PERIOD.start
    )
    same = schedule(
        present(moved), period=NEXT_PERIOD, pay_periods=PAY_PERIODS, today=TODAY, actor=STAFF, at=AT
    )
    assert same.events == () and same.invoice == present(moved)


def test_an_invoice_cannot_be_scheduled_on_a_past_or_made_up_pay_period() -> None:
    invoice, _ = invoice_in(S.APPROVED)
    past = period_containing(PAY_PERIODS, TODAY - timedelta(days=40))
    with pytest.raises(InvalidInput, match="is over"):
        schedule(invoice, period=past, pay_periods=PAY_PERIODS, today=TODAY, actor=STAFF, at=AT)
    made_up = PayPeriod(TODAY, TODAY + timedelta(days=3))
    with pytest.raises(InvalidInput, match="pay period"):
        schedule(invoice, period=made_up, pay_periods=PAY_PERIODS, today=TODAY, actor=STAFF, at=AT)


def test_paying_needs_a_payment_method_and_a_check_or_transaction_id_and_marks_everything_paid() -> None:
    invoice, bts = invoice_in(S.PAYMENT_SCHEDULED)
    with pytest.raises(InvalidInput) as refused:
        pay(invoice, bts, payment_method=CHECK, payment_reference=" ", actor=STAFF, at=AT)
    assert [e.field for e in refused.value.field_errors] == ["payment_reference"]
    category = new_user_value(LookupKind.PRODUCT_SERVICE_CATEGORY, "check", "Check")
    with pytest.raises(InvalidInput):
        pay(invoice, bts, payment_method=category, payment_reference="CHK-1", actor=STAFF, at=AT)
    change = pay(invoice, bts, payment_method=CHECK, payment_reference="CHK-1001", actor=STAFF, at=AT)
    paid = present(change)
    assert (paid.status, paid.payment_method, paid.payment_reference) == (S.PAID, "check", "CHK-1001")
    assert {bt.status for bt in change.bts} == {BtStatus.PAID}
    (event,) = change.events
    assert isinstance(event, InvoicePaid) and event.total == Decimal("43.50")


def test_notes_can_be_added_even_to_a_paid_invoice() -> None:
    invoice, _ = invoice_in(S.PAID)
    change = add_note(invoice, actor=STAFF, at=AT, note_id="n-9", text="Check mailed")
    assert present(change).notes[-1].text == "Check mailed" and not present(change).notes[-1].by_contractor


def test_the_same_note_is_not_added_twice() -> None:
    invoice, _ = invoice_in(S.DRAFT)
    once = present(add_note(invoice, actor=ALICE_ACTOR, at=AT, note_id="n-1", text="Hello"))
    with pytest.raises(Conflict):
        add_note(once, actor=ALICE_ACTOR, at=AT, note_id="n-1", text="Hello")


# ------------------------------------------------------------------ DBA, bulk, totals


def test_the_invoice_shows_the_doing_business_as_name_when_the_firm_says_so() -> None:
    invoice, _ = draft_invoice()
    assert payee_name(invoice, ContractorSettings(FIRM)) == "Alice Avery"
    assert (
        payee_name(invoice, ContractorSettings(FIRM, replace_name_with_dba_on_invoices=True))
        == "Avery Legal Services"
    )
    no_dba = replace(invoice, doing_business_as="")
    assert (
        payee_name(no_dba, ContractorSettings(FIRM, replace_name_with_dba_on_invoices=True)) == "Alice Avery"
    )


def test_a_bulk_action_applies_to_each_invoice_and_reports_the_ones_it_could_not_change() -> None:
    verified, verified_bts = invoice_in(S.VERIFIED)
    draft, draft_bts = invoice_in(S.DRAFT)
    second = replace(verified, invoice_id="inv-2")
    second_bts = [replace(bt, invoice_id="inv-2") for bt in verified_bts]
    outcome = bulk_apply(
        [
            (verified, verified_bts),
            (replace(draft, invoice_id="inv-3"), [replace(b, invoice_id="inv-3") for b in draft_bts]),
            (second, second_bts),
        ],
        lambda invoice, bts: approve(invoice, bts, actor=STAFF, at=AT),
    )
    assert [present(c).invoice_id for c in outcome.changes] == ["inv-1", "inv-2"]
    assert [(r.invoice_id, r.code) for r in outcome.refusals] == [("inv-3", "conflict")]


def test_the_totals_by_category_table_sums_each_category() -> None:
    invoice, _ = draft_invoice()
    assert [(c.category, c.amount, c.count) for c in invoice.totals_by_category] == [
        ("expense_reimbursement", Decimal("42.50"), 1),
        ("uncategorized", Decimal("1.30"), 2),
    ]


AMOUNTS = st.decimals(min_value=Decimal("0.00"), max_value=Decimal("99999.99"), places=2)
CATEGORIES = st.sampled_from(["legal", "language", "expense_reimbursement", "uncategorized"])


def a_bt(index: int, category: str, amount: Decimal) -> BillingTransaction:
    return BillingTransaction(
        FIRM, f"bt-{index}", "wo-1", ALICE.ref, BtType.PRODUCT_SERVICE, TODAY, amount, category
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(CATEGORIES, AMOUNTS), min_size=0, max_size=60))
def test_an_invoice_total_is_the_sum_of_its_transaction_amounts_by_category(
    lines: list[tuple[str, Decimal]],
) -> None:
    bts = [a_bt(i, category, amount) for i, (category, amount) in enumerate(lines)]
    totals = invoice_totals(bts)
    assert totals.total == sum((amount for _, amount in lines), Decimal("0.00"))
    assert totals.total == sum((c.amount for c in totals.by_category), Decimal("0.00"))
    for category_total in totals.by_category:
        assert category_total.amount == sum(
            (amount for category, amount in lines if category == category_total.category), Decimal("0.00")
        )
    assert sum(c.count for c in totals.by_category) == len(lines) == totals.count


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(CATEGORIES, AMOUNTS), min_size=2, max_size=20),
    st.data(),
)
def test_adding_and_removing_transactions_keeps_the_invoice_total_exact(
    lines: list[tuple[str, Decimal]], data: st.DataObject
) -> None:
    bts = [a_bt(i, category, amount) for i, (category, amount) in enumerate(lines)]
    first, rest = bts[:1], bts[1:]
    invoice, on_invoice = draft_invoice(bts=first)
    added = add_bts(invoice, on_invoice, rest, actor=ALICE_ACTOR, at=AT)
    invoice, on_invoice = present(added), [*on_invoice, *added.bts]
    to_remove = data.draw(st.sets(st.sampled_from([bt.bt_id for bt in on_invoice])))
    if to_remove:
        removed = remove_bts(invoice, on_invoice, to_remove, actor=ALICE_ACTOR, at=AT)
        invoice = present(removed)
        on_invoice = [bt for bt in on_invoice if bt.bt_id not in to_remove]
    assert invoice.total == sum((bt.amount for bt in on_invoice), Decimal("0.00"))
    assert invoice.bt_count == len(on_invoice)


def test_a_bob_transaction_cannot_be_added_to_alices_draft() -> None:
    invoice, bts = draft_invoice()
    bobs = mileage_bt(a_work_order(assignee=BOB, work_order_id="wo-b"), "bt-b")
    with pytest.raises(InvalidInput, match="another contractor"):
        add_bts(invoice, bts, [bobs], actor=STAFF, at=AT)
