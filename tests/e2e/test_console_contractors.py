"""The console's contractor pages in headless Chromium against the running devstack, signed in through the
simulated Entra ID: Casey (contractor) logs work and builds an invoice from pending billing transactions;
Drew (contractor staff) disputes one transaction; Casey revises it and resubmits; Drew verifies, approves,
schedules the payment on a pay period and records it paid. The final state is checked through the API, and
every contractor page is photographed into test-results/.

The firm's contractor configuration is seeded through the public API and tolerates what the devstack's demo
data already holds (Casey registered, the catalog, lookup values), so the test does not depend on it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.e2e.public_api import PublicApi

pytestmark = pytest.mark.e2e
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results"
DOMAIN = "halemercer.example"
FIONA = f"fiona.admin@{DOMAIN}"
CASEY = f"casey.contractor@{DOMAIN}"
DREW = f"drew.staff@{DOMAIN}"
WORK_DAY = "2026-11-18"
CASE_NUMBER = "2026-0101"


class Api(PublicApi):
    """The public API as one person, to seed the contractor module and check what the console did."""


def seed_contractor_firm(admin: Api, staff: Api, casey: Api) -> dict[str, Any]:
    """Settings with a pay period schedule, the lookup values, Casey as a contractor, a small catalog, a
    work order for Casey on an open case and two pending billing transactions of Casey's (idempotent)."""
    settings = admin.call("GET", "/contractor/settings")
    if settings["pay_period_schedule"] is None:
        admin.call(
            "PUT",
            "/contractor/settings",
            {
                "version": settings["version"],
                "replace_name_with_dba_on_invoices": settings["replace_name_with_dba_on_invoices"],
                "pay_period_schedule": {"interval": "twice_monthly_standard", "start_date": "2026-01-01"},
            },
        )
    for lookup, key, label in (
        ("contractor_product_service_category", "research", "Research"),
        ("contractor_product_service_category", "copying", "Copying"),
        ("contractor_expense_reimbursement_type", "mileage", "Mileage"),
        ("contractor_payment_method", "check", "Check"),
    ):
        table = admin.call("GET", f"/contractor/lookups/{lookup}")
        if not any(v["key"] == key for v in table["values"]):
            admin.call(
                "POST",
                f"/contractor/lookups/{lookup}/values",
                {"version": table["version"], "key": key, "label": label},
            )
    casey_user = next(u for u in admin.call("GET", "/users?limit=200")["items"] if u["email"] == CASEY)
    contractors = admin.call("GET", "/contractor/contractors")
    contractor = next((c for c in contractors if c["contractor_id"] == casey_user["user_id"]), None)
    if contractor is None:
        contractor = admin.call(
            "POST",
            "/contractor/contractors",
            {
                "kind": "user",
                "user_id": casey_user["user_id"],
                "name": "Casey Contractor",
                "email": CASEY,
                "assignments": [{"assignment_type": "investigator", "values": []}],
            },
        )
    products = {p["name"]: p for p in admin.call("GET", "/contractor/products")}
    for name, rate, unit, category in (
        ("Field research (e2e)", "150.00", "hour", "research"),
        ("Copies (e2e)", "0.10", "each", "copying"),
    ):
        if name not in products:
            products[name] = admin.call(
                "POST",
                "/contractor/products",
                {"name": name, "default_rate": rate, "unit_type": unit, "category": category},
            )
    matter = admin.call("GET", f"/matters?number={quote(CASE_NUMBER)}&limit=1")["items"][0]
    work_order = staff.call(
        "POST",
        "/contractor/work-orders",
        {
            "assignee": {"kind": "user", "contractor_id": contractor["contractor_id"]},
            "title": "Witness interviews, Acme v. Vega (e2e)",
            "matter_ids": [matter["matter_id"]],
            "start_date": "2026-11-01",
            "end_date": "2027-01-31",
            "items": [
                {"product_id": products["Field research (e2e)"]["product_id"]},
                {"product_id": products["Copies (e2e)"]["product_id"]},
            ],
            "expense_types": ["mileage"],
        },
    )
    psr = {p["product_name"]: p["psr_id"] for p in work_order["psrs"]}
    path = f"/contractor/work-orders/{work_order['work_order_id']}/billing-transactions"
    research = casey.call(
        "POST",
        path,
        {
            "bt_type": "timeslip",
            "work_date": WORK_DAY,
            "psr_id": psr["Field research (e2e)"],
            "minutes": 150,
            "description": "Interviewed two witnesses",
        },
    )
    mileage = casey.call(
        "POST",
        path,
        {
            "bt_type": "expense_reimbursement",
            "work_date": WORK_DAY,
            "expense_type": "mileage",
            "amount": "42.18",
            "description": "Drive to the warehouse",
        },
    )
    return {
        "contractor": contractor,
        "work_order": work_order,
        "matter": matter,
        "bt_ids": [research["bt_id"], mileage["bt_id"]],
    }


