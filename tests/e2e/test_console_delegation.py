"""Delegation and inviting a person, in headless Chromium against the running devstack.

Alex Attorney makes Sam Assistant a delegate on the Delegates page; Sam opens Alex's timeline from there,
never sees Alex's personal items, and assigns a matter to one of Alex's entries; the API (as Alex) shows the
change and the audit trail names Sam; Alex revokes and Sam's console says Sam may no longer open it.
Fiona Admin invites a person on the People page: an invalid and a duplicate email are refused beside the
email field and create nothing; the new person appears in the list and is then disabled, so the demo roster
other tests count keeps its active people.

The devstack is shared by every e2e test: Alex's delegate list is restored whatever happens, and the
timeline data lives on a day of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.e2e.public_api import PublicApi
from tests.e2e.test_console import sign_in

pytestmark = pytest.mark.e2e
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results"
DOMAIN = "halemercer.example"
ALEX = f"alex.attorney@{DOMAIN}"
SAM = f"sam.assistant@{DOMAIN}"
FIONA = f"fiona.admin@{DOMAIN}"
DELEGATION_DAY = "2026-12-08"  # a Tuesday of its own, far from the demo mailboxes' live day
MATTER = "2026-0101"
PRIVATE = "PRIVATE appointment with my doctor"
NEWCOMER = f"nora.newcomer@{DOMAIN}"


class Api(PublicApi):
    """The public API as one person, to seed data and check what the console did."""

    def user(self, email: str) -> dict[str, Any] | None:
        return next((u for u in self.call("GET", "/users?limit=200")["items"] if u["email"] == email), None)

    def set_delegates(self, delegates: list[dict[str, str]]) -> dict[str, Any]:
        version = self.call("GET", "/me/delegates")["version"]
        return dict(self.call("PUT", "/me/delegates", {"version": version, "delegates": delegates}))


@pytest.fixture(scope="module")
def apis(devstack: Any) -> dict[str, Api]:
    return {email: Api(devstack.api, devstack.cli("token", email)) for email in (ALEX, SAM, FIONA)}


@pytest.fixture
def pages() -> Iterator[Any]:
    """Opens a page per person, each in its own browser context (its own sign-in), in one Chromium;
    fails the test if any console threw."""
    import shutil

    from playwright.sync_api import sync_playwright

    from tests.e2e.browser import CHROMIUM_FLAGS

    SCREENSHOTS.mkdir(exist_ok=True)
    problems: list[str] = []
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    assert executable, "Chromium is missing: `make test` installs it from Debian's packages"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)

        def open_page() -> Any:
            context = browser.new_context(viewport={"width": 1360, "height": 900}, ignore_https_errors=True)
            page = context.new_page()
            page.set_default_timeout(20_000)
            page.on("pageerror", lambda error: problems.append(str(error)))
            return page

        try:
            yield open_page
        finally:
            browser.close()
    assert not problems, f"the console threw: {problems}"


def seed_alex_day(alex: Api) -> None:
    """Two business items and one personal item on Alex's day (idempotent: capture ids are stable)."""
    items = [
        ("lease", "15:00", 1800, "Delegation e2e: drafted the lease amendment", False),
        ("call", "16:00", 900, "Delegation e2e: call about the closing", False),
        ("doctor", "17:00", 1200, PRIVATE, True),
    ]
    alex.call(
        "POST",
        "/capture/batch",
        {
            "items": [
                {
                    "id": f"delegation-{key}-{DELEGATION_DAY}",
                    "type": "manual",
                    "at": f"{DELEGATION_DAY}T{at}:00Z",
                    "duration_seconds": seconds,
                    "note": text,
                    "subject": text,
                    "personal": personal,
                }
                for key, at, seconds, text, personal in items
            ]
        },
    )


