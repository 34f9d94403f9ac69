"""Billing transactions are priced from the PSR's locked rate, rounded once, billed to a case, and can be
changed or deleted only while the seed allows."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from chalicelib.domain.contractors.events import BtDeleted, BtLogged, BtRevised
from chalicelib.domain.contractors.lookups import BtStatus, BtType, InvoiceStatus
from chalicelib.domain.contractors.transactions import (
    EXPENSE_CATEGORY,
    UNCATEGORIZED,
    BillingTransaction,
    ReceiptDocument,
    attach_to_invoice,
    delete_bt,
    log_expense,
    log_product_service,
    log_timeslip,
    record_decision,
    release_from_invoice,
    revise_bt,
)
from chalicelib.domain.contractors.work_orders import WorkOrder, edit_psr
from chalicelib.domain.errors import Conflict, InvalidInput, NotFound
from tests.support.contractors import (
    ALICE,
    AT,
    CASE_ONE,
    CASE_TWO,
    MILEAGE,
    PARKING,
    TODAY,
    a_work_order,
    copies_bt,
    mileage_bt,
)

ACTOR = "user:u-alice"
RECEIPT = ReceiptDocument("d-1", "toll.pdf", "application/pdf", 20_480, "firms/f1/receipts/d-1")

# a_work_order(): psr-1 research (150.00/hour, time-based), psr-2 copies (0.10 each),
# psr-3 filing (75 each, overrides fee structures), psr-4 formula max(words * 0.12, 25) + pages * 2.


def the(change_bt: BillingTransaction | None) -> BillingTransaction:
    assert change_bt is not None
    return change_bt


def timeslip(
    work_order: WorkOrder, psr_id: str = "psr-1", minutes: int = 90, **extra: object
) -> BillingTransaction:
    return the(
        log_timeslip(
            work_order,
            psr_id,
            bt_id="bt-t",
            work_date=TODAY,
            minutes=minutes,
            description="Drafted the answer",
            actor=ACTOR,
            at=AT,
            **extra,  # type: ignore[arg-type]
        ).bt
    )


# ------------------------------------------------------------------ product/service


def test_a_product_service_transaction_is_units_times_the_psrs_rate() -> None:
    bt = copies_bt(a_work_order(), "bt-1", "125")
    assert (bt.bt_type, bt.units, bt.rate, bt.amount) == (
        BtType.PRODUCT_SERVICE,
        Decimal(125),
        Decimal("0.10"),
        Decimal("12.50"),
    )
    assert bt.status is BtStatus.PENDING and bt.contractor == ALICE.ref and bt.category == UNCATEGORIZED


def test_the_amount_is_rounded_once_to_cents_half_up() -> None:
    work_order = a_work_order()
    # 0.125 x 0.10 = 0.0125 -> 0.01; 0.05 x 0.10 = 0.005 -> 0.01 (half up, not to even).
    assert copies_bt(work_order, "a", "0.125").amount == Decimal("0.01")
    assert copies_bt(work_order, "b", "0.05").amount == Decimal("0.01")
    assert copies_bt(work_order, "c", "0.0249").amount == Decimal("0.00")


def test_a_time_based_psr_refuses_product_service_transactions() -> None:
    with pytest.raises(InvalidInput, match="log a timeslip"):
        log_product_service(
            a_work_order(), "psr-1", bt_id="x", work_date=TODAY, units=Decimal(1), actor=ACTOR, at=AT
        )


@pytest.mark.parametrize("units", ["0", "-1", "1.23456", "abc"])
def test_units_must_be_a_positive_quantity_with_at_most_four_places(units: str) -> None:
    with pytest.raises(InvalidInput):
        log_product_service(
            a_work_order(), "psr-2", bt_id="x", work_date=TODAY, units=units, actor=ACTOR, at=AT
        )


def test_money_is_never_a_float() -> None:
    with pytest.raises(TypeError):
        log_product_service(
            a_work_order(),
            "psr-2",
            bt_id="x",
            work_date=TODAY,
            units=1.5,  # type: ignore[arg-type]
            actor=ACTOR,
            at=AT,
        )


def test_a_formula_psr_prices_the_transaction_from_its_two_inputs() -> None:
    work_order = a_work_order()

    def priced(words: str, pages: str) -> Decimal:
        change = log_product_service(
            work_order, "psr-4", bt_id="f", work_date=TODAY, formula_inputs=(words, pages), actor=ACTOR, at=AT
        )
        return the(change.bt).amount

    assert priced("1000", "3") == Decimal("126.00")  # max(120, 25) + 6
    assert priced("10", "0") == Decimal("25.00")  # the minimum charge
    bt = the(
        log_product_service(
            work_order, "psr-4", bt_id="f", work_date=TODAY, formula_inputs=("1000", "3"), actor=ACTOR, at=AT
        ).bt
    )
    assert bt.units is None and bt.formula_inputs is not None and bt.formula_inputs.primary == Decimal(1000)


def test_a_formula_psr_needs_its_inputs_not_units() -> None:
    with pytest.raises(InvalidInput, match="Words, Pages"):
        log_product_service(
            a_work_order(), "psr-4", bt_id="f", work_date=TODAY, units=Decimal(3), actor=ACTOR, at=AT
        )


def test_a_rate_psr_needs_units_not_formula_inputs() -> None:
    with pytest.raises(InvalidInput, match="number of"):
        log_product_service(
            a_work_order(), "psr-2", bt_id="f", work_date=TODAY, formula_inputs=("1", "2"), actor=ACTOR, at=AT
        )


def test_an_unknown_psr_is_not_found() -> None:
    with pytest.raises(NotFound):
        log_product_service(
            a_work_order(), "psr-99", bt_id="x", work_date=TODAY, units=Decimal(1), actor=ACTOR, at=AT
        )


def test_logging_a_transaction_says_so() -> None:
    change = log_product_service(
        a_work_order(), "psr-2", bt_id="bt-9", work_date=TODAY, units=Decimal(3), actor=ACTOR, at=AT
    )
    (event,) = change.events
    assert isinstance(event, BtLogged) and event.amount == Decimal("0.30") and event.contractor == ALICE.ref


# ------------------------------------------------------------------ cases


def test_a_transaction_is_billed_to_the_work_orders_only_case() -> None:
    assert copies_bt(a_work_order(), "x").matter_id == CASE_ONE.matter_id


def test_on_a_work_order_with_several_cases_the_case_must_be_chosen() -> None:
    work_order = a_work_order(matters=(CASE_ONE, CASE_TWO))
    with pytest.raises(InvalidInput, match="choose the case"):
        copies_bt(work_order, "x")
    change = log_product_service(
        work_order, "psr-2", bt_id="x", work_date=TODAY, units=Decimal(1), matter_id="m2", actor=ACTOR, at=AT
    )
    assert the(change.bt).matter_id == "m2"


def test_a_case_the_work_order_is_not_linked_to_is_refused() -> None:
    with pytest.raises(InvalidInput, match="not linked to case m9"):
        log_product_service(
            a_work_order(),
            "psr-2",
            bt_id="x",
            work_date=TODAY,
            units=Decimal(1),
            matter_id="m9",
            actor=ACTOR,
            at=AT,
        )


def test_a_work_order_without_cases_bills_no_case() -> None:
    assert copies_bt(a_work_order(matters=()), "x").matter_id is None


# ------------------------------------------------------------------ timeslips


def test_a_timeslip_on_a_time_based_psr_is_priced_by_the_minute_and_creates_a_service_record() -> None:
    change = log_timeslip(
        a_work_order(),
        "psr-1",
        bt_id="bt-t",
        work_date=TODAY,
        minutes=50,
        description="Hearing prep",
        actor=ACTOR,
        at=AT,
    )
    bt = the(change.bt)
    # 50 / 60 x 150.00 = 125.00
    assert (bt.bt_type, bt.minutes, bt.amount, bt.units) == (
        BtType.TIMESLIP,
        50,
        Decimal("125.00"),
        Decimal("0.8333"),
    )
    record = change.service_record
    assert record is not None
    assert (record.matter_id, record.minutes, record.bt_id, record.description) == (
        "m1",
        50,
        "bt-t",
        "Hearing prep",
    )
    assert bt.service_record_id == record.service_record_id == "sr-bt-t"


def test_timeslip_amounts_round_once_from_the_exact_minutes() -> None:
    # 7 minutes at 150.00/hour = 17.50 exactly; 1 minute = 2.50; 13 minutes = 32.50.
    work_order = a_work_order()
    assert [timeslip(work_order, minutes=m).amount for m in (7, 1, 13)] == [
        Decimal("17.50"),
        Decimal("2.50"),
        Decimal("32.50"),
    ]


def test_a_timeslip_on_a_psr_that_is_not_time_based_is_zero() -> None:
    bt = timeslip(a_work_order(), "psr-2", minutes=30)
    assert bt.amount == Decimal("0.00") and bt.rate is None and bt.units is None


def test_a_timeslip_needs_a_work_description_and_sensible_minutes() -> None:
    with pytest.raises(InvalidInput, match="describe the work"):
        log_timeslip(
            a_work_order(),
            "psr-1",
            bt_id="t",
            work_date=TODAY,
            minutes=5,
            description=" ",
            actor=ACTOR,
            at=AT,
        )
    for minutes in (0, 1441, -5):
        with pytest.raises(InvalidInput, match="1 to 1440"):
            timeslip(a_work_order(), minutes=minutes)


def test_a_timeslip_without_a_case_has_no_service_record() -> None:
    change = log_timeslip(
        a_work_order(matters=()),
        "psr-1",
        bt_id="t",
        work_date=TODAY,
        minutes=30,
        description="Call",
        actor=ACTOR,
        at=AT,
    )
    assert change.service_record is None and the(change.bt).service_record_id is None


# ------------------------------------------------------------------ expenses


def test_an_expense_reimbursement_keeps_its_receipts_and_its_own_category() -> None:
    change = log_expense(
        a_work_order(),
        MILEAGE,
        bt_id="e",
        work_date=TODAY,
        amount="18.40",
        receipts=[RECEIPT],
        actor=ACTOR,
        at=AT,
    )
    bt = the(change.bt)
    assert (bt.bt_type, bt.amount, bt.category, bt.expense_type) == (
        BtType.EXPENSE_REIMBURSEMENT,
        Decimal("18.40"),
        EXPENSE_CATEGORY,
        "mileage",
    )
    assert bt.receipts == (RECEIPT,)


def test_only_expense_types_added_to_the_work_order_can_be_claimed() -> None:
    with pytest.raises(InvalidInput, match="add the expense type"):
        log_expense(a_work_order(), PARKING, bt_id="e", work_date=TODAY, amount="5.00", actor=ACTOR, at=AT)


@pytest.mark.parametrize("amount", ["0", "0.00", "-3", "1.234"])
def test_an_expense_is_a_positive_amount_in_cents(amount: str) -> None:
    with pytest.raises(InvalidInput):
        log_expense(a_work_order(), MILEAGE, bt_id="e", work_date=TODAY, amount=amount, actor=ACTOR, at=AT)


@pytest.mark.parametrize(
    "receipt",
    [
        replace(RECEIPT, content_type="application/x-msdownload"),
        replace(RECEIPT, size_bytes=0),
        replace(RECEIPT, size_bytes=26 * 1024 * 1024),
        replace(RECEIPT, file_name=""),
        replace(RECEIPT, storage_key=""),
    ],
)
def test_receipts_must_be_stored_documents_or_images_of_sensible_size(receipt: ReceiptDocument) -> None:
    with pytest.raises(InvalidInput, match="receipts"):
        log_expense(
            a_work_order(),
            MILEAGE,
            bt_id="e",
            work_date=TODAY,
            amount="5.00",
            receipts=[receipt],
            actor=ACTOR,
            at=AT,
        )


def test_the_same_receipt_is_not_attached_twice() -> None:
    with pytest.raises(InvalidInput):
        log_expense(
            a_work_order(),
            MILEAGE,
            bt_id="e",
            work_date=TODAY,
            amount="5.00",
            receipts=[RECEIPT, RECEIPT],
            actor=ACTOR,
            at=AT,
        )


# ------------------------------------------------------------------ deleting and revising


@pytest.mark.parametrize("status", [BtStatus.PENDING, BtStatus.DISPUTED])
def test_a_pending_or_disputed_transaction_off_any_invoice_can_be_deleted(status: BtStatus) -> None:
    bt = replace(copies_bt(a_work_order(), "x"), status=status)
    change = delete_bt(bt, invoice_status=None, actor=ACTOR, at=AT)
    assert change.bt is None
    (event,) = change.events
    assert isinstance(event, BtDeleted) and event.bt_id == "x"


@pytest.mark.parametrize("status", [BtStatus.VERIFIED, BtStatus.DENIED, BtStatus.PAID])
def test_verified_denied_and_paid_transactions_cannot_be_deleted(status: BtStatus) -> None:
    bt = replace(copies_bt(a_work_order(), "x"), status=status)
    with pytest.raises(Conflict, match="only pending, invoiced or disputed"):
        delete_bt(bt, invoice_status=None, actor=ACTOR, at=AT)


@pytest.mark.parametrize("invoice_status", [InvoiceStatus.DRAFT, InvoiceStatus.DISPUTED])
def test_an_invoiced_transaction_can_be_deleted_while_its_invoice_is_a_draft_or_disputed(
    invoice_status: InvoiceStatus,
) -> None:
    bt = attach_to_invoice(copies_bt(a_work_order(), "x"), "inv-1")
    assert delete_bt(bt, invoice_status=invoice_status, actor=ACTOR, at=AT).bt is None


@pytest.mark.parametrize(
    "invoice_status", [InvoiceStatus.SUBMITTED, InvoiceStatus.VERIFIED, InvoiceStatus.APPROVED]
)
def test_an_invoiced_transaction_under_review_cannot_be_deleted(invoice_status: InvoiceStatus) -> None:
    bt = attach_to_invoice(copies_bt(a_work_order(), "x"), "inv-1")
    with pytest.raises(Conflict, match="draft or disputed"):
        delete_bt(bt, invoice_status=invoice_status, actor=ACTOR, at=AT)


def test_deleting_a_timeslip_removes_its_service_record() -> None:
    bt = timeslip(a_work_order())
    change = delete_bt(bt, invoice_status=None, actor=ACTOR, at=AT)
    assert change.removed_service_record_id == "sr-bt-t"


def test_revising_units_reprices_at_the_rate_the_transaction_was_logged_at() -> None:
    work_order = a_work_order()
    bt = copies_bt(work_order, "x", "10")
    repriced_psr = edit_psr(work_order, "psr-2", rate="0.25", actor="user:s-sam", at=AT).work_order
    change = revise_bt(bt, repriced_psr, invoice_status=None, units="20", actor=ACTOR, at=AT)
    assert the(change.bt).amount == Decimal("2.00")
    (event,) = change.events
    assert isinstance(event, BtRevised) and (event.amount_before, event.amount_after) == (
        Decimal("1.00"),
        Decimal("2.00"),
    )


def test_revising_a_disputed_transaction_sends_it_back_for_review() -> None:
    work_order = a_work_order()
    on_invoice = record_decision(
        attach_to_invoice(copies_bt(work_order, "x"), "inv-1"), BtStatus.DISPUTED, "Too many"
    )
    revised = revise_bt(
        on_invoice, work_order, invoice_status=InvoiceStatus.DISPUTED, units="5", actor=ACTOR, at=AT
    )
    assert the(revised.bt).status is BtStatus.INVOICED
    in_pool = replace(on_invoice, invoice_id=None)
    assert (
        the(revise_bt(in_pool, work_order, invoice_status=None, units="5", actor=ACTOR, at=AT).bt).status
        is BtStatus.PENDING
    )


def test_a_denied_transaction_cannot_be_revised() -> None:
    bt = replace(copies_bt(a_work_order(), "x"), status=BtStatus.DENIED)
    with pytest.raises(Conflict):
        revise_bt(bt, a_work_order(), invoice_status=None, units="5", actor=ACTOR, at=AT)


def test_revising_a_timeslip_updates_its_service_record() -> None:
    work_order = a_work_order()
    change = revise_bt(
        timeslip(work_order),
        work_order,
        invoice_status=None,
        minutes=120,
        description="Trial prep",
        actor=ACTOR,
        at=AT,
    )
    bt = the(change.bt)
    assert bt.amount == Decimal("300.00")
    assert change.service_record is not None and (
        change.service_record.minutes,
        change.service_record.description,
    ) == (120, "Trial prep")


def test_each_type_is_revised_through_its_own_fields() -> None:
    work_order = a_work_order()
    with pytest.raises(InvalidInput, match="minutes"):
        revise_bt(timeslip(work_order), work_order, invoice_status=None, units="3", actor=ACTOR, at=AT)
    with pytest.raises(InvalidInput, match="units or formula"):
        revise_bt(
            copies_bt(work_order, "x"), work_order, invoice_status=None, amount="3.00", actor=ACTOR, at=AT
        )
    with pytest.raises(InvalidInput, match="amount and receipts"):
        revise_bt(mileage_bt(work_order, "e"), work_order, invoice_status=None, minutes=3, actor=ACTOR, at=AT)
    expense = revise_bt(
        mileage_bt(work_order, "e"),
        work_order,
        invoice_status=None,
        amount="50.00",
        receipts=[RECEIPT],
        actor=ACTOR,
        at=AT,
    )
    assert (the(expense.bt).amount, the(expense.bt).receipts) == (Decimal("50.00"), (RECEIPT,))


def test_an_invoiced_transaction_needs_its_invoice_status_to_be_changed() -> None:
    bt = attach_to_invoice(copies_bt(a_work_order(), "x"), "inv-1")
    with pytest.raises(InvalidInput, match="give that invoice's status"):
        revise_bt(bt, a_work_order(), invoice_status=None, units="2", actor=ACTOR, at=AT)


# ------------------------------------------------------------------ the pool


def test_a_transaction_leaving_an_invoice_becomes_pending_unless_it_was_contested() -> None:
    bt = attach_to_invoice(copies_bt(a_work_order(), "x"), "inv-1")
    assert release_from_invoice(bt).status is BtStatus.PENDING
    assert release_from_invoice(record_decision(bt, BtStatus.VERIFIED)).status is BtStatus.PENDING
    assert release_from_invoice(record_decision(bt, BtStatus.DENIED, "No")).status is BtStatus.DENIED
    assert release_from_invoice(bt).invoice_id is None


def test_a_paid_transaction_never_leaves_its_invoice() -> None:
    bt = replace(attach_to_invoice(copies_bt(a_work_order(), "x"), "inv-1"), status=BtStatus.PAID)
    with pytest.raises(Conflict, match="paid"):
        release_from_invoice(bt)


def test_a_review_decides_only_verified_disputed_or_denied() -> None:
    with pytest.raises(InvalidInput):
        record_decision(copies_bt(a_work_order(), "x"), BtStatus.PAID)
