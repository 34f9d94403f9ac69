"""The contractor module's remaining gaps through the API: legal problem codes driving matter allocations,
and the routes that remove or edit what could only be created before (case assignments, work order
templates, fee structures, expense types, a work order's details)."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.identity import Principal, Role
from tests.support.contractors import (
    ContractorWorld,
    add_problem_codes,
    case_block,
    firm_items,
    open_case,
    seed_contractor_world,
)


@pytest.fixture
def world(api, firm_a) -> ContractorWorld:  # type: ignore[no-untyped-def]
    return seed_contractor_world(api, firm_a)


def admin_principal(world: ContractorWorld) -> Principal:
    person = world.seeded.people[Role.FIRM_ADMIN]
    return Principal(world.seeded.firm.firm_id, person.user_id, "user", frozenset({Role.FIRM_ADMIN}))


def field_names(reply: Any) -> set[str]:
    return {problem["field"].split(".")[-1] for problem in reply.body.get("errors", [])}


def reasons(block: dict[str, Any]) -> list[str]:
    """The allocation log's reasons, sorted: lines written in the same (frozen) instant have no order."""
    return sorted(line["reason"] for line in block["log"])


# ------------------------------------------------------------------ problem codes and matter allocations


def test_a_case_opened_with_a_problem_code_gets_the_codes_base_allocation_logged_and_audited(
    world: ContractorWorld,
) -> None:
    add_problem_codes(world, ("eviction", "1500.00"), ("benefits", "750.50"))

    matter = open_case(world, "PC-1", "eviction")

    assert matter["problem_code"] == "eviction"
    block = case_block(world, matter["matter_id"])
    assert block["problem_code"] == "eviction"
    assert block["budget"]["allocated"] == "1500.00" and block["budget"]["remaining"] == "1500.00"
    assert [(line["reason"], line["allocated_after"]) for line in block["log"]] == [
        ("case_created", "1500.00")
    ]
    audit = world.api.container.audit.history(
        admin_principal(world), "contractor_matter_allocation", matter["matter_id"]
    )
    assert [record.action for record in audit] == ["case_created"]


def test_changing_the_problem_code_moves_the_allocation_until_it_is_adjusted_by_hand(
    world: ContractorWorld,
) -> None:
    add_problem_codes(world, ("eviction", "1500.00"), ("benefits", "750.50"), ("custody", "2000.00"))
    matter = open_case(world, "PC-2", "eviction")

    moved = world.call(
        "PATCH",
        f"/matters/{matter['matter_id']}",
        {"version": matter["version"], "problem_code": "benefits"},
        token=world.admin,
    )
    assert case_block(world, matter["matter_id"])["budget"]["allocated"] == "750.50"

    block = case_block(world, matter["matter_id"])
    world.call(
        "PUT",
        f"/contractor/cases/{matter['matter_id']}/allocation",
        {"version": block["allocation_version"], "allocated": "900.00", "note": "Complex hearing"},
        token=world.admin,
    )
    world.call(
        "PATCH",
        f"/matters/{matter['matter_id']}",
        {"version": moved["version"], "problem_code": "custody"},
        token=world.admin,
    )

    after = case_block(world, matter["matter_id"])
    assert after["budget"]["allocated"] == "900.00" and after["manually_adjusted"] is True
    assert after["problem_code"] == "custody"
    assert reasons(after) == ["case_created", "manual_adjustment", "problem_code_changed"]


def test_an_existing_case_without_an_allocation_gets_one_when_its_problem_code_is_set(
    world: ContractorWorld,
) -> None:
    add_problem_codes(world, ("eviction", "1500.00"))
    matter = open_case(world, "PC-3")
    assert case_block(world, matter["matter_id"])["budget"]["allocated"] is None

    world.call(
        "PATCH",
        f"/matters/{matter['matter_id']}",
        {"version": matter["version"], "problem_code": "eviction"},
        token=world.admin,
    )

    block = case_block(world, matter["matter_id"])
    assert block["budget"]["allocated"] == "1500.00"
    assert [line["reason"] for line in block["log"]] == ["problem_code_changed"]


