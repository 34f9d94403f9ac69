"""Call-detail records (CDRs) exported by a firm's phone system as CSV, read into calls.

Pure: text in, records and row errors out. Nothing here touches AWS, HTTP or the clock.

What a file may look like
    - Delimiter ``,``, ``;`` or tab, chosen by which one makes the header row name the most known columns;
      an Excel ``sep=;`` first line names it outright. A UTF-8 byte order mark, Windows (CRLF) or old Mac
      (CR) line endings, blank lines and rows of empty cells are all tolerated.
    - Header names are matched ignoring case, spaces, ``_`` and ``-`` (``Record ID`` = ``record_id``):

        call id        call_id, id, cdr_id, record id
        start          start, start_time, started_at — or date and time as two columns
        duration       billsec, talk time, duration_seconds, duration (talk time wins over duration when
                       both are present: Asterisk's ``duration`` includes ringing, ``billsec`` does not)
        direction      direction: inbound / outbound / internal (also in / out, incoming / outgoing)
        extension      extension, ext, station
        other number   other_number, number, remote — or caller and callee as two columns, read by direction:
                       inbound → caller, outbound → callee, internal → whichever is not the extension
                       (callee when neither is)
        other name     name (optional) — or caller_name / callee_name, read by direction like the numbers

      Columns nobody asked for are ignored. A missing required column is one error on the header line per
      column, naming it and listing the accepted names; no row is read then.
    - Limits: at most ``MAX_BYTES`` (5 MB, UTF-8) and ``MAX_ROWS`` data rows; a bigger file is refused
      with one error and no records.

What a row must hold
    - start: ISO 8601 (``2026-03-09T14:30:00``, ``2026-03-09 14:30:00.250+01:00``, ``...Z``; a 12-hour
      clock with AM/PM is accepted). With an offset it is that instant. Without one it is wall-clock time
      in ``default_zone`` (IANA or Windows name): a time that does not exist there (the hour skipped when
      clocks go forward) is an error; a time that happens twice (the hour repeated when clocks go back) is
      taken as its **first** occurrence (``fold=0``, still on summer time), because phone systems that
      export naive times almost never say which one they meant and the earlier reading keeps the calls of
      that hour in the order they were made. Everything ends up UTC, millisecond precision (truncated).
      Slash-separated day/month dates are refused: 03/09 is March in one country and September in another.
    - duration: seconds (``125``; ``125.4`` rounds half up) or ``h:mm:ss`` / ``mm:ss``; at most 24 hours.
      In a ``;``-delimited file a decimal comma is read too (``12,5``): spreadsheets use ``;`` exactly where
      the comma is the decimal separator. Elsewhere ``1,234`` is refused rather than guessed.
      A call of 0 seconds is a missed or unanswered call: no record and no error, counted in
      ``CallImport.skipped_missed`` (unless the row is wrong in some other way — then it is an error).
    - numbers: see ``normalize_number``. The other party's number may be empty or withheld ("anonymous",
      "private", "withheld", ...) on inbound calls only; it is then "".
    - call id: non-empty, at most ``MAX_CALL_ID_LENGTH`` characters, unique in the file: a repeat is an
      error on the later line. ``CallRecord.stable_key`` is ``call:<id>``, the capture key, so importing the
      same file twice adds nothing.

A row with any problem is not a record: it yields one ``RowError`` per wrong field (every field is checked,
not just the first), with the physical line it starts on (the header is line 1 in an ordinary file).
Whatever the text, ``parse_call_records`` returns errors rather than raising; only an unknown
``default_zone`` raises (``InvalidInput``), since that is the caller's configuration, not the file.
"""

from __future__ import annotations

import csv
import dataclasses
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from chalicelib.domain.csvfile import CsvRow, RowError, read_rows, utf8_size
from chalicelib.domain.timeutil import utc_ms, zone

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 100_000
MAX_CALL_SECONDS = 24 * 60 * 60
MAX_CALL_ID_LENGTH = 200
DELIMITERS = (",", ";", "\t")


class CallDirection(StrEnum):
    """Which way a call went, seen from the firm's extension."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"
    INTERNAL = "internal"


@dataclasses.dataclass(frozen=True)
class CallRecord:
    """One answered call from a phone system's export, times in UTC."""

    call_id: str
    start: datetime
    duration_seconds: int
    direction: CallDirection
    extension: str
    other_number: str
    other_name: str
    line: int

    @property
    def stable_key(self) -> str:
        """The capture key: the same call imported again is the same event."""
        return f"call:{self.call_id}"

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.duration_seconds)


