"""Work orders: assigned when created, PSRs with rates locked from the fee structure or the default, PSRs
deleted only without BTs, templates, and bulk completion when a case closes."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest

from chalicelib.domain.contractors.allocations import AnnualStanding
from chalicelib.domain.contractors.catalog import RateSource, change_product_service, set_fee_structure
from chalicelib.domain.contractors.contractors import TRANSLATOR, CaseAssignment
from chalicelib.domain.contractors.events import PsrAdded, PsrDeleted, WorkOrderCompleted, WorkOrderCreated
from chalicelib.domain.contractors.settings import ContractorAddOns
from chalicelib.domain.contractors.work_orders import (
    BulkCompleteConfig,
    PsrRequest,
    WorkOrder,
    WorkOrderStatus,
    WorkOrderTemplate,
    add_expense_type,
    add_psr,
    complete_for_case_close,
    complete_work_order,
    create_work_order,
    create_work_order_from_template,
    delete_psr,
    edit_psr,
    link_matters,
    plan_case_close_completion,
    remove_expense_type,
    reopen_work_order,
    unlink_matter,
    validate_template,
)
from chalicelib.domain.errors import Conflict, InvalidInput, NotFound
from chalicelib.domain.matters import MatterStatus
from tests.support.contractors import (
    ACME,
    ALICE,
    ALL_ADD_ONS,
    AT,
    CASE_ONE,
    CASE_TWO,
    EXPENSES,
    FIRM,
    MILEAGE,
    PARKING,
    PRODUCTS,
    RESEARCH,
    TODAY,
    TRANSLATION,
    a_matter,
    a_work_order,
)

ACTOR = "user:s-sam"


def new_work_order(**overrides: object):
    arguments: dict[str, object] = {
        "firm_id": FIRM,
        "work_order_id": "wo-1",
        "assignee": ALICE,
        "title": "Eviction defence",
        "actor": ACTOR,
        "at": AT,
        "add_ons": ALL_ADD_ONS,
        "products": PRODUCTS,
        "fee_structures": {},
        "matters": (CASE_ONE,),
    }
    arguments.update(overrides)
    return create_work_order(**arguments)  # type: ignore[arg-type]


# ------------------------------------------------------------------ creating


def test_a_work_order_is_assigned_to_a_contractor_and_linked_to_cases_when_created() -> None:
    change = new_work_order(matters=(CASE_ONE, CASE_TWO), items=[PsrRequest("p-research")])
    work_order = change.work_order
    assert work_order.assignee == ALICE.ref and work_order.matter_ids == ("m1", "m2")
    assert work_order.status is WorkOrderStatus.OPEN and [p.psr_id for p in work_order.psrs] == ["psr-1"]
    created, added = change.events
    assert isinstance(created, WorkOrderCreated) and isinstance(added, PsrAdded)


def test_a_work_order_can_be_assigned_to_an_organization_only_with_the_add_on() -> None:
    assert new_work_order(assignee=ACME).work_order.assignee == ACME.ref
    with pytest.raises(InvalidInput) as refused:
        new_work_order(assignee=ACME, add_ons=ContractorAddOns())
    assert "add-on" in refused.value.field_errors[0].message


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": " "}, "title"),
        ({"start_date": date(2026, 4, 1), "end_date": date(2026, 3, 1)}, "end_date"),
        ({"matters": (replace(CASE_ONE, status=MatterStatus.CLOSED),)}, "matter_ids"),
        ({"matters": (CASE_ONE, CASE_ONE)}, "matter_ids"),
        ({"matters": (replace(CASE_ONE, firm_id="other"),)}, "matter_ids"),
        ({"assignee": replace(ALICE, active=False)}, "assignee"),
    ],
)
def test_a_work_order_with_bad_details_is_refused_naming_the_field(
    overrides: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        new_work_order(**overrides)
    assert field in [e.field for e in refused.value.field_errors]


def test_a_contractor_over_their_annual_allocation_is_not_offered_for_new_work_orders() -> None:
    over = AnnualStanding(ALICE.ref, date(2026, 1, 1), date(2026, 12, 31), Decimal(5000), Decimal("5000.01"))
    at_limit = replace(over, used=Decimal(5000))
    with pytest.raises(Conflict, match="no longer offered"):
        new_work_order(standing=over)
    assert new_work_order(standing=at_limit).work_order.assignee == ALICE.ref


def test_an_unknown_product_is_refused() -> None:
    with pytest.raises(InvalidInput, match="p-nope"):
        new_work_order(items=[PsrRequest("p-nope")])


# ------------------------------------------------------------------ PSRs and their locked rates


def test_a_psr_takes_the_contractors_fee_structure_over_the_default_rate() -> None:
    fee = set_fee_structure(ALICE.ref, RESEARCH, "95.00", at=AT)
    psr = new_work_order(
        items=[PsrRequest("p-research")], fee_structures={"p-research": fee}
    ).work_order.psrs[0]
    assert (psr.rate, psr.rate_source, psr.unit_type, psr.time_based) == (
        Decimal("95.00"),
        RateSource.FEE_STRUCTURE,
        "hour",
        True,
    )


def test_a_psr_takes_the_default_rate_when_the_product_overrides_fee_structures() -> None:
    fee = set_fee_structure(ALICE.ref, PRODUCTS["p-filing"], "10.00", at=AT)
    psr = new_work_order(items=[PsrRequest("p-filing")], fee_structures={"p-filing": fee}).work_order.psrs[0]
    assert (psr.rate, psr.rate_source) == (Decimal("75.00"), RateSource.DEFAULT)


def test_a_psr_takes_the_default_rate_when_the_contractor_has_no_fee_structure() -> None:
    psr = new_work_order(items=[PsrRequest("p-research")]).work_order.psrs[0]
    assert (psr.rate, psr.rate_source) == (Decimal("150.00"), RateSource.DEFAULT)


def test_a_psrs_rate_stays_locked_when_the_product_or_fee_structure_changes_later() -> None:
    work_order = new_work_order(items=[PsrRequest("p-research")]).work_order
    change_product_service(RESEARCH, default_rate="999")
    assert work_order.psrs[0].rate == Decimal("150.00")


def test_another_contractors_fee_structure_is_refused() -> None:
    fee = set_fee_structure(ACME.ref, RESEARCH, "95.00", at=AT)
    with pytest.raises(InvalidInput, match="another contractor"):
        new_work_order(items=[PsrRequest("p-research")], fee_structures={"p-research": fee})


def test_on_a_work_order_with_cases_a_product_tied_to_an_assignment_type_needs_that_case_assignment() -> None:
    work_order = new_work_order().work_order
    with pytest.raises(InvalidInput, match="assign them to the case first"):
        add_psr(
            work_order,
            TRANSLATION,
            None,
            PsrRequest("p-translation"),
            case_assignments=(),
            actor=ACTOR,
            at=AT,
        )
    assigned = CaseAssignment(FIRM, "m1", ALICE.ref, TRANSLATOR)
    change = add_psr(
        work_order,
        TRANSLATION,
        None,
        PsrRequest("p-translation"),
        case_assignments=[assigned],
        actor=ACTOR,
        at=AT,
    )
    assert change.work_order.psrs[-1].product_id == "p-translation"


def test_on_a_work_order_without_cases_every_active_product_is_offered() -> None:
    work_order = new_work_order(matters=()).work_order
    change = add_psr(
        work_order, TRANSLATION, None, PsrRequest("p-translation"), case_assignments=(), actor=ACTOR, at=AT
    )
    assert len(change.work_order.psrs) == 1


def test_an_inactive_product_is_not_offered() -> None:
    work_order = new_work_order(matters=()).work_order
    with pytest.raises(InvalidInput, match="inactive"):
        add_psr(
            work_order,
            replace(RESEARCH, active=False),
            None,
            PsrRequest("p-research"),
            case_assignments=(),
            actor=ACTOR,
            at=AT,
        )


def test_a_completed_work_order_takes_no_new_psrs() -> None:
    done = complete_work_order(new_work_order().work_order, actor=ACTOR, at=AT).work_order
    with pytest.raises(Conflict, match="reopen it"):
        add_psr(done, RESEARCH, None, PsrRequest("p-research"), case_assignments=(), actor=ACTOR, at=AT)


def test_a_psr_can_be_deleted_only_while_no_transaction_is_logged_against_it() -> None:
    work_order = a_work_order()
    with pytest.raises(Conflict, match="2 billing transaction"):
        delete_psr(work_order, "psr-2", bt_count=2, actor=ACTOR, at=AT)
    change = delete_psr(work_order, "psr-2", bt_count=0, actor=ACTOR, at=AT)
    assert "psr-2" not in [p.psr_id for p in change.work_order.psrs]
    (event,) = change.events
    assert isinstance(event, PsrDeleted)


def test_psr_ids_are_never_reused_after_a_deletion() -> None:
    work_order = delete_psr(a_work_order(), "psr-4", bt_count=0, actor=ACTOR, at=AT).work_order
    added = add_psr(
        work_order, RESEARCH, None, PsrRequest("p-research"), case_assignments=(), actor=ACTOR, at=AT
    )
    assert added.work_order.psrs[-1].psr_id == "psr-5"


def test_editing_a_psr_changes_its_description_quantity_and_rate_but_not_its_unit() -> None:
    change = edit_psr(
        a_work_order(),
        "psr-1",
        description="Up to the hearing",
        requested_units="10",
        rate="160",
        actor=ACTOR,
        at=AT,
    )
    psr = change.work_order.psr("psr-1")
    assert (psr.description, psr.requested_units, psr.rate, psr.unit_type) == (
        "Up to the hearing",
        Decimal(10),
        Decimal(160),
        "hour",
    )
    with pytest.raises(InvalidInput, match="formula"):
        edit_psr(a_work_order(), "psr-4", rate="1", actor=ACTOR, at=AT)
    with pytest.raises(NotFound):
        edit_psr(a_work_order(), "psr-9", rate="1", actor=ACTOR, at=AT)


# ------------------------------------------------------------------ expense types, cases, completion


def test_expense_types_are_added_once_and_removed_only_while_unused() -> None:
    work_order = a_work_order()
    assert add_expense_type(work_order, MILEAGE).work_order.expense_types == ("mileage",)
    assert add_expense_type(work_order, PARKING).work_order.expense_types == ("mileage", "parking")
    with pytest.raises(Conflict):
        remove_expense_type(work_order, "mileage", bt_count=1)
    assert remove_expense_type(work_order, "mileage", bt_count=0).work_order.expense_types == ()
    with pytest.raises(InvalidInput):
        add_expense_type(work_order, replace(PARKING, active=False))


def test_cases_can_be_linked_later_and_unlinked_while_nothing_is_billed_to_them() -> None:
    work_order = link_matters(a_work_order(), [CASE_TWO]).work_order
    assert work_order.matter_ids == ("m1", "m2")
    with pytest.raises(InvalidInput):
        link_matters(work_order, [CASE_TWO])
    with pytest.raises(Conflict):
        unlink_matter(work_order, "m2", bt_count=1)
    assert unlink_matter(work_order, "m2", bt_count=0).work_order.matter_ids == ("m1",)


def test_completing_and_reopening_a_work_order() -> None:
    change = complete_work_order(a_work_order(), actor=ACTOR, at=AT)
    assert change.work_order.status is WorkOrderStatus.COMPLETE and change.work_order.completed_at == AT
    assert complete_work_order(change.work_order, actor=ACTOR, at=AT).events == ()
    reopened = reopen_work_order(change.work_order, actor=ACTOR, at=AT).work_order
    assert reopened.status is WorkOrderStatus.OPEN and reopened.completed_at is None
    with pytest.raises(Conflict, match="already open"):
        reopen_work_order(reopened, actor=ACTOR, at=AT)


# ------------------------------------------------------------------ templates

TEMPLATE = WorkOrderTemplate(
    FIRM,
    "t-eviction",
    "Eviction defence",
    items=(PsrRequest("p-research", requested_units=Decimal(10)), PsrRequest("p-copies")),
    expense_types=("mileage",),
    start_offset_days=1,
    duration_days=90,
)


def from_template(template: WorkOrderTemplate = TEMPLATE, **overrides: object):
    arguments: dict[str, object] = {
        "work_order_id": "wo-t",
        "assignee": ALICE,
        "title": "Eviction defence for Ms. Doe",
        "today": TODAY,
        "actor": ACTOR,
        "at": AT,
        "add_ons": ALL_ADD_ONS,
        "products": PRODUCTS,
        "fee_structures": {},
        "expense_table": EXPENSES,
        "matters": (CASE_ONE,),
    }
    arguments.update(overrides)
    return create_work_order_from_template(template, **arguments)  # type: ignore[arg-type]


def test_a_template_prepopulates_psrs_expense_types_and_dates() -> None:
    work_order = from_template().work_order
    assert [p.product_id for p in work_order.psrs] == ["p-research", "p-copies"]
    assert work_order.psrs[0].requested_units == Decimal(10)
    assert work_order.expense_types == ("mileage",) and work_order.template_id == "t-eviction"
    assert (work_order.start_date, work_order.end_date) == (
        TODAY + timedelta(days=1),
        TODAY + timedelta(days=91),
    )


def test_dates_and_extra_psrs_given_by_hand_win_over_the_template() -> None:
    work_order = from_template(
        start_date=date(2026, 5, 1), end_date=date(2026, 5, 31), extra_items=[PsrRequest("p-filing")]
    ).work_order
    assert (work_order.start_date, work_order.end_date) == (date(2026, 5, 1), date(2026, 5, 31))
    assert [p.product_id for p in work_order.psrs][-1] == "p-filing"


def test_an_inactive_or_broken_template_is_refused() -> None:
    with pytest.raises(Conflict, match="inactive"):
        from_template(replace(TEMPLATE, active=False))
    broken = replace(TEMPLATE, items=(PsrRequest("p-gone"),), expense_types=("tolls",), start_offset_days=-1)
    with pytest.raises(InvalidInput) as refused:
        validate_template(broken, PRODUCTS, EXPENSES)
    assert [e.field for e in refused.value.field_errors] == ["items[0]", "expense_types", "start_offset_days"]


# ------------------------------------------------------------------ bulk complete on case close


def wo(work_order_id: str, *matter_ids: str, status: WorkOrderStatus = WorkOrderStatus.OPEN) -> WorkOrder:
    return WorkOrder(FIRM, work_order_id, ALICE.ref, "x", matter_ids=matter_ids, status=status)


ORDERS = [
    wo("only-m1", "m1"),
    wo("shared", "m1", "m2"),
    wo("elsewhere", "m2"),
    wo("done", "m1", status=WorkOrderStatus.COMPLETE),
]


def ids(orders: tuple[WorkOrder, ...]) -> list[str]:
    return [o.work_order_id for o in orders]


def test_silent_mode_completes_the_cases_work_orders_but_not_those_shared_with_another_case() -> None:
    plan = plan_case_close_completion("m1", ORDERS, BulkCompleteConfig(silent=True))
    assert ids(plan.to_complete) == ["only-m1"]
    assert ids(plan.skipped_shared) == ["shared"] and ids(plan.already_complete) == ["done"]


def test_silent_mode_with_the_second_option_completes_shared_work_orders_too() -> None:
    plan = plan_case_close_completion("m1", ORDERS, BulkCompleteConfig(silent=True, complete_shared=True))
    assert ids(plan.to_complete) == ["only-m1", "shared"] and plan.skipped_shared == ()


def test_outside_silent_mode_the_user_selection_decides_even_for_shared_work_orders() -> None:
    plan = plan_case_close_completion("m1", ORDERS, BulkCompleteConfig(), selected_ids=["shared"])
    assert ids(plan.to_complete) == ["shared"]
    assert plan_case_close_completion("m1", ORDERS, BulkCompleteConfig()).to_complete == ()


def test_a_selection_can_only_name_the_closing_cases_work_orders() -> None:
    with pytest.raises(InvalidInput, match="elsewhere"):
        plan_case_close_completion("m1", ORDERS, BulkCompleteConfig(), selected_ids=["elsewhere"])
    with pytest.raises(InvalidInput, match="silent mode"):
        plan_case_close_completion("m1", ORDERS, BulkCompleteConfig(silent=True), selected_ids=["only-m1"])


def test_completing_for_a_case_close_names_the_case() -> None:
    plan = plan_case_close_completion("m1", ORDERS, BulkCompleteConfig(silent=True, complete_shared=True))
    changes = complete_for_case_close(plan, actor=ACTOR, at=AT)
    assert {c.work_order.status for c in changes} == {WorkOrderStatus.COMPLETE}
    events = [e for c in changes for e in c.events]
    assert all(isinstance(e, WorkOrderCompleted) and e.closing_matter_id == "m1" for e in events)


def test_a_case_number_appears_in_a_refusal_about_it() -> None:
    closed = replace(a_matter("m7", "2026-007"), status=MatterStatus.CLOSED)
    with pytest.raises(InvalidInput) as refused:
        new_work_order(matters=(closed,))
    assert "2026-007" in refused.value.field_errors[0].message


# ------------------------------------------------------------------ editing the details


def test_a_work_orders_details_are_edited_and_its_bts_dates_are_not_checked_against_them() -> None:
    from chalicelib.domain.contractors.work_orders import edit_details

    work_order = new_work_order().work_order
    edited = edit_details(
        work_order,
        title="  Appeal  ",
        description="Second stage",
        start_date=date(2026, 4, 1),
        end_date=None,
    ).work_order
    assert (edited.title, edited.description, edited.start_date, edited.end_date) == (
        "Appeal",
        "Second stage",
        date(2026, 4, 1),
        None,
    )
    assert edited.psrs == work_order.psrs and edited.matter_ids == work_order.matter_ids


def test_a_work_order_edit_with_a_blank_title_or_backwards_dates_is_refused_naming_each_field() -> None:
    from chalicelib.domain.contractors.work_orders import edit_details

    with pytest.raises(InvalidInput) as refused:
        edit_details(
            new_work_order().work_order,
            title=" ",
            description="",
            start_date=date(2026, 5, 1),
            end_date=date(2026, 4, 1),
        )
    assert [p.field for p in refused.value.field_errors] == ["title", "end_date"]
