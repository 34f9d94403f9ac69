"""One matter in the console's Clients & matters page, in headless Chromium against the running devstack:
Fiona (firm admin) opens a demo matter from the list, renames it and sets the client's languages; a rounding
of 0 minutes is refused beside its field and changes nothing; two tabs edit the same matter and the second
save is told to reload (409); a matter is closed behind a confirmation. Priya (billing manager, no
contractor permission) cannot read the legal problem code lookup and types the code's key instead; Sam
(assistant) only reads. Every view is photographed into test-results/.

The demo matter the tests change is put back afterwards, and the matters they close or code are their own,
so the other e2e tests sharing the devstack see the demo data as they expect.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.e2e.public_api import PublicApi

pytestmark = pytest.mark.e2e
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results"
DOMAIN = "halemercer.example"
FIONA = f"fiona.admin@{DOMAIN}"
PRIYA = f"priya.partner@{DOMAIN}"
DEMO_MATTER = "2026-0131"  # "Delgado estate plan": no other e2e test uses it
RESTORED = ("name", "languages", "rounding_increment_seconds", "responsible_user_id")
ALEX = f"alex.attorney@{DOMAIN}"


class Api(PublicApi):
    """The public API as one person, to seed matters and check what the console saved."""

    def matter(self, number: str) -> dict[str, Any]:
        return dict(
            self.call("GET", f"/matters?number={quote(number)}&limit=1&include_closed=true")["items"][0]
        )

    def matter_by_id(self, matter_id: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/matters/{matter_id}"))

    def new_matter(self, name: str, client_id: str) -> dict[str, Any]:
        """A matter of the test's own, so closing or coding it disturbs no demo data."""
        number = f"E2E-{uuid.uuid4().hex[:8].upper()}"
        body = {"number": number, "name": name, "client_id": client_id, "opened_on": "2026-01-05"}
        return dict(self.call("POST", "/matters", body))


def sign_in(page: Any, web: str, name: str, hash_: str = "") -> None:
    page.goto(f"{web}/console/{hash_}")
    page.get_by_role("button", name="Sign in with Microsoft").click()
    page.get_by_role("button", name=name).click()
    page.locator("#nav:not([hidden])").wait_for()


def open_matter(page: Any, matter_id: str) -> None:
    """Go to a matter's view and wait until it has drawn what it loaded."""
    page.evaluate("(id) => { window.location.hash = `#directory?matter=${id}`; }", matter_id)
    page.locator('.page[data-page="directory"][data-ready="true"] #matter-facts').wait_for()


def fact(page: Any, key: str) -> str:
    return str(page.locator(f'#matter-facts dd[data-fact="{key}"]').inner_text())


@pytest.fixture(scope="module")
def apis(devstack: Any) -> dict[str, Api]:
    return {email: Api(devstack.api, devstack.cli("token", email)) for email in (FIONA, PRIYA)}


@pytest.fixture
def demo_matter(apis: dict[str, Api]) -> Iterator[dict[str, Any]]:
    """The demo matter as it was, put back afterwards (only the fields these tests change)."""
    fiona = apis[FIONA]
    before = fiona.matter(DEMO_MATTER)
    yield before
    now = fiona.matter_by_id(before["matter_id"])
    changed = {key: before[key] for key in RESTORED if now[key] != before[key]}
    if changed:
        fiona.call("PATCH", f"/matters/{before['matter_id']}", {"version": now["version"], **changed})


