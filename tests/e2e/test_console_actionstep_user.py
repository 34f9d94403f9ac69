"""A person connects their own Actionstep login from the console: the firm is connected to the simulated
Actionstep (by its admin, from the command line); Alex signs in, sees the notification, goes through the
simulator's consent page as himself and comes back connected, without the notification. Screenshots go to
test-results/."""

from __future__ import annotations

from typing import Any

import pytest

from devstack.demo_book import ACTIONSTEP_PARTICIPANT_IDS
from tests.e2e.public_api import PublicApi
from tests.e2e.test_console import ALEX, FIONA, SCREENSHOTS, sign_in

pytestmark = pytest.mark.e2e
BANNER = "Your firm posts time to Actionstep. Connect your Actionstep account so your time is posted as you."


def test_a_person_connects_their_own_actionstep_login_from_the_notification(
    devstack: Any, browser_page: Any
) -> None:
    printed = devstack.cli("connect", "actionstep")
    assert "actionstep: connected" in printed
    alex = PublicApi(devstack.api, devstack.cli("token", ALEX))
    # Whatever an earlier run left: Alex starts without his own login.
    alex.call("DELETE", "/me/billing-authorizations/actionstep")

    page = browser_page
    sign_in(page, devstack.web, "Alex Attorney", "#timeline")
    banner = page.locator("#billing-banner")
    banner.wait_for()
    assert BANNER in banner.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "console-actionstep-banner.png"))

    banner.get_by_role("button", name="Connect to Actionstep").click()
    page.get_by_role("button", name="Allow access").wait_for()
    page.get_by_label("Signed in as").select_option(str(ACTIONSTEP_PARTICIPANT_IDS["alex.attorney"]))
    page.screenshot(path=str(SCREENSHOTS / "console-actionstep-user-consent.png"))
    page.get_by_role("button", name="Allow access").click()

    page.locator(".page[data-page=preferences][data-ready=true]").wait_for()
    page.locator("#billing-login-status", has_text="Actionstep is connected").wait_for()
    line = page.locator("#actionstep-login")
    assert line.inner_text().startswith("Actionstep: connected as Alex Attorney")
    assert page.locator("#billing-banner").count() == 0
    page.screenshot(path=str(SCREENSHOTS / "console-actionstep-user-connected.png"), full_page=True)
    mine = alex.call("GET", "/me/billing-authorizations")
    assert mine[0]["status"] == "connected" and mine[0]["participant_id"] == "12"

    # Disconnect from Preferences; the line offers to connect again.
    line.get_by_role("button", name="Disconnect").click()
    page.locator("#billing-login-status", has_text="Actionstep is disconnected").wait_for()
    page.locator("#actionstep-login", has_text="Actionstep: not connected").wait_for()
    assert alex.call("GET", "/me/billing-authorizations")[0]["status"] == "disconnected"


def test_the_notification_can_be_dismissed_for_the_session(devstack: Any, browser_page: Any) -> None:
    devstack.cli("connect", "actionstep")
    PublicApi(devstack.api, devstack.cli("token", ALEX)).call(
        "DELETE", "/me/billing-authorizations/actionstep"
    )
    page = browser_page
    sign_in(page, devstack.web, "Alex Attorney", "#timeline")
    page.locator("#billing-banner").wait_for()
    page.get_by_role("button", name="Not now").click()
    assert page.locator("#billing-banner").count() == 0
    page.reload()
    page.locator("#nav:not([hidden])").wait_for()
    page.locator(".page[data-ready=true]").wait_for()
    assert page.locator("#billing-banner").count() == 0


def test_the_command_line_connects_a_persons_own_login_as_them(devstack: Any) -> None:
    devstack.cli("connect", "actionstep")
    printed = devstack.cli("connect", "actionstep", "--user", ALEX)
    assert f"actionstep: {ALEX} connected as Alex Attorney" in printed
    mine = PublicApi(devstack.api, devstack.cli("token", ALEX)).call("GET", "/me/billing-authorizations")
    assert mine[0]["participant_id"] == str(ACTIONSTEP_PARTICIPANT_IDS["alex.attorney"])


def test_signing_in_to_actionstep_as_someone_else_comes_back_to_preferences_saying_so(
    devstack: Any, browser_page: Any
) -> None:
    devstack.cli("connect", "actionstep")
    alex = PublicApi(devstack.api, devstack.cli("token", ALEX))
    alex.call("DELETE", "/me/billing-authorizations/actionstep")
    # Alex is matched to his own Actionstep participant (what a sync does): that is what is checked.
    fiona = PublicApi(devstack.api, devstack.cli("token", FIONA))
    person = next(u for u in fiona.call("GET", "/users?limit=200")["items"] if u["email"] == ALEX)
    own = str(ACTIONSTEP_PARTICIPANT_IDS["alex.attorney"])
    if person["external_ids"].get("actionstep") != own:
        fiona.call(
            "PATCH",
            f"/users/{person['user_id']}",
            {"version": person["version"], "external_ids": {**person["external_ids"], "actionstep": own}},
        )

    page = browser_page
    sign_in(page, devstack.web, "Alex Attorney", "#preferences")
    page.locator(".page[data-page=preferences][data-ready=true]").wait_for()
    page.locator("#actionstep-login").get_by_role("button", name="Connect to Actionstep").click()
    page.get_by_role("button", name="Allow access").wait_for()
    # Fiona's Actionstep login, not Alex's own.
    page.get_by_label("Signed in as").select_option(str(ACTIONSTEP_PARTICIPANT_IDS["fiona.admin"]))
    page.get_by_role("button", name="Allow access").click()

    page.locator(".page[data-page=preferences][data-ready=true]").wait_for()
    problem = page.locator("#billing-login-problem")
    problem.wait_for()
    assert problem.inner_text() == (
        "You signed in to Actionstep as Fiona Admin, not as yourself: "
        "choose Connect to Actionstep again and sign in with your own Actionstep login."
    )
    assert "error" in (problem.get_attribute("class") or "")
    assert page.locator("#actionstep-login", has_text="Actionstep: not connected").count() == 1
    page.screenshot(path=str(SCREENSHOTS / "console-actionstep-user-wrong-login.png"), full_page=True)
    assert alex.call("GET", "/me/billing-authorizations")[0]["status"] == "disconnected"


def test_an_admin_sees_who_has_connected_their_own_login_on_connections(
    devstack: Any, browser_page: Any
) -> None:
    devstack.cli("connect", "actionstep")
    devstack.cli("connect", "actionstep", "--user", ALEX)
    fiona = PublicApi(devstack.api, devstack.cli("token", FIONA))
    seen = fiona.call("GET", "/connections/billing/actionstep/user-authorizations")
    assert seen["connected_count"] >= 1

    page = browser_page
    sign_in(page, devstack.web, "Fiona Admin", "#connections")
    page.locator(".page[data-page=connections][data-ready=true]").wait_for()
    own = page.locator("#actionstep-own-logins")
    own.wait_for()
    assert own.inner_text() == f"{seen['connected_count']} of {seen['people_count']} connected"
    assert page.locator("#actionstep-user-authorization").inner_text() == seen["user_authorization"]
    rows = page.locator("#actionstep-people-table tbody tr")
    assert rows.count() == seen["people_count"]
    alex_row = rows.filter(has_text="Alex Attorney")
    assert "connected as Alex Attorney since" in alex_row.inner_text()
    page.locator("#actionstep-people").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "console-actionstep-admin-overview.png"), full_page=True)
