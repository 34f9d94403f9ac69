"""Phone calls from the firm's phone system: call-detail records mapped to people by extension.

Preview first (nothing changes), then commit. A file with any bad row imports nothing; the report names
every bad row and field. Calls are keyed by the phone system's call id, so importing the same file
again (or an overlapping export) adds nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from chalicelib.domain.calls import CallDirection, CallRecord, RowError, parse_call_records
from chalicelib.domain.capture import Capture, EventKind, Source
from chalicelib.domain.errors import NotFound
from chalicelib.domain.identity import Permission, Principal
from chalicelib.domain.roster import User
from chalicelib.ports import FirmRepository, UserRepository
from chalicelib.services.paging import every_item
from chalicelib.services.timeline import TimelineService


@dataclass(frozen=True)
class CallImportReport:
    """What a file holds and, on commit, what it changed."""

    calls: int
    skipped_missed: int
    errors: list[RowError]
    committed: bool
    new_calls: int = 0
    calls_by_user: dict[str, int] = field(default_factory=dict)


def call_capture(record: CallRecord) -> Capture:
    """A call as a capture: measured by the phone system, keyed by its call id."""
    who = record.other_name or record.other_number
    direction = {CallDirection.INBOUND: "from", CallDirection.OUTBOUND: "to"}.get(record.direction, "with")
    return Capture(
        kind=EventKind.CALL,
        source=Source.CDR,
        key=record.stable_key,
        at=record.start,
        duration_seconds=record.duration_seconds,
        measured=True,
        subject=f"Call {direction} {who}",
        participants=(record.other_number,) if record.other_number else (),
    )


class CallImportService:
    """Imports a firm's call-detail records into each person's timeline."""

    def __init__(self, *, timeline: TimelineService, firms: FirmRepository, users: UserRepository) -> None:
        self._timeline = timeline
        self._firms = firms
        self._users = users

    def import_csv(self, principal: Principal, text: str, *, commit: bool) -> CallImportReport:
        """Read the export; with ``commit`` and no bad row, add the calls to their people's timelines."""
        principal.require(Permission.ROSTER_WRITE)
        firm = self._firms.get(principal.firm_id)
        if firm is None:
            raise NotFound("your firm no longer exists")
        parsed = parse_call_records(text, default_zone=firm.time_zone)
        by_extension = self._extensions(principal.firm_id)
        errors = list(parsed.errors)
        per_user: dict[str, list[Capture]] = defaultdict(list)
        for record in parsed.records:
            user = by_extension.get(record.extension)
            if user is None:
                errors.append(
                    RowError(
                        record.line,
                        "extension",
                        f"nobody in the roster has extension {record.extension}; add it to the person's "
                        "phone extensions, then import again",
                    )
                )
                continue
            per_user[user.user_id].append(call_capture(record))
        errors.sort(key=lambda error: (error.line, error.field))
        report = CallImportReport(
            calls=len(parsed.records),
            skipped_missed=parsed.skipped_missed,
            errors=errors,
            committed=False,
            calls_by_user={user_id: len(captures) for user_id, captures in per_user.items()},
        )
        if errors or not commit:
            return report
        new_calls = 0
        for user_id, captures in per_user.items():
            result = self._timeline.ingest(principal.firm_id, user_id, captures, actor=principal.actor)
            new_calls += result.events_changed
        return CallImportReport(
            calls=report.calls,
            skipped_missed=report.skipped_missed,
            errors=[],
            committed=True,
            new_calls=new_calls,
            calls_by_user=report.calls_by_user,
        )

    def _extensions(self, firm_id: str) -> dict[str, User]:
        people = every_item(lambda cursor: self._users.list(firm_id, cursor=cursor, limit=200))
        return {extension: user for user in people for extension in user.phone_extensions}
