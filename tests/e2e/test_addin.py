"""The Outlook add-in in headless Chromium: the real task pane and launch events inside the devstack's Office
stand-in, signed in through the simulated Entra ID, talking to the real API.

Time is the browser's fake clock (Playwright's clock: it runs naturally and the tests jump it forward), so
a minute of reading takes no minute of test. The tests share one signed-in browser and run in order.
"""

from __future__ import annotations

import hashlib
import json
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

pytestmark = pytest.mark.e2e
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results"
ALEX = "alex.attorney@halemercer.example"
ACME_MESSAGE = "<acme-termination-1@acme-mfg.example>"
HELIX_MESSAGE = "<helix-forensics-7@evergreenbio.example>"
MARINA_MESSAGE = "<marina-loi-3@brightwater.example>"
WILL_MESSAGE = "<will-question-2@delgado-family.example>"


def event_id(key: str) -> str:
    """The server's event id for a stable key (first 20 hex digits of its SHA-256)."""
    return hashlib.sha256(key.encode()).hexdigest()[:20]


class Api:
    """The API as Alex Attorney, to check what the pane did."""

    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base, token

    def get(self, path: str) -> Any:
        request = urllib.request.Request(
            f"{self.base}{path}", headers={"Authorization": f"Bearer {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def timeline(self) -> dict[str, Any]:
        # Yesterday to tomorrow: a capture made just before midnight in the user's zone is on yesterday.
        today = datetime.now(UTC).date()
        start, end = today - timedelta(days=1), today + timedelta(days=1)
        return self.get(f"/timeline?start={start.isoformat()}&end={end.isoformat()}")

    def event(self, key: str) -> dict[str, Any] | None:
        wanted = event_id(key)
        return next((e for e in self.timeline()["events"] if e["event_id"] == wanted), None)

    def entry_of(self, key: str) -> dict[str, Any] | None:
        wanted = event_id(key)
        return next((e for e in self.timeline()["entries"] if wanted in e["event_ids"]), None)

    def matter_id(self, number: str) -> str:
        return str(self.get(f"/matters?number={number}&limit=1")["items"][0]["matter_id"])


def wait_until(check: Any, what: str, page: Any = None, timeout: float = 15.0) -> Any:
    """Poll ``check`` until it returns something truthy (short real waits: the API answers in milliseconds).

    With ``page``, the wait goes through Playwright, so its event handlers (routes) run meanwhile: the sync
    API dispatches them only while a Playwright call is waiting.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        if page is not None:
            page.wait_for_timeout(100)
        else:
            time.sleep(0.1)


@pytest.fixture(scope="module")
def api(devstack: Any) -> Api:
    return Api(devstack.api, devstack.cli("token", ALEX))


@pytest.fixture(scope="module")
def outlook(devstack: Any) -> Iterator[Any]:
    """The stand-in Outlook page with the pane signed in as Alex Attorney through the sign-in dialog."""
    from tests.e2e.browser import chromium_page

    SCREENSHOTS.mkdir(exist_ok=True)
    with chromium_page(width=1360, height=900) as page:
        page.context.clock.install()
        page.goto(f"{devstack.web}/devstack/outlook/")
        pane = page.frame_locator("#taskpane")
        pane.get_by_role("button", name="Sign in").wait_for()
        pane.locator("body").screenshot(path=str(SCREENSHOTS / "addin-signed-out.png"))
        with page.context.expect_page() as opened:
            pane.get_by_role("button", name="Sign in").click()
        popup = opened.value
        popup.get_by_role("button", name="Alex Attorney").wait_for()
        # MSAL.js (no Outlook broker in the stand-in) signs in through its popup and bridge page.
        bridge = urllib.parse.quote(f"{devstack.web}/taskpane/redirect.html", safe="")
        assert f"redirect_uri={bridge}" in popup.url
        popup.get_by_role("button", name="Alex Attorney").click()
        pane.locator("#today:not([hidden])").wait_for()
        yield page


def pane_of(page: Any) -> Any:
    return page.frame_locator("#taskpane")


def open_message(page: Any, sender: str) -> None:
    page.locator("#messages").get_by_role("button", name=sender).click()


def test_the_devstack_serves_both_manifests_for_its_own_host(devstack: Any) -> None:
    with urllib.request.urlopen(f"{devstack.web}/manifest.xml", timeout=10) as response:
        root = etree.fromstring(response.read(), etree.XMLParser(resolve_entities=False, no_network=True))
    urls = [v for v in root.xpath("//@DefaultValue") if v.startswith("http")]
    assert urls and all(u.startswith(devstack.web) for u in urls)
    assert "api://matterline" in etree.tostring(root).decode()
    with urllib.request.urlopen(f"{devstack.web}/manifest.json", timeout=10) as response:
        manifest = json.loads(response.read())
    assert manifest["extensions"][0]["runtimes"][0]["code"]["page"] == f"{devstack.web}/taskpane/index.html"


def test_an_open_item_shows_its_suggested_matters_with_reasons_and_one_click_assigns_it(
    outlook: Any, api: Api
) -> None:
    pane = pane_of(outlook)
    open_message(outlook, "Dana Whitfield")
    pane.get_by_text("matter number 2026-0101 in the body").wait_for()
    assert "2026-0102" in pane.locator("#suggestions").inner_text()
    outlook.screenshot(path=str(SCREENSHOTS / "addin-outlook-suggestion.png"))
    pane.locator("body").screenshot(path=str(SCREENSHOTS / "addin-suggestion.png"))

    outlook.context.clock.fast_forward("01:35")  # Alex reads for a minute and a half
    pane.get_by_role(
        "button", name="Assign to 2026-0101 Acme v. Northwind - breach of supply contract"
    ).click()
    pane.locator("#assigned-number", has_text="2026-0101").wait_for()
    pane.locator("body").screenshot(path=str(SCREENSHOTS / "addin-assigned.png"))

    entry = api.entry_of(f"read:{ACME_MESSAGE}")
    assert entry is not None and entry["matter_id"] == api.matter_id("2026-0101")
    assert entry["status"] == "assigned"
    event = api.event(f"read:{ACME_MESSAGE}")
    assert event is not None and event["measured"] and event["seconds"] >= 95
    assert event["subject"] == "Acme: permits and the Northwind dispute"


def test_switching_to_another_item_and_coming_back_continues_the_time(outlook: Any, api: Api) -> None:
    pane = pane_of(outlook)
    before = api.event(f"read:{ACME_MESSAGE}")
    assert before is not None
    open_message(outlook, "Ravi Menon")
    pane.locator("#item-subject", has_text="Forensic image of the laptop").wait_for()
    outlook.context.clock.fast_forward("00:40")
    open_message(outlook, "Dana Whitfield")
    pane.locator("#item-subject", has_text="Acme: permits").wait_for()
    outlook.context.clock.fast_forward("01:00")
    open_message(outlook, "Maria Delgado")  # leaving closes the span and sends it
    pane.locator("#item-subject", has_text="Question about my will").wait_for()

    after = wait_until(
        lambda: (e := api.event(f"read:{ACME_MESSAGE}")) and e["seconds"] >= before["seconds"] + 60 and e,
        "the time on the Acme message to grow",
    )
    assert after["seconds"] >= before["seconds"] + 60
    helix = api.event(f"read:{HELIX_MESSAGE}")
    assert helix is not None and helix["seconds"] >= 40
    # Coming back to an item shows its time so far, from the server, not from zero.
    open_message(outlook, "Dana Whitfield")
    pane.locator("#item-total", has_text="min").wait_for()
    pane.locator("#assigned-number", has_text="2026-0101").wait_for()


def test_an_item_marked_personal_leaves_billing(outlook: Any, api: Api) -> None:
    pane = pane_of(outlook)
    open_message(outlook, "Maria Delgado")
    pane.locator("#item-subject", has_text="Question about my will").wait_for()
    pane.get_by_label("Personal").check()
    # The event is marked first, then its day is rebuilt without it: wait for both.
    wait_until(
        lambda: (
            (e := api.event(f"read:{WILL_MESSAGE}"))
            and e["personal"]
            and not api.entry_of(f"read:{WILL_MESSAGE}")
        ),
        "the item to be personal and out of billing",
    )
    marked = api.event(f"read:{WILL_MESSAGE}")
    assert marked is not None and marked["category"] == "personal"


def deliver_to_sent_items(devstack: Any, mailbox: str, sent: dict[str, Any]) -> None:
    """Play Exchange: file the stand-in's sent message in the simulated tenant's Sent Items."""
    state = json.loads((devstack.var / "devstack.json").read_text())
    context = ssl.create_default_context(cafile=str(devstack.var / "m365" / "tls" / "ca.pem"))
    body = {
        "to": sent["to"],
        "subject": sent["subject"],
        "headers": sent["internetHeaders"],
        "internetMessageId": sent["internetMessageId"],
    }
    request = urllib.request.Request(
        f"{state['m365']}/_sim/mailboxes/{mailbox}/messages/sent",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, context=context, timeout=10).close()


def test_compose_then_send_records_the_send_under_the_drafts_correlation_id(
    outlook: Any, api: Api, devstack: Any
) -> None:
    pane = pane_of(outlook)
    outlook.get_by_role("button", name="New message").click()
    pane.locator("#item-kind", has_text="Writing").wait_for()
    outlook.get_by_label("To", exact=True).fill("dana.whitfield@acme-mfg.example")
    outlook.get_by_label("Subject").fill("Re: Northwind termination letter (2026-0101)")
    outlook.get_by_label("Message body").fill("Dana, 3 pm works. I will call you.")
    correlation = outlook.evaluate("officeStandIn.currentItem().headers['x-matterline-correlation']")
    assert correlation, "OnNewMessageCompose stamps the draft's internet header"
    custom = outlook.evaluate("officeStandIn.currentItem().customProperties")
    assert custom["matterlineCorrelation"] == correlation
    pane.locator(f"#correlation[data-correlation-id='{correlation}']").wait_for(state="attached")

    outlook.context.clock.fast_forward("02:00")  # two minutes of writing; the pane picks up the draft
    pane.locator("#item-subject", has_text="Re: Northwind termination letter").wait_for()
    pane.locator("#item-people", has_text="To dana.whitfield@acme-mfg.example").wait_for()
    pane.locator("#suggestions", has_text="2026-0101").wait_for()
    pane.locator("#queue").wait_for(state="hidden")
    outlook.screenshot(path=str(SCREENSHOTS / "addin-outlook-compose.png"))
    outlook.get_by_role("button", name="Send", exact=True).click()
    wait_until(lambda: outlook.evaluate("officeStandIn.sentItems().length") == 1, "the message to be sent")

    (sent,) = outlook.evaluate("officeStandIn.sentItems()")
    assert sent["internetHeaders"]["x-matterline-correlation"] == correlation
    launched = outlook.evaluate("officeStandIn.launchEvents")
    assert [(e["type"], e["completed"]) for e in launched] == [
        ("newMessageComposeCreated", True),
        ("messageSending", True),
    ]
    assert launched[1]["options"] == {"allowEvent": True}, "the send is never blocked"
    event = wait_until(
        lambda: (e := api.event(f"compose:{correlation}")) and e["seconds"] >= 120 and e,
        "the compose event with the send",
    )
    assert event["kind"] == "compose" and event["subject"] == "Re: Northwind termination letter (2026-0101)"
    assert "dana.whitfield@acme-mfg.example" in event["participants"]

    # Exchange files the message in Sent Items with the draft's headers; mailbox capture must merge it
    # into the same event through the correlation header rather than add a second one.
    deliver_to_sent_items(devstack, ALEX, sent)
    correlated = wait_until(
        lambda: (e := api.event(f"compose:{correlation}")) and "graph" in e["sources"] and e,
        "the Graph sent item to reach the compose event",
    )
    assert correlated["sent"] is True and correlated["sources"] == ["addin", "graph"]
    assert correlated["seconds"] >= 120, "the pane's measured writing time is kept"


def test_captures_made_offline_are_queued_and_delivered_once_when_the_network_is_back(
    outlook: Any, api: Api
) -> None:
    pane = pane_of(outlook)
    context = outlook.context
    context.set_offline(True)
    open_message(outlook, "Helen Park")
    pane.locator("#item-subject", has_text="Lakeside Marina").wait_for()
    context.clock.fast_forward("00:45")
    pane.get_by_text("Add time not in mail").click()
    pane.get_by_label("What did you do?").fill("Reviewed the Lakeside Marina closing checklist")
    pane.get_by_label("Minutes").fill("12")
    pane.get_by_role("button", name="Add time").click()
    pane.get_by_text("It will be sent when you're back online").wait_for()
    outlook.evaluate("officeStandIn.close()")  # close the item: its last span joins the queue
    pane.locator("#queue", has_text="waiting to send").wait_for()
    assert "offline" in pane.locator("#queue").inner_text()
    pane.locator("body").screenshot(path=str(SCREENSHOTS / "addin-offline.png"))
    assert api.event(f"read:{MARINA_MESSAGE}") is None, "nothing left the browser while offline"

    # Back online, but the API's reply to the first delivery is lost: the server has the captures, the
    # pane does not know, and sends them all again.
    deliveries: list[int] = []

    def lose_the_reply(route: Any) -> None:
        deliveries.append(route.fetch().status)
        route.abort("connectionreset")

    context.route("**/capture/batch", lose_the_reply)
    context.set_offline(False)
    pane_frame = next(f for f in outlook.frames if f.url.endswith("/taskpane/index.html"))
    pane_frame.evaluate("window.dispatchEvent(new Event('online'))")  # as the browser does on reconnecting
    wait_until(lambda: deliveries, "the first delivery", outlook)
    context.unroute("**/capture/batch", lose_the_reply)
    assert deliveries == [200]
    marina_once = api.event(f"read:{MARINA_MESSAGE}")
    assert marina_once is not None and marina_once["seconds"] >= 45
    assert pane.locator("#queue").is_visible(), "the pane still holds what it could not confirm"

    context.clock.fast_forward("00:16")  # the queue's retry
    pane.locator("#queue").wait_for(state="hidden")
    timeline = api.timeline()
    manual = [
        e for e in timeline["events"] if e["subject"] == "Reviewed the Lakeside Marina closing checklist"
    ]
    assert len(manual) == 1 and manual[0]["kind"] == "manual" and manual[0]["seconds"] == 720
    marina = api.event(f"read:{MARINA_MESSAGE}")
    assert marina is not None and marina["seconds"] == marina_once["seconds"], "the resend added nothing"
    pane.locator("#connection", has_text="Up to date").wait_for()
    pane.locator("body").screenshot(path=str(SCREENSHOTS / "addin-back-online.png"))
