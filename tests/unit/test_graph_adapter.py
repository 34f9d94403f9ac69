"""The Graph adapter's parsing and HTTP discipline, without a network: what Graph sends becomes the
neutral mailbox types; Retry-After, 401, 410 and the four-per-mailbox limit are honoured."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from chalicelib.adapters.microsoft.graph import (
    GraphClient,
    GraphMailboxSource,
    MailboxSlots,
    graph_datetime,
    parse_event,
    parse_message,
    retry_after_seconds,
)
from chalicelib.domain.m365 import MailServerError
from chalicelib.domain.mailbox import Folder, MailItem, MeetingItem, RemovedItem, SyncStateExpired

BASE = "https://graph.example"
NOW = datetime(2026, 3, 9, 18, 0, tzinfo=UTC)


class TestParsing:
    def test_a_message_keeps_its_headers_lower_cased_and_its_people_as_addresses(self) -> None:
        item = parse_message(
            {
                "id": "AAk-1",
                "internetMessageId": "<m1@northwind.example>",
                "from": {"emailAddress": {"name": "Dana", "address": "Dana.Reyes@Northwind.example"}},
                "toRecipients": [{"emailAddress": {"address": "alex@lovelace.law"}}],
                "sentDateTime": "2026-03-09T14:00:00Z",
                "receivedDateTime": "2026-03-09T14:00:02Z",
                "isRead": True,
                "internetMessageHeaders": [
                    {"name": "X-Matterline-Correlation", "value": "draft-9"},
                    {"name": "List-Unsubscribe", "value": "<mailto:x@y>"},
                ],
            },
            Folder.INBOX,
        )
        assert isinstance(item, MailItem)
        assert item.sender == "dana.reyes@northwind.example" and item.to == ("alex@lovelace.law",)
        assert item.headers == {"x-matterline-correlation": "draft-9", "list-unsubscribe": "<mailto:x@y>"}
        assert item.received_at == datetime(2026, 3, 9, 14, 0, 2, tzinfo=UTC) and item.is_read

    def test_a_removed_entry_is_a_removed_item(self) -> None:
        assert parse_message({"id": "AAk-2", "@removed": {"reason": "deleted"}}, Folder.SENT) == RemovedItem(
            "AAk-2", Folder.SENT
        )

    def test_a_stripped_occurrence_is_joined_with_its_series_master(self) -> None:
        master = {
            "id": "master-1",
            "iCalUId": "uid-series",
            "subject": "Weekly docket review",
            "responseStatus": {"response": "accepted"},
            "organizer": {"emailAddress": {"address": "blake@lovelace.law"}},
            "attendees": [{"emailAddress": {"address": "alex@lovelace.law"}, "type": "required"}],
            "showAs": "busy",
        }
        occurrence = {
            "id": "occ-1",
            "seriesMasterId": "master-1",
            "type": "occurrence",
            "start": {"dateTime": "2026-03-09T14:00:00.0000000", "timeZone": "UTC"},
            "end": {"dateTime": "2026-03-09T14:30:00.0000000", "timeZone": "UTC"},
        }
        item = parse_event(occurrence, master)
        assert isinstance(item, MeetingItem)
        assert (item.ical_uid, item.subject, item.response, item.kind) == (
            "uid-series",
            "Weekly docket review",
            "accepted",
            "occurrence",
        )
        assert (
            item.start == datetime(2026, 3, 9, 14, 0, tzinfo=UTC) and item.organizer == "blake@lovelace.law"
        )

    def test_a_series_master_itself_is_not_a_meeting(self) -> None:
        assert parse_event({"id": "m", "type": "seriesMaster", "start": {}, "end": {}}, None) is None

    def test_windows_and_iana_zone_names_both_give_utc(self) -> None:
        eastern = graph_datetime(
            {"dateTime": "2026-03-09T10:00:00.1234567", "timeZone": "Eastern Standard Time"}
        )
        chicago = graph_datetime({"dateTime": "2026-03-09T09:00:00", "timeZone": "America/Chicago"})
        assert eastern == datetime(2026, 3, 9, 14, 0, 0, 123000, tzinfo=UTC)
        assert chicago == datetime(2026, 3, 9, 14, 0, tzinfo=UTC)

    def test_retry_after_may_be_fractional_seconds_or_an_http_date(self) -> None:
        assert retry_after_seconds("0.25", 0, lambda: NOW) == 0.25
        assert retry_after_seconds("Mon, 09 Mar 2026 18:00:03 GMT", 0, lambda: NOW) == 3.0
        assert retry_after_seconds(None, 3, lambda: NOW) == 8.0
        assert retry_after_seconds(None, 30, lambda: NOW) == 60.0


@dataclass
class Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class ScriptedSession(requests.Session):
    """Answers requests from a script, recording what was asked."""

    def __init__(self, answers: list[Answer]) -> None:
        super().__init__()
        self.answers = answers
        self.sent: list[tuple[str, str, dict[str, str]]] = []

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        self.sent.append((str(method), str(url), dict(kwargs.get("headers") or {})))
        answer = self.answers.pop(0)
        response = requests.Response()
        response.status_code = answer.status
        response._content = json.dumps(answer.body if answer.body is not None else {}).encode()
        response.headers.update(answer.headers)
        response.url = str(url)
        return response


def client_for(answers: list[Answer], **options: Any) -> tuple[GraphClient, ScriptedSession, list[float]]:
    waits: list[float] = []
    session = ScriptedSession(answers)
    client = GraphClient(BASE, token=lambda: "token", session=session, sleep=waits.append, **options)
    return client, session, waits


def page(
    value: list[dict[str, Any]], *, next_link: str | None = None, delta_link: str | None = None
) -> Answer:
    body: dict[str, Any] = {"value": value}
    if next_link:
        body["@odata.nextLink"] = next_link
    if delta_link:
        body["@odata.deltaLink"] = delta_link
    return Answer(200, body)


class TestHttp:
    def test_every_request_asks_for_immutable_ids_and_a_page_size(self) -> None:
        client, session, _ = client_for([page([], delta_link=f"{BASE}/v1.0/d?$deltatoken=1")], page_size=25)
        list(GraphMailboxSource(client).mail_changes("alex@lovelace.law", Folder.INBOX, None))
        method, url, headers = session.sent[0]
        assert headers["Prefer"] == 'IdType="ImmutableId", odata.maxpagesize=25'
        assert url.startswith(
            f"{BASE}/v1.0/users/alex@lovelace.law/mailFolders('inbox')/messages/delta?$select="
        )
        assert headers["Authorization"] == "Bearer token" and method == "GET"

    def test_pages_follow_next_links_and_end_at_the_delta_link(self) -> None:
        client, session, _ = client_for(
            [
                page([{"id": "1", "isRead": True}], next_link=f"{BASE}/v1.0/n?$skiptoken=a"),
                page(
                    [{"id": "2", "@removed": {"reason": "deleted"}}],
                    delta_link=f"{BASE}/v1.0/d?$deltatoken=b",
                ),
            ]
        )
        pages = list(GraphMailboxSource(client).mail_changes("alex@lovelace.law", Folder.SENT, None))
        assert [(p.more, p.state) for p in pages] == [
            (True, f"{BASE}/v1.0/n?$skiptoken=a"),
            (False, f"{BASE}/v1.0/d?$deltatoken=b"),
        ]
        assert isinstance(pages[1].changes[0], RemovedItem) and session.sent[1][1] == pages[0].state

    def test_a_429_waits_what_retry_after_says_then_tries_again(self) -> None:
        client, _, waits = client_for(
            [Answer(429, headers={"Retry-After": "1.5"}), Answer(503), page([], delta_link=f"{BASE}/v1.0/d")]
        )
        list(GraphMailboxSource(client).mail_changes("alex@lovelace.law", Folder.INBOX, None))
        assert waits == [1.5, 2.0] and client.throttled == 1

    def test_giving_up_on_throttling_is_a_retryable_error(self) -> None:
        client, _, waits = client_for([Answer(429, headers={"Retry-After": "0.1"})] * 3, max_retries=2)
        with pytest.raises(MailServerError) as raised:
            list(GraphMailboxSource(client).mail_changes("alex@lovelace.law", Folder.INBOX, None))
        assert raised.value.retryable and raised.value.status == 429 and waits == [0.1, 0.1]

    def test_a_401_gets_a_fresh_token_once(self) -> None:
        forgotten: list[bool] = []
        session = ScriptedSession([Answer(401), page([], delta_link=f"{BASE}/v1.0/d")])
        client = GraphClient(
            BASE, token=lambda: "t", session=session, forget_token=lambda: forgotten.append(True)
        )
        list(GraphMailboxSource(client).mail_changes("alex@lovelace.law", Folder.INBOX, None))
        assert forgotten == [True] and len(session.sent) == 2

    def test_a_410_says_the_sync_state_expired(self) -> None:
        client, _, _ = client_for([Answer(410, {"error": {"code": "SyncStateNotFound", "message": "gone"}})])
        with pytest.raises(SyncStateExpired):
            list(
                GraphMailboxSource(client).mail_changes("a@b.c", Folder.INBOX, f"{BASE}/v1.0/d?$deltatoken=x")
            )

    def test_a_403_is_an_error_an_admin_must_fix(self) -> None:
        client, _, _ = client_for(
            [Answer(403, {"error": {"code": "ErrorAccessDenied", "message": "denied"}})]
        )
        with pytest.raises(MailServerError) as raised:
            list(GraphMailboxSource(client).mail_changes("a@b.c", Folder.INBOX, None))
        assert not raised.value.retryable and raised.value.status == 403
        assert "Mail.Read" in raised.value.message  # says what the admin must grant

    def test_a_stored_link_to_another_host_is_never_followed(self) -> None:
        client, session, _ = client_for([])
        with pytest.raises(MailServerError):
            list(
                GraphMailboxSource(client).mail_changes("a@b.c", Folder.INBOX, "https://evil.example/v1.0/d")
            )
        assert session.sent == []

    def test_series_masters_are_fetched_once_per_sync_in_batches(self) -> None:
        start = {"dateTime": "2026-03-09T14:00:00.0000000", "timeZone": "UTC"}
        end = {"dateTime": "2026-03-09T14:30:00.0000000", "timeZone": "UTC"}
        occurrences = [
            {"id": f"o{n}", "seriesMasterId": f"m{n % 2}", "type": "occurrence", "start": start, "end": end}
            for n in range(4)
        ]
        masters = {
            "responses": [
                {
                    "id": str(n),
                    "status": 200,
                    "body": {"id": f"m{n}", "iCalUId": f"uid-{n}", "subject": f"S{n}"},
                }
                for n in range(2)
            ]
        }
        client, session, _ = client_for(
            [
                page(occurrences[:2], next_link=f"{BASE}/v1.0/n?$skiptoken=1"),
                Answer(200, masters),
                page(occurrences[2:], delta_link=f"{BASE}/v1.0/d?$deltatoken=2"),
            ]
        )
        pages = list(
            GraphMailboxSource(client).calendar_changes(
                "alex@lovelace.law", NOW - timedelta(days=1), NOW, None
            )
        )
        subjects = [c.subject for p in pages for c in p.changes if isinstance(c, MeetingItem)]
        assert subjects == ["S0", "S1", "S0", "S1"]
        assert [url.rsplit("/", 1)[-1].split("?")[0] for _, url, _ in session.sent].count("$batch") == 1


def test_no_more_than_four_requests_run_at_once_for_one_mailbox_and_others_are_not_held_up() -> None:
    slots = MailboxSlots(limit=4)
    running: dict[str, int] = {"alex": 0, "blake": 0}
    peak: dict[str, int] = {"alex": 0, "blake": 0}
    lock = threading.Lock()

    def work(mailbox: str, count: int = 1) -> None:
        slots.acquire(mailbox, count)
        with lock:
            running[mailbox] += count
            peak[mailbox] = max(peak[mailbox], running[mailbox])
        time.sleep(0.005)
        with lock:
            running[mailbox] -= count
        slots.release(mailbox, count)

    threads = [threading.Thread(target=work, args=("alex",)) for _ in range(12)]
    threads += [threading.Thread(target=work, args=("alex", 3)) for _ in range(3)]
    threads += [threading.Thread(target=work, args=("blake",)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert peak["alex"] <= 4 and peak["blake"] <= 4 and running == {"alex": 0, "blake": 0}
