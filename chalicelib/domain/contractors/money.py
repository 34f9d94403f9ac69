"""Money for the contractor module: exact decimals, never floats, one rounding rule.

The rule, written down once:

- Rates and units are exact decimals with at most four places (a rate of 0.1250 per word, 2.75 hours).
- A line amount is ``units x rate`` computed exactly, then rounded ONCE to whole cents, half up
  (``ROUND_HALF_UP``: 0.005 becomes 0.01). Formula results and timeslip amounts are rounded the same way.
- Totals (an invoice, a category, a case budget) are sums of already-rounded line amounts, so every total
  adds up to the cent on paper and never drifts.

Public API:

- ``CENT``, ``ZERO``: the quantum and zero amount.
- ``to_money(value) -> Decimal``: round a computed Decimal to cents, half up.
- ``parse_amount(value, field) -> Decimal``: a user-supplied amount (at most 2 places, >= 0).
- ``parse_rate(value, field) -> Decimal``: a rate (at most 4 places, >= 0).
- ``parse_units(value, field) -> Decimal``: a quantity of units (at most 4 places, > 0).
- ``line_amount(units, rate) -> Decimal``: ``units x rate`` rounded once.
- ``sum_money(amounts) -> Decimal``: an exact total.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from chalicelib.domain.errors import FieldError, InvalidInput

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# Nobody bills a billion dollars on one line; the cap keeps arithmetic far from any overflow.
MAX_AMOUNT = Decimal("999999999.99")
MAX_RATE = Decimal("99999999.9999")
MAX_UNITS = Decimal("9999999.9999")
RATE_PLACES = 4
UNIT_PLACES = 4

MoneyInput = Decimal | int | str
# Anything beyond this is refused before any arithmetic touches it.
_LARGEST_ACCEPTED = Decimal(10) ** 12


def to_money(value: Decimal) -> Decimal:
    """Round a computed amount to cents, half up. The only place amounts are rounded."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def sum_money(amounts: Iterable[Decimal]) -> Decimal:
    """The exact total of rounded amounts, as an amount (0.00 when there are none)."""
    return to_money(sum(amounts, ZERO))


def line_amount(units: Decimal, rate: Decimal) -> Decimal:
    """``units x rate``, computed exactly and rounded once to cents."""
    return to_money(units * rate)


def parse_amount(value: MoneyInput, field: str) -> Decimal:
    """A user-supplied amount: at most two decimal places, from 0.00 to ``MAX_AMOUNT``."""
    amount = _decimal(value, field, places=2, what="an amount")
    if amount < 0 or amount > MAX_AMOUNT:
        raise _invalid(field, f"must be between 0.00 and {MAX_AMOUNT}")
    return to_money(amount)


def parse_rate(value: MoneyInput, field: str) -> Decimal:
    """A rate per unit: at most four decimal places, from 0 to ``MAX_RATE``."""
    rate = _decimal(value, field, places=RATE_PLACES, what="a rate")
    if rate < 0 or rate > MAX_RATE:
        raise _invalid(field, f"must be between 0 and {MAX_RATE}")
    return rate


def parse_units(value: MoneyInput, field: str) -> Decimal:
    """A quantity of units: more than zero, at most four decimal places, at most ``MAX_UNITS``."""
    units = _decimal(value, field, places=UNIT_PLACES, what="a quantity")
    if units <= 0 or units > MAX_UNITS:
        raise _invalid(field, f"must be more than 0 and at most {MAX_UNITS}")
    return units


def _decimal(value: MoneyInput, field: str, *, places: int, what: str) -> Decimal:
    # A float here is a programming error, not bad input: 0.1 as a float is not 0.1.
    if isinstance(value, float | bool):
        raise TypeError(
            f"{field}: money and quantities are Decimal, int or str, never {type(value).__name__}"
        )
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise _invalid(field, f"'{value}' is not {what}; write it like 125.50") from None
    if not number.is_finite():
        raise _invalid(field, f"'{value}' is not {what}; write it like 125.50")
    if abs(number) > _LARGEST_ACCEPTED:
        raise _invalid(field, f"'{value}' is far too large")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -places:
        # 2.750000 is 2.75: only significant places count.
        significant = number.normalize().as_tuple().exponent
        if isinstance(significant, int) and significant < -places:
            raise _invalid(field, f"'{value}' has more than {places} decimal places")
        number = number.quantize(Decimal(1).scaleb(-places))
    return number


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field} {message}", field_errors=[FieldError(field, message)])
