"""Importing a phone system's call-detail records: preview, commit, re-import, bad rows."""

from __future__ import annotations

from pathlib import Path

from chalicelib.domain.identity import Role

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "calls"


def give_extensions(api, firm_a) -> None:
    """The attorney answers 204, the billing manager 205 (the numbers in clean.csv)."""
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    for role, extension in ((Role.ATTORNEY, "204"), (Role.BILLING_MANAGER, "205")):
        person = firm_a.people[role]
        reply = api.call(
            "PATCH",
            f"/users/{person.user_id}",
            token=admin,
            body={"version": person.version, "phone_extensions": [extension]},
        )
        assert reply.status == 200


def calls_in_timeline(api, firm_a) -> list[dict]:
    view = api.call("GET", "/timeline?date=2026-03-09", token=api.token_for(firm_a, Role.ATTORNEY)).body
    return [event for event in view["events"] if event["kind"] == "call"]


def test_a_preview_reports_what_would_be_imported_and_changes_nothing(api, firm_a, memory_table) -> None:
    give_extensions(api, firm_a)
    before = memory_table.all_items()
    reply = api.call(
        "POST",
        "/calls/import",
        token=api.token_for(firm_a, Role.FIRM_ADMIN),
        body={"csv": (FIXTURES / "clean.csv").read_text(), "commit": False},
    )
    assert reply.status == 200 and reply.body["committed"] is False
    assert reply.body["calls"] == 5 and reply.body["skipped_missed"] == 1
    assert sorted(reply.body["calls_by_user"].values()) == [2, 3]
    assert memory_table.all_items() == before


def test_committing_puts_each_call_on_its_persons_timeline_and_a_reimport_adds_nothing(api, firm_a) -> None:
    give_extensions(api, firm_a)
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    body = {"csv": (FIXTURES / "clean.csv").read_text(), "commit": True}
    first = api.call("POST", "/calls/import", token=admin, body=body).body
    assert first["committed"] and first["new_calls"] == 5
    calls = calls_in_timeline(api, firm_a)
    assert [c["seconds"] for c in calls] == [125.0, 250.0, 125.0]
    assert calls[0]["subject"] == "Call from Acme Holdings" and calls[0]["participants"] == ["+12125550100"]
    again = api.call("POST", "/calls/import", token=admin, body=body).body
    assert again["committed"] and again["new_calls"] == 0
    assert calls_in_timeline(api, firm_a) == calls


def test_a_file_with_bad_rows_imports_nothing_and_names_every_bad_row_and_field(
    api, firm_a, memory_table
) -> None:
    give_extensions(api, firm_a)
    before = memory_table.all_items()
    reply = api.call(
        "POST",
        "/calls/import",
        token=api.token_for(firm_a, Role.FIRM_ADMIN),
        body={"csv": (FIXTURES / "bad_rows.csv").read_text(), "commit": True},
    )
    assert reply.status == 422 and reply.body["committed"] is False
    problems = {(error["line"], error["field"]) for error in reply.body["errors"]}
    assert {(3, "start"), (4, "duration"), (5, "direction")} <= problems
    assert memory_table.all_items() == before


def test_a_call_on_an_extension_nobody_has_is_a_row_error_that_says_what_to_do(api, firm_a) -> None:
    reply = api.call(
        "POST",
        "/calls/import",
        token=api.token_for(firm_a, Role.FIRM_ADMIN),
        body={"csv": (FIXTURES / "clean.csv").read_text(), "commit": False},
    )
    errors = [e for e in reply.body["errors"] if e["field"] == "extension"]
    assert errors and "add it to the person's phone extensions" in errors[0]["message"]


def test_only_roster_administrators_import_calls(api, firm_a) -> None:
    reply = api.call(
        "POST",
        "/calls/import",
        token=api.token_for(firm_a, Role.ATTORNEY),
        body={"csv": (FIXTURES / "clean.csv").read_text()},
    )
    assert reply.status == 403
