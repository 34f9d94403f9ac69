"""The simulated Microsoft Graph, exercised over HTTPS with tokens from the simulated Entra ID (msal), with
plain ``requests`` as a connector would, and with a real Microsoft client library (O365)."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import msal
import pytest
import requests

from devstack.demo_book import MATTERS
from devstack.m365 import (
    GRAPH_RESOURCE,
    AppRegistration,
    Directory,
    IdentityProvider,
    M365Server,
    Tenant,
    TlsMaterial,
    User,
    ensure_ca_and_server_cert,
)
from devstack.m365.graph import GraphSettings, GraphSimulator
from devstack.m365.mailbox import Mailbox, MailboxStore, Recipient, Recurrence, SimulatorClock, expand_event
from devstack.m365.notifications import NotificationSettings
from devstack.m365.scenario import (
    CORRELATION_HEADER,
    Scenario,
    demo_mailboxes,
    generate_day,
    install_demo_mailboxes,
    plan_day,
)

TENANT_ID = "4b1d7c9e-2f3a-4c5d-8e6f-7a8b9c0d1e2f"
APP_ID = "5c2e8d0f-3a4b-4d6e-9f70-8b9c0d1e2f30"
APP_SECRET = "graph-reader-secret"
BARE_APP_ID = "6d3f9e1a-4b5c-4e7f-a081-9c0d1e2f3041"
BARE_SECRET = "bare-app-secret"
ALEX = User(
    oid="0b7d1f9e-1111-4c1a-8e11-00000000000a", email="alex@halemercer.example", display_name="Alex Attorney"
)
PRIYA = User(
    oid="0b7d1f9e-2222-4c1a-8e11-00000000000b", email="priya@halemercer.example", display_name="Priya Partner"
)
CASEY = User(
    oid="0b7d1f9e-3333-4c1a-8e11-00000000000c", email="casey@halemercer.example", display_name="Casey Nobox"
)
CLIENT = Recipient("dana.whitfield@acme-mfg.example", "Dana Whitfield")
START = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
TIMEOUT = 10


def firm() -> Tenant:
    return Tenant(
        tenant_id=TENANT_ID,
        display_name="Hale & Mercer LLP",
        domain="halemercer.example",
        users=(ALEX, PRIYA, CASEY),
        apps=(
            AppRegistration(
                client_id=APP_ID,
                display_name="Matterline capture",
                client_secret=APP_SECRET,
                api_permissions={
                    GRAPH_RESOURCE: ("Mail.Read", "Calendars.Read", "User.Read.All", "MailboxSettings.Read")
                },
            ),
            AppRegistration(
                client_id=BARE_APP_ID, display_name="No Graph permissions", client_secret=BARE_SECRET
            ),
        ),
    )


# --- A webhook receiver, as the Matterline API would run it ------------------------------------------


@dataclass
class Receiver:
    """A local HTTP endpoint for validation handshakes and notifications; behaviour set per test."""

    url: str
    notifications: queue.Queue[dict[str, Any]] = field(default_factory=queue.Queue)
    validations: list[str] = field(default_factory=list)
    echo: str = "exact"  # exact | wrong | json
    failures_before_success: int = 0
    attempts: int = 0

    def next_batch(self, timeout: float = 5) -> list[dict[str, Any]]:
        values: list[dict[str, Any]] = self.notifications.get(timeout=timeout)["value"]
        return values

    def collect(self, count: int, timeout: float = 5) -> list[dict[str, Any]]:
        """At least ``count`` notification values (they may arrive batched)."""
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(found) < count:
            found.extend(self.next_batch(max(0.1, deadline - time.monotonic())))
        return found


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            target = state["receiver"]
            query = parse_qs(urlsplit(self.path).query)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if "validationToken" in query:
                token = query["validationToken"][0]  # parse_qs decodes it, as a receiver must
                target.validations.append(token)
                answer = {"exact": token, "wrong": token[:10], "json": json.dumps({"token": token})}[
                    target.echo
                ]
                kind = "application/json" if target.echo == "json" else "text/plain; charset=utf-8"
                self._reply(200, answer.encode(), kind)
                return
            target.attempts += 1
            if target.failures_before_success > 0:
                target.failures_before_success -= 1
                self._reply(500, b"", "text/plain")
                return
            target.notifications.put(json.loads(body))
            self._reply(202, b"", "text/plain")

        def _reply(self, status: int, payload: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state["receiver"] = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/graph/notifications")
    try:
        yield state["receiver"]
    finally:
        server.shutdown()
        server.server_close()


# --- The simulator ----------------------------------------------------------------------------------


@dataclass
class Sim:
    graph: GraphSimulator
    store: MailboxStore
    identity: IdentityProvider
    tls: TlsMaterial
    session: requests.Session

    @property
    def base(self) -> str:
        return self.graph.base_url

    def app_token(self, client_id: str = APP_ID, secret: str = APP_SECRET) -> str:
        app = msal.ConfidentialClientApplication(
            client_id,
            client_credential=secret,
            authority=f"{self.base}/{TENANT_ID}",
            verify=self.tls.ca_bundle,
            instance_discovery=False,
        )
        result = app.acquire_token_for_client([f"{GRAPH_RESOURCE}/.default"])
        assert "access_token" in result, result
        token: str = result["access_token"]
        return token

    def get(self, url: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        target = url if url.startswith("https://") else f"{self.base}{url}"
        return self.session.get(target, headers=headers, timeout=TIMEOUT, **kwargs)

    def send(self, method: str, url: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.session.request(method, f"{self.base}{url}", headers=headers, timeout=TIMEOUT, **kwargs)

    def delta_round(self, url: str, token: str, **kwargs: Any) -> tuple[list[dict[str, Any]], str, int]:
        """Follow nextLinks to the deltaLink: (all values, the deltaLink, number of pages)."""
        values: list[dict[str, Any]] = []
        pages = 0
        while True:
            response = self.get(url, token, **kwargs)
            assert response.status_code == 200, response.text
            body = response.json()
            pages += 1
            values.extend(body["value"])
            if "@odata.deltaLink" in body:
                assert "@odata.nextLink" not in body
                return values, body["@odata.deltaLink"], pages
            url = body["@odata.nextLink"]


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("graph-sim")


@pytest.fixture(autouse=True)
def _honour_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    # requests lets REQUESTS_CA_BUNDLE override a session's verify; msal would then distrust our CA.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


@pytest.fixture
def graph_settings(request: pytest.FixtureRequest) -> GraphSettings:
    """The simulator's limits; a test changes them with ``indirect`` parametrization."""
    return getattr(request, "param", GraphSettings())


