"""File exports and the API billing systems pull released time from: each entry is billed once, an export
of the same period gives the same file, and a run that dies half-way is finished without a second bill."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.identity import Role
from tests.support.api import ApiHarness, SeededFirm
from tests.support.ledes_check import check_ledes

DAY = "2026-03-09"


def release(api: ApiHarness, firm: SeededFirm, subjects: list[str], matter_id: str) -> list[dict[str, Any]]:
    attorney = api.token_for(firm, Role.ATTORNEY)
    captures = [
        {
            "id": f"x-{subject.replace(' ', '-')}",
            "type": "read",
            "at": f"{DAY}T15:{n:02d}:00Z",
            "duration_seconds": 600 + 30 * n,
            "internet_message_id": f"<{subject.replace(' ', '.')}@client.example>",
            "conversation_id": f"conv-{subject.replace(' ', '-')}",
            "subject": subject,
        }
        for n, subject in enumerate(subjects)
    ]
    assert api.call("POST", "/capture/batch", token=attorney, body={"items": captures}).status == 200
    released = []
    for entry in api.call("GET", f"/timeline?date={DAY}", token=attorney).body["entries"]:
        if entry["status"] not in ("unassigned", "assigned"):
            continue
        changed = api.call(
            "PATCH",
            f"/entries/{entry['entry_id']}",
            token=attorney,
            body={
                "version": entry["version"],
                "matter_id": matter_id,
                "task_code": "L120",
                "activity_code": "A106",
            },
        ).body
        done = api.call(
            "POST",
            f"/entries/{entry['entry_id']}/release",
            token=attorney,
            body={"version": changed["version"]},
        )
        assert done.status == 200, done.text
        released.append(done.body)
    return released


@pytest.fixture
def matter(api, firm_a) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    client = api.call("POST", "/clients", token=admin, body={"name": "Acme Manufacturing Inc."}).body
    api.call(
        "PUT",
        "/activity-types/EMAIL",
        token=admin,
        body={"name": "Correspondence", "utbms_activity": "A106", "external_ids": {"tabs3": "5"}},
    )
    attorney = firm_a.people[Role.ATTORNEY]
    api.call(
        "PATCH",
        f"/users/{attorney.user_id}",
        token=admin,
        body={"version": attorney.version, "timekeeper_class": "AS", "hourly_rate": "350.00"},
    )
    return dict(
        api.call(
            "POST",
            "/matters",
            token=admin,
            body={"number": "2026-0101", "name": "Acme v. Northwind", "client_id": client["client_id"]},
        ).body
    )


def export(api: ApiHarness, firm: SeededFirm, format: str = "ledes") -> Any:
    admin = api.token_for(firm, Role.FIRM_ADMIN)
    return api.call(
        "POST", "/exports", token=admin, body={"format": format, "first_day": DAY, "last_day": DAY}
    )


def file_of(api: ApiHarness, firm: SeededFirm, export_id: str) -> str:
    admin = api.token_for(firm, Role.FIRM_ADMIN)
    reply = api.call("GET", f"/exports/{export_id}/file", token=admin)
    assert reply.status == 200
    return reply.text


def statuses(api: ApiHarness, firm: SeededFirm) -> list[str]:
    attorney = api.token_for(firm, Role.ATTORNEY)
    return sorted(
        e["status"] for e in api.call("GET", f"/timeline?date={DAY}", token=attorney).body["entries"]
    )


def test_a_ledes_export_passes_the_strict_check_and_marks_what_it_billed(api, firm_a, matter) -> None:
    release(api, firm_a, ["supply terms", "delivery dates", "price schedule"], matter["matter_id"])
    made = export(api, firm_a)
    assert made.status == 201, made.text
    assert made.body["state"] == "complete" and made.body["entries"] == 3 and made.body["download_url"]
    text = file_of(api, firm_a, made.body["export_id"])
    assert check_ledes(text) == []
    assert text.startswith("LEDES1998B[]") and "2026-0101" in text and "|AS|" in text
    assert statuses(api, firm_a) == ["exported"] * 3


def test_exporting_the_same_period_again_gives_the_same_file_and_bills_nothing_twice(
    api, firm_a, matter
) -> None:
    release(api, firm_a, ["supply terms", "delivery dates"], matter["matter_id"])
    first = export(api, firm_a).body
    again = export(api, firm_a).body
    assert again["export_id"] == first["export_id"] and again["sha256"] == first["sha256"]
    release(api, firm_a, ["late addition"], matter["matter_id"])
    supplement = export(api, firm_a).body
    assert supplement["sequence"] == 2 and supplement["entries"] == 1
    assert "late addition" in file_of(api, firm_a, supplement["export_id"])
    assert "late addition" not in file_of(api, firm_a, first["export_id"])


def test_an_export_that_dies_half_way_is_finished_with_the_same_bytes(
    api, firm_a, matter, monkeypatch
) -> None:
    from chalicelib.services.exports import ExportService

    release(api, firm_a, ["one", "two", "three"], matter["matter_id"])
    original = ExportService._mark_exported
    marked = {"n": 0}

    def die_after_one(self: Any, entry: Any, export_id: str, actor: str) -> None:
        if marked["n"] == 1:
            raise SystemExit("the worker died")
        marked["n"] += 1
        original(self, entry, export_id, actor)

    monkeypatch.setattr(ExportService, "_mark_exported", die_after_one)
    with pytest.raises(SystemExit):
        export(api, firm_a)
    monkeypatch.setattr(ExportService, "_mark_exported", original)
    assert statuses(api, firm_a) == ["exported", "released", "released"]
    finished = export(api, firm_a).body
    assert finished["sequence"] == 1 and finished["entries"] == 3 and finished["state"] == "complete"
    assert statuses(api, firm_a) == ["exported"] * 3
    history = api.call("GET", "/exports", token=api.token_for(firm_a, Role.FIRM_ADMIN)).body["items"]
    assert [h["export_id"] for h in history] == [finished["export_id"]]


@pytest.mark.parametrize("format", ["tabs3", "pclaw", "timeslips", "abacus", "csv"])
def test_each_csv_layout_exports_the_released_time(api, firm_a, matter, format: str) -> None:
    release(api, firm_a, ["supply terms"], matter["matter_id"])
    made = export(api, firm_a, format)
    assert made.status == 201, made.text
    assert made.body["entries"] == 1 and made.body["lines"] == 1
    assert made.body["file_name"].endswith(".csv")


def test_nothing_released_is_a_404_that_says_what_to_do(api, firm_a) -> None:
    reply = export(api, firm_a)
    assert reply.status == 404 and "release entries first" in reply.body["detail"]


def test_a_billing_system_pulls_released_entries_by_page_and_marks_them_once(api, firm_a, matter) -> None:
    release(api, firm_a, ["a", "b", "c"], matter["matter_id"])
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    token = api.call(
        "POST", "/api-tokens", token=admin, body={"name": "Billing sync", "scopes": ["billing:export"]}
    ).body["secret"]
    pages, cursor = [], None
    while True:
        query = f"/billing/entries?first_day={DAY}&last_day={DAY}&limit=2" + (
            f"&cursor={cursor}" if cursor else ""
        )
        page = api.call("GET", query, token=token).body
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    entries = [e for page in pages for e in page]
    assert len(entries) == 3 and len(pages[0]) == 2
    marks = [{k: e[k] for k in ("user_id", "day", "entry_id", "version")} for e in entries]
    first = api.call(
        "POST", "/billing/entries/exported", token=token, body={"reference": "INV-7", "entries": marks}
    )
    assert [m["outcome"] for m in first.body] == ["exported"] * 3
    again = api.call(
        "POST", "/billing/entries/exported", token=token, body={"reference": "INV-7", "entries": marks}
    )
    assert [m["outcome"] for m in again.body] == ["already_exported"] * 3
    other = api.call(
        "POST", "/billing/entries/exported", token=token, body={"reference": "INV-8", "entries": marks}
    )
    assert [m["outcome"] for m in other.body] == ["conflict"] * 3
    left = api.call("GET", f"/billing/entries?first_day={DAY}&last_day={DAY}", token=token).body
    assert left["items"] == []


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/exports", {"format": "xlsx", "first_day": DAY, "last_day": DAY}, 422),
        ("/exports", {"format": "ledes", "first_day": DAY, "last_day": "2026-03-01"}, 422),
        ("/exports", {"format": "ledes", "first_day": "2025-01-01", "last_day": "2026-03-01"}, 422),
        ("/billing/entries/exported", {"reference": "x", "entries": []}, 422),
        ("/connections/billing/clio/properties", {"version": 0, "properties": {"COLOUR": "red"}}, 422),
        (
            "/connections/billing/clio/properties",
            {"version": 0, "properties": {"SHOW_CLOSED_CASES": "maybe"}},
            422,
        ),
        ("/connections/billing/quickbooks/sync", None, 404),
        ("/connections/billing/clio/sync", None, 409),
    ],
)
def test_bad_billing_requests_get_a_4xx_that_says_what_is_wrong_and_change_nothing(
    api, firm_a, memory_table, path: str, body: Any, status: int
) -> None:
    before = sorted(memory_table.all_items(), key=lambda item: (item["PK"], item["SK"]))
    reply = api.call(
        "POST" if "properties" not in path else "PUT",
        path,
        token=api.token_for(firm_a, Role.FIRM_ADMIN),
        body=body,
    )
    assert reply.status == status, reply.text
    assert reply.body["detail"]
    after = sorted(memory_table.all_items(), key=lambda item: (item["PK"], item["SK"]))
    assert after == before


def test_only_billing_people_may_export_or_connect(api, firm_a) -> None:
    attorney = api.token_for(firm_a, Role.ATTORNEY)
    assert export(api, firm_a).status != 403
    assert (
        api.call(
            "POST", "/exports", token=attorney, body={"format": "csv", "first_day": DAY, "last_day": DAY}
        ).status
        == 403
    )
    manager = api.token_for(firm_a, Role.BILLING_MANAGER)
    assert api.call("POST", "/connections/billing/clio/authorize", token=manager).status == 403
    assert api.call("GET", "/connections/billing", token=manager).status == 200
