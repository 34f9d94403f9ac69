"""Handing a manually set matter allocation back to its problem code: the base allocation again (nothing
subtracted), problem codes move it again, logged with the note; refused without a problem code, without a
base, when it already follows the code, and while approvals stand deducted."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from chalicelib.domain.contractors.allocations import (
    AllocationReason,
    MatterAllocation,
    adjust_manually,
    allocation_for_new_case,
    case_budget,
    credit_for_unapproval,
    deduct_for_approval,
    follow_problem_code_again,
    on_problem_code_changed,
)
from chalicelib.domain.errors import Conflict, InvalidInput
from tests.support.contractors import AT, FIRM

BASES = {"housing": Decimal("1500.00"), "family": Decimal("2500.00")}
ACTOR = "user:s-sam"


def overridden(code: str | None = "housing", amount: str = "4000") -> MatterAllocation:
    """A case created with ``code`` whose allocation was then set by hand."""
    allocation = allocation_for_new_case(FIRM, "m1", code, BASES, at=AT, actor=ACTOR).allocation
    return adjust_manually(allocation, amount, note="Complex appeal", at=AT, actor=ACTOR).allocation


def test_a_hand_set_allocation_goes_back_to_its_codes_base_and_is_logged_with_the_note() -> None:
    change = follow_problem_code_again(overridden(), BASES, note="  Appeal settled  ", at=AT, actor=ACTOR)

    assert change.allocation.allocated == Decimal("1500.00")
    assert change.allocation.remaining == Decimal("1500.00")
    assert not change.allocation.manually_adjusted
    entry = change.log_entry
    assert entry is not None
    assert entry.reason is AllocationReason.BACK_TO_PROBLEM_CODE
    assert (entry.allocated_before, entry.allocated_after) == (Decimal("4000.00"), Decimal("1500.00"))
    assert (entry.note, entry.actor, entry.at, entry.problem_code) == ("Appeal settled", ACTOR, AT, "housing")


def test_after_going_back_problem_code_changes_move_the_allocation_again() -> None:
    back = follow_problem_code_again(overridden(), BASES, note="Settled", at=AT, actor=ACTOR).allocation

    moved = on_problem_code_changed(back, "family", BASES, at=AT, actor=ACTOR)

    assert moved.allocation.allocated == Decimal("2500.00") and moved.log_entry is not None


def test_the_code_it_follows_is_the_current_one_not_the_one_it_was_created_with() -> None:
    allocation = on_problem_code_changed(
        overridden("housing"), "family", BASES, at=AT, actor=ACTOR
    ).allocation
    assert allocation.allocated == Decimal("4000.00")  # the override held through the change

    back = follow_problem_code_again(allocation, BASES, note="Settled", at=AT, actor=ACTOR)

    assert back.allocation.allocated == Decimal("2500.00") and back.allocation.problem_code == "family"


def test_an_override_to_the_same_amount_still_goes_back_to_following_the_code() -> None:
    back = follow_problem_code_again(overridden(amount="1500"), BASES, note="Oops", at=AT, actor=ACTOR)

    assert back.allocation.allocated == Decimal("1500.00") and not back.allocation.manually_adjusted
    assert back.log_entry is not None


def test_it_needs_a_note() -> None:
    with pytest.raises(InvalidInput, match="say why") as raised:
        follow_problem_code_again(overridden(), BASES, note="   ", at=AT, actor=ACTOR)
    assert [problem.field for problem in raised.value.field_errors] == ["note"]


def test_a_case_without_a_problem_code_has_nothing_to_go_back_to() -> None:
    allocation = adjust_manually(
        MatterAllocation(FIRM, "m1"), "300", note="No code yet", at=AT, actor=ACTOR
    ).allocation
    with pytest.raises(Conflict, match="no legal problem code"):
        follow_problem_code_again(allocation, BASES, note="Back", at=AT, actor=ACTOR)


def test_a_code_without_a_base_allocation_is_refused() -> None:
    allocation = replace(overridden(), problem_code="tax")
    with pytest.raises(Conflict, match="'tax' has no Contractor Base Matter Allocation"):
        follow_problem_code_again(allocation, BASES, note="Back", at=AT, actor=ACTOR)


def test_an_allocation_that_already_follows_its_code_is_refused() -> None:
    following = allocation_for_new_case(FIRM, "m1", "housing", BASES, at=AT, actor=ACTOR).allocation
    with pytest.raises(Conflict, match="already follows"):
        follow_problem_code_again(following, BASES, note="Back", at=AT, actor=ACTOR)
    back = follow_problem_code_again(overridden(), BASES, note="Back", at=AT, actor=ACTOR).allocation
    with pytest.raises(Conflict, match="already follows"):
        follow_problem_code_again(back, BASES, note="Again", at=AT, actor=ACTOR)


def test_while_an_approval_stands_deducted_it_is_refused_and_set_by_hand_instead() -> None:
    # An approval fixes the allocation just as a manual adjustment does, whether or not staff also set it.
    for allocation in (
        overridden(),
        allocation_for_new_case(FIRM, "m1", "housing", BASES, at=AT, actor=ACTOR).allocation,
    ):
        approved = deduct_for_approval(
            allocation, Decimal("200.00"), invoice_id="inv-1", at=AT, actor=ACTOR
        ).allocation
        with pytest.raises(Conflict, match=r"approvals have deducted 200\.00"):
            follow_problem_code_again(approved, BASES, note="Back", at=AT, actor=ACTOR)


def test_once_every_approval_is_given_back_it_may_follow_its_code_again() -> None:
    approved = deduct_for_approval(
        overridden(), Decimal("200.00"), invoice_id="inv-1", at=AT, actor=ACTOR
    ).allocation
    credited = credit_for_unapproval(
        approved, Decimal("200.00"), invoice_id="inv-1", at=AT, actor=ACTOR
    ).allocation

    back = follow_problem_code_again(credited, BASES, note="Invoice withdrawn", at=AT, actor=ACTOR)

    budget = case_budget("m1", back.allocation, [])
    assert (budget.allocated, budget.approved, budget.remaining) == (
        Decimal("1500.00"),
        Decimal("0.00"),
        Decimal("1500.00"),
    )