@pytest.fixture
def sim(state_dir: Path, graph_settings: GraphSettings) -> Iterator[Sim]:
    tls = ensure_ca_and_server_cert(state_dir / "tls")
    identity = IdentityProvider(Directory([firm()]), state_dir / "identity")
    server = M365Server(identity, port=0, tls=tls)
    clock = SimulatorClock(START, frozen=True)
    store = MailboxStore(clock)
    store.add_mailbox(
        Mailbox(
            ALEX.oid, ALEX.email, ALEX.display_name, TENANT_ID, "America/New_York", "Eastern Standard Time"
        )
    )
    store.add_mailbox(
        Mailbox(PRIYA.oid, PRIYA.email, PRIYA.display_name, TENANT_ID, "America/Chicago", "America/Chicago")
    )
    graph = GraphSimulator(
        server,
        store,
        clock=clock,
        settings=graph_settings,
        notification_settings=NotificationSettings(
            retry_backoff=0.05, validation_timeout=5, delivery_timeout=2
        ),
    )
    server.start()
    session = requests.Session()
    session.verify = tls.ca_bundle
    session.trust_env = False
    try:
        yield Sim(graph, store, identity, tls, session)
    finally:
        graph.stop()
        server.stop()
        session.close()


@pytest.fixture
def token(sim: Sim) -> str:
    return sim.app_token()


INBOX_DELTA = f"/v1.0/users/{ALEX.email}/mailFolders('inbox')/messages/delta"


def inbound(sim: Sim, subject: str, **kwargs: Any) -> Any:
    return sim.graph.deliver_message(
        ALEX.email, sender=CLIENT, subject=subject, body=f"Body of {subject}", **kwargs
    )


# --- Mail delta --------------------------------------------------------------------------------------


def test_an_initial_mail_delta_pages_with_next_links_then_ends_with_a_delta_link(
    sim: Sim, token: str
) -> None:
    for n in range(23):
        inbound(sim, f"Acme v. Northwind: exhibit {n}")

    values, delta_link, pages = sim.delta_round(f"{INBOX_DELTA}?$select=subject,isRead,from", token)

    assert pages == 3  # 10 + 10 + 3 with the default page size
    assert sorted(v["subject"] for v in values) == sorted(
        f"Acme v. Northwind: exhibit {n}" for n in range(23)
    )
    assert set(values[0]) == {"@odata.type", "@odata.etag", "id", "subject", "isRead", "from"}
    assert "$deltatoken=" in delta_link and "$select" not in delta_link  # baked into the token


def test_the_delta_link_reports_only_what_changed_since_with_select_still_applied(
    sim: Sim, token: str
) -> None:
    first = inbound(sim, "Deposition dates")
    _, delta_link, _ = sim.delta_round(f"{INBOX_DELTA}?$select=subject,isRead", token)
    inbound(sim, "Draft complaint comments")
    sim.graph.mark_read(ALEX.email, first.item_id)

    values, _, _ = sim.delta_round(delta_link, token)

    assert {(v["subject"], v["isRead"]) for v in values} == {
        ("Deposition dates", True),
        ("Draft complaint comments", False),
    }
    assert all("bodyPreview" not in v for v in values)


def test_a_message_read_on_another_device_reappears_with_is_read(sim: Sim, token: str) -> None:
    message = inbound(sim, "Settlement offer")
    _, delta_link, _ = sim.delta_round(INBOX_DELTA, token)

    sim.graph.mark_read(ALEX.email, message.item_id)
    values, delta_link, _ = sim.delta_round(delta_link, token)
    again, _, _ = sim.delta_round(delta_link, token)

    assert [(v["id"], v["isRead"]) for v in values] == [(message.item_id, True)]
    assert again == []


def test_a_deleted_message_comes_back_as_removed(sim: Sim, token: str) -> None:
    message = inbound(sim, "Wrong recipient")
    _, delta_link, _ = sim.delta_round(INBOX_DELTA, token)

    sim.graph.delete_message(ALEX.email, message.item_id)
    values, _, _ = sim.delta_round(delta_link, token)

    assert values == [
        {"@odata.type": "#microsoft.graph.message", "id": message.item_id, "@removed": {"reason": "deleted"}}
    ]


def test_immutable_ids_survive_a_move_while_regular_ids_change(sim: Sim, token: str) -> None:
    message = inbound(sim, "Lease renewal")
    immutable = {"Prefer": 'IdType="ImmutableId"'}
    first = sim.get(f"{INBOX_DELTA}", token, headers=immutable)
    moved = sim.graph.delete_message(ALEX.email, message.item_id)  # to Deleted Items

    assert first.headers["Preference-Applied"] == 'IdType="ImmutableId"'
    assert first.json()["value"][0]["id"] == message.item_key
    assert moved is not None and moved.item_key == message.item_key and moved.item_id != message.item_id
    by_immutable = sim.get(f"/v1.0/users/{ALEX.email}/messages/{message.item_key}", token, headers=immutable)
    by_stale_regular = sim.get(f"/v1.0/users/{ALEX.email}/messages/{message.item_id}", token)
    assert by_immutable.status_code == 200 and by_immutable.json()["id"] == message.item_key
    assert by_stale_regular.status_code == 404
    assert by_stale_regular.json()["error"]["code"] == "ErrorItemNotFound"


def test_a_replayed_change_comes_twice_in_one_response(sim: Sim, token: str) -> None:
    _, delta_link, _ = sim.delta_round(INBOX_DELTA, token)
    message = inbound(sim, "Invoice query")
    sim.graph.replay_last_change(ALEX.email, "inbox")

    values, _, pages = sim.delta_round(delta_link, token)

    assert pages == 1
    assert [v["id"] for v in values] == [message.item_id, message.item_id]