def test_sending_the_same_problem_code_again_adds_no_second_log_line(world: ContractorWorld) -> None:
    add_problem_codes(world, ("eviction", "1500.00"), ("benefits", "750.50"))
    matter = open_case(world, "PC-4", "eviction")
    changed = world.call(
        "PATCH",
        f"/matters/{matter['matter_id']}",
        {"version": matter["version"], "problem_code": "benefits"},
        token=world.admin,
    )

    world.call(
        "PATCH",
        f"/matters/{matter['matter_id']}",
        {"version": changed["version"], "problem_code": "benefits"},
        token=world.admin,
    )

    assert reasons(case_block(world, matter["matter_id"])) == ["case_created", "problem_code_changed"]


def test_an_allocation_left_behind_by_a_crash_is_rolled_forward_when_the_case_is_read(
    world: ContractorWorld,
) -> None:
    from dataclasses import replace

    add_problem_codes(world, ("eviction", "1500.00"), ("benefits", "750.50"))
    matter = open_case(world, "PC-5", "eviction")
    repository = world.api.container.matters._repo  # the matter written, the allocation step never run
    stored = repository.matter(world.seeded.firm.firm_id, matter["matter_id"])
    repository.matters.update(replace(stored, problem_code="benefits"), "crashed-request")

    block = case_block(world, matter["matter_id"])

    assert block["budget"]["allocated"] == "750.50"
    assert reasons(block) == ["case_created", "problem_code_changed"]
    assert reasons(case_block(world, matter["matter_id"])) == ["case_created", "problem_code_changed"]


def test_a_problem_code_that_is_not_an_active_lookup_value_is_refused_naming_the_field(
    world: ContractorWorld, memory_table: Any
) -> None:
    add_problem_codes(world, ("eviction", "1500.00"), ("retired_code", "10.00"))
    lookup = world.call("GET", "/contractor/lookups/legal_problem_code", token=world.admin)
    world.call(
        "PATCH",
        "/contractor/lookups/legal_problem_code/values/retired_code",
        {"version": lookup["version"], "active": False},
        token=world.admin,
    )
    client = world.call("POST", "/clients", {"name": "Client"}, token=world.admin)
    before = firm_items(memory_table, world.seeded.firm.firm_id)

    for code in ("no_such_code", "retired_code", "Not A Key!"):
        reply = world.api.call(
            "POST",
            "/matters",
            token=world.admin,
            body={"number": "PC-6", "name": "Case", "client_id": client["client_id"], "problem_code": code},
        )
        assert reply.status == 422, reply.text
        assert "problem_code" in field_names(reply)

    assert firm_items(memory_table, world.seeded.firm.firm_id) == before


def test_clearing_a_problem_code_keeps_the_allocation_the_case_has(world: ContractorWorld) -> None:
    add_problem_codes(world, ("eviction", "1500.00"))
    matter = open_case(world, "PC-7", "eviction")

    cleared = world.call(
        "PATCH",
        f"/matters/{matter['matter_id']}",
        {"version": matter["version"], "problem_code": None},
        token=world.admin,
    )

    assert cleared["problem_code"] is None
    block = case_block(world, matter["matter_id"])
    assert block["problem_code"] is None and block["budget"]["allocated"] == "1500.00"


def test_a_base_matter_allocation_belongs_only_to_problem_codes_and_needs_the_add_on(
    world: ContractorWorld, memory_table: Any
) -> None:
    expense = world.call(
        "GET", "/contractor/lookups/contractor_expense_reimbursement_type", token=world.admin
    )
    reply = world.api.call(
        "POST",
        "/contractor/lookups/contractor_expense_reimbursement_type/values",
        token=world.admin,
        body={
            "version": expense["version"],
            "key": "parking",
            "label": "Parking",
            "base_matter_allocation": "5",
        },
    )
    assert reply.status == 422 and "base_matter_allocation" in field_names(reply)

    settings = world.call("GET", "/contractor/settings", token=world.admin)
    world.call(
        "PUT",
        "/contractor/settings",
        {"version": settings["version"], "add_ons": {**settings["add_ons"], "matter_allocations": False}},
        token=world.admin,
    )
    before = firm_items(memory_table, world.seeded.firm.firm_id)
    reply = world.api.call(
        "POST",
        "/contractor/lookups/legal_problem_code/values",
        token=world.admin,
        body={"version": 0, "key": "eviction", "label": "Eviction", "base_matter_allocation": "10.00"},
    )
    assert reply.status == 422 and "base_matter_allocation" in field_names(reply)
    assert firm_items(memory_table, world.seeded.firm.firm_id) == before


