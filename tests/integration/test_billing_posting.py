"""Posting released time to Clio and Actionstep exactly once, through the real API, the real adapters and
the simulated accounts over HTTP, with faults injected where real systems fail."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from chalicelib.bootstrap import SettingsBillingSystems
from chalicelib.domain.identity import Role
from chalicelib.settings import Settings
from devstack import demo_billing
from devstack.demo_book import ACTIONSTEP_PARTICIPANT_IDS, CLIO_USER_IDS
from tests.support.api import ApiHarness, SeededFirm, build_api, seed_firm

DAY = "2026-03-09"
ENTRIES = 6


@pytest.fixture(params=["clio", "actionstep"])
def system(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def simulator(system: str) -> Iterator[Any]:
    if system == "clio":
        from devstack.billing.clio import ClioSimulator as cls
    else:
        from devstack.billing.actionstep import ActionstepSimulator as cls
    client_id, secret = (
        (demo_billing.CLIO_CLIENT_ID, demo_billing.CLIO_CLIENT_SECRET)
        if system == "clio"
        else (demo_billing.ACTIONSTEP_CLIENT_ID, demo_billing.ACTIONSTEP_CLIENT_SECRET)
    )
    sim = cls(port=0, client_id=client_id, client_secret=secret)
    sim.start()
    sim.set_rate_limit(10_000, 60.0)
    yield sim
    sim.stop()


@pytest.fixture
def billing_api(memory_table, clock, token_mint, aws_endpoint, simulator) -> Iterator[ApiHarness]:  # type: ignore[no-untyped-def]
    from chalicelib.bootstrap import use_container

    pointing = {k.removeprefix("MATTERLINE_").lower(): v for k, v in _environment(simulator).items()}
    systems = SettingsBillingSystems(Settings(**pointing))
    harness = build_api(memory_table, clock, token_mint, aws_endpoint, billing_systems=systems)
    harness.simulator = simulator  # type: ignore[attr-defined]
    yield harness
    use_container(None)


def _environment(simulator: Any) -> dict[str, str]:
    base = simulator.base_url
    return {
        "MATTERLINE_CLIO_AUTHORIZE_URL": f"{base}{simulator.AUTHORIZE_PATH}",
        "MATTERLINE_CLIO_TOKEN_URL": f"{base}{simulator.TOKEN_PATH}",
        "MATTERLINE_CLIO_API_BASE": f"{base}/api/v4",
        "MATTERLINE_CLIO_CLIENT_ID": demo_billing.CLIO_CLIENT_ID,
        "MATTERLINE_CLIO_CLIENT_SECRET": demo_billing.CLIO_CLIENT_SECRET,
        "MATTERLINE_ACTIONSTEP_AUTHORIZE_URL": f"{base}{simulator.AUTHORIZE_PATH}",
        "MATTERLINE_ACTIONSTEP_TOKEN_URL": f"{base}{simulator.TOKEN_PATH}",
        "MATTERLINE_ACTIONSTEP_CLIENT_ID": demo_billing.ACTIONSTEP_CLIENT_ID,
        "MATTERLINE_ACTIONSTEP_CLIENT_SECRET": demo_billing.ACTIONSTEP_CLIENT_SECRET,
    }


@pytest.fixture
def firm(billing_api: ApiHarness) -> SeededFirm:
    return seed_firm(billing_api.container, "Hale Mercer LLP", "tenant-hm", "halemercer.example")


def connect(api: ApiHarness, firm: SeededFirm, system: str) -> None:
    """The admin's OAuth round trip: authorize, consent on the system's page, our callback."""
    admin = api.token_for(firm, Role.FIRM_ADMIN)
    started = api.call("POST", f"/connections/billing/{system}/authorize", token=admin)
    assert started.status == 200, started.text
    callback = urlsplit(demo_billing.approve_consent(started.body["authorize_url"]))
    landed = api.call("GET", f"{callback.path}?{callback.query}")
    assert landed.status == 302 and landed.headers["Location"].endswith(f"{system}=connected")
    attorney = firm.people[Role.ATTORNEY]
    remote_id = (CLIO_USER_IDS if system == "clio" else ACTIONSTEP_PARTICIPANT_IDS)["alex.attorney"]
    linked = api.call(
        "PATCH",
        f"/users/{attorney.user_id}",
        token=admin,
        body={"version": attorney.version, "external_ids": {system: str(remote_id)}},
    )
    assert linked.status == 200, linked.text
    synced = api.call("POST", f"/connections/billing/{system}/sync", token=admin)
    assert synced.status == 200, synced.text
    assert synced.body["counts"]["matters_created"] >= 8


def release_entries(api: ApiHarness, firm: SeededFirm, count: int = ENTRIES, offset: int = 0) -> list[str]:
    """``count`` released entries of the attorney on DAY, on a matter linked to the system."""
    attorney = api.token_for(firm, Role.ATTORNEY)
    captures = [
        {
            "id": f"c-{offset + n}",
            "type": "read",
            "at": f"{DAY}T{13 + n // 4:02d}:{(n % 4) * 15:02d}:00Z",
            "duration_seconds": 400 + 60 * n,
            "internet_message_id": f"<m{offset + n}@acme-mfg.example>",
            "conversation_id": f"thread-{offset + n}",
            "subject": f"Supply contract point {offset + n}",
            "sender": "dana.whitfield@acme-mfg.example",
        }
        for n in range(count)
    ]
    assert api.call("POST", "/capture/batch", token=attorney, body={"items": captures}).status == 200
    matter = api.call("GET", "/matters?number=2026-0101", token=attorney).body["items"][0]
    released = []
    for entry in api.call("GET", f"/timeline?date={DAY}", token=attorney).body["entries"]:
        if entry["status"] != "unassigned" and entry["status"] != "assigned":
            continue
        changed = api.call(
            "PATCH",
            f"/entries/{entry['entry_id']}",
            token=attorney,
            body={"version": entry["version"], "matter_id": matter["matter_id"]},
        ).body
        done = api.call(
            "POST",
            f"/entries/{entry['entry_id']}/release",
            token=attorney,
            body={"version": changed["version"]},
        )
        assert done.status == 200, done.text
        released.append(entry["entry_id"])
    assert len(released) == count
    return released


def post(api: ApiHarness, firm: SeededFirm, system: str) -> dict[str, Any]:
    reply = api.call(
        "POST",
        f"/connections/billing/{system}/post",
        token=api.token_for(firm, Role.FIRM_ADMIN),
        body={"first_day": DAY, "last_day": DAY},
    )
    assert reply.status == 200, reply.text
    return dict(reply.body)


def references_posted(api: ApiHarness, system: str) -> Counter[str]:
    """How many time entries the simulated account holds per Matterline reference."""
    found: Counter[str] = Counter()
    for record in api.simulator.time_entries():  # type: ignore[attr-defined]
        text = record.get("importExternalReference") or record.get("note") or ""
        if "ML-" in text:
            found["ML-" + text.split("ML-", 1)[1].rstrip("]").split()[0].rstrip("]")] += 1
    return found


def entry_statuses(api: ApiHarness, firm: SeededFirm) -> Counter[str]:
    attorney = api.token_for(firm, Role.ATTORNEY)
    entries = api.call("GET", f"/timeline?date={DAY}", token=attorney).body["entries"]
    return Counter(entry["status"] for entry in entries)


def test_released_entries_are_posted_once_and_a_second_run_posts_nothing(billing_api, firm, system) -> None:
    connect(billing_api, firm, system)
    released = release_entries(billing_api, firm)
    first = post(billing_api, firm, system)
    assert first["posted"] == ENTRIES and first["failed"] == 0
    assert all(result["external_id"] for result in first["results"])
    second = post(billing_api, firm, system)
    assert second["results"] == []
    assert references_posted(billing_api, system) == Counter({f"ML-{e}": 1 for e in released})
    assert entry_statuses(billing_api, firm) == Counter({"posted": ENTRIES})


def test_a_reply_lost_after_the_remote_create_is_found_not_posted_again(billing_api, firm, system) -> None:
    connect(billing_api, firm, system)
    released = release_entries(billing_api, firm)
    billing_api.simulator.drop_after_create(1)  # type: ignore[attr-defined]
    first = post(billing_api, firm, system)
    # The run's retry asks the system for the reference first, finds the entry and records it.
    outcomes = Counter(r["outcome"] for r in first["results"])
    assert outcomes == Counter({"posted": ENTRIES - 1, "already_posted": 1})
    assert post(billing_api, firm, system)["results"] == []
    assert references_posted(billing_api, system) == Counter({f"ML-{e}": 1 for e in released})


def test_a_crash_between_the_remote_create_and_our_record_is_finished_by_the_next_run(
    billing_api, firm, system, clock, monkeypatch
) -> None:
    from chalicelib.adapters.persistence.billing import TableBillingRepository

    connect(billing_api, firm, system)
    released = release_entries(billing_api, firm)
    original = TableBillingRepository.save_posting

    def die_after_the_third_remote_create(self: Any, record: Any) -> None:
        if record.state.value == "posted" and sum(references_posted(billing_api, system).values()) == 3:
            raise SystemExit("the worker died")
        original(self, record)

    monkeypatch.setattr(TableBillingRepository, "save_posting", die_after_the_third_remote_create)
    with pytest.raises(SystemExit):
        post(billing_api, firm, system)
    monkeypatch.setattr(TableBillingRepository, "save_posting", original)
    skipped = post(billing_api, firm, system)
    assert [r["outcome"] for r in skipped["results"]].count("skipped") == 1  # its claim is still fresh
    clock.advance(minutes=16)
    finished = post(billing_api, firm, system)
    assert [r["outcome"] for r in finished["results"]] == ["already_posted"]
    assert references_posted(billing_api, system) == Counter({f"ML-{e}": 1 for e in released})
    assert entry_statuses(billing_api, firm) == Counter({"posted": ENTRIES})


def test_an_access_token_expiring_mid_run_is_renewed_and_nothing_is_lost(billing_api, firm, system) -> None:
    connect(billing_api, firm, system)
    released = release_entries(billing_api, firm)
    sim = billing_api.simulator  # type: ignore[attr-defined]
    calls = {"n": 0}
    systems = billing_api.container.billing._systems  # the adapters' factory, to watch the posts go by
    make_target = systems.target

    def target(name: str, tokens: Any) -> Any:
        adapter = make_target(name, tokens)
        post_time = adapter.post_time

        def post_and_expire(posting: Any) -> str:
            calls["n"] += 1
            if calls["n"] == 3:
                sim.expire_access_tokens()
            return str(post_time(posting))

        adapter.post_time = post_and_expire
        return adapter

    systems.target = target
    report = post(billing_api, firm, system)
    assert report["posted"] == ENTRIES and calls["n"] == ENTRIES
    assert references_posted(billing_api, system) == Counter({f"ML-{e}": 1 for e in released})


def test_a_storm_of_429s_is_waited_out_and_every_entry_posted_once(billing_api, firm, system) -> None:
    connect(billing_api, firm, system)
    released = release_entries(billing_api, firm)
    billing_api.simulator.throttle_next(8, 0.05)  # type: ignore[attr-defined]
    report = post(billing_api, firm, system)
    assert report["posted"] == ENTRIES and report["failed"] == 0
    assert references_posted(billing_api, system) == Counter({f"ML-{e}": 1 for e in released})


def test_a_500_on_one_entry_is_retried_in_the_run_and_posted_once(billing_api, firm, system) -> None:
    connect(billing_api, firm, system)
    released = release_entries(billing_api, firm)
    billing_api.simulator.fail_next_creates(1, 500)  # type: ignore[attr-defined]
    report = post(billing_api, firm, system)
    assert report["posted"] == ENTRIES and report["failed"] == 0
    assert sorted(r["attempts"] for r in report["results"]) == [1] * (ENTRIES - 1) + [2]
    assert references_posted(billing_api, system) == Counter({f"ML-{e}": 1 for e in released})


def test_a_refused_entry_fails_alone_says_why_and_the_next_run_posts_it_once(
    billing_api, firm, system
) -> None:
    connect(billing_api, firm, system)
    released = release_entries(billing_api, firm)
    billing_api.simulator.fail_next_creates(1, 422 if system == "clio" else 400)  # type: ignore[attr-defined]
    first = post(billing_api, firm, system)
    assert first["posted"] == ENTRIES - 1 and first["failed"] == 1
    failed = next(r for r in first["results"] if r["outcome"] == "failed")
    assert failed["message"]
    admin = billing_api.token_for(firm, Role.FIRM_ADMIN)
    ledger = billing_api.call("GET", f"/connections/billing/{system}/postings", token=admin).body["items"]
    assert {row["entry_id"]: row["state"] for row in ledger}[failed["entry_id"]] == "failed"
    second = post(billing_api, firm, system)
    assert [r["outcome"] for r in second["results"]] == ["posted"]
    assert references_posted(billing_api, system) == Counter({f"ML-{e}": 1 for e in released})


def test_a_refused_refresh_token_stops_the_run_and_asks_for_a_reconnect(billing_api, firm, system) -> None:
    connect(billing_api, firm, system)
    release_entries(billing_api, firm)
    billing_api.simulator.revoke_refresh_tokens()  # type: ignore[attr-defined]
    billing_api.simulator.expire_access_tokens()  # type: ignore[attr-defined]
    report = post(billing_api, firm, system)
    assert report["stopped"] == 1 and report["posted"] == 0
    admin = billing_api.token_for(firm, Role.FIRM_ADMIN)
    status = billing_api.call("GET", f"/connections/billing/{system}", token=admin).body
    assert status["status"] == "reauthorize"
    again = billing_api.call("POST", f"/connections/billing/{system}/post", token=admin, body={})
    assert again.status == 409 and "connected again" in again.body["detail"]
    assert references_posted(billing_api, system) == Counter()


def test_the_schedule_syncs_a_connection_when_its_intervals_have_passed(
    billing_api, firm, system, clock
) -> None:
    connect(billing_api, firm, system)
    service = billing_api.container.billing
    assert service.sync_due([firm.firm.firm_id]) == {"synced": 0, "failed": 0}
    billing_api.simulator.set_matter_status(  # type: ignore[attr-defined]
        9101 if system == "clio" else 801, "Closed"
    )
    clock.advance(minutes=61)
    assert service.sync_due([firm.firm.firm_id]) == {"synced": 1, "failed": 0}
    admin = billing_api.token_for(firm, Role.FIRM_ADMIN)
    matter = billing_api.call("GET", "/matters?number=2026-0101&include_closed=true", token=admin).body[
        "items"
    ][0]
    assert matter["status"] == "closed"
    connection = billing_api.call("GET", f"/connections/billing/{system}", token=admin).body
    assert connection["last_sync_at"].startswith("2026-03-09T15:31")