def test_an_expired_or_unknown_delta_token_gets_410_gone(sim: Sim, token: str) -> None:
    inbound(sim, "Board minutes")
    _, delta_link, _ = sim.delta_round(INBOX_DELTA, token)

    sim.graph.expire_delta_tokens(ALEX.email)
    expired = sim.get(delta_link, token)
    garbage = sim.get(f"{INBOX_DELTA}?$deltatoken=not-a-token", token)
    restart, _, _ = sim.delta_round(INBOX_DELTA, token)

    assert expired.status_code == 410 and garbage.status_code == 410
    error = expired.json()["error"]
    assert error["code"] == "SyncStateNotFound"
    assert error["message"].startswith("The sync state generation is not found")
    assert "request-id" in error["innerError"]
    assert [v["subject"] for v in restart] == ["Board minutes"]


def test_a_delta_token_older_than_its_lifetime_gets_410(sim: Sim, token: str) -> None:
    _, delta_link, _ = sim.delta_round(INBOX_DELTA, token)

    sim.graph.advance_clock(timedelta(days=31))

    assert sim.get(delta_link, token).status_code == 410


def test_page_size_follows_prefer_maxpagesize_and_is_acknowledged(sim: Sim, token: str) -> None:
    for n in range(5):
        inbound(sim, f"Note {n}")

    response = sim.get(INBOX_DELTA, token, headers={"Prefer": "odata.maxpagesize=2"})

    assert len(response.json()["value"]) == 2
    assert "@odata.nextLink" in response.json()
    assert response.headers["Preference-Applied"] == "odata.maxpagesize=2"


def test_sent_items_carry_internet_message_headers_only_when_selected(sim: Sim, token: str) -> None:
    sent = sim.graph.send_message(
        ALEX.email,
        to=[CLIENT],
        subject="RE: Acme v. Northwind (2026-0101)",
        body="See attached.",
        correlation_id="c-42",
    )
    url = f"/v1.0/users/{ALEX.oid}/mailFolders/sentitems/messages/delta"

    plain, _, _ = sim.delta_round(url, token)
    selected, _, _ = sim.delta_round(f"{url}?$select=subject,internetMessageHeaders,internetMessageId", token)

    assert "internetMessageHeaders" not in plain[0]
    assert plain[0]["internetMessageId"] == sent.internet_message_id
    assert (
        plain[0]["isRead"] is True
        and plain[0]["toRecipients"][0]["emailAddress"]["address"] == CLIENT.address
    )
    assert {"name": "x-matterline-correlation", "value": "c-42"} in selected[0]["internetMessageHeaders"]


def test_internal_mail_lands_in_the_recipients_inbox_with_the_same_message_id(sim: Sim, token: str) -> None:
    sent = sim.graph.send_message(ALEX.email, to=[PRIYA.email], subject="Staffing on the Brightwater deal")

    values, _, _ = sim.delta_round(f"/v1.0/users/{PRIYA.email}/mailFolders('Inbox')/messages/delta", token)

    assert [(v["internetMessageId"], v["conversationId"]) for v in values] == [
        (sent.internet_message_id, sent.conversation_id)
    ]


# --- Calendar ----------------------------------------------------------------------------------------


def weekly_review(sim: Sim) -> Any:
    """A weekly Tuesday 10:00 New York series over five weeks, across the end of daylight saving time."""
    start = datetime(2026, 10, 27, 14, 0, tzinfo=UTC)
    copies = sim.graph.create_meeting(
        ALEX.email,
        subject="Acme litigation team weekly",
        start=start,
        end=start + timedelta(hours=1),
        attendees=[PRIYA.email, CLIENT],
        recurrence=Recurrence(
            "weekly", date(2026, 10, 27), days_of_week=("tuesday",), end_date=date(2026, 11, 24)
        ),
    )
    return copies[ALEX.oid]


def calendar_delta_url(user: str) -> str:
    window = "startDateTime=2026-10-01T00:00:00Z&endDateTime=2026-12-31T00:00:00Z"
    return f"/v1.0/users/{user}/calendarView/delta?{window}"


def test_calendar_delta_expands_a_series_and_strips_its_occurrences(sim: Sim, token: str) -> None:
    master = weekly_review(sim)

    values, _, _ = sim.delta_round(calendar_delta_url(ALEX.email), token)

    assert len(values) == 5
    assert all(
        set(v) == {"@odata.type", "@odata.etag", "id", "seriesMasterId", "type", "start", "end"}
        for v in values
    )
    assert {v["seriesMasterId"] for v in values} == {master.item_id}
    assert [v["start"] for v in values[:2]] == [
        {"dateTime": "2026-10-27T14:00:00.0000000", "timeZone": "UTC"},
        {"dateTime": "2026-11-03T15:00:00.0000000", "timeZone": "UTC"},  # same local time after DST ends
    ]
    full = sim.get(f"/v1.0/users/{ALEX.email}/events/{master.item_id}", token).json()
    assert full["type"] == "seriesMaster" and full["subject"] == "Acme litigation team weekly"
    assert full["originalStartTimeZone"] == "Eastern Standard Time"
    assert full["recurrence"]["pattern"]["daysOfWeek"] == ["tuesday"]
    assert {a["emailAddress"]["address"] for a in full["attendees"]} == {PRIYA.email, CLIENT.address}


def test_times_come_in_the_zone_the_client_prefers(sim: Sim, token: str) -> None:
    weekly_review(sim)
    windows = sim.get(
        calendar_delta_url(ALEX.email), token, headers={"Prefer": 'outlook.timezone="Eastern Standard Time"'}
    )
    iana = sim.get(
        calendar_delta_url(PRIYA.email), token, headers={"Prefer": 'outlook.timezone="America/Chicago"'}
    )
    settings = sim.get(f"/v1.0/users/{PRIYA.email}/mailboxSettings", token).json()

    assert windows.json()["value"][1]["start"] == {
        "dateTime": "2026-11-03T10:00:00.0000000",
        "timeZone": "Eastern Standard Time",
    }
    assert iana.json()["value"][1]["start"] == {
        "dateTime": "2026-11-03T09:00:00.0000000",
        "timeZone": "America/Chicago",
    }
    assert windows.headers["Preference-Applied"] == 'outlook.timezone="Eastern Standard Time"'
    assert settings["timeZone"] == "America/Chicago"


