"""The API's ground rules: health, identity, errors as problems, roster and API tokens."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.domain.identity import Role
from chalicelib.domain.roster import User, UserStatus


def test_health_answers_without_a_token(api) -> None:
    reply = api.call("GET", "/health")
    assert reply.status == 200 and reply.body == {"status": "ok"}


def test_me_without_a_token_is_401(api, firm_a) -> None:
    assert api.call("GET", "/me").status == 401


def test_me_returns_the_signed_in_user_their_firm_and_permissions(api, firm_a) -> None:
    reply = api.call("GET", "/me", token=api.token_for(firm_a, Role.ATTORNEY))
    assert reply.status == 200
    assert reply.body["user"]["email"] == "attorney@lovelace.law"
    assert reply.body["firm"]["name"] == "Lovelace & Babbage LLP"
    assert "time:write-own" in reply.body["permissions"]
    assert "roster:write" not in reply.body["permissions"]


def test_tokens_that_are_expired_forged_for_another_api_or_from_an_unknown_tenant_get_401(
    api, firm_a
) -> None:
    oid = firm_a.people[Role.ATTORNEY].identity_oid
    bad_tokens = {
        "expired": api.mint.token(tenant="tenant-a", oid=oid, lifetime=-3600),
        "other audience": api.mint.token(tenant="tenant-a", oid=oid, audience="api://someone-else"),
        "issuer of another tenant": api.mint.token(tenant="tenant-a", oid=oid, issuer_tenant="tenant-b"),
        "unknown tenant": api.mint.token(tenant="tenant-zzz", oid=oid),
        "unknown person": api.mint.token(tenant="tenant-a", oid="nobody"),
        "no api scope": api.mint.token(tenant="tenant-a", oid=oid, scopes="User.Read"),
        "not a jwt": "hello",
    }
    from cryptography.hazmat.primitives.asymmetric import rsa

    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bad_tokens["signed with another key"] = api.mint.token(tenant="tenant-a", oid=oid, key=other_key)
    for reason, token in bad_tokens.items():
        assert api.call("GET", "/me", token=token).status == 401, reason
    assert api.call("GET", "/me", headers={"Authorization": "Basic abc"}).status == 401


def test_an_invited_user_is_bound_to_their_identity_and_activated_at_first_sign_in(api, firm_a) -> None:
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    invited = api.call(
        "POST",
        "/users",
        token=admin,
        body={"email": "Grace@Lovelace.law", "display_name": "Grace", "roles": ["attorney"]},
    )
    assert invited.status == 201 and invited.body["status"] == "invited"
    token = api.mint.token(tenant="tenant-a", oid="new-oid", email="grace@lovelace.law")
    me = api.call("GET", "/me", token=token)
    assert me.status == 200 and me.body["user"]["status"] == "active"
    history = api.call("GET", f"/audit/user/{invited.body['user_id']}", token=admin)
    assert [record["action"] for record in history.body] == ["create", "first_sign_in"]


def test_a_disabled_user_cannot_sign_in(api, firm_a) -> None:
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    attorney: User = firm_a.people[Role.ATTORNEY]
    changed = api.call(
        "PATCH",
        f"/users/{attorney.user_id}",
        token=admin,
        body={"version": attorney.version, "status": "disabled"},
    )
    assert changed.status == 200 and changed.body["status"] == UserStatus.DISABLED
    assert api.call("GET", "/me", token=api.token_for(firm_a, Role.ATTORNEY)).status == 401


def test_malformed_json_is_a_400_problem_and_changes_nothing(api, firm_a, memory_table) -> None:
    before = memory_table.all_items()
    reply = api.call("POST", "/users", token=api.token_for(firm_a, Role.FIRM_ADMIN), raw_body=b"{not json")
    assert reply.status == 400
    assert reply.body["code"] == "malformed_json"
    assert reply.headers["Content-Type"] == "application/problem+json"
    assert memory_table.all_items() == before


def test_a_body_with_wrong_fields_is_a_422_naming_each_field(api, firm_a, memory_table) -> None:
    before = memory_table.all_items()
    reply = api.call(
        "POST",
        "/users",
        token=api.token_for(firm_a, Role.FIRM_ADMIN),
        body={"email": "nope", "roles": ["emperor"], "surprise": 1},
    )
    assert reply.status == 422
    fields = {error["field"] for error in reply.body["errors"]}
    assert {"body.email", "body.display_name", "body.roles.0", "body.surprise"} <= fields
    assert memory_table.all_items() == before


def test_a_bad_time_zone_passes_the_schema_but_is_refused_by_the_domain_with_the_field_named(
    api, firm_a
) -> None:
    reply = api.call(
        "POST",
        "/users",
        token=api.token_for(firm_a, Role.FIRM_ADMIN),
        body={
            "email": "x@lovelace.law",
            "display_name": "X",
            "roles": ["attorney"],
            "time_zone": "Mars/Base",
        },
    )
    assert reply.status == 422 and reply.body["errors"][0]["field"] == "time_zone"


def test_inviting_the_same_email_twice_is_a_409(api, firm_a) -> None:
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    body = {"email": "dup@lovelace.law", "display_name": "Dup", "roles": ["attorney"]}
    assert api.call("POST", "/users", token=admin, body=body).status == 201
    again = api.call("POST", "/users", token=admin, body=body)
    assert again.status == 409 and again.body["code"] == "duplicate"


def test_an_update_from_a_stale_read_is_a_409_and_the_newer_change_stands(api, firm_a) -> None:
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    user = firm_a.people[Role.ATTORNEY]
    path = f"/users/{user.user_id}"
    assert (
        api.call("PATCH", path, token=admin, body={"version": user.version, "display_name": "A"}).status
        == 200
    )
    stale = api.call("PATCH", path, token=admin, body={"version": user.version, "display_name": "B"})
    assert stale.status == 409 and stale.body["code"] == "stale_version"
    assert api.call("GET", path, token=admin).body["display_name"] == "A"


def test_an_attorney_may_not_invite_people(api, firm_a) -> None:
    reply = api.call(
        "POST",
        "/users",
        token=api.token_for(firm_a, Role.ATTORNEY),
        body={"email": "x@lovelace.law", "display_name": "X", "roles": ["attorney"]},
    )
    assert reply.status == 403 and "roster:write" in reply.body["detail"]


def test_an_admin_cannot_remove_their_own_admin_role(api, firm_a) -> None:
    admin = firm_a.people[Role.FIRM_ADMIN]
    reply = api.call(
        "PATCH",
        f"/users/{admin.user_id}",
        token=api.token_for(firm_a, Role.FIRM_ADMIN),
        body={"version": admin.version, "roles": ["attorney"]},
    )
    assert reply.status == 403


def test_an_api_token_works_with_its_scopes_only_and_stops_when_revoked(api, firm_a, clock) -> None:
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    issued = api.call(
        "POST", "/api-tokens", token=admin, body={"name": "Clio sync", "scopes": ["roster:read"]}
    )
    assert issued.status == 201
    secret = issued.body["secret"]
    assert secret.startswith("mlt_")
    assert api.call("GET", "/users", token=secret).status == 200
    invite = {"email": "x@lovelace.law", "display_name": "X", "roles": ["attorney"]}
    assert api.call("POST", "/users", token=secret, body=invite).status == 403
    listed = api.call("GET", "/api-tokens", token=admin).body
    assert listed[0]["last_used_at"] is not None and "secret" not in listed[0]
    token_id = issued.body["token"]["token_id"]
    assert api.call("DELETE", f"/api-tokens/{token_id}", token=admin).body["status"] == "revoked"
    assert api.call("GET", "/users", token=secret).status == 401
    assert api.call("DELETE", f"/api-tokens/{token_id}", token=admin).status == 409


def test_an_api_token_cannot_mint_firm_admins(api, firm_a) -> None:
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    secret = api.call(
        "POST", "/api-tokens", token=admin, body={"name": "HR feed", "scopes": ["roster:write"]}
    ).body["secret"]
    reply = api.call(
        "POST",
        "/users",
        token=secret,
        body={"email": "boss@lovelace.law", "display_name": "B", "roles": ["firm_admin"]},
    )
    assert reply.status == 403


def test_an_api_token_past_its_expiry_is_refused_and_housekeeping_marks_it_expired(
    api, firm_a, clock
) -> None:
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    expires = (clock.now() + timedelta(hours=1)).isoformat()
    issued = api.call(
        "POST",
        "/api-tokens",
        token=admin,
        body={"name": "Temp", "scopes": ["roster:read"], "expires_at": expires},
    ).body
    clock.advance(hours=2)
    assert api.call("GET", "/users", token=issued["secret"]).status == 401
    assert api.container.housekeeping.expire_api_tokens(firm_a.firm.firm_id) == 1
    assert api.container.housekeeping.expire_api_tokens(firm_a.firm.firm_id) == 0
    assert api.call("GET", "/api-tokens", token=admin).body[0]["status"] == "expired"


def test_a_token_cannot_be_given_scopes_outside_the_api_token_set(api, firm_a) -> None:
    reply = api.call(
        "POST",
        "/api-tokens",
        token=api.token_for(firm_a, Role.FIRM_ADMIN),
        body={"name": "Sneaky", "scopes": ["time:read-own"]},
    )
    assert reply.status == 422 and reply.body["errors"][0]["field"] == "scopes"


def test_the_roster_pages_and_a_damaged_cursor_is_a_422(api, firm_a) -> None:
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    first = api.call("GET", "/users?limit=2", token=admin).body
    assert len(first["items"]) == 2 and first["next_cursor"]
    assert api.call("GET", "/users?cursor=%%%garbage", token=admin).status == 422
    assert api.call("GET", "/users?limit=0", token=admin).status == 422


def test_the_openapi_spec_lists_every_route_with_its_models(api) -> None:
    from app import app

    spec = api.call("GET", "/openapi.json").body
    assert spec["openapi"].startswith("3.1")
    documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    routed = {(path, method) for path, methods in app.routes.items() for method in methods}
    assert documented == routed
    invite = spec["paths"]["/users"]["post"]
    assert invite["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/InviteUser")
    assert "422" in invite["responses"] and "401" in invite["responses"]


def test_the_daily_schedule_starts_one_housekeeping_run_per_day_however_often_it_fires(api) -> None:
    from datetime import UTC, datetime

    from app import housekeeping
    from devstack.schedules import scheduled_event

    scheduled = scheduled_event("housekeeping", datetime(2026, 3, 9, 3, 15, tzinfo=UTC))
    first = housekeeping(scheduled, None)
    second = housekeeping(scheduled, None)
    assert first == second
    assert list(api.workflows.started) == ["housekeeping-2026-03-09"]