def test_a_problem_codes_base_allocation_can_be_changed_and_cleared(world: ContractorWorld) -> None:
    add_problem_codes(world, ("eviction", "1500.00"))
    lookup = world.call("GET", "/contractor/lookups/legal_problem_code", token=world.admin)

    changed = world.call(
        "PATCH",
        "/contractor/lookups/legal_problem_code/values/eviction",
        {"version": lookup["version"], "base_matter_allocation": "1600.00"},
        token=world.admin,
    )
    assert changed["values"][0]["base_matter_allocation"] == "1600.00"
    renamed = world.call(
        "PATCH",
        "/contractor/lookups/legal_problem_code/values/eviction",
        {"version": changed["version"], "label": "Eviction defence"},
        token=world.admin,
    )
    assert renamed["values"][0]["base_matter_allocation"] == "1600.00"
    cleared = world.call(
        "PATCH",
        "/contractor/lookups/legal_problem_code/values/eviction",
        {"version": renamed["version"], "base_matter_allocation": None},
        token=world.admin,
    )
    assert cleared["values"][0]["base_matter_allocation"] is None


def test_importing_matters_with_problem_codes_sets_their_allocations(world: ContractorWorld) -> None:
    add_problem_codes(world, ("eviction", "1500.00"))
    world.call(
        "POST", "/clients", {"name": "Import Client", "external_ids": {"import": "C-9"}}, token=world.admin
    )
    text = "external_id,number,name,client,problem_code\nM-1,IMP-1,Imported case,C-9,Eviction\n"

    report = _import(world, text)

    assert report["committed"] is True and report["creates"] == 1
    found = world.call("GET", "/matters?number=IMP-1", token=world.admin)["items"][0]
    assert found["problem_code"] == "eviction"
    assert case_block(world, found["matter_id"])["budget"]["allocated"] == "1500.00"


def test_an_import_naming_an_unknown_problem_code_reports_the_row_and_writes_nothing(
    world: ContractorWorld, memory_table: Any
) -> None:
    add_problem_codes(world, ("eviction", "1500.00"))
    world.call(
        "POST", "/clients", {"name": "Import Client", "external_ids": {"import": "C-9"}}, token=world.admin
    )
    before = firm_items(memory_table, world.seeded.firm.firm_id)

    report = _import(world, "external_id,number,name,client,problem_code\nM-1,IMP-2,Case,C-9,burglary\n")

    assert report["committed"] is False
    assert [(e["line"], e["field"]) for e in report["errors"]] == [(2, "problem_code")]
    assert firm_items(memory_table, world.seeded.firm.firm_id) == before


def _import(world: ContractorWorld, text: str) -> dict[str, Any]:
    reply = world.api.call("POST", "/imports/matters", token=world.admin, body={"csv": text, "commit": True})
    assert reply.status in (200, 422), reply.text
    result: dict[str, Any] = reply.body
    return result


# ------------------------------------------------------------------ case assignments


def test_a_contractor_taken_off_a_case_can_be_assigned_and_taken_off_again(world: ContractorWorld) -> None:
    who = world.contractor
    path = f"/contractor/cases/{world.matter_id}/assignments"
    one = f"{path}/{who['kind']}/{who['contractor_id']}/contract_attorney"
    for _ in range(2):
        world.call(
            "POST", path, {"contractor": who, "assignment_type": "contract_attorney"}, token=world.staff
        )
        assert len(case_block(world, world.matter_id)["assignments"]) == 1

        assert world.api.call("DELETE", one, token=world.staff).status == 204

        assert case_block(world, world.matter_id)["assignments"] == []
    audit = world.api.container.audit.history(
        admin_principal(world),
        "contractor_case_assignment",
        f"{world.matter_id}#user#{who['contractor_id']}#contract_attorney",
    )
    assert [record.action for record in audit] == ["assign", "delete", "assign", "delete"]


