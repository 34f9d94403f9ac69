"""Formula-rate products and services compute exact decimal arithmetic of two named inputs, and refuse
everything else, whatever the text tries."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from chalicelib.domain.contractors.formula import (
    CompiledFormula,
    FormulaDefinition,
    compile_formula,
    evaluate_formula,
)
from chalicelib.domain.errors import InvalidInput

PROPERTY = settings(max_examples=300, deadline=None)


def value(expression: str, primary: str = "10", secondary: str = "4", **names: str) -> Decimal:
    return evaluate_formula(FormulaDefinition(expression, **names), Decimal(primary), Decimal(secondary))


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("primary * 0.15 + secondary", "5.50"),
        ("(primary + secondary) * 2", "28"),
        ("primary - secondary - 1", "5"),
        ("-primary + 3", "-7"),
        ("+primary", "10"),
        ("primary / secondary", "2.5"),
        ("min(primary, secondary, 7)", "4"),
        ("max(primary * 2, 25)", "25"),
        ("round(primary / 3, 2)", "3.33"),
        ("round(2.5)", "3"),
        ("round(0.125, 2)", "0.13"),
        ("ceil(primary / secondary)", "3"),
        ("floor(primary / secondary)", "2"),
        ("0.1 + 0.2", "0.3"),
        ("1_000 * 2", "2000"),
        ("1.5e2", "150"),
    ],
)
def test_the_language_computes_exact_decimal_arithmetic(expression: str, expected: str) -> None:
    assert value(expression) == Decimal(expected)


def test_numbers_are_read_as_written_never_through_a_float() -> None:
    assert value("0.10000000000000000001 * primary") == Decimal("1.0000000000000000001")


def test_inputs_can_be_renamed_per_product() -> None:
    names = {"primary_name": "pages", "secondary_name": "words"}
    assert value("pages * 12.5 + words * 0.1", "3", "200", **names) == Decimal("57.5")
    with pytest.raises(InvalidInput, match="only pages and words"):
        value("primary * 2", **names)


@pytest.mark.parametrize(
    ("primary_name", "secondary_name"),
    [("Pages", "words"), ("max", "words"), ("pages", "pages"), ("1pages", "words"), ("__class__", "x")],
)
def test_input_names_are_plain_distinct_lower_case_words(primary_name: str, secondary_name: str) -> None:
    with pytest.raises(InvalidInput):
        compile_formula(FormulaDefinition("1", primary_name, secondary_name))


def test_dividing_by_zero_is_refused_for_those_inputs() -> None:
    with pytest.raises(InvalidInput, match="divides by zero"):
        value("primary / secondary", secondary="0")


def test_results_beyond_any_invoice_are_refused() -> None:
    with pytest.raises(InvalidInput, match="too large"):
        value("1e15 * 1e15 * 1e15")


def test_a_formula_compiles_once_and_evaluates_many_times() -> None:
    compiled = compile_formula(FormulaDefinition("primary * secondary"))
    assert isinstance(compiled, CompiledFormula) and compiled.names == ("primary", "secondary")
    assert [compiled.evaluate(Decimal(n), Decimal(2)) for n in (1, 2, 3)] == [
        Decimal(2),
        Decimal(4),
        Decimal(6),
    ]


def test_formula_inputs_are_decimals_not_floats() -> None:
    compiled = compile_formula(FormulaDefinition("primary"))
    with pytest.raises(TypeError):
        compiled.evaluate(1.5, Decimal(1))  # type: ignore[arg-type]


HOSTILE = [
    ('__import__("os").system("id")', "calling"),
    ("().__class__.__bases__[0].__subclasses__()", "not allowed"),
    ("primary.__class__", "attribute access"),
    ("primary.real", "attribute access"),
    ("open('/etc/passwd').read()", "not allowed"),
    ("eval('1')", "calling eval()"),
    ("exec('x=1')", "calling exec()"),
    ("getattr(primary, 'real')", "calling getattr()"),
    ("9 ** 9 ** 9", "powers"),
    ("2 ** 1000000", "powers"),
    ("1e999999999", "out of range"),
    ("1" * 400, "out of range"),
    ("lambda: 1", "lambda"),
    ("[x for x in range(10)]", "not allowed"),
    ("{'a': 1}", "dictionary"),
    ("'text'", "not a number"),
    ("b'bytes'", "not a number"),
    ("True", "not a number"),
    ("None", "not a number"),
    ("1j", "not a number"),
    ("0x1F", "not a decimal"),
    ('f"{primary}"', "f-string"),
    ("(x := 5)", "assignment"),
    ("primary if secondary else 0", "if/else"),
    ("primary < secondary", "comparison"),
    ("primary and secondary", "and/or"),
    ("not primary", "not"),
    ("~1", "~"),
    ("7 // 2", "//"),
    ("7 % 2", "%"),
    ("primary[0]", "indexing"),
    ("round(primary, secondary)", "whole number"),
    ("round(1, 7)", "0 to 6"),
    ("min(*[1, 2])", "plain arguments"),
    ("max(a=1)", "named arguments"),
    ("min()", "1 to 10"),
    ("ceil(1, 2)", "exactly one"),
    ("x", "not an input"),
    ("import os", "not a valid expression"),
    ("primary; secondary", "not a valid expression"),
    ("1 +", "not a valid expression"),
    ("\x00", "not a valid expression"),
    ("", "empty"),
    ("   ", "empty"),
    ("min(" * 35 + "1" + ")" * 35, "nests deeper"),
    ("1+" * 260 + "1", "longer than"),
    ("-" * 40 + "1", "nests deeper"),
]


@pytest.mark.parametrize(("text", "refusal"), HOSTILE)
def test_anything_but_arithmetic_is_refused_with_a_reason(text: str, refusal: str) -> None:
    with pytest.raises(InvalidInput, match=refusal) as refused:
        compile_formula(FormulaDefinition(text))
    assert refused.value.field_errors[0].field == "formula"


@PROPERTY
@given(st.text(max_size=120))
@example("__import__('os').system('touch /tmp/pwned')")
@example("().__class__.__mro__[1].__subclasses__()")
@example("[" * 100)
def test_any_text_either_compiles_to_arithmetic_or_is_refused_and_nothing_else_happens(text: str) -> None:
    try:
        compiled = compile_formula(FormulaDefinition(text))
    except InvalidInput:
        return
    # What compiled evaluates to a Decimal or an explained refusal; never another exception.
    try:
        result = compiled.evaluate(Decimal("3.5"), Decimal("2"))
    except InvalidInput:
        return
    assert isinstance(result, Decimal)


# A small grammar of valid formulas, evaluated by the test itself with Decimal: the language agrees.
LITERALS = st.decimals(min_value=Decimal("-1000"), max_value=Decimal("1000"), places=2).map(
    lambda d: (str(d), d) if d >= 0 else (f"({d})", d)
)
VARIABLES = st.sampled_from([("primary", Decimal("12.5")), ("secondary", Decimal("-3"))])


def combined(children: st.SearchStrategy[tuple[str, Decimal]]) -> st.SearchStrategy[tuple[str, Decimal]]:
    def build(operator: str, left: tuple[str, Decimal], right: tuple[str, Decimal]) -> tuple[str, Decimal]:
        results = {
            "+": left[1] + right[1],
            "-": left[1] - right[1],
            "*": left[1] * right[1],
            "max": max(left[1], right[1]),
            "min": min(left[1], right[1]),
        }
        text = (
            f"{operator}({left[0]}, {right[0]})"
            if operator in ("max", "min")
            else f"({left[0]} {operator} {right[0]})"
        )
        return text, results[operator]

    return st.builds(build, st.sampled_from(["+", "-", "*", "max", "min"]), children, children)


EXPRESSIONS = st.recursive(LITERALS | VARIABLES, combined, max_leaves=8)


@PROPERTY
@given(EXPRESSIONS)
def test_valid_formulas_compute_exactly_what_decimal_arithmetic_computes(
    expression: tuple[str, Decimal],
) -> None:
    text, expected = expression
    try:
        result = value(text, "12.5", "-3")
    except InvalidInput as refusal:
        # Only the bounded context may refuse a valid formula: results past 10^30.
        assert "too large" in refusal.message or "cannot be computed" in refusal.message
        assert abs(expected) > Decimal("1e30") or len(expected.as_tuple().digits) > 34
        return
    assert result == expected