def test_exceptions_come_whole_and_cancelled_occurrences_as_removed(sim: Sim, token: str) -> None:
    master = weekly_review(sim)
    _, delta_link, _ = sim.delta_round(calendar_delta_url(ALEX.email), token)
    third = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
    fourth = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)

    sim.graph.move_occurrence(
        ALEX.email,
        master.item_id,
        third,
        start=third + timedelta(hours=3),
        end=third + timedelta(hours=4),
        subject="Weekly (moved for trial prep)",
    )
    sim.graph.cancel_meeting(ALEX.email, master.item_id, occurrence_start=fourth)
    values, _, _ = sim.delta_round(delta_link, token)

    exception = next(v for v in values if v.get("type") == "exception")
    removed = [v for v in values if "@removed" in v]
    assert exception["subject"] == "Weekly (moved for trial prep)"
    assert exception["seriesMasterId"] == master.item_id
    assert exception["start"]["dateTime"] == "2026-11-10T18:00:00.0000000"
    assert len(removed) == 1
    priya_view, _, _ = sim.delta_round(calendar_delta_url(PRIYA.email), token)
    assert len(priya_view) == 4  # the attendee's copy lost the cancelled occurrence too


def test_declined_and_cancelled_meetings_show_in_delta(sim: Sim, token: str) -> None:
    start = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
    copies = sim.graph.create_meeting(
        ALEX.email,
        subject="Brightwater closing call",
        start=start,
        end=start + timedelta(minutes=30),
        attendees=[PRIYA.email],
    )
    lunch = sim.graph.create_meeting(
        CLIENT.address,
        subject="Lunch with Dana",
        start=start + timedelta(hours=2),
        end=start + timedelta(hours=3),
        attendees=[ALEX.email],
    )[ALEX.oid]
    _, priya_link, _ = sim.delta_round(calendar_delta_url(PRIYA.email), token)
    _, alex_link, _ = sim.delta_round(calendar_delta_url(ALEX.email), token)

    sim.graph.respond(ALEX.email, lunch.item_id, "declined")
    sim.graph.cancel_meeting(ALEX.email, copies[ALEX.oid].item_id)
    priya_values, _, _ = sim.delta_round(priya_link, token)
    alex_values, _, _ = sim.delta_round(alex_link, token)

    assert [(v["subject"], v["isCancelled"]) for v in priya_values] == [
        ("Canceled: Brightwater closing call", True)
    ]
    declined = next(v for v in alex_values if v["id"] == lunch.item_id)
    assert declined["responseStatus"]["response"] == "declined" and declined["showAs"] == "free"
    assert {
        "@odata.type": "#microsoft.graph.event",
        "id": copies[ALEX.oid].item_id,
        "@removed": {"reason": "deleted"},
    } in alex_values


def test_an_occurrence_from_the_delta_opens_by_its_id_and_the_master_lists_its_instances(
    sim: Sim, token: str
) -> None:
    master = weekly_review(sim)
    values, _, _ = sim.delta_round(calendar_delta_url(ALEX.email), token)

    occurrence = sim.get(f"/v1.0/users/{ALEX.email}/events/{values[2]['id']}", token).json()
    window = "startDateTime=2026-11-01T00:00:00Z&endDateTime=2026-11-30T00:00:00Z"
    instances = sim.get(f"/v1.0/users/{ALEX.email}/events/{master.item_id}/instances?{window}", token).json()

    assert occurrence["type"] == "occurrence" and occurrence["seriesMasterId"] == master.item_id
    assert occurrence["subject"] == "Acme litigation team weekly"
    assert occurrence["start"] == values[2]["start"]
    assert [i["start"]["dateTime"][:10] for i in instances["value"]] == [
        "2026-11-03",
        "2026-11-10",
        "2026-11-17",
        "2026-11-24",
    ]


def test_several_preferences_in_one_header_are_all_applied(sim: Sim, token: str) -> None:
    weekly_review(sim)
    prefer = 'odata.maxpagesize=2, IdType="ImmutableId", outlook.timezone="Pacific Standard Time"'

    response = sim.get(calendar_delta_url(ALEX.email), token, headers={"Prefer": prefer})

    body = response.json()
    assert len(body["value"]) == 2 and "@odata.nextLink" in body
    assert body["value"][0]["seriesMasterId"].startswith("AAkAL")  # the immutable form
    assert body["value"][0]["start"] == {
        "dateTime": "2026-10-27T07:00:00.0000000",
        "timeZone": "Pacific Standard Time",
    }
    applied = {p.strip() for p in response.headers["Preference-Applied"].split(",")}
    assert applied == {
        "odata.maxpagesize=2",
        'IdType="ImmutableId"',
        'outlook.timezone="Pacific Standard Time"',
    }
    every, _, pages = sim.delta_round(calendar_delta_url(ALEX.email), token, headers={"Prefer": prefer})
    assert pages == 3 and len({v["id"] for v in every}) == len(every) == 5  # a series spans pages


def test_calendar_delta_needs_a_time_window(sim: Sim, token: str) -> None:
    response = sim.get(f"/v1.0/users/{ALEX.email}/calendarView/delta", token)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "ErrorInvalidParameter"


# --- Authentication and permissions ------------------------------------------------------------------


def test_requests_without_a_valid_token_get_401_in_graphs_shape(sim: Sim) -> None:
    missing = sim.get(INBOX_DELTA)
    forged = sim.get(INBOX_DELTA, "e30.e30.c2ln")

    assert missing.status_code == 401 and forged.status_code == 401
    assert missing.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert missing.json()["error"]["message"] == "Access token is empty."
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")


def test_an_app_without_mail_permissions_gets_403(sim: Sim) -> None:
    bare = sim.app_token(BARE_APP_ID, BARE_SECRET)

    response = sim.get(INBOX_DELTA, bare)

    assert response.status_code == 403
    assert response.json()["error"] == {
        "code": "ErrorAccessDenied",
        "message": "Access is denied. Check credentials and try again.",
        "innerError": response.json()["error"]["innerError"],
    }


