"""CSV imports of clients, matters, contacts and the roster, planned before anything is written.

Pure: text and the firm's current records in, an ``ImportPlan`` out. Nothing here touches AWS, HTTP or the
clock. The service shows the plan as a preview and, when it is ``ok``, writes every create and update in one
go; a plan with errors has no creates and no updates, so a bad file cannot import anything. Billing
connectors that sync the same entities later go through the same planners with their own ``source``.

What a file may look like
    - Delimiter ``,``, ``;`` or tab, chosen by which one makes the header name the most known columns; an
      Excel ``sep=;`` first line names it outright. A UTF-8 byte order mark, CRLF or CR line endings, blank
      lines and rows of empty cells are tolerated.
    - Header names are matched ignoring case, spaces, ``_`` and ``-`` (``External ID`` = ``external_id``);
      each column has a few synonyms (``COLUMNS``). A missing required column is one error on the header
      line per column, naming it and listing the accepted names, and no row is read then. Columns nobody
      asked for are one error on the header line listing them all; rows are still checked so every error
      is listed at once. Two columns for the same thing (``name`` and ``client_name``) are an error too.
    - Lists (domains, emails, phones, roles, extensions, a matter's languages) are ``;``-separated inside
      their cell.
    - Dates are ``YYYY-MM-DD`` only: 03/09/2026 is March in one country and September in another.
    - Limits: ``MAX_BYTES`` (10 MB, UTF-8) and ``MAX_ROWS`` data rows; a bigger file is one error.

Re-import
    Rows are matched to existing records by external id (``Client.external_ids[source]``, ``source`` being
    ``ExistingRecords.source``, ``"import"`` by default). A row that matches no external id is matched to an
    existing record that has no external id from this source yet by its natural key (client name, matter
    number, contact email, user email), so a first import into a firm whose records were typed in by hand
    links them instead of duplicating them. A matched row whose values are all equal to the record is
    ``unchanged``; otherwise it is an update carrying the record's id and version. Columns the file does not
    have leave the record's values alone; an empty cell clears an optional value (responsible, dates,
    domains, ...), except status, billing method and UTBMS, which keep their value (or take the default on
    a create). External ids are never removed by an import.

Every row is checked fully: one ``RowError`` per wrong field (``field`` is the column's canonical name,
``file`` or ``row`` for the whole thing), with the physical line the row starts on (the header is line 1
in an ordinary file). Whatever the text, the planners return errors rather than raising.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Generic, Literal, TypeVar

from chalicelib.domain.calls import normalize_number
from chalicelib.domain.csvfile import CsvRow, RowError, read_rows, utf8_size
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.identity import Role
from chalicelib.domain.matters import (
    BillingMethod,
    Client,
    Contact,
    Matter,
    MatterStatus,
    clean_languages,
    normalize_matter_number,
    validate_client,
    validate_contact,
    validate_matter,
)
from chalicelib.domain.roster import User, UserStatus, normalize_email, validate_user

__all__ = [
    "COLUMNS",
    "DEFAULT_SOURCE",
    "MAX_BYTES",
    "MAX_EXTERNAL_ID_LENGTH",
    "MAX_ROWS",
    "PROGRESS_EVERY",
    "ExistingRecords",
    "ImportKind",
    "ImportPlan",
    "Progress",
    "RowError",
    "plan_clients",
    "plan_contacts",
    "plan_matters",
    "plan_roster",
]

MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 200_000
MAX_EXTERNAL_ID_LENGTH = 200
MAX_INCREMENT_MINUTES = 60
PROGRESS_EVERY = 1_000
DEFAULT_SOURCE = "import"
DELIMITERS = (",", ";", "\t")

ImportKind = Literal["clients", "matters", "contacts", "roster"]
Progress = Callable[[int, int], None]
"""Called with (data rows checked, data rows in the file)."""

T = TypeVar("T")


# --- what the service passes in and gets back --------------------------------------------------------------


@dataclass(frozen=True)
class ExistingRecords:
    """The firm's current records, indexed the way imports look them up (read-only).

    External-id maps are keyed by the id under ``source``; ``matters_by_number`` by
    ``normalize_matter_number``; emails by ``normalize_email``. ``of`` builds all of them from lists.
    """

    clients_by_external_id: Mapping[str, Client] = field(default_factory=dict)
    clients_by_name: Mapping[str, Client] = field(default_factory=dict)
    matters_by_number: Mapping[str, Matter] = field(default_factory=dict)
    matters_by_external_id: Mapping[str, Matter] = field(default_factory=dict)
    contacts_by_external_id: Mapping[str, Contact] = field(default_factory=dict)
    contacts_by_email: Mapping[str, Contact] = field(default_factory=dict)
    users_by_email: Mapping[str, User] = field(default_factory=dict)
    users_by_external_id: Mapping[str, User] = field(default_factory=dict)
    # Names more than one client has: a matter cannot name its client by one of these.
    ambiguous_client_names: frozenset[str] = frozenset()
    source: str = DEFAULT_SOURCE
    # The firm's active legal problem codes: a matter row may name only one of these.
    problem_codes: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        *,
        clients: Iterable[Client] = (),
        matters: Iterable[Matter] = (),
        contacts: Iterable[Contact] = (),
        users: Iterable[User] = (),
        source: str = DEFAULT_SOURCE,
        problem_codes: Iterable[str] = (),
    ) -> ExistingRecords:
        """Index the given records for ``source``."""
        clients, matters, contacts, users = list(clients), list(matters), list(contacts), list(users)
        names: dict[str, Client] = {}
        ambiguous: set[str] = set()
        for client in clients:
            name = client.name.strip()
            if name in names and names[name].client_id != client.client_id:
                ambiguous.add(name)
            names.setdefault(name, client)
        return cls(
            clients_by_external_id={c.external_ids[source]: c for c in clients if source in c.external_ids},
            clients_by_name={name: c for name, c in names.items() if name not in ambiguous},
            matters_by_number={normalize_matter_number(m.number): m for m in matters},
            matters_by_external_id={m.external_ids[source]: m for m in matters if source in m.external_ids},
            contacts_by_external_id={c.external_ids[source]: c for c in contacts if source in c.external_ids},
            contacts_by_email={normalize_email(e): c for c in contacts for e in c.emails},
            users_by_email={normalize_email(u.email): u for u in users},
            users_by_external_id={u.external_ids[source]: u for u in users if source in u.external_ids},
            ambiguous_client_names=frozenset(ambiguous),
            source=source,
            problem_codes=frozenset(problem_codes),
        )


@dataclass(frozen=True)
class ImportPlan(Generic[T]):
    """What importing a file would do. With any error it does nothing: ``creates`` and ``updates`` are empty.

    ``updates`` carry the existing record's id and version with the file's values applied; rows equal to
    their record are only counted in ``unchanged``.
    """

    kind: ImportKind
    rows: int = 0
    creates: list[T] = field(default_factory=list)
    updates: list[T] = field(default_factory=list)
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


# --- columns -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Spec:
    name: str
    synonyms: tuple[str, ...]
    required: bool = False


_EXTERNAL_ID = "external_id"
_ROUNDING = ("rounding_increment", "rounding", "rounding_minutes", "increment")

COLUMNS: dict[ImportKind, tuple[_Spec, ...]] = {
    "clients": (
        _Spec(_EXTERNAL_ID, (_EXTERNAL_ID, "client_id", "client_number", "id"), required=True),
        _Spec("name", ("name", "client_name", "client"), required=True),
        _Spec("domains", ("domains", "domain", "email_domains")),
        _Spec("rounding_increment", _ROUNDING),
    ),
    "matters": (
        _Spec(_EXTERNAL_ID, (_EXTERNAL_ID, "matter_id", "id"), required=True),
        _Spec("number", ("number", "matter_number", "matter_no", "file_number"), required=True),
        _Spec("name", ("name", "matter_name", "description", "title"), required=True),
        _Spec("client", ("client", "client_id", "client_external_id", "client_name"), required=True),
        _Spec("status", ("status", "matter_status")),
        _Spec("responsible", ("responsible", "responsible_user", "responsible_attorney", "attorney")),
        _Spec("billing_method", ("billing_method", "billing", "billing_type", "fee_arrangement")),
        _Spec("utbms_required", ("utbms_required", "utbms")),
        _Spec("rounding_increment", _ROUNDING),
        _Spec("opened_on", ("opened_on", "open_date", "date_opened", "opened")),
        _Spec("closed_on", ("closed_on", "close_date", "date_closed", "closed")),
        _Spec("problem_code", ("problem_code", "legal_problem_code", "problem")),
        _Spec("languages", ("languages", "language", "client_languages")),
    ),
    "contacts": (
        _Spec(_EXTERNAL_ID, (_EXTERNAL_ID, "contact_id", "id"), required=True),
        _Spec("name", ("name", "contact_name", "full_name"), required=True),
        _Spec("emails", ("emails", "email", "email_addresses")),
        _Spec("phones", ("phones", "phone", "phone_numbers")),
        _Spec("company", ("company", "organization", "organisation")),
        _Spec("client", ("client", "client_id", "client_external_id", "client_name")),
    ),
    "roster": (
        _Spec("email", ("email", "email_address", "upn", "user_principal_name"), required=True),
        _Spec("display_name", ("display_name", "name", "full_name"), required=True),
        _Spec("roles", ("roles", "role"), required=True),
        _Spec(_EXTERNAL_ID, (_EXTERNAL_ID, "employee_id", "user_id", "id")),
        _Spec("phone_extensions", ("phone_extensions", "extensions", "extension", "ext")),
        _Spec("time_zone", ("time_zone", "timezone", "tz")),
    ),
}


def _key(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", name.casefold())


_BY_KEY: dict[ImportKind, dict[str, str]] = {
    kind: {_key(synonym): spec.name for spec in specs for synonym in spec.synonyms}
    for kind, specs in COLUMNS.items()
}


def _show(value: str, limit: int = 60) -> str:
    shown = value if len(value) <= limit else value[: limit - 1] + "…"
    return f"'{shown}'"


# --- reading the file --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Column:
    index: int
    label: str


@dataclass
class _Table:
    line: int
    width: int
    delimiter: str
    columns: dict[str, _Column]
    unnamed: tuple[int, ...]
    body: list[CsvRow]
    header_errors: list[RowError]
    fatal: bool
    trailing_error: RowError | None


def _delimiter_for(header_line: str, known: Mapping[str, str]) -> str:
    """The delimiter that makes the header name the most known columns (then the most cells)."""

    def score(delimiter: str) -> tuple[int, int]:
        try:
            cells = next(csv.reader([header_line.rstrip("\r\n")], delimiter=delimiter), [])
        except csv.Error:
            return 0, 0
        return len({known[k] for k in map(_key, cells) if k in known}), len(cells)

    return max(DELIMITERS, key=score)  # max keeps the first of equals: comma


def _read_table(text: str, kind: ImportKind) -> _Table | list[RowError]:
    """The header mapped to columns and the data rows, or the one error that stops the file being read."""
    size = utf8_size(text, MAX_BYTES)
    if size > MAX_BYTES:
        return [
            RowError(
                1,
                "file",
                f"the file is {size / 1024 / 1024:.1f} MB; the limit is {MAX_BYTES // 1024 // 1024} MB: "
                "split it into smaller files",
            )
        ]
    known = _BY_KEY[kind]
    rows, delimiter, unreadable = read_rows(
        text.removeprefix("\ufeff"), delimiter_for=lambda line: _delimiter_for(line, known), max_rows=MAX_ROWS
    )
    if not rows:
        return [
            unreadable
            or RowError(1, "file", f"the file is empty; expected a header row and one row per {_ONE[kind]}")
        ]
    if len(rows) > MAX_ROWS + 1:
        return [
            RowError(
                rows[MAX_ROWS + 1].line,
                "file",
                f"the file has more than {MAX_ROWS:,} rows; the limit is {MAX_ROWS:,}: "
                "split it into smaller files",
            )
        ]
    header, *body = rows
    columns: dict[str, _Column] = {}
    unknown: list[str] = []
    unnamed: list[int] = []
    errors: list[RowError] = []
    fatal = False
    for index, cell in enumerate(header.cells):
        label = cell.strip()
        if not label:
            unnamed.append(index)
            continue
        name = known.get(_key(label))
        if name is None:
            unknown.append(label)
        elif name in columns:
            fatal = True
            errors.append(
                RowError(
                    header.line,
                    name,
                    f"columns {_show(columns[name].label)} and {_show(label)} both give the {name}; keep one",
                )
            )
        else:
            columns[name] = _Column(index, label)
    for spec in COLUMNS[kind]:
        if spec.required and spec.name not in columns:
            fatal = True
            errors.append(
                RowError(
                    header.line,
                    spec.name,
                    f"the header has no {spec.name} column; accepted names: {', '.join(spec.synonyms)} "
                    "(case does not matter)",
                )
            )
    if unknown:
        errors.append(
            RowError(
                header.line,
                "file",
                f"unknown column{'s' if len(unknown) > 1 else ''} {', '.join(map(_show, unknown))}; "
                f"a {kind} file has the columns {', '.join(spec.name for spec in COLUMNS[kind])}",
            )
        )
    return _Table(
        line=header.line,
        width=len(header.cells),
        delimiter=delimiter,
        columns=columns,
        unnamed=tuple(unnamed),
        body=body,
        header_errors=errors,
        fatal=fatal,
        trailing_error=unreadable,
    )


_ONE: dict[ImportKind, str] = {
    "clients": "client",
    "matters": "matter",
    "contacts": "contact",
    "roster": "user",
}


class _Cells:
    """One data row's values by column, and what is wrong with them."""

    def __init__(self, table: _Table, row: CsvRow) -> None:
        self.table = table
        self.row = row
        self.line = row.line
        self.errors: list[RowError] = []
        extra = [
            row.cells[i] for i in (*table.unnamed, *range(table.width, len(row.cells))) if i < len(row.cells)
        ]
        if any(value.strip() for value in extra):
            quoted = "tabs" if table.delimiter == "\t" else f"'{table.delimiter}'"
            self.fail(
                "row",
                f"the row has values in columns the header does not name ({len(row.cells)} values, "
                f"{table.width} header cells); quote values that contain {quoted}",
            )

    def has(self, name: str) -> bool:
        return name in self.table.columns

    def get(self, name: str) -> str:
        column = self.table.columns.get(name)
        if column is None or column.index >= len(self.row.cells):
            return ""
        return self.row.cells[column.index].strip()

    def label(self, name: str) -> str:
        column = self.table.columns.get(name)
        return column.label if column else name

    def fail(self, name: str, message: str) -> None:
        self.errors.append(RowError(self.line, name, message))

    def failed(self) -> set[str]:
        return {error.field for error in self.errors}


