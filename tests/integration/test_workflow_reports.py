"""The reports workflow on the embedded AWS: each user's report at the hour they chose in their own time
zone, the admins' activity report, once per period whatever the retries."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from chalicelib.domain.identity import Role
from tests.integration.workflow_stack import WorkflowStack, workflow_stack
from tests.support.api import SeededFirm, seed_firm

DAY = "2026-03-09"  # a Monday; Chicago is on daylight time (UTC-5) since 8 March
# 07:00 in Chicago on Tuesday 10 March: the daily report of Monday 9 March is due.
SEVEN_IN_CHICAGO = "2026-03-10T12:00:00+00:00"
# 07:00 in Chicago on Monday 16 March: weekly reports and the admins' activity report are due.
MONDAY_SEVEN_IN_CHICAGO = "2026-03-16T12:00:00+00:00"


@pytest.fixture(scope="module")
def stack(token_mint: Any) -> Iterator[WorkflowStack]:
    with workflow_stack(token_mint, "reports") as running:
        yield running


@pytest.fixture(scope="module")
def firm(stack: WorkflowStack) -> SimpleNamespace:
    """A firm whose attorney captured three emails on Monday: one released, one assigned, one not."""
    api = stack.api
    seeded: SeededFirm = seed_firm(api.container, "Lovelace & Babbage LLP", "tenant-reports", "lovelace.law")
    admin = api.token_for(seeded, Role.FIRM_ADMIN)
    attorney = api.token_for(seeded, Role.ATTORNEY)
    client = api.call("POST", "/clients", token=admin, body={"name": "Analytical Engines Ltd"})
    assert client.status == 201, client.text
    matter = api.call(
        "POST",
        "/matters",
        token=admin,
        body={"client_id": client.body["client_id"], "number": "2026-0042", "name": "Engine patent"},
    )
    assert matter.status == 201, matter.text
    captures = [
        {
            "id": f"r-{n}",
            "type": "read",
            "at": f"{DAY}T15:{10 * n:02d}:00Z",
            "duration_seconds": 900,
            "internet_message_id": f"<report-{n}@client.example>",
            "conversation_id": f"conv-report-{n}",
            "subject": f"Engine patent claim {n}",
        }
        for n in range(3)
    ]
    assert api.call("POST", "/capture/batch", token=attorney, body={"items": captures}).status == 200
    entries = sorted(
        api.call("GET", f"/timeline?date={DAY}", token=attorney).body["entries"], key=lambda e: e["start"]
    )
    assert len(entries) == 3
    for entry, release in ((entries[0], True), (entries[1], False)):
        changed = api.call(
            "PATCH",
            f"/entries/{entry['entry_id']}",
            token=attorney,
            body={"version": entry["version"], "matter_id": matter.body["matter_id"]},
        )
        assert changed.status == 200, changed.text
        if release:
            done = api.call(
                "POST",
                f"/entries/{entry['entry_id']}/release",
                token=attorney,
                body={"version": changed.body["version"]},
            )
            assert done.status == 200, done.text
    return SimpleNamespace(seeded=seeded, attorney=attorney, admin=admin, matter=matter.body)


def choose(stack: WorkflowStack, token: str, frequency: str, hour: int = 7) -> None:
    reply = stack.api.call(
        "PUT",
        "/me/preferences",
        token=token,
        body={"report_frequency": frequency, "report_hour": hour, "time_zone": "America/Chicago"},
    )
    assert reply.status == 200, reply.text


def test_a_daily_report_reaches_the_attorney_at_seven_in_their_own_zone(
    stack: WorkflowStack, firm: SimpleNamespace
) -> None:
    choose(stack, firm.attorney, "daily")
    stack.new_emails()

    result = stack.run("ReportsStateMachine", {"at": SEVEN_IN_CHICAGO})

    assert result["status"] == "SUCCEEDED", result.get("cause")
    (email,) = stack.new_emails()
    attorney = firm.seeded.people[Role.ATTORNEY]
    assert email["to"] == [attorney.email]
    assert email["subject"].startswith("Your daily report, Monday 9 March 2026: 0.8 h captured")
    text = email["text"]
    assert "Captured       3 items      0.8 h" in text
    assert "Released       1 items      0.3 h" in text
    assert "1 entries without a matter (0.3 h)" in text
    assert "1 entries assigned but not released (0.3 h)" in text
    assert "2026-0042 Engine patent" in text
    assert "/console/#timeline?start=2026-03-09&end=2026-03-09&status=unassigned" in text
    html = email["html"]
    assert 'href="http://localhost:8001/console/#timeline?start=2026-03-09&amp;end=2026-03-09"' in html
    assert 'width="100%"' in html  # the longest matter's bar


def test_a_report_is_not_sent_at_another_hour_nor_twice_for_one_period(
    stack: WorkflowStack, firm: SimpleNamespace
) -> None:
    choose(stack, firm.attorney, "daily")
    stack.run("ReportsStateMachine", {"at": SEVEN_IN_CHICAGO})
    stack.new_emails()

    an_hour_later = stack.run("ReportsStateMachine", {"at": "2026-03-10T13:00:00+00:00"})
    again = stack.run("ReportsStateMachine", {"at": SEVEN_IN_CHICAGO})

    assert an_hour_later["status"] == again["status"] == "SUCCEEDED"
    assert stack.new_emails() == []


def test_a_report_task_that_crashes_after_sending_is_retried_without_a_second_email(
    stack: WorkflowStack, firm: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    from chalicelib.services.reports import ReportService

    choose(stack, firm.attorney, "weekly")
    stack.new_emails()
    monkeypatch.setattr(retrier_decl, "time", SimpleNamespace(sleep=lambda seconds: None))
    original = ReportService.send_user_report
    attempts: list[str] = []

    def send_then_crash(self: ReportService, *args: Any) -> Any:
        delivery = original(self, *args)
        attempts.append(delivery.outcome)
        if len(attempts) == 1:
            raise ConnectionResetError("the Lambda container died after SES accepted the email")
        return delivery

    monkeypatch.setattr(ReportService, "send_user_report", send_then_crash)

    result = stack.run("ReportsStateMachine", {"at": "2026-03-23T12:00:00+00:00"})

    assert result["status"] == "SUCCEEDED", result.get("cause")
    assert attempts == ["sent", "already"]
    weekly = [email for email in stack.new_emails() if email["subject"].startswith("Your weekly report")]
    assert len(weekly) == 1
    assert "16 to 22 March 2026" in weekly[0]["subject"]


def test_the_admins_get_the_weekly_activity_report_without_personal_items(
    stack: WorkflowStack, firm: SimpleNamespace
) -> None:
    choose(stack, firm.attorney, "off")
    stack.new_emails()

    result = stack.run("ReportsStateMachine", {"at": MONDAY_SEVEN_IN_CHICAGO}, name="activity-week-11")

    assert result["status"] == "SUCCEEDED", result.get("cause")
    activity = [email for email in stack.new_emails() if "activity" in email["subject"]]
    admin = firm.seeded.people[Role.FIRM_ADMIN]
    assert [email["to"] for email in activity] == [[admin.email]]
    assert activity[0]["subject"] == "Lovelace & Babbage LLP activity, 9 to 15 March 2026: 6 people"
    attorney_line = next(
        line for line in activity[0]["text"].splitlines() if line.startswith("Attorney of Lovelace")
    )
    # Captured 0.8 h; unassigned, assigned, released 0.3 h each; nothing exported.
    assert attorney_line.split()[-5:] == ["0.8", "0.3", "0.3", "0.3", "0.0"]
    assert "Engine patent" not in activity[0]["text"]  # no content, only hours


def test_the_executions_transitions_are_counted(stack: WorkflowStack, firm: SimpleNamespace) -> None:
    choose(stack, firm.attorney, "daily")
    arn = stack.start("ReportsStateMachine", {"at": "2026-03-11T12:00:00+00:00"})
    assert stack.wait(arn)["status"] == "SUCCEEDED"

    # ListDue, the Parallel, two Maps, one SendUserReport.
    assert stack.transitions(arn) == 5