def sign_in(page: Any, web: str, name: str, hash_: str = "") -> None:
    page.goto(f"{web}/console/{hash_}")
    page.get_by_role("button", name="Sign in with Microsoft").click()
    page.get_by_role("button", name=name).click()
    page.locator("#nav:not([hidden])").wait_for()


def open_page(page: Any, hash_: str) -> None:
    """Follow a console link and wait until the page has drawn what it loaded."""
    page.evaluate(f"window.location.hash = '#{hash_}'")
    page.locator(f".page[data-page='{hash_.split('?')[0]}'][data-ready]").wait_for()


def unlabelled_controls(page: Any) -> list[str]:
    return list(
        page.evaluate(
            """() => [...document.querySelectorAll('#view input, #view select, #view textarea')]
                 .filter((c) => c.offsetParent !== null && !c.labels?.length && !c.getAttribute('aria-label'))
                 .map((c) => c.outerHTML)"""
        )
    )


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"console-contractor-{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def apis(devstack: Any) -> dict[str, Api]:
    return {email: Api(devstack.api, devstack.cli("token", email)) for email in (FIONA, CASEY, DREW)}


@pytest.fixture(scope="module")
def seeded(apis: dict[str, Api]) -> dict[str, Any]:
    return seed_contractor_firm(apis[FIONA], apis[DREW], apis[CASEY])