@dataclasses.dataclass(frozen=True)
class CallImport:
    """The outcome of reading one export: good rows as records, bad ones as errors."""

    records: list[CallRecord] = dataclasses.field(default_factory=list)
    errors: list[RowError] = dataclasses.field(default_factory=list)
    skipped_missed: int = 0


# --- phone numbers -----------------------------------------------------------------------------------------

_SEPARATORS = re.compile(r"[\s.\-()]+")
_TRUNK_ZERO = re.compile(r"\(\s*0\s*\)")
_SCIENTIFIC = re.compile(r"[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+", re.ASCII)
_NUMBER_EXPECTED = "expected digits, with a leading + or 00 before a country code"
_MIN_INTERNATIONAL_DIGITS = 7
_MAX_INTERNATIONAL_DIGITS = 15  # E.164
_MAX_LOCAL_DIGITS = 20


def _number(raw: str) -> tuple[str, str | None]:
    """The comparable form of ``raw`` and, if it is not a phone number, why (a phrase after the value)."""
    value = raw.strip()
    if not value:
        return "", None
    if _SCIENTIFIC.fullmatch(value):
        return (
            "",
            "is a spreadsheet number in scientific notation; export the column as text to keep every digit",
        )
    compact = _SEPARATORS.sub("", value)
    if value.startswith("+") or compact.startswith("00"):
        # "+44 (0)20 7946 0000": the bracketed trunk zero is dialled only from inside the country.
        without_trunk = _SEPARATORS.sub("", _TRUNK_ZERO.sub("", value, count=1))
        plus = value.startswith("+")
        digits = without_trunk[1:] if plus else without_trunk[2:]
        looks_international = (
            _digits(digits) and len(digits) >= _MIN_INTERNATIONAL_DIGITS and digits[0] != "0"
        )
        if plus and not _digits(digits):
            return "", f"is not a phone number; {_NUMBER_EXPECTED}"
        if plus and digits[0] == "0":
            return "", "has no country code after + (no country code starts with 0)"
        if plus and len(digits) < _MIN_INTERNATIONAL_DIGITS:
            return (
                "",
                f"is too short for an international number (fewer than {_MIN_INTERNATIONAL_DIGITS} digits)",
            )
        if looks_international and len(digits) > _MAX_INTERNATIONAL_DIGITS:
            return "", f"has more than {_MAX_INTERNATIONAL_DIGITS} digits after the country prefix"
        if looks_international:
            return "+" + digits, None
        # "000", "0012": a short or internal number that happens to start with 00, read as digits below.
    if not _digits(compact):
        return "", f"is not a phone number; {_NUMBER_EXPECTED}"
    if len(compact) > _MAX_LOCAL_DIGITS:
        return "", f"has more than {_MAX_LOCAL_DIGITS} digits; {_NUMBER_EXPECTED}"
    return compact, None


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()  # "".isdigit() is False


def normalize_number(raw: str) -> str:
    """A phone number in a form that compares equal however it was written.

    Spaces, dots, dashes and parentheses go; ``+`` or a ``00`` prefix becomes ``+`` and the digits after it
    (a bracketed trunk zero, ``+44 (0)20``, is dropped); anything else (internal extensions, national
    numbers) stays digits, leading zeros and all. ``""`` stays ``""``. National numbers are not given a
    country code (the firm's country is not known here), and only ``00`` is read as an international prefix
    (not 011 or 0011). Raises ``ValueError`` saying why when ``raw`` is not a phone number.

    >>> [normalize_number(n) for n in ("+44 (0)20 7946-0000", "0044 20 7946 0000", "204")]
    ['+442079460000', '+442079460000', '204']
    """
    normal, problem = _number(raw)
    if problem:
        raise ValueError(f"{_show(raw)} {problem}")
    return normal


_WITHHELD = frozenset(
    {"anonymous", "private", "privatenumber", "restricted", "unknown", "withheld", "unavailable", "blocked"}
)


# --- columns -----------------------------------------------------------------------------------------------


class _Role(StrEnum):
    CALL_ID = "call_id"
    START = "start"
    DATE = "date"
    TIME = "time"
    DURATION = "duration"
    DIRECTION = "direction"
    EXTENSION = "extension"
    NUMBER = "other_number"
    CALLER = "caller"
    CALLEE = "callee"
    NAME = "name"
    CALLER_NAME = "caller_name"
    CALLEE_NAME = "callee_name"