def test_an_attorney_delegates_the_assistant_acts_for_them_and_loses_access_on_revoke(
    devstack: Any, apis: dict[str, Api], pages: Any
) -> None:
    alex, fiona = apis[ALEX], apis[FIONA]
    original = [
        {"user_id": d["user_id"], "access": d["access"]}
        for d in alex.call("GET", "/me/delegates")["delegates"]
    ]
    sam_id = apis[SAM].call("GET", "/me")["user"]["user_id"]
    alex_id = alex.call("GET", "/me")["user"]["user_id"]
    acme = alex.call("GET", f"/matters?number={quote(MATTER)}&limit=1")["items"][0]
    seed_alex_day(alex)
    try:
        # Alex grants Sam "View and change" on the Delegates page.
        owner = pages()
        sign_in(owner, devstack.web, "Alex Attorney", "#delegates")
        owner.locator(".page[data-page=delegates][data-ready]").wait_for()
        # An attorney cannot read the roster: they name the delegate by email; one matching nobody is refused.
        owner.get_by_label("Person").fill(f"nobody@{DOMAIN}")
        owner.get_by_role("button", name="Add delegate").click()
        owner.locator("#problem", has_text="is not an active person in your firm").wait_for()
        assert alex.call("GET", "/me/delegates")["delegates"] == original
        owner.get_by_label("Person").fill(SAM)
        owner.get_by_label("Access").select_option("act")
        owner.get_by_role("button", name="Add delegate").click()
        owner.locator("#delegates-status", has_text="Saved.").wait_for()
        granted = owner.locator("#delegates-list")
        assert "Sam Assistant" in granted.inner_text() and "View and change" in granted.inner_text()
        owner.screenshot(path=str(SCREENSHOTS / "console-delegation-granted.png"), full_page=True)
        assert {"user_id": sam_id, "access": "act"} in [
            {"user_id": d["user_id"], "access": d["access"]}
            for d in alex.call("GET", "/me/delegates")["delegates"]
        ]

        # Sam signs in, finds Alex under "Whom I act for" and opens Alex's day from there.
        delegate = pages()
        sign_in(delegate, devstack.web, "Sam Assistant", "#delegates")
        delegate.locator(".page[data-page=delegates][data-ready]").wait_for()
        assert (
            "View and change"
            in delegate.get_by_role("listitem").filter(has_text="Alex Attorney").inner_text()
        )
        delegate.screenshot(path=str(SCREENSHOTS / "console-delegation-acting-for.png"), full_page=True)
        delegate.get_by_role("link", name="Alex Attorney's timeline").click()
        delegate.locator(".page[data-page=timeline][data-ready]").wait_for()
        delegate.get_by_label("Date", exact=True).fill(DELEGATION_DAY)
        delegate.wait_for_function(f"window.location.hash.includes('date={DELEGATION_DAY}')")
        delegate.locator("#timeline-table[data-state=ready]").wait_for()
        delegate.get_by_role("heading", name="Timeline of Alex Attorney").wait_for()
        assert delegate.get_by_label("Whose timeline").input_value() == alex_id
        rows = delegate.locator("#timeline-table tr[data-entry-row]")
        assert rows.count() == 2
        assert PRIVATE not in delegate.locator("#view").inner_text()
        assert "Personal (only you)" not in delegate.locator("#view").inner_text()
        delegate.screenshot(path=str(SCREENSHOTS / "console-delegation-alex-timeline.png"), full_page=True)

        # Sam assigns the matter to one of Alex's entries through the entry editor.
        lease = rows.filter(has_text="drafted the lease amendment")
        lease.get_by_role("button", name="Edit entry at").click()
        editor = delegate.locator("dialog[open]")
        editor.get_by_role("combobox", name="Matter").fill(MATTER)
        editor.get_by_role("option", name=MATTER).first.click()
        assert PRIVATE not in editor.inner_text()
        delegate.screenshot(path=str(SCREENSHOTS / "console-delegation-editor.png"))
        editor.get_by_role("button", name="Save", exact=True).click()
        delegate.locator("#timeline-status", has_text="Entry saved.").wait_for()
        assert MATTER in rows.filter(has_text="drafted the lease amendment").inner_text()
        delegate.screenshot(path=str(SCREENSHOTS / "console-delegation-assigned.png"), full_page=True)

        # Alex's own view has the change; the audit trail names Sam as who made it.
        day = alex.call("GET", f"/timeline?date={DELEGATION_DAY}")
        changed = next(e for e in day["entries"] if "lease amendment" in e["narrative"])
        other = next(e for e in day["entries"] if "closing" in e["narrative"])
        assert changed["matter_id"] == acme["matter_id"] and changed["status"] == "assigned"
        assert other["matter_id"] is None
        assert any(e["personal"] and e["subject"] == PRIVATE for e in day["events"])  # still Alex's alone
        history = fiona.call("GET", f"/audit/entry/{changed['entry_id']}")
        by_sam = [r for r in history if r["actor"] == f"user:{sam_id}"]
        assert by_sam and by_sam[-1]["after"]["matter_id"] == acme["matter_id"], history

        # Alex revokes on the Delegates page.
        owner.get_by_role("button", name="Remove Sam Assistant").click()
        owner.locator("#delegates-status", has_text="Saved.").wait_for()
        assert "Nobody can open your timeline." in owner.locator("#delegates-list").inner_text()
        owner.screenshot(path=str(SCREENSHOTS / "console-delegation-revoked.png"), full_page=True)
        assert alex.call("GET", "/me/delegates")["delegates"] == original

        # Sam, still on Alex's timeline, moves to the next day: the console says the timeline is closed.
        delegate.get_by_role("button", name="Next period").click()
        problem = delegate.locator("#problem")
        problem.wait_for()
        assert "no longer shares their timeline with you" in problem.inner_text()
        assert delegate.locator("#view table").count() == 0, "nothing of Alex's stays on screen to edit"
        delegate.screenshot(path=str(SCREENSHOTS / "console-delegation-closed.png"), full_page=True)
        # Reopening the Delegates page shows Sam acts for nobody now.
        delegate.evaluate("window.location.hash = '#delegates'")
        delegate.locator(".page[data-page=delegates][data-ready]").wait_for()
        assert "Nobody has made you their delegate." in delegate.locator("#view").inner_text()
        # A fresh sign-in with the old link: no timeline of Alex's, and no crash.
        delegate.goto(f"{devstack.web}/console/#timeline?user_id={alex_id}&date={DELEGATION_DAY}")
        delegate.reload()
        delegate.locator("#nav:not([hidden])").wait_for()
        delegate.locator(".page[data-ready]").wait_for()
        assert "drafted the lease amendment" not in delegate.locator("#view").inner_text()
        assert "they have not made you their delegate" in delegate.locator("#problem").inner_text()
        delegate.screenshot(path=str(SCREENSHOTS / "console-delegation-after-reload.png"), full_page=True)
    finally:
        alex.set_delegates(original)


