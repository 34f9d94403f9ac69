"""Request and response models of report preferences, the activity report and scheduled exports."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator, model_validator

from chalicelib.api.schemas import ApiModel, Input
from chalicelib.domain.reports import (
    POSTING_TARGETS,
    ActivityRow,
    ExportSchedule,
    ReportPreferences,
    StatusLine,
)
from chalicelib.domain.roster import validate_time_zone

if TYPE_CHECKING:  # the service is imported by the first request, not at a cold start
    from chalicelib.services.reports import ActivityReport

Frequency = Literal["off", "daily", "weekly", "monthly"]
ScheduledFrequency = Literal["daily", "weekly", "monthly"]


class PreferencesIn(Input):
    """The whole of a user's report preferences (PUT replaces them)."""

    report_frequency: Frequency = Field(description="how often the report email comes; off stops it")
    report_hour: int = Field(ge=0, le=23, strict=True, description="the hour of the user's day it comes at")
    time_zone: str = Field(min_length=1, max_length=64, description="an IANA time zone, e.g. America/Chicago")

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if not validate_time_zone(value):
            raise ValueError(f"'{value}' is not an IANA time zone (e.g. America/Chicago)")
        return value


class PreferencesOut(ApiModel):
    report_frequency: Frequency
    report_hour: int
    time_zone: str

    @classmethod
    def of(cls, preferences: ReportPreferences) -> PreferencesOut:
        return cls(
            report_frequency=preferences.report_frequency.value,
            report_hour=preferences.report_hour,
            time_zone=preferences.time_zone,
        )


class ActivityQuery(Input):
    start: date
    end: date

    @model_validator(mode="after")
    def _forward(self) -> ActivityQuery:
        if self.end < self.start:
            raise ValueError("end must be on or after start")
        if (self.end - self.start).days >= 62:
            raise ValueError("a report covers at most 62 days")
        return self


class StatusOut(ApiModel):
    entries: int
    seconds: int
    hours: str

    @classmethod
    def of(cls, line: StatusLine) -> StatusOut:
        return cls(entries=line.entries, seconds=line.seconds, hours=line.hours)


class ActivityRowOut(ApiModel):
    user_id: str
    display_name: str
    email: str
    captured_seconds: int
    statuses: dict[str, StatusOut]

    @classmethod
    def of(cls, row: ActivityRow) -> ActivityRowOut:
        return cls(
            user_id=row.user_id,
            display_name=row.display_name,
            email=row.email,
            captured_seconds=row.captured_seconds,
            statuses={status: StatusOut.of(line) for status, line in row.statuses.items()},
        )


class ActivityOut(ApiModel):
    start: date
    end: date
    users: list[ActivityRowOut]
    totals: dict[str, StatusOut]
    captured_seconds: int

    @classmethod
    def of(cls, report: ActivityReport) -> ActivityOut:
        return cls(
            start=report.first_day,
            end=report.last_day,
            users=[ActivityRowOut.of(row) for row in report.rows],
            totals={status: StatusOut.of(line) for status, line in report.totals.items()},
            captured_seconds=report.captured_seconds,
        )


class ExportScheduleIn(Input):
    frequency: ScheduledFrequency
    hour: int = Field(ge=0, le=23, strict=True, description="the hour of the firm's day it runs at")


class ExportScheduleOut(ApiModel):
    target: str = Field(description=f"a billing system ({', '.join(POSTING_TARGETS)}) or a file format")
    posts: bool
    frequency: ScheduledFrequency
    hour: int
    version: int

    @classmethod
    def of(cls, schedule: ExportSchedule) -> ExportScheduleOut:
        return cls(
            target=schedule.target,
            posts=schedule.posts,
            frequency=schedule.frequency.value,
            hour=schedule.hour,
            version=schedule.version,
        )