def test_a_delegated_token_reads_its_own_mailbox_but_not_a_colleagues(sim: Sim) -> None:
    inbound(sim, "For Alex only")
    delegated = sim.identity.issue_access_token(
        TENANT_ID, ALEX.oid, GRAPH_RESOURCE, client_id=APP_ID, scopes=["Mail.Read"]
    )

    own = sim.get("/v1.0/me/mailFolders('inbox')/messages/delta", delegated)
    other = sim.get(f"/v1.0/users/{PRIYA.email}/mailFolders('inbox')/messages/delta", delegated)

    assert own.status_code == 200 and [v["subject"] for v in own.json()["value"]] == ["For Alex only"]
    assert "/v1.0/me/" in own.json()["@odata.deltaLink"]
    assert other.status_code == 403


def test_users_without_a_mailbox_and_unknown_users_get_graphs_404s(sim: Sim, token: str) -> None:
    no_mailbox = sim.get(f"/v1.0/users/{CASEY.email}/mailFolders('inbox')/messages/delta", token)
    unknown = sim.get("/v1.0/users/nobody@halemercer.example/mailFolders('inbox')/messages/delta", token)
    user = sim.get(f"/v1.0/users/{ALEX.email}", token)

    assert no_mailbox.json()["error"]["code"] == "MailboxNotEnabledForRESTAPI"
    assert unknown.json()["error"]["code"] == "ErrorInvalidUser"
    assert user.json()["id"] == ALEX.oid and user.json()["userPrincipalName"] == ALEX.email


# --- Subscriptions and notifications -----------------------------------------------------------------


def subscribe(sim: Sim, token: str, receiver: Receiver, **overrides: Any) -> requests.Response:
    body = {
        "changeType": "created,updated,deleted",
        "notificationUrl": receiver.url,
        "lifecycleNotificationUrl": receiver.url,
        "resource": f"users/{ALEX.oid}/mailFolders('inbox')/messages",
        "expirationDateTime": (START + timedelta(hours=48)).isoformat().replace("+00:00", "Z"),
        "clientState": "matterline-secret-state",
        **overrides,
    }
    return sim.send("POST", "/v1.0/subscriptions", token, json=body)


def test_a_subscription_is_created_after_the_endpoint_echoes_the_decoded_token(
    sim: Sim, token: str, receiver: Receiver
) -> None:
    response = subscribe(sim, token, receiver)

    assert response.status_code == 201, response.text
    created = response.json()
    assert created["resource"] == f"users/{ALEX.oid}/mailFolders('inbox')/messages"
    assert created["applicationId"] == APP_ID and created["clientState"] == "matterline-secret-state"
    assert len(receiver.validations) == 2  # notification and lifecycle URLs are both proven
    assert receiver.validations[0].startswith("Validation: Testing client application reachability")


@pytest.mark.parametrize("echo", ["wrong", "json"])
def test_an_endpoint_that_fails_the_handshake_gets_no_subscription(
    sim: Sim, token: str, receiver: Receiver, echo: str
) -> None:
    receiver.echo = echo

    response = subscribe(sim, token, receiver)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "ValidationError"
    assert sim.graph.notifications.all() == []


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"clientState": "x" * 129}, "at most 128"),
        ({"expirationDateTime": (START + timedelta(minutes=4231)).isoformat()}, "4230 minutes"),
        ({"changeType": "created,moved"}, "changeType"),
        ({"notificationUrl": "http://example.invalid/hook"}, "https"),
    ],
)
def test_subscription_requests_outside_graphs_limits_are_refused(
    sim: Sim, token: str, receiver: Receiver, override: dict[str, Any], message: str
) -> None:
    response = subscribe(sim, token, receiver, **override)

    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


def test_a_new_message_is_notified_with_client_state_and_its_id(
    sim: Sim, token: str, receiver: Receiver
) -> None:
    subscription = subscribe(sim, token, receiver).json()

    message = inbound(sim, "New instructions from Acme")
    values = receiver.collect(1)

    assert values == [
        {
            "subscriptionId": subscription["id"],
            "subscriptionExpirationDateTime": subscription["expirationDateTime"],
            "changeType": "created",
            "resource": f"Users/{ALEX.oid}/Messages/{message.item_id}",
            "resourceData": {
                "@odata.type": "#Microsoft.Graph.Message",
                "@odata.id": f"Users/{ALEX.oid}/Messages/{message.item_id}",
                "@odata.etag": f'W/"{message.change_key}"',
                "id": message.item_id,
            },
            "clientState": "matterline-secret-state",
            "tenantId": TENANT_ID,
        }
    ]


def test_a_failing_endpoint_is_retried_until_it_accepts(sim: Sim, token: str, receiver: Receiver) -> None:
    subscribe(sim, token, receiver)
    receiver.failures_before_success = 2

    inbound(sim, "Retry me")
    values = receiver.collect(1)

    assert values[0]["changeType"] == "created"
    assert receiver.attempts == 3
    assert sim.graph.notifications.wait_until_idle(5)
    assert sim.graph.notifications.stats.retried == 2 and sim.graph.notifications.stats.dropped == 0


def test_lifecycle_events_reach_the_lifecycle_url(sim: Sim, token: str, receiver: Receiver) -> None:
    subscription = subscribe(sim, token, receiver).json()

    sim.graph.fire_lifecycle(subscription["id"], "reauthorizationRequired")
    values = receiver.collect(1)
    reauthorized = sim.send("POST", f"/v1.0/subscriptions/{subscription['id']}/reauthorize", token)

    assert values == [
        {
            "subscriptionId": subscription["id"],
            "subscriptionExpirationDateTime": subscription["expirationDateTime"],
            "tenantId": TENANT_ID,
            "clientState": "matterline-secret-state",
            "lifecycleEvent": "reauthorizationRequired",
        }
    ]
    assert reauthorized.status_code == 204


