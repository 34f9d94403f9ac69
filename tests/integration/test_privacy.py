"""A user's timeline is private: personal and deleted items never reach anyone else, by any route.

Every GET route of the app is called by the firm's admin (and by a billing API token) with the
attorney's ids in the path; none may show, count or export the personal or deleted items.
"""

from __future__ import annotations

import re

import pytest

from app import app
from chalicelib.api.routing import ROUTES
from chalicelib.domain.identity import Role

SECRET_SUBJECT = "PRIVATE divorce consultation"
DELETED_SUBJECT = "DELETED merger rumour"
DAY = "2026-03-09"


def readable_routes() -> list[str]:
    return sorted(path for path, methods in app.routes.items() if "GET" in methods)


def query_for(path: str) -> str:
    spec = next(route for route in ROUTES if route.path == path and route.method == "GET")
    if spec.query is None:
        return ""
    fields = spec.query.model_fields
    params = [f"{name}={DAY}" for name in ("start", "end") if name in fields]
    if "date" in fields:
        params = [f"date={DAY}"]
    return "?" + "&".join(params) if params else ""


@pytest.fixture
def private_day(api, firm_a):  # type: ignore[no-untyped-def]
    attorney = api.token_for(firm_a, Role.ATTORNEY)
    items = [
        {
            "id": "p1",
            "type": "manual",
            "at": f"{DAY}T15:00:00Z",
            "duration_seconds": 1800,
            "note": SECRET_SUBJECT,
            "subject": SECRET_SUBJECT,
            "personal": True,
        },
        {
            "id": "d1",
            "type": "manual",
            "at": f"{DAY}T16:00:00Z",
            "duration_seconds": 600,
            "note": DELETED_SUBJECT,
            "subject": DELETED_SUBJECT,
        },
        {
            "id": "b1",
            "type": "manual",
            "at": f"{DAY}T17:00:00Z",
            "duration_seconds": 720,
            "note": "Drafted motion",
            "subject": "Drafted motion",
        },
    ]
    assert api.call("POST", "/capture/batch", token=attorney, body={"items": items}).status == 200
    view = api.call("GET", f"/timeline?date={DAY}", token=attorney).body
    ids = {event["subject"]: event["event_id"] for event in view["events"]}
    assert api.call("DELETE", f"/events/{ids[DELETED_SUBJECT]}", token=attorney).status == 204
    own = api.call("GET", f"/timeline?date={DAY}", token=attorney).body
    assert own["totals"]["personal_seconds"] == 1800 and own["totals"]["captured_seconds"] == 720
    return {
        "user_id": firm_a.people[Role.ATTORNEY].user_id,
        "event_id": ids[SECRET_SUBJECT],
        "entry_id": own["entries"][0]["entry_id"],
        "token_id": "none",
        "client_id": "none",
        "matter_id": "none",
        "contact_id": "none",
        "code": "none",
        "kind": "clients",
        "job_id": "none",
        "system": "clio",
        "export_id": "none",
        "entity_type": "event",
        "entity_id": ids[SECRET_SUBJECT],
        # The contractor module's routes (their ids name nothing of the attorney's timeline).
        "lookup": "contractor_payment_method",
        "contractor_kind": "user",
        "contractor_id": "none",
        "invoice_id": "none",
        "work_order_id": "none",
        "document_id": "none",
        "template_id": "none",
        "assignment_type": "none",
        "expense_type": "none",
    }


@pytest.mark.parametrize("path", readable_routes())
def test_no_route_shows_an_admin_another_users_personal_or_deleted_items(
    api, firm_a, private_day, path
) -> None:
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    billing = api.call(
        "POST",
        "/api-tokens",
        token=admin,
        body={"name": "billing", "scopes": ["roster:read", "audit:read", "billing:export", "matters:read"]},
    ).body["secret"]
    url = re.sub(r"{(\w+)}", lambda m: private_day[m.group(1)], path) + query_for(path)
    for credential in (admin, billing):
        reply = api.call("GET", url, token=credential)
        assert SECRET_SUBJECT not in reply.text and DELETED_SUBJECT not in reply.text, f"GET {url} leaked"
        assert "1800" not in reply.text and "2520" not in reply.text, f"GET {url} counted the personal time"


def test_an_admins_totals_count_only_the_business_time(api, firm_a, private_day) -> None:
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    totals = api.call(
        "GET", f"/users/{private_day['user_id']}/totals?start={DAY}&end={DAY}", token=admin
    ).body
    assert totals["captured_seconds"] == 720 and totals["personal_seconds"] is None
