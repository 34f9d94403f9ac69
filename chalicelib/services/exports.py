"""File exports of released time (CSV layouts, LEDES 1998B) and the API billing systems pull from.

An export run bills each released entry once:

    released entries of the period ──▶ manifest (S3) ──▶ export record "building" (conditional put)
        ──▶ file built from the manifest (deterministic) ──▶ stored ──▶ entries marked exported
        ──▶ record "complete"

A run that dies at any point is finished by the next request for the same format and period: it
finds the "building" record, reads the same manifest, rebuilds byte-identical content and marks the
rest. Asking again for a period that has nothing new returns the last file of that period as it was.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any, TextIO

from chalicelib.domain.billing import ExportFormat, ExportRecord, ExportState
from chalicelib.domain.entries import Entry, EntryStatus
from chalicelib.domain.errors import Conflict, Duplicate, InvalidInput, NotFound, StaleVersion
from chalicelib.domain.exports.csv_layouts import (
    write_abacus,
    write_generic_csv,
    write_pclaw,
    write_tabs3,
    write_timeslips,
)
from chalicelib.domain.exports.ledes import write_ledes
from chalicelib.domain.exports.lines import ExportLine, ExportSummary
from chalicelib.domain.identity import Permission, Principal
from chalicelib.domain.matters import ActivityType, Client, Matter
from chalicelib.domain.roster import User
from chalicelib.ports import (
    BillingRepository,
    Clock,
    FileStore,
    MatterRepository,
    Page,
    TimelineRepository,
    UserRepository,
)
from chalicelib.services.paging import every_item

MAX_PERIOD_DAYS = 366
_UTBMS_ACTIVITY = re.compile(r"^A\d{3}$")

CONTENT_TYPES = {ExportFormat.LEDES: "text/plain; charset=ascii"}
EXTENSIONS = {ExportFormat.LEDES: "txt"}


def check_period(first_day: date, last_day: date) -> None:
    """Periods run forwards and span at most a year."""
    if last_day < first_day:
        raise InvalidInput("the period ends before it starts")
    if (last_day - first_day).days >= MAX_PERIOD_DAYS:
        raise InvalidInput(f"a period spans at most {MAX_PERIOD_DAYS} days; export it in parts")


@dataclass(frozen=True)
class ExportedMark:
    """One entry a billing system says it took, as it read it (``version``)."""

    user_id: str
    day: date
    entry_id: str
    version: int


class ExportService:
    """Builds export files and serves released entries to billing systems."""

    def __init__(
        self,
        *,
        billing: BillingRepository,
        timeline: TimelineRepository,
        matters: MatterRepository,
        users: UserRepository,
        files: FileStore,
        clock: Clock,
        law_firm_id: str = "",
    ) -> None:
        self._billing = billing
        self._timeline = timeline
        self._matters = matters
        self._users = users
        self._files = files
        self._clock = clock
        self._law_firm_id = law_firm_id

    # -- file exports

    def export(self, principal: Principal, format_name: str, first_day: date, last_day: date) -> ExportRecord:
        """Export the period's released entries (or return the period's last file if nothing is new)."""
        principal.require(Permission.BILLING_EXPORT)
        return self.export_firm(principal.firm_id, format_name, first_day, last_day, principal.actor)

    def export_firm(
        self, firm_id: str, format_name: str, first_day: date, last_day: date, actor: str
    ) -> ExportRecord:
        """The run itself, for a person or a schedule."""
        export_format = _format_named(format_name)
        check_period(first_day, last_day)
        earlier = sorted(
            self._billing.exports_of_period(firm_id, export_format.value, first_day, last_day),
            key=lambda record: record.sequence,
        )
        unfinished = next((r for r in earlier if r.state is ExportState.BUILDING), None)
        if unfinished is not None:
            return self._finish(unfinished)
        keys = [
            (entry.user_id, entry.day.isoformat(), entry.entry_id)
            for entry in every_item(
                lambda cursor: self._billing.released(firm_id, first_day, last_day, cursor, 500)
            )
        ]
        if not keys:
            if earlier:
                return earlier[-1]
            raise NotFound(
                f"nothing is released between {first_day.isoformat()} and {last_day.isoformat()}; "
                "release entries first"
            )
        from chalicelib.adapters.persistence.billing import export_id_for

        sequence = (earlier[-1].sequence if earlier else 0) + 1
        export_id = export_id_for(export_format, first_day, last_day, sequence)
        folder = f"exports/{firm_id}/{_safe(export_id)}"
        manifest_key = f"{folder}/manifest.json"
        self._store_bytes(manifest_key, json.dumps(sorted(keys)).encode(), "application/json")
        record = ExportRecord(
            firm_id=firm_id,
            export_id=export_id,
            format=export_format,
            first_day=first_day,
            last_day=last_day,
            sequence=sequence,
            state=ExportState.BUILDING,
            entry_count=len(keys),
            manifest_key=manifest_key,
            created_by=actor,
            created_at=self._clock.now(),
        )
        try:
            record = self._billing.save_export(record, actor)
        except Duplicate:
            # Another run of the same period started first: finish theirs instead of making a second.
            theirs = self._billing.export(firm_id, export_id)
            if theirs is None:
                raise Conflict("another export of this period is starting; try again in a moment") from None
            return self._finish(theirs) if theirs.state is ExportState.BUILDING else theirs
        return self._finish(record)

    def _finish(self, record: ExportRecord) -> ExportRecord:
        keys = [tuple(k) for k in json.loads(self._files.get(record.manifest_key))]
        entries = [self._entry(record.firm_id, user_id, day, entry_id) for user_id, day, entry_id in keys]
        file_name = (
            f"matterline-{record.format.value}-{record.first_day.isoformat()}-{record.last_day.isoformat()}"
            f"-{record.sequence}.{EXTENSIONS.get(record.format, 'csv')}"
        )
        file_key = f"{record.manifest_key.rsplit('/', 1)[0]}/{file_name}"
        lines = sorted(self._lines(record.firm_id, [e for e in entries if e is not None]), key=_line_order)
        digest = hashlib.sha256()
        descriptor, path = tempfile.mkstemp(suffix=".export")
        try:
            with os.fdopen(descriptor, "w", newline="", encoding="utf-8") as out:
                summary = _write(
                    record.format,
                    lines,
                    out,
                    tcodes=self._tabs3_tcodes(record.firm_id),
                    law_firm_id=self._law_firm_id or record.firm_id,
                    invoice_date=record.last_day,
                    billing_start=record.first_day,
                    billing_end=record.last_day,
                    invoice_number_for=lambda client, matter: _invoice_number(
                        record.last_day, client, matter
                    ),
                    description=f"Legal services {record.first_day:%m/%d/%Y} to {record.last_day:%m/%d/%Y}",
                )
            with open(path, "rb") as stored:
                for block in iter(lambda: stored.read(1 << 20), b""):
                    digest.update(block)
            self._files.put(file_key, path, CONTENT_TYPES.get(record.format, "text/csv; charset=utf-8"))
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)
        for entry in entries:
            if entry is not None:
                self._mark_exported(entry, record.export_id, record.created_by)
        complete = replace(
            record,
            state=ExportState.COMPLETE,
            file_key=file_key,
            file_name=file_name,
            sha256=digest.hexdigest(),
            lines=summary.count,
            total_hours=str(summary.total_hours),
            total_amount=str(summary.total_amount),
        )
        try:
            return self._billing.save_export(complete, record.created_by)
        except StaleVersion:
            # A concurrent resume completed it first; its file is byte-identical to ours.
            finished = self._billing.export(record.firm_id, record.export_id)
            assert finished is not None
            return finished

    def _tabs3_tcodes(self, firm_id: str) -> dict[str, int]:
        """Tabs3 transaction codes, set per activity type as its "tabs3" external id."""
        tcodes: dict[str, int] = {}
        for activity in self._matters.list_activity_types(firm_id):
            code = activity.external_ids.get("tabs3", "")
            if code.isdigit():
                for key in (activity.name, activity.code, activity.utbms_activity):
                    if key:
                        tcodes[key] = int(code)
        return tcodes

    def _entry(self, firm_id: str, user_id: str, day: str, entry_id: str) -> Entry | None:
        return self._timeline.get_entry(firm_id, user_id, date.fromisoformat(day), entry_id)

    def _mark_exported(self, entry: Entry, export_id: str, actor: str) -> None:
        current: Entry | None = entry
        for _ in range(3):
            if current is None or current.status is not EntryStatus.RELEASED:
                return  # already marked by an earlier (crashed) run, or taken back by its owner
            try:
                self._timeline.save_entries(
                    [replace(current, status=EntryStatus.EXPORTED, external_id=export_id)],
                    [],
                    actor,
                    "export",
                )
                return
            except StaleVersion:
                current = self._timeline.get_entry(entry.firm_id, entry.user_id, entry.day, entry.entry_id)

    def _lines(self, firm_id: str, entries: Iterable[Entry]) -> Iterator[ExportLine]:
        matters: dict[str, Matter | None] = {}
        clients: dict[str, Client | None] = {}
        users: dict[str, User | None] = {}
        activities: dict[str, ActivityType] = {a.code: a for a in self._matters.list_activity_types(firm_id)}
        for entry in entries:
            if entry.matter_id not in matters:
                matters[entry.matter_id or ""] = self._matters.matter(firm_id, entry.matter_id or "")
            matter = matters.get(entry.matter_id or "")
            if matter is None:
                continue
            if matter.client_id not in clients:
                clients[matter.client_id] = self._matters.client(firm_id, matter.client_id)
            client = clients[matter.client_id]
            if entry.user_id not in users:
                users[entry.user_id] = self._users.get(firm_id, entry.user_id)
            user = users[entry.user_id]
            activity = activities.get(entry.activity_code or "")
            utbms_activity = activity.utbms_activity if activity else None
            if utbms_activity is None and _UTBMS_ACTIVITY.match(entry.activity_code or ""):
                utbms_activity = entry.activity_code
            rate = (user.hourly_rate if user else None) or (activity.rate if activity else None) or "0"
            yield ExportLine(
                entry_id=entry.entry_id,
                day=entry.day,
                client_number=_client_number(client, matter),
                client_name=client.name if client else "",
                matter_number=matter.number,
                matter_name=matter.name,
                timekeeper_id=_timekeeper_id(user, entry.user_id),
                timekeeper_name=user.display_name if user else entry.user_id,
                timekeeper_classification=(user.timekeeper_class if user else None) or "OT",
                billed_seconds=entry.billed_seconds,
                rate=Decimal(rate),
                task_code=entry.task_code or (activity.utbms_task if activity else None),
                activity_code=utbms_activity,
                activity_name=activity.name if activity else (entry.activity_code or ""),
                description=entry.narrative,
                billable=entry.billable and (activity.billable if activity else True),
            )

    def exports(self, principal: Principal, cursor: str | None, limit: int) -> Page[ExportRecord]:
        """The firm's export history, newest first."""
        principal.require(Permission.BILLING_EXPORT)
        return self._billing.exports(principal.firm_id, cursor, limit)

    def download(self, principal: Principal, export_id: str) -> tuple[ExportRecord, str]:
        """The export and a time-limited link to its file."""
        principal.require(Permission.BILLING_EXPORT)
        record = self._billing.export(principal.firm_id, export_id)
        if record is None:
            raise NotFound("there is no such export in your firm")
        if record.state is not ExportState.COMPLETE or record.file_key is None or record.file_name is None:
            raise Conflict("this export is still being built; ask again in a moment")
        return record, self._files.link(record.file_key, record.file_name)

    def content(self, principal: Principal, export_id: str) -> tuple[ExportRecord, bytes]:
        """The export's file itself (the CLI writes it with ``--out``)."""
        record, _ = self.download(principal, export_id)
        assert record.file_key is not None
        return record, self._files.get(record.file_key)

    # -- the API for billing systems

    def released(
        self,
        principal: Principal,
        first_day: date,
        last_day: date,
        *,
        user_id: str | None,
        matter_id: str | None,
        cursor: str | None,
        limit: int,
    ) -> Page[Entry]:
        """Released entries of the period, optionally for one timekeeper or matter, a page at a time.

        Filters apply within each page of the queue, so a page may hold fewer than ``limit`` entries
        while ``next_cursor`` still says there is more.
        """
        principal.require(Permission.BILLING_EXPORT)
        check_period(first_day, last_day)
        page = self._billing.released(principal.firm_id, first_day, last_day, cursor, limit)
        kept = [
            entry
            for entry in page.items
            if (user_id is None or entry.user_id == user_id)
            and (matter_id is None or entry.matter_id == matter_id)
        ]
        return Page(kept, page.next_cursor)

    def mark_exported(
        self, principal: Principal, marks: list[ExportedMark], reference: str
    ) -> list[dict[str, Any]]:
        """A billing system took these entries: mark each exported (once), reporting each one's outcome."""
        principal.require(Permission.BILLING_EXPORT)
        results: list[dict[str, Any]] = []
        for mark in marks:
            entry = self._timeline.get_entry(principal.firm_id, mark.user_id, mark.day, mark.entry_id)
            outcome: dict[str, Any] = {"entry_id": mark.entry_id}
            if entry is None:
                outcome.update(outcome="not_found", message="there is no such entry in your firm")
            elif entry.status is EntryStatus.EXPORTED and entry.external_id == reference:
                outcome.update(outcome="already_exported", version=entry.version)
            elif entry.status is not EntryStatus.RELEASED:
                outcome.update(outcome="conflict", message=f"the entry is {entry.status.value}, not released")
            elif entry.version != mark.version:
                outcome.update(
                    outcome="conflict", message="the entry changed since you read it; read it again"
                )
            else:
                try:
                    saved = self._timeline.save_entries(
                        [replace(entry, status=EntryStatus.EXPORTED, external_id=reference)],
                        [],
                        principal.actor,
                        "export",
                    )
                    outcome.update(outcome="exported", version=saved[0].version)
                except StaleVersion:
                    outcome.update(
                        outcome="conflict", message="the entry changed since you read it; read it again"
                    )
            results.append(outcome)
        return results

    def _store_bytes(self, key: str, data: bytes, content_type: str) -> None:
        with tempfile.NamedTemporaryFile("wb", delete=False) as out:
            out.write(data)
            path = out.name
        try:
            self._files.put(key, path, content_type)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)


