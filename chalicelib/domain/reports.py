"""Reports: who gets which report when, and what goes into it. Pure: no clock, no storage, no email.

Two reports:

* the **attorney's report** (daily, weekly or monthly, at the hour the user chose in their own time zone):
  what was captured, assigned, released and exported in the period, what needs attention (unassigned
  time, assigned time not yet released), and hours by matter;
* the **activity report** for firm admins: per user and entry status, counts and hours. It is built from
  entries and business time only: personal items never enter it, and neither does any content.

A period is always made of the recipient's own days: "yesterday" for a daily report sent at 07:00 in
Chicago is Chicago's yesterday, not UTC's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from chalicelib.domain.entries import Entry, EntryStatus
from chalicelib.domain.errors import FieldError, InvalidInput
from chalicelib.domain.roster import validate_time_zone


class ReportFrequency(StrEnum):
    OFF = "off"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


# Reports go out at this hour of the recipient's day unless they choose another.
DEFAULT_REPORT_HOUR = 7


@dataclass(frozen=True)
class ReportPreferences:
    """How often a user gets their report, at which hour of their day, in which time zone."""

    report_frequency: ReportFrequency = ReportFrequency.OFF
    report_hour: int = DEFAULT_REPORT_HOUR
    time_zone: str = "UTC"


def validate_preferences(preferences: ReportPreferences) -> None:
    """Raise ``InvalidInput`` naming every field that is wrong."""
    problems: list[FieldError] = []
    if not isinstance(preferences.report_hour, int) or not 0 <= preferences.report_hour <= 23:
        problems.append(FieldError("report_hour", "must be a whole hour from 0 to 23"))
    if not validate_time_zone(preferences.time_zone):
        problems.append(
            FieldError(
                "time_zone", f"'{preferences.time_zone}' is not an IANA time zone (e.g. Europe/London)"
            )
        )
    if problems:
        raise InvalidInput("the report preferences are not valid", field_errors=problems)


def period_due(
    frequency: ReportFrequency, hour: int, time_zone: str, now: datetime
) -> tuple[date, date] | None:
    """The period a report sent at ``now`` covers, or None when no report is due now.

    Due when ``now`` falls in the chosen hour of the recipient's day; weekly reports go out on Mondays
    (covering Monday to Sunday just ended), monthly ones on the 1st (covering the month just ended).
    """
    if frequency is ReportFrequency.OFF:
        return None
    local = now.astimezone(ZoneInfo(time_zone))
    if local.hour != hour:
        return None
    today = local.date()
    if frequency is ReportFrequency.DAILY:
        yesterday = today - timedelta(days=1)
        return yesterday, yesterday
    if frequency is ReportFrequency.WEEKLY:
        if today.weekday() != 0:
            return None
        return today - timedelta(days=7), today - timedelta(days=1)
    if today.day != 1:
        return None
    last = today - timedelta(days=1)
    return last.replace(day=1), last


def run_key(firm_id: str, user_id: str, frequency: ReportFrequency, first_day: date, last_day: date) -> str:
    """The one key of one report: a schedule fired twice, or a retried task, sends it once."""
    return f"report:{firm_id}:{user_id}:{frequency.value}:{first_day.isoformat()}:{last_day.isoformat()}"


# ------------------------------------------------------------------ the attorney's report


@dataclass(frozen=True)
class MatterBar:
    """One row of the hours-by-matter chart: the bar's width is relative to the longest."""

    matter_id: str | None
    label: str
    seconds: int
    percent: int

    @property
    def hours(self) -> str:
        return hours(self.seconds)


@dataclass(frozen=True)
class StatusLine:
    """Entries of one status in the period."""

    status: str
    entries: int
    seconds: int

    @property
    def hours(self) -> str:
        return hours(self.seconds)