def test_removing_an_assignment_that_does_not_exist_is_not_found_and_a_contractor_may_not_remove_one(
    world: ContractorWorld,
) -> None:
    who = world.contractor
    path = f"/contractor/cases/{world.matter_id}/assignments"
    one = f"{path}/{who['kind']}/{who['contractor_id']}/contract_attorney"
    assert world.api.call("DELETE", one, token=world.staff).status == 404
    world.call("POST", path, {"contractor": who, "assignment_type": "contract_attorney"}, token=world.staff)

    assert world.api.call("DELETE", one, token=world.casey).status == 403
    assert len(case_block(world, world.matter_id)["assignments"]) == 1


# ------------------------------------------------------------------ work order templates


def _template(world: ContractorWorld) -> dict[str, Any]:
    result: dict[str, Any] = world.call(
        "POST",
        "/contractor/templates",
        {"name": "Hearing prep", "items": [{"product_id": world.products["copies"]}], "duration_days": 30},
        token=world.admin,
    )
    return result


def test_a_template_can_be_edited_switched_off_and_deleted(world: ContractorWorld) -> None:
    template = _template(world)
    path = f"/contractor/templates/{template['template_id']}"

    edited = world.call(
        "PATCH",
        path,
        {
            "version": template["version"],
            "name": "Hearing preparation",
            "items": [{"product_id": world.products["research"]}],
            "expense_types": ["mileage"],
            "duration_days": None,
            "active": False,
        },
        token=world.admin,
    )

    assert edited["name"] == "Hearing preparation" and edited["active"] is False
    assert edited["product_ids"] == [world.products["research"]] and edited["expense_types"] == ["mileage"]
    assert edited["duration_days"] is None and edited["version"] == template["version"] + 1
    assert world.api.call("DELETE", f"{path}?version={template['version']}", token=world.admin).status == 409
    assert world.api.call("DELETE", f"{path}?version={edited['version']}", token=world.admin).status == 204
    assert world.call("GET", "/contractor/templates", token=world.admin) == []


def test_a_template_edit_naming_an_unknown_product_is_refused_and_changes_nothing(
    world: ContractorWorld, memory_table: Any
) -> None:
    template = _template(world)
    before = firm_items(memory_table, world.seeded.firm.firm_id)

    reply = world.api.call(
        "PATCH",
        f"/contractor/templates/{template['template_id']}",
        token=world.admin,
        body={"version": template["version"], "items": [{"product_id": "ps-nothing"}]},
    )

    assert reply.status == 422 and "items[0]" in field_names(reply)
    assert (
        world.api.call(
            "PATCH",
            f"/contractor/templates/{template['template_id']}",
            token=world.casey,
            body={"version": template["version"], "name": "Mine now"},
        ).status
        == 403
    )
    assert firm_items(memory_table, world.seeded.firm.firm_id) == before


# ------------------------------------------------------------------ fee structures


def test_a_deleted_fee_structure_leaves_new_psrs_at_the_default_rate_and_can_be_set_again(
    world: ContractorWorld,
) -> None:
    who = world.contractor
    fees = f"/contractor/contractors/{who['kind']}/{who['contractor_id']}/fee-structures"
    copies = world.products["copies"]
    set_ = world.call("PUT", f"{fees}/{copies}", {"version": 0, "rate": "0.25"}, token=world.admin)

    assert world.api.call("DELETE", f"{fees}/{copies}?version=0", token=world.admin).status == 409
    assert (
        world.api.call("DELETE", f"{fees}/{copies}?version={set_['version']}", token=world.casey).status
        == 403
    )
    assert (
        world.api.call("DELETE", f"{fees}/{copies}?version={set_['version']}", token=world.admin).status
        == 204
    )

    assert world.call("GET", fees, token=world.admin) == []
    order = world.call("GET", f"/contractor/work-orders/{world.work_order_id}", token=world.staff)[
        "work_order"
    ]
    added = world.call(
        "POST",
        f"/contractor/work-orders/{world.work_order_id}/psrs",
        {"version": order["version"], "product_id": copies},
        token=world.staff,
    )
    assert added["psrs"][-1]["rate"] == "0.10"
    again = world.call("PUT", f"{fees}/{copies}", {"version": 0, "rate": "0.30"}, token=world.admin)
    assert again["rate"] == "0.30"
    assert world.api.call("DELETE", f"{fees}/{copies}?version=0", token=world.admin).status in (404, 409)


# ------------------------------------------------------------------ expense types