def _run(
    kind: ImportKind,
    text: str,
    on_progress: Progress | None,
    check: Callable[[_Cells], tuple[T, T | None] | None],
) -> ImportPlan[T]:
    """Read the file and check each row with ``check``: (entity, the record it updates or None) or None."""
    table = _read_table(text, kind)
    if isinstance(table, list):
        return ImportPlan(kind, errors=table)
    total = len(table.body)
    if table.fatal:
        errors = table.header_errors + ([table.trailing_error] if table.trailing_error else [])
        return ImportPlan(kind, rows=total, errors=errors)
    errors = list(table.header_errors)
    creates: list[T] = []
    updates: list[T] = []
    unchanged = 0
    order = {name: column.index for name, column in table.columns.items()}  # a row's errors, left to right
    for done, row in enumerate(table.body, 1):
        cells = _Cells(table, row)
        outcome = check(cells)
        if cells.errors:
            errors.extend(sorted(cells.errors, key=lambda error: order.get(error.field, -1)))
        elif outcome is not None:
            entity, before = outcome
            if before is None:
                creates.append(entity)
            elif entity == before:
                unchanged += 1
            else:
                updates.append(entity)
        if on_progress is not None and (done % PROGRESS_EVERY == 0 or done == total):
            on_progress(done, total)
    if table.trailing_error:
        errors.append(table.trailing_error)
    if not total and not errors:
        errors.append(
            RowError(
                table.line, "file", f"the file has a header but no rows; expected one row per {_ONE[kind]}"
            )
        )
    if errors:
        return ImportPlan(kind, rows=total, errors=errors)
    return ImportPlan(kind, rows=total, creates=creates, updates=updates, unchanged=unchanged)


