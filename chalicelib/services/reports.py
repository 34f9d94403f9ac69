"""Reports: users' report preferences, the attorney's report email, the admins' activity report.

The hourly ``reports`` workflow asks ``due_reports`` who is due now (each user at their chosen hour in
their own time zone), then sends each report in its own task (``send_user_report``) and the activity
report of each firm whose admins are due (``send_activity_report``). Each email is sent once per period
whatever the retries (``NotificationService``'s delivery keys).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.domain.capture import Category
from chalicelib.domain.classification import classify
from chalicelib.domain.errors import FieldError, Forbidden, InvalidInput, NotFound
from chalicelib.domain.identity import Permission, Principal, Role
from chalicelib.domain.reports import (
    ACTIVITY_STATUSES,
    DEFAULT_REPORT_HOUR,
    ActivityRow,
    AttorneyReport,
    ReportFrequency,
    ReportPreferences,
    StatusLine,
    activity_row,
    activity_totals,
    attorney_report,
    console_link,
    hours,
    period_due,
    period_label,
    run_key,
    validate_preferences,
)
from chalicelib.domain.roster import User, UserStatus
from chalicelib.domain.timeutil import day_bounds
from chalicelib.ports import (
    Clock,
    FirmRepository,
    MatterRepository,
    PolicyRepository,
    ReportPreferencesRepository,
    TimelineRepository,
    UserRepository,
    WorkflowStarter,
)
from chalicelib.services.notifications import Delivery, NotificationService

# The admins' activity report: weekly, Mondays at this hour of the firm's day, covering last week.
ACTIVITY_REPORT_HOUR = 7
MAX_ACTIVITY_DAYS = 62


@dataclass(frozen=True)
class DueReport:
    """One report to send: whose, which kind, which period."""

    firm_id: str
    user_id: str
    frequency: ReportFrequency
    first_day: date
    last_day: date

    def as_task(self) -> dict[str, str]:
        return {
            "firm_id": self.firm_id,
            "user_id": self.user_id,
            "frequency": self.frequency.value,
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
        }


@dataclass(frozen=True)
class ActivityReport:
    """The admins' view of a period: one row per user, totals per status."""

    firm_id: str
    first_day: date
    last_day: date
    rows: list[ActivityRow]
    totals: dict[str, StatusLine]

    @property
    def captured_seconds(self) -> int:
        return sum(row.captured_seconds for row in self.rows)


