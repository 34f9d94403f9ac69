"""The console's "Use the problem code's allocation" button in headless Chromium against the devstack: Fiona
(admin) opens a case whose allocation was set by hand, is asked for a note first, then hands the allocation
back to its problem code; the budget card redraws showing the code's base allocation, set by the problem code.
Screenshots go to test-results/."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.e2e.test_console_contractors import FIONA, SCREENSHOTS, Api, open_page, sign_in

pytestmark = pytest.mark.e2e
CODE = "e2e_follow"


@pytest.fixture(scope="module")
def admin(devstack: Any) -> Api:
    return Api(devstack.api, devstack.cli("token", FIONA))


def hand_set_case(admin: Api) -> str:
    """A new case with a problem code whose base is 1200.00, its allocation then set by hand to 800.00
    (the Matter Allocations add-on and the code are turned on and added if the firm lacks them)."""
    settings = admin.call("GET", "/contractor/settings")
    if not settings["add_ons"]["matter_allocations"]:
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
                "add_ons": {**settings["add_ons"], "matter_allocations": True},
                "version": settings["version"],
            },
        )
    codes = admin.call("GET", "/contractor/lookups/legal_problem_code")
    if not any(value["key"] == CODE for value in codes["values"]):
        admin.call(
            "POST",
            "/contractor/lookups/legal_problem_code/values",
            {
                "version": codes["version"],
                "key": CODE,
                "label": "Follow test (e2e)",
                "base_matter_allocation": "1200.00",
            },
        )
    client = admin.call("POST", "/clients", {"name": "Okafor household (e2e)"})
    case = admin.call(
        "POST",
        "/matters",
        {
            "number": f"E2E-FOL-{uuid.uuid4().hex[:6]}",
            "name": "Okafor: housing repairs",
            "client_id": client["client_id"],
            "problem_code": CODE,
        },
    )
    matter_id = str(case["matter_id"])
    block = admin.call("GET", f"/contractor/cases/{matter_id}")
    assert block["budget"]["allocated"] == "1200.00", block
    admin.call(
        "PUT",
        f"/contractor/cases/{matter_id}/allocation",
        {"version": block["allocation_version"], "allocated": "800.00", "note": "Expert needed"},
    )
    return matter_id


def test_a_hand_set_allocation_goes_back_to_its_problem_code_from_the_budget_card(
    devstack: Any, admin: Api, browser_page: Any
) -> None:
    matter_id = hand_set_case(admin)
    page = browser_page
    sign_in(page, devstack.web, "Fiona Admin")
    open_page(page, f"contractor-setup?tab=cases&matter={matter_id}")

    budget = page.locator("#case-budget")
    assert "hand" in budget.inner_text() and "800.00" in budget.inner_text()
    button = page.get_by_role("button", name="Use the problem code's allocation")
    page.screenshot(path=str(SCREENSHOTS / "console-allocation-follow-before.png"), full_page=True)

    # Without a note nothing is sent: the card says what is missing.
    button.click()
    page.get_by_role("alert").filter(has_text="Say why the allocation goes back").wait_for()
    assert admin.call("GET", f"/contractor/cases/{matter_id}")["manually_adjusted"] is True

    page.get_by_label("Why").fill("Expert no longer needed")
    button.click()
    # The page draws again from the API once saved: the log gains the line, the card its new source.
    page.locator("#allocation-log", has_text="back to problem code").wait_for()
    card = page.locator("#case-budget").inner_text()
    assert "hand" not in card and "problem code" in card
    assert "1,200.00" in card or "1200.00" in card
    assert page.get_by_role("button", name="Use the problem code's allocation").count() == 0
    log = page.locator("#allocation-log").inner_text()
    assert "Fiona Admin" in log and "user:" not in log, "the log names people, not their ids"
    page.screenshot(path=str(SCREENSHOTS / "console-allocation-follow-after.png"), full_page=True)

    block = admin.call("GET", f"/contractor/cases/{matter_id}")
    assert block["manually_adjusted"] is False and block["budget"]["allocated"] == "1200.00"
    line = next(line for line in block["log"] if line["reason"] == "back_to_problem_code")
    assert line["note"] == "Expert no longer needed"
