"""Capture through the API and the timeline it builds (firm A works in America/Chicago)."""

from __future__ import annotations

import threading
from typing import Any

from chalicelib.domain.identity import Role

DAY = "2026-03-09"


def heartbeat(n: int, at: str, message: str = "<m1@client.com>", **extra: Any) -> dict[str, Any]:
    return {
        "id": f"hb-{n}",
        "type": "read",
        "at": at,
        "internet_message_id": message,
        "conversation_id": "conv-1",
        "subject": "Smith v. Jones: draft settlement",
        "sender": "counsel@client.com",
        "participants": ["counsel@client.com", "attorney@lovelace.law"],
        **extra,
    }


def day(api, token: str, query: str = f"date={DAY}") -> dict[str, Any]:
    reply = api.call("GET", f"/timeline?{query}", token=token)
    assert reply.status == 200, reply.text
    return reply.body


def test_heartbeats_within_the_pulse_merge_into_one_measured_item_billed_up_to_the_increment(
    api, firm_a
) -> None:
    token = api.token_for(firm_a, Role.ATTORNEY)
    beats = [heartbeat(n, f"2026-03-09T15:00:{n * 10:02d}.250Z") for n in range(5)]
    assert api.call("POST", "/capture/batch", token=token, body={"items": beats}).status == 200
    view = day(api, token)
    (event,) = view["events"]
    assert event["measured"] and event["seconds"] == 40.0
    (entry,) = view["entries"]
    assert entry["raw_seconds"] == 40.0 and entry["billed_seconds"] == 360
    assert entry["rounding_rule"].startswith("firm")
    assert entry["narrative"] == "Review email from counsel@client.com re: Smith v. Jones: draft settlement"
    assert view["totals"]["captured_seconds"] == 40.0 and view["totals"]["unassigned_seconds"] == 360


def test_sending_the_same_batch_twice_or_split_differently_gives_the_same_timeline(api, firm_a) -> None:
    token = api.token_for(firm_a, Role.ATTORNEY)
    beats = [heartbeat(n, f"2026-03-09T15:0{n}:00Z") for n in range(6)]
    api.call("POST", "/capture/batch", token=token, body={"items": beats})
    once = day(api, token)
    api.call("POST", "/capture/batch", token=token, body={"items": beats[3:]})
    api.call("POST", "/capture/batch", token=token, body={"items": beats[:3] + beats[:3]})
    again = day(api, token)
    assert again["events"] == once["events"] and again["totals"] == once["totals"]
    assert [e["raw_seconds"] for e in again["entries"]] == [e["raw_seconds"] for e in once["entries"]]


def test_a_batch_over_500_or_with_a_bad_item_is_refused_whole_and_changes_nothing(
    api, firm_a, memory_table
) -> None:
    token = api.token_for(firm_a, Role.ATTORNEY)
    before = memory_table.all_items()
    too_many = [heartbeat(n, "2026-03-09T15:00:00Z") for n in range(501)]
    assert api.call("POST", "/capture/batch", token=token, body={"items": too_many}).status == 422
    bad = [heartbeat(1, "2026-03-09T15:00:00Z"), {"id": "x", "type": "read", "at": "2026-03-09T15:00:00Z"}]
    reply = api.call("POST", "/capture/batch", token=token, body={"items": bad})
    assert reply.status == 422
    assert reply.body["errors"][0]["field"].startswith("body.items.1")
    naive = [heartbeat(1, "2026-03-09T15:00:00")]
    assert api.call("POST", "/capture/batch", token=token, body={"items": naive}).status == 422
    assert memory_table.all_items() == before


def test_compose_start_and_send_are_one_item_timed_from_start_to_send(api, firm_a) -> None:
    token = api.token_for(firm_a, Role.ATTORNEY)
    base = {"correlation_id": "draft-7", "subject": "Re: lease", "participants": ["landlord@client.com"]}
    api.call(
        "POST",
        "/capture",
        token=token,
        body={"id": "c1", "type": "compose", "at": "2026-03-09T16:00:00Z", **base},
    )
    api.call(
        "POST",
        "/capture",
        token=token,
        body={
            "id": "c2",
            "type": "send",
            "at": "2026-03-09T16:07:30Z",
            "started_at": "2026-03-09T16:00:00Z",
            **base,
        },
    )
    (event,) = day(api, token)["events"]
    assert event["kind"] == "compose" and event["seconds"] == 450.0


def test_newsletters_are_filtered_and_never_become_entries(api, firm_a) -> None:
    token = api.token_for(firm_a, Role.ATTORNEY)
    api.call(
        "POST",
        "/capture",
        token=token,
        body=heartbeat(1, "2026-03-09T15:00:00Z", message="<news@law360.com>", list_unsubscribe=True),
    )
    view = day(api, token)
    assert view["events"][0]["category"] == "filtered" and "newsletter" in view["events"][0]["reason"]
    assert view["entries"] == [] and view["totals"]["captured_seconds"] == 0