def test_an_admin_invites_a_person_with_roles_and_bad_emails_are_refused_beside_the_field(
    devstack: Any, apis: dict[str, Api], pages: Any
) -> None:
    fiona = apis[FIONA]
    before = fiona.call("GET", "/users?limit=200")["items"]
    assert NEWCOMER not in {u["email"] for u in before}
    page = pages()
    sign_in(page, devstack.web, "Fiona Admin", "#roster")
    page.locator(".page[data-page=roster][data-ready]").wait_for()
    rows = page.locator("#roster-rows tr")
    shown_before = rows.count()
    email = page.get_by_label("Email")
    try:
        page.get_by_label("Name", exact=True).fill("Nora Newcomer")
        page.get_by_label("Billing manager").check()
        for bad, says in (("nora.newcomer-at-halemercer", "not"), (ALEX.upper(), "already")):
            email.fill(bad)
            page.get_by_role("button", name="Invite", exact=True).click()
            error = page.locator("#invite-email-error")
            error.wait_for()
            assert says in error.inner_text(), error.inner_text()
            assert email.get_attribute("aria-invalid") == "true"
            assert (
                page.get_by_label("Name", exact=True).input_value() == "Nora Newcomer"
            )  # nothing typed is lost
            page.screenshot(path=str(SCREENSHOTS / f"console-invite-{says}-email.png"), full_page=True)
            assert fiona.call("GET", "/users?limit=200")["items"] == before
            assert rows.count() == shown_before

        email.fill(NEWCOMER)
        page.get_by_role("button", name="Invite", exact=True).click()
        page.get_by_text("Nora Newcomer is invited").wait_for()
        assert not page.locator("#invite-email-error").is_visible()
        assert email.get_attribute("aria-invalid") is None
        # The emptied form is ready for the next person, with the usual role ticked again.
        assert (
            email.input_value() == "" and page.locator("input[name=invite-role][value=attorney]").is_checked()
        )
        row = rows.filter(has_text=NEWCOMER)
        row.wait_for()
        assert "Attorney, Billing manager" in row.inner_text() and "invited" in row.inner_text()
        assert rows.count() == shown_before + 1
        page.screenshot(path=str(SCREENSHOTS / "console-invite-done.png"), full_page=True)
        invited = fiona.user(NEWCOMER)
        assert invited and set(invited["roles"]) == {"attorney", "billing_manager"}
        assert invited["status"] == "invited"

        # There is no deleting a person (their history stays); disabling them is how they leave.
        row.get_by_role("button", name="Edit Nora Newcomer").click()
        dialog = page.locator("dialog[open]")
        dialog.get_by_label("Status").select_option("disabled")
        dialog.get_by_role("button", name="Save").click()
        page.get_by_text("Nora Newcomer is saved.").wait_for()
        assert "disabled" in rows.filter(has_text=NEWCOMER).inner_text()
        page.screenshot(path=str(SCREENSHOTS / "console-invite-disabled.png"), full_page=True)
    finally:
        invited = fiona.user(NEWCOMER)
        if invited and invited["status"] != "disabled":
            fiona.call(
                "PATCH", f"/users/{invited['user_id']}", {"version": invited["version"], "status": "disabled"}
            )
    assert fiona.user(NEWCOMER)["status"] == "disabled"  # type: ignore[index]