def test_an_invoice_goes_from_pending_transactions_through_a_dispute_to_paid(
    devstack: Any, apis: dict[str, Api], seeded: dict[str, Any], browser_page: Any
) -> None:
    page = browser_page
    work_order_id = seeded["work_order"]["work_order_id"]

    # Casey logs 30 copies on the work order (30 x 0.10), then invoices exactly this test's transactions.
    sign_in(page, devstack.web, "Casey Contractor", f"#contractor-work-orders?id={work_order_id}")
    page.locator(".page[data-page='contractor-work-orders'][data-ready]").wait_for()
    page.get_by_label("PSR", exact=True).select_option(label="Copies (e2e) ($0.10 per each)")
    page.get_by_label("Work date").fill(WORK_DAY)
    page.get_by_label("Units", exact=True).fill("30")
    page.get_by_label("Description", exact=True).fill("Copies of the lease file")
    page.get_by_role("button", name="Log transaction").click()
    page.locator("#wo-status-line", has_text="Logged $3.00").wait_for()
    assert page.locator("#wo-bts tbody tr").count() == 3
    # Each transaction says what its rate is per, and Casey (who may not read /matters) sees the case named.
    logged = page.locator("#wo-bts").inner_text()
    assert "150 min at $150.00 per hour" in logged and "30 \u00d7 $0.10 each" in logged
    matter = seeded["matter"]
    summary = page.locator("dl.cw-facts", has_text="Assigned to").inner_text()
    assert f"{matter['number']} {matter['name']}" in summary
    shot(page, "work-order")
    copies = next(
        bt
        for bt in apis[CASEY].call("GET", f"/contractor/work-orders/{work_order_id}")["billing_transactions"]
        if bt["bt_id"] not in seeded["bt_ids"]
    )
    ours = {*seeded["bt_ids"], copies["bt_id"]}

    open_page(page, "contractor-invoices?new=1")
    for box in page.locator("#pool-table input[data-bt]").all():
        box.set_checked(box.get_attribute("data-bt") in ours)
    # 150 minutes at 150.00 an hour + 42.18 mileage + 3.00 copies, summed exactly.
    assert page.locator("#selected-total").inner_text() == "$420.18"
    shot(page, "new-invoice")
    page.get_by_role("button", name="Create draft invoice").click()
    page.locator(".page[data-invoice-status=draft]").wait_for()
    invoice_id = page.locator(".page h1").inner_text().removeprefix("Invoice ")
    assert "150 min at $150.00 per hour" in page.locator("#invoice-bts").inner_text()
    page.get_by_role("button", name="Submit for review").click()
    page.locator(".page[data-invoice-status=submitted]").wait_for()
    # The contractor is offered nothing of the staff's review.
    assert page.get_by_role("button", name="Verify invoice").count() == 0
    shot(page, "invoice-submitted")

    # Drew finds it in the submitted queue and disputes the copies.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, devstack.web, "Drew Staff", "#contractor-invoices?status=submitted")
    page.locator("#invoice-table").wait_for()
    shot(page, "queue")
    page.get_by_role("link", name=invoice_id).click()
    page.locator(".page[data-invoice-status=submitted]").wait_for()
    page.locator(f"#invoice-bts tr[data-bt='{copies['bt_id']}'] input[type=checkbox]").check()
    page.get_by_role("group", name="Selected transactions").get_by_role("button", name="Dispute…").click()
    page.locator("dialog[open]").get_by_label("Reason").fill("Only 12 pages were requested")
    page.locator("dialog[open]").get_by_role("button", name="Dispute", exact=True).click()
    page.locator(f"#invoice-bts tr[data-bt='{copies['bt_id']}'][data-status=disputed]").wait_for()
    page.get_by_role("button", name="Dispute invoice").click()
    page.locator(".page[data-invoice-status=disputed]").wait_for()
    shot(page, "invoice-disputed")

    # Casey sees the reason, revises the copies to 12 and resubmits.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, devstack.web, "Casey Contractor", f"#contractor-invoices?id={invoice_id}")
    page.locator(".page[data-invoice-status=disputed]").wait_for()
    assert "Only 12 pages were requested" in page.locator("#invoice-bts").inner_text()
    page.get_by_role("button", name="Revise Product/service").click()
    page.locator("dialog[open]").get_by_label("Units").fill("12")
    page.locator("dialog[open]").get_by_role("button", name="Save revision").click()
    page.locator(f"#invoice-bts tr[data-bt='{copies['bt_id']}'][data-status=invoiced]").wait_for()
    assert page.locator("#invoice-facts").inner_text().count("$418.38") == 1
    page.get_by_role("button", name="Resubmit").click()
    page.locator(".page[data-invoice-status=submitted]").wait_for()

    # Drew verifies, approves, schedules and pays.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, devstack.web, "Drew Staff", f"#contractor-invoices?id={invoice_id}")
    page.locator(".page[data-invoice-status=submitted]").wait_for()
    page.get_by_role("button", name="Verify invoice").click()
    page.locator(".page[data-invoice-status=verified]").wait_for()
    page.get_by_role("button", name="Approve for payment…").click()
    page.locator("dialog[open]").get_by_role("button", name="Approve", exact=True).click()
    page.locator(".page[data-invoice-status=approved]").wait_for()
    page.get_by_role("button", name="Schedule payment…").click()
    period = page.locator("dialog[open]").get_by_label("Pay period")
    pay_period_start = period.input_value()
    page.locator("dialog[open]").get_by_role("button", name="Schedule", exact=True).click()
    page.locator(".page[data-invoice-status=payment_scheduled]").wait_for()
    page.get_by_role("button", name="Record payment…").click()
    page.locator("dialog[open]").get_by_label("Payment method").select_option("check")
    page.locator("dialog[open]").get_by_label("Check or transaction id").fill("CHK-2044")
    page.locator("dialog[open]").get_by_role("button", name="Record payment").click()
    page.locator(".page[data-invoice-status=paid]").wait_for()
    page.locator("#invoice-status", has_text="Payment recorded").wait_for()
    shot(page, "invoice-paid")

    paid = apis[DREW].call("GET", f"/contractor/invoices/{invoice_id}")
    assert paid["status"] == "paid"
    assert paid["total"] == "418.38"
    assert paid["payment_method"] == "check" and paid["payment_reference"] == "CHK-2044"
    assert paid["pay_period"]["start"] == pay_period_start
    assert {bt["bt_id"]: bt["status"] for bt in paid["billing_transactions"]} == dict.fromkeys(ours, "paid")
    assert {bt["bt_id"]: bt["amount"] for bt in paid["billing_transactions"]}[copies["bt_id"]] == "1.20"
    assert paid["dispute_count"] == 1