def test_assign_release_and_the_rules_of_a_released_entry(api, firm_a) -> None:
    token = api.token_for(firm_a, Role.ATTORNEY)
    api.call("POST", "/capture", token=token, body=heartbeat(1, "2026-03-09T15:00:00Z"))
    entry = day(api, token)["entries"][0]
    path = f"/entries/{entry['entry_id']}"
    early = api.call("POST", f"{path}/release", token=token, body={"version": entry["version"]})
    assert early.status == 409 and "assign a matter" in early.body["detail"]
    assigned = api.call(
        "PATCH",
        path,
        token=token,
        body={"version": entry["version"], "matter_id": "m-100", "prep_seconds": 400},
    ).body
    assert (
        assigned["status"] == "assigned"
        and assigned["billed_seconds"] == 720
        and assigned["raw_seconds"] == 0
    )
    released = api.call("POST", f"{path}/release", token=token, body={"version": assigned["version"]}).body
    assert released["status"] == "released"
    refused = api.call("PATCH", path, token=token, body={"version": released["version"], "narrative": "x"})
    assert refused.status == 409 and "reopen" in refused.body["detail"]
    stale = api.call("POST", f"{path}/reopen", token=token, body={"version": assigned["version"]})
    assert stale.status == 409
    assert (
        api.call("POST", f"{path}/reopen", token=token, body={"version": released["version"]}).status == 200
    )


def test_a_new_capture_for_a_released_item_starts_a_new_entry_instead_of_changing_the_released_one(
    api, firm_a
) -> None:
    token = api.token_for(firm_a, Role.ATTORNEY)
    api.call("POST", "/capture", token=token, body=heartbeat(1, "2026-03-09T15:00:00Z"))
    entry = day(api, token)["entries"][0]
    path = f"/entries/{entry['entry_id']}"
    assigned = api.call(
        "PATCH", path, token=token, body={"version": entry["version"], "matter_id": "m-1"}
    ).body
    api.call("POST", f"{path}/release", token=token, body={"version": assigned["version"]})
    api.call(
        "POST", "/capture", token=token, body=heartbeat(2, "2026-03-09T18:00:00Z", message="<m2@client.com>")
    )
    entries = day(api, token)["entries"]
    assert [e["status"] for e in entries] == ["released", "unassigned"]


def test_splitting_an_entry_shares_its_time_between_matters(api, firm_a) -> None:
    token = api.token_for(firm_a, Role.ATTORNEY)
    beats = [heartbeat(n, f"2026-03-09T15:0{n}:00Z") for n in range(4)]
    api.call("POST", "/capture/batch", token=token, body={"items": beats})
    entry = day(api, token)["entries"][0]
    parts = api.call(
        "POST",
        f"/entries/{entry['entry_id']}/split",
        token=token,
        body={"version": entry["version"], "matters": ["m-1", "m-2"], "mode": "equal"},
    ).body["entries"]
    assert [p["matter_id"] for p in parts] == ["m-1", "m-2"]
    assert sum(p["raw_seconds"] for p in parts) == entry["raw_seconds"]
    view = day(api, token)
    assert sorted(e["matter_id"] for e in view["entries"]) == ["m-1", "m-2"]


def test_bulk_release_reports_each_entry_and_releases_only_the_assigned_ones(api, firm_a) -> None:
    token = api.token_for(firm_a, Role.ATTORNEY)
    for n, message in enumerate(["<a@client.com>", "<b@client.com>"]):
        api.call(
            "POST", "/capture", token=token, body=heartbeat(n, f"2026-03-09T1{5 + n}:00:00Z", message=message)
        )
    first, second = day(api, token)["entries"]
    api.call("PATCH", f"/entries/{first['entry_id']}", token=token, body={"version": 1, "matter_id": "m-9"})
    reply = api.call(
        "POST",
        "/entries/bulk",
        token=token,
        body={"entry_ids": [first["entry_id"], second["entry_id"], "20260309nope"], "action": "release"},
    ).body["results"]
    assert [r["ok"] for r in reply] == [True, False, False]
    assert "assign a matter" in reply[1]["error"]


def test_marking_an_item_personal_removes_it_from_entries_and_from_what_anyone_else_can_count(
    api, firm_a
) -> None:
    token = api.token_for(firm_a, Role.ATTORNEY)
    api.call("POST", "/capture", token=token, body=heartbeat(1, "2026-03-09T15:00:00Z"))
    api.call("POST", "/capture", token=token, body=heartbeat(2, "2026-03-09T15:00:50Z"))
    event = day(api, token)["events"][0]
    marked = api.call(
        "POST", f"/events/{event['event_id']}/personal", token=token, body={"personal": True}
    ).body
    assert marked["category"] == "personal"
    own = day(api, token)
    assert own["entries"] == [] and own["totals"]["personal_seconds"] == 50.0
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    user_id = firm_a.people[Role.ATTORNEY].user_id
    totals = api.call("GET", f"/users/{user_id}/totals?start={DAY}&end={DAY}", token=admin).body
    assert totals["captured_seconds"] == 0 and totals["personal_seconds"] is None