@pytest.mark.parametrize(("event", "survives"), [("missed", True), ("subscriptionRemoved", False)])
def test_other_lifecycle_events_are_delivered_and_a_removed_subscription_is_gone(
    sim: Sim, token: str, receiver: Receiver, event: str, survives: bool
) -> None:
    subscription = subscribe(sim, token, receiver).json()

    fired = sim.send("POST", f"/_sim/subscriptions/{subscription['id']}/lifecycle", json={"event": event})
    values = receiver.collect(1)

    assert fired.status_code == 204
    assert [v["lifecycleEvent"] for v in values] == [event]
    assert (sim.get(f"/v1.0/subscriptions/{subscription['id']}", token).status_code == 200) is survives


def test_notifications_are_dropped_after_the_last_retry(sim: Sim, token: str, receiver: Receiver) -> None:
    subscribe(sim, token, receiver)
    receiver.failures_before_success = 100

    inbound(sim, "Nobody is listening")

    assert sim.graph.notifications.wait_until_idle(5)
    assert receiver.attempts == 4
    assert sim.graph.notifications.stats.dropped == 1


def test_an_expired_subscription_stops_notifying(sim: Sim, token: str, receiver: Receiver) -> None:
    subscription = subscribe(sim, token, receiver).json()

    sim.graph.advance_clock(timedelta(hours=49))
    inbound(sim, "Nobody hears this")

    assert sim.graph.notifications.wait_until_idle(5)
    assert receiver.notifications.empty()
    assert sim.get(f"/v1.0/subscriptions/{subscription['id']}", token).status_code == 404


def test_subscriptions_renew_list_and_delete(sim: Sim, token: str, receiver: Receiver) -> None:
    subscription = subscribe(sim, token, receiver).json()
    later = (START + timedelta(hours=70)).isoformat().replace("+00:00", "Z")

    renewed = sim.send(
        "PATCH", f"/v1.0/subscriptions/{subscription['id']}", token, json={"expirationDateTime": later}
    )
    listed = sim.get("/v1.0/subscriptions", token)
    deleted = sim.send("DELETE", f"/v1.0/subscriptions/{subscription['id']}", token)
    after = sim.get("/v1.0/subscriptions", token)

    assert renewed.status_code == 200 and renewed.json()["expirationDateTime"].startswith(
        "2026-11-26T12:00:00"
    )
    assert [s["id"] for s in listed.json()["value"]] == [subscription["id"]]
    assert deleted.status_code == 204 and after.json()["value"] == []


# --- $batch and throttling ----------------------------------------------------------------------------


def test_a_batch_dispatches_each_request_with_the_outer_token(sim: Sim, token: str) -> None:
    message = inbound(sim, "Batch me")
    batch = {
        "requests": [
            {
                "id": "1",
                "method": "GET",
                "url": f"/users/{ALEX.email}/messages/{message.item_id}?$select=subject",
            },
            {"id": "2", "method": "GET", "url": f"users/{ALEX.email}/mailFolders('inbox')/messages/delta"},
            {"id": "3", "method": "GET", "url": "/users/nobody@halemercer.example/messages"},
        ]
    }

    response = sim.send("POST", "/v1.0/$batch", token, json=batch)

    by_id = {r["id"]: r for r in response.json()["responses"]}
    assert response.status_code == 200
    assert by_id["1"]["status"] == 200 and by_id["1"]["body"]["subject"] == "Batch me"
    assert "@odata.deltaLink" in by_id["2"]["body"]
    assert by_id["3"]["status"] == 404


def test_a_batch_of_more_than_twenty_requests_is_refused(sim: Sim, token: str) -> None:
    batch = {"requests": [{"id": str(n), "method": "GET", "url": f"/users/{ALEX.email}"} for n in range(21)]}

    response = sim.send("POST", "/v1.0/$batch", token, json=batch)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BadRequest"


def test_a_throttled_mailbox_answers_429_with_a_fractional_retry_after(sim: Sim, token: str) -> None:
    sim.graph.throttle(ALEX.email, 2, 0.5)

    answers = [sim.get(INBOX_DELTA, token) for _ in range(3)]

    assert [a.status_code for a in answers] == [429, 429, 200]
    assert answers[0].headers["Retry-After"] == "0.5"
    other = sim.get(f"/v1.0/users/{PRIYA.email}/mailFolders('inbox')/messages/delta", token)
    assert other.status_code == 200