def test_each_role_sees_only_its_contractor_pages_and_every_control_is_labelled(
    devstack: Any, apis: dict[str, Api], seeded: dict[str, Any], browser_page: Any
) -> None:
    page = browser_page
    sign_in(page, devstack.web, "Casey Contractor")
    # A contractor lands on their invoices and never sees the agency's setup.
    page.locator(".page[data-page='contractor-invoices'][data-ready]").wait_for()
    assert "contractor-setup" not in page.evaluate("window.matterline.pages")
    for hash_ in ("contractor-invoices", "contractor-work-orders"):
        open_page(page, hash_)
        assert unlabelled_controls(page) == [], hash_
        shot(page, f"casey-{hash_.removeprefix('contractor-')}")
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, devstack.web, "Fiona Admin")
    case_id = seeded["work_order"]["matter_ids"][0]
    casey = seeded["contractor"]
    for name, hash_ in (
        ("work-orders", "contractor-work-orders"),
        ("invoices-paid", "contractor-invoices?status=paid"),
        ("setup-cases", f"contractor-setup?tab=cases&matter={case_id}"),
        ("setup-contractors", "contractor-setup?tab=contractors"),
        ("setup-catalog", f"contractor-setup?tab=catalog&contractor=user/{casey['contractor_id']}"),
        ("setup-allocations", "contractor-setup?tab=allocations"),
        ("setup-settings", "contractor-setup?tab=settings"),
        ("setup-lookups", "contractor-setup?tab=lookups"),
    ):
        open_page(page, hash_)
        assert not page.locator("#problem").is_visible(), page.locator("#problem").inner_text()
        errors = page.locator("#view .error:visible")
        assert errors.count() == 0, errors.first.inner_text()
        assert unlabelled_controls(page) == [], hash_
        shot(page, name)
    # The work order list names each case, from the work orders themselves.
    open_page(page, "contractor-work-orders")
    matter = seeded["matter"]
    assert f"{matter['number']} {matter['name']}" in page.locator("#wo-table").inner_text()
    # The case shows its budget, and Casey among the contractors recommended for it.
    open_page(page, f"contractor-setup?tab=cases&matter={case_id}")
    assert "Casey Contractor" in page.locator("#recommended-table").inner_text()
    assert page.locator("#case-budget").is_visible()
    # Casey's annual allocation can be set, and then changed again (the standing names its version).
    allocation = f"/contractor/contractors/user/{casey['contractor_id']}"
    before = apis[FIONA].call("GET", f"{allocation}/standing")["version"]
    open_page(page, "contractor-setup?tab=allocations")
    for amount, shown in (("250000.00", "$250,000.00"), ("", "No limit")):
        page.get_by_role("button", name="Set the annual allocation of Casey Contractor").click()
        page.locator("dialog[open]").get_by_label("Allocation").fill(amount)
        page.locator("dialog[open]").get_by_role("button", name="Save").click()
        # The tab draws again from the API once saved: the row shows the new allocation.
        page.locator("#annual-table tr", has_text="Casey Contractor").filter(has_text=shown).wait_for()
    standing = apis[FIONA].call("GET", f"{allocation}/standing")
    assert standing["version"] == before + 2 and standing["allocation"] is None
    # A tablet: the invoice list still fits, the navigation folds into the menu.
    page.set_viewport_size({"width": 820, "height": 1100})
    open_page(page, "contractor-invoices?status=paid")
    assert not page.locator("#nav").is_visible()
    shot(page, "tablet-invoices")


# The smallest valid PNG (1x1 pixel): a receipt photo.
RECEIPT_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


