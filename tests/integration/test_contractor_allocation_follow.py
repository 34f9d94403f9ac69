"""``POST /contractor/cases/{matter_id}/allocation/follow-problem-code`` through the API: a case's hand-set
allocation goes back to its problem code's base allocation (logged, audited, followed again by later code
changes); bad input and refused requests change nothing."""

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


def override(world: ContractorWorld, matter_id: str, amount: str) -> dict[str, Any]:
    block = case_block(world, matter_id)
    result: dict[str, Any] = world.call(
        "PUT",
        f"/contractor/cases/{matter_id}/allocation",
        {"version": block["allocation_version"], "allocated": amount, "note": "Complex hearing"},
        token=world.admin,
    )
    return result


def follow(world: ContractorWorld, matter_id: str, body: Any, token: str | None = None) -> Any:
    return world.api.call(
        "POST",
        f"/contractor/cases/{matter_id}/allocation/follow-problem-code",
        token=token or world.admin,
        body=body,
    )


def reasons(block: dict[str, Any]) -> list[str]:
    """The allocation log's reasons, sorted: lines written in the same (frozen) instant have no order."""
    return sorted(line["reason"] for line in block["log"])


def test_a_hand_set_allocation_goes_back_to_its_problem_code_and_follows_it_again(
    world: ContractorWorld,
) -> None:
    add_problem_codes(world, ("eviction", "1500.00"), ("benefits", "750.50"))
    matter = open_case(world, "PF-1", "eviction")
    overridden = override(world, matter["matter_id"], "900.00")
    assert overridden["manually_adjusted"] is True

    reply = follow(
        world, matter["matter_id"], {"version": overridden["allocation_version"], "note": "Hearing cancelled"}
    )

    assert reply.status == 200, reply.text
    back = reply.body
    assert back["manually_adjusted"] is False
    assert back["allocation_version"] == overridden["allocation_version"] + 1
    assert back["budget"]["allocated"] == "1500.00" and back["budget"]["remaining"] == "1500.00"
    line = next(line for line in back["log"] if line["reason"] == "back_to_problem_code")
    assert (line["allocated_before"], line["allocated_after"], line["note"]) == (
        "900.00",
        "1500.00",
        "Hearing cancelled",
    )
    assert back == case_block(world, matter["matter_id"])
    person = world.seeded.people[Role.FIRM_ADMIN]
    admin = Principal(world.seeded.firm.firm_id, person.user_id, "user", frozenset({Role.FIRM_ADMIN}))
    audit = world.api.container.audit.history(admin, "contractor_matter_allocation", matter["matter_id"])
    assert sorted(record.action for record in audit) == [
        "back_to_problem_code",
        "case_created",
        "manual_adjustment",
    ]

    world.call(
        "PATCH",
        f"/matters/{matter['matter_id']}",
        {"version": matter["version"], "problem_code": "benefits"},
        token=world.admin,
    )
    moved = case_block(world, matter["matter_id"])
    assert moved["budget"]["allocated"] == "750.50" and moved["manually_adjusted"] is False
    assert reasons(moved) == [
        "back_to_problem_code",
        "case_created",
        "manual_adjustment",
        "problem_code_changed",
    ]


