"""Each person authorizes their own Actionstep login and their time is posted with it: the real API, the
real adapter and the simulated Actionstep account over HTTP.

Who carried an entry is read from the simulator's own record of the token that created it
(``time_entry_tokens``): the firm connection was authorized by the account's admin (participant 11),
Alex (the attorney, participant 12) authorizes himself, Priya (a second attorney, participant 13) does not.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from chalicelib.bootstrap import SettingsBillingSystems
from chalicelib.domain.identity import Role
from chalicelib.domain.roster import User, UserStatus
from chalicelib.settings import Settings
from devstack import demo_billing
from devstack.billing.actionstep import ActionstepSimulator
from devstack.demo_book import ACTIONSTEP_PARTICIPANT_IDS
from tests.integration.test_billing_posting import DAY, _environment, connect
from tests.support.api import ApiHarness, SeededFirm, build_api, seed_firm

ADMIN, ALEX, PRIYA = (
    ACTIONSTEP_PARTICIPANT_IDS[k] for k in ("fiona.admin", "alex.attorney", "priya.partner")
)


@pytest.fixture
def simulator() -> Iterator[ActionstepSimulator]:
    sim = ActionstepSimulator(
        port=0,
        client_id=demo_billing.ACTIONSTEP_CLIENT_ID,
        client_secret=demo_billing.ACTIONSTEP_CLIENT_SECRET,
    )
    sim.start()
    sim.set_rate_limit(10_000, 60.0)
    yield sim
    sim.stop()


@pytest.fixture
def billing_api(memory_table, clock, token_mint, aws_endpoint, simulator) -> Iterator[ApiHarness]:  # type: ignore[no-untyped-def]
    from chalicelib.bootstrap import use_container

    pointing = {k.removeprefix("MATTERLINE_").lower(): v for k, v in _environment(simulator).items()}
    harness = build_api(
        memory_table,
        clock,
        token_mint,
        aws_endpoint,
        billing_systems=SettingsBillingSystems(Settings(**pointing)),
    )
    yield harness
    use_container(None)


@pytest.fixture
def firm(billing_api: ApiHarness) -> SeededFirm:
    seeded = seed_firm(billing_api.container, "Hale Mercer LLP", "tenant-hm", "halemercer.example")
    connect(billing_api, seeded, "actionstep")
    return seeded


@pytest.fixture
def priya(billing_api: ApiHarness, firm: SeededFirm) -> User:
    """A second attorney, linked to her Actionstep participant, who never authorizes herself."""
    container = billing_api.container
    user = User(
        firm_id=firm.firm.firm_id,
        user_id=f"{firm.firm.firm_id[:6]}-priya",
        email="priya.partner@halemercer.example",
        display_name="Priya Partner",
        roles=frozenset({Role.ATTORNEY}),
        status=UserStatus.ACTIVE,
        identity_oid="oid-tenant-hm-priya",
        created_at=container.clock.now(),
        external_ids={"actionstep": str(PRIYA)},
    )
    return container.roster.add_member(firm.firm.firm_id, user, "system")


def token_of(api: ApiHarness, firm: SeededFirm, user: User) -> str:
    assert user.identity_oid
    return api.mint.token(tenant=firm.tenant, oid=user.identity_oid, email=user.email)


def release(api: ApiHarness, token: str, count: int, tag: str) -> list[str]:
    """``count`` released entries of the token's person on DAY, on a matter linked to Actionstep."""
    captures = [
        {
            "id": f"{tag}-{n}",
            "type": "read",
            "at": f"{DAY}T{13 + n:02d}:{15 if tag == 'p' else 0:02d}:00Z",
            "duration_seconds": 600 + 60 * n,
            "internet_message_id": f"<{tag}{n}@acme-mfg.example>",
            "conversation_id": f"thread-{tag}-{n}",
            "subject": f"Point {tag}{n}",
            "sender": "dana.whitfield@acme-mfg.example",
        }
        for n in range(count)
    ]
    assert api.call("POST", "/capture/batch", token=token, body={"items": captures}).status == 200
    matter = api.call("GET", "/matters?number=2026-0101", token=token).body["items"][0]
    released = []
    for entry in api.call("GET", f"/timeline?date={DAY}", token=token).body["entries"]:
        if entry["status"] not in ("unassigned", "assigned"):
            continue
        changed = api.call(
            "PATCH",
            f"/entries/{entry['entry_id']}",
            token=token,
            body={"version": entry["version"], "matter_id": matter["matter_id"]},
        ).body
        done = api.call(
            "POST", f"/entries/{entry['entry_id']}/release", token=token, body={"version": changed["version"]}
        )
        assert done.status == 200, done.text
        released.append(entry["entry_id"])
    assert len(released) == count
    return released


