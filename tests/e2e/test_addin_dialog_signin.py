"""The add-in's last sign-in resort in headless Chromium: where MSAL.js cannot run (classic Outlook without
nested app authentication, or its script blocked), the pane signs in through an Office dialog running the
authorization code flow with PKCE (``taskpane/signin.html``), and the dialog hands the token to the pane."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

pytestmark = pytest.mark.e2e


@pytest.fixture
def dialog_opened(devstack: Any) -> Iterator[tuple[Any, Any, Any]]:
    """The Outlook stand-in with MSAL.js blocked (the pane has no `msal`, so it must use the Office
    dialog), Sign in clicked, and the dialog showing the simulated tenant's people: (page, pane, dialog)."""
    from tests.e2e.browser import chromium_page

    with chromium_page(width=1360, height=900) as page:
        page.route(
            "**/vendor/msal-browser.min.js",
            lambda route: route.fulfill(status=200, content_type="text/javascript", body="/* blocked */"),
        )
        page.goto(f"{devstack.web}/devstack/outlook/")
        pane = page.frame_locator("#taskpane")
        with page.context.expect_page() as opened:
            pane.get_by_role("button", name="Sign in").click()
        dialog = opened.value
        dialog.get_by_role("button", name="Alex Attorney").wait_for()
        yield page, pane, dialog


def test_without_msal_the_pane_signs_in_through_the_office_dialog_and_works(
    devstack: Any, dialog_opened: tuple[Any, Any, Any]
) -> None:
    from tests.e2e.test_addin import SCREENSHOTS

    _, pane, dialog = dialog_opened
    assert f"redirect_uri={quote(f'{devstack.web}/taskpane/signin.html', safe='')}" in dialog.url
    dialog.get_by_role("button", name="Alex Attorney").click()

    pane.locator("#today:not([hidden])").wait_for()
    if not dialog.is_closed():  # the pane closes the dialog once it has the token
        dialog.wait_for_event("close", timeout=10_000)
    # The token works: the pane reads the user's day from the API (a "-" until it has).
    pane.locator("#today-captured", has_text=re.compile(r"\d")).wait_for()
    SCREENSHOTS.mkdir(exist_ok=True)
    pane.locator("body").screenshot(path=str(SCREENSHOTS / "addin-dialog-signed-in.png"))


def test_closing_the_sign_in_dialog_says_how_to_sign_in_again(dialog_opened: tuple[Any, Any, Any]) -> None:
    _, pane, dialog = dialog_opened
    dialog.close()

    pane.get_by_text("The sign-in window was closed before you signed in. Sign in again.").wait_for()
    assert pane.get_by_role("button", name="Sign in").is_visible()