def test_an_admin_opens_a_matter_from_the_list_and_renames_it_and_sets_its_languages(
    devstack: Any, apis: dict[str, Api], browser_page: Any, demo_matter: dict[str, Any]
) -> None:
    page = browser_page
    sign_in(page, devstack.web, "Fiona Admin", "#directory")
    page.locator("#matters-search").fill(DEMO_MATTER)
    page.locator("#matters-table tbody tr", has_text="Delgado").first.wait_for()
    page.get_by_role("link", name=DEMO_MATTER, exact=True).click()
    page.locator("#matter-form").wait_for()
    assert f"matter={demo_matter['matter_id']}" in page.evaluate("window.location.hash")
    assert page.locator("#matter-heading").inner_text() == f"{DEMO_MATTER} Delgado estate plan"
    assert fact(page, "client") == "Maria Delgado"
    # A firm admin reads the contractor module's lookup, so the problem code is chosen from a list.
    assert page.locator("select#matter-problem-code").count() == 1
    assert "Housing (housing)" in page.locator("#matter-problem-code option").all_inner_texts()
    assert fact(page, "responsible") == "Nobody"  # the demo book names nobody in Matterline
    page.screenshot(path=str(SCREENSHOTS / "console-matter-view.png"), full_page=True)

    page.get_by_label("Name", exact=True).fill("Delgado estate plan and trust")
    page.get_by_label("Responsible attorney").select_option(label="Alex Attorney")
    page.get_by_label("Client languages").fill("Spanish, Portuguese , spanish")
    # The preview shows what will be kept: each language once, whatever its case.
    assert page.locator("#matter-languages-preview li").all_inner_texts() == ["Spanish", "Portuguese"]
    page.get_by_role("button", name="Save changes").click()
    page.locator("#matter-status", has_text="Saved: name, responsible attorney, client languages").wait_for()
    assert page.locator("#matter-heading").inner_text() == f"{DEMO_MATTER} Delgado estate plan and trust"
    assert fact(page, "name") == "Delgado estate plan and trust"
    assert page.locator('#matter-facts dd[data-fact="languages"] li').all_inner_texts() == [
        "Spanish",
        "Portuguese",
    ]
    assert fact(page, "responsible") == "Alex Attorney"
    assert fact(page, "version") == str(demo_matter["version"] + 1)
    page.screenshot(path=str(SCREENSHOTS / "console-matter-saved.png"), full_page=True)

    saved = apis[FIONA].matter_by_id(demo_matter["matter_id"])
    assert saved["name"] == "Delgado estate plan and trust"
    assert saved["languages"] == ["Spanish", "Portuguese"]
    alex = next(u for u in apis[FIONA].call("GET", "/users?limit=200")["items"] if u["email"] == ALEX)
    assert saved["responsible_user_id"] == alex["user_id"]
    # Only what changed was sent: everything else is as it was.
    for key in (
        "billing_method",
        "utbms_required",
        "rounding_increment_seconds",
        "problem_code",
    ):
        assert saved[key] == demo_matter[key], key

    # Back to the list: it shows the new name.
    page.get_by_role("link", name="← All matters").click()
    page.locator("#matters-search").fill(DEMO_MATTER)
    page.locator("#matters-table tbody tr", has_text="Delgado estate plan and trust").wait_for()


def test_a_rounding_of_zero_is_refused_beside_its_field_and_changes_nothing(
    devstack: Any, apis: dict[str, Api], browser_page: Any, demo_matter: dict[str, Any]
) -> None:
    page = browser_page
    sign_in(page, devstack.web, "Fiona Admin", "#directory")
    open_matter(page, demo_matter["matter_id"])
    page.get_by_label("Name", exact=True).fill("Delgado estate plan (never saved)")
    page.get_by_label("Rounding (minutes)").fill("0")
    page.get_by_role("button", name="Save changes").click()
    error = page.locator("#matter-rounding-error")
    error.wait_for()
    assert "at most 60 minutes" in error.inner_text()
    assert page.get_by_label("Rounding (minutes)").get_attribute("aria-invalid") == "true"
    assert "matter-rounding-error" in (
        page.get_by_label("Rounding (minutes)").get_attribute("aria-describedby") or ""
    )
    assert page.locator("#matter-name-error").is_hidden()
    assert page.locator("#matter-problem").inner_text() == (
        "The matter was not saved: correct the fields marked below and save again."
    )
    assert page.evaluate("document.activeElement.id") == "matter-rounding"
    page.screenshot(path=str(SCREENSHOTS / "console-matter-field-error.png"), full_page=True)

    unchanged = apis[FIONA].matter_by_id(demo_matter["matter_id"])
    assert unchanged["version"] == demo_matter["version"]
    assert unchanged["name"] == demo_matter["name"]
    assert unchanged["rounding_increment_seconds"] == demo_matter["rounding_increment_seconds"]

    # Corrected, the same form saves, and the field error goes away.
    page.get_by_label("Rounding (minutes)").fill("6")
    page.get_by_label("Name", exact=True).fill(demo_matter["name"])
    page.get_by_role("button", name="Save changes").click()
    page.locator("#matter-status", has_text="Saved: rounding").wait_for()
    assert page.locator("#matter-problem").is_hidden()
    assert fact(page, "rounding") == "6 min"
    assert apis[FIONA].matter_by_id(demo_matter["matter_id"])["rounding_increment_seconds"] == 360


