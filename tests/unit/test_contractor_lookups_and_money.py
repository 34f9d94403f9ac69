"""The ten contractor lookups keep system values fixed and take the firm's own where the seed allows;
money is exact, never a float, and rounded once, half up."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.contractors.lookups import (
    LOOKUP_SOURCES,
    BtStatus,
    BtType,
    InvoiceStatus,
    LookupKind,
    LookupSource,
    LookupTable,
    change_user_value,
    new_user_value,
    system_values,
)
from chalicelib.domain.contractors.money import (
    line_amount,
    parse_amount,
    parse_rate,
    parse_units,
    sum_money,
    to_money,
)
from chalicelib.domain.errors import Conflict, Duplicate, InvalidInput, NotFound


def test_the_seeds_ten_lookups_and_the_cases_problem_codes_each_say_who_supplies_their_values() -> None:
    contractor_lookups = {k for k in LookupKind if k.value.startswith("contractor_")}
    assert len(contractor_lookups) == 10
    assert set(LookupKind) - contractor_lookups == {LookupKind.LEGAL_PROBLEM_CODE}
    assert LOOKUP_SOURCES[LookupKind.LEGAL_PROBLEM_CODE] is LookupSource.USER_ONLY
    system_only = {k for k, s in LOOKUP_SOURCES.items() if s is LookupSource.SYSTEM_ONLY}
    mixed = {k for k, s in LOOKUP_SOURCES.items() if s is LookupSource.MIXED}
    assert system_only == {
        LookupKind.BILLING_TRANSACTION_STATUS,
        LookupKind.BILLING_TRANSACTION_TYPE,
        LookupKind.INVOICE_STATUS,
    }
    assert mixed == {LookupKind.FEE_UNIT_TYPE}
    assert set(LOOKUP_SOURCES) == set(LookupKind)


def test_the_system_lookups_hold_the_seeds_statuses_and_types() -> None:
    assert [v.key for v in system_values(LookupKind.BILLING_TRANSACTION_STATUS)] == [
        s.value for s in BtStatus
    ]
    assert [s.value for s in BtStatus] == ["pending", "invoiced", "verified", "disputed", "denied", "paid"]
    assert [v.key for v in system_values(LookupKind.BILLING_TRANSACTION_TYPE)] == [t.value for t in BtType]
    assert (
        [v.key for v in system_values(LookupKind.INVOICE_STATUS)]
        == [
            "draft",
            "submitted",
            "disputed",
            "verified",
            "approved",
            "payment_scheduled",
            "paid",
        ]
        == [s.value for s in InvoiceStatus]
    )
    assert all(v.system for v in system_values(LookupKind.INVOICE_STATUS))
    assert system_values(LookupKind.PAYMENT_METHOD) == ()


@pytest.mark.parametrize(
    "kind",
    [LookupKind.BILLING_TRANSACTION_STATUS, LookupKind.BILLING_TRANSACTION_TYPE, LookupKind.INVOICE_STATUS],
)
def test_system_only_lookups_take_no_new_values(kind: LookupKind) -> None:
    with pytest.raises(Conflict, match="system values only"):
        new_user_value(kind, "custom", "Custom")


def test_system_values_cannot_be_renamed_or_switched_off() -> None:
    hour = LookupTable.seeded(LookupKind.FEE_UNIT_TYPE).require_active("hour", "unit_type")
    with pytest.raises(Conflict, match="system value"):
        change_user_value(hour, active=False)


def test_fee_unit_types_mix_system_values_with_the_firms_and_may_be_time_based() -> None:
    table = LookupTable.seeded(LookupKind.FEE_UNIT_TYPE)
    quarter = new_user_value(LookupKind.FEE_UNIT_TYPE, "quarter_hour", "Quarter hour", minutes_per_unit=15)
    table = table.add(quarter).add(new_user_value(LookupKind.FEE_UNIT_TYPE, "page", "Page"))
    assert [(v.key, v.system, v.time_based) for v in table.active_values()] == [
        ("hour", True, True),
        ("each", True, False),
        ("page", False, False),
        ("quarter_hour", False, True),
    ]


def test_only_fee_unit_types_can_be_time_based_and_within_a_day() -> None:
    with pytest.raises(InvalidInput):
        new_user_value(LookupKind.PAYMENT_METHOD, "check", "Check", minutes_per_unit=60)
    with pytest.raises(InvalidInput):
        new_user_value(LookupKind.FEE_UNIT_TYPE, "week", "Week", minutes_per_unit=10080)


def test_products_and_services_are_defined_in_the_catalog_not_as_bare_values() -> None:
    with pytest.raises(InvalidInput, match="catalog"):
        new_user_value(LookupKind.PRODUCT_SERVICE_TYPE, "research", "Research")


@pytest.mark.parametrize(
    ("key", "label"), [("Has Space", "Label"), ("", "Label"), ("ok", " "), ("ok", "x" * 101)]
)
def test_a_user_value_needs_a_simple_key_and_a_label(key: str, label: str) -> None:
    with pytest.raises(InvalidInput):
        new_user_value(LookupKind.PAYMENT_METHOD, key, label)


def test_user_values_are_unique_renamed_and_switched_off_but_never_deleted() -> None:
    check = new_user_value(LookupKind.PAYMENT_METHOD, "check", "Check")
    table = LookupTable(LookupKind.PAYMENT_METHOD).add(check)
    with pytest.raises(Duplicate):
        table.add(check)
    renamed = change_user_value(check, label="Paper check", active=False)
    table = table.replace(renamed)
    assert table.get("check") == renamed and table.active_values() == ()
    with pytest.raises(InvalidInput, match="not an active"):
        table.require_active("check", "payment_method")
    with pytest.raises(NotFound):
        table.replace(new_user_value(LookupKind.PAYMENT_METHOD, "ach", "ACH"))
    with pytest.raises(InvalidInput):
        table.add(new_user_value(LookupKind.EXPENSE_REIMBURSEMENT_TYPE, "tolls", "Tolls"))


# ------------------------------------------------------------------ money


@pytest.mark.parametrize(
    ("units", "rate", "amount"),
    [("1", "0.005", "0.01"), ("1", "0.0049", "0.00"), ("3", "33.3333", "100.00"), ("2.5", "0.125", "0.31")],
)
def test_a_line_amount_is_rounded_once_to_cents_half_up(units: str, rate: str, amount: str) -> None:
    assert line_amount(Decimal(units), Decimal(rate)) == Decimal(amount)


def test_inputs_keep_to_their_decimal_places() -> None:
    assert parse_amount("12.5", "amount") == Decimal("12.50")
    assert parse_rate("2.750000", "rate") == Decimal("2.7500")
    with pytest.raises(InvalidInput, match="more than 2 decimal places"):
        parse_amount("1.005", "amount")
    with pytest.raises(InvalidInput, match="more than 4 decimal places"):
        parse_units("1.00001", "units")


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "1e40", "twelve", ""])
def test_nonsense_and_enormous_numbers_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_amount(text, "amount")


def test_floats_and_booleans_are_programming_errors() -> None:
    with pytest.raises(TypeError):
        parse_amount(0.1, "amount")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        parse_units(True, "units")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.decimals(min_value=Decimal("-1000"), max_value=Decimal("1000"), places=2), max_size=50))
def test_a_sum_of_amounts_is_exact(amounts: list[Decimal]) -> None:
    total = sum_money(amounts)
    assert total == sum(amounts, Decimal(0)) and total == to_money(total)


def test_only_a_legal_problem_code_carries_a_base_matter_allocation_and_it_is_exact() -> None:
    code = new_user_value(
        LookupKind.LEGAL_PROBLEM_CODE, "eviction", "Eviction", base_matter_allocation="1500.5"
    )
    assert code.base_matter_allocation == Decimal("1500.50")
    with pytest.raises(InvalidInput) as refused:
        new_user_value(LookupKind.PAYMENT_METHOD, "wire", "Wire", base_matter_allocation="10")
    assert [p.field for p in refused.value.field_errors] == ["base_matter_allocation"]
    with pytest.raises(InvalidInput):
        new_user_value(LookupKind.LEGAL_PROBLEM_CODE, "x", "X", base_matter_allocation="-1")


def test_changing_a_problem_code_keeps_its_base_unless_told_and_none_clears_it() -> None:
    code = new_user_value(LookupKind.LEGAL_PROBLEM_CODE, "eviction", "Eviction", base_matter_allocation="10")
    assert change_user_value(code, label="Evictions").base_matter_allocation == Decimal("10.00")
    assert change_user_value(code, base_matter_allocation=None).base_matter_allocation is None
    retired = change_user_value(code, active=False)
    assert LookupTable(LookupKind.LEGAL_PROBLEM_CODE, (retired,)).base_matter_allocations() == {
        "eviction": Decimal("10.00")
    }