# --- values ------------------------------------------------------------------------------------------------


def _required(cells: _Cells, name: str, expected: str) -> str:
    value = cells.get(name)
    if not value:
        cells.fail(name, f"{cells.label(name)} is empty; expected {expected}")
    return value


def _external_id(cells: _Cells, seen: dict[str, int], *, required: bool, what: str) -> str:
    value = cells.get(_EXTERNAL_ID)
    label = cells.label(_EXTERNAL_ID)
    if not value:
        if required:
            cells.fail(
                _EXTERNAL_ID, f"{label} is empty; expected the {what}'s id in the system it comes from"
            )
    elif len(value) > MAX_EXTERNAL_ID_LENGTH:
        cells.fail(
            _EXTERNAL_ID, f"{label} is {len(value)} characters long; the limit is {MAX_EXTERNAL_ID_LENGTH}"
        )
    elif value in seen:
        cells.fail(_EXTERNAL_ID, f"external id {_show(value)} already appears on line {seen[value]}")
    else:
        seen[value] = cells.line
    return value


def _items(cells: _Cells, name: str) -> list[str]:
    """The ``;``-separated values of a list cell, without blanks."""
    return [item.strip() for item in cells.get(name).split(";") if item.strip()]


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)


def _date(cells: _Cells, name: str) -> date | None:
    value = cells.get(name)
    if not value:
        return None
    found = _ISO_DATE.fullmatch(value)
    if found is None:
        cells.fail(name, f"{cells.label(name)} {_show(value)} is not a date; expected YYYY-MM-DD")
        return None
    try:
        return date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError as error:
        cells.fail(
            name, f"{cells.label(name)} {_show(value)} is not a real date ({error}); expected YYYY-MM-DD"
        )
        return None