def test_a_users_rule_makes_a_sender_always_personal(api, firm_a) -> None:
    token = api.token_for(firm_a, Role.ATTORNEY)
    rules = {"version": 0, "rules": [{"scope": "sender", "value": "Spouse@Home.net", "category": "personal"}]}
    assert api.call("PUT", "/me/capture-rules", token=token, body=rules).status == 200
    api.call(
        "POST",
        "/capture",
        token=token,
        body=heartbeat(1, "2026-03-09T15:00:00Z", message="<dinner@home.net>", sender="spouse@home.net"),
    )
    view = day(api, token)
    assert view["events"][0]["category"] == "personal" and view["entries"] == []
    stale = api.call("PUT", "/me/capture-rules", token=token, body=rules)
    assert stale.status == 409


def test_a_deleted_item_is_gone_for_everyone(api, firm_a) -> None:
    token = api.token_for(firm_a, Role.ATTORNEY)
    api.call("POST", "/capture", token=token, body=heartbeat(1, "2026-03-09T15:00:00Z"))
    event_id = day(api, token)["events"][0]["event_id"]
    assert api.call("DELETE", f"/events/{event_id}", token=token).status == 204
    view = day(api, token)
    assert view["events"] == [] and view["entries"] == []
    assert api.call("DELETE", f"/events/{event_id}", token=token).status == 404


def test_thread_per_day_grouping_makes_one_entry_of_a_conversation(api, firm_a) -> None:
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    policy = api.call("GET", "/capture/policy", token=admin).body
    policy.update(grouping="per_thread_day", increment_seconds=900)
    assert api.call("PUT", "/capture/policy", token=admin, body=policy).status == 200
    token = api.token_for(firm_a, Role.ATTORNEY)
    for n, message in enumerate(["<a@client.com>", "<b@client.com>", "<c@client.com>"]):
        beats = [
            heartbeat(2 * n, f"2026-03-09T1{5 + n}:00:00Z", message=message),
            heartbeat(2 * n + 1, f"2026-03-09T1{5 + n}:01:00Z", message=message),
        ]
        api.call("POST", "/capture/batch", token=token, body={"items": beats})
    (entry,) = day(api, token)["entries"]
    assert len(entry["event_ids"]) == 3 and entry["raw_seconds"] == 180 and entry["billed_seconds"] == 900
    assert entry["narrative"] == "Correspondence re: Smith v. Jones: draft settlement (3 items)"


def test_a_week_view_follows_the_users_days_across_the_dst_change(api, firm_a) -> None:
    token = api.token_for(firm_a, Role.ATTORNEY)
    # Chicago clocks jump from 02:00 to 03:00 on Sunday 8 March 2026: 05:30Z on the 8th is 23:30 CST
    # Saturday, and 05:30Z on the 9th is 00:30 CDT Monday.
    api.call(
        "POST", "/capture", token=token, body=heartbeat(1, "2026-03-08T05:30:00Z", message="<sat@c.com>")
    )
    api.call(
        "POST", "/capture", token=token, body=heartbeat(2, "2026-03-09T05:30:00Z", message="<mon@c.com>")
    )
    week = day(api, token, "week_of=2026-03-11")
    assert (week["start"], week["end"]) == ("2026-03-09", "2026-03-15")
    assert [e["day"] for e in week["entries"]] == ["2026-03-09"]
    saturday = day(api, token, "date=2026-03-07")
    assert len(saturday["entries"]) == 1


def test_concurrent_heartbeats_for_one_item_lose_no_update(api, firm_a) -> None:
    token = api.token_for(firm_a, Role.ATTORNEY)
    barrier = threading.Barrier(6)

    def send(n: int) -> None:
        barrier.wait()
        reply = api.call(
            "POST", "/capture", token=token, body=heartbeat(n, f"2026-03-09T15:00:{n * 10:02d}Z")
        )
        assert reply.status == 200, reply.text

    threads = [threading.Thread(target=send, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    (event,) = day(api, token)["events"]
    assert event["seconds"] == 50.0


def test_per_matter_grouping_moves_an_assigned_item_into_that_matters_entry_for_the_day(api, firm_a) -> None:
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    policy = api.call("GET", "/capture/policy", token=admin).body
    policy.update(grouping="per_matter_day")
    assert api.call("PUT", "/capture/policy", token=admin, body=policy).status == 200
    token = api.token_for(firm_a, Role.ATTORNEY)
    for n, message in enumerate(["<a@client.com>", "<b@client.com>"]):
        beats = [
            heartbeat(2 * n, f"2026-03-09T1{5 + n}:00:00Z", message=message),
            heartbeat(2 * n + 1, f"2026-03-09T1{5 + n}:01:00Z", message=message),
        ]
        api.call("POST", "/capture/batch", token=token, body={"items": beats})
    first, second = day(api, token)["entries"]
    for entry in (first, second):
        reply = api.call(
            "PATCH",
            f"/entries/{entry['entry_id']}",
            token=token,
            body={"version": entry["version"], "matter_id": "m-7"},
        )
        assert reply.status == 200 and reply.body["matter_id"] == "m-7"
    (merged,) = day(api, token)["entries"]
    assert merged["matter_id"] == "m-7" and merged["raw_seconds"] == 120 and merged["status"] == "assigned"