class ReportService:
    """Use cases of reports."""

    def __init__(
        self,
        *,
        preferences: ReportPreferencesRepository,
        firms: FirmRepository,
        users: UserRepository,
        timeline: TimelineRepository,
        policies: PolicyRepository,
        matters: MatterRepository,
        notifications: NotificationService,
        workflows: WorkflowStarter,
        clock: Clock,
        console_url: str,
    ) -> None:
        self._workflows = workflows
        self._preferences = preferences
        self._firms = firms
        self._users = users
        self._timeline = timeline
        self._policies = policies
        self._matters = matters
        self._notifications = notifications
        self._clock = clock
        self._console_url = console_url

    # ------------------------------------------------------------ preferences

    def preferences(self, principal: Principal) -> ReportPreferences:
        """The caller's report preferences (reports off, 07:00 in their own zone until they choose)."""
        self._require_user(principal)
        return self._preferences_of(principal.firm_id, principal.subject_id)

    def set_preferences(self, principal: Principal, preferences: ReportPreferences) -> ReportPreferences:
        """Replace the caller's report preferences; invalid ones change nothing."""
        self._require_user(principal)
        validate_preferences(preferences)
        self._preferences.save(principal.firm_id, principal.subject_id, preferences, principal.actor)
        return preferences

    def _preferences_of(self, firm_id: str, user_id: str) -> ReportPreferences:
        stored = self._preferences.get(firm_id, user_id)
        if stored is not None:
            return stored
        return ReportPreferences(ReportFrequency.OFF, DEFAULT_REPORT_HOUR, self._zone(firm_id, user_id))

    def _zone(self, firm_id: str, user_id: str | None = None) -> str:
        user = self._users.get(firm_id, user_id) if user_id else None
        if user is not None and user.time_zone:
            return user.time_zone
        firm = self._firms.get(firm_id)
        return firm.time_zone if firm else "UTC"

    @staticmethod
    def _require_user(principal: Principal) -> None:
        if principal.kind != "user":
            raise Forbidden("report preferences belong to a person; an API token has none")

    # ------------------------------------------------------------ the hourly fan-out

    WORKFLOW = "reports"

    def start_hourly_run(self, now: datetime) -> str:
        """Start this hour's run; the name is the hour, so a schedule fired twice starts one run."""
        hour = now.replace(minute=0, second=0, microsecond=0)
        return self._workflows.start(self.WORKFLOW, f"reports-{hour:%Y%m%dT%H}", {"at": hour.isoformat()})

    def due_reports(self, now: datetime) -> list[DueReport]:
        """Every user report due in the hour of ``now`` (each in the user's own zone)."""
        due: list[DueReport] = []
        for firm in self._firms.list_all():
            for user_id, chosen in self._preferences.of_firm(firm.firm_id):
                period = period_due(chosen.report_frequency, chosen.report_hour, chosen.time_zone, now)
                if period is not None:
                    due.append(DueReport(firm.firm_id, user_id, chosen.report_frequency, *period))
        return due

    def due_activity_reports(self, now: datetime) -> list[dict[str, str]]:
        """Firms whose weekly activity report is due now (Monday, 07:00 in the firm's zone)."""
        due = []
        for firm in self._firms.list_all():
            period = period_due(ReportFrequency.WEEKLY, ACTIVITY_REPORT_HOUR, firm.time_zone, now)
            if period is not None:
                due.append(
                    {
                        "firm_id": firm.firm_id,
                        "first_day": period[0].isoformat(),
                        "last_day": period[1].isoformat(),
                    }
                )
        return due

    # ------------------------------------------------------------ the attorney's report

    def attorney_report(self, firm_id: str, user_id: str, first_day: date, last_day: date) -> AttorneyReport:
        """Aggregate one user's period (their own days)."""
        business, entries = self._period(firm_id, user_id, first_day, last_day)
        labels = {}
        for matter_id in {entry.matter_id for entry in entries if entry.matter_id}:
            matter = self._matters.matter(firm_id, matter_id)
            if matter is not None:
                labels[matter_id] = f"{matter.number} {matter.name}"
        return attorney_report(first_day, last_day, business, entries, labels)

    def send_user_report(
        self, firm_id: str, user_id: str, frequency: ReportFrequency, first_day: date, last_day: date
    ) -> Delivery:
        """Send one user's report of one period, once."""
        user = self._users.get(firm_id, user_id)
        if user is None or user.status is UserStatus.DISABLED:
            return Delivery(
                run_key(firm_id, user_id, frequency, first_day, last_day), "no_recipients", None, ()
            )
        chosen = self._preferences_of(firm_id, user_id)
        report = self.attorney_report(firm_id, user_id, first_day, last_day)
        console = self._console_url
        return self._notifications.deliver(
            key=run_key(firm_id, user_id, frequency, first_day, last_day),
            firm_id=firm_id,
            template="attorney_report",
            kind="attorney_report",
            to=[user.email],
            context={
                "user_name": user.display_name,
                "frequency": frequency.value,
                "period": period_label(first_day, last_day),
                "report": report,
                "hour": chosen.report_hour,
                "time_zone": chosen.time_zone,
                "links": {
                    "all": console_link(console, first_day, last_day),
                    "unassigned": console_link(console, first_day, last_day, "unassigned"),
                    "assigned": console_link(console, first_day, last_day, "assigned"),
                },
            },
        )

    # ------------------------------------------------------------ the admins' activity report

    def activity(self, principal: Principal, first_day: date, last_day: date) -> ActivityReport:
        """The firm's activity by user and status, for its admins."""
        if principal.kind != "user" or Role.FIRM_ADMIN not in principal.roles:
            raise Forbidden("the activity report is for the firm's admins")
        principal.require(Permission.ROSTER_READ)
        return self.activity_of(principal.firm_id, first_day, last_day)

    def activity_of(self, firm_id: str, first_day: date, last_day: date) -> ActivityReport:
        """The report itself, for an admin or the schedule."""
        if last_day < first_day or (last_day - first_day).days >= MAX_ACTIVITY_DAYS:
            raise InvalidInput(
                f"a report covers from start to end, at most {MAX_ACTIVITY_DAYS} days",
                field_errors=[
                    FieldError("end", f"must be on or after start, within {MAX_ACTIVITY_DAYS} days")
                ],
            )
        rows = []
        for user in self._members(firm_id):
            business, entries = self._period(firm_id, user.user_id, first_day, last_day)
            rows.append(activity_row(user.user_id, user.display_name, user.email, business, entries))
        rows.sort(key=lambda row: (row.display_name.lower(), row.user_id))
        return ActivityReport(firm_id, first_day, last_day, rows, activity_totals(rows))

    def send_activity_report(self, firm_id: str, first_day: date, last_day: date) -> Delivery:
        """Email the period's activity report to the firm's admins, once."""
        firm = self._firms.get(firm_id)
        if firm is None:
            raise NotFound(f"there is no firm {firm_id}")
        report = self.activity_of(firm_id, first_day, last_day)
        admins = self.admin_addresses(firm_id)
        return self._notifications.deliver(
            key=f"activity:{firm_id}:{first_day.isoformat()}:{last_day.isoformat()}",
            firm_id=firm_id,
            template="activity_report",
            kind="activity_report",
            to=admins,
            context={
                "firm_name": firm.name,
                "period": period_label(first_day, last_day),
                "rows": report.rows,
                "statuses": ACTIVITY_STATUSES,
                "totals": report.totals,
                "captured_total": report.captured_seconds,
                "hours": hours,
                "link": f"{self._console_url.rstrip('/')}/#reports?start={first_day}&end={last_day}",
            },
        )

    def admin_addresses(self, firm_id: str) -> list[str]:
        """Email addresses of the firm's active admins."""
        return [
            user.email
            for user in self._members(firm_id)
            if Role.FIRM_ADMIN in user.roles and user.status is UserStatus.ACTIVE
        ]

    # ------------------------------------------------------------ helpers

    def _members(self, firm_id: str) -> Iterator[User]:
        cursor: str | None = None
        while True:
            page = self._users.list(firm_id, cursor, 100)
            yield from (user for user in page.items if user.status is not UserStatus.DISABLED)
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def _period(
        self, firm_id: str, user_id: str, first_day: date, last_day: date
    ) -> tuple[list[float], list[Any]]:
        """Business/memo items' durations and the entries of a user's days (one Query). Personal and
        filtered items never leave this function."""
        zone = self._zone(firm_id, user_id)
        start, _ = day_bounds(first_day, zone)
        _, end = day_bounds(last_day, zone)
        events, entries = self._timeline.between(firm_id, user_id, start, end)
        policy = self._policies.get(firm_id)
        user_rules, _ = self._policies.user_rules(firm_id, user_id)
        business = [
            event.seconds
            for event in events
            if not event.deleted
            and classify(
                event, firm_domains=policy.firm_domains, firm_rules=policy.rules, user_rules=user_rules
            ).category
            in (Category.BUSINESS, Category.MEMO)
        ]
        in_period = [entry for entry in entries if first_day <= entry.day <= last_day]
        return business, in_period


def week_before(day: date) -> tuple[date, date]:
    """Monday to Sunday of the week before ``day``'s week."""
    monday = day - timedelta(days=day.weekday() + 7)
    return monday, monday + timedelta(days=6)