# In order of preference when a file has more than one column for a role.
_SYNONYMS: dict[_Role, tuple[str, ...]] = {
    _Role.CALL_ID: ("call_id", "id", "cdr_id", "record id"),
    _Role.START: ("start", "start_time", "started_at"),
    _Role.DATE: ("date",),
    _Role.TIME: ("time",),
    _Role.DURATION: ("billsec", "talk time", "duration_seconds", "duration"),
    _Role.DIRECTION: ("direction",),
    _Role.EXTENSION: ("extension", "ext", "station"),
    _Role.NUMBER: ("other_number", "number", "remote"),
    _Role.CALLER: ("caller",),
    _Role.CALLEE: ("callee",),
    _Role.NAME: ("name",),
    _Role.CALLER_NAME: ("caller_name",),
    _Role.CALLEE_NAME: ("callee_name",),
}


def _header_key(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", name.casefold())


_BY_KEY: dict[str, tuple[_Role, int]] = {
    _header_key(name): (role, rank) for role, names in _SYNONYMS.items() for rank, name in enumerate(names)
}


@dataclasses.dataclass(frozen=True)
class _Column:
    index: int
    label: str


def _map_header(cells: list[str]) -> dict[_Role, _Column]:
    best: dict[_Role, tuple[int, _Column]] = {}
    for index, cell in enumerate(cells):
        found = _BY_KEY.get(_header_key(cell))
        if found is None:
            continue
        role, rank = found
        if role not in best or rank < best[role][0]:
            best[role] = (rank, _Column(index, cell.strip()))
    return {role: column for role, (_rank, column) in best.items()}


def _names(role: _Role) -> str:
    return ", ".join(_SYNONYMS[role])


def _missing_columns(columns: dict[_Role, _Column], line: int) -> list[RowError]:
    def missing(field: str, what: str, accepted: str) -> RowError:
        return RowError(
            line, field, f"the header has no {what} column; accepted names: {accepted} (case does not matter)"
        )

    errors: list[RowError] = []
    if _Role.CALL_ID not in columns:
        errors.append(missing("call_id", "call id", _names(_Role.CALL_ID)))
    if _Role.START not in columns and not (_Role.DATE in columns and _Role.TIME in columns):
        errors.append(missing("start", "start", f"{_names(_Role.START)}, or date and time as two columns"))
    for role, what in (
        (_Role.DURATION, "duration"),
        (_Role.DIRECTION, "direction"),
        (_Role.EXTENSION, "extension"),
    ):
        if role not in columns:
            errors.append(missing(role.value, what, _names(role)))
    if _Role.NUMBER not in columns and not (_Role.CALLER in columns and _Role.CALLEE in columns):
        errors.append(
            missing(
                "other_number",
                "other party's number",
                f"{_names(_Role.NUMBER)}, or caller and callee as two columns",
            )
        )
    return errors


# --- values ------------------------------------------------------------------------------------------------

_DATE = r"(?P<year>\d{4})[-/](?P<month>\d{1,2})[-/](?P<day>\d{1,2})"
_CLOCK = (
    r"(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d{1,9}))?)?"
    r"(?:\s*(?P<half>[AaPp])\.?[Mm]\.?)?"
)
_OFFSET = r"(?:\s*(?P<offset>[Zz]|(?P<sign>[+-])(?P<off_h>\d{2})(?::?(?P<off_m>\d{2}))?))?"
_START = re.compile(rf"\s*{_DATE}(?:[Tt]|\s+){_CLOCK}{_OFFSET}\s*", re.ASCII)
_DATE_CELL = re.compile(r"\s*(\d{4}[-/]\d{1,2}[-/]\d{1,2})(?:[Tt ]0?0:00(?::00(?:[.,]0+)?)?)?\s*", re.ASCII)
_TIME_CELL = re.compile(r"\s*(?:\d{4}[-/]\d{1,2}[-/]\d{1,2}[Tt ]\s*)?(\S.*?)\s*", re.ASCII)
_START_EXPECTED = (
    "expected an ISO 8601 date and time such as 2026-03-09T14:30:00 or 2026-03-09 14:30:00+01:00"
)


def _instant(text: str, what: str, tz: tzinfo, zone_name: str) -> tuple[datetime | None, str | None]:
    """The UTC instant ``text`` names, or why it names none (a full message about ``what``)."""
    found = _START.fullmatch(text)
    if found is None:
        return None, f"{what} is not a date and time; {_START_EXPECTED}"
    part = found.groupdict()
    hour = int(part["hour"])
    if part["half"]:
        if not 1 <= hour <= 12:
            return None, f"{what} has hour {hour} with AM/PM; expected 1 to 12"
        hour = hour % 12 + (12 if part["half"] in "Pp" else 0)
    try:
        naive = datetime(
            int(part["year"]),
            int(part["month"]),
            int(part["day"]),
            hour,
            int(part["minute"]),
            int(part["second"] or 0),
            int((part["fraction"] or "0")[:6].ljust(6, "0")),
        )
    except ValueError as error:
        return None, f"{what} is not a real date and time ({error}); {_START_EXPECTED}"
    try:
        if part["offset"] is None:
            return _localize(naive, tz, what, zone_name)
        if part["offset"] in "Zz":
            return utc_ms(naive.replace(tzinfo=UTC)), None
        offset = timedelta(hours=int(part["off_h"]), minutes=int(part["off_m"] or 0))
        if offset >= timedelta(hours=24) or int(part["off_m"] or 0) >= 60:
            return None, f"{what} has offset {part['offset']}; expected an offset from -23:59 to +23:59"
        sign = -1 if part["sign"] == "-" else 1
        return utc_ms(naive.replace(tzinfo=timezone(sign * offset))), None
    except OverflowError:
        return None, f"{what} is out of range; {_START_EXPECTED}"


def _localize(naive: datetime, tz: tzinfo, what: str, zone_name: str) -> tuple[datetime | None, str | None]:
    """Wall-clock time in ``tz``: skipped times are refused, repeated times are the first (fold=0)."""
    local = naive.replace(tzinfo=tz, fold=0)
    utc = local.astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) != naive:
        return None, (
            f"{what} does not exist in {zone_name} (the clocks skipped that hour); "
            "expected a local time that happened, or a UTC offset such as +01:00"
        )
    return utc_ms(utc), None


