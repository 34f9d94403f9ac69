"""Formula-rate products and services: a BT's amount from two named inputs and a small, safe expression.

The language, and nothing more:

- decimal numbers (``12``, ``0.15``, ``1.5e3``), the two input names (``primary`` and ``secondary`` unless
  the P/S renames them, e.g. ``pages`` and ``words``);
- ``+ - * /``, unary ``-`` and ``+``, parentheses;
- ``min(a, b, ...)``, ``max(a, b, ...)``, ``round(x)`` / ``round(x, places)`` (half up, places 0 to 6),
  ``ceil(x)``, ``floor(x)``.

The text is parsed with Python's ``ast`` only to get a tree; every node is checked against the list above
and copied into this module's own small node types, which are all that is ever evaluated. Nothing is passed
to ``eval``/``exec``/``compile``, no attribute, subscript, call of anything else, comparison, string or
power is accepted, and the arithmetic runs in a bounded Decimal context (results beyond 10^30 and division
by zero are refused). Numbers are read from the source text, never through a float.

Public API:

- ``FormulaDefinition``: expression, input names and their labels (stored on the P/S, copied to PSRs).
- ``CompiledFormula``: ``evaluate(primary, secondary) -> Decimal`` (exact, unrounded), ``names``.
- ``compile_formula(definition) -> CompiledFormula`` (``InvalidInput`` explains any refusal).
- ``evaluate_formula(definition, primary, secondary) -> Decimal``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import (
    ROUND_CEILING,
    ROUND_FLOOR,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)

from chalicelib.domain.errors import FieldError, InvalidInput

MAX_LENGTH = 500
MAX_NODES = 200
MAX_DEPTH = 30
MAX_ARGUMENTS = 10
MAX_ROUND_PLACES = 6
# Literals are kept to a sane size so no step can approach the context's limits.
MAX_LITERAL_EXPONENT = 15
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_FUNCTIONS = frozenset({"min", "max", "round", "ceil", "floor"})
_RESERVED = _FUNCTIONS | {"none", "true", "false"}

DEFAULT_PRIMARY_LABEL = "Primary Formula Transaction Input"
DEFAULT_SECONDARY_LABEL = "Secondary Formula Transaction Input"

HELP = "use numbers, {names}, + - * / ( ) and min, max, round, ceil, floor"


def _context() -> Context:
    return Context(
        prec=34,
        rounding=ROUND_HALF_UP,
        Emax=30,
        Emin=-30,
        traps=[InvalidOperation, DivisionByZero, Overflow],
    )


@dataclass(frozen=True)
class FormulaDefinition:
    """A formula P/S's expression and its two inputs (renamable per record)."""

    expression: str
    primary_name: str = "primary"
    secondary_name: str = "secondary"
    primary_label: str = DEFAULT_PRIMARY_LABEL
    secondary_label: str = DEFAULT_SECONDARY_LABEL


# ------------------------------------------------------------------ the evaluated tree (ours, not Python's)


@dataclass(frozen=True)
class _Number:
    value: Decimal


@dataclass(frozen=True)
class _Input:
    name: str


@dataclass(frozen=True)
class _Binary:
    operator: str
    left: _Node
    right: _Node


@dataclass(frozen=True)
class _Negate:
    operand: _Node


@dataclass(frozen=True)
class _Function:
    name: str
    arguments: tuple[_Node, ...]
    places: int = 0


_Node = _Number | _Input | _Binary | _Negate | _Function


class CompiledFormula:
    """A checked formula, ready to evaluate any number of times."""

    def __init__(self, definition: FormulaDefinition, tree: _Node) -> None:
        self.definition = definition
        self._tree = tree

    @property
    def names(self) -> tuple[str, str]:
        return self.definition.primary_name, self.definition.secondary_name

    def evaluate(self, primary: Decimal, secondary: Decimal) -> Decimal:
        """The exact (unrounded) result; ``InvalidInput`` when the arithmetic cannot be done."""
        for name, value in (
            (self.definition.primary_label, primary),
            (self.definition.secondary_label, secondary),
        ):
            if not isinstance(value, Decimal) or not value.is_finite():
                raise TypeError(f"{name}: formula inputs are finite Decimals")
        inputs = {self.definition.primary_name: primary, self.definition.secondary_name: secondary}
        try:
            with localcontext(_context()):
                result = _evaluate(self._tree, inputs)
                # Normalise under the bounded context, so an overflow surfaces here and not later.
                return +result
        except DivisionByZero:
            raise _refusal("the formula divides by zero for these inputs") from None
        except Overflow:
            raise _refusal("the formula's result is too large for these inputs") from None
        except InvalidOperation:
            raise _refusal("the formula cannot be computed for these inputs") from None


