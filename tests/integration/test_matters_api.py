"""Clients, matters, contacts and activity types through the API."""

from __future__ import annotations

from chalicelib.domain.identity import Role
from tests.integration.test_imports_api import FIXTURES


def setup_client(api, admin: str, name: str = "Northwind Logistics") -> dict:
    reply = api.call("POST", "/clients", token=admin, body={"name": name, "domains": ["Northwind.example"]})
    assert reply.status == 201, reply.text
    return reply.body


def open_matter(api, admin: str, client_id: str, number: str, name: str) -> dict:
    reply = api.call(
        "POST", "/matters", token=admin, body={"number": number, "name": name, "client_id": client_id}
    )
    assert reply.status == 201, reply.text
    return reply.body


def test_a_matter_is_opened_for_an_existing_client_and_found_by_number_name_and_client(api, firm_a) -> None:
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    client = setup_client(api, admin)
    assert client["domains"] == ["northwind.example"]
    first = open_matter(api, admin, client["client_id"], "2026-0142", "Northwind v. Contoso")
    open_matter(api, admin, client["client_id"], "2026-0150", "Northwind lease renewal")
    attorney = api.token_for(firm_a, Role.ATTORNEY)
    by_number = api.call("GET", "/matters?number=2026-014", token=attorney).body["items"]
    assert [m["number"] for m in by_number] == ["2026-0142"]
    by_name = api.call("GET", "/matters?name=northwind%20l", token=attorney).body["items"]
    assert [m["name"] for m in by_name] == ["Northwind lease renewal"]
    by_client = api.call("GET", f"/matters?client_id={client['client_id']}", token=attorney).body["items"]
    assert sorted(m["matter_id"] for m in by_client)[0] in {first["matter_id"], by_name[0]["matter_id"]}
    assert len(by_client) == 2


def test_matter_numbers_are_unique_and_a_matter_needs_a_real_client(api, firm_a) -> None:
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    client = setup_client(api, admin)
    open_matter(api, admin, client["client_id"], "2026-0142", "Northwind v. Contoso")
    again = api.call(
        "POST",
        "/matters",
        token=admin,
        body={"number": "2026-0142 ", "name": "Copy", "client_id": client["client_id"]},
    )
    assert again.status == 409 and "matter number" in again.body["detail"]
    orphan = api.call(
        "POST", "/matters", token=admin, body={"number": "X-1", "name": "X", "client_id": "nobody"}
    )
    assert orphan.status == 404


def test_a_matter_keeps_the_languages_its_client_speaks_trimmed_and_each_once(api, firm_a) -> None:
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    client = setup_client(api, admin)
    opened = api.call(
        "POST",
        "/matters",
        token=admin,
        body={
            "number": "2026-0160",
            "name": "Tenancy",
            "client_id": client["client_id"],
            "languages": [" Spanish ", "spanish", "Mixtec"],
        },
    )
    assert opened.status == 201, opened.text
    assert opened.body["languages"] == ["Spanish", "Mixtec"]

    changed = api.call(
        "PATCH",
        f"/matters/{opened.body['matter_id']}",
        token=admin,
        body={"version": opened.body["version"], "languages": ["Vietnamese"]},
    )
    assert changed.status == 200, changed.text
    assert changed.body["languages"] == ["Vietnamese"]
    renamed = api.call(
        "PATCH",
        f"/matters/{opened.body['matter_id']}",
        token=admin,
        body={"version": changed.body["version"], "name": "Tenancy renamed"},
    )
    assert renamed.body["languages"] == ["Vietnamese"]


def test_too_many_blank_or_overlong_languages_are_refused_and_change_nothing(api, firm_a) -> None:
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    client = setup_client(api, admin)
    matter = open_matter(api, admin, client["client_id"], "2026-0161", "Tenancy")
    for languages in ([f"Language {n}" for n in range(11)], [" "], ["x" * 41]):
        refused = api.call(
            "PATCH",
            f"/matters/{matter['matter_id']}",
            token=admin,
            body={"version": matter["version"], "languages": languages},
        )
        assert refused.status == 422, refused.text
        assert [e["field"] for e in refused.body["errors"]] == ["languages"]
    unchanged = api.call("GET", f"/matters/{matter['matter_id']}", token=admin).body
    assert (unchanged["languages"], unchanged["version"]) == ([], matter["version"])