@dataclass(frozen=True)
class AttorneyReport:
    """What the attorney's report email says."""

    first_day: date
    last_day: date
    captured_seconds: int
    captured_items: int
    lines: tuple[StatusLine, ...]
    attention: tuple[StatusLine, ...]
    matters: tuple[MatterBar, ...]

    @property
    def captured_hours(self) -> str:
        return hours(self.captured_seconds)

    def line(self, status: str) -> StatusLine:
        return next(line for line in self.lines if line.status == status)

    @property
    def needs_attention(self) -> bool:
        return any(line.entries for line in self.attention)


# The statuses the report shows, in the order a day's work moves through them.
REPORTED_STATUSES = ("captured", "assigned", "released", "exported")
UNMATTERED = "No matter yet"


def attorney_report(
    first_day: date,
    last_day: date,
    business_seconds: Iterable[float],
    entries: Iterable[Entry],
    matter_labels: Mapping[str, str],
    max_bars: int = 8,
) -> AttorneyReport:
    """Aggregate a user's period: ``business_seconds`` are the captured business/memo items' durations
    (personal and filtered items are left out by the caller), ``entries`` the period's entries."""
    captured = [float(s) for s in business_seconds]
    live = [entry for entry in entries if entry.status is not EntryStatus.SPLIT]
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_matter: dict[str | None, int] = defaultdict(int)
    for entry in live:
        bucket = _bucket(entry.status)
        counts[bucket][0] += 1
        counts[bucket][1] += entry.billed_seconds
        by_matter[entry.matter_id] += entry.billed_seconds
    lines = (
        StatusLine("captured", len(captured), round(sum(captured))),
        *(
            StatusLine(name, counts[name][0], counts[name][1])
            for name in ("assigned", "released", "exported")
        ),
    )
    attention = (
        StatusLine("unassigned", counts["unassigned"][0], counts["unassigned"][1]),
        StatusLine("assigned", counts["assigned"][0], counts["assigned"][1]),
    )
    return AttorneyReport(
        first_day=first_day,
        last_day=last_day,
        captured_seconds=round(sum(captured)),
        captured_items=len(captured),
        lines=lines,
        attention=attention,
        matters=matter_bars(by_matter, matter_labels, max_bars),
    )


def _bucket(status: EntryStatus) -> str:
    if status in (EntryStatus.EXPORTED, EntryStatus.POSTED):
        return "exported"
    return status.value


def matter_bars(
    seconds_by_matter: Mapping[str | None, int], labels: Mapping[str, str], max_bars: int = 8
) -> tuple[MatterBar, ...]:
    """The chart's rows, longest first; beyond ``max_bars`` matters the rest are summed as 'Other'."""
    ranked = sorted(
        ((matter, seconds) for matter, seconds in seconds_by_matter.items() if seconds > 0),
        key=lambda pair: (-pair[1], labels.get(pair[0] or "", UNMATTERED)),
    )
    shown, rest = ranked[:max_bars], ranked[max_bars:]
    rows: list[tuple[str | None, str, int]] = [
        (matter, labels.get(matter, matter) if matter else UNMATTERED, seconds) for matter, seconds in shown
    ]
    if rest:
        rows.append((None, f"Other ({len(rest)} matters)", sum(seconds for _, seconds in rest)))
    longest = max((seconds for _, _, seconds in rows), default=0)
    return tuple(
        MatterBar(matter, label, seconds, max(1, round(100 * seconds / longest)) if longest else 0)
        for matter, label, seconds in rows
    )


def console_link(console_url: str, first_day: date, last_day: date, status: str | None = None) -> str:
    """A link that opens the console's timeline on exactly the report's items."""
    query = {"start": first_day.isoformat(), "end": last_day.isoformat()}
    if status:
        query["status"] = status
    return f"{console_url.rstrip('/')}/#timeline?{urlencode(query)}"


def hours(seconds: float) -> str:
    """Hours to one decimal, as lawyers bill them (6 minutes = 0.1)."""
    return f"{seconds / 3600:.1f}"


