"""What every billing file export is made of: the line it is given, the rules all formats share.

An export writer receives :class:`ExportLine` rows, one per released entry, already sorted by
:func:`export_sort_key` (client, matter, day, entry id). The rules shared by every format live here:

* **Hours** are ``billed_seconds / 3600``, computed exactly with integers and rounded half up to the
  number of decimal places the format takes (:func:`hours_of`). With the usual 6-minute (or 3- or
  15-minute) increments the written hours are exact; otherwise they are the nearest the format can say.
* **Amounts** are the written hours times the rate, rounded half up to the cent (:func:`fee_amount`),
  plus the line's adjustment (a discount is negative). Working from the *written* hours keeps every file
  self-consistent: the billing system that multiplies hours by rate again gets the same figure.
* **Money** is ``Decimal`` to the cent: rates and adjustments must be whole cents, floats are refused.
* **Text** that a format cannot carry is folded (:func:`fold_text`): typographic punctuation and accented
  letters become their plain equivalents, anything left without one becomes ``?``. Identifiers are never
  folded or truncated: an identifier a format cannot carry is an :class:`ExportError`, because a changed
  client or matter number bills the wrong file.
* **Order** is checked while streaming (:func:`in_export_order`): a line out of order, or the same entry
  twice, stops the export with :class:`UnsortedLines` instead of splitting an invoice or billing twice.

When a writer raises, what it wrote so far is incomplete and must be discarded.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from chalicelib.domain.errors import InvalidInput

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
SECONDS_PER_HOUR = 3600


class ExportError(InvalidInput):
    """The lines cannot be written in the chosen format; the message says which entry and why."""

    code = "export_invalid"


class UnsortedLines(ExportError):
    """Lines arrived out of (client, matter, day, entry id) order, or an entry arrived twice."""

    code = "export_unsorted"


class TimekeeperClassification(StrEnum):
    """The LEDES timekeeper classifications a line may carry."""

    PARTNER = "PT"
    ASSOCIATE = "AS"
    OF_COUNSEL = "OC"
    LEGAL_ASSISTANT = "LA"  # legal assistant or paralegal
    OTHER = "OT"


_CLASSIFICATIONS = frozenset(member.value for member in TimekeeperClassification)
# UTBMS: a task code is a letter and three digits (L120, B110, P300...); activity codes are A101..A1nn.
# A and E are the activity and expense sets, never task codes (Tabs3 enforces the same).
TASK_CODE = re.compile(r"[B-DF-Z][0-9]{3}")
ACTIVITY_CODE = re.compile(r"A[0-9]{3}")


@dataclass(frozen=True, slots=True)
class ExportLine:
    """One released entry, as every export format needs it.

    ``rate`` is per hour and ``adjustment`` is added to the line's amount (negative for a discount);
    both are ``Decimal`` in whole cents. ``billable`` false means the time is recorded but not charged:
    each format says in its docstring how it expresses that. ``client_matter_id`` is the client's own
    reference for the matter, when the client gave one (LEDES ``CLIENT_MATTER_ID``).
    """

    entry_id: str
    day: date
    client_number: str
    client_name: str
    matter_number: str
    matter_name: str
    timekeeper_id: str
    timekeeper_name: str
    timekeeper_classification: str
    billed_seconds: int
    rate: Decimal
    task_code: str | None
    activity_code: str | None
    activity_name: str
    description: str
    billable: bool
    adjustment: Decimal = ZERO
    client_matter_id: str | None = None

    def __post_init__(self) -> None:
        problems: list[str] = []
        for name in ("entry_id", "client_number", "matter_number", "timekeeper_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                problems.append(f"{name} is required")
        if not isinstance(self.day, date):
            problems.append("day must be a date")
        if isinstance(self.billed_seconds, bool) or not isinstance(self.billed_seconds, int):
            problems.append("billed_seconds must be a whole number of seconds")
        elif self.billed_seconds < 0:
            problems.append("billed_seconds cannot be negative")
        problems.extend(_money_problems("rate", self.rate, allow_negative=False))
        problems.extend(_money_problems("adjustment", self.adjustment, allow_negative=True))
        if self.timekeeper_classification not in _CLASSIFICATIONS:
            problems.append(
                f"timekeeper_classification '{self.timekeeper_classification}' is not one of "
                f"{', '.join(sorted(_CLASSIFICATIONS))}"
            )
        if self.task_code is not None and not TASK_CODE.fullmatch(self.task_code):
            problems.append(f"task_code '{self.task_code}' is not a UTBMS task code like L120")
        if self.activity_code is not None and not ACTIVITY_CODE.fullmatch(self.activity_code):
            problems.append(f"activity_code '{self.activity_code}' is not a UTBMS activity code like A106")
        if not isinstance(self.billable, bool):
            problems.append("billable must be true or false")
        if problems:
            raise ExportError(f"entry {self.entry_id!r} cannot be exported: {'; '.join(problems)}")


def _money_problems(name: str, value: object, *, allow_negative: bool) -> list[str]:
    if not isinstance(value, Decimal):
        # Floats are refused outright: 0.1 is not a tenth, and an invoice must add up to the cent.
        return [f"{name} must be a Decimal, not {type(value).__name__}"]
    if not value.is_finite():
        return [f"{name} must be a finite amount"]
    if value != value.quantize(CENT):
        return [f"{name} {value} is not a whole number of cents"]
    if value < 0 and not allow_negative:
        return [f"{name} cannot be negative"]
    return []


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """What a writer wrote: lines, hours and amount as they appear in the file.

    ``skipped`` counts lines the format leaves out on purpose (see the format's docstring);
    ``invoices`` counts LEDES invoices (0 for the CSV layouts).
    """

    count: int
    total_hours: Decimal
    total_amount: Decimal
    skipped: int = 0
    invoices: int = 0


class Totals:
    """A running :class:`ExportSummary`, for writers to add to as they stream."""

    __slots__ = ("amount", "count", "hours", "invoices", "skipped")

    def __init__(self) -> None:
        self.count = 0
        self.hours = Decimal(0)
        self.amount = Decimal(0)
        self.skipped = 0
        self.invoices = 0

    def add(self, hours: Decimal, amount: Decimal) -> None:
        self.count += 1
        self.hours += hours
        self.amount += amount

    def summary(self) -> ExportSummary:
        return ExportSummary(
            count=self.count,
            total_hours=self.hours,
            total_amount=self.amount.quantize(CENT),
            skipped=self.skipped,
            invoices=self.invoices,
        )


# ------------------------------------------------------------------ numbers


def hours_of(billed_seconds: int, places: int) -> Decimal:
    """``billed_seconds / 3600`` rounded half up to ``places`` decimals, computed exactly."""
    scaled, remainder = divmod(billed_seconds * 10**places, SECONDS_PER_HOUR)
    if 2 * remainder >= SECONDS_PER_HOUR:
        scaled += 1
    return Decimal(scaled).scaleb(-places)


def money(value: Decimal) -> Decimal:
    """``value`` rounded half up to the cent."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def fee_amount(hours: Decimal, rate: Decimal) -> Decimal:
    """Hours times rate, to the cent (half up)."""
    return money(hours * rate)


def plain_number(value: Decimal, places: int) -> str:
    """``value`` with exactly ``places`` decimals, never ``-0.00``."""
    text = f"{value:.{places}f}"
    if text.startswith("-") and not text.strip("-0."):
        return text[1:]
    return text


def line_amount(line: ExportLine, hours: Decimal) -> Decimal:
    """What a line charges at ``hours``: hours x rate plus its adjustment; nothing when not billable."""
    if not line.billable:
        return ZERO
    return fee_amount(hours, line.rate) + line.adjustment


# ------------------------------------------------------------------ order


def export_sort_key(line: ExportLine) -> tuple[str, str, date, str]:
    """The order every writer expects: client number, matter number, day, entry id."""
    return (line.client_number, line.matter_number, line.day, line.entry_id)


def in_export_order(lines: Iterable[ExportLine]) -> Iterator[ExportLine]:
    """Pass ``lines`` through, raising :class:`UnsortedLines` at the first one out of order or repeated."""
    previous: tuple[str, str, date, str] | None = None
    previous_id = ""
    for line in lines:
        key = (line.client_number, line.matter_number, line.day, line.entry_id)
        if previous is not None and key <= previous:
            what = "appears twice" if key == previous else f"comes after entry {previous_id!r}"
            raise UnsortedLines(
                f"entry {line.entry_id!r} {what}: lines must be sorted by client number, matter number, "
                "day and entry id, each entry once"
            )
        previous, previous_id = key, line.entry_id
        yield line


# ------------------------------------------------------------------ text

# Characters with a conventional plain rendering that Unicode decomposition does not give. Legal text
# leans on the section and paragraph signs, so they get words rather than a question mark.
_PLAIN = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u201f": '"',
    "\u2033": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2015": "-",
    "\u2212": "-",
    "\u2026": "...",
    "\u2022": "*",
    "\u00b7": ".",
    "\u2044": "/",
    "\u00a0": " ",
    "\u2007": " ",
    "\u2009": " ",
    "\u202f": " ",
    "\u00ad": "",
    "\u200b": "",
    "\ufeff": "",
    "\u00a7": "Sec.",
    "\u00b6": "Para.",
    "\u00a9": "(c)",
    "\u00ae": "(R)",
    "\u2122": "(TM)",
    "\u20ac": "EUR",
    "\u00a3": "GBP",
    "\u00a5": "JPY",
    "\u00b0": " deg",
    "\u00d7": "x",
    "\u00f7": "/",
    "\u00df": "ss",
    "\u1e9e": "SS",
    "\u00e6": "ae",
    "\u00c6": "AE",
    "\u0153": "oe",
    "\u0152": "OE",
    "\u00f8": "o",
    "\u00d8": "O",
    "\u0142": "l",
    "\u0141": "L",
    "\u0111": "d",
    "\u0110": "D",
    "\u00f0": "d",
    "\u00d0": "D",
    "\u00fe": "th",
    "\u00de": "Th",
    "\u0131": "i",
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SPACES = re.compile(r"\s+")


def _fold_char(char: str) -> str:
    if char in _PLAIN:
        return _PLAIN[char]
    decomposed = unicodedata.normalize("NFKD", char)
    # Compatibility forms decompose into parts that may need the table too: one half is 1, U+2044, 2.
    plain = "".join(_PLAIN.get(part, part) for part in decomposed if not unicodedata.combining(part))
    if plain and plain.isascii():
        return plain
    return "?"


def fold_text(text: str, charset: str = "ascii") -> str:
    """``text`` with every character ``charset`` cannot encode transliterated, or ``?`` if it has no
    plain equivalent. ``"Caf\u00e9 \u2013 \u00a7 2"`` folds to ``"Cafe - Sec. 2"`` in ASCII; in cp1252 the
    accent and dash are kept because that code page has them.
    """
    try:
        text.encode(charset)
        return text
    except UnicodeEncodeError:
        pass
    out: list[str] = []
    for char in text:
        try:
            char.encode(charset)
            out.append(char)
        except UnicodeEncodeError:
            out.append(_fold_char(char))
    return "".join(out)


def one_line(text: str) -> str:
    """``text`` on one line: line breaks, tabs and other control characters become single spaces."""
    if _CONTROL.search(text) is None and "  " not in text:
        return text.strip()
    return _SPACES.sub(" ", _CONTROL.sub(" ", text)).strip()


def require_identifier(
    value: str, what: str, entry_id: str | None, *, max_length: int, forbidden: str = ""
) -> str:
    """``value`` unchanged if a format can carry it as an identifier, else :class:`ExportError`.

    Identifiers are never folded or cut: a changed matter number bills the wrong file.
    """
    where = f"entry {entry_id!r}: " if entry_id else ""
    if not value or value != value.strip():
        raise ExportError(f"{where}{what} {value!r} is empty or has surrounding spaces")
    if not value.isascii() or _CONTROL.search(value):
        raise ExportError(f"{where}{what} {value!r} has characters this format cannot carry")
    if len(value) > max_length:
        raise ExportError(f"{where}{what} {value!r} is longer than this format's {max_length} characters")
    for bad in forbidden:
        if bad in value:
            raise ExportError(f"{where}{what} {value!r} contains {bad!r}, which this format reserves")
    return value