def compile_formula(definition: FormulaDefinition) -> CompiledFormula:
    """Check a formula and keep its tree; every refusal says what the language allows."""
    names = _check_names(definition)
    text = definition.expression
    if not text.strip():
        raise _refusal("the formula is empty; " + HELP.format(names=" and ".join(names)))
    if len(text) > MAX_LENGTH:
        raise _refusal(f"the formula is longer than {MAX_LENGTH} characters")
    try:
        parsed = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise _refusal(
            "the formula is not a valid expression; " + HELP.format(names=" and ".join(names))
        ) from None
    builder = _Builder(text.strip(), names)
    tree = builder.build(parsed.body, depth=0)
    return CompiledFormula(definition, tree)


def evaluate_formula(definition: FormulaDefinition, primary: Decimal, secondary: Decimal) -> Decimal:
    """Compile and evaluate in one step."""
    return compile_formula(definition).evaluate(primary, secondary)


def _check_names(definition: FormulaDefinition) -> tuple[str, str]:
    problems: list[FieldError] = []
    for field_name, name in (
        ("primary_name", definition.primary_name),
        ("secondary_name", definition.secondary_name),
    ):
        if not _NAME.match(name) or name in _RESERVED:
            problems.append(
                FieldError(
                    field_name,
                    f"'{name}' must be a lower-case word (letters, digits, _), not a function name",
                )
            )
    if definition.primary_name == definition.secondary_name:
        problems.append(FieldError("secondary_name", "the two inputs need different names"))
    for field_name, label in (
        ("primary_label", definition.primary_label),
        ("secondary_label", definition.secondary_label),
    ):
        if not label.strip() or len(label) > 100:
            problems.append(FieldError(field_name, "a label of 1 to 100 characters"))
    if problems:
        raise InvalidInput("the formula's inputs are not valid", field_errors=problems)
    return definition.primary_name, definition.secondary_name