def period_label(first_day: date, last_day: date) -> str:
    """'Monday 9 March 2026', '9 to 15 March 2026', 'March 2026'."""
    if first_day == last_day:
        return f"{first_day:%A} {first_day.day} {first_day:%B %Y}"
    if first_day.day == 1 and (last_day + timedelta(days=1)).day == 1 and first_day.month == last_day.month:
        return f"{first_day:%B %Y}"
    if first_day.month == last_day.month:
        return f"{first_day.day} to {last_day.day} {last_day:%B %Y}"
    return f"{first_day.day} {first_day:%B} to {last_day.day} {last_day:%B %Y}"


# ------------------------------------------------------------------ the admins' activity report


@dataclass(frozen=True)
class ActivityRow:
    """One user's period: captured business time and entries by status. Never personal, never content."""

    user_id: str
    display_name: str
    email: str
    captured_seconds: int
    statuses: dict[str, StatusLine] = field(default_factory=dict)

    @property
    def total_entries(self) -> int:
        return sum(line.entries for line in self.statuses.values())


ACTIVITY_STATUSES = ("unassigned", "assigned", "released", "exported")


def activity_row(
    user_id: str, display_name: str, email: str, business_seconds: Iterable[float], entries: Iterable[Entry]
) -> ActivityRow:
    """Aggregate one user's period for the admins."""
    counts: dict[str, list[int]] = {status: [0, 0] for status in ACTIVITY_STATUSES}
    for entry in entries:
        if entry.status is EntryStatus.SPLIT:
            continue
        bucket = counts[_bucket(entry.status)]
        bucket[0] += 1
        bucket[1] += entry.billed_seconds
    return ActivityRow(
        user_id=user_id,
        display_name=display_name,
        email=email,
        captured_seconds=round(sum(float(s) for s in business_seconds)),
        statuses={status: StatusLine(status, n, s) for status, (n, s) in counts.items()},
    )


def activity_totals(rows: Iterable[ActivityRow]) -> dict[str, StatusLine]:
    """The firm's totals per status."""
    totals = {status: [0, 0] for status in ACTIVITY_STATUSES}
    for row in rows:
        for status, line in row.statuses.items():
            totals[status][0] += line.entries
            totals[status][1] += line.seconds
    return {status: StatusLine(status, n, s) for status, (n, s) in totals.items()}


# ------------------------------------------------------------------ scheduled exports


@dataclass(frozen=True)
class ExportSchedule:
    """A firm's standing order: post to a billing system, or build a file, on a schedule of its own.

    ``target`` is a billing system (``clio``, ``actionstep``: post the released entries) or a file
    format (``ledes``, ``tabs3``, ... : build the file of the period's released entries). The hour is
    in the firm's time zone; the period is the one just ended (as for reports).
    """

    firm_id: str
    target: str
    frequency: ReportFrequency
    hour: int = 6
    version: int = 0

    @property
    def posts(self) -> bool:
        return self.target in POSTING_TARGETS


POSTING_TARGETS = ("clio", "actionstep")
FILE_TARGETS = ("tabs3", "pclaw", "timeslips", "abacus", "csv", "ledes")


def validate_export_schedule(schedule: ExportSchedule) -> None:
    """Raise ``InvalidInput`` naming every field that is wrong."""
    problems: list[FieldError] = []
    if schedule.target not in POSTING_TARGETS + FILE_TARGETS:
        problems.append(FieldError("target", f"must be one of {', '.join(POSTING_TARGETS + FILE_TARGETS)}"))
    if schedule.frequency is ReportFrequency.OFF:
        problems.append(FieldError("frequency", "must be daily, weekly or monthly (delete it to stop it)"))
    if not 0 <= schedule.hour <= 23:
        problems.append(FieldError("hour", "must be a whole hour from 0 to 23"))
    if problems:
        raise InvalidInput("the export schedule is not valid", field_errors=problems)


def export_run_name(firm_id: str, target: str, first_day: date, last_day: date) -> str:
    """The idempotency key of one scheduled run (post or file) of one period."""
    return f"export:{firm_id}:{target}:{first_day.isoformat()}:{last_day.isoformat()}"