def test_the_route_is_in_the_api_description_with_its_body(world: ContractorWorld) -> None:
    spec = world.api.call("GET", "/openapi.json").body
    operation = spec["paths"]["/contractor/cases/{matter_id}/allocation/follow-problem-code"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body.endswith("/FollowProblemCodeIn")
    assert "422" in operation["responses"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"version": 2}, "note"),
        ({"version": 2, "note": ""}, "note"),
        ({"version": 2, "note": "   "}, "note"),
        ({"version": 2, "note": "x" * 1001}, "note"),
        ({"note": "Back"}, "version"),
        ({"version": -1, "note": "Back"}, "version"),
        ({"version": 2, "note": "Back", "allocated": "1.00"}, "allocated"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_changes_nothing(
    world: ContractorWorld, memory_table: Any, body: dict[str, Any], field: str
) -> None:
    add_problem_codes(world, ("eviction", "1500.00"))
    matter = open_case(world, "PF-2", "eviction")
    overridden = override(world, matter["matter_id"], "900.00")
    assert overridden["allocation_version"] == 2
    before = firm_items(memory_table, world.seeded.firm.firm_id)

    reply = follow(world, matter["matter_id"], body)

    assert reply.status == 422, reply.text
    assert field in {problem["field"].split(".")[-1] for problem in reply.body.get("errors", [])}
    assert firm_items(memory_table, world.seeded.firm.firm_id) == before


def test_a_stale_version_is_refused_and_changes_nothing(world: ContractorWorld, memory_table: Any) -> None:
    add_problem_codes(world, ("eviction", "1500.00"))
    matter = open_case(world, "PF-3", "eviction")
    first = override(world, matter["matter_id"], "900.00")
    override(world, matter["matter_id"], "950.00")  # someone else's change since `first` was read
    before = firm_items(memory_table, world.seeded.firm.firm_id)

    reply = follow(world, matter["matter_id"], {"version": first["allocation_version"], "note": "Back"})

    assert reply.status == 409, reply.text
    assert firm_items(memory_table, world.seeded.firm.firm_id) == before
    assert case_block(world, matter["matter_id"])["budget"]["allocated"] == "950.00"


def test_a_case_without_a_problem_code_is_refused_and_nothing_changes(
    world: ContractorWorld, memory_table: Any
) -> None:
    matter = open_case(world, "PF-4")
    overridden = override(world, matter["matter_id"], "300.00")
    before = firm_items(memory_table, world.seeded.firm.firm_id)

    reply = follow(world, matter["matter_id"], {"version": overridden["allocation_version"], "note": "Back"})

    assert reply.status == 409, reply.text
    assert "no legal problem code" in reply.text
    assert firm_items(memory_table, world.seeded.firm.firm_id) == before


def test_a_code_without_a_base_or_an_allocation_already_following_is_refused(
    world: ContractorWorld, memory_table: Any
) -> None:
    add_problem_codes(world, ("eviction", "1500.00"), ("advice", None))
    no_base = open_case(world, "PF-5", "advice")
    hand_set = override(world, no_base["matter_id"], "300.00")
    following = open_case(world, "PF-6", "eviction")
    following_version = case_block(world, following["matter_id"])["allocation_version"]
    before = firm_items(memory_table, world.seeded.firm.firm_id)

    without_base = follow(
        world, no_base["matter_id"], {"version": hand_set["allocation_version"], "note": "Back"}
    )
    already = follow(world, following["matter_id"], {"version": following_version, "note": "Back"})

    assert without_base.status == 409 and "no Contractor Base Matter Allocation" in without_base.text
    assert already.status == 409 and "already follows" in already.text
    assert firm_items(memory_table, world.seeded.firm.firm_id) == before


def test_while_an_approval_stands_deducted_it_is_refused(world: ContractorWorld, memory_table: Any) -> None:
    add_problem_codes(world, ("eviction", "1500.00"))
    matter = world.call("GET", f"/matters/{world.matter_id}", token=world.admin)
    world.call(
        "PATCH",
        f"/matters/{world.matter_id}",
        {"version": matter["version"], "problem_code": "eviction"},
        token=world.admin,
    )
    override(world, world.matter_id, "900.00")
    invoice = world.act(world.invoice([world.copies("10")["bt_id"]]), "submit")
    world.act(world.act(invoice, "verify", token=world.staff), "approve", token=world.staff)
    block = case_block(world, world.matter_id)
    assert block["budget"]["approved"] == "1.00" and block["manually_adjusted"] is True
    before = firm_items(memory_table, world.seeded.firm.firm_id)

    reply = follow(world, world.matter_id, {"version": block["allocation_version"], "note": "Back"})

    assert reply.status == 409, reply.text
    assert "approvals have deducted 1.00" in reply.text
    assert firm_items(memory_table, world.seeded.firm.firm_id) == before


def test_only_a_contractor_admin_may_do_it(world: ContractorWorld, memory_table: Any) -> None:
    add_problem_codes(world, ("eviction", "1500.00"))
    matter = open_case(world, "PF-7", "eviction")
    overridden = override(world, matter["matter_id"], "900.00")
    before = firm_items(memory_table, world.seeded.firm.firm_id)

    body = {"version": overridden["allocation_version"], "note": "Back"}
    assert follow(world, matter["matter_id"], body, token=world.casey).status == 403
    assert follow(world, "no-such-matter", body).status == 404
    assert firm_items(memory_table, world.seeded.firm.firm_id) == before