def test_an_expense_type_can_be_removed_only_while_no_expense_of_it_is_logged(world: ContractorWorld) -> None:
    path = f"/contractor/work-orders/{world.work_order_id}"
    order = world.call("GET", path, token=world.staff)["work_order"]
    world.call(
        "POST",
        f"{path}/billing-transactions",
        {
            "bt_type": "expense_reimbursement",
            "expense_type": "mileage",
            "amount": "12.00",
            "work_date": "2026-03-09",
        },
    )

    refused = world.api.call(
        "DELETE", f"{path}/expense-types/mileage?version={order['version']}", token=world.staff
    )
    assert refused.status == 409
    # The assignee may edit their own work order, and is held to the same rule.
    assert (
        world.api.call(
            "DELETE", f"{path}/expense-types/mileage?version={order['version']}", token=world.casey
        ).status
        == 409
    )
    assert (
        world.api.call(
            "DELETE", f"{path}/expense-types/parking?version={order['version']}", token=world.staff
        ).status
        == 404
    )


def test_an_unused_expense_type_is_removed_from_the_work_order(world: ContractorWorld) -> None:
    path = f"/contractor/work-orders/{world.work_order_id}"
    order = world.call("GET", path, token=world.staff)["work_order"]

    changed = world.call(
        "DELETE", f"{path}/expense-types/mileage?version={order['version']}", token=world.staff
    )

    assert changed["expense_types"] == [] and changed["version"] == order["version"] + 1


# ------------------------------------------------------------------ a work order's details


def test_a_work_orders_title_dates_and_cases_are_edited_in_one_write(world: ContractorWorld) -> None:
    other = open_case(world, "WO-2")
    path = f"/contractor/work-orders/{world.work_order_id}"
    order = world.call("GET", path, token=world.staff)["work_order"]

    edited = world.call(
        "PATCH",
        path,
        {
            "version": order["version"],
            "title": "Hearing and appeal",
            "start_date": "2026-03-01",
            "end_date": "2026-06-30",
            "matter_ids": [world.matter_id, other["matter_id"]],
        },
        token=world.staff,
    )

    assert edited["title"] == "Hearing and appeal" and edited["version"] == order["version"] + 1
    assert (edited["start_date"], edited["end_date"]) == ("2026-03-01", "2026-06-30")
    assert edited["matter_ids"] == [world.matter_id, other["matter_id"]]
    assert world.call("GET", f"/contractor/cases/{other['matter_id']}", token=world.staff)[
        "work_order_ids"
    ] == [world.work_order_id]
    cleared = world.call("PATCH", path, {"version": edited["version"], "end_date": None}, token=world.staff)
    assert cleared["end_date"] is None and cleared["start_date"] == "2026-03-01"


def test_a_work_order_edit_that_breaks_a_rule_is_refused_and_changes_nothing(
    world: ContractorWorld, memory_table: Any
) -> None:
    path = f"/contractor/work-orders/{world.work_order_id}"
    order = world.call("GET", path, token=world.staff)["work_order"]
    world.copies("10")  # a BT billed to the work order's one case
    token = world.call(
        "POST", "/api-tokens", {"name": "billing", "scopes": ["matters:read"]}, token=world.admin
    )["secret"]
    world.api.call("GET", "/matters", token=token)  # its first use is recorded on the token
    before = firm_items(memory_table, world.seeded.firm.firm_id)
    version = order["version"]

    backwards = world.api.call(
        "PATCH",
        path,
        token=world.staff,
        body={"version": version, "start_date": "2026-05-01", "end_date": "2026-04-01"},
    )
    assert backwards.status == 422 and "end_date" in field_names(backwards)
    unlinked = world.api.call("PATCH", path, token=world.staff, body={"version": version, "matter_ids": []})
    assert unlinked.status == 409
    unknown = world.api.call(
        "PATCH", path, token=world.staff, body={"version": version, "matter_ids": [world.matter_id, "nope"]}
    )
    assert unknown.status == 404
    assert (
        world.api.call("PATCH", path, token=world.staff, body={"version": version + 5, "title": "x"}).status
        == 409
    )
    assert (
        world.api.call("PATCH", path, token=token, body={"version": version, "title": "Mine"}).status == 403
    )

    assert firm_items(memory_table, world.seeded.firm.firm_id) == before
