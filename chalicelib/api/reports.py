"""Report preferences (each user's own), the admins' activity report, and scheduled exports."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.report_schemas import (
    ActivityOut,
    ActivityQuery,
    ExportScheduleIn,
    ExportScheduleOut,
    PreferencesIn,
    PreferencesOut,
)
from chalicelib.api.routing import Api, Call, services
from chalicelib.domain.reports import ReportFrequency, ReportPreferences

reports = Blueprint(__name__)
api = Api(reports, "reports")


@api.route("/me/preferences", "GET", summary="My report preferences", response=PreferencesOut)
def get_preferences(call: Call) -> PreferencesOut:
    return PreferencesOut.of(services().reports.preferences(call.principal))


@api.route(
    "/me/preferences",
    "PUT",
    summary="Choose how often my report email comes, at which hour, in which time zone",
    body=PreferencesIn,
    response=PreferencesOut,
)
def put_preferences(call: Call) -> PreferencesOut:
    body: PreferencesIn = call.body
    chosen = ReportPreferences(ReportFrequency(body.report_frequency), body.report_hour, body.time_zone)
    return PreferencesOut.of(services().reports.set_preferences(call.principal, chosen))


@api.route(
    "/reports/activity",
    "GET",
    summary="Hours per user and entry status in a period (firm admins; never personal items)",
    query=ActivityQuery,
    response=ActivityOut,
)
def activity(call: Call) -> ActivityOut:
    query: ActivityQuery = call.query
    return ActivityOut.of(services().reports.activity(call.principal, query.start, query.end))


@api.route(
    "/exports/schedules",
    "GET",
    summary="The firm's scheduled postings and file exports",
    response=ExportScheduleOut,
    response_is_list=True,
)
def list_export_schedules(call: Call) -> list[ExportScheduleOut]:
    return [ExportScheduleOut.of(s) for s in services().scheduled_exports.schedules(call.principal)]


@api.route(
    "/exports/schedules/{target}",
    "PUT",
    summary="Post to a billing system, or build a file, on a schedule (firm admins)",
    body=ExportScheduleIn,
    response=ExportScheduleOut,
)
def put_export_schedule(call: Call, target: str) -> ExportScheduleOut:
    body: ExportScheduleIn = call.body
    saved = services().scheduled_exports.set_schedule(
        call.principal, target, ReportFrequency(body.frequency), body.hour
    )
    return ExportScheduleOut.of(saved)


@api.route(
    "/exports/schedules/{target}",
    "DELETE",
    summary="Stop a scheduled posting or file export (firm admins)",
    status=204,
)
def delete_export_schedule(call: Call, target: str) -> None:
    services().scheduled_exports.remove_schedule(call.principal, target)
