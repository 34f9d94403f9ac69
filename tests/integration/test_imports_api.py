"""CSV imports of clients, matters, contacts and the roster: preview, commit, re-import, bad files."""

from __future__ import annotations

from pathlib import Path

from chalicelib.domain.identity import Role

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"


def send(api, token: str, kind: str, name: str, *, commit: bool, job_id: str | None = None):
    body = {"csv": (FIXTURES / name).read_text(encoding="utf-8"), "commit": commit}
    if job_id:
        body["job_id"] = job_id
    return api.call("POST", f"/imports/{kind}", token=token, body=body)


def import_all(api, admin: str) -> None:
    for kind in ("roster", "clients", "contacts", "matters"):
        reply = send(api, admin, kind, f"{kind}.csv", commit=True)
        assert reply.status == 200 and reply.body["committed"], reply.text


def test_a_preview_counts_what_would_change_and_writes_nothing(api, firm_a, memory_table) -> None:
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    before = memory_table.all_items()
    reply = send(api, admin, "clients", "clients.csv", commit=False)
    assert reply.status == 200 and reply.body["committed"] is False
    assert reply.body["creates"] == reply.body["rows"] > 0
    assert memory_table.all_items() == before


def test_files_import_in_order_and_reimporting_updates_by_external_id_instead_of_duplicating(
    api, firm_a
) -> None:
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    import_all(api, admin)
    matters = api.call("GET", "/matters?number=2026&include_closed=true&limit=200", token=admin).body["items"]
    assert {m["number"] for m in matters} >= {"2026-0001", "2026-0002"}
    again = send(api, admin, "matters", "matters.csv", commit=True).body
    assert again["creates"] == 0 and again["updates"] == 0 and again["unchanged"] == again["rows"]
    edited = (FIXTURES / "clients.csv").read_text().replace("Acme Holdings LLC", "Acme Holdings Inc")
    reply = api.call("POST", "/imports/clients", token=admin, body={"csv": edited, "commit": True}).body
    assert reply["updates"] == 1 and reply["creates"] == 0
    names = [c["name"] for c in api.call("GET", "/clients?limit=200", token=admin).body["items"]]
    assert "Acme Holdings Inc" in names and "Acme Holdings LLC" not in names


def test_a_bad_matters_file_is_rejected_with_every_error_and_nothing_imported(
    api, firm_a, memory_table
) -> None:
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    send(api, admin, "clients", "clients.csv", commit=True)
    before = memory_table.all_items()
    reply = send(api, admin, "matters", "matters_bad.csv", commit=True)
    assert reply.status == 422 and reply.body["committed"] is False
    assert reply.body["creates"] == 0
    problems = {(error["line"], error["field"]) for error in reply.body["errors"]}
    assert problems == {
        (1, "file"),  # the wrong column
        (3, "opened_on"),  # a date that is not YYYY-MM-DD
        (4, "number"),  # a duplicate matter number
        (5, "client"),  # an unknown client
        (5, "opened_on"),  # 30 February
        (6, "closed_on"),  # closed before it opened
    }
    assert any("practice area" in error["message"] for error in reply.body["errors"])
    assert memory_table.all_items() == before


def test_progress_of_an_import_can_be_followed_by_its_owner_only(api, firm_a) -> None:
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    send(api, admin, "clients", "clients.csv", commit=True, job_id="job-clients-1")
    job = api.call("GET", "/imports/jobs/job-clients-1", token=admin).body
    assert job["phase"] == "done" and job["done"] == job["total"] > 0
    other = api.token_for(firm_a, Role.BILLING_MANAGER)
    assert api.call("GET", "/imports/jobs/job-clients-1", token=other).status == 404


def test_an_api_token_cannot_make_firm_admins_through_a_roster_file(api, firm_a) -> None:
    admin = api.token_for(firm_a, Role.FIRM_ADMIN)
    secret = api.call(
        "POST", "/api-tokens", token=admin, body={"name": "HR", "scopes": ["roster:write", "roster:read"]}
    ).body["secret"]
    reply = send(api, secret, "roster", "roster.csv", commit=True)
    assert reply.status == 403 and "firm admin" in reply.body["detail"]


def test_an_unknown_kind_of_import_is_a_422(api, firm_a) -> None:
    reply = api.call(
        "POST", "/imports/invoices", token=api.token_for(firm_a, Role.FIRM_ADMIN), body={"csv": "a,b\n1,2\n"}
    )
    assert reply.status == 422 and reply.body["errors"][0]["field"] == "kind"