def _minutes(cells: _Cells, name: str) -> int | None:
    """A rounding increment in minutes, as seconds."""
    value = cells.get(name)
    if not value:
        return None
    expected = f"expected whole minutes from 1 to {MAX_INCREMENT_MINUTES} (6 for tenths of an hour)"
    if not (value.isascii() and value.isdigit()):
        cells.fail(name, f"{cells.label(name)} {_show(value)} is not a number of minutes; {expected}")
        return None
    digits = value.lstrip("0") or "0"
    minutes = int(digits) if len(digits) <= 6 else MAX_INCREMENT_MINUTES + 1  # no int() of huge strings
    if not 1 <= minutes <= MAX_INCREMENT_MINUTES:
        cells.fail(name, f"{cells.label(name)} {_show(value)} is out of range; {expected}")
        return None
    return minutes * 60


def _choice(cells: _Cells, name: str, choices: Mapping[str, T], expected: str) -> T | None:
    """The choice a cell names (ignoring case, spaces, ``_`` and ``-``), ``None`` when it is empty."""
    value = cells.get(name)
    if not value:
        return None
    chosen = choices.get(_key(value))
    if chosen is None:
        cells.fail(name, f"{cells.label(name)} {_show(value)} is not {expected}")
    return chosen


_STATUSES: dict[str, MatterStatus] = {_key(s.value): s for s in MatterStatus}
_BILLING: dict[str, BillingMethod] = {_key(m.value): m for m in BillingMethod} | {
    "flat": BillingMethod.FLAT_FEE,
    "fixedfee": BillingMethod.FLAT_FEE,
    "contingent": BillingMethod.CONTINGENCY,
}
_BOOLEANS: dict[str, bool] = {
    "yes": True,
    "y": True,
    "true": True,
    "1": True,
    "no": False,
    "n": False,
    "false": False,
    "0": False,
}
_ROLES: dict[str, Role] = {_key(role.value): role for role in Role}