class _Builder:
    """Turns a Python expression tree into ours, refusing every node the language does not have."""

    _OPERATORS: dict[type[ast.operator], str] = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}

    def __init__(self, source: str, names: tuple[str, str]) -> None:
        self._source = source
        self._names = names
        self._count = 0

    def build(self, node: ast.AST, depth: int) -> _Node:
        self._count += 1
        if self._count > MAX_NODES:
            raise _refusal(f"the formula is too long (more than {MAX_NODES} parts)")
        if depth > MAX_DEPTH:
            raise _refusal(f"the formula nests deeper than {MAX_DEPTH} levels")
        if isinstance(node, ast.Constant):
            return self._number(node)
        if isinstance(node, ast.Name):
            if node.id not in self._names:
                raise _refusal(
                    f"'{node.id}' is not an input; the formula can use only "
                    f"{self._names[0]} and {self._names[1]}"
                )
            return _Input(node.id)
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.Pow):
                raise _refusal("powers (**) are not allowed; write the multiplication out")
            operator = self._OPERATORS.get(type(node.op))
            if operator is None:
                raise _refusal(f"the operator {_describe(node.op)} is not allowed; " + self._help())
            return _Binary(operator, self.build(node.left, depth + 1), self.build(node.right, depth + 1))
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return _Negate(self.build(node.operand, depth + 1))
            if isinstance(node.op, ast.UAdd):
                return self.build(node.operand, depth + 1)
            raise _refusal(f"the operator {_describe(node.op)} is not allowed; " + self._help())
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        if isinstance(node, ast.Attribute):
            raise _refusal("attribute access (.) is not allowed; " + self._help())
        raise _refusal(f"{_describe(node)} is not allowed in a formula; " + self._help())

    def _number(self, node: ast.Constant) -> _Number:
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            shown = ast.get_source_segment(self._source, node) or _describe(node)
            raise _refusal(f"{shown} is not a number; a formula holds numbers, its two inputs and arithmetic")
        # Read the digits as written: a float would already have lost 0.1's exactness.
        text = ast.get_source_segment(self._source, node) or ""
        try:
            value = Decimal(text.replace("_", ""))
        except InvalidOperation:
            raise _refusal(f"'{text}' is not a decimal number") from None
        if not value.is_finite():
            raise _refusal(f"'{text}' is not a decimal number")
        if value != 0 and abs(value.adjusted()) > MAX_LITERAL_EXPONENT:
            raise _refusal(f"the number '{text}' is out of range (use at most {MAX_LITERAL_EXPONENT} digits)")
        return _Number(value)

    def _call(self, node: ast.Call, depth: int) -> _Function:
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
            called = (
                f"{node.func.id}()" if isinstance(node.func, ast.Name) else "anything but a function name"
            )
            raise _refusal(
                f"calling {called} is not allowed; the functions are min, max, round, ceil and floor"
            )
        name = node.func.id
        if node.keywords:
            raise _refusal(f"{name}() takes no named arguments")
        if any(isinstance(argument, ast.Starred) for argument in node.args):
            raise _refusal(f"{name}() takes plain arguments")
        count = len(node.args)
        places = 0
        if name in ("min", "max"):
            if not 1 <= count <= MAX_ARGUMENTS:
                raise _refusal(f"{name}() takes 1 to {MAX_ARGUMENTS} values")
            arguments = tuple(self.build(argument, depth + 1) for argument in node.args)
        elif name == "round":
            if count not in (1, 2):
                raise _refusal("round() takes a value and, optionally, a number of decimal places")
            if count == 2:
                places = self._places(node.args[1])
            arguments = (self.build(node.args[0], depth + 1),)
        else:
            if count != 1:
                raise _refusal(f"{name}() takes exactly one value")
            arguments = (self.build(node.args[0], depth + 1),)
        return _Function(name, arguments, places)

    def _places(self, node: ast.AST) -> int:
        if (
            not isinstance(node, ast.Constant)
            or isinstance(node.value, bool)
            or not isinstance(node.value, int)
        ):
            raise _refusal("round()'s decimal places must be a whole number written out, like round(x, 2)")
        if not 0 <= node.value <= MAX_ROUND_PLACES:
            raise _refusal(f"round() keeps 0 to {MAX_ROUND_PLACES} decimal places")
        return node.value

    def _help(self) -> str:
        return HELP.format(names=" and ".join(self._names))


def _evaluate(node: _Node, inputs: dict[str, Decimal]) -> Decimal:
    if isinstance(node, _Number):
        return node.value
    if isinstance(node, _Input):
        return inputs[node.name]
    if isinstance(node, _Negate):
        return -_evaluate(node.operand, inputs)
    if isinstance(node, _Binary):
        left = _evaluate(node.left, inputs)
        right = _evaluate(node.right, inputs)
        return _BINARY[node.operator](left, right)
    values = [_evaluate(argument, inputs) for argument in node.arguments]
    if node.name == "min":
        return min(values)
    if node.name == "max":
        return max(values)
    quantum = Decimal(1).scaleb(-node.places)
    rounding = {"round": ROUND_HALF_UP, "ceil": ROUND_CEILING, "floor": ROUND_FLOOR}[node.name]
    return values[0].quantize(quantum, rounding=rounding)


_BINARY: dict[str, Callable[[Decimal, Decimal], Decimal]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
}


def _describe(node: ast.AST) -> str:
    names = {
        "Constant": "text or other non-number values",
        "Compare": "a comparison",
        "BoolOp": "and/or",
        "IfExp": "if/else",
        "Subscript": "indexing ([ ])",
        "Lambda": "lambda",
        "Tuple": "a tuple",
        "List": "a list",
        "Dict": "a dictionary",
        "Set": "a set",
        "JoinedStr": "an f-string",
        "NamedExpr": "assignment (:=)",
        "FloorDiv": "//",
        "Mod": "%",
        "MatMult": "@",
        "BitAnd": "&",
        "BitOr": "|",
        "BitXor": "^",
        "LShift": "<<",
        "RShift": ">>",
        "Invert": "~",
        "Not": "not",
    }
    kind = type(node).__name__
    return names.get(kind, kind)


def _refusal(message: str) -> InvalidInput:
    return InvalidInput(message, field_errors=[FieldError("formula", message)])