def test_closed_matters_are_not_offered_unless_asked(api, firm_a) -> None:
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    client = setup_client(api, admin)
    matter = open_matter(api, admin, client["client_id"], "2025-0007", "Old dispute")
    closed = api.call("POST", f"/matters/{matter['matter_id']}/close", token=admin, body={"version": 1}).body
    assert closed["status"] == "closed" and closed["closed_on"] == "2026-03-09"
    assert api.call("GET", "/matters?number=2025", token=admin).body["items"] == []
    shown = api.call("GET", "/matters?number=2025&include_closed=true", token=admin).body["items"]
    assert [m["status"] for m in shown] == ["closed"]
    twice = api.call("POST", f"/matters/{matter['matter_id']}/close", token=admin, body={"version": 2})
    assert twice.status == 409


def test_reopening_a_closed_matter_drops_its_closing_day_and_is_audited_as_a_reopening(api, firm_a) -> None:
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    client = setup_client(api, admin)
    matter = open_matter(api, admin, client["client_id"], "2025-0008", "Post-judgment work")
    path = f"/matters/{matter['matter_id']}"
    api.call("POST", f"{path}/close", token=admin, body={"version": 1})

    reopened = api.call("PATCH", path, token=admin, body={"version": 2, "status": "open"}).body
    assert (reopened["status"], reopened["closed_on"]) == ("open", None)
    actions = [
        r["action"]
        for r in api.call("GET", "/audit?limit=50", token=admin).body["items"]
        if r["entity_id"] == matter["matter_id"]
    ]
    assert actions[:2] == ["reopen", "close"]

    closed = api.call("PATCH", path, token=admin, body={"version": 3, "status": "closed"}).body
    assert (closed["status"], closed["closed_on"]) == ("closed", "2026-03-09")


def test_a_matters_file_cannot_give_an_open_matter_a_closing_day(api, firm_a) -> None:
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    clients = (FIXTURES / "clients.csv").read_text()
    api.call("POST", "/imports/clients", token=admin, body={"csv": clients, "commit": True})
    csv = (
        "External ID,Matter Number,Matter Name,Client,Status,Closed On\n"
        "M-9,2025-0009,Still running,C-100,open,2026-03-01\n"
    )
    reply = api.call("POST", "/imports/matters", token=admin, body={"csv": csv, "commit": True})
    assert reply.status == 422 and reply.body["committed"] is False
    assert [(e["line"], e["field"]) for e in reply.body["errors"]] == [(2, "closed_on")]
    assert "no closing day" in reply.body["errors"][0]["message"]
    assert api.call("GET", "/matters?number=2025-0009&include_closed=true", token=admin).body["items"] == []


def test_renaming_a_matter_moves_it_in_the_name_search_and_a_stale_edit_is_refused(api, firm_a) -> None:
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    client = setup_client(api, admin)
    matter = open_matter(api, admin, client["client_id"], "2026-0001", "Alpha project")
    path = f"/matters/{matter['matter_id']}"
    renamed = api.call("PATCH", path, token=admin, body={"version": 1, "name": "Zulu project"}).body
    assert renamed["version"] == 2
    assert api.call("GET", "/matters?name=alpha", token=admin).body["items"] == []
    assert [m["name"] for m in api.call("GET", "/matters?name=zulu", token=admin).body["items"]] == [
        "Zulu project"
    ]
    assert api.call("PATCH", path, token=admin, body={"version": 1, "name": "Beta"}).status == 409


def test_attorneys_read_matters_but_only_matter_administrators_change_them(api, firm_a) -> None:
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    client = setup_client(api, admin)
    attorney = api.token_for(firm_a, Role.ATTORNEY)
    assert api.call("GET", f"/clients/{client['client_id']}", token=attorney).status == 200
    assert api.call("POST", "/clients", token=attorney, body={"name": "X"}).status == 403
    billing = api.token_for(firm_a, Role.BILLING_MANAGER)
    assert api.call("POST", "/clients", token=billing, body={"name": "Y"}).status == 201


def test_a_contact_email_belongs_to_one_contact_and_phones_are_normalised(api, firm_a) -> None:
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    body = {"name": "Dana Reyes", "emails": ["Dana.Reyes@Northwind.example"], "phones": ["+1 (212) 555-0100"]}
    created = api.call("POST", "/contacts", token=admin, body=body).body
    assert created["emails"] == ["dana.reyes@northwind.example"] and created["phones"] == ["+12125550100"]
    assert api.call("POST", "/contacts", token=admin, body={**body, "name": "Dup"}).status == 409
    bad = api.call("POST", "/contacts", token=admin, body={"name": "X", "emails": ["nope"]})
    assert bad.status == 422 and bad.body["errors"][0]["field"] == "emails"