def test_an_expense_carries_its_receipt_which_downloads_unchanged(
    devstack: Any, apis: dict[str, Api], seeded: dict[str, Any], browser_page: Any
) -> None:
    page = browser_page
    work_order_id = seeded["work_order"]["work_order_id"]
    sign_in(page, devstack.web, "Casey Contractor", f"#contractor-work-orders?id={work_order_id}")
    page.locator(".page[data-page='contractor-work-orders'][data-ready]").wait_for()
    # Expense types read as the firm named them, not by their keys.
    assert "Expense types Mileage" in " ".join(page.locator("main").inner_text().split())
    page.get_by_role("radio", name="Expense").check()
    assert page.get_by_label("Expense type").locator("option").all_inner_texts() == ["Mileage"]
    page.get_by_label("Work date").fill(WORK_DAY)
    page.get_by_label("Amount").fill("18.50")
    page.get_by_label("Receipts").set_input_files(
        [{"name": "parking.png", "mimeType": "image/png", "buffer": RECEIPT_PNG}]
    )
    page.get_by_label("Description", exact=True).fill("Courthouse parking")
    page.get_by_role("button", name="Log transaction").click()
    page.locator("#wo-status-line", has_text="Logged $18.50").wait_for()
    with page.expect_download() as downloaded:
        page.get_by_role("button", name="Download receipt parking.png").click()
    assert Path(downloaded.value.path()).read_bytes() == RECEIPT_PNG
    shot(page, "expense-receipt")
    logged = apis[CASEY].call("GET", f"/contractor/work-orders/{work_order_id}")["billing_transactions"]
    parking = next(bt for bt in logged if bt["description"] == "Courthouse parking")
    assert parking["amount"] == "18.50" and [r["file_name"] for r in parking["receipts"]] == ["parking.png"]


def test_a_bulk_verify_reports_each_invoice_and_refuses_the_one_that_cannot_be_verified(
    devstack: Any, apis: dict[str, Api], seeded: dict[str, Any], browser_page: Any
) -> None:
    casey, drew = apis[CASEY], apis[DREW]
    contractor = {"kind": "user", "contractor_id": seeded["contractor"]["contractor_id"]}
    work_order = seeded["work_order"]
    copies_psr = next(p["psr_id"] for p in work_order["psrs"] if p["product_name"] == "Copies (e2e)")
    invoices = []
    for units in ("4", "6"):
        bt = casey.call(
            "POST",
            f"/contractor/work-orders/{work_order['work_order_id']}/billing-transactions",
            {"bt_type": "product_service", "work_date": WORK_DAY, "psr_id": copies_psr, "units": units},
        )
        draft = casey.call(
            "POST", "/contractor/invoices", {"contractor": contractor, "bt_ids": [bt["bt_id"]]}
        )
        invoices.append(
            casey.call(
                "POST",
                f"/contractor/invoices/{draft['invoice_id']}/actions",
                {"action": "submit", "version": draft["version"]},
            )
        )
    good, denied = invoices
    # Every transaction of the second invoice is denied: there is nothing left to verify on it.
    drew.call(
        "POST",
        f"/contractor/invoices/{denied['invoice_id']}/actions",
        {
            "action": "deny_bts",
            "version": denied["version"],
            "bt_ids": [bt["bt_id"] for bt in denied["billing_transactions"]],
            "reason": "Not requested",
        },
    )

    page = browser_page
    sign_in(page, devstack.web, "Drew Staff", "#contractor-invoices?status=submitted")
    page.locator("#invoice-table").wait_for()
    for invoice in invoices:
        page.locator(f"input[data-invoice='{invoice['invoice_id']}']").check()
    page.get_by_label("Action").select_option("verify")
    page.get_by_role("button", name="Apply to 2").click()
    results = page.locator("#bulk-result-table")
    results.wait_for()
    assert page.locator("#invoice-list-status").inner_text() == "1 of 2 invoices done."
    assert "Done: now Verified" in results.locator("tr", has_text=good["invoice_id"]).inner_text()
    assert "Not done" in results.locator("tr", has_text=denied["invoice_id"]).inner_text()
    shot(page, "bulk-results")
    assert drew.call("GET", f"/contractor/invoices/{good['invoice_id']}")["status"] == "verified"
    assert drew.call("GET", f"/contractor/invoices/{denied['invoice_id']}")["status"] == "submitted"


