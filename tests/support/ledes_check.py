"""A strict LEDES 1998B checker, written from the format's specification for the tests.

It shares nothing with the writer in ``chalicelib.domain.exports.ledes`` on purpose: it re-reads the
file as a receiving e-billing system would, so a bug in the writer cannot hide behind the same bug here.
``check_ledes(text)`` returns every violation it finds (an empty list means the file is clean), each
naming the physical line.

What it enforces (spec rules, plus the stricter profile Matterline promises):

* line 1 is ``LEDES1998B[]``; line 2 is the 24 field names in order, ``|``-separated, ending ``[]``;
* every line ends ``[]``, all lines end the same way (CRLF throughout or LF throughout), no blank lines,
  no bare carriage returns, ASCII only, no ``[]`` inside a line;
* every data line has 24 fields; required fields are present; ``INVOICE_NUMBER``, ``CLIENT_ID``,
  ``LAW_FIRM_MATTER_ID`` and ``LINE_ITEM_NUMBER`` are at most 20 characters;
* dates are real ``YYYYMMDD`` dates; the billing period does not end before it starts, and line dates
  fall inside it;
* numbers are plain decimals with at most 4 decimal places (money at most 2); fee units are not negative;
* the line type is F, E, IF or IE; fees carry a timekeeper and a known classification (PT, AS, OC, LA,
  OT); UTBMS codes look like codes (task ``XNNN``, activity ``ANNN``, expense ``ENNN``), and a fee has no
  expense code;
* ``LINE_ITEM_TOTAL`` = units x unit cost + adjustment, to the cent (for IF/IE lines: the adjustment);
* each invoice's lines are together, repeat the same invoice fields, have unique line numbers, and
  ``INVOICE_TOTAL`` equals the sum of their line totals exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

SIGNATURE = "LEDES1998B[]"
FIELD_NAMES = [
    "INVOICE_DATE",
    "INVOICE_NUMBER",
    "CLIENT_ID",
    "LAW_FIRM_MATTER_ID",
    "INVOICE_TOTAL",
    "BILLING_START_DATE",
    "BILLING_END_DATE",
    "INVOICE_DESCRIPTION",
    "LINE_ITEM_NUMBER",
    "EXP/FEE/INV_ADJ_TYPE",
    "LINE_ITEM_NUMBER_OF_UNITS",
    "LINE_ITEM_ADJUSTMENT_AMOUNT",
    "LINE_ITEM_TOTAL",
    "LINE_ITEM_DATE",
    "LINE_ITEM_TASK_CODE",
    "LINE_ITEM_EXPENSE_CODE",
    "LINE_ITEM_ACTIVITY_CODE",
    "TIMEKEEPER_ID",
    "LINE_ITEM_DESCRIPTION",
    "LAW_FIRM_ID",
    "LINE_ITEM_UNIT_COST",
    "TIMEKEEPER_NAME",
    "TIMEKEEPER_CLASSIFICATION",
    "CLIENT_MATTER_ID",
]
REQUIRED = (
    "INVOICE_DATE",
    "INVOICE_NUMBER",
    "CLIENT_ID",
    "LAW_FIRM_MATTER_ID",
    "INVOICE_TOTAL",
    "BILLING_START_DATE",
    "BILLING_END_DATE",
    "LINE_ITEM_NUMBER",
    "EXP/FEE/INV_ADJ_TYPE",
    "LINE_ITEM_TOTAL",
    "LINE_ITEM_DATE",
    "LAW_FIRM_ID",
)
FEE_REQUIRED = (
    "LINE_ITEM_NUMBER_OF_UNITS",
    "LINE_ITEM_UNIT_COST",
    "TIMEKEEPER_ID",
    "TIMEKEEPER_CLASSIFICATION",
)
SHORT_FIELDS = ("INVOICE_NUMBER", "CLIENT_ID", "LAW_FIRM_MATTER_ID", "LINE_ITEM_NUMBER")
MONEY_FIELDS = ("INVOICE_TOTAL", "LINE_ITEM_ADJUSTMENT_AMOUNT", "LINE_ITEM_TOTAL")
NUMBER_FIELDS = ("LINE_ITEM_NUMBER_OF_UNITS", "LINE_ITEM_UNIT_COST")
# Fields that belong to the invoice, not the line: every line of an invoice must repeat them unchanged.
INVOICE_FIELDS = (
    "INVOICE_DATE",
    "CLIENT_ID",
    "LAW_FIRM_MATTER_ID",
    "INVOICE_TOTAL",
    "BILLING_START_DATE",
    "BILLING_END_DATE",
    "INVOICE_DESCRIPTION",
    "LAW_FIRM_ID",
)
LINE_TYPES = {"F", "E", "IF", "IE"}
CLASSIFICATIONS = {"PT", "AS", "OC", "LA", "OT"}

_DATE = re.compile(r"\d{8}")
_MONEY = re.compile(r"[+-]?\d+(\.\d{1,2})?")
_NUMBER = re.compile(r"[+-]?\d+(\.\d{1,4})?")
_TASK = re.compile(r"[A-Z]\d{3}")
_ACTIVITY = re.compile(r"A\d{3}")
_EXPENSE = re.compile(r"E\d{3}")
HALF_CENT = Decimal("0.005")


@dataclass
class _InvoiceSeen:
    first_line: int
    heading: dict[str, str]
    line_numbers: set[str] = field(default_factory=set)
    line_sum: Decimal = Decimal(0)
    sum_valid: bool = True
    last_line: int = 0


def _parse_date(text: str) -> date | None:
    if not _DATE.fullmatch(text):
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def _split_physical_lines(text: str, problems: list[str]) -> list[str]:
    """The lines of ``text`` without their terminators, reporting inconsistent line endings."""
    if not text:
        problems.append("the file is empty")
        return []
    raw = text.split("\n")
    ends_with_newline = raw[-1] == ""
    if ends_with_newline:
        raw.pop()
    crlf = [line.endswith("\r") for line in raw]
    # The last line may lack a terminator altogether; judge the style by the terminated ones.
    terminated = crlf if ends_with_newline else crlf[:-1]
    if terminated and any(terminated) and not all(terminated):
        mixed = [str(index + 1) for index, is_crlf in enumerate(terminated) if is_crlf != terminated[0]]
        problems.append(
            f"line endings are mixed (CRLF and LF); lines {', '.join(mixed[:5])} differ from line 1"
        )
    lines = [line[:-1] if is_crlf else line for line, is_crlf in zip(raw, crlf, strict=True)]
    for number, line in enumerate(lines, 1):
        if "\r" in line:
            problems.append(f"line {number}: a carriage return inside the line")
    return lines


def check_ledes(text: str) -> list[str]:
    """Every LEDES 1998B violation in ``text`` (empty when the file is valid)."""
    problems: list[str] = []
    lines = _split_physical_lines(text, problems)
    if not lines:
        if text:
            problems.append("the file has no lines")
        return problems

    for number, line in enumerate(lines, 1):
        if not line.isascii():
            problems.append(f"line {number}: non-ASCII characters")
        if not line.strip():
            problems.append(f"line {number}: blank line")
            continue
        if not line.endswith("[]"):
            problems.append(f"line {number}: does not end with []")
        elif "[]" in line[:-2]:
            problems.append(f"line {number}: [] inside the line")

    if lines[0] != SIGNATURE:
        problems.append(f"line 1: expected {SIGNATURE!r}, found {lines[0]!r}")
    if len(lines) < 2:
        problems.append("line 2: the field names are missing")
        return problems
    names = lines[1][:-2].split("|") if lines[1].endswith("[]") else lines[1].split("|")
    if names != FIELD_NAMES:
        problems.append(f"line 2: field names are not the 24 LEDES 1998B names in order: {lines[1]!r}")

    invoices: dict[str, _InvoiceSeen] = {}
    previous_invoice: str | None = None
    for number, line in enumerate(lines[2:], 3):
        if not line.strip():
            continue
        body = line[:-2] if line.endswith("[]") else line
        values = body.split("|")
        if len(values) != len(FIELD_NAMES):
            problems.append(f"line {number}: {len(values)} fields, expected {len(FIELD_NAMES)}")
            continue
        record = dict(zip(FIELD_NAMES, values, strict=True))
        _check_record(number, record, problems)
        invoice_number = record["INVOICE_NUMBER"]
        if not invoice_number:
            continue
        seen = invoices.get(invoice_number)
        if seen is None:
            seen = invoices[invoice_number] = _InvoiceSeen(
                number, {name: record[name] for name in INVOICE_FIELDS}
            )
        elif previous_invoice != invoice_number:
            problems.append(
                f"line {number}: invoice {invoice_number} resumes after other invoices' lines "
                f"(its lines must be together)"
            )
        previous_invoice = invoice_number
        seen.last_line = number
        for name in INVOICE_FIELDS:
            if record[name] != seen.heading[name]:
                problems.append(
                    f"line {number}: {name} {record[name]!r} differs from {seen.heading[name]!r} on line "
                    f"{seen.first_line} of invoice {invoice_number}"
                )
        line_number = record["LINE_ITEM_NUMBER"]
        if line_number in seen.line_numbers:
            problems.append(
                f"line {number}: LINE_ITEM_NUMBER {line_number} repeats in invoice {invoice_number}"
            )
        seen.line_numbers.add(line_number)
        line_total = _decimal(record["LINE_ITEM_TOTAL"], _MONEY)
        if line_total is None:
            seen.sum_valid = False
        else:
            seen.line_sum += line_total

    for invoice_number, seen in invoices.items():
        stated = _decimal(seen.heading["INVOICE_TOTAL"], _MONEY)
        if seen.sum_valid and stated is not None and stated != seen.line_sum:
            problems.append(
                f"invoice {invoice_number}: INVOICE_TOTAL {seen.heading['INVOICE_TOTAL']} is not the sum of "
                f"its line totals {seen.line_sum} (lines {seen.first_line}-{seen.last_line})"
            )
    if len(lines) == 2:
        problems.append("the file has no line items")
    return problems


def _decimal(text: str, pattern: re.Pattern[str]) -> Decimal | None:
    if not pattern.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        return None


def _check_record(number: int, record: dict[str, str], problems: list[str]) -> None:
    where = f"line {number}"
    for name in REQUIRED:
        if not record[name]:
            problems.append(f"{where}: {name} is required")
    for name in SHORT_FIELDS:
        if len(record[name]) > 20:
            problems.append(f"{where}: {name} is longer than 20 characters")

    days: dict[str, date | None] = {}
    for name in ("INVOICE_DATE", "BILLING_START_DATE", "BILLING_END_DATE", "LINE_ITEM_DATE"):
        value = record[name]
        days[name] = _parse_date(value) if value else None
        if value and days[name] is None:
            problems.append(f"{where}: {name} {value!r} is not a YYYYMMDD date")
    start, end, day = days["BILLING_START_DATE"], days["BILLING_END_DATE"], days["LINE_ITEM_DATE"]
    if start and end and start > end:
        problems.append(f"{where}: the billing period ends before it starts")
    if start and end and day and not start <= day <= end:
        problems.append(f"{where}: LINE_ITEM_DATE {record['LINE_ITEM_DATE']} is outside the billing period")

    amounts: dict[str, Decimal | None] = {}
    for name in MONEY_FIELDS:
        value = record[name]
        amounts[name] = _decimal(value, _MONEY) if value else None
        if value and amounts[name] is None:
            problems.append(f"{where}: {name} {value!r} is not an amount (digits, at most 2 decimals)")
    for name in NUMBER_FIELDS:
        value = record[name]
        amounts[name] = _decimal(value, _NUMBER) if value else None
        if value and amounts[name] is None:
            problems.append(f"{where}: {name} {value!r} is not a number (digits, at most 4 decimals)")

    kind = record["EXP/FEE/INV_ADJ_TYPE"]
    if kind and kind not in LINE_TYPES:
        problems.append(f"{where}: EXP/FEE/INV_ADJ_TYPE {kind!r} is not F, E, IF or IE")
    if kind == "F":
        for name in FEE_REQUIRED:
            if not record[name]:
                problems.append(f"{where}: {name} is required on a fee line")
        classification = record["TIMEKEEPER_CLASSIFICATION"]
        if classification and classification not in CLASSIFICATIONS:
            problems.append(f"{where}: TIMEKEEPER_CLASSIFICATION {classification!r} is not a known code")
        if record["LINE_ITEM_EXPENSE_CODE"]:
            problems.append(f"{where}: a fee line carries an expense code")
    units = amounts["LINE_ITEM_NUMBER_OF_UNITS"]
    if kind in ("F", "E") and units is not None and units < 0:
        problems.append(f"{where}: LINE_ITEM_NUMBER_OF_UNITS is negative")
    for name, pattern in (
        ("LINE_ITEM_TASK_CODE", _TASK),
        ("LINE_ITEM_ACTIVITY_CODE", _ACTIVITY),
        ("LINE_ITEM_EXPENSE_CODE", _EXPENSE),
    ):
        if record[name] and not pattern.fullmatch(record[name]):
            problems.append(f"{where}: {name} {record[name]!r} is not a UTBMS code")

    total = amounts["LINE_ITEM_TOTAL"]
    adjustment = amounts["LINE_ITEM_ADJUSTMENT_AMOUNT"] or Decimal(0)
    if total is None:
        return
    if kind in ("F", "E"):
        cost = amounts["LINE_ITEM_UNIT_COST"]
        if units is not None and cost is not None and abs(units * cost + adjustment - total) > HALF_CENT:
            problems.append(
                f"{where}: LINE_ITEM_TOTAL {total} is not units {units} x unit cost {cost} + adjustment "
                f"{adjustment} (= {units * cost + adjustment})"
            )
    elif kind in ("IF", "IE") and total != adjustment:
        problems.append(f"{where}: an invoice adjustment's LINE_ITEM_TOTAL {total} is not its adjustment")