_SECONDS = re.compile(r"(?P<whole>\d+)(?:\.(?P<fraction>\d+))?", re.ASCII)
_H_MM_SS = re.compile(
    r"(?:(?P<hours>\d+):)?(?P<minutes>\d+):(?P<seconds>\d{1,2})(?:\.(?P<fraction>\d+))?", re.ASCII
)


def _duration(text: str, label: str, *, decimal_comma: bool) -> tuple[int | None, str | None]:
    expected = "expected seconds (125) or h:mm:ss / mm:ss (0:02:05, 2:05)"
    if not text:
        return None, f"{label} is empty; {expected}"
    shown = text
    if decimal_comma and text.count(",") == 1:
        text = text.replace(",", ".")
    if text.startswith("-") and (_SECONDS.fullmatch(text[1:]) or _H_MM_SS.fullmatch(text[1:])):
        return None, f"{label} {_show(shown)} is negative; {expected}"
    too_long = (
        f"{label} {_show(shown)} is longer than {MAX_CALL_SECONDS // 3600} hours; expected one call's length"
    )
    if found := _SECONDS.fullmatch(text):
        whole = found["whole"].lstrip("0")
        fraction = found["fraction"] or "0"
    elif found := _H_MM_SS.fullmatch(text):
        hours, minutes, seconds = found["hours"], found["minutes"], found["seconds"]
        if int(seconds) >= 60 or (hours is not None and (len(minutes) > 2 or int(minutes) >= 60)):
            return None, f"{label} {_show(shown)} has minutes or seconds of 60 or more; {expected}"
        if len((hours or "").lstrip("0")) > 4 or len(minutes.lstrip("0")) > 6:
            return None, too_long
        whole = str(
            int((hours or "").lstrip("0") or 0) * 3600 + int(minutes.lstrip("0") or 0) * 60 + int(seconds)
        )
        fraction = found["fraction"] or "0"
    else:
        return None, f"{label} {_show(shown)} is not seconds or h:mm:ss; {expected}"
    if len(whole) > 8:  # no int() of huge digit strings; a day has 5 digits of seconds
        return None, too_long
    total = int(Decimal(f"{whole or 0}.{fraction[:9]}").quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if total > MAX_CALL_SECONDS:
        return None, too_long
    return total, None


_DIRECTIONS: dict[str, CallDirection] = {
    "inbound": CallDirection.INBOUND,
    "in": CallDirection.INBOUND,
    "incoming": CallDirection.INBOUND,
    "outbound": CallDirection.OUTBOUND,
    "out": CallDirection.OUTBOUND,
    "outgoing": CallDirection.OUTBOUND,
    "internal": CallDirection.INTERNAL,
}


def _show(value: str, limit: int = 60) -> str:
    shown = value if len(value) <= limit else value[: limit - 1] + "…"
    return f"'{shown}'"


# --- the file ----------------------------------------------------------------------------------------------


def _delimiter_for(header_line: str) -> str:
    """The delimiter that makes the header name the most known columns (then the most cells)."""

    def score(delimiter: str) -> tuple[int, int]:
        try:
            cells = next(csv.reader([header_line.rstrip("\r\n")], delimiter=delimiter), [])
        except csv.Error:  # e.g. a "header" longer than the csv module's field limit
            return 0, 0
        return len({_BY_KEY[k][0] for k in map(_header_key, cells) if k in _BY_KEY}), len(cells)

    return max(DELIMITERS, key=score)  # max keeps the first of equals: comma


def parse_call_records(text: str, *, default_zone: str) -> CallImport:
    """Read a phone system's CSV export of call-detail records (see the module's notes for the rules).

    ``default_zone`` (IANA or Windows name) is where times without an offset were written; an unknown zone
    raises ``InvalidInput``. Everything wrong with the text comes back as ``RowError``s.
    """
    tz = zone(default_zone)
    size = utf8_size(text, MAX_BYTES)
    if size > MAX_BYTES:
        return CallImport(
            errors=[
                RowError(
                    1,
                    "file",
                    f"the file is {size / 1024 / 1024:.1f} MB; the limit is {MAX_BYTES // 1024 // 1024} MB: "
                    "split the export into smaller files",
                )
            ]
        )
    rows, delimiter, unreadable = read_rows(
        text.removeprefix("\ufeff"), delimiter_for=_delimiter_for, max_rows=MAX_ROWS
    )
    if not rows:
        return CallImport(
            errors=[
                unreadable
                or RowError(1, "file", "the file is empty; expected a header row and one row per call")
            ]
        )
    if len(rows) > MAX_ROWS + 1:
        return CallImport(
            errors=[
                RowError(
                    rows[MAX_ROWS + 1].line,
                    "file",
                    f"the file has more than {MAX_ROWS:,} rows; the limit is {MAX_ROWS:,}: "
                    "split the export into smaller files",
                )
            ]
        )
    header, *body = rows
    columns = _map_header(header.cells)
    if missing := _missing_columns(columns, header.line):
        return CallImport(errors=missing + ([unreadable] if unreadable else []))
    reader = _RowReader(columns, len(header.cells), delimiter, tz, default_zone)
    records: list[CallRecord] = []
    errors: list[RowError] = []
    missed = 0
    for row in body:
        record, row_errors = reader.read(row)
        if row_errors:
            errors.extend(row_errors)
        elif record is None:
            missed += 1
        else:
            records.append(record)
    if unreadable:
        errors.append(unreadable)
    return CallImport(records=records, errors=errors, skipped_missed=missed)


class _RowReader:
    """Turns data rows into records; remembers call ids to catch repeats."""

    def __init__(
        self, columns: dict[_Role, _Column], width: int, delimiter: str, tz: tzinfo, zone_name: str
    ) -> None:
        self.columns = columns
        self.width = width
        self.delimiter = delimiter
        self.tz = tz
        self.zone_name = zone_name
        self.seen: dict[str, int] = {}

    def read(self, row: CsvRow) -> tuple[CallRecord | None, list[RowError]]:
        """The record, or ``None`` for a missed call; or the errors (then no record)."""
        errors: list[RowError] = []

        def fail(field: str, message: str) -> None:
            errors.append(RowError(row.line, field, message))

        def cell(role: _Role) -> str:
            column = self.columns.get(role)
            if column is None or column.index >= len(row.cells):
                return ""
            return row.cells[column.index].strip()

        def label(role: _Role) -> str:
            return self.columns[role].label

        if any(extra.strip() for extra in row.cells[self.width :]):
            fail(
                "row",
                f"the row has {len(row.cells)} values but the header has {self.width} columns; "
                "quote values that contain " + ("tabs" if self.delimiter == "\t" else f"'{self.delimiter}'"),
            )
        call_id = self._call_id(cell(_Role.CALL_ID), label(_Role.CALL_ID), row.line, fail)
        start = self._start(cell, label, fail)
        duration, problem = _duration(
            cell(_Role.DURATION), label(_Role.DURATION), decimal_comma=self.delimiter == ";"
        )
        if problem:
            fail("duration", problem)
        direction = _DIRECTIONS.get(cell(_Role.DIRECTION).casefold())
        if direction is None:
            fail(
                "direction",
                f"{label(_Role.DIRECTION)} {_show(cell(_Role.DIRECTION))} is not inbound, outbound or "
                "internal (in, out, incoming and outgoing are accepted too)",
            )
        extension, problem = _number(cell(_Role.EXTENSION))
        if problem:
            fail("extension", f"{label(_Role.EXTENSION)} {_show(cell(_Role.EXTENSION))} {problem}")
        elif not extension:
            fail("extension", f"{label(_Role.EXTENSION)} is empty; expected the firm's extension on the call")
        other_number = self._other_number(cell, label, direction, extension, fail)
        other_name = self._other_name(cell, direction)
        if errors:
            return None, errors
        assert start is not None and duration is not None and direction is not None
        if duration == 0:
            return None, []
        record = CallRecord(
            call_id, start, duration, direction, extension, other_number, other_name, row.line
        )
        return record, []

    def _call_id(self, value: str, label: str, line: int, fail: Callable[[str, str], None]) -> str:
        if not value:
            fail("call_id", f"{label} is empty; expected the phone system's id for the call")
        elif len(value) > MAX_CALL_ID_LENGTH:
            fail(
                "call_id",
                f"{label} {_show(value)} is {len(value)} characters long; the limit is {MAX_CALL_ID_LENGTH}",
            )
        elif value in self.seen:
            fail("call_id", f"call id {_show(value)} already appears on line {self.seen[value]}")
        else:
            self.seen[value] = line
        return value

    def _start(
        self, cell: Callable[[_Role], str], label: Callable[[_Role], str], fail: Callable[[str, str], None]
    ) -> datetime | None:
        if _Role.START in self.columns:
            text, what = cell(_Role.START), f"{label(_Role.START)} {_show(cell(_Role.START))}"
            if not text:
                fail("start", f"{label(_Role.START)} is empty; {_START_EXPECTED}")
                return None
        else:
            day, clock = cell(_Role.DATE), cell(_Role.TIME)
            what = f"{label(_Role.DATE)} {_show(day)} and {label(_Role.TIME)} {_show(clock)}"
            day_part, clock_part = _DATE_CELL.fullmatch(day), _TIME_CELL.fullmatch(clock)
            if day_part is None or clock_part is None:
                fail(
                    "start", f"{what} are not a date and a time of day; expected e.g. 2026-03-09 and 14:30:00"
                )
                return None
            text = f"{day_part[1]}T{clock_part[1]}"
        start, problem = _instant(text, what, self.tz, self.zone_name)
        if problem:
            fail("start", problem)
        return start

    def _other_number(
        self,
        cell: Callable[[_Role], str],
        label: Callable[[_Role], str],
        direction: CallDirection | None,
        extension: str,
        fail: Callable[[str, str], None],
    ) -> str:
        if _Role.NUMBER in self.columns:
            candidates = [_Role.NUMBER]
        elif direction is CallDirection.INBOUND:
            candidates = [_Role.CALLER]
        elif direction is CallDirection.OUTBOUND:
            candidates = [_Role.CALLEE]
        elif direction is CallDirection.INTERNAL:
            caller_is_us = extension != "" and _number(cell(_Role.CALLER))[0] == extension
            callee_is_us = extension != "" and _number(cell(_Role.CALLEE))[0] == extension
            candidates = [_Role.CALLER if callee_is_us and not caller_is_us else _Role.CALLEE]
        else:  # unknown direction: still report numbers that are wrong whichever side they are
            candidates = [_Role.CALLER, _Role.CALLEE]
        chosen = ""
        for role in candidates:
            value = cell(role)
            withheld = _header_key(value) in _WITHHELD
            normal, problem = _number("" if withheld else value)
            if problem:
                fail("other_number", f"{label(role)} {_show(value)} {problem}")
            elif not normal and direction in (CallDirection.OUTBOUND, CallDirection.INTERNAL):
                shown = f"{label(role)} {_show(value)} is withheld" if withheld else f"{label(role)} is empty"
                fail("other_number", f"{shown}; an {direction.value} call needs the other party's number")
            chosen = normal
        return chosen

    def _other_name(self, cell: Callable[[_Role], str], direction: CallDirection | None) -> str:
        if name := cell(_Role.NAME):
            return name
        if direction is CallDirection.INBOUND:
            return cell(_Role.CALLER_NAME)
        if direction is CallDirection.OUTBOUND:
            return cell(_Role.CALLEE_NAME)
        return ""
