"""The scheduled-export workflow on the embedded AWS: on the firm's schedule, the period's released
entries become a stored file, and the firm's admins get a link and a summary, once."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from chalicelib.domain.identity import Role
from tests.integration.workflow_stack import WorkflowStack, workflow_stack
from tests.support.api import seed_firm

DAY = "2026-03-09"
# 06:00 in Chicago (daylight time) on Tuesday 10 March: a daily export of Monday is due.
SIX_IN_CHICAGO = "2026-03-10T11:00:00+00:00"


@pytest.fixture(scope="module")
def stack(token_mint: Any) -> Iterator[WorkflowStack]:
    with workflow_stack(token_mint, "exports") as running:
        yield running


def released_firm(stack: WorkflowStack, name: str, tenant: str, domain: str, items: int) -> SimpleNamespace:
    """A firm whose attorney released ``items`` entries on Monday."""
    api = stack.api
    seeded = seed_firm(api.container, name, tenant, domain)
    admin = api.token_for(seeded, Role.FIRM_ADMIN)
    attorney = api.token_for(seeded, Role.ATTORNEY)
    client = api.call("POST", "/clients", token=admin, body={"name": f"Client of {name}"}).body
    matter = api.call(
        "POST",
        "/matters",
        token=admin,
        body={"client_id": client["client_id"], "number": f"{tenant}-1", "name": "Northwind merger"},
    ).body
    captures = [
        {
            "id": f"x-{tenant}-{n}",
            "type": "read",
            "at": f"{DAY}T15:{5 * n:02d}:00Z",
            "duration_seconds": 600,
            "internet_message_id": f"<{tenant}-{n}@client.example>",
            "conversation_id": f"conv-{tenant}-{n}",
            "subject": f"Merger schedule {n}",
        }
        for n in range(items)
    ]
    assert api.call("POST", "/capture/batch", token=attorney, body={"items": captures}).status == 200
    for entry in api.call("GET", f"/timeline?date={DAY}", token=attorney).body["entries"]:
        changed = api.call(
            "PATCH",
            f"/entries/{entry['entry_id']}",
            token=attorney,
            body={"version": entry["version"], "matter_id": matter["matter_id"]},
        ).body
        released = api.call(
            "POST",
            f"/entries/{entry['entry_id']}/release",
            token=attorney,
            body={"version": changed["version"]},
        )
        assert released.status == 200, released.text
    return SimpleNamespace(seeded=seeded, admin=admin)


@pytest.fixture(scope="module")
def firm(stack: WorkflowStack) -> SimpleNamespace:
    return released_firm(stack, "Lovelace & Babbage LLP", "tenant-exports", "lovelace.law", 3)


def test_an_admin_schedules_a_daily_csv_export_and_bad_schedules_are_refused(
    stack: WorkflowStack, firm: SimpleNamespace
) -> None:
    api = stack.api
    attorney = api.token_for(firm.seeded, Role.ATTORNEY)

    saved = api.call(
        "PUT", "/exports/schedules/csv", token=firm.admin, body={"frequency": "daily", "hour": 6}
    )
    unknown = api.call(
        "PUT", "/exports/schedules/excel", token=firm.admin, body={"frequency": "daily", "hour": 6}
    )
    bad_hour = api.call(
        "PUT", "/exports/schedules/csv", token=firm.admin, body={"frequency": "daily", "hour": 24}
    )
    not_admin = api.call(
        "PUT", "/exports/schedules/csv", token=attorney, body={"frequency": "daily", "hour": 6}
    )

    assert saved.status == 200, saved.text
    assert saved.body == {"target": "csv", "posts": False, "frequency": "daily", "hour": 6, "version": 1}
    assert unknown.status == 422 and "target" in unknown.text
    assert bad_hour.status == 422 and "hour" in bad_hour.text
    assert not_admin.status == 403
    listed = api.call("GET", "/exports/schedules", token=firm.admin).body
    assert listed == [saved.body]


def test_the_scheduled_export_stores_the_file_and_emails_the_admins_a_link_and_a_summary(
    stack: WorkflowStack, firm: SimpleNamespace
) -> None:
    stack.api.call("PUT", "/exports/schedules/csv", token=firm.admin, body={"frequency": "daily", "hour": 6})
    stack.new_emails()

    result = stack.run("ExportsStateMachine", {"at": SIX_IN_CHICAGO})

    assert result["status"] == "SUCCEEDED", result.get("cause")
    (email,) = stack.new_emails()
    assert email["to"] == [firm.seeded.people[Role.FIRM_ADMIN].email]
    assert email["subject"] == "CSV export ready: Monday 9 March 2026, 3 entries"
    text = email["text"]
    assert "Entries exported         3" in text
    assert "Hours                    0.6" in text
    link = next(line for line in text.splitlines() if line.startswith("http"))
    download = requests.get(link, timeout=10)
    assert download.status_code == 200
    assert download.text.count("Merger schedule") == 3


def test_a_crashed_notification_is_retried_without_a_second_email_or_a_second_file(
    stack: WorkflowStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    from chalicelib.services.scheduled_exports import ScheduledExportService

    other = released_firm(stack, "Hopper Grace PC", "tenant-crash", "hopper.law", 2)
    stack.api.call("PUT", "/exports/schedules/csv", token=other.admin, body={"frequency": "daily", "hour": 6})
    stack.new_emails()
    monkeypatch.setattr(retrier_decl, "time", SimpleNamespace(sleep=lambda seconds: None))
    original = ScheduledExportService.notify
    outcomes: list[str] = []

    def notify_then_crash(self: ScheduledExportService, *args: Any) -> Any:
        delivery = original(self, *args)
        outcomes.append(delivery.outcome)
        if len(outcomes) == 1:
            raise ConnectionResetError("the worker died after SES accepted the email")
        return delivery

    monkeypatch.setattr(ScheduledExportService, "notify", notify_then_crash)

    result = stack.run("ExportsStateMachine", {"at": "2026-03-10T11:00:00+00:00"}, name="exports-crash")

    assert result["status"] == "SUCCEEDED", result.get("cause")
    mine = [e for e in stack.new_emails() if e["to"] == [other.seeded.people[Role.FIRM_ADMIN].email]]
    assert outcomes[:2] == ["sent", "already"]
    assert len(mine) == 1
    exports = stack.api.call("GET", "/exports", token=other.admin).body
    assert len(exports["items"]) == 1


def test_an_export_is_counted_in_state_transitions_per_firm(stack: WorkflowStack) -> None:
    arn = stack.start("ExportsStateMachine", {"at": "2026-03-12T11:00:00+00:00"})
    assert stack.wait(arn)["status"] == "SUCCEEDED"

    # ListDue, the Map, and RunExport + NotifyAdmins for each of the two scheduled firms.
    assert stack.transitions(arn) == 2 + 2 * 2