def test_activity_types_carry_valid_utbms_codes_only(api, firm_a) -> None:
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    good = api.call(
        "PUT",
        "/activity-types/DEPO",
        token=admin,
        body={"name": "Deposition", "utbms_task": "L330", "utbms_activity": "A109", "rate": "450.00"},
    )
    assert good.status == 200 and good.body["version"] == 1
    bad = api.call("PUT", "/activity-types/X", token=admin, body={"name": "X", "utbms_task": "L300"})
    assert bad.status == 422 and bad.body["errors"][0]["field"] == "utbms_task"
    changed = api.call(
        "PUT", "/activity-types/DEPO", token=admin, body={"version": 1, "name": "Deposition (taking)"}
    )
    assert changed.body["version"] == 2
    codes = api.call("GET", "/utbms", token=admin).body
    assert len(codes["activities"]) == 11 and {"code": "L330", "name": "Depositions"} in codes["tasks"]


def test_every_change_to_a_matter_is_audited(api, firm_a) -> None:
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    client = setup_client(api, admin)
    matter = open_matter(api, admin, client["client_id"], "2026-0009", "Audit me")
    api.call("POST", f"/matters/{matter['matter_id']}/close", token=admin, body={"version": 1})
    history = api.call("GET", f"/audit/matter/{matter['matter_id']}", token=admin).body
    assert [r["action"] for r in history] == ["create", "close"]
    assert history[1]["before"]["status"] == "open" and history[1]["after"]["status"] == "closed"


def test_an_entry_is_rounded_by_its_matters_increment_else_its_clients_else_the_firms(api, firm_a) -> None:
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    client = api.call(
        "POST", "/clients", token=admin, body={"name": "Quarter Hour Co", "rounding_increment_seconds": 900}
    ).body
    by_client = open_matter(api, admin, client["client_id"], "Q-1", "Client rule")
    by_matter = api.call(
        "POST",
        "/matters",
        token=admin,
        body={
            "number": "Q-2",
            "name": "Matter rule",
            "client_id": client["client_id"],
            "rounding_increment_seconds": 60,
        },
    ).body
    attorney = api.token_for(firm_a, Role.ATTORNEY)
    api.call(
        "POST",
        "/capture",
        token=attorney,
        body={
            "id": "m1",
            "type": "manual",
            "at": "2026-03-09T15:00:00Z",
            "duration_seconds": 130,
            "note": "Call",
        },
    )
    entry = api.call("GET", "/timeline?date=2026-03-09", token=attorney).body["entries"][0]
    assert entry["billed_seconds"] == 360 and entry["rounding_rule"].startswith("firm")
    path = f"/entries/{entry['entry_id']}"
    on_client = api.call(
        "PATCH", path, token=attorney, body={"version": 1, "matter_id": by_client["matter_id"]}
    ).body
    assert (
        on_client["billed_seconds"] == 900 and on_client["rounding_rule"] == "client Quarter Hour Co: 15 min"
    )
    on_matter = api.call(
        "PATCH", path, token=attorney, body={"version": 2, "matter_id": by_matter["matter_id"]}
    ).body
    assert on_matter["billed_seconds"] == 180 and on_matter["rounding_rule"] == "matter Q-2: 1 min"
    assert on_matter["raw_seconds"] == 130


def test_clients_and_contacts_are_found_by_name_prefix_and_contacts_by_email(api, firm_a) -> None:
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    setup_client(api, admin, "Northwind Logistics")
    setup_client(api, admin, "Contoso Pharma")
    api.call(
        "POST", "/contacts", token=admin, body={"name": "Dana Reyes", "emails": ["dana@northwind.example"]}
    )
    api.call("POST", "/contacts", token=admin, body={"name": "Dan Brown", "emails": ["dan@contoso.example"]})
    names = [c["name"] for c in api.call("GET", "/clients?name=north", token=admin).body["items"]]
    assert names == ["Northwind Logistics"]
    dan = [c["name"] for c in api.call("GET", "/contacts?name=dan", token=admin).body["items"]]
    assert sorted(dan) == ["Dan Brown", "Dana Reyes"]
    by_email = api.call("GET", "/contacts?email=DANA@northwind.example", token=admin).body["items"]
    assert [c["name"] for c in by_email] == ["Dana Reyes"]