def _validate(cells: _Cells, check: Callable[[T], None], entity: T, columns: Mapping[str, str]) -> None:
    """Run an entity rule; report what it finds under the CSV column, unless that column already failed."""
    already = cells.failed()
    try:
        check(entity)
    except InvalidInput as error:
        for problem in error.field_errors:
            column = columns.get(problem.field, problem.field)
            if column not in already:
                cells.fail(column, problem.message)


def _client_ref(cells: _Cells, name: str, existing: ExistingRecords, *, required: bool) -> Client | None:
    """The existing client a cell names, by external id or else exact name."""
    value = cells.get(name)
    if not value:
        if required:
            cells.fail(name, f"{cells.label(name)} is empty; expected the client's external id or name")
        return None
    client = existing.clients_by_external_id.get(value) or existing.clients_by_name.get(value)
    if client is not None:
        return client
    if value in existing.ambiguous_client_names:
        cells.fail(name, f"more than one client is named {_show(value)}; use the client's external id")
    else:
        cells.fail(name, f"unknown client {_show(value)}; import clients first")
    return None


def _unlinked(record: T | None, external_ids: Callable[[T], Mapping[str, str]], source: str) -> T | None:
    """``record`` if it has no external id from ``source`` yet (so a row may claim it)."""
    return record if record is not None and source not in external_ids(record) else None