_CSV_WRITERS: dict[ExportFormat, Callable[[Iterable[ExportLine], TextIO], ExportSummary]] = {
    ExportFormat.TABS3: write_tabs3,
    ExportFormat.PCLAW: write_pclaw,
    ExportFormat.TIMESLIPS: write_timeslips,
    ExportFormat.ABACUS: write_abacus,
    ExportFormat.CSV: write_generic_csv,
}


def _write(
    export_format: ExportFormat,
    lines: Iterable[ExportLine],
    out: TextIO,
    *,
    tcodes: dict[str, int],
    **ledes: Any,
) -> ExportSummary:
    """Write ``lines`` in ``export_format``; the LEDES options matter only to LEDES, tcodes to Tabs3."""
    if export_format is ExportFormat.LEDES:
        return write_ledes(lines, out, **ledes)
    if export_format is ExportFormat.TABS3:
        return write_tabs3(lines, out, tcodes=tcodes)
    return _CSV_WRITERS[export_format](lines, out)


def _format_named(name: str) -> ExportFormat:
    try:
        return ExportFormat(name)
    except ValueError:
        known = ", ".join(f.value for f in ExportFormat)
        raise InvalidInput(f"there is no export format '{name}'; known: {known}") from None


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)


def _client_number(client: Client | None, matter: Matter) -> str:
    # A firm's accounting number for the client when it has one, else our id for it.
    if client is None:
        return matter.client_id
    return client.external_ids.get("accounting") or client.client_id


def _timekeeper_id(user: User | None, user_id: str) -> str:
    # The firm's timekeeper code when it set one (external id "timekeeper"), else the person's initials,
    # the convention billing systems use (Tabs3 allows three characters).
    if user is None:
        return user_id[:3].upper()
    initials = "".join(word[0] for word in user.display_name.split() if word[:1].isalpha())
    return user.external_ids.get("timekeeper") or initials[:3].upper() or user.email[:3].upper()


def _invoice_number(period_end: date, client: str, matter: str) -> str:
    """Stable, unique per client matter and period, and within LEDES's 20 characters."""
    digest = hashlib.sha256(f"{client}|{matter}".encode()).hexdigest()[:10].upper()
    return f"{period_end:%y%m}-{digest}"


def _line_order(line: ExportLine) -> tuple[str, str, date, str]:
    return (line.client_number, line.matter_number, line.day, line.entry_id)
