"""Products and services carry their pricing; fee structures give a contractor their own rate and are
bulk-copied to other contractors; work orders with cases offer only the products their assignments allow."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from chalicelib.domain.contractors.catalog import (
    RateSource,
    change_product_service,
    define_product_service,
    offerable_products,
    plan_fee_structure_copy,
    quote_rate,
    set_fee_structure,
)
from chalicelib.domain.contractors.contractors import EXPERT, INTERPRETER, TRANSLATOR, CaseAssignment
from chalicelib.domain.contractors.formula import FormulaDefinition
from chalicelib.domain.errors import Conflict, InvalidInput
from tests.support.contractors import (
    ACME,
    ALICE,
    AT,
    BOB,
    COPIES,
    FIRM,
    FLAT_FILING,
    HOUR,
    LEGAL,
    MILEAGE,
    PAGE,
    PRODUCTS,
    RESEARCH,
    TRANSLATION,
    TYPES,
    WORD_COUNT,
)


def test_a_product_has_a_default_rate_unit_type_category_and_may_be_time_based() -> None:
    assert (RESEARCH.default_rate, RESEARCH.unit_type, RESEARCH.category, RESEARCH.time_based) == (
        Decimal("150.00"),
        "hour",
        "legal",
        True,
    )
    assert not TRANSLATION.time_based and TRANSLATION.assignment_type == TRANSLATOR


def test_a_product_needs_a_name_a_unit_type_and_a_rate() -> None:
    with pytest.raises(InvalidInput) as refused:
        define_product_service(FIRM, "p", " ")
    assert [e.field for e in refused.value.field_errors] == ["name", "unit_type", "default_rate"]


@pytest.mark.parametrize(
    "arguments",
    [
        {"unit_type": LEGAL, "default_rate": "1"},
        {"unit_type": HOUR, "default_rate": "1", "category": MILEAGE},
        {"unit_type": HOUR, "default_rate": "-1"},
        {"unit_type": HOUR, "default_rate": "1.00001"},
        {"unit_type": replace(HOUR, active=False), "default_rate": "1"},
        {
            "unit_type": HOUR,
            "default_rate": "1",
            "assignment_type": replace(TYPES[EXPERT], is_contractor_type=False),
        },
    ],
)
def test_lookups_of_the_wrong_kind_or_bad_rates_are_refused(arguments: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        define_product_service(FIRM, "p", "Thing", **arguments)  # type: ignore[arg-type]


def test_a_formula_product_has_a_formula_instead_of_a_rate_and_unit_and_needs_the_add_on() -> None:
    assert WORD_COUNT.formula_rate and WORD_COUNT.default_rate is None and WORD_COUNT.unit_type is None
    formula = FormulaDefinition("primary * 2")
    with pytest.raises(InvalidInput) as refused:
        define_product_service(FIRM, "p", "Formula", formula=formula)
    assert "add-on" in refused.value.field_errors[0].message
    with pytest.raises(InvalidInput):
        define_product_service(
            FIRM,
            "p",
            "Formula",
            formula=formula,
            formula_rates_enabled=True,
            default_rate="1",
            unit_type=PAGE,
        )
    with pytest.raises(InvalidInput):
        define_product_service(
            FIRM, "p", "Formula", formula=FormulaDefinition("primary ** 2"), formula_rates_enabled=True
        )


def test_changing_a_product_keeps_its_unit_type_and_checks_what_changes() -> None:
    changed = change_product_service(
        RESEARCH, name="Research", default_rate="175", override_fee_structures=True, active=False
    )
    assert (changed.name, changed.default_rate, changed.override_fee_structures, changed.active) == (
        "Research",
        Decimal(175),
        True,
        False,
    )
    assert (
        changed.unit_type == "hour" and change_product_service(RESEARCH, clear_category=True).category is None
    )
    with pytest.raises(InvalidInput):
        change_product_service(WORD_COUNT, default_rate="3")
    with pytest.raises(InvalidInput):
        change_product_service(RESEARCH, formula=FormulaDefinition("1"))
    assert change_product_service(
        WORD_COUNT, formula=FormulaDefinition("primary")
    ).formula == FormulaDefinition("primary")


# ------------------------------------------------------------------ fee structures and rates


def test_a_fee_structure_is_a_contractors_own_rate_for_a_product() -> None:
    fee = set_fee_structure(ALICE.ref, RESEARCH, "120", at=AT)
    assert (fee.contractor, fee.product_id, fee.rate) == (ALICE.ref, "p-research", Decimal(120))
    with pytest.raises(InvalidInput, match="formula"):
        set_fee_structure(ALICE.ref, WORD_COUNT, "1", at=AT)


def test_the_quoted_rate_is_the_fee_structure_unless_the_product_overrides_it() -> None:
    fee = set_fee_structure(ALICE.ref, RESEARCH, "120", at=AT)
    assert quote_rate(RESEARCH, fee).source is RateSource.FEE_STRUCTURE
    assert quote_rate(RESEARCH, None).rate == Decimal("150.00")
    filing_fee = set_fee_structure(ALICE.ref, FLAT_FILING, "5", at=AT)
    assert (quote_rate(FLAT_FILING, filing_fee).rate, quote_rate(FLAT_FILING, filing_fee).source) == (
        Decimal(75),
        RateSource.DEFAULT,
    )
    assert quote_rate(WORD_COUNT, None).source is RateSource.FORMULA
    with pytest.raises(InvalidInput):
        quote_rate(COPIES, fee)


SOURCE = [
    set_fee_structure(ALICE.ref, RESEARCH, "120", at=AT),
    set_fee_structure(ALICE.ref, COPIES, "0.08", at=AT),
]


def test_bulk_copy_creates_the_missing_fee_structures_and_keeps_the_targets_own_rates() -> None:
    bobs_own = set_fee_structure(BOB.ref, RESEARCH, "100", at=AT)
    plan = plan_fee_structure_copy(ALICE.ref, SOURCE, [BOB.ref, ACME.ref], {BOB.ref: [bobs_own]}, at=AT)
    assert sorted((f.contractor.contractor_id, f.product_id, f.rate) for f in plan.to_create) == [
        ("o-acme", "p-copies", Decimal("0.08")),
        ("o-acme", "p-research", Decimal(120)),
        ("u-bob", "p-copies", Decimal("0.08")),
    ]
    assert plan.to_update == () and plan.kept_existing == (bobs_own,)


def test_bulk_copy_can_overwrite_and_copy_only_chosen_products() -> None:
    bobs_own = set_fee_structure(BOB.ref, RESEARCH, "100", at=AT)
    plan = plan_fee_structure_copy(
        ALICE.ref,
        SOURCE,
        [BOB.ref],
        {BOB.ref: [bobs_own]},
        at=AT,
        product_ids=["p-research"],
        overwrite_existing=True,
    )
    assert plan.to_create == () and [(f.product_id, f.rate) for f in plan.to_update] == [
        ("p-research", Decimal(120))
    ]
    assert plan.writes == plan.to_update


def test_a_rate_already_equal_is_neither_created_nor_updated() -> None:
    same = set_fee_structure(BOB.ref, RESEARCH, "120", at=AT)
    plan = plan_fee_structure_copy(
        ALICE.ref, SOURCE[:1], [BOB.ref], {BOB.ref: [same]}, at=AT, overwrite_existing=True
    )
    assert plan.writes == () and plan.kept_existing == ()


@pytest.mark.parametrize(
    ("source_structures", "targets", "product_ids", "error"),
    [
        (SOURCE, [], None, InvalidInput),
        (SOURCE, [ALICE.ref], None, InvalidInput),
        (SOURCE, [BOB.ref, BOB.ref], None, InvalidInput),
        ([], [BOB.ref], None, Conflict),
        (SOURCE, [BOB.ref], ["p-translation"], InvalidInput),
        ([set_fee_structure(BOB.ref, RESEARCH, "1", at=AT)], [ACME.ref], None, InvalidInput),
    ],
)
def test_a_bulk_copy_that_makes_no_sense_is_refused(
    source_structures: list, targets: list, product_ids: list[str] | None, error: type[Exception]
) -> None:
    with pytest.raises(error):
        plan_fee_structure_copy(ALICE.ref, source_structures, targets, {}, at=AT, product_ids=product_ids)


# ------------------------------------------------------------------ what a work order offers


def test_without_linked_cases_every_active_product_is_offered() -> None:
    products = [*PRODUCTS.values(), replace(COPIES, product_id="old", active=False)]
    offered = offerable_products(products, assignee=ALICE.ref, linked_matter_ids=(), case_assignments=())
    assert {p.product_id for p in offered} == set(PRODUCTS)


def test_with_linked_cases_products_follow_the_assignees_case_assignments() -> None:
    interpreting = replace(COPIES, product_id="p-interpreting", assignment_type=INTERPRETER)
    products = [RESEARCH, TRANSLATION, interpreting]
    assignments = [
        CaseAssignment(FIRM, "m1", ALICE.ref, INTERPRETER),
        CaseAssignment(FIRM, "m1", BOB.ref, TRANSLATOR),  # someone else's assignment
        CaseAssignment(FIRM, "m9", ALICE.ref, TRANSLATOR),  # another case
    ]
    offered = offerable_products(
        products, assignee=ALICE.ref, linked_matter_ids=("m1",), case_assignments=assignments
    )
    assert [p.product_id for p in offered] == ["p-research", "p-interpreting"]
