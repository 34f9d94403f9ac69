"""Allocations: annual per contractor or organization (year to date, over the threshold no longer offered),
per matter (from the problem code until adjusted by hand or by an approval, deducted on approval, logged),
and each case's budget."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.contractors.allocations import (
    AllocationOverride,
    AllocationReason,
    MatterAllocation,
    adjust_manually,
    allocation_for_new_case,
    annual_allocation_for,
    annual_standing,
    case_budget,
    credit_for_unapproval,
    deduct_for_approval,
    fiscal_year,
    offered,
    on_problem_code_changed,
)
from chalicelib.domain.contractors.invoices import Invoice
from chalicelib.domain.contractors.lookups import BtStatus, BtType, InvoiceStatus
from chalicelib.domain.contractors.settings import (
    AnnualAllocationSettings,
    ContractorAddOns,
    ContractorSettings,
)
from chalicelib.domain.contractors.transactions import BillingTransaction
from chalicelib.domain.errors import Conflict, InvalidInput
from tests.support.contractors import ACME, ALICE, ALL_ADD_ONS, AT, BOB, FIRM, TODAY

PROPERTY = settings(max_examples=200, deadline=None)
SETTINGS = ContractorSettings(
    FIRM,
    add_ons=ALL_ADD_ONS,
    annual_allocations=AnnualAllocationSettings(
        user_allocation=Decimal("10000.00"), organization_allocation=Decimal("50000.00")
    ),
)
BASES = {"housing": Decimal("1500.00"), "family": Decimal("2500.00")}
ACTOR = "user:s-sam"


def an_invoice(
    invoice_id: str, total: str, approved_on: date | None, status: InvoiceStatus = InvoiceStatus.APPROVED
) -> Invoice:
    approved_at = (
        None
        if approved_on is None
        else datetime(approved_on.year, approved_on.month, approved_on.day, 15, tzinfo=UTC)
    )
    return Invoice(
        FIRM, invoice_id, ALICE.ref, ALICE.name, status=status, total=Decimal(total), approved_at=approved_at
    )


# ------------------------------------------------------------------ annual


def test_the_firm_default_applies_to_users_and_organizations_separately() -> None:
    assert annual_allocation_for(ALICE.ref, SETTINGS) == Decimal("10000.00")
    assert annual_allocation_for(ACME.ref, SETTINGS) == Decimal("50000.00")


def test_a_contractors_own_allocation_structure_overrides_the_default_including_no_limit() -> None:
    assert annual_allocation_for(
        ALICE.ref, SETTINGS, AllocationOverride(ALICE.ref, Decimal(20000))
    ) == Decimal(20000)
    assert annual_allocation_for(ALICE.ref, SETTINGS, AllocationOverride(ALICE.ref, None)) is None
    with pytest.raises(InvalidInput):
        annual_allocation_for(ALICE.ref, SETTINGS, AllocationOverride(BOB.ref, Decimal(1)))


def test_without_the_add_ons_there_is_no_limit() -> None:
    users_only = replace(SETTINGS, add_ons=ContractorAddOns(allocations=True))
    assert annual_allocation_for(ACME.ref, users_only) is None
    assert annual_allocation_for(ALICE.ref, replace(SETTINGS, add_ons=ContractorAddOns())) is None


def test_year_to_date_counts_invoices_approved_for_payment_this_year_up_to_today() -> None:
    invoices = [
        an_invoice("a", "100.00", date(2026, 1, 2)),
        an_invoice("b", "200.00", date(2026, 3, 1), InvoiceStatus.PAID),
        an_invoice("c", "300.00", date(2026, 3, 2), InvoiceStatus.PAYMENT_SCHEDULED),
        an_invoice("last-year", "999.00", date(2025, 12, 31)),
        an_invoice("tomorrow", "999.00", date(2026, 3, 10)),
        an_invoice("verified", "999.00", None, InvoiceStatus.VERIFIED),
        replace(an_invoice("bob", "999.00", date(2026, 2, 1)), contractor=BOB.ref),
    ]
    standing = annual_standing(ALICE.ref, Decimal("1000.00"), invoices, today=TODAY)
    assert standing.used == Decimal("600.00") and standing.remaining == Decimal("400.00")
    assert (standing.year_start, standing.year_end) == (date(2026, 1, 1), date(2026, 12, 31))


def test_over_the_threshold_means_strictly_more_than_the_allocation() -> None:
    at_limit = annual_standing(ALICE.ref, Decimal("300.00"), [an_invoice("a", "300.00", TODAY)], today=TODAY)
    over = annual_standing(ALICE.ref, Decimal("299.99"), [an_invoice("a", "300.00", TODAY)], today=TODAY)
    unlimited = annual_standing(ALICE.ref, None, [an_invoice("a", "300.00", TODAY)], today=TODAY)
    assert (at_limit.over_threshold, over.over_threshold, unlimited.over_threshold) == (False, True, False)
    assert unlimited.remaining is None


def test_contractors_over_their_allocation_are_not_offered() -> None:
    over = annual_standing(ALICE.ref, Decimal("1.00"), [an_invoice("a", "2.00", TODAY)], today=TODAY)
    assert offered([ALICE, BOB, replace(ACME, active=False)], {ALICE.ref: over}) == (BOB,)


def test_the_fiscal_year_can_start_in_any_month_and_the_day_is_the_firms() -> None:
    assert fiscal_year(date(2026, 3, 9), 7) == (date(2025, 7, 1), date(2026, 6, 30))
    assert fiscal_year(date(2026, 7, 1), 7) == (date(2026, 7, 1), date(2027, 6, 30))
    late_evening = replace(
        an_invoice("a", "5.00", None), approved_at=datetime(2026, 1, 1, 3, 0, tzinfo=UTC)
    )  # still Dec 31 in New York
    standing = annual_standing(ALICE.ref, None, [late_evening], today=TODAY, zone_name="America/New_York")
    assert standing.used == Decimal("0.00")


# ------------------------------------------------------------------ per matter


def test_a_new_case_takes_its_problem_codes_base_allocation_and_logs_it() -> None:
    change = allocation_for_new_case(FIRM, "m1", "housing", BASES, at=AT, actor=ACTOR)
    assert change.allocation.allocated == Decimal("1500.00") and change.allocation.remaining == Decimal(
        "1500.00"
    )
    assert change.log_entry is not None and change.log_entry.reason is AllocationReason.CASE_CREATED
    without = allocation_for_new_case(FIRM, "m2", "tax", BASES, at=AT, actor=ACTOR)
    assert without.allocation.allocated is None and without.log_entry is None


def test_a_case_without_an_allocation_gets_one_when_its_problem_code_changes() -> None:
    unset = MatterAllocation(FIRM, "m1", problem_code="tax")
    change = on_problem_code_changed(unset, "family", BASES, at=AT, actor=ACTOR)
    assert change.allocation.allocated == Decimal("2500.00") and change.allocation.problem_code == "family"


def test_problem_code_changes_follow_the_base_allocation_until_a_manual_adjustment() -> None:
    allocation = allocation_for_new_case(FIRM, "m1", "housing", BASES, at=AT, actor=ACTOR).allocation
    allocation = on_problem_code_changed(allocation, "family", BASES, at=AT, actor=ACTOR).allocation
    assert allocation.allocated == Decimal("2500.00")
    adjusted = adjust_manually(allocation, "4000", note="Complex appeal", at=AT, actor=ACTOR)
    assert adjusted.log_entry is not None and adjusted.log_entry.note == "Complex appeal"
    after = on_problem_code_changed(adjusted.allocation, "housing", BASES, at=AT, actor=ACTOR)
    assert after.allocation.allocated == Decimal("4000.00") and after.log_entry is None
    assert after.allocation.problem_code == "housing"


def test_an_approved_invoice_counts_as_a_manual_adjustment() -> None:
    allocation = allocation_for_new_case(FIRM, "m1", "housing", BASES, at=AT, actor=ACTOR).allocation
    deducted = deduct_for_approval(
        allocation, Decimal("200.00"), invoice_id="inv-1", at=AT, actor=ACTOR
    ).allocation
    assert deducted.manually_adjusted
    assert on_problem_code_changed(
        deducted, "family", BASES, at=AT, actor=ACTOR
    ).allocation.allocated == Decimal("1500.00")


def test_approval_deducts_and_unapproval_gives_back_each_logged_with_the_invoice() -> None:
    allocation = allocation_for_new_case(FIRM, "m1", "housing", BASES, at=AT, actor=ACTOR).allocation
    approved = deduct_for_approval(allocation, Decimal("400.25"), invoice_id="inv-1", at=AT, actor=ACTOR)
    assert approved.allocation.remaining == Decimal("1099.75")
    assert approved.log_entry is not None
    assert (approved.log_entry.reason, approved.log_entry.invoice_id) == (
        AllocationReason.INVOICE_APPROVED,
        "inv-1",
    )
    assert (approved.log_entry.deducted_before, approved.log_entry.deducted_after) == (
        Decimal("0.00"),
        Decimal("400.25"),
    )
    credited = credit_for_unapproval(
        approved.allocation, Decimal("400.25"), invoice_id="inv-1", at=AT, actor=ACTOR
    )
    assert credited.allocation.remaining == Decimal("1500.00")
    assert credited.log_entry is not None and credited.log_entry.reason is AllocationReason.INVOICE_UNAPPROVED


def test_more_cannot_be_given_back_than_was_deducted() -> None:
    allocation = MatterAllocation(FIRM, "m1", Decimal(100), Decimal(10))
    with pytest.raises(Conflict, match="allocation log"):
        credit_for_unapproval(allocation, Decimal(11), invoice_id="inv-1", at=AT, actor=ACTOR)


def test_approval_may_take_a_case_over_budget() -> None:
    allocation = MatterAllocation(FIRM, "m1", Decimal("100.00"))
    over = deduct_for_approval(
        allocation, Decimal("150.00"), invoice_id="inv-1", at=AT, actor=ACTOR
    ).allocation
    assert over.remaining == Decimal("-50.00")
    assert case_budget("m1", over, []).over_budget


def test_a_manual_adjustment_needs_a_note_and_a_valid_amount() -> None:
    allocation = MatterAllocation(FIRM, "m1", Decimal(100))
    with pytest.raises(InvalidInput, match="say why"):
        adjust_manually(allocation, "200", note=" ", at=AT, actor=ACTOR)
    with pytest.raises(InvalidInput):
        adjust_manually(allocation, "-5", note="oops", at=AT, actor=ACTOR)


# ------------------------------------------------------------------ case budget


def a_bt(
    bt_id: str, amount: str, matter_id: str | None, invoice_id: str | None, status: BtStatus
) -> BillingTransaction:
    return BillingTransaction(
        FIRM,
        bt_id,
        "wo-1",
        ALICE.ref,
        BtType.PRODUCT_SERVICE,
        TODAY,
        Decimal(amount),
        "legal",
        status=status,
        matter_id=matter_id,
        invoice_id=invoice_id,
    )


def test_a_case_budget_shows_allocated_invoiced_approved_and_remaining() -> None:
    allocation = MatterAllocation(FIRM, "m1", Decimal("1000.00"), Decimal("300.00"))
    bts = [
        a_bt("a", "300.00", "m1", "inv-1", BtStatus.PAID),
        a_bt("b", "120.00", "m1", "inv-2", BtStatus.INVOICED),
        a_bt("c", "50.00", "m1", "inv-2", BtStatus.DENIED),
        a_bt("d", "75.00", "m1", None, BtStatus.PENDING),
        a_bt("e", "99.00", "m2", "inv-2", BtStatus.INVOICED),
    ]
    budget = case_budget("m1", allocation, bts)
    assert (budget.allocated, budget.invoiced, budget.approved, budget.remaining) == (
        Decimal("1000.00"),
        Decimal("420.00"),
        Decimal("300.00"),
        Decimal("700.00"),
    )
    assert not budget.over_budget


def test_a_case_without_an_allocation_still_shows_what_was_invoiced() -> None:
    budget = case_budget("m1", None, [a_bt("a", "10.00", "m1", "inv-1", BtStatus.VERIFIED)])
    assert (budget.allocated, budget.invoiced, budget.remaining) == (None, Decimal("10.00"), None)


MONEY = st.decimals(min_value=Decimal("0.00"), max_value=Decimal("50000.00"), places=2)


@PROPERTY
@given(MONEY, st.lists(st.tuples(st.booleans(), MONEY), max_size=30))
def test_remaining_is_always_allocated_minus_the_net_of_deductions_and_credits(
    allocated: Decimal, moves: list[tuple[bool, Decimal]]
) -> None:
    allocation = MatterAllocation(FIRM, "m1", allocated)
    net = Decimal("0.00")
    for index, (is_deduction, amount) in enumerate(moves):
        if is_deduction:
            allocation = deduct_for_approval(
                allocation, amount, invoice_id=f"i{index}", at=AT, actor=ACTOR
            ).allocation
            net += amount
        elif amount <= allocation.deducted:
            allocation = credit_for_unapproval(
                allocation, amount, invoice_id=f"i{index}", at=AT, actor=ACTOR
            ).allocation
            net -= amount
        assert allocation.deducted >= 0
    assert allocation.deducted == net
    assert allocation.remaining == allocated - net
    assert allocation.allocated == allocated  # deductions never move the allocation itself


@PROPERTY
@given(
    st.lists(
        st.tuples(MONEY, st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 12, 31))), max_size=30
    ),
    MONEY,
)
def test_year_to_date_is_the_exact_sum_of_this_years_approvals_so_far(
    approvals: list[tuple[Decimal, date]], allocation: Decimal
) -> None:
    invoices = [an_invoice(f"i{n}", str(amount), day) for n, (amount, day) in enumerate(approvals)]
    standing = annual_standing(ALICE.ref, allocation, invoices, today=TODAY)
    expected = sum((a for a, d in approvals if date(2026, 1, 1) <= d <= TODAY), Decimal("0.00"))
    assert standing.used == expected
    assert standing.remaining == allocation - expected
    assert standing.over_threshold == (expected > allocation)
