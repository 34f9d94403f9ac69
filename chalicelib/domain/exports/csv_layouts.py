"""Time entry files for desktop billing systems: Tabs3, PCLaw, TimeSlips, AbacusLaw, and a generic CSV.

Every writer streams: it reads the sorted lines once (see ``lines.in_export_order``), writes each row as
it goes with the ``csv`` module and keeps only running totals. Records end with CRLF (these are Windows
programs, and RFC 4180 says the same), so open the output with ``newline=""``. Each layout names the
encoding its file should be written in (``ENCODINGS``); text is folded to what that encoding can carry.

Layouts, per system (dates, precision, and how non-billable time is expressed):

**Tabs3, "ASCII Variable" (Tabs3 Device Interface, TBDevice).** Published by Tabs3: no header, ten
comma-separated fields, CRLF: client ID (up to 12 characters: the matter's Tabs3 client ID, by default
the matter number), timekeeper (up to 3 characters, number or initials), tcode (1 to 999), phase/task code
(``XNNN``, not A or E), activity code (``ANNN``), date ``MM/DD/YYYY``, hours (2 decimals, up to
9999.99), rate (up to 9999.99), amount (up to 9999999.99), description (up to 5000 characters). Every
field is quoted, which the layout allows and the description needs; Tabs3 reads embedded double quotes as
field ends, so its own instructions ask for single quotes inside descriptions, and we write them.
The file is ASCII: non-ASCII text is transliterated (accents dropped, typographic quotes and dashes made
plain, the section sign written ``Sec.``) and what has no plain form is replaced by ``?``.
Non-billable time is *left out* (counted in ``ExportSummary.skipped``): the layout has no billable flag,
and a zero rate and amount make Tabs3 supply its default rate, which would bill the time.

**PCLaw.** PCLaw imports time through a mapped template whose fields are the lawyer nickname, date,
matter, task code, explanation code, explanation, hours and rate; the exact column set of a firm's
template is not public, so this is our layout, with a header row named for those fields:
``Date`` (``MM/DD/YYYY``), ``Lawyer``, ``Matter``, ``Task Code`` (UTBMS task), ``Activity Code`` (UTBMS
activity), ``Activity``, ``Hours`` (2 decimals), ``Rate``, ``Amount``, ``Billable`` (``Y``/``N``),
``Explanation``. Non-billable time is written with ``Billable`` ``N`` and rate and amount 0.00, which is
what PCLaw itself does when a non-billable task code is used. Windows-1252.

**TimeSlips (TSImport, "Time and Expense Slips", comma delimited).** TSImport maps each column to a
slip field by hand; the columns are named after the fields it offers so the mapping is one to one:
``Transaction Type`` (``Time``), ``Transaction Date`` (``MM/DD/YYYY``), ``Timekeeper Nickname 1``,
``Client Nickname 1`` (the matter number: TimeSlips clients are the billed files), ``Activity Nickname
1`` (the UTBMS activity code, else the activity name), ``Task Code``, ``Time Spent`` (decimal hours, 2
decimals), ``Rate Type`` (``Hourly``), ``Rate Value``, ``Slip Value``, ``Billing Status``,
``Description``. The column set is ours (a TSImport template decides what is read). Non-billable time
has ``Billing Status`` ``Do Not Bill`` (or ``No Charge`` if asked) with rate and value 0.00. TSImport
keeps embedded quotes as they are, so doubled quotes would import doubled: double quotes inside text
are written as single quotes. Windows-1252.

**AbacusLaw (Abacus Accounting, File > Utilities > Import > Time Tickets).** Published by AbacusLaw:
a header line ``date,timekeeper,hours,matter_number,acivity_code,task_code,ticket_type,amount,text``
(the vendor's own spelling of ``acivity_code``, which the import expects), then every element quoted.
Dates ``MM/DD/YYYY``, hours 2 decimals. ``ticket_type`` is ``BL`` (billable) or ``NB`` (non-billable,
amount 0.00). Abacus reads ``amount`` only for flat-rate tickets and prices the others itself; we write
our amount so the file and the export summary agree. Windows-1252.

**Generic CSV.** Everything, lossless, for spreadsheets and other systems: a header row, UTF-8, ISO
dates, hours to 4 decimals beside the exact ``billed_seconds``, rate, adjustment and amount to the cent,
``billable`` ``true``/``false`` (non-billable amount 0.00, rate and adjustment kept for the record).
Descriptions keep their line breaks (quoted, RFC 4180). Text cells that a spreadsheet would run as a
formula (starting ``=``, ``+``, ``-``, ``@``) get a leading apostrophe, as OWASP advises for CSV files.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Literal, TextIO

from chalicelib.domain.exports.lines import (
    ZERO,
    ExportError,
    ExportLine,
    ExportSummary,
    Totals,
    fold_text,
    hours_of,
    in_export_order,
    line_amount,
    one_line,
    plain_number,
    require_identifier,
)

CRLF = "\r\n"

# The encoding each layout's file is written in; text is folded to what it can carry.
ENCODINGS: dict[str, str] = {
    "tabs3": "ascii",
    "pclaw": "cp1252",
    "timeslips": "cp1252",
    "abacus": "cp1252",
    "csv": "utf-8",
}

Row = tuple[list[str], Decimal, Decimal]  # cells, hours written, amount written


def _us_date(day: date) -> str:
    return f"{day.month:02d}/{day.day:02d}/{day.year:04d}"


def _stream(
    lines: Iterable[ExportLine],
    out: TextIO,
    row_of: Callable[[ExportLine], Row | None],
    *,
    header: list[str] | None,
    quoting: Literal[0, 1, 2, 3],
) -> ExportSummary:
    """Write ``header`` and one row per line (``row_of`` returns None for a line the layout leaves out)."""
    writer = csv.writer(out, quoting=quoting, lineterminator=CRLF)
    if header is not None:
        writer.writerow(header)
    totals = Totals()
    for line in in_export_order(lines):
        row = row_of(line)
        if row is None:
            totals.skipped += 1
            continue
        cells, hours, amount = row
        writer.writerow(cells)
        totals.add(hours, amount)
    return totals.summary()


def _text(value: str, charset: str) -> str:
    """Free text for a one-line field: folded to ``charset``, line breaks made spaces."""
    return one_line(fold_text(value, charset))


def _single_quotes(text: str) -> str:
    return text.replace('"', "'")


def _limit(entry_id: str, what: str, value: Decimal, low: Decimal, high: Decimal) -> Decimal:
    if not low <= value <= high:
        raise ExportError(f"entry {entry_id!r}: {what} {value} is outside this format's {low} to {high}")
    return value


# ------------------------------------------------------------------ Tabs3

TABS3_MAX_DESCRIPTION = 5000
_TABS3_MAX_HOURS = Decimal("9999.99")
_TABS3_MAX_RATE = Decimal("9999.99")
_TABS3_MAX_AMOUNT = Decimal("9999999.99")


def tabs3_exports(line: ExportLine) -> bool:
    """Whether Tabs3 files carry ``line`` (non-billable time is left out; see the module docstring)."""
    return line.billable


def write_tabs3(
    lines: Iterable[ExportLine],
    out: TextIO,
    *,
    tcodes: Mapping[str, int] | None = None,
    default_tcode: int | None = None,
    client_id_for: Callable[[ExportLine], str] | None = None,
) -> ExportSummary:
    """Write a Tabs3 "ASCII Variable" fee file (layout in the module docstring; open ``out`` as ASCII).

    ``tcodes`` maps a firm activity name, or a UTBMS activity code, to the Tabs3 tcode (looked up in that
    order); ``default_tcode`` is used for activities not mapped. An activity with neither is an error.
    ``client_id_for`` gives the Tabs3 client ID of a line's matter (default: the matter number).
    """
    mapping = dict(tcodes or {})
    for name, code in [*mapping.items(), ("default", default_tcode)]:
        if code is not None and (isinstance(code, bool) or not isinstance(code, int) or not 1 <= code <= 999):
            raise ExportError(f"Tabs3 tcode {code!r} for {name!r} must be a whole number from 1 to 999")

    def row_of(line: ExportLine) -> Row | None:
        if not tabs3_exports(line):
            return None
        client_id = client_id_for(line) if client_id_for else line.matter_number
        require_identifier(client_id, "Tabs3 client ID", line.entry_id, max_length=12, forbidden='",')
        require_identifier(
            line.timekeeper_id, "Tabs3 timekeeper", line.entry_id, max_length=3, forbidden='",'
        )
        tcode = mapping.get(line.activity_name)
        if tcode is None and line.activity_code:
            tcode = mapping.get(line.activity_code)
        if tcode is None:
            tcode = default_tcode
        if tcode is None:
            raise ExportError(
                f"entry {line.entry_id!r}: no Tabs3 tcode for activity {line.activity_name!r}; "
                "map it in the Tabs3 export settings or set a default tcode"
            )
        hours = _limit(line.entry_id, "hours", hours_of(line.billed_seconds, 2), ZERO, _TABS3_MAX_HOURS)
        rate = _limit(line.entry_id, "rate", line.rate, ZERO, _TABS3_MAX_RATE)
        amount = _limit(line.entry_id, "amount", line_amount(line, hours), ZERO, _TABS3_MAX_AMOUNT)
        description = _single_quotes(_text(line.description, "ascii"))
        if len(description) > TABS3_MAX_DESCRIPTION:
            raise ExportError(
                f"entry {line.entry_id!r}: the description is {len(description)} characters; "
                f"Tabs3 takes at most {TABS3_MAX_DESCRIPTION}"
            )
        cells = [
            client_id,
            line.timekeeper_id,
            str(tcode),
            line.task_code or "",
            line.activity_code or "",
            _us_date(line.day),
            plain_number(hours, 2),
            plain_number(rate, 2),
            plain_number(amount, 2),
            description,
        ]
        return cells, hours, amount

    return _stream(lines, out, row_of, header=None, quoting=csv.QUOTE_ALL)


# ------------------------------------------------------------------ PCLaw

PCLAW_COLUMNS = [
    "Date",
    "Lawyer",
    "Matter",
    "Task Code",
    "Activity Code",
    "Activity",
    "Hours",
    "Rate",
    "Amount",
    "Billable",
    "Explanation",
]


def write_pclaw(lines: Iterable[ExportLine], out: TextIO) -> ExportSummary:
    """Write a PCLaw time entry file (layout in the module docstring; open ``out`` as cp1252)."""

    def row_of(line: ExportLine) -> Row:
        require_identifier(line.timekeeper_id, "PCLaw lawyer nickname", line.entry_id, max_length=40)
        require_identifier(line.matter_number, "PCLaw matter", line.entry_id, max_length=40)
        hours = hours_of(line.billed_seconds, 2)
        amount = line_amount(line, hours)
        rate = line.rate if line.billable else ZERO
        cells = [
            _us_date(line.day),
            line.timekeeper_id,
            line.matter_number,
            line.task_code or "",
            line.activity_code or "",
            _text(line.activity_name, "cp1252"),
            plain_number(hours, 2),
            plain_number(rate, 2),
            plain_number(amount, 2),
            "Y" if line.billable else "N",
            _text(line.description, "cp1252"),
        ]
        return cells, hours, amount

    return _stream(lines, out, row_of, header=PCLAW_COLUMNS, quoting=csv.QUOTE_MINIMAL)


# ------------------------------------------------------------------ TimeSlips

TIMESLIPS_COLUMNS = [
    "Transaction Type",
    "Transaction Date",
    "Timekeeper Nickname 1",
    "Client Nickname 1",
    "Activity Nickname 1",
    "Task Code",
    "Time Spent",
    "Rate Type",
    "Rate Value",
    "Slip Value",
    "Billing Status",
    "Description",
]


def write_timeslips(
    lines: Iterable[ExportLine],
    out: TextIO,
    *,
    non_billable_status: Literal["Do Not Bill", "No Charge"] = "Do Not Bill",
) -> ExportSummary:
    """Write a TimeSlips slip import file (layout in the module docstring; open ``out`` as cp1252).

    ``non_billable_status`` is the TimeSlips billing status non-billable time gets: ``Do Not Bill``
    keeps it off the bill, ``No Charge`` prints it at no charge.
    """
    if non_billable_status not in ("Do Not Bill", "No Charge"):
        raise ExportError(f"TimeSlips billing status {non_billable_status!r} is not Do Not Bill or No Charge")

    def row_of(line: ExportLine) -> Row:
        require_identifier(line.timekeeper_id, "TimeSlips timekeeper nickname", line.entry_id, max_length=40)
        require_identifier(line.matter_number, "TimeSlips client nickname", line.entry_id, max_length=40)
        hours = hours_of(line.billed_seconds, 2)
        amount = line_amount(line, hours)
        rate = line.rate if line.billable else ZERO
        activity = line.activity_code or _text(line.activity_name, "cp1252")
        cells = [
            "Time",
            _us_date(line.day),
            line.timekeeper_id,
            line.matter_number,
            _single_quotes(activity),
            line.task_code or "",
            plain_number(hours, 2),
            "Hourly",
            plain_number(rate, 2),
            plain_number(amount, 2),
            "Billable" if line.billable else non_billable_status,
            _single_quotes(_text(line.description, "cp1252")),
        ]
        return cells, hours, amount

    return _stream(lines, out, row_of, header=TIMESLIPS_COLUMNS, quoting=csv.QUOTE_MINIMAL)


# ------------------------------------------------------------------ AbacusLaw

# Spelt as AbacusLaw's import instructions spell it ("acivity_code").
ABACUS_HEADER = "date,timekeeper,hours,matter_number,acivity_code,task_code,ticket_type,amount,text"


def write_abacus(lines: Iterable[ExportLine], out: TextIO) -> ExportSummary:
    """Write an Abacus Accounting time ticket import file (layout in the module docstring; cp1252)."""
    out.write(ABACUS_HEADER + CRLF)

    def row_of(line: ExportLine) -> Row:
        require_identifier(line.timekeeper_id, "Abacus timekeeper", line.entry_id, max_length=40)
        require_identifier(line.matter_number, "Abacus matter number", line.entry_id, max_length=40)
        hours = hours_of(line.billed_seconds, 2)
        amount = line_amount(line, hours)
        cells = [
            _us_date(line.day),
            line.timekeeper_id,
            plain_number(hours, 2),
            line.matter_number,
            line.activity_code or "",
            line.task_code or "",
            "BL" if line.billable else "NB",
            plain_number(amount, 2),
            _text(line.description, "cp1252"),
        ]
        return cells, hours, amount

    return _stream(lines, out, row_of, header=None, quoting=csv.QUOTE_ALL)


# ------------------------------------------------------------------ generic CSV

GENERIC_COLUMNS = [
    "entry_id",
    "date",
    "client_number",
    "client_name",
    "matter_number",
    "matter_name",
    "timekeeper_id",
    "timekeeper_name",
    "timekeeper_classification",
    "task_code",
    "activity_code",
    "activity_name",
    "billable",
    "billed_seconds",
    "hours",
    "rate",
    "adjustment",
    "amount",
    "description",
]
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """``text`` with a leading apostrophe if a spreadsheet would otherwise run it as a formula."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def write_generic_csv(lines: Iterable[ExportLine], out: TextIO) -> ExportSummary:
    """Write the generic CSV (layout in the module docstring; open ``out`` as UTF-8)."""

    def row_of(line: ExportLine) -> Row:
        hours = hours_of(line.billed_seconds, 4)
        amount = line_amount(line, hours)
        cells = [
            spreadsheet_safe(line.entry_id),
            line.day.isoformat(),
            spreadsheet_safe(line.client_number),
            spreadsheet_safe(line.client_name),
            spreadsheet_safe(line.matter_number),
            spreadsheet_safe(line.matter_name),
            spreadsheet_safe(line.timekeeper_id),
            spreadsheet_safe(line.timekeeper_name),
            line.timekeeper_classification,
            line.task_code or "",
            line.activity_code or "",
            spreadsheet_safe(line.activity_name),
            "true" if line.billable else "false",
            str(line.billed_seconds),
            plain_number(hours, 4),
            plain_number(line.rate, 2),
            plain_number(line.adjustment, 2),
            plain_number(amount, 2),
            spreadsheet_safe(line.description),
        ]
        return cells, hours, amount

    return _stream(lines, out, row_of, header=GENERIC_COLUMNS, quoting=csv.QUOTE_MINIMAL)
