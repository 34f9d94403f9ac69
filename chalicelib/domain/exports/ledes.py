"""LEDES 1998B: the pipe-delimited e-billing invoice file corporate clients' e-billing systems take in.

The file, as the LEDES 1998B specification lays it out:

* line 1 is ``LEDES1998B[]``; line 2 names the 24 fields (:data:`FIELDS`) separated by ``|``; then one
  line per line item. Every line ends ``[]``; lines are separated by CRLF (the format comes from, and is
  read by, Windows billing systems, and a consistent CRLF is what they expect). The file is ASCII.
* values never contain ``|``, a ``[]`` pair or a line break. Free text (invoice and line descriptions,
  timekeeper names) is made one line, folded to ASCII (see ``lines.fold_text``), ``|`` becomes ``/`` and
  square brackets become round ones. Identifiers are never altered: one that cannot be written as it is
  (too long, non-ASCII, a reserved character) stops the export with an ``ExportError``.
* dates are ``YYYYMMDD``; ``INVOICE_NUMBER``, ``CLIENT_ID`` and ``LAW_FIRM_MATTER_ID`` are at most 20
  characters.

How Matterline fills it:

* one invoice per client matter for the billing period: the lines of one matter (they arrive sorted by
  client, matter, day and entry id) make one invoice, numbered by ``invoice_number_for(client, matter)``;
  an invoice number used twice in one file is an error. ``LINE_ITEM_NUMBER`` restarts at 1 per invoice.
* every line is a fee (``F``): ``LINE_ITEM_NUMBER_OF_UNITS`` is the hours, ``billed_seconds / 3600``
  rounded half up to 4 decimals and written with 2 to 4 (``0.10``, ``0.0167``); ``LINE_ITEM_UNIT_COST``
  is the hourly rate; ``LINE_ITEM_ADJUSTMENT_AMOUNT`` is the line's adjustment (negative for a
  discount); ``LINE_ITEM_TOTAL`` = units x unit cost, rounded half up to the cent, + adjustment, so the
  spec's own arithmetic holds to the cent on every line.
* ``INVOICE_TOTAL`` is the sum of the invoice's line totals, repeated on each of its lines; all money
  is written with 2 decimals.
* non-billable time is shown at no charge (by default): its units and rate are written as worked and
  the adjustment writes the whole fee off (adjustment = -(units x cost), total 0.00), and the description
  starts ``No charge:``. With ``include_non_billable=False`` it is left out and counted as skipped.
* the same lines and arguments always give byte-identical output.

Memory: one invoice's lines are held (as finished text) until its total is known; nothing else grows
with the number of lines except the set of invoice numbers already used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal
from typing import TextIO

from chalicelib.domain.exports.lines import (
    ZERO,
    ExportError,
    ExportLine,
    ExportSummary,
    Totals,
    fee_amount,
    fold_text,
    hours_of,
    in_export_order,
    one_line,
    plain_number,
    require_identifier,
)

HEADER = "LEDES1998B[]"
FIELDS = (
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
)
EOL = "[]\r\n"
ENCODING = "ascii"
UNITS_PLACES = 4
ID_LENGTH = 20
NO_CHARGE = "No charge: "
_RESERVED = "|[]"
_TEXT_SAFE = str.maketrans({"|": "/", "[": "(", "]": ")"})


def ledes_text(value: str) -> str:
    """Free text as a LEDES value: one line, ASCII, with no ``|`` and no square brackets."""
    return one_line(fold_text(value, "ascii")).translate(_TEXT_SAFE)


def ledes_date(day: date) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def _units(hours: Decimal) -> str:
    """Hours with 4 decimals, trailing zeros dropped down to 2 (``1.50``, ``0.125``, ``0.0167``)."""
    text = plain_number(hours, UNITS_PLACES)
    if text.endswith("00"):
        return text[:-2]
    if text.endswith("0"):
        return text[:-1]
    return text


def _identifier(value: str, what: str, entry_id: str | None = None, *, limit: int = ID_LENGTH) -> str:
    return require_identifier(value, what, entry_id, max_length=limit, forbidden=_RESERVED)


class _Invoice:
    """The invoice being built: its heading fields and its finished lines, waiting for the total."""

    __slots__ = ("client", "items", "matter", "number", "total")

    def __init__(self, client: str, matter: str, number: str) -> None:
        self.client = client
        self.matter = matter
        self.number = number
        self.total = Decimal(0)
        # (fields 10 to 24 as text, starting with the type) per line; the line number is added on output.
        self.items: list[str] = []


def write_ledes(
    lines: Iterable[ExportLine],
    out: TextIO,
    *,
    law_firm_id: str,
    invoice_date: date,
    billing_start: date,
    billing_end: date,
    invoice_number_for: Callable[[str, str], str],
    description: str,
    include_non_billable: bool = True,
) -> ExportSummary:
    """Write a LEDES 1998B file, one invoice per client matter (rules in the module docstring).

    ``lines`` must be sorted by client number, matter number, day and entry id (``export_sort_key``)
    and fall within ``billing_start``..``billing_end``. Open ``out`` as ASCII with ``newline=""``.
    """
    firm = _identifier(law_firm_id, "LAW_FIRM_ID", limit=40)
    if billing_start > billing_end:
        raise ExportError(f"the billing period starts {billing_start} after it ends {billing_end}")
    invoice_description = ledes_text(description)
    head_dates = (ledes_date(invoice_date), ledes_date(billing_start), ledes_date(billing_end))
    used_numbers: set[str] = set()
    totals = Totals()

    def flush(invoice: _Invoice) -> None:
        total = plain_number(invoice.total, 2)
        start = (
            f"{head_dates[0]}|{invoice.number}|{invoice.client}|{invoice.matter}|{total}|"
            f"{head_dates[1]}|{head_dates[2]}|{invoice_description}|"
        )
        out.write("".join(f"{start}{number}|{item}{EOL}" for number, item in enumerate(invoice.items, 1)))
        totals.invoices += 1

    out.write(HEADER + "\r\n")
    out.write("|".join(FIELDS) + EOL)
    invoice: _Invoice | None = None
    for line in in_export_order(lines):
        if not line.billable and not include_non_billable:
            totals.skipped += 1
            continue
        if invoice is None or line.matter_number != invoice.matter or line.client_number != invoice.client:
            if invoice is not None:
                flush(invoice)
            invoice = _start_invoice(line, invoice_number_for, used_numbers)
        if not billing_start <= line.day <= billing_end:
            raise ExportError(
                f"entry {line.entry_id!r} is dated {line.day}, outside the billing period "
                f"{billing_start} to {billing_end}"
            )
        hours = hours_of(line.billed_seconds, UNITS_PLACES)
        fee = fee_amount(hours, line.rate)
        text = ledes_text(line.description) or ledes_text(line.activity_name)
        if line.billable:
            adjustment = line.adjustment
            total = fee + adjustment
        else:
            adjustment = -fee
            total = ZERO
            text = (NO_CHARGE + text).rstrip()
        invoice.total += total
        invoice.items.append(
            "|".join(
                (
                    "F",
                    _units(hours),
                    plain_number(adjustment, 2),
                    plain_number(total, 2),
                    ledes_date(line.day),
                    line.task_code or "",
                    "",  # LINE_ITEM_EXPENSE_CODE: fees have none
                    line.activity_code or "",
                    _identifier(line.timekeeper_id, "TIMEKEEPER_ID", line.entry_id),
                    text,
                    firm,
                    plain_number(line.rate, 2),
                    ledes_text(line.timekeeper_name),
                    line.timekeeper_classification,
                    _identifier(line.client_matter_id, "CLIENT_MATTER_ID", line.entry_id)
                    if line.client_matter_id
                    else "",
                )
            )
        )
        totals.add(hours, total)
    if invoice is not None:
        flush(invoice)
    return totals.summary()


def _start_invoice(
    line: ExportLine, invoice_number_for: Callable[[str, str], str], used_numbers: set[str]
) -> _Invoice:
    client = _identifier(line.client_number, "CLIENT_ID", line.entry_id)
    matter = _identifier(line.matter_number, "LAW_FIRM_MATTER_ID", line.entry_id)
    number = _identifier(invoice_number_for(client, matter), "INVOICE_NUMBER", line.entry_id)
    if number in used_numbers:
        raise ExportError(
            f"invoice number {number!r} (client {client}, matter {matter}) is already used in this file; "
            "each client matter needs its own invoice number"
        )
    used_numbers.add(number)
    return _Invoice(client, matter, number)
