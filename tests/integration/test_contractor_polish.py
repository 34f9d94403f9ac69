"""What the console found missing in the contractor API: the annual allocation's version, open work-order
counts in the recommended list, linked cases' numbers and names on work orders, the caller's contractor
permissions on ``/me``, and the unit a BT's rate is per."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from chalicelib.adapters.persistence.contractors import TableContractorRepository
from chalicelib.domain.contractors.contractors import ContractorKind, ContractorRef
from chalicelib.domain.contractors.permissions import ContractorPermission
from chalicelib.domain.contractors.transactions import with_psr_unit
from chalicelib.domain.identity import Role
from tests.support.contractors import ContractorWorld, a_work_order, copies_bt, seed_contractor_world


@pytest.fixture
def world(api, firm_a) -> ContractorWorld:  # type: ignore[no-untyped-def]
    return seed_contractor_world(api, firm_a)


def casey_path(world: ContractorWorld) -> str:
    return f"/contractor/contractors/user/{world.contractor['contractor_id']}"


# ------------------------------------------------------------------ 1. the annual allocation's version


def test_the_standing_names_the_allocation_version_so_the_allocation_can_be_changed_again(
    world: ContractorWorld,
) -> None:
    path = casey_path(world)
    assert world.call("GET", f"{path}/standing", token=world.admin)["version"] == 0

    first = world.call(
        "PUT", f"{path}/annual-allocation", {"version": 0, "amount": "5000.00"}, token=world.admin
    )
    assert first["allocation"] == "5000.00" and first["version"] == 1

    read = world.call("GET", f"{path}/standing", token=world.admin)
    assert read["version"] == 1
    second = world.call(
        "PUT",
        f"{path}/annual-allocation",
        {"version": read["version"], "amount": "7500.00"},
        token=world.admin,
    )
    assert second["allocation"] == "7500.00" and second["version"] == 2

    cleared = world.call(
        "PUT", f"{path}/annual-allocation", {"version": 2, "amount": None}, token=world.admin
    )
    assert cleared["allocation"] is None and cleared["version"] == 3


def test_an_annual_allocation_saved_from_a_stale_standing_is_refused_and_changes_nothing(
    world: ContractorWorld,
) -> None:
    path = casey_path(world)
    world.call("PUT", f"{path}/annual-allocation", {"version": 0, "amount": "5000.00"}, token=world.admin)

    stale = world.api.call(
        "PUT", f"{path}/annual-allocation", token=world.admin, body={"version": 0, "amount": "9.00"}
    )

    assert stale.status == 409
    after = world.call("GET", f"{path}/standing", token=world.admin)
    assert after["allocation"] == "5000.00" and after["version"] == 1


# ------------------------------------------------------------------ 2. least busy first


def register_organization(world: ContractorWorld, name: str) -> dict[str, str]:
    created = world.call(
        "POST",
        "/contractor/contractors",
        {
            "kind": "organization",
            "name": name,
            "assignments": [{"assignment_type": "contract_attorney", "values": ["housing"]}],
        },
        token=world.admin,
    )
    return {"kind": "organization", "contractor_id": created["contractor_id"]}


def work_order_for(world: ContractorWorld, assignee: dict[str, str], title: str) -> dict[str, Any]:
    result: dict[str, Any] = world.call(
        "POST",
        "/contractor/work-orders",
        {"assignee": assignee, "title": title, "matter_ids": [world.matter_id]},
        token=world.staff,
    )
    return result


def test_recommended_contractors_come_least_busy_first_counting_only_open_work_orders(
    world: ContractorWorld,
) -> None:
    # Name order would be Acme, Casey, Zeta; open work orders say Zeta (0), Casey (1), Acme (2).
    acme = register_organization(world, "Acme Advocates")
    register_organization(world, "Zeta Counsel")
    work_order_for(world, acme, "Hearing one")
    work_order_for(world, acme, "Hearing two")
    done = work_order_for(world, acme, "Finished long ago")
    world.call(
        "POST",
        f"/contractor/work-orders/{done['work_order_id']}/complete",
        {"version": done["version"]},
        token=world.staff,
    )
    other_client = world.call("POST", "/clients", {"name": "Other"}, token=world.admin)
    other_case = world.call(
        "POST",
        "/matters",
        {"number": "2026-900", "name": "Unrelated", "client_id": other_client["client_id"]},
        token=world.admin,
    )

    found = world.call(
        "GET",
        f"/contractor/cases/{other_case['matter_id']}/recommended?include_already_assigned=true",
        token=world.staff,
    )

    assert [(r["contractor"]["name"], r["open_work_orders"]) for r in found["contractors"]] == [
        ("Zeta Counsel", 0),
        ("Casey Contractor", 1),
        ("Acme Advocates", 2),
    ]


@pytest.mark.parametrize("table_fixture", ["memory_table", "dynamodb_table"])
def test_open_work_orders_are_counted_per_contractor_with_one_query(
    table_fixture: str, request: pytest.FixtureRequest, clock: Any
) -> None:
    table = request.getfixturevalue(table_fixture)
    repository = TableContractorRepository(table, clock)
    first = a_work_order(work_order_id="wo-1")
    repository.save_work_order(first, "user:s-sam", "create")
    repository.save_work_order(a_work_order(work_order_id="wo-2"), "user:s-sam", "create")
    from chalicelib.domain.contractors.work_orders import WorkOrderStatus

    finished = replace(a_work_order(work_order_id="wo-3"), status=WorkOrderStatus.COMPLETE)
    repository.save_work_order(finished, "user:s-sam", "create")
    stats = getattr(table, "stats", None)
    before = stats.queries if stats else 0

    counts = repository.open_work_order_counts(first.firm_id)

    assert counts == {ContractorRef(ContractorKind.USER, "u-alice"): 2}
    if stats:
        assert stats.queries - before == 1


# ------------------------------------------------------------------ 3. linked cases on work orders


def test_a_contractors_work_orders_carry_each_linked_cases_number_and_name_and_nothing_more(
    world: ContractorWorld,
) -> None:
    listed = world.call("GET", "/contractor/work-orders")["items"]
    one = world.call("GET", f"/contractor/work-orders/{world.work_order_id}")["work_order"]

    expected = [{"matter_id": world.matter_id, "number": "2026-001", "name": "Eviction defence"}]
    assert [wo["cases"] for wo in listed] == [expected]
    assert one["cases"] == expected
    # Only the number and name travel: not the client, nor any other matter field.
    assert set(one["cases"][0]) == {"matter_id", "number", "name"}
    assert "Tenant Union" not in str(one) and "client" not in str(one["cases"])
    # The matter itself stays closed to a contractor.
    assert world.api.call("GET", f"/matters/{world.matter_id}", token=world.casey).status == 403


def test_a_work_order_changed_to_link_another_case_answers_with_both_cases_named(
    world: ContractorWorld,
) -> None:
    client = world.call("POST", "/clients", {"name": "Second client"}, token=world.admin)
    second = world.call(
        "POST",
        "/matters",
        {"number": "2026-002", "name": "Housing appeal", "client_id": client["client_id"]},
        token=world.admin,
    )
    current = world.call("GET", f"/contractor/work-orders/{world.work_order_id}", token=world.staff)[
        "work_order"
    ]

    changed = world.call(
        "POST",
        f"/contractor/work-orders/{world.work_order_id}/cases",
        {"version": current["version"], "link": [second["matter_id"]]},
        token=world.staff,
    )

    assert [(c["number"], c["name"]) for c in changed["cases"]] == [
        ("2026-001", "Eviction defence"),
        ("2026-002", "Housing appeal"),
    ]


# ------------------------------------------------------------------ 4. /me


def test_me_lists_a_contractors_permissions_and_who_they_are_in_the_contractor_module(
    world: ContractorWorld,
) -> None:
    me = world.call("GET", "/me")

    assert me["contractor_permissions"] == sorted(
        p.value
        for p in (
            ContractorPermission.INVOICE_CREATE_EDIT,
            ContractorPermission.WORK_ORDER_CREATE_EDIT,
            ContractorPermission.DELETE_BT,
        )
    )
    assert me["contractor"] == world.contractor


def test_me_lists_staff_permissions_without_admin_and_none_for_an_attorney(api, firm_a) -> None:  # type: ignore[no-untyped-def]
    staff = api.call("GET", "/me", token=api.token_for(firm_a, Role.CONTRACTOR_STAFF)).body
    attorney = api.call("GET", "/me", token=api.token_for(firm_a, Role.ATTORNEY)).body

    assert set(staff["contractor_permissions"]) == {p.value for p in ContractorPermission} - {
        ContractorPermission.ADMIN.value
    }
    assert staff["contractor"] is None
    assert attorney["contractor_permissions"] == [] and attorney["contractor"] is None


# ------------------------------------------------------------------ 5. the unit of a BT's rate


def test_billing_transactions_name_the_unit_their_rate_is_per_wherever_they_are_shown(
    world: ContractorWorld,
) -> None:
    timeslip = world.timeslip(150)
    copies = world.copies("3")
    expense = world.call(
        "POST",
        f"/contractor/work-orders/{world.work_order_id}/billing-transactions",
        {
            "bt_type": "expense_reimbursement",
            "expense_type": "mileage",
            "amount": "12.00",
            "work_date": "2026-03-09",
        },
    )

    def units(bts: list[dict[str, Any]]) -> dict[str, tuple[Any, Any, Any]]:
        return {bt["bt_id"]: (bt["unit_type"], bt["unit"], bt["minutes_per_unit"]) for bt in bts}

    expected = {
        timeslip["bt_id"]: ("hour", "Hour", 60),
        copies["bt_id"]: ("each", "Each", None),
        expense["bt_id"]: (None, None, None),
    }
    assert timeslip["amount"] == "375.00" and timeslip["rate"] == "150.00"
    assert units([timeslip, copies, expense]) == expected
    detail = world.call("GET", f"/contractor/work-orders/{world.work_order_id}")
    assert units(detail["billing_transactions"]) == expected
    pool = world.call("GET", f"{casey_path(world)}/billing-transactions")
    assert units(pool) == expected
    invoice = world.call(
        "POST",
        "/contractor/invoices",
        {"contractor": world.contractor, "bt_ids": list(expected)},
    )
    assert units(invoice["billing_transactions"]) == expected


def test_a_unit_type_renamed_by_the_firm_shows_its_new_label_on_billing_transactions(
    world: ContractorWorld,
) -> None:
    product = world.call(
        "POST",
        "/contractor/products",
        {"name": "Translation", "default_rate": "12.50", "unit_type": "page"},
        token=world.admin,
    )
    current = world.call("GET", f"/contractor/work-orders/{world.work_order_id}", token=world.staff)
    with_psr = world.call(
        "POST",
        f"/contractor/work-orders/{world.work_order_id}/psrs",
        {"version": current["work_order"]["version"], "product_id": product["product_id"]},
        token=world.staff,
    )
    psr_id = next(p["psr_id"] for p in with_psr["psrs"] if p["product_id"] == product["product_id"])
    bt = world.call(
        "POST",
        f"/contractor/work-orders/{world.work_order_id}/billing-transactions",
        {"bt_type": "product_service", "psr_id": psr_id, "units": "4", "work_date": "2026-03-09"},
    )
    assert (bt["unit_type"], bt["unit"], bt["amount"]) == ("page", "Page", "50.00")
    lookup = world.call("GET", "/contractor/lookups/contractor_fee_unit_type", token=world.admin)
    world.call(
        "PATCH",
        "/contractor/lookups/contractor_fee_unit_type/values/page",
        {"version": lookup["version"], "label": "Sheet"},
        token=world.admin,
    )

    detail = world.call("GET", f"/contractor/work-orders/{world.work_order_id}")

    shown = next(b for b in detail["billing_transactions"] if b["bt_id"] == bt["bt_id"])
    assert (shown["unit_type"], shown["unit"]) == ("page", "Sheet")


def test_a_bt_logged_before_units_were_recorded_takes_its_unit_from_its_psr() -> None:
    work_order = a_work_order()
    logged = copies_bt(work_order, "bt-old")
    older = replace(logged, unit_type=None, minutes_per_unit=None)

    filled = with_psr_unit(older, work_order)

    assert (filled.unit_type, filled.minutes_per_unit) == ("each", None)
    assert with_psr_unit(logged, work_order) is logged