def interpreters_for_a_tagalog_speaker(admin: Api) -> str:
    """A case whose client speaks Tagalog, one interpreter who speaks it and one who does not (idempotent);
    the case's id. Organizations need their add-on, which this turns on if the firm has not."""
    settings = admin.call("GET", "/contractor/settings")
    if not settings["add_ons"]["organizations"]:
        sections = (
            "replace_name_with_dba_on_invoices",
            "invoice_action_notifications",
            "approved_invoice_pdf",
        )
        admin.call(
            "PUT",
            "/contractor/settings",
            {
                **{key: settings[key] for key in (*sections, "annual_allocations", "pay_period_schedule")},
                "add_ons": {**settings["add_ons"], "organizations": True},
                "version": settings["version"],
            },
        )
    registered = {c["name"] for c in admin.call("GET", "/contractor/contractors")}
    for name, language in (
        ("Tagalog Interpreters (e2e)", "Tagalog"),
        ("Ilocano Interpreters (e2e)", "Ilocano"),
    ):
        if name not in registered:
            admin.call(
                "POST",
                "/contractor/contractors",
                {
                    "kind": "organization",
                    "name": name,
                    "assignments": [{"assignment_type": "interpreter", "values": [language]}],
                },
            )
    found = admin.call("GET", "/matters?number=E2E-REC-1&limit=1")["items"]
    if found:
        return str(found[0]["matter_id"])
    client = admin.call("POST", "/clients", {"name": "Reyes family (e2e)"})
    case = admin.call(
        "POST",
        "/matters",
        {
            "number": "E2E-REC-1",
            "name": "Reyes: benefits appeal",
            "client_id": client["client_id"],
            "languages": ["Tagalog"],
        },
    )
    return str(case["matter_id"])


def test_the_recommended_contractors_open_filtered_by_the_case_and_removing_a_filter_widens_the_list(
    devstack: Any, apis: dict[str, Api], seeded: dict[str, Any], browser_page: Any
) -> None:
    case_id = interpreters_for_a_tagalog_speaker(apis[FIONA])
    page = browser_page
    sign_in(page, devstack.web, "Fiona Admin")
    open_page(page, f"contractor-setup?tab=cases&matter={case_id}")

    # The client's language is a filter from the case: only the interpreter who speaks it is offered.
    filters = page.locator("#rec-filters[data-source=case]")
    assert "Speaks: Tagalog (from the case)" in " ".join(filters.locator("li.chip").all_inner_texts())
    listed = page.locator("#recommended-table").inner_text()
    assert "Tagalog Interpreters (e2e)" in listed and "Ilocano Interpreters (e2e)" not in listed
    shot(page, "recommended-from-the-case")

    # Removing the chip asks for the remaining filters explicitly: interpreters are no longer narrowed.
    page.get_by_role("button", name="Remove filter Speaks: Tagalog").click()
    page.locator("#rec-filters[data-source=request]").wait_for()
    assert "Ilocano Interpreters (e2e)" in page.locator("#recommended-table").inner_text()
    page.get_by_role("button", name="Show everyone").click()
    page.locator("#rec-filters[data-source=none]").wait_for()
    assert page.locator("#rec-filters li.chip").count() == 0
    page.get_by_role("button", name="Back to the default filters").click()
    page.locator("#rec-filters[data-source=case]").wait_for()

    # An admin's custom default filters replace the case's until they are cleared.
    try:
        open_page(page, "contractor-setup?tab=settings")
        page.get_by_label("Use these filters for every case").check()
        page.get_by_label("Languages spoken").fill("Ilocano")
        shot(page, "settings-recommended-defaults")
        page.get_by_role("button", name="Save default filters").click()
        page.locator("#rec-defaults-status", has_text="Default filters saved").wait_for()
        open_page(page, f"contractor-setup?tab=cases&matter={case_id}")
        custom = page.locator("#rec-filters[data-source=custom]")
        assert "Speaks: Ilocano (set by your admin)" in " ".join(custom.locator("li.chip").all_inner_texts())
        listed = page.locator("#recommended-table").inner_text()
        assert "Ilocano Interpreters (e2e)" in listed and "Tagalog Interpreters (e2e)" not in listed
        shot(page, "recommended-custom-defaults")
        open_page(page, "contractor-setup?tab=settings")
        page.get_by_label("Inherit them from each case", exact=False).check()
        page.get_by_role("button", name="Save default filters").click()
        page.locator("#rec-defaults-status", has_text="Default filters cleared").wait_for()
    finally:
        settings = apis[FIONA].call("GET", "/contractor/settings")
        if settings["recommended_list"]["custom_default_filters"] is not None:
            apis[FIONA].call(
                "PUT",
                "/contractor/settings/recommended-list",
                {"version": settings["version"], "custom_default_filters": None},
            )
    open_page(page, f"contractor-setup?tab=cases&matter={case_id}")
    page.locator("#rec-filters[data-source=case]").wait_for()