def consent_as(authorize_url: str, participant: int) -> str:
    """Allow access on the simulated consent page signed in as ``participant``; returns our callback."""
    parts = urlsplit(authorize_url)
    fields = {name: values[0] for name, values in parse_qs(parts.query).items()}
    answer = requests.post(
        f"{parts.scheme}://{parts.netloc}{parts.path}",
        data={**fields, "user_id": str(participant), "decision": "allow"},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code in (302, 303), answer.text
    return answer.headers["Location"]


def callback(api: ApiHarness, location: str) -> Any:
    landed = urlsplit(location)
    return api.call("GET", f"{landed.path}?{landed.query}")


def authorize(api: ApiHarness, token: str, participant: int) -> None:
    started = api.call("POST", "/me/billing-authorizations/actionstep/authorize", token=token)
    assert started.status == 200, started.text
    landed = callback(api, consent_as(started.body["authorize_url"], participant))
    assert landed.status == 302, landed.text
    assert landed.headers["Location"].endswith("#preferences?actionstep=connected")


def mine(api: ApiHarness, token: str) -> dict[str, Any]:
    listed = api.call("GET", "/me/billing-authorizations", token=token)
    assert listed.status == 200, listed.text
    return {item["system"]: item for item in listed.body}


def set_mode(api: ApiHarness, firm: SeededFirm, mode: str) -> Any:
    admin = api.token_for(firm, Role.FIRM_ADMIN)
    version = api.call("GET", "/connections/billing/actionstep", token=admin).body["version"]
    return api.call(
        "PUT",
        "/connections/billing/actionstep/properties",
        token=admin,
        body={"version": version, "properties": {"USER_AUTHORIZATION": mode}},
    )


def post(api: ApiHarness, firm: SeededFirm) -> dict[str, Any]:
    admin = api.token_for(firm, Role.FIRM_ADMIN)
    reply = api.call("POST", "/connections/billing/actionstep/post", token=admin, body={})
    assert reply.status == 200, reply.text
    return {r["entry_id"]: r for r in reply.body["results"]}


def carriers(simulator: ActionstepSimulator) -> dict[str, int]:
    """Our reference of each created time entry -> the participant whose token created it."""
    tokens = simulator.time_entry_tokens()
    return {entry["importExternalReference"]: tokens[entry["id"]] for entry in simulator.time_entries()}


# ------------------------------------------------------------------ the flow


def test_a_person_authorizes_and_their_entries_go_with_their_own_token_the_rest_with_the_firms(
    billing_api: ApiHarness, firm: SeededFirm, priya: User, simulator: ActionstepSimulator
) -> None:
    alex = billing_api.token_for(firm, Role.ATTORNEY)
    assert mine(billing_api, alex)["actionstep"]["status"] == "disconnected"
    authorize(billing_api, alex, ALEX)
    listed = mine(billing_api, alex)["actionstep"]
    assert listed["status"] == "connected" and listed["participant_id"] == str(ALEX)
    assert listed["connected_as"] == "Alex Attorney" and listed["required"] is False
    # Priya's own view is untouched by Alex's authorization.
    assert mine(billing_api, token_of(billing_api, firm, priya))["actionstep"]["status"] == "disconnected"

    alex_entries = release(billing_api, alex, 3, "a")
    priya_entries = release(billing_api, token_of(billing_api, firm, priya), 2, "p")
    results = post(billing_api, firm)
    assert {results[e]["outcome"] for e in alex_entries + priya_entries} == {"posted"}

    by = carriers(simulator)
    assert {by[f"ML-{e}"] for e in alex_entries} == {ALEX}
    assert {by[f"ML-{e}"] for e in priya_entries} == {ADMIN}
    owners = {e["importExternalReference"]: e["links"]["owner"] for e in simulator.time_entries()}
    assert {owners[f"ML-{e}"] for e in priya_entries} == {str(PRIYA)}


def test_required_refuses_the_unauthorized_persons_entries_with_what_to_do_and_posts_the_rest(
    billing_api: ApiHarness, firm: SeededFirm, priya: User, simulator: ActionstepSimulator
) -> None:
    alex = billing_api.token_for(firm, Role.ATTORNEY)
    authorize(billing_api, alex, ALEX)
    assert set_mode(billing_api, firm, "required").body["properties"]["USER_AUTHORIZATION"] == "REQUIRED"
    assert mine(billing_api, alex)["actionstep"]["required"] is True
    alex_entries = release(billing_api, alex, 2, "a")
    priya_entries = release(billing_api, token_of(billing_api, firm, priya), 2, "p")

    results = post(billing_api, firm)
    assert {results[e]["outcome"] for e in alex_entries} == {"posted"}
    for entry_id in priya_entries:
        assert results[entry_id]["outcome"] == "failed"
        assert results[entry_id]["message"] == (
            "priya.partner@halemercer.example has not connected their Actionstep account: "
            "they sign in to the console and choose Connect to Actionstep"
        )
    assert set(carriers(simulator)) == {f"ML-{e}" for e in alex_entries}

    # Once Priya connects, the next run posts her entries, with her own token.
    priya_token = token_of(billing_api, firm, priya)
    authorize(billing_api, priya_token, PRIYA)
    again = post(billing_api, firm)
    assert {again[e]["outcome"] for e in priya_entries} == {"posted"}
    assert {carriers(simulator)[f"ML-{e}"] for e in priya_entries} == {PRIYA}


def test_a_bad_user_authorization_property_is_a_422_naming_it_and_changes_nothing(
    billing_api: ApiHarness, firm: SeededFirm
) -> None:
    admin = billing_api.token_for(firm, Role.FIRM_ADMIN)
    before = billing_api.call("GET", "/connections/billing/actionstep", token=admin).body
    bad = set_mode(billing_api, firm, "sometimes")
    assert bad.status == 422, bad.text
    assert "USER_AUTHORIZATION" in bad.text and "OPTIONAL or REQUIRED" in bad.text
    clio = billing_api.call(
        "PUT",
        "/connections/billing/clio/properties",
        token=admin,
        body={"version": 0, "properties": {"USER_AUTHORIZATION": "REQUIRED"}},
    )
    assert clio.status == 422 and "USER_AUTHORIZATION" in clio.text
    assert billing_api.call("GET", "/connections/billing/actionstep", token=admin).body == before
    assert (
        "USER_AUTHORIZATION"
        not in billing_api.call("GET", "/connections/billing/clio", token=admin).body["properties"]
    )


def test_a_crash_after_the_remote_create_with_a_persons_token_is_not_posted_twice(
    billing_api: ApiHarness, firm: SeededFirm, simulator: ActionstepSimulator
) -> None:
    alex = billing_api.token_for(firm, Role.ATTORNEY)
    authorize(billing_api, alex, ALEX)
    entries = release(billing_api, alex, 2, "a")
    # Both creates are stored, and both answers lost: the run's own retry and the next run must find them.
    simulator.drop_after_create(2)
    first = post(billing_api, firm)
    assert {first[e]["outcome"] for e in entries} <= {"failed", "already_posted"}
    second = post(billing_api, firm)
    assert all(
        second[e]["outcome"] in ("already_posted",) for e in entries if first[e]["outcome"] == "failed"
    )
    references = [e["importExternalReference"] for e in simulator.time_entries()]
    assert sorted(references) == sorted(f"ML-{e}" for e in entries)
    assert set(carriers(simulator).values()) == {ALEX}


def test_a_refused_refresh_marks_only_that_persons_authorization(
    billing_api: ApiHarness, firm: SeededFirm, priya: User, simulator: ActionstepSimulator
) -> None:
    alex = billing_api.token_for(firm, Role.ATTORNEY)
    priya_token = token_of(billing_api, firm, priya)
    authorize(billing_api, alex, ALEX)
    authorize(billing_api, priya_token, PRIYA)
    alex_entries = release(billing_api, alex, 2, "a")
    priya_entries = release(billing_api, priya_token, 2, "p")
    simulator.expire_access_tokens()
    simulator.revoke_refresh_tokens(ALEX)

    results = post(billing_api, firm)
    assert {results[e]["outcome"] for e in priya_entries} == {"posted"}
    # Alex's first entry meets the refusal; the rest of his go through the firm connection (OPTIONAL).
    outcomes = sorted(results[e]["outcome"] for e in alex_entries)
    assert outcomes == ["failed", "posted"]
    refused = next(results[e] for e in alex_entries if results[e]["outcome"] == "failed")
    assert "sign-in was refused" in refused["message"]
    assert mine(billing_api, alex)["actionstep"]["status"] == "reauthorize"
    assert mine(billing_api, priya_token)["actionstep"]["status"] == "connected"
    admin = billing_api.token_for(firm, Role.FIRM_ADMIN)
    assert (
        billing_api.call("GET", "/connections/billing/actionstep", token=admin).body["status"] == "connected"
    )
    by = carriers(simulator)
    assert {by[f"ML-{e}"] for e in priya_entries} == {PRIYA}

    # Reconnecting puts Alex's own token back in use; the failed entry goes with it.
    authorize(billing_api, alex, ALEX)
    again = post(billing_api, firm)
    assert again[refused["entry_id"]]["outcome"] == "posted"
    assert carriers(simulator)[f"ML-{refused['entry_id']}"] == ALEX


def test_disconnecting_sends_the_persons_time_through_the_firm_connection_again(
    billing_api: ApiHarness, firm: SeededFirm, simulator: ActionstepSimulator
) -> None:
    alex = billing_api.token_for(firm, Role.ATTORNEY)
    authorize(billing_api, alex, ALEX)
    assert billing_api.call("DELETE", "/me/billing-authorizations/actionstep", token=alex).status == 204
    assert billing_api.call("DELETE", "/me/billing-authorizations/actionstep", token=alex).status == 204
    assert mine(billing_api, alex)["actionstep"]["status"] == "disconnected"
    entries = release(billing_api, alex, 1, "a")
    assert post(billing_api, firm)[entries[0]]["outcome"] == "posted"
    assert carriers(simulator)[f"ML-{entries[0]}"] == ADMIN


# ------------------------------------------------------------------ refusals that change nothing


def _state_of(billing_api: ApiHarness, firm: SeededFirm) -> list[dict[str, Any]]:
    """Everything stored of the firm but pending consent states (a callback uses its state up)."""
    table: Any = billing_api.container.table
    return sorted(
        (
            i
            for i in table.all_items()
            if i.get("firm_id") == firm.firm.firm_id and i.get("type") != "user_oauth_state"
        ),
        key=lambda i: (i["PK"], i["SK"]),
    )


# What a browser sends when a person's click or a redirect navigates it (Fetch Metadata).
BROWSER = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document", "Accept": "text/html"}


def back_to_preferences(reply: Any, outcome: str) -> str:
    """A refusal sent back to the person's Preferences (303) with ``outcome``; returns its message."""
    assert reply.status == 303, reply.text
    fragment = urlsplit(reply.headers["Location"]).fragment
    page, _, query = fragment.partition("?")
    assert page == "preferences", fragment
    params = parse_qs(query)
    assert params["actionstep"] == [outcome], params
    message: str = params["message"][0]
    return message


def test_bad_expired_and_replayed_states_go_back_to_preferences_saying_what_to_do_and_change_nothing(
    billing_api: ApiHarness, firm: SeededFirm, clock: Any
) -> None:
    alex = billing_api.token_for(firm, Role.ATTORNEY)
    started = billing_api.call("POST", "/me/billing-authorizations/actionstep/authorize", token=alex).body
    location = consent_as(started["authorize_url"], ALEX)
    before = _state_of(billing_api, firm)
    # A state nobody made: a script gets the 403, a person's browser goes to Preferences.
    forged = location.replace("state=", "state=forged")
    refused = callback(billing_api, forged)
    assert refused.status == 403 and "already used or is unknown" in refused.text
    landed = billing_api.call("GET", _path(forged), headers=BROWSER)
    assert "already used" in back_to_preferences(landed, "used")
    # Made to look like a person's: it is placed by its form, whoever asks.
    personal = location.replace("state=u.", "state=u.forged")
    assert "choose Connect to Actionstep again" in back_to_preferences(
        callback(billing_api, personal), "used"
    )
    assert _state_of(billing_api, firm) == before
    # Used once: fine; replayed: back to Preferences, nothing changes.
    assert callback(billing_api, location).status == 302
    connected = _state_of(billing_api, firm)
    assert back_to_preferences(callback(billing_api, location), "used") == (
        "That sign-in link was already used or is not one Matterline made; "
        "choose Connect to Actionstep again."
    )
    assert _state_of(billing_api, firm) == connected
    # Expired: ten minutes pass between the start and the callback.
    started = billing_api.call("POST", "/me/billing-authorizations/actionstep/authorize", token=alex).body
    late = consent_as(started["authorize_url"], ALEX)
    clock.advance(minutes=11)
    assert back_to_preferences(callback(billing_api, late), "expired") == (
        "That sign-in link expired (links last 10 minutes); choose Connect to Actionstep again."
    )
    assert _state_of(billing_api, firm) == connected
    # A state sent to the other system's callback: said of the system the person was connecting.
    clock.advance(minutes=-11)
    started = billing_api.call("POST", "/me/billing-authorizations/actionstep/authorize", token=alex).body
    other = consent_as(started["authorize_url"], ALEX).replace("/actionstep/", "/clio/")
    assert "made for Actionstep" in back_to_preferences(callback(billing_api, other), "other_system")
    # No code at all: the person's state is left to expire, not used up.
    started = billing_api.call("POST", "/me/billing-authorizations/actionstep/authorize", token=alex).body
    state = parse_qs(urlsplit(started["authorize_url"]).query)["state"][0]
    bare = billing_api.call("GET", f"/connections/billing/actionstep/callback?state={state}")
    assert "without a sign-in code" in back_to_preferences(bare, "no_code")
    assert _state_of(billing_api, firm) == connected


def _path(location: str) -> str:
    landed = urlsplit(location)
    return f"{landed.path}?{landed.query}"


def test_signing_in_as_someone_else_goes_back_to_preferences_naming_that_login_and_changes_nothing(
    billing_api: ApiHarness, firm: SeededFirm
) -> None:
    alex = billing_api.token_for(firm, Role.ATTORNEY)
    started = billing_api.call("POST", "/me/billing-authorizations/actionstep/authorize", token=alex).body
    before = _state_of(billing_api, firm)
    refused = callback(billing_api, consent_as(started["authorize_url"], ADMIN))
    message = back_to_preferences(refused, "wrong_login")
    assert message == (
        "You signed in to Actionstep as Fiona Admin, not as yourself: "
        "choose Connect to Actionstep again and sign in with your own Actionstep login."
    )
    # Only the login this browser used is named: nobody's email, id or token.
    location = refused.headers["Location"]
    assert "@" not in location and firm.firm.firm_id not in location and str(ADMIN) not in location
    assert _state_of(billing_api, firm) == before
    assert mine(billing_api, alex)["actionstep"]["status"] == "disconnected"


def test_a_code_the_system_refuses_goes_back_to_preferences_and_changes_nothing(
    billing_api: ApiHarness, firm: SeededFirm
) -> None:
    alex = billing_api.token_for(firm, Role.ATTORNEY)
    started = billing_api.call("POST", "/me/billing-authorizations/actionstep/authorize", token=alex).body
    before = _state_of(billing_api, firm)
    bad = consent_as(started["authorize_url"], ALEX).replace("code=", "code=not-issued-")
    message = back_to_preferences(callback(billing_api, bad), "code_refused")
    assert message == "Actionstep did not accept the sign-in; choose Connect to Actionstep again."
    assert _state_of(billing_api, firm) == before


def test_a_system_that_fails_to_say_whose_login_it_is_goes_back_to_preferences_and_changes_nothing(
    billing_api: ApiHarness, firm: SeededFirm, simulator: ActionstepSimulator
) -> None:
    alex = billing_api.token_for(firm, Role.ATTORNEY)
    started = billing_api.call("POST", "/me/billing-authorizations/actionstep/authorize", token=alex).body
    location = consent_as(started["authorize_url"], ALEX)
    before = _state_of(billing_api, firm)
    simulator.throttle_next(50, retry_after=0.01)  # users/current keeps answering 429
    message = back_to_preferences(callback(billing_api, location), "failed")
    assert message == (
        "Actionstep did not complete the sign-in; wait a minute and choose Connect to Actionstep again."
    )
    assert _state_of(billing_api, firm) == before


def test_the_firm_flows_refusals_stay_403s_for_a_script(billing_api: ApiHarness, firm: SeededFirm) -> None:
    admin = billing_api.token_for(firm, Role.FIRM_ADMIN)
    started = billing_api.call("POST", "/connections/billing/actionstep/authorize", token=admin).body
    location = consent_as(started["authorize_url"], ADMIN)
    assert callback(billing_api, location).headers["Location"].endswith("#connections?actionstep=connected")
    before = _state_of(billing_api, firm)
    replayed = callback(billing_api, location)
    assert replayed.status == 403 and "already used" in replayed.text
    assert callback(billing_api, location.replace("/actionstep/", "/clio/")).status == 403
    assert _state_of(billing_api, firm) == before


def test_a_declined_consent_returns_to_the_preferences_saying_so(
    billing_api: ApiHarness, firm: SeededFirm
) -> None:
    alex = billing_api.token_for(firm, Role.ATTORNEY)
    started = billing_api.call("POST", "/me/billing-authorizations/actionstep/authorize", token=alex).body
    state = parse_qs(urlsplit(started["authorize_url"]).query)["state"][0]
    landed = billing_api.call(
        "GET", f"/connections/billing/actionstep/callback?error=access_denied&state={state}"
    )
    assert landed.status == 302 and "#preferences?actionstep=declined" in landed.headers["Location"]
    assert mine(billing_api, alex)["actionstep"]["status"] == "disconnected"


def test_who_may_use_the_flow(billing_api: ApiHarness, firm: SeededFirm, clock: Any) -> None:
    admin = billing_api.token_for(firm, Role.FIRM_ADMIN)
    # Clio is connected once for the firm: nobody authorizes it personally.
    clio = billing_api.call("POST", "/me/billing-authorizations/clio/authorize", token=admin)
    assert clio.status == 404 and "whole firm" in clio.text
    # An API token has no login of its own.
    token = billing_api.call(
        "POST", "/api-tokens", token=admin, body={"name": "b", "scopes": ["billing:export"]}
    ).body["secret"]
    assert billing_api.call("GET", "/me/billing-authorizations", token=token).status == 403
    assert (
        billing_api.call("POST", "/me/billing-authorizations/actionstep/authorize", token=token).status == 403
    )
    # Another firm's person: their firm has no Actionstep connection, and this firm's state is not theirs.
    other = seed_firm(billing_api.container, "Hopper Grace PC", "tenant-b", "hopper.law")
    outsider = billing_api.token_for(other, Role.ATTORNEY)
    assert billing_api.call("GET", "/me/billing-authorizations", token=outsider).body == []
    refused = billing_api.call("POST", "/me/billing-authorizations/actionstep/authorize", token=outsider)
    assert refused.status == 409 and "not connected" in refused.text
    # A disconnected firm connection: the flow is closed until an admin connects again.
    version = billing_api.call("GET", "/connections/billing/actionstep", token=admin).body["version"]
    billing_api.call(
        "POST", "/connections/billing/actionstep/disconnect", token=admin, body={"version": version}
    )
    alex = billing_api.token_for(firm, Role.ATTORNEY)
    assert billing_api.call("GET", "/me/billing-authorizations", token=alex).body == []
    assert (
        billing_api.call("POST", "/me/billing-authorizations/actionstep/authorize", token=alex).status == 409
    )


def test_the_routes_are_described(billing_api: ApiHarness) -> None:
    spec = billing_api.call("GET", "/openapi.json").body
    paths = spec["paths"]
    assert set(paths["/me/billing-authorizations"]) >= {"get"}
    assert "post" in paths["/me/billing-authorizations/{system}/authorize"]
    assert "delete" in paths["/me/billing-authorizations/{system}"]
    described = paths["/connections/billing/{system}/user-authorizations"]["get"]
    assert {"200", "403", "404"} <= set(described["responses"])
    assert described["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "AuthorizationOverviewOut"
    )


def test_a_state_is_single_use_even_across_flows(billing_api: ApiHarness, firm: SeededFirm) -> None:
    """The firm flow's states and a person's never stand in for each other."""
    alex = billing_api.token_for(firm, Role.ATTORNEY)
    admin = billing_api.token_for(firm, Role.FIRM_ADMIN)
    personal = billing_api.call("POST", "/me/billing-authorizations/actionstep/authorize", token=alex).body
    firm_wide = billing_api.call("POST", "/connections/billing/actionstep/authorize", token=admin).body
    assert (
        parse_qs(urlsplit(personal["authorize_url"]).query)["state"]
        != parse_qs(urlsplit(firm_wide["authorize_url"]).query)["state"]
    )
    assert (
        callback(billing_api, consent_as(personal["authorize_url"], ALEX))
        .headers["Location"]
        .endswith("#preferences?actionstep=connected")
    )
    assert (
        callback(billing_api, consent_as(firm_wide["authorize_url"], ADMIN))
        .headers["Location"]
        .endswith("#connections?actionstep=connected")
    )


# ------------------------------------------------------------------ the admin's overview


def overview(api: ApiHarness, token: str, system: str = "actionstep") -> Any:
    return api.call("GET", f"/connections/billing/{system}/user-authorizations", token=token)


def test_an_admin_sees_who_of_the_people_recording_time_has_connected(
    billing_api: ApiHarness,
    firm: SeededFirm,
    priya: User,
    simulator: ActionstepSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from chalicelib.adapters.persistence.billing_users import TableBillingUserAuthorizations

    admin = billing_api.token_for(firm, Role.FIRM_ADMIN)
    alex = billing_api.token_for(firm, Role.ATTORNEY)
    priya_token = token_of(billing_api, firm, priya)
    authorize(billing_api, alex, ALEX)
    authorize(billing_api, priya_token, PRIYA)
    # Priya's refresh token is refused on her next posting: she needs to connect again.
    release(billing_api, priya_token, 1, "p")
    simulator.expire_access_tokens()
    simulator.revoke_refresh_tokens(PRIYA)
    post(billing_api, firm)

    def one_by_one(*args: Any) -> None:
        raise AssertionError("the overview reads the firm's authorizations in one Query, not per person")

    monkeypatch.setattr(TableBillingUserAuthorizations, "authorization", one_by_one)
    stats: Any = billing_api.container.table.stats
    before = dict(stats.by_partition)
    seen = overview(billing_api, admin)
    assert seen.status == 200, seen.text
    partition = f"FIRM#{firm.firm.firm_id}#BILLINGUSERS"
    assert stats.by_partition.get(partition, 0) - before.get(partition, 0) == 1
    body = seen.body
    assert (body["system"], body["firm_status"], body["user_authorization"]) == (
        "actionstep",
        "connected",
        "OPTIONAL",
    )
    # Who records time: the attorneys and the admin; not the assistant, billing manager or contractors.
    people = {p["email"]: p for p in body["people"]}
    assert set(people) == {
        "attorney@halemercer.example",
        "firm.admin@halemercer.example",
        "priya.partner@halemercer.example",
    }
    assert (body["connected_count"], body["people_count"]) == (1, 3)
    attorney = people["attorney@halemercer.example"]
    assert attorney["status"] == "connected" and attorney["connected_as"] == "Alex Attorney"
    assert attorney["authorized_at"] and attorney["display_name"] == firm.people[Role.ATTORNEY].display_name
    assert people["priya.partner@halemercer.example"]["status"] == "reauthorize"
    nobody = people["firm.admin@halemercer.example"]
    assert nobody["status"] == "disconnected" and nobody["connected_as"] is None
    # Never a token, sealed or not.
    assert "sealed" not in seen.text and "token" not in seen.text.replace("refresh token", "")
    stored = [i for i in billing_api.container.table.all_items() if i.get("PK") == partition]  # type: ignore[attr-defined]
    assert stored and all(i["sealed_tokens"] not in seen.text for i in stored if i.get("sealed_tokens"))

    # The switch it helps decide shows in the answer.
    monkeypatch.undo()
    assert set_mode(billing_api, firm, "REQUIRED").status == 200
    assert overview(billing_api, admin).body["user_authorization"] == "REQUIRED"


def test_who_may_see_the_overview_and_for_which_systems(billing_api: ApiHarness, firm: SeededFirm) -> None:
    admin = billing_api.token_for(firm, Role.FIRM_ADMIN)
    assert overview(billing_api, billing_api.token_for(firm, Role.BILLING_MANAGER)).status == 200
    for role in (Role.ATTORNEY, Role.ASSISTANT, Role.CONTRACTOR):
        assert overview(billing_api, billing_api.token_for(firm, role)).status == 403
    # Names and emails are roster data: a billing token needs roster:read as well.
    for scopes, status in ((["billing:export"], 403), (["billing:export", "roster:read"], 200)):
        secret = billing_api.call(
            "POST", "/api-tokens", token=admin, body={"name": "-".join(scopes), "scopes": scopes}
        ).body["secret"]
        assert overview(billing_api, secret).status == status
    clio = overview(billing_api, admin, "clio")
    assert clio.status == 404 and "whole firm" in clio.text
    unknown = overview(billing_api, admin, "xero")
    assert unknown.status == 404 and "actionstep" in unknown.text


def test_another_firms_admin_sees_only_their_own_people(billing_api: ApiHarness, firm: SeededFirm) -> None:
    authorize(billing_api, billing_api.token_for(firm, Role.ATTORNEY), ALEX)
    other = seed_firm(billing_api.container, "Hopper Grace PC", "tenant-b", "hopper.law")
    seen = overview(billing_api, billing_api.token_for(other, Role.FIRM_ADMIN))
    assert seen.status == 200, seen.text
    assert seen.body["firm_status"] == "disconnected" and seen.body["connected_count"] == 0
    assert {p["email"] for p in seen.body["people"]} == {"attorney@hopper.law", "firm.admin@hopper.law"}
    assert "halemercer" not in seen.text and "Alex Attorney" not in seen.text
