"""The contractor module through the API: the main journeys, money, visibility, receipts, bad input."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.domain.identity import Role
from chalicelib.domain.roster import User, UserStatus
from tests.support.contractors import ContractorWorld, firm_items, seed_contractor_world


@pytest.fixture
def world(api, firm_a) -> ContractorWorld:  # type: ignore[no-untyped-def]
    return seed_contractor_world(api, firm_a)


def test_a_contractor_invoice_goes_from_draft_to_paid_with_exact_totals(world: ContractorWorld) -> None:
    ten = world.copies("10")  # 1.00
    three = world.copies("3.5")  # 0.35
    slip = world.timeslip(50)  # 50/60 x 150.00 = 125.00
    invoice = world.invoice([ten["bt_id"], three["bt_id"], slip["bt_id"]])
    assert invoice["status"] == "draft" and invoice["total"] == "126.35"
    assert invoice["payee_name"] == "Casey Legal Services"
    assert {c["category"]: c["amount"] for c in invoice["totals_by_category"]} == {
        "legal": "125.00",
        "uncategorized": "1.35",
    }

    submitted = world.act(invoice, "submit")
    verified = world.act(submitted, "verify", token=world.staff)
    approved = world.act(verified, "approve", token=world.staff)
    scheduled = world.act(approved, "schedule", token=world.staff, pay_period_start="2026-03-01")
    paid = world.act(
        scheduled, "pay", token=world.staff, payment_method="check", payment_reference="CHK-1001"
    )

    assert paid["status"] == "paid" and paid["total"] == "126.35"
    assert paid["pay_period"] == {"start": "2026-03-01", "end": "2026-03-15"}
    assert {bt["status"] for bt in paid["billing_transactions"]} == {"paid"}
    case = world.call("GET", f"/contractor/cases/{world.matter_id}", token=world.staff)
    assert case["budget"]["approved"] == "126.35"
    assert [line["reason"] for line in case["log"]] == ["invoice_approved"]
    audit = world.api.container.audit.history(_admin(world), "contractor_invoice", invoice["invoice_id"])
    assert [r.action for r in audit] == ["create", "submit", "verify", "approve", "schedule", "pay"]


def _admin(world: ContractorWorld) -> Any:
    from chalicelib.domain.identity import Principal

    person = world.seeded.people[Role.FIRM_ADMIN]
    return Principal(world.seeded.firm.firm_id, person.user_id, "user", frozenset({Role.FIRM_ADMIN}))


def test_approval_returns_disputed_and_denied_transactions_to_the_pool_keeping_their_status(
    world: ContractorWorld,
) -> None:
    keep, dispute, deny = (world.copies(units) for units in ("10", "20", "30"))
    invoice = world.act(world.invoice([keep["bt_id"], dispute["bt_id"], deny["bt_id"]]), "submit")
    invoice = world.act(
        invoice, "dispute_bts", token=world.staff, bt_ids=[dispute["bt_id"]], reason="Not asked"
    )
    invoice = world.act(invoice, "deny_bts", token=world.staff, bt_ids=[deny["bt_id"]], reason="Duplicate")
    invoice = world.act(invoice, "verify", token=world.staff)

    approved = world.act(invoice, "approve", token=world.staff)

    assert approved["total"] == "1.00" and approved["bt_count"] == 1
    pool = world.call(
        "GET", f"/contractor/contractors/user/{world.contractor['contractor_id']}/billing-transactions"
    )
    assert {bt["bt_id"]: bt["status"] for bt in pool} == {
        dispute["bt_id"]: "disputed",
        deny["bt_id"]: "denied",
    }


def test_the_dispute_loop_runs_until_staff_verify(world: ContractorWorld) -> None:
    bt = world.copies("10")
    invoice = world.act(world.invoice([bt["bt_id"]]), "submit")
    invoice = world.act(invoice, "dispute_bts", token=world.staff, bt_ids=[bt["bt_id"]], reason="Too many")
    invoice = world.act(invoice, "dispute", token=world.staff)
    assert invoice["status"] == "disputed" and invoice["dispute_count"] == 1

    revised = world.call(
        "PATCH",
        f"/contractor/work-orders/{world.work_order_id}/billing-transactions/{bt['bt_id']}",
        {"version": invoice["billing_transactions"][0]["version"], "units": "4"},
    )
    assert revised["status"] == "invoiced" and revised["amount"] == "0.40"
    reread = world.call("GET", f"/contractor/invoices/{invoice['invoice_id']}")
    assert reread["total"] == "0.40"
    resubmitted = world.act(reread, "resubmit")
    verified = world.act(resubmitted, "verify", token=world.staff)
    assert verified["status"] == "verified" and verified["total"] == "0.40"


def test_a_contractor_never_sees_another_contractors_records(world: ContractorWorld, api, firm_a) -> None:  # type: ignore[no-untyped-def]
    bt = world.copies("10")
    invoice = world.invoice([bt["bt_id"]])
    other = User(
        firm_id=firm_a.firm.firm_id,
        user_id="other-contractor",
        email="other@contractors.example",
        display_name="Other Contractor",
        roles=frozenset({Role.CONTRACTOR}),
        status=UserStatus.ACTIVE,
        identity_oid="oid-other-contractor",
    )
    api.container.roster.add_member(firm_a.firm.firm_id, other, "system")
    token = api.mint.token(tenant=firm_a.tenant, oid="oid-other-contractor", email=other.email)

    paths = [
        f"/contractor/invoices/{invoice['invoice_id']}",
        f"/contractor/work-orders/{world.work_order_id}",
        f"/contractor/contractors/user/{world.contractor['contractor_id']}/billing-transactions",
        f"/contractor/contractors/user/{world.contractor['contractor_id']}",
    ]
    for path in paths:
        assert api.call("GET", path, token=token).status == 404, path
    acted = api.call(
        "POST",
        f"/contractor/invoices/{invoice['invoice_id']}/actions",
        token=token,
        body={"action": "submit", "version": invoice["version"]},
    )
    assert acted.status == 404
    listed = api.call("GET", "/contractor/invoices", token=token)
    assert listed.status == 200 and listed.body["items"] == []
    orders = api.call("GET", "/contractor/work-orders", token=token)
    assert orders.status == 200 and orders.body["items"] == []


def test_a_contractor_cannot_verify_or_approve_their_own_invoice(world: ContractorWorld) -> None:
    invoice = world.act(world.invoice([world.copies("10")["bt_id"]]), "submit")
    reply = world.api.call(
        "POST",
        f"/contractor/invoices/{invoice['invoice_id']}/actions",
        token=world.casey,
        body={"action": "verify", "version": invoice["version"]},
    )
    assert reply.status == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"bt_type": "product_service", "psr_id": "psr-1", "units": 10, "work_date": "2026-03-09"},
            "body.units",
        ),
        (
            {"bt_type": "product_service", "psr_id": "psr-1", "units": "1.00001", "work_date": "2026-03-09"},
            "body.units",
        ),
        (
            {"bt_type": "product_service", "psr_id": "psr-2", "units": "1", "work_date": "2026-03-09"},
            "psr_id",
        ),
        ({"bt_type": "timeslip", "psr_id": "psr-2", "minutes": 30, "work_date": "2026-03-09"}, "description"),
        (
            {
                "bt_type": "expense_reimbursement",
                "amount": "0.00",
                "expense_type": "mileage",
                "work_date": "2026-03-09",
            },
            "amount",
        ),
        (
            {
                "bt_type": "product_service",
                "psr_id": "psr-1",
                "units": "1",
                "work_date": "2026-03-09",
                "x": 1,
            },
            "body.x",
        ),
    ],
)
def test_bad_billing_transactions_are_refused_naming_the_field_and_change_nothing(
    world: ContractorWorld, memory_table: Any, body: dict[str, Any], field: str
) -> None:
    before = firm_items(memory_table, world.seeded.firm.firm_id)
    reply = world.api.call(
        "POST",
        f"/contractor/work-orders/{world.work_order_id}/billing-transactions",
        token=world.casey,
        body=body,
    )
    assert reply.status == 422, reply.text
    assert field in {error["field"] for error in reply.body["errors"]}
    assert firm_items(memory_table, world.seeded.firm.firm_id) == before


def test_a_stale_version_is_refused_with_409_and_changes_nothing(
    world: ContractorWorld, memory_table: Any
) -> None:
    invoice = world.invoice([world.copies("10")["bt_id"]])
    world.act(invoice, "submit")
    before = firm_items(memory_table, world.seeded.firm.firm_id)
    reply = world.api.call(
        "POST",
        f"/contractor/invoices/{invoice['invoice_id']}/actions",
        token=world.casey,
        body={"action": "add_note", "version": invoice["version"], "note": "late"},
    )
    assert reply.status == 409
    assert firm_items(memory_table, world.seeded.firm.firm_id) == before


def test_an_expense_carries_its_uploaded_receipt_which_downloads_unchanged(world: ContractorWorld) -> None:
    pdf = b"%PDF-1.4 receipt for mileage"
    receipt = world.call(
        "POST",
        f"/contractor/work-orders/{world.work_order_id}/receipts",
        {
            "file_name": "mileage.pdf",
            "content_type": "application/pdf",
            "content_base64": base64.b64encode(pdf).decode(),
        },
    )
    bt = world.call(
        "POST",
        f"/contractor/work-orders/{world.work_order_id}/billing-transactions",
        {
            "bt_type": "expense_reimbursement",
            "expense_type": "mileage",
            "amount": "42.50",
            "receipt_ids": [receipt["document_id"]],
            "work_date": "2026-03-09",
        },
    )
    downloaded = world.call(
        "GET",
        f"/contractor/work-orders/{world.work_order_id}/receipts/{receipt['document_id']}",
        token=world.staff,
    )

    assert bt["amount"] == "42.50" and bt["receipts"][0]["document_id"] == receipt["document_id"]
    assert base64.b64decode(downloaded["content_base64"]) == pdf
    refused = world.api.call(
        "POST",
        f"/contractor/work-orders/{world.work_order_id}/receipts",
        token=world.casey,
        body={"file_name": "x.exe", "content_type": "application/x-msdownload", "content_base64": "AAAA"},
    )
    assert refused.status == 422


def test_a_formula_rate_is_evaluated_when_the_transaction_is_logged(world: ContractorWorld) -> None:
    small = world.call(
        "POST",
        f"/contractor/work-orders/{world.work_order_id}/billing-transactions",
        {
            "bt_type": "product_service",
            "psr_id": "psr-3",
            "formula_inputs": ["100", "1"],
            "work_date": "2026-03-09",
        },
    )
    large = world.call(
        "POST",
        f"/contractor/work-orders/{world.work_order_id}/billing-transactions",
        {
            "bt_type": "product_service",
            "psr_id": "psr-3",
            "formula_inputs": ["1000.5", "1"],
            "work_date": "2026-03-09",
        },
    )
    assert small["amount"] == "25.00" and large["amount"] == "120.06"


def test_bulk_actions_report_each_invoice(world: ContractorWorld) -> None:
    first = world.act(world.invoice([world.copies("10")["bt_id"]]), "submit")
    second = world.invoice([world.copies("5")["bt_id"]])  # still a draft

    reply = world.call(
        "POST",
        "/contractor/invoices/bulk",
        {"action": "verify", "invoice_ids": [first["invoice_id"], second["invoice_id"], "inv-missing"]},
        token=world.staff,
    )

    outcome = {r["invoice_id"]: (r["ok"], r["status"] or r["code"]) for r in reply}
    assert outcome == {
        first["invoice_id"]: (True, "verified"),
        second["invoice_id"]: (False, "conflict"),
        "inv-missing": (False, "not_found"),
    }


def test_listing_invoices_by_status_is_one_query(world: ContractorWorld, memory_table: Any) -> None:
    for units in ("1", "2", "3"):
        world.act(world.invoice([world.copies(units)["bt_id"]]), "submit")
    service = world.api.container.contractors
    staff = world.seeded.people[Role.CONTRACTOR_STAFF]
    from chalicelib.domain.contractors.lookups import InvoiceStatus
    from chalicelib.domain.identity import Principal

    principal = Principal(staff.firm_id, staff.user_id, "user", frozenset({Role.CONTRACTOR_STAFF}))
    before = memory_table.stats.queries
    page = service.invoices(principal, InvoiceStatus.SUBMITTED, None, None, 50)
    assert memory_table.stats.queries - before == 1
    assert len(page.items) == 3 and sum(Decimal(i.total) for i in page.items) == Decimal("0.60")


def test_deleting_a_draft_returns_its_transactions_to_the_pool(world: ContractorWorld) -> None:
    bt = world.copies("10")
    invoice = world.invoice([bt["bt_id"]])
    reply = world.api.call(
        "DELETE",
        f"/contractor/invoices/{invoice['invoice_id']}?version={invoice['version']}",
        token=world.casey,
    )
    assert reply.status == 204
    assert (
        world.api.call("GET", f"/contractor/invoices/{invoice['invoice_id']}", token=world.casey).status
        == 404
    )
    pool = world.call(
        "GET", f"/contractor/contractors/user/{world.contractor['contractor_id']}/billing-transactions"
    )
    assert [(b["bt_id"], b["status"], b["invoice_id"]) for b in pool] == [(bt["bt_id"], "pending", None)]


def test_the_reply_to_each_action_is_what_a_fresh_read_shows(world: ContractorWorld) -> None:
    bts = [world.copies(units)["bt_id"] for units in ("1", "2", "3")]
    invoice = world.invoice(bts)
    steps: list[tuple[str, dict[str, Any], str]] = [
        ("submit", {}, world.casey),
        ("dispute_bts", {"bt_ids": [bts[0]], "reason": "why?"}, world.staff),
        ("dispute_bts", {"bt_ids": [bts[0]], "reason": "why?"}, world.staff),
        ("verify", {}, world.staff),
        ("approve", {}, world.staff),
    ]
    for action, params, token in steps:
        invoice = world.act(invoice, action, token=token, **params)
        fresh = world.call("GET", f"/contractor/invoices/{invoice['invoice_id']}", token=token)
        assert invoice == fresh, action