# --- the four files ----------------------------------------------------------------------------------------


def plan_clients(
    text: str,
    *,
    firm_id: str,
    existing: ExistingRecords,
    new_id: Callable[[], str],
    now: datetime,
    on_progress: Progress | None = None,
) -> ImportPlan[Client]:
    """Plan a clients file: external_id, name, domains (``;``), rounding_increment (minutes)."""
    source = existing.source
    seen: dict[str, int] = {}
    claimed: set[str] = set()

    def check(cells: _Cells) -> tuple[Client, Client | None] | None:
        external_id = _external_id(cells, seen, required=True, what="client")
        name = _required(cells, "name", "the client's name")
        domains = _unique(item.lower().removeprefix("@") for item in _items(cells, "domains"))
        increment = _minutes(cells, "rounding_increment")
        before = existing.clients_by_external_id.get(external_id) if external_id else None
        if before is None and name not in existing.ambiguous_client_names:
            candidate = _unlinked(existing.clients_by_name.get(name), _external_ids, source)
            if candidate is not None and candidate.client_id not in claimed:
                before = candidate
        if before is None:
            entity = Client(
                firm_id=firm_id,
                client_id="",
                name=name,
                domains=domains,
                external_ids={source: external_id},
                rounding_increment_seconds=increment,
                created_at=now,
            )
        else:
            entity = replace(
                before,
                name=name,
                domains=domains if cells.has("domains") else before.domains,
                external_ids={**before.external_ids, source: external_id},
                rounding_increment_seconds=(
                    increment if cells.has("rounding_increment") else before.rounding_increment_seconds
                ),
            )
        _validate(cells, validate_client, entity, {"rounding_increment_seconds": "rounding_increment"})
        if cells.errors:
            return None
        if before is None:
            return replace(entity, client_id=new_id()), None
        claimed.add(before.client_id)
        return entity, before

    return _run("clients", text, on_progress, check)


def plan_matters(
    text: str,
    *,
    firm_id: str,
    existing: ExistingRecords,
    new_id: Callable[[], str],
    now: datetime,
    on_progress: Progress | None = None,
) -> ImportPlan[Matter]:
    """Plan a matters file (see ``COLUMNS["matters"]``); a matter's client must already exist."""
    source = existing.source
    seen: dict[str, int] = {}
    numbers: dict[str, int] = {}

    def check(cells: _Cells) -> tuple[Matter, Matter | None] | None:
        external_id = _external_id(cells, seen, required=True, what="matter")
        number = _required(cells, "number", "the matter number")
        normal = normalize_matter_number(number)
        if number and normal in numbers:
            cells.fail("number", f"matter number {_show(number)} already appears on line {numbers[normal]}")
        elif number:
            numbers[normal] = cells.line
        name = _required(cells, "name", "the matter's name")
        client = _client_ref(cells, "client", existing, required=True)
        status = _choice(cells, "status", _STATUSES, "open, pending or closed")
        responsible = _responsible(cells, existing)
        billing = _choice(cells, "billing_method", _BILLING, "hourly, flat_fee, contingency or pro_bono")
        utbms = _choice(cells, "utbms_required", _BOOLEANS, "yes or no (true/false, 1/0)")
        increment = _minutes(cells, "rounding_increment")
        opened_on = _date(cells, "opened_on")
        closed_on = _date(cells, "closed_on")
        problem_code = cells.get("problem_code").lower() or None
        languages = clean_languages(_items(cells, "languages"))

        before = existing.matters_by_external_id.get(external_id) if external_id else None
        holder = existing.matters_by_number.get(normal) if number else None
        if before is None:
            before = _unlinked(holder, _external_ids, source)
        if (
            holder is not None
            and (before is None or holder.matter_id != before.matter_id)
            and "number" not in cells.failed()
        ):
            other = holder.external_ids.get(source)
            cells.fail(
                "number",
                f"matter number {_show(number)} already belongs to matter {_show(holder.name)}"
                + (f" (external id {_show(other)})" if other else "")
                + "; each matter needs its own number",
            )
        client_id = client.client_id if client else ""
        if before is None:
            entity = Matter(
                firm_id=firm_id,
                matter_id="",
                number=number,
                name=name,
                client_id=client_id,
                status=status or MatterStatus.OPEN,
                responsible_user_id=responsible,
                billing_method=billing or BillingMethod.HOURLY,
                utbms_required=bool(utbms),
                rounding_increment_seconds=increment,
                opened_on=opened_on,
                closed_on=closed_on,
                external_ids={source: external_id},
                created_at=now,
                problem_code=problem_code,
                languages=languages,
            )
        else:
            has = cells.has
            entity = replace(
                before,
                number=number,
                name=name,
                client_id=client_id,
                status=status or before.status,
                responsible_user_id=responsible if has("responsible") else before.responsible_user_id,
                billing_method=billing or before.billing_method,
                utbms_required=before.utbms_required if utbms is None else utbms,
                rounding_increment_seconds=(
                    increment if has("rounding_increment") else before.rounding_increment_seconds
                ),
                opened_on=opened_on if has("opened_on") else before.opened_on,
                # Reopened by the file without a closing day column: the old closing day goes.
                closed_on=closed_on
                if has("closed_on")
                else (before.closed_on if (status or before.status) is MatterStatus.CLOSED else None),
                external_ids={**before.external_ids, source: external_id},
                problem_code=problem_code if has("problem_code") else before.problem_code,
                languages=languages if has("languages") else before.languages,
            )
        # A code the matter already has stays valid even if the firm has since switched it off.
        kept = before is not None and entity.problem_code == before.problem_code
        if entity.problem_code is not None and not kept and entity.problem_code not in existing.problem_codes:
            cells.fail(
                "problem_code",
                f"{cells.label('problem_code')} {_show(entity.problem_code)} is not one of the firm's "
                "active legal problem codes",
            )
        _validate(cells, validate_matter, entity, {"rounding_increment_seconds": "rounding_increment"})
        if cells.errors:
            return None
        if before is None:
            return replace(entity, matter_id=new_id()), None
        return entity, before

    return _run("matters", text, on_progress, check)


