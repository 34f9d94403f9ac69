"""Report preferences (``/me/preferences``), the admins' activity report (``/reports/activity``), the rules
that decide when a report is due, and the devstack's outbox archive."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from chalicelib.domain.identity import Role
from chalicelib.domain.reports import ReportFrequency, console_link, matter_bars, period_due
from tests.support.api import ApiHarness, SeededFirm


def test_preferences_start_off_at_seven_in_the_users_firm_zone(api: ApiHarness, firm_a: SeededFirm) -> None:
    reply = api.call("GET", "/me/preferences", token=api.token_for(firm_a, Role.ATTORNEY))

    assert reply.status == 200
    assert reply.body == {"report_frequency": "off", "report_hour": 7, "time_zone": "America/Chicago"}


def test_a_user_chooses_a_weekly_report_and_reads_it_back(api: ApiHarness, firm_a: SeededFirm) -> None:
    token = api.token_for(firm_a, Role.ATTORNEY)
    chosen = {"report_frequency": "weekly", "report_hour": 18, "time_zone": "Europe/London"}

    saved = api.call("PUT", "/me/preferences", token=token, body=chosen)

    assert saved.status == 200 and saved.body == chosen
    assert api.call("GET", "/me/preferences", token=token).body == chosen
    other = api.call("GET", "/me/preferences", token=api.token_for(firm_a, Role.ASSISTANT)).body
    assert other["report_frequency"] == "off"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"report_frequency": "hourly"}, "report_frequency"),
        ({"report_hour": 24}, "report_hour"),
        ({"report_hour": -1}, "report_hour"),
        ({"report_hour": "7"}, "report_hour"),
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
        ({"time_zone": "Eastern Standard Time"}, "time_zone"),
        ({"extra": True}, "extra"),
    ],
)
def test_bad_preferences_are_refused_naming_the_field_and_change_nothing(
    api: ApiHarness, firm_a: SeededFirm, change: dict[str, Any], field: str
) -> None:
    token = api.token_for(firm_a, Role.ATTORNEY)
    good = {"report_frequency": "daily", "report_hour": 7, "time_zone": "America/Chicago"}
    api.call("PUT", "/me/preferences", token=token, body=good)

    reply = api.call("PUT", "/me/preferences", token=token, body={**good, **change})

    assert reply.status == 422
    assert any(error["field"].endswith(field) for error in reply.body["errors"]), reply.body
    assert api.call("GET", "/me/preferences", token=token).body == good


def test_a_missing_field_is_refused(api: ApiHarness, firm_a: SeededFirm) -> None:
    reply = api.call(
        "PUT",
        "/me/preferences",
        token=api.token_for(firm_a, Role.ATTORNEY),
        body={"report_frequency": "daily"},
    )

    assert reply.status == 422
    assert {error["field"] for error in reply.body["errors"]} == {"body.report_hour", "body.time_zone"}


def test_the_activity_report_is_for_admins_and_shows_each_user_by_status(
    api: ApiHarness, firm_a: SeededFirm
) -> None:
    attorney = api.token_for(firm_a, Role.ATTORNEY)
    captures = [
        {
            "id": f"a-{n}",
            "type": "read",
            "at": f"2026-03-09T15:{10 * n:02d}:00Z",
            "duration_seconds": 600,
            "internet_message_id": f"<activity-{n}@client.example>",
            "subject": f"Status call {n}",
        }
        for n in range(2)
    ]
    assert api.call("POST", "/capture/batch", token=attorney, body={"items": captures}).status == 200
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)

    reply = api.call("GET", "/reports/activity?start=2026-03-09&end=2026-03-15", token=admin)

    assert reply.status == 200, reply.text
    rows = {row["user_id"]: row for row in reply.body["users"]}
    mine = rows[firm_a.people[Role.ATTORNEY].user_id]
    assert mine["captured_seconds"] == 1200
    # Billed time: each 10-minute read rounds up to 12 minutes (the firm's 6-minute increment).
    assert mine["statuses"]["unassigned"] == {"entries": 2, "seconds": 1440, "hours": "0.4"}
    assert reply.body["totals"]["unassigned"]["entries"] == 2
    assert "Status call" not in reply.text  # hours only, never content
    assert api.call("GET", "/reports/activity?start=2026-03-09&end=2026-03-15", token=attorney).status == 403
    billing = api.token_for(firm_a, Role.BILLING_MANAGER)
    assert api.call("GET", "/reports/activity?start=2026-03-09&end=2026-03-15", token=billing).status == 403


@pytest.mark.parametrize(
    "query",
    [
        "start=2026-03-15&end=2026-03-09",
        "start=2026-01-01&end=2026-03-31",
        "start=2026-03-09",
        "start=x&end=y",
    ],
)
def test_a_bad_activity_period_is_refused(api: ApiHarness, firm_a: SeededFirm, query: str) -> None:
    reply = api.call("GET", f"/reports/activity?{query}", token=api.token_for(firm_a, Role.FIRM_ADMIN))

    assert reply.status == 422, reply.text


def test_a_daily_report_is_due_at_the_chosen_hour_of_the_users_own_day() -> None:
    seven_in_chicago = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)  # daylight time since 8 March

    assert period_due(ReportFrequency.DAILY, 7, "America/Chicago", seven_in_chicago) == (
        date(2026, 3, 9),
        date(2026, 3, 9),
    )
    assert period_due(ReportFrequency.DAILY, 7, "America/Chicago", seven_in_chicago.replace(hour=13)) is None
    assert period_due(ReportFrequency.DAILY, 7, "Asia/Tokyo", seven_in_chicago) is None
    assert period_due(ReportFrequency.OFF, 7, "America/Chicago", seven_in_chicago) is None


def test_weekly_reports_go_out_on_mondays_and_monthly_ones_on_the_first() -> None:
    monday = datetime(2026, 3, 16, 12, 0, tzinfo=UTC)
    tuesday = datetime(2026, 3, 17, 12, 0, tzinfo=UTC)
    first_of_april = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)

    assert period_due(ReportFrequency.WEEKLY, 7, "America/Chicago", monday) == (
        date(2026, 3, 9),
        date(2026, 3, 15),
    )
    assert period_due(ReportFrequency.WEEKLY, 7, "America/Chicago", tuesday) is None
    assert period_due(ReportFrequency.MONTHLY, 7, "America/Chicago", first_of_april) == (
        date(2026, 3, 1),
        date(2026, 3, 31),
    )
    assert period_due(ReportFrequency.MONTHLY, 7, "America/Chicago", monday) is None


def test_the_chart_keeps_the_longest_matters_and_sums_the_rest() -> None:
    seconds = {f"m{n}": 3600 * (n + 1) for n in range(10)} | {None: 1800}
    labels = {f"m{n}": f"Matter {n}" for n in range(10)}

    bars = matter_bars(seconds, labels, max_bars=3)

    # Widths are relative to the longest row, here the 8 smaller matters summed.
    assert [(bar.label, bar.hours, bar.percent) for bar in bars] == [
        ("Matter 9", "10.0", 35),
        ("Matter 8", "9.0", 32),
        ("Matter 7", "8.0", 28),
        ("Other (8 matters)", "28.5", 100),
    ]
    assert console_link("http://web/console/", date(2026, 3, 9), date(2026, 3, 9), "unassigned") == (
        "http://web/console/#timeline?start=2026-03-09&end=2026-03-09&status=unassigned"
    )


def test_the_devstack_outbox_saves_each_sent_email_once_as_eml(aws_endpoint: str, tmp_path: Path) -> None:
    import boto3

    from devstack.outbox import OutboxArchive

    ses = boto3.client("sesv2", region_name="us-east-1", endpoint_url=aws_endpoint)
    ses.create_email_identity(EmailIdentity="noreply@outbox.test")
    from chalicelib.adapters.email.ses import SesEmailSender
    from chalicelib.ports import EmailAttachment, OutgoingEmail

    SesEmailSender(ses, "noreply@outbox.test").send(
        OutgoingEmail(
            to=("ada@outbox.test",),
            subject="Invoice 7 approved",
            html="<p>Approved</p>",
            text="Approved",
            attachments=(EmailAttachment("invoice-7.pdf", "application/pdf", b"%PDF-1.4"),),
        )
    )
    archive = OutboxArchive(tmp_path / "outbox", "us-east-1")

    listed = archive.sync()
    again = archive.sync()

    mine = [entry for entry in listed if entry["subject"] == "Invoice 7 approved"]
    assert len(mine) == 1 and len(again) == len(listed)
    assert mine[0]["to"] == ["ada@outbox.test"]
    assert mine[0]["text"].strip() == "Approved" and mine[0]["html"].strip() == "<p>Approved</p>"
    assert mine[0]["attachments"] == ["invoice-7.pdf"]
    saved = archive.path_of(mine[0]["file"])
    assert saved is not None and b"Subject: Invoice 7 approved" in saved.read_bytes()
    assert archive.path_of("../../etc/passwd.eml") is None