def test_the_second_of_two_tabs_is_told_to_reload(
    devstack: Any, apis: dict[str, Api], browser_page: Any, demo_matter: dict[str, Any]
) -> None:
    first = browser_page
    second = first.context.new_page()
    for page in (first, second):
        sign_in(page, devstack.web, "Fiona Admin", "#directory")
        open_matter(page, demo_matter["matter_id"])

    first.get_by_label("Name", exact=True).fill("Delgado estate plan (first tab)")
    first.get_by_role("button", name="Save changes").click()
    first.locator("#matter-status", has_text="Saved").wait_for()

    second.get_by_label("Client languages").fill("Tagalog")
    second.get_by_role("button", name="Save changes").click()
    alert = second.locator("#matter-problem")
    alert.get_by_role("button", name="Reload").wait_for()
    assert "Someone changed this matter; reload" in alert.inner_text()
    second.screenshot(path=str(SCREENSHOTS / "console-matter-conflict.png"), full_page=True)
    kept = apis[FIONA].matter_by_id(demo_matter["matter_id"])
    assert kept["name"] == "Delgado estate plan (first tab)"
    assert kept["languages"] == demo_matter["languages"]  # the second tab's change was refused

    alert.get_by_role("button", name="Reload").click()
    second.locator("#matter-status", has_text="Reloaded").wait_for()
    assert alert.is_hidden()
    assert fact(second, "name") == "Delgado estate plan (first tab)"
    assert second.get_by_label("Name", exact=True).input_value() == "Delgado estate plan (first tab)"
    second.get_by_label("Client languages").fill("Tagalog")
    second.get_by_role("button", name="Save changes").click()
    second.locator("#matter-status", has_text="Saved: client languages").wait_for()
    assert apis[FIONA].matter_by_id(demo_matter["matter_id"])["languages"] == ["Tagalog"]


def test_an_admin_closes_a_matter_after_confirming_and_reopens_it(
    devstack: Any, apis: dict[str, Api], browser_page: Any, demo_matter: dict[str, Any]
) -> None:
    fiona = apis[FIONA]
    matter = fiona.new_matter("Delgado - probate of the estate (e2e)", demo_matter["client_id"])
    page = browser_page
    sign_in(page, devstack.web, "Fiona Admin", "#directory")
    open_matter(page, matter["matter_id"])
    assert fact(page, "status") == "Open"

    page.get_by_role("button", name="Close matter").click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    dialog.get_by_role("button", name="Cancel").click()
    page.locator("dialog").wait_for(state="detached")
    assert fiona.matter_by_id(matter["matter_id"])["status"] == "open"

    page.get_by_role("button", name="Close matter").click()
    dialog.get_by_label("Closed on").fill("2026-11-30")
    page.screenshot(path=str(SCREENSHOTS / "console-matter-close-dialog.png"))
    dialog.get_by_role("button", name="Close matter").click()
    page.locator("#matter-status", has_text="Closed on 2026-11-30").wait_for()
    assert fact(page, "status") == "Closed"
    assert fact(page, "closed_on") == "2026-11-30"
    assert page.locator("#matter-close").count() == 0
    page.screenshot(path=str(SCREENSHOTS / "console-matter-closed.png"), full_page=True)
    closed = fiona.matter_by_id(matter["matter_id"])
    assert closed["status"] == "closed" and closed["closed_on"] == "2026-11-30"

    # The estate needs more work: the matter opens again and its closing day goes.
    page.get_by_role("button", name="Reopen matter").click()
    page.locator("#matter-status", has_text="Reopened").wait_for()
    assert fact(page, "status") == "Open"
    reopened = fiona.matter_by_id(matter["matter_id"])
    assert (reopened["status"], reopened["closed_on"]) == ("open", None)


def test_without_the_contractor_lookup_the_problem_code_is_typed_as_a_key(
    devstack: Any, apis: dict[str, Api], browser_page: Any, demo_matter: dict[str, Any]
) -> None:
    matter = apis[FIONA].new_matter("Delgado - tenancy dispute (e2e)", demo_matter["client_id"])
    page = browser_page
    sign_in(page, devstack.web, "Priya Partner", "#directory")
    open_matter(page, matter["matter_id"])
    code = page.get_by_label("Legal problem code")
    assert code.evaluate("(node) => node.tagName") == "INPUT"
    assert "cannot read" in page.locator("#matter-problem-code-hint").inner_text()

    code.fill("no_such_code")
    page.get_by_role("button", name="Save changes").click()
    page.locator("#matter-problem-code-error", has_text="not an active legal problem code").wait_for()
    page.screenshot(path=str(SCREENSHOTS / "console-matter-problem-code-key.png"), full_page=True)
    assert apis[PRIYA].matter_by_id(matter["matter_id"])["problem_code"] is None

    code.fill("housing")
    page.get_by_role("button", name="Save changes").click()
    page.locator("#matter-status", has_text="Saved: legal problem code").wait_for()
    assert fact(page, "problem_code") == "housing"
    assert apis[PRIYA].matter_by_id(matter["matter_id"])["problem_code"] == "housing"


def test_an_assistant_reads_a_matter_without_a_form(
    devstack: Any, browser_page: Any, demo_matter: dict[str, Any]
) -> None:
    page = browser_page
    sign_in(page, devstack.web, "Sam Assistant", "#directory")
    open_matter(page, demo_matter["matter_id"])
    assert fact(page, "number") == DEMO_MATTER
    assert page.locator("#matter-form").count() == 0
    assert page.locator("#matter-close").count() == 0
    page.screenshot(path=str(SCREENSHOTS / "console-matter-read-only.png"), full_page=True)