def test_the_fifth_concurrent_request_to_a_mailbox_is_refused(sim: Sim, token: str) -> None:
    results: list[int] = []

    def call() -> None:
        results.append(sim.get(INBOX_DELTA, token).status_code)

    with sim.graph.hold_requests():
        threads = [threading.Thread(target=call) for _ in range(4)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 5
        while sim.graph.in_flight(ALEX.email) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        fifth = sim.get(INBOX_DELTA, token)
    for thread in threads:
        thread.join(timeout=5)

    assert fifth.status_code == 429
    assert fifth.json()["error"] == {
        "code": "ApplicationThrottled",
        "message": "Application is over its MailboxConcurrency limit.",
        "innerError": fifth.json()["error"]["innerError"],
    }
    assert results == [200, 200, 200, 200]


@pytest.mark.parametrize("graph_settings", [GraphSettings(request_budget=3)], indirect=True)
def test_the_request_budget_per_window_is_enforced_and_resets(sim: Sim, token: str) -> None:
    statuses = [sim.get(INBOX_DELTA, token).status_code for _ in range(4)]
    retry_after = float(sim.get(INBOX_DELTA, token).headers["Retry-After"])
    sim.graph.advance_clock(timedelta(minutes=10))

    assert statuses == [200, 200, 200, 429]
    assert 0 < retry_after <= 600
    assert sim.get(INBOX_DELTA, token).status_code == 200


def test_every_request_to_a_mailbox_is_counted(sim: Sim, token: str) -> None:
    sim.graph.reset_request_counts()
    sim.graph.throttle(ALEX.email, 1, 1)

    for _ in range(3):
        sim.get(INBOX_DELTA, token)
    sim.get(calendar_delta_url(PRIYA.email), token)

    assert sim.graph.request_counts() == {ALEX.email: 3, PRIYA.email: 1}


# --- Scripting over HTTP and persistence --------------------------------------------------------------


def test_the_scripting_endpoints_drive_the_mailbox_without_a_token(sim: Sim, token: str) -> None:
    delivered = sim.send(
        "POST",
        f"/_sim/mailboxes/{ALEX.email}/messages/inbound",
        json={
            "from": {"name": "Dana Whitfield", "address": CLIENT.address},
            "subject": "Acme 2026-0101: revised schedule",
            "headers": {"List-Unsubscribe": "<mailto:unsubscribe@acme-mfg.example>"},
        },
    )
    read = sim.send("POST", f"/_sim/mailboxes/{ALEX.email}/messages/{delivered.json()['id']}/read", json={})
    advanced = sim.send("POST", "/_sim/clock/advance", json={"hours": 1})
    values, _, _ = sim.delta_round(f"{INBOX_DELTA}?$select=subject,isRead,internetMessageHeaders", token)

    assert delivered.status_code == 201 and read.json()["isRead"] is True
    assert advanced.json()["now"] == "2026-11-23T15:00:00Z"
    assert values[0]["isRead"] is True
    assert {"name": "List-Unsubscribe", "value": "<mailto:unsubscribe@acme-mfg.example>"} in values[0][
        "internetMessageHeaders"
    ]
    bad = sim.send("POST", f"/_sim/mailboxes/{ALEX.email}/messages/inbound", json={"subject": "no sender"})
    assert bad.status_code == 400


def test_the_scripting_endpoints_cover_meetings_tokens_replays_and_throttling(sim: Sim, token: str) -> None:
    start = "2026-11-24T15:00:00Z"
    created = sim.send(
        "POST",
        f"/_sim/mailboxes/{ALEX.email}/events",
        json={
            "subject": "Fulton lease call",
            "start": start,
            "end": "2026-11-24T15:30:00Z",
            "attendees": [PRIYA.email],
        },
    ).json()
    priya_copy = created["copies"][PRIYA.email]["id"]
    responded = sim.send(
        "POST", f"/_sim/mailboxes/{PRIYA.email}/events/{priya_copy}/respond", json={"response": "declined"}
    )
    _, delta_link, _ = sim.delta_round(calendar_delta_url(PRIYA.email), token)
    cancelled = sim.send(
        "POST", f"/_sim/mailboxes/{ALEX.email}/events/{created['copies'][ALEX.email]['id']}/cancel"
    )
    replayed = sim.send("POST", f"/_sim/mailboxes/{PRIYA.email}/replay", json={"folder": "calendar"})
    changes, _, _ = sim.delta_round(delta_link, token)
    expired = sim.send("POST", f"/_sim/mailboxes/{PRIYA.email}/expire-delta-tokens")
    throttled = sim.send(
        "POST", f"/_sim/mailboxes/{PRIYA.email}/throttle", json={"count": 1, "retryAfter": 2}
    )
    first, second = sim.get(delta_link, token), sim.get(delta_link, token)
    sent = sim.send(
        "POST", f"/_sim/mailboxes/{ALEX.email}/messages/sent", json={"to": [CLIENT.address], "subject": "Hi"}
    )
    counts = sim.get("/_sim/graph/requests").json()["requests"]

    assert responded.json()["response"] == "declined"
    assert cancelled.status_code == 204 and replayed.status_code == 200 and expired.status_code == 200
    assert [c["isCancelled"] for c in changes] == [True, True]  # the cancellation, then its replay
    assert throttled.status_code == 204
    assert (first.status_code, first.headers["Retry-After"], second.status_code) == (429, "2", 410)
    assert sent.status_code == 201 and sent.json()["folder"] == "sentitems"
    assert counts[PRIYA.email] >= 3


def test_delta_tokens_keep_working_after_the_store_is_saved_and_restored(sim: Sim, token: str) -> None:
    inbound(sim, "Before the restart")
    _, delta_link, _ = sim.delta_round(INBOX_DELTA, token)
    saved = json.loads(json.dumps(sim.store.to_dict()))
    restored = MailboxStore.from_dict(saved, sim.graph.clock)
    server = M365Server(sim.identity, port=0, tls=sim.tls)
    graph = GraphSimulator(server, restored, clock=sim.graph.clock, start_notifications=False)
    server.start()
    try:
        graph.deliver_message(ALEX.email, sender=CLIENT, subject="After the restart")
        # The new server has a new port, hence a new issuer: tokens are fetched again, delta links kept.
        fresh = sim.identity.issue_access_token(
            TENANT_ID, None, GRAPH_RESOURCE, client_id=APP_ID, roles=["Mail.Read"]
        )
        link = urlsplit(delta_link)
        resumed = sim.get(f"{server.base_url}{link.path}?{link.query}", fresh)
    finally:
        server.stop()

    assert resumed.status_code == 200
    assert [v["subject"] for v in resumed.json()["value"]] == ["After the restart"]


# --- A real Microsoft client library ------------------------------------------------------------------


def test_the_o365_library_reads_a_folder_through_the_simulator(sim: Sim) -> None:
    from O365 import Account
    from O365.connection import MSGraphProtocol
    from O365.utils.token import MemoryTokenBackend

    class SimulatedGraphProtocol(MSGraphProtocol):
        """O365's Graph protocol with the service URL of the simulator (the protocol's documented knob)."""

        def __init__(self, base_url: str, **kwargs: Any) -> None:
            self._protocol_url = base_url.rstrip("/") + "/"
            super().__init__(**kwargs)

    for n in range(3):
        inbound(sim, f"Evergreen v. Helix: privilege log {n}")
    backend = MemoryTokenBackend()
    # The token comes from msal against the simulated Entra ID, straight into O365's token backend (an
    # msal token cache); O365's own msal client cannot be used because it does not pass
    # instance_discovery=False and would look the authority up on the internet.
    msal.ConfidentialClientApplication(
        APP_ID,
        client_credential=APP_SECRET,
        authority=f"{sim.base}/{TENANT_ID}",
        verify=sim.tls.ca_bundle,
        instance_discovery=False,
        token_cache=backend,
    ).acquire_token_for_client([f"{GRAPH_RESOURCE}/.default"])
    account = Account(
        (APP_ID, APP_SECRET),
        auth_flow_type="credentials",
        tenant_id=TENANT_ID,
        protocol=SimulatedGraphProtocol(sim.base, default_resource=ALEX.email, timezone="UTC"),
        token_backend=backend,
        verify_ssl=sim.tls.ca_bundle,
        requests_delay=0,
        request_retries=0,
    )

    inbox = account.mailbox(resource=ALEX.email).inbox_folder()
    messages = list(inbox.get_messages(limit=2))
    everything = list(inbox.get_messages(limit=10, batch=2))  # follows @odata.nextLink pages

    assert account.is_authenticated
    assert len(messages) == 2
    assert {m.subject for m in everything} == {f"Evergreen v. Helix: privilege log {n}" for n in range(3)}
    assert messages[0].sender.address == CLIENT.address


# --- The scenario engine ------------------------------------------------------------------------------

MONDAY = date(2026, 11, 23)


def demo_store() -> MailboxStore:
    store = MailboxStore(SimulatorClock(START, frozen=True))
    install_demo_mailboxes(store)
    return store


def test_a_planned_day_depends_only_on_the_seed_and_the_date() -> None:
    boxes = demo_mailboxes()

    first = [i.to_dict() for i in plan_day(boxes, MONDAY, 7)]
    again = [i.to_dict() for i in plan_day(list(reversed(boxes)), MONDAY, 7)]
    other_seed = [i.to_dict() for i in plan_day(boxes, MONDAY, 8)]

    assert first == again
    assert first != other_seed


def test_a_working_week_has_all_the_kinds_of_mail_a_lawyer_gets() -> None:
    items = [i for n in range(5) for i in plan_day(demo_mailboxes(), MONDAY + timedelta(days=n), 7)]
    delivered = [i for i in items if i.action == "deliver"]
    headers = {name for i in delivered for name, _ in i.data.get("headers", ())}
    subjects = [i.data["subject"] for i in items if i.action in ("deliver", "send")]
    numbers = [m.number for m in MATTERS]

    assert {"List-Unsubscribe", "Auto-Submitted"} <= headers
    assert any(any(n in s for n in numbers) for s in subjects)
    assert any(not any(n in s for n in numbers) for s in subjects)
    assert any(i.data["sender"]["address"].endswith("homemail.example") for i in delivered)  # personal mail
    assert any(
        i.action == "send" and "halemercer.example" in i.data["to"][0]["address"] for i in items
    )  # internal
    assert any(CORRELATION_HEADER in dict(i.data.get("headers", ())) for i in items if i.action == "send")
    assert {"accepted", "declined"} <= {i.data["response"] for i in items if i.action == "respond"}
    assert any(i.action == "cancel" for i in items)
    assert sum(i.action == "series" for i in items) == 5  # planned daily, created once


def test_mail_happens_in_working_hours_in_each_persons_own_zone() -> None:
    boxes = {box.address: box for box in demo_mailboxes()}

    items = [i for i in plan_day(list(boxes.values()), MONDAY, 11) if i.action in ("deliver", "send")]

    local_hours = {i.at.astimezone(ZoneInfo(boxes[i.mailbox].time_zone)).hour for i in items}
    assert min(local_hours) >= 6 and max(local_hours) < 20
    assert all(i.at.astimezone(ZoneInfo(boxes[i.mailbox].time_zone)).date() == MONDAY for i in items)


def test_tick_releases_each_item_once_when_its_time_arrives() -> None:
    store = demo_store()
    scenario = generate_day(store, MONDAY, 7)
    noon = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)

    morning = scenario.tick(noon)
    repeated = scenario.tick(noon)
    rest = scenario.tick(noon + timedelta(days=1))

    assert morning and all(i.at <= noon for i in morning)
    assert repeated == []
    assert rest and all(i.at > noon for i in rest) and scenario.pending() == []
    sent_items = sum(len(store.messages(box.user_id, "sentitems")) for box in store.mailboxes())
    assert sent_items == sum(i.action == "send" for i in morning + rest)


