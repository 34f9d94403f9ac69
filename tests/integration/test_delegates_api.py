"""Delegates: an attorney lets an assistant view or work on their timeline, never their personal items."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.identity import Role

DAY = "2026-03-09"
PRIVATE = "PRIVATE call with my doctor"


@pytest.fixture
def attorney_day(api, firm_a) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The attorney's day: one business item, one personal item."""
    attorney = api.token_for(firm_a, Role.ATTORNEY)
    items = [
        {
            "id": "b1",
            "type": "manual",
            "at": f"{DAY}T15:00:00Z",
            "duration_seconds": 900,
            "note": "Drafted the motion",
            "subject": "Drafted the motion",
        },
        {
            "id": "p1",
            "type": "manual",
            "at": f"{DAY}T16:00:00Z",
            "duration_seconds": 1200,
            "note": PRIVATE,
            "subject": PRIVATE,
            "personal": True,
        },
    ]
    assert api.call("POST", "/capture/batch", token=attorney, body={"items": items}).status == 200
    own = api.call("GET", f"/timeline?date={DAY}", token=attorney).body
    private = next(e for e in own["events"] if e["subject"] == PRIVATE)
    return {"token": attorney, "owner": firm_a.people[Role.ATTORNEY].user_id, "own": own, "private": private}


def a_matter(api, firm_a) -> str:  # type: ignore[no-untyped-def]
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    client = api.call("POST", "/clients", token=admin, body={"name": "Acme Corp"}).body
    matter = api.call(
        "POST",
        "/matters",
        token=admin,
        body={"number": "2026-0001", "name": "Acme v. Roe", "client_id": client["client_id"]},
    )
    assert matter.status == 201, matter.text
    return str(matter.body["matter_id"])


def grant(api, firm_a, access: str = "act", version: int = 0) -> Any:  # type: ignore[no-untyped-def]
    assistant = firm_a.people[Role.ASSISTANT].user_id
    return api.call(
        "PUT",
        "/me/delegates",
        token=api.token_for(firm_a, Role.ATTORNEY),
        body={"version": version, "delegates": [{"user_id": assistant, "access": access}]},
    )


def test_a_granted_assistant_sees_the_attorneys_day_without_personal_items_or_personal_totals(
    api, firm_a, attorney_day
) -> None:
    assert grant(api, firm_a).status == 200
    assistant = api.token_for(firm_a, Role.ASSISTANT)
    reply = api.call("GET", f"/timeline?date={DAY}&user_id={attorney_day['owner']}", token=assistant)
    assert reply.status == 200, reply.text
    assert reply.body["user_id"] == attorney_day["owner"]
    assert PRIVATE not in reply.text
    assert [e["subject"] for e in reply.body["events"]] == ["Drafted the motion"]
    assert reply.body["totals"]["personal_seconds"] is None
    assert reply.body["entries"] == attorney_day["own"]["entries"]


def test_the_assistant_finds_whom_they_act_for_and_the_attorney_sees_their_delegates(
    api, firm_a, attorney_day
) -> None:
    saved = grant(api, firm_a, access="view")
    assert saved.status == 200 and saved.body["version"] == 1
    (delegate,) = saved.body["delegates"]
    assert delegate["display_name"] == firm_a.people[Role.ASSISTANT].display_name
    assert delegate["access"] == "view"
    mine = api.call("GET", "/me/delegates", token=api.token_for(firm_a, Role.ASSISTANT)).body
    assert [p["user_id"] for p in mine["acting_for"]] == [attorney_day["owner"]]
    assert mine["delegates"] == [] and mine["version"] == 0


def test_an_acting_delegate_assigns_and_releases_and_the_audit_names_the_delegate(
    api, firm_a, attorney_day
) -> None:
    grant(api, firm_a)
    assistant = api.token_for(firm_a, Role.ASSISTANT)
    owner = attorney_day["owner"]
    (entry,) = attorney_day["own"]["entries"]
    matter_id = a_matter(api, firm_a)
    changed = api.call(
        "PATCH",
        f"/entries/{entry['entry_id']}?user_id={owner}",
        token=assistant,
        body={
            "version": entry["version"],
            "narrative": "Drafted the motion to compel",
            "matter_id": matter_id,
        },
    )
    assert changed.status == 200, changed.text
    released = api.call(
        "POST",
        "/entries/bulk?user_id=" + owner,
        token=assistant,
        body={"entry_ids": [entry["entry_id"]], "action": "release"},
    )
    assert released.body["results"][0]["ok"] is True
    own = api.call("GET", f"/timeline?date={DAY}", token=attorney_day["token"]).body
    assert own["entries"][0]["status"] == "released"
    assert own["entries"][0]["narrative"] == "Drafted the motion to compel"
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    feed = api.call("GET", "/audit?limit=50", token=admin).body["items"]
    actors = {r["actor"] for r in feed if r["entity_id"] == entry["entry_id"] and r["action"] == "release"}
    assert actors == {f"user:{firm_a.people[Role.ASSISTANT].user_id}"}


