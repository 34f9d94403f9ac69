"""Every route of the app, found by enumeration (new routes are covered the day they are added):

- without a token, every non-public route answers 401;
- with the strongest token of another firm, and firm A's real ids in the path, no route reads or
  changes anything of firm A.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from app import app
from chalicelib.api.routing import ROUTES
from chalicelib.domain.identity import Role
from tests.support.contractors import seed_guard_records

CAPTURE = {
    "id": "c-1",
    "type": "read",
    "at": "2026-03-09T15:00:00Z",
    "internet_message_id": "<guard@lovelace.law>",
    "subject": "intrusion",
}

# A valid body for every request model, built from firm A's ids: the guard must reach the handler,
# not stop at validation.
EXAMPLE_BODIES: dict[str, Callable[[dict[str, str]], dict[str, Any]]] = {
    "InviteUser": lambda v: {
        "email": "intruder@hopper.law",
        "display_name": "Intruder",
        "roles": ["attorney"],
    },
    "UpdateUser": lambda v: {"version": 1, "display_name": "Renamed by another firm", "status": "disabled"},
    "CreateApiToken": lambda v: {"name": "Stolen", "scopes": ["roster:read"]},
    "CaptureIn": lambda v: CAPTURE,
    "CaptureBatch": lambda v: {"items": [CAPTURE]},
    "UpdateEntry": lambda v: {"version": 1, "matter_id": "m-1", "narrative": "rewritten by firm B"},
    "VersionOnly": lambda v: {"version": 1},
    "SplitEntry": lambda v: {"version": 1, "matters": ["m-1", "m-2"]},
    "BulkEntries": lambda v: {"entry_ids": [v["entry_id"]], "action": "release"},
    "MarkPersonal": lambda v: {"personal": True},
    "RulesIn": lambda v: {
        "version": 0,
        "rules": [{"scope": "domain", "value": "x.com", "category": "personal"}],
    },
    "CallImportIn": lambda v: {
        "csv": "call_id,start,duration,direction,extension,number\nx,2026-03-09 09:00,60,in,204,+1212\n",
        "commit": True,
    },
    "ClientIn": lambda v: {"name": "Intruder Corp", "domains": ["intruder.com"]},
    "ClientUpdate": lambda v: {"version": 1, "name": "Renamed by firm B"},
    "MatterIn": lambda v: {"number": "B-1", "name": "B's matter", "client_id": v["client_id"]},
    "MatterUpdate": lambda v: {"version": 1, "name": "Renamed by firm B"},
    "CloseMatter": lambda v: {"version": 1},
    "ContactIn": lambda v: {"name": "Spy", "emails": ["spy@intruder.com"], "client_id": v["client_id"]},
    "ContactUpdate": lambda v: {"version": 1, "name": "Renamed by firm B"},
    "ActivityTypeIn": lambda v: {"version": 1, "name": "Hijacked", "utbms_task": "L110"},
    "ImportIn": lambda v: {
        "csv": "external_id,name\nX-1,Intruder\n",
        "commit": True,
        "job_id": "guard-job-1",
    },
    "SuggestFor": lambda v: {"event_id": v["event_id"]},
    "Feedback": lambda v: {"event_id": v["event_id"], "matter_id": v["matter_id"]},
    "PropertiesIn": lambda v: {"version": 0, "properties": {"SHOW_CLOSED_CASES": "true"}},
    "VersionIn": lambda v: {"version": 1},
    "PostIn": lambda v: {"first_day": "2026-03-01", "last_day": "2026-03-31"},
    "ExportIn": lambda v: {"format": "csv", "first_day": "2026-03-09", "last_day": "2026-03-09"},
    "MarkExportedIn": lambda v: {
        "reference": "B-batch",
        "entries": [{"user_id": v["user_id"], "day": "2026-03-09", "entry_id": v["entry_id"], "version": 3}],
    },
    "MicrosoftConnectIn": lambda v: {
        "client_id": "0b7d1f9e-0000-4c1a-8e11-00000000beef",
        "client_secret": "firm B's own app secret",
        "users": [{"user_id": v["user_id"], "mailbox": "intruder@hopper.law"}],
    },
    "MicrosoftCaptureSwitch": lambda v: {"enabled": True, "mailbox": "intruder@hopper.law"},
    "GraphNotificationBatch": lambda v: {
        "value": [{"subscriptionId": "guessed-id", "clientState": "guessed", "changeType": "updated"}]
    },
    "DelegatesIn": lambda v: {"version": 0, "delegates": [{"user_id": v["user_id"]}]},
    "PolicyIn": lambda v: {
        "version": 0,
        "grouping": "per_thread_day",
        "increment_seconds": 900,
        "pulse_seconds": 60,
        "reading_words_per_minute": 200,
        "typing_words_per_minute": 40,
    },
    # The contractor module (firm A's ids come from seed_guard_records).
    "SettingsIn": lambda v: {"version": 0, "replace_name_with_dba_on_invoices": True},
    "RecommendedListIn": lambda v: {
        "version": 0,
        "custom_default_filters": {"assignment_types": ["investigator"]},
    },
    "LookupValueIn": lambda v: {"version": 1, "key": "b_wire", "label": "B's wire"},
    "LookupValueChange": lambda v: {"version": 1, "label": "Renamed by firm B", "active": False},
    "ContractorIn": lambda v: {"kind": "user", "user_id": v["contractor_id"], "name": "Stolen contractor"},
    "ContractorUpdate": lambda v: {"version": 1, "name": "Renamed by firm B"},
    "AnnualAllocationIn": lambda v: {"version": 0, "amount": "1.00"},
    "FeeStructureIn": lambda v: {"version": 0, "rate": "1.00"},
    "FeeCopyIn": lambda v: {"targets": [{"kind": "user", "contractor_id": v["contractor_id"]}]},
    "ProductIn": lambda v: {"name": "B's product", "default_rate": "1.00", "unit_type": "each"},
    "ProductUpdate": lambda v: {"version": 1, "name": "Renamed by firm B", "default_rate": "0.01"},
    "TemplateIn": lambda v: {"name": "B's template", "items": [{"product_id": v["product_id"]}]},
    "TemplateUpdate": lambda v: {"version": 1, "name": "Renamed by firm B", "active": False},
    "WorkOrderUpdate": lambda v: {"version": 1, "title": "Renamed by firm B", "matter_ids": []},
    "CaseAssignmentIn": lambda v: {
        "contractor": {"kind": "user", "contractor_id": v["contractor_id"]},
        "assignment_type": "contract_attorney",
    },
    "AllocationIn": lambda v: {"version": 0, "allocated": "0.01", "note": "drained by firm B"},
    "FollowProblemCodeIn": lambda v: {"version": 1, "note": "reset by firm B"},
    "BulkCompleteIn": lambda v: {"silent": True, "complete_shared": True},
    "WorkOrderIn": lambda v: {
        "assignee": {"kind": "user", "contractor_id": v["contractor_id"]},
        "title": "B's work order",
        "matter_ids": [v["contractor_matter_id"]],
        "items": [{"product_id": v["product_id"]}],
    },
    "PsrIn": lambda v: {"version": 1, "product_id": v["product_id"]},
    "PsrUpdate": lambda v: {"version": 1, "rate": "0.01"},
    "VersionBody": lambda v: {"version": 1},
    "CaseLinkIn": lambda v: {"version": 1, "unlink": [v["contractor_matter_id"]]},
    "ExpenseTypeIn": lambda v: {"version": 1, "expense_type": "mileage"},
    "ReceiptIn": lambda v: {
        "file_name": "b.pdf",
        "content_type": "application/pdf",
        "content_base64": "JVBERg==",
    },
    "BtIn": lambda v: {
        "bt_type": "product_service",
        "psr_id": "psr-1",
        "units": "1",
        "work_date": "2026-03-09",
    },
    "BtUpdate": lambda v: {"version": 1, "units": "1000"},
    "InvoiceIn": lambda v: {
        "contractor": {"kind": "user", "contractor_id": v["contractor_id"]},
        "bt_ids": [v["bt_id"]],
    },
    "InvoiceActionIn": lambda v: {"action": "submit", "version": 1},
    "BulkInvoiceIn": lambda v: {"action": "submit", "invoice_ids": [v["invoice_id"]]},
    "PreferencesIn": lambda v: {
        "report_frequency": "daily",
        "report_hour": 7,
        "time_zone": "America/Chicago",
    },
    "ExportScheduleIn": lambda v: {"frequency": "daily", "hour": 6},
}


def all_routes() -> list[tuple[str, str]]:
    return sorted((path, method) for path, methods in app.routes.items() for method in methods)


def is_public(path: str, method: str) -> bool:
    return any(route.public for route in ROUTES if route.path == path and route.method == method)


def path_values(firm_a, api) -> dict[str, str]:
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    token = api.call("POST", "/api-tokens", token=admin, body={"name": "A's", "scopes": ["roster:read"]})
    attorney = api.token_for(firm_a, Role.ATTORNEY)
    captured = {**CAPTURE, "internet_message_id": "<a-secret@lovelace.law>", "subject": "A's privileged memo"}
    assert api.call("POST", "/capture", token=attorney, body=captured).status == 200
    entry = api.call("GET", "/timeline?date=2026-03-09", token=attorney).body["entries"][0]
    client = api.call("POST", "/clients", token=admin, body={"name": "A's Secret Client"}).body
    matter = api.call(
        "POST",
        "/matters",
        token=admin,
        body={"number": "A-SECRET-1", "name": "A's secret matter", "client_id": client["client_id"]},
    ).body
    contact = api.call(
        "POST", "/contacts", token=admin, body={"name": "A's witness", "emails": ["witness@a-client.com"]}
    ).body
    activity = api.call(
        "PUT", "/activity-types/ASECRET", token=admin, body={"name": "A's activity", "utbms_task": "L120"}
    ).body
    released = api.call(
        "PATCH",
        f"/entries/{entry['entry_id']}",
        token=attorney,
        body={"version": entry["version"], "matter_id": matter["matter_id"]},
    ).body
    assert (
        api.call(
            "POST",
            f"/entries/{entry['entry_id']}/release",
            token=attorney,
            body={"version": released["version"]},
        ).status
        == 200
    )
    export = api.call(
        "POST",
        "/exports",
        token=admin,
        body={"format": "csv", "first_day": "2026-03-09", "last_day": "2026-03-09"},
    )
    assert export.status == 201, export.text
    microsoft = api.call(
        "PUT",
        "/connections/microsoft",
        token=admin,
        body={
            "tenant_id": "lovelace.law",
            "client_id": "0b7d1f9e-0000-4c1a-8e11-00000000a365",
            "client_secret": "A's own app secret",
            "users": [
                {"user_id": firm_a.people[Role.ATTORNEY].user_id, "mailbox": "a-secret-box@lovelace.law"}
            ],
        },
    )
    assert microsoft.status == 200, microsoft.text
    return {
        "mailbox": "a-secret-box@lovelace.law",
        "m365_client": "0b7d1f9e-0000-4c1a-8e11-00000000a365",
        "system": "clio",
        "target": "csv",
        "export_id": export.body["export_id"],
        "client_id": client["client_id"],
        "matter_id": matter["matter_id"],
        "contact_id": contact["contact_id"],
        "code": activity["code"],
        "kind": "clients",
        "job_id": "a-secret-job",
        "entry_id": entry["entry_id"],
        "event_id": entry["event_ids"][0],
        "user_id": firm_a.people[Role.ATTORNEY].user_id,
        "token_id": token.body["token"]["token_id"],
        "entity_type": "user",
        "entity_id": firm_a.people[Role.ATTORNEY].user_id,
        **seed_guard_records(api.container, firm_a),
    }


def fill(path: str, values: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in values, f"the guard test needs a firm-A value for path parameter '{name}'"
        return values[name]

    return re.sub(r"{(\w+)}", value, path)


def body_for(path: str, method: str, values: dict[str, str]) -> dict[str, Any] | None:
    spec = next(route for route in ROUTES if route.path == path and route.method == method)
    if spec.body is None:
        return None
    assert spec.body.__name__ in EXAMPLE_BODIES, f"add an example body for {spec.body.__name__}"
    return EXAMPLE_BODIES[spec.body.__name__](values)


def firm_a_items(table, firm_id: str) -> list[dict[str, Any]]:
    return sorted(
        (item for item in table.all_items() if item.get("firm_id") == firm_id),
        key=lambda item: (item["PK"], item["SK"]),
    )


def test_only_health_the_api_description_and_oauth_and_webhook_callbacks_are_public() -> None:
    assert [route for route in all_routes() if is_public(*route)] == [
        ("/connections/billing/{system}/callback", "GET"),
        ("/health", "GET"),
        ("/openapi.json", "GET"),
        ("/webhooks/graph", "POST"),
        ("/webhooks/graph/lifecycle", "POST"),
    ]


@pytest.mark.parametrize(("path", "method"), [route for route in all_routes() if not is_public(*route)])
def test_a_route_without_a_token_answers_401(api, firm_a, path: str, method: str) -> None:
    values = path_values(firm_a, api)
    reply = api.call(method, fill(path, values), body=body_for(path, method, values))
    assert reply.status == 401


@pytest.mark.parametrize(("path", "method"), all_routes())
def test_another_firms_strongest_caller_never_reads_or_changes_this_firms_data(
    api, firm_a, firm_b, memory_table, path: str, method: str
) -> None:
    values = path_values(firm_a, api)
    before = firm_a_items(memory_table, firm_a.firm.firm_id)
    markers = {
        "A's Secret Client",
        "A-SECRET-1",
        "witness@a-client.com",
        "A's activity",
        "A's privileged memo",
        "a-secret@lovelace.law",
        firm_a.firm.firm_id,
        firm_a.firm.name,
        *values.values(),
        *(user.email for user in firm_a.people.values()),
        *(user.user_id for user in firm_a.people.values()),
    } - {"user", "clients", "clio", "csv", "contractor_payment_method"}  # names every firm shares, not data
    intruder_admin = api.token_for(firm_b, Role.FIRM_ADMIN)
    b_admin = api.call(
        "POST",
        "/api-tokens",
        token=intruder_admin,
        body={
            "name": "B",
            "scopes": sorted(
                [
                    "roster:read",
                    "roster:write",
                    "audit:read",
                    "matters:read",
                    "matters:write",
                    "billing:export",
                ]
            ),
        },
    )
    for credential in (intruder_admin, b_admin.body["secret"]):
        body = body_for(path, method, values)
        reply = api.call(method, fill(path, values), token=credential, body=body)
        assert reply.status < 500, reply.text
        # Echoing what the caller itself sent (an id in the path or body) reveals nothing.
        sent = fill(path, values) + json.dumps(body)
        leaked = sorted(marker for marker in markers if marker in reply.text and marker not in sent)
        assert not leaked, f"{method} {path} showed firm A's {leaked} to firm B"
    assert firm_a_items(memory_table, firm_a.firm.firm_id) == before