def test_the_weekly_series_is_created_once_with_a_moved_and_a_cancelled_occurrence() -> None:
    store = demo_store()
    scenario = Scenario(store, seed=7)
    for n in range(3):
        scenario.generate_day(MONDAY + timedelta(days=n))
    scenario.tick(datetime(2026, 11, 27, tzinfo=UTC))
    alex = store.mailbox("alex.attorney@halemercer.example")
    assert alex is not None

    series = [e for e in store.events(alex.user_id) if e.subject == "Litigation team weekly"]
    instances = expand_event(
        series[0], datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 12, 20, tzinfo=UTC)
    )

    assert len(series) == 1 and series[0].response == "accepted"
    assert [i.kind for i in instances] == ["occurrence", "occurrence", "exception"]  # the 4th is cancelled


def test_a_saved_scenario_resumes_without_releasing_anything_twice() -> None:
    store = demo_store()
    scenario = generate_day(store, MONDAY, 7)
    scenario.tick(datetime(2026, 11, 23, 17, 0, tzinfo=UTC))

    resumed = Scenario(store, seed=1)
    resumed.load_dict(json.loads(json.dumps(scenario.to_dict())))

    assert resumed.seed == 7
    assert [i.key for i in resumed.pending()] == [i.key for i in scenario.pending()]


def test_scenario_mail_reaches_a_connector_through_graph(sim: Sim, token: str) -> None:
    scenario = Scenario(sim.store, seed=3, clock=sim.graph.clock.now, auto_generate=True)
    scenario.register_routes(sim.graph.server)

    planned = sim.send("POST", "/_sim/scenario/days", json={"date": "2026-11-24"})
    ticked = sim.send("POST", "/_sim/scenario/tick", json={"now": "2026-11-25T02:00:00Z"})
    status = sim.get("/_sim/scenario").json()
    values, _, _ = sim.delta_round(f"{INBOX_DELTA}?$select=subject,from,isRead,internetMessageHeaders", token)

    assert planned.status_code == 201 and planned.json()["items"] > 0
    assert len(ticked.json()["released"]) > planned.json()["items"] // 2
    assert status["days"] == ["2026-11-24"] and status["released"] > 0
    assert any(v["isRead"] for v in values) and any(not v["isRead"] for v in values)
    assert any(h["name"] == "List-Unsubscribe" for v in values for h in v["internetMessageHeaders"])