def _responsible(cells: _Cells, existing: ExistingRecords) -> str | None:
    value = cells.get("responsible")
    if not value:
        return None
    user = existing.users_by_email.get(normalize_email(value)) or existing.users_by_external_id.get(value)
    if user is None:
        cells.fail(
            "responsible",
            f"unknown user {_show(value)}; expected the email or external id of someone on the roster "
            "(import the roster first)",
        )
        return None
    return user.user_id


def plan_contacts(
    text: str,
    *,
    firm_id: str,
    existing: ExistingRecords,
    new_id: Callable[[], str],
    now: datetime,
    on_progress: Progress | None = None,
) -> ImportPlan[Contact]:
    """Plan a contacts file: external_id, name, emails (``;``), phones (``;``), company, client (optional)."""
    source = existing.source
    seen: dict[str, int] = {}
    emails_seen: dict[str, int] = {}
    claimed: set[str] = set()

    def check(cells: _Cells) -> tuple[Contact, Contact | None] | None:
        external_id = _external_id(cells, seen, required=True, what="contact")
        name = _required(cells, "name", "the contact's name")
        emails = _unique(normalize_email(item) for item in _items(cells, "emails"))
        for email in emails:
            if email in emails_seen:
                cells.fail("emails", f"email {_show(email)} already appears on line {emails_seen[email]}")
            else:
                emails_seen[email] = cells.line
        phones: list[str] = []
        for raw in _items(cells, "phones"):
            try:
                phones.append(normalize_number(raw))
            except ValueError as error:
                cells.fail("phones", f"{cells.label('phones')} {error}")
        company = cells.get("company")
        client = _client_ref(cells, "client", existing, required=False)

        before = existing.contacts_by_external_id.get(external_id) if external_id else None
        owners = {email: existing.contacts_by_email.get(email) for email in emails}
        if before is None:
            candidates = {c.contact_id: c for c in owners.values() if c is not None}
            if len(candidates) == 1:
                (candidate,) = candidates.values()
                if _unlinked(candidate, _external_ids, source) and candidate.contact_id not in claimed:
                    before = candidate
        for email, owner in owners.items():
            if owner is not None and (before is None or owner.contact_id != before.contact_id):
                other = owner.external_ids.get(source)
                cells.fail(
                    "emails",
                    f"email {_show(email)} already belongs to contact {_show(owner.name)}"
                    + (f" (external id {_show(other)})" if other else "")
                    + "; an email can belong to one contact only",
                )
        if before is None:
            entity = Contact(
                firm_id=firm_id,
                contact_id="",
                name=name,
                emails=emails,
                phones=_unique(phones),
                company=company,
                client_id=client.client_id if client else None,
                external_ids={source: external_id},
                created_at=now,
            )
        else:
            has = cells.has
            entity = replace(
                before,
                name=name,
                emails=emails if has("emails") else before.emails,
                phones=_unique(phones) if has("phones") else before.phones,
                company=company if has("company") else before.company,
                client_id=(client.client_id if client else None) if has("client") else before.client_id,
                external_ids={**before.external_ids, source: external_id},
            )
        _validate(cells, validate_contact, entity, {})
        if cells.errors:
            return None
        if before is None:
            return replace(entity, contact_id=new_id()), None
        claimed.add(before.contact_id)
        return entity, before

    return _run("contacts", text, on_progress, check)