def test_a_view_only_delegate_cannot_change_anything(api, firm_a, attorney_day, memory_table) -> None:
    grant(api, firm_a, access="view")
    assistant = api.token_for(firm_a, Role.ASSISTANT)
    (entry,) = attorney_day["own"]["entries"]
    before = memory_table.all_items()
    reply = api.call(
        "POST",
        f"/entries/{entry['entry_id']}/release?user_id={attorney_day['owner']}",
        token=assistant,
        body={"version": entry["version"]},
    )
    assert reply.status == 403 and "time:write-own" in reply.text
    assert memory_table.all_items() == before


def test_without_a_grant_or_after_revoking_it_the_timeline_is_closed(api, firm_a, attorney_day) -> None:
    assistant = api.token_for(firm_a, Role.ASSISTANT)
    path = f"/timeline?date={DAY}&user_id={attorney_day['owner']}"
    assert api.call("GET", path, token=assistant).status == 403
    assert grant(api, firm_a).status == 200
    assert api.call("GET", path, token=assistant).status == 200
    revoked = api.call(
        "PUT", "/me/delegates", token=attorney_day["token"], body={"version": 1, "delegates": []}
    )
    assert revoked.status == 200 and revoked.body["delegates"] == []
    assert api.call("GET", path, token=assistant).status == 403
    assert api.call("GET", "/me/delegates", token=assistant).body["acting_for"] == []


def test_an_admin_is_not_a_delegate_by_being_an_admin(api, firm_a, attorney_day) -> None:
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    reply = api.call("GET", f"/timeline?date={DAY}&user_id={attorney_day['owner']}", token=admin)
    assert reply.status == 403 and PRIVATE not in reply.text


def test_a_delegate_can_neither_unmark_nor_delete_a_personal_item(api, firm_a, attorney_day) -> None:
    grant(api, firm_a)
    assistant = api.token_for(firm_a, Role.ASSISTANT)
    owner, private = attorney_day["owner"], attorney_day["private"]
    unmark = api.call(
        "POST",
        f"/events/{private['event_id']}/personal?user_id={owner}",
        token=assistant,
        body={"personal": False},
    )
    assert unmark.status == 404 and PRIVATE not in unmark.text
    still = api.call("GET", f"/timeline?date={DAY}", token=attorney_day["token"]).body
    assert next(e for e in still["events"] if e["event_id"] == private["event_id"])["personal"] is True


def test_a_delegate_may_mark_a_business_item_personal_and_then_no_longer_sees_it(
    api, firm_a, attorney_day
) -> None:
    grant(api, firm_a)
    assistant = api.token_for(firm_a, Role.ASSISTANT)
    owner = attorney_day["owner"]
    business = next(e for e in attorney_day["own"]["events"] if not e["personal"])
    marked = api.call(
        "POST",
        f"/events/{business['event_id']}/personal?user_id={owner}",
        token=assistant,
        body={"personal": True},
    )
    assert marked.status == 200
    view = api.call("GET", f"/timeline?date={DAY}&user_id={owner}", token=assistant).body
    assert view["events"] == [] and view["entries"] == []


@pytest.mark.parametrize(
    ("delegates", "field"),
    [
        (lambda f: [{"user_id": f.people[Role.ATTORNEY].user_id}], "delegates[0].user_id"),
        (lambda f: [{"user_id": "nobody-here"}], "delegates[0].user_id"),
        (
            lambda f: [{"user_id": f.people[Role.ASSISTANT].user_id}] * 2,
            "delegates[1].user_id",
        ),
        (lambda f: [{"user_id": f.people[Role.ASSISTANT].user_id, "access": "admin"}], "access"),
    ],
    ids=["myself", "unknown person", "listed twice", "unknown access"],
)
def test_a_bad_delegate_list_is_refused_naming_the_problem_and_changes_nothing(
    api, firm_a, memory_table, delegates, field
) -> None:
    attorney = api.token_for(firm_a, Role.ATTORNEY)
    before = memory_table.all_items()
    reply = api.call(
        "PUT", "/me/delegates", token=attorney, body={"version": 0, "delegates": delegates(firm_a)}
    )
    assert reply.status == 422, reply.text
    assert any(field in error["field"] for error in reply.body["errors"]), reply.body
    assert memory_table.all_items() == before


def test_someone_from_another_firm_cannot_be_made_a_delegate(api, firm_a, firm_b) -> None:
    attorney = api.token_for(firm_a, Role.ATTORNEY)
    outsider = firm_b.people[Role.ASSISTANT].user_id
    reply = api.call(
        "PUT", "/me/delegates", token=attorney, body={"version": 0, "delegates": [{"user_id": outsider}]}
    )
    assert reply.status == 422


def test_saving_the_same_list_twice_is_one_change_and_a_stale_version_is_a_conflict(api, firm_a) -> None:
    first = grant(api, firm_a)
    again = grant(api, firm_a, version=1)
    assert first.body == again.body and again.body["version"] == 1
    stale = grant(api, firm_a, access="view", version=0)
    assert stale.status == 409
    current = api.call("GET", "/me/delegates", token=api.token_for(firm_a, Role.ATTORNEY)).body
    assert current["delegates"][0]["access"] == "act"


def test_an_api_token_has_no_delegates(api, firm_a) -> None:
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    issued = api.call("POST", "/api-tokens", token=admin, body={"name": "IT", "scopes": ["roster:read"]})
    reply = api.call("GET", "/me/delegates", token=issued.body["secret"])
    assert reply.status == 403
