"""Scheduled exports: each firm's standing orders to post released time to its billing system, or to
build a billing file, on a schedule of its own, and to tell the firm's admins what happened.

The hourly ``scheduled_export`` workflow asks ``due_runs`` which (firm, target) pairs are due now, runs
each (``run``: exactly-once posting and period-idempotent files are the posting and export services'
own guarantees) and emails a link and a summary to the firm's admins (``notify``), once per run.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any

from chalicelib.domain.billing import BillingError
from chalicelib.domain.errors import Conflict, Forbidden, NotFound
from chalicelib.domain.identity import Permission, Principal
from chalicelib.domain.reports import (
    ExportSchedule,
    ReportFrequency,
    export_run_name,
    period_due,
    period_label,
    validate_export_schedule,
)
from chalicelib.ports import Clock, ExportScheduleRepository, FileStore, FirmRepository, WorkflowStarter
from chalicelib.services.exports import ExportService
from chalicelib.services.notifications import Delivery, NotificationService
from chalicelib.services.posting import PostingService
from chalicelib.services.reports import ReportService

SCHEDULE_ACTOR = "system:scheduled-export"
# How long the emailed download link works (S3 presigned URLs allow at most 7 days with SigV4).
LINK_DAYS = 7
TARGET_NAMES = {
    "clio": "Clio",
    "actionstep": "Actionstep",
    "tabs3": "Tabs3",
    "pclaw": "PCLaw",
    "timeslips": "TimeSlips",
    "abacus": "AbacusLaw",
    "csv": "CSV",
    "ledes": "LEDES 1998B",
}


class ScheduledExportService:
    """Use cases of scheduled postings and file exports."""

    def __init__(
        self,
        *,
        schedules: ExportScheduleRepository,
        firms: FirmRepository,
        posting: PostingService,
        exports: ExportService,
        files: FileStore,
        reports: ReportService,
        notifications: NotificationService,
        workflows: WorkflowStarter,
        clock: Clock,
        console_url: str,
    ) -> None:
        self._workflows = workflows
        self._schedules = schedules
        self._firms = firms
        self._posting = posting
        self._exports = exports
        self._files = files
        self._reports = reports
        self._notifications = notifications
        self._clock = clock
        self._console_url = console_url

    # ------------------------------------------------------------ the firm's schedules

    def schedules(self, principal: Principal) -> list[ExportSchedule]:
        """The firm's scheduled exports."""
        principal.require(Permission.BILLING_EXPORT)
        return sorted(self._schedules.of_firm(principal.firm_id), key=lambda s: s.target)

    def set_schedule(
        self, principal: Principal, target: str, frequency: ReportFrequency, hour: int
    ) -> ExportSchedule:
        """Create or change the schedule of one target (firm admins)."""
        principal.require(Permission.BILLING_CONNECT)
        current = {s.target: s for s in self._schedules.of_firm(principal.firm_id)}.get(target)
        schedule = ExportSchedule(
            principal.firm_id, target, frequency, hour, current.version if current else 0
        )
        validate_export_schedule(schedule)
        self._schedules.save(schedule, principal.actor)
        return replace(schedule, version=schedule.version + 1)

    def remove_schedule(self, principal: Principal, target: str) -> None:
        """Stop a scheduled export (firm admins)."""
        principal.require(Permission.BILLING_CONNECT)
        if target not in {s.target for s in self._schedules.of_firm(principal.firm_id)}:
            raise NotFound(f"there is no scheduled export to '{target}'")
        self._schedules.delete(principal.firm_id, target)

    # ------------------------------------------------------------ the workflow's steps

    WORKFLOW = "exports"

    def start_hourly_run(self, now: datetime) -> str:
        """Start this hour's run; the name is the hour, so a schedule fired twice starts one run."""
        hour = now.replace(minute=0, second=0, microsecond=0)
        return self._workflows.start(self.WORKFLOW, f"exports-{hour:%Y%m%dT%H}", {"at": hour.isoformat()})

    def due_runs(self, now: datetime) -> list[dict[str, str]]:
        """Every (firm, target) whose schedule falls in the hour of ``now``, in the firm's time zone."""
        due = []
        for firm in self._firms.list_all():
            for schedule in self._schedules.of_firm(firm.firm_id):
                period = period_due(schedule.frequency, schedule.hour, firm.time_zone, now)
                if period is not None:
                    due.append(
                        {
                            "firm_id": firm.firm_id,
                            "target": schedule.target,
                            "first_day": period[0].isoformat(),
                            "last_day": period[1].isoformat(),
                        }
                    )
        return due

    def run(self, firm_id: str, target: str, first_day: date, last_day: date) -> dict[str, Any]:
        """Post the period's released entries, or build its file; returns the summary for the email.

        Safe to repeat: posting claims each entry once (the retry looks for what an earlier attempt
        created), and an export of a period with nothing new returns the period's last file.
        """
        if target in ("clio", "actionstep"):
            try:
                report = self._posting.post_firm(firm_id, target, SCHEDULE_ACTOR, first_day, last_day)
            except (Conflict, BillingError) as problem:
                return {
                    "posts": True,
                    "entries": 0,
                    "posted": 0,
                    "already": 0,
                    "failed": 0,
                    "problem": str(problem),
                }
            return {
                "posts": True,
                "entries": len(report.results),
                "posted": report.count("posted"),
                "already": report.count("already_posted"),
                "failed": report.count("failed") + report.count("stopped"),
                "problem": "",
            }
        try:
            record = self._exports.export_firm(firm_id, target, first_day, last_day, SCHEDULE_ACTOR)
        except NotFound:
            return {"posts": False, "entries": 0, "export_id": None, "problem": ""}
        return {
            "posts": False,
            "entries": record.entry_count,
            "export_id": record.export_id,
            "file_key": record.file_key,
            "file_name": record.file_name,
            "lines": record.lines,
            "hours": record.total_hours,
            "amount": record.total_amount,
            "problem": "",
        }

    def notify(
        self, firm_id: str, target: str, first_day: date, last_day: date, summary: dict[str, Any]
    ) -> Delivery:
        """Email the run's summary (and the file's link) to the firm's admins, once per run."""
        firm = self._firms.get(firm_id)
        if firm is None:
            raise Forbidden(f"there is no firm {firm_id}")
        posts = bool(summary.get("posts"))
        download = None
        if not posts and summary.get("file_key"):
            download = self._files.link(
                str(summary["file_key"]), str(summary["file_name"]), LINK_DAYS * 86_400
            )
        if posts:
            lines = [
                ("Entries in the run", summary.get("entries", 0)),
                ("Posted now", summary.get("posted", 0)),
                ("Posted before", summary.get("already", 0)),
                ("Not posted", summary.get("failed", 0)),
            ]
        else:
            lines = [
                ("Entries exported", summary.get("entries", 0)),
                ("Lines in the file", summary.get("lines", 0)),
                ("Hours", summary.get("hours", "0")),
                ("Amount", summary.get("amount", "0")),
            ]
        problem = str(summary.get("problem") or "")
        if posts and summary.get("failed"):
            problem = problem or "Some entries could not be posted: see the posting results in the console."
        if not summary.get("entries") and not problem:
            problem = "Nothing was released in this period, so nothing was exported."
        return self._notifications.deliver(
            key=export_run_name(firm_id, target, first_day, last_day),
            firm_id=firm_id,
            template="export_done",
            kind="scheduled_export",
            to=self._reports.admin_addresses(firm_id),
            context={
                "firm_name": firm.name,
                "posts": posts,
                "target_name": TARGET_NAMES.get(target, target),
                "period": period_label(first_day, last_day),
                "summary": {"entries": summary.get("entries", 0)},
                "summary_lines": lines,
                "download_link": download,
                "file_name": summary.get("file_name") or "",
                "link_days": LINK_DAYS,
                "problems": problem,
                "console_link": f"{self._console_url.rstrip('/')}/#billing",
            },
        )