def plan_roster(
    text: str,
    *,
    firm_id: str,
    existing: ExistingRecords,
    new_id: Callable[[], str],
    now: datetime,
    on_progress: Progress | None = None,
) -> ImportPlan[User]:
    """Plan a roster file: email, display_name, roles, external_id, phone_extensions, time_zone.

    Roles and extensions are ``;``-separated.
    New people are invited (``UserStatus.INVITED``); an import never changes a user's status.
    """
    source = existing.source
    seen: dict[str, int] = {}
    emails_seen: dict[str, int] = {}
    claimed: dict[str, int] = {}
    roles_expected = ", ".join(role.value for role in Role)

    def check(cells: _Cells) -> tuple[User, User | None] | None:
        email = normalize_email(_required(cells, "email", "the person's email address"))
        if email and email in emails_seen:
            cells.fail("email", f"email {_show(email)} already appears on line {emails_seen[email]}")
        elif email:
            emails_seen[email] = cells.line
        display_name = _required(cells, "display_name", "the person's name")
        roles: set[Role] = set()
        for item in _items(cells, "roles"):
            role = _ROLES.get(_key(item))
            if role is None:
                cells.fail(
                    "roles", f"{cells.label('roles')} {_show(item)} is not a role; expected {roles_expected}"
                )
            else:
                roles.add(role)
        external_id = _external_id(cells, seen, required=False, what="person")
        extensions = _unique(_items(cells, "phone_extensions"))
        time_zone = cells.get("time_zone") or None

        by_external = existing.users_by_external_id.get(external_id) if external_id else None
        by_email = existing.users_by_email.get(email) if email else None
        before = by_external
        if by_email is not None and by_external is not None and by_email.user_id != by_external.user_id:
            cells.fail(
                "email",
                f"email {_show(email)} already belongs to {_show(by_email.display_name)}, "
                f"not to the person with external id {_show(external_id)}",
            )
        elif before is None and by_email is not None:
            theirs = by_email.external_ids.get(source)
            if external_id and theirs and theirs != external_id:
                cells.fail(
                    _EXTERNAL_ID,
                    f"{_show(email)} has external id {_show(theirs)}, not {_show(external_id)}; "
                    "an import does not change external ids",
                )
            before = by_email
        if before is not None and before.user_id in claimed and "email" not in cells.failed():
            cells.fail(
                "email",
                f"line {claimed[before.user_id]} already updates {_show(before.email)}; one row per person",
            )
        elif before is not None and before.user_id not in claimed:
            claimed[before.user_id] = cells.line
        if before is None:
            entity = User(
                firm_id=firm_id,
                user_id="",
                email=email,
                display_name=display_name,
                roles=frozenset(roles),
                status=UserStatus.INVITED,
                time_zone=time_zone,
                external_ids={source: external_id} if external_id else {},
                phone_extensions=extensions,
                created_at=now,
            )
        else:
            has = cells.has
            entity = replace(
                before,
                email=email,
                display_name=display_name,
                roles=frozenset(roles),
                time_zone=time_zone if has("time_zone") else before.time_zone,
                external_ids={**before.external_ids, source: external_id}
                if external_id
                else before.external_ids,
                phone_extensions=extensions if has("phone_extensions") else before.phone_extensions,
            )
        _validate(cells, validate_user, entity, {"external_ids": _EXTERNAL_ID})
        if cells.errors:
            return None
        if before is None:
            return replace(entity, user_id=new_id()), None
        return entity, before

    return _run("roster", text, on_progress, check)


def _external_ids(record: Client | Matter | Contact | User) -> Mapping[str, str]:
    return record.external_ids
