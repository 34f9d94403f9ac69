"""The Clio and Actionstep adapters: their HTTP discipline, their mapping, and their OAuth flows.

The first part drives the adapters through a scripted ``requests`` transport (no sockets), to pin down
exactly what goes on the wire and how each kind of answer is handled. The second part runs them against
the devstack's Clio and Actionstep simulators, real HTTP servers on loopback.
"""

from __future__ import annotations

import dataclasses
import http
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from chalicelib.adapters.billing import ActionstepOAuth, ActionstepTarget, ClioOAuth, ClioTarget
from chalicelib.adapters.billing.actionstep import hours
from chalicelib.adapters.billing.http import BillingHttp, RetryPolicy
from chalicelib.domain.billing import (
    BillingError,
    OAuthTokens,
    ReauthorizationRequired,
    TimePosting,
    note_with_reference,
)
from chalicelib.ports import BillingTarget, OAuthClient
from devstack.billing import ActionstepSimulator, BillingSimulator, ClioSimulator
from tests.support.clock import ManualClock

CLIO_API = "https://app.clio.test/api/v4"
ACTIONSTEP_API = "https://ap-southeast-2.actionstep.test/api/"
EXPIRES = datetime(2026, 3, 9, 15, 30, tzinfo=UTC)

# ------------------------------------------------------------------ a scripted transport and fake time

Answer = tuple[int, dict[str, str], Any] | Exception


@dataclass
class Sent:
    """One request as it left the adapter."""

    method: str
    url: str
    headers: CaseInsensitiveDict[str]
    body: bytes | None

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.url).query)

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        text = (self.body or b"").decode() if isinstance(self.body, bytes) else str(self.body or "")
        return {key: values[0] for key, values in parse_qs(text).items()}


class ScriptedTransport(BaseAdapter):
    """A ``requests`` transport that answers from a script instead of a socket."""

    def __init__(self, answer: Callable[[Sent], Answer]) -> None:
        super().__init__()
        self._answer = answer
        self.sent: list[Sent] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        body = request.body.encode() if isinstance(request.body, str) else request.body
        sent = Sent(request.method or "GET", request.url or "", CaseInsensitiveDict(request.headers), body)
        self.sent.append(sent)
        answer = self._answer(sent)
        if isinstance(answer, Exception):
            raise answer
        status, headers, payload = answer
        response = requests.Response()
        response.status_code = status
        response.reason = http.HTTPStatus(status).phrase
        response.headers = CaseInsensitiveDict(headers)
        if payload is None:
            response._content = b""
        elif isinstance(payload, bytes | str):
            response._content = payload.encode() if isinstance(payload, str) else payload
        else:
            response._content = json.dumps(payload).encode()
            response.headers.setdefault("Content-Type", "application/json")
        response.url = sent.url
        response.request = request
        return response

    def close(self) -> None:
        pass


def session_with(transport: ScriptedTransport) -> requests.Session:
    session = requests.Session()
    session.mount("https://", transport)
    session.mount("http://", transport)
    return session


def script(*answers: Answer) -> Callable[[Sent], Answer]:
    """Answers in order, the last one repeated."""
    queue = list(answers)

    def answer(_sent: Sent) -> Answer:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return answer


class FakeTime:
    """Sleep that only moves the clocks: no test waits for real."""

    def __init__(self) -> None:
        self.wall = 1_800_000_000.0
        self.mono = 500.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.wall += seconds
        self.mono += seconds

    def monotonic(self) -> float:
        return self.mono

    def time(self) -> float:
        return self.wall


@dataclass
class RecordingTokens:
    """A ``TokenSource`` that renews by numbering tokens, or refuses when told to."""

    api_base: str | None = None
    refuse: bool = False
    generation: int = 1
    refreshed_from: list[str] = field(default_factory=list)

    def current(self) -> OAuthTokens:
        return OAuthTokens(f"access-{self.generation}", "refresh", EXPIRES, api_base=self.api_base)

    def refresh(self, rejected: OAuthTokens) -> OAuthTokens:
        self.refreshed_from.append(rejected.access_token)
        if self.refuse:
            raise ReauthorizationRequired()
        self.generation += 1
        return self.current()


def clio(transport: ScriptedTransport, fake: FakeTime, tokens: RecordingTokens | None = None) -> ClioTarget:
    return ClioTarget(
        CLIO_API,
        tokens or RecordingTokens(),
        session=session_with(transport),
        sleep=fake.sleep,
        monotonic=fake.monotonic,
        wall_clock=fake.time,
    )


def actionstep(transport: ScriptedTransport, fake: FakeTime, page_size: int = 200) -> ActionstepTarget:
    return ActionstepTarget(
        RecordingTokens(api_base=ACTIONSTEP_API),
        session=session_with(transport),
        sleep=fake.sleep,
        monotonic=fake.monotonic,
        wall_clock=fake.time,
        page_size=page_size,
    )


POSTING = TimePosting(
    reference="ML-e1",
    day=date(2026, 3, 9),
    seconds=1800,
    matter_external_id="1001",
    user_external_id="501",
    note="Email to Dana re: lease",
    non_billable=False,
    activity_external_id="77",
    worked_seconds=1437,
)
CREATED: Answer = (201, {}, {"data": {"id": 9001, "etag": '"abc"'}})


# ------------------------------------------------------------------ the shared HTTP discipline


def test_the_adapters_implement_the_billing_ports() -> None:
    # mypy checks these assignments structurally; the test keeps the check next to the behaviour.
    targets: list[BillingTarget] = [
        ClioTarget(CLIO_API, RecordingTokens()),
        ActionstepTarget(RecordingTokens()),
    ]
    clients: list[OAuthClient] = [
        ClioOAuth("https://c.test/oauth/authorize", "https://c.test/oauth/token", "cid", "secret"),
        ActionstepOAuth(
            "https://a.test/api/oauth/authorize", "https://a.test/api/oauth/token", "aid", "secret"
        ),
    ]

    assert len(targets) == len(clients) == 2


def test_a_401_renews_the_token_once_and_repeats_the_request_with_the_new_one() -> None:
    transport = ScriptedTransport(
        script((401, {}, {"error": {"type": "Unauthorized", "message": "expired"}}), CREATED)
    )
    tokens = RecordingTokens()

    external_id = clio(transport, FakeTime(), tokens).post_time(POSTING)

    assert external_id == "9001"
    assert tokens.refreshed_from == ["access-1"]
    assert [sent.headers["Authorization"] for sent in transport.sent] == [
        "Bearer access-1",
        "Bearer access-2",
    ]


def test_a_401_after_renewal_asks_for_the_account_to_be_connected_again() -> None:
    transport = ScriptedTransport(
        script((401, {}, {"error": {"type": "Unauthorized", "message": "revoked"}}))
    )
    tokens = RecordingTokens()

    with pytest.raises(ReauthorizationRequired):
        list(clio(transport, FakeTime(), tokens).users())

    assert tokens.refreshed_from == ["access-1"]
    assert len(transport.sent) == 2


def test_a_refused_refresh_token_surfaces_as_reauthorization_required() -> None:
    transport = ScriptedTransport(script((401, {}, {})))

    with pytest.raises(ReauthorizationRequired):
        list(clio(transport, FakeTime(), RecordingTokens(refuse=True)).users())

    assert len(transport.sent) == 1


def test_a_429_waits_the_fractional_retry_after_and_then_succeeds() -> None:
    fake = FakeTime()
    transport = ScriptedTransport(
        script((429, {"Retry-After": "1.5"}, {"message": "Too Many Requests"}), CREATED)
    )

    assert clio(transport, fake).post_time(POSTING) == "9001"

    assert fake.sleeps == [1.5]
    assert [sent.method for sent in transport.sent] == ["POST", "POST"]


def test_a_retry_after_given_as_an_http_date_is_honoured() -> None:
    fake = FakeTime()
    when = datetime.fromtimestamp(fake.wall + 3, UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
    transport = ScriptedTransport(script((429, {"Retry-After": when}, {}), (200, {}, {"data": []})))

    assert list(clio(transport, fake).users()) == []

    assert fake.sleeps == [pytest.approx(3, abs=1)]


def test_a_429_storm_gives_up_after_the_bounded_waits_with_a_retryable_error() -> None:
    fake = FakeTime()
    transport = ScriptedTransport(script((429, {"Retry-After": "2"}, {})))

    with pytest.raises(BillingError) as raised:
        list(clio(transport, fake).users())

    assert raised.value.retryable and raised.value.status == 429
    assert fake.sleeps == [2.0] * RetryPolicy().throttle_retries
    assert len(transport.sent) == RetryPolicy().throttle_retries + 1


def test_a_retry_after_longer_than_we_accept_is_a_retryable_error_not_a_long_nap() -> None:
    fake = FakeTime()
    transport = ScriptedTransport(script((429, {"Retry-After": "3600"}, {})))

    with pytest.raises(BillingError) as raised:
        list(clio(transport, fake).users())

    assert raised.value.retryable
    assert fake.sleeps == []


def test_an_exhausted_rate_window_holds_the_next_request_until_the_reset() -> None:
    fake = FakeTime()
    reset = str(int(fake.wall) + 20)
    first_page = {
        "data": [{"id": 1, "name": "A", "email": "a@x.test"}],
        "meta": {"paging": {"next": f"{CLIO_API}/users.json?page_token=2"}},
    }
    last_page = {"data": [{"id": 2, "name": "B", "email": "b@x.test"}], "meta": {"paging": {}}}
    transport = ScriptedTransport(
        script(
            (
                200,
                {"X-RateLimit-Limit": "50", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
                first_page,
            ),
            (200, {"X-RateLimit-Remaining": "49"}, last_page),
        )
    )

    users = list(clio(transport, fake).users())

    assert [user.external_id for user in users] == ["1", "2"]
    assert fake.sleeps == [pytest.approx(20)]


def test_a_read_is_retried_after_a_5xx_and_after_a_lost_connection() -> None:
    fake = FakeTime()
    transport = ScriptedTransport(
        script(
            (503, {}, {"error": {"type": "ServiceUnavailable", "message": "try later"}}),
            requests.ConnectionError("reset by peer"),
            (200, {}, {"data": [{"id": 7, "name": "Sam", "email": "sam@x.test", "enabled": True}]}),
        )
    )

    users = list(clio(transport, fake).users())

    assert [user.email for user in users] == ["sam@x.test"]
    assert fake.sleeps == [0.5, 1.0]


def test_a_read_that_keeps_failing_ends_in_a_retryable_error() -> None:
    transport = ScriptedTransport(script((502, {}, "<html>bad gateway</html>")))

    with pytest.raises(BillingError) as raised:
        list(clio(transport, FakeTime()).users())

    assert raised.value.retryable and raised.value.status == 502
    assert len(transport.sent) == RetryPolicy().transient_retries + 1


def test_a_post_answered_with_a_5xx_is_never_repeated_and_says_to_look_first() -> None:
    transport = ScriptedTransport(script((500, {}, {"error": {"type": "InternalError", "message": "boom"}})))

    with pytest.raises(BillingError) as raised:
        clio(transport, FakeTime()).post_time(POSTING)

    assert raised.value.retryable and raised.value.status == 500
    assert "look for it" in str(raised.value) and "boom" in str(raised.value)
    assert [sent.method for sent in transport.sent] == ["POST"]


def test_a_post_whose_answer_is_lost_is_a_retryable_error_not_a_second_post() -> None:
    transport = ScriptedTransport(script(requests.ConnectionError("connection aborted")))

    with pytest.raises(BillingError) as raised:
        clio(transport, FakeTime()).post_time(POSTING)

    assert raised.value.retryable and raised.value.status is None
    assert "may have been created" in str(raised.value)
    assert len(transport.sent) == 1


def test_a_refusal_carries_the_systems_own_message_and_is_not_retryable() -> None:
    refusal = {"error": {"type": "UnprocessableEntity", "message": "Matter can't be blank"}}
    transport = ScriptedTransport(script((422, {}, refusal)))

    with pytest.raises(BillingError) as raised:
        clio(transport, FakeTime()).post_time(POSTING)

    assert not raised.value.retryable and raised.value.status == 422
    assert "Matter can't be blank" in str(raised.value)


def test_a_next_page_link_to_another_host_is_not_followed_with_our_token() -> None:
    page = {
        "data": [{"id": 1, "name": "A"}],
        "meta": {"paging": {"next": "https://elsewhere.test/steal?page_token=2"}},
    }
    transport = ScriptedTransport(script((200, {}, page)))

    with pytest.raises(BillingError, match="another host"):
        list(clio(transport, FakeTime()).users())

    assert len(transport.sent) == 1


def test_the_base_url_can_come_from_the_tokens_and_follows_a_renewal() -> None:
    tokens = RecordingTokens(api_base="https://one.test/api/")
    transport = ScriptedTransport(script((401, {}, {}), (200, {}, {"ok": True})))

    def base(current: OAuthTokens) -> str:
        return f"https://{'two' if current.access_token == 'access-2' else 'one'}.test/api"

    answer = BillingHttp("Test", tokens, base, session=session_with(transport)).get_json("rest/things")

    assert answer == {"ok": True}
    assert [sent.url for sent in transport.sent] == [
        "https://one.test/api/rest/things",
        "https://two.test/api/rest/things",
    ]


# ------------------------------------------------------------------ Clio mapping


def test_clio_reads_follow_the_cursor_to_the_end_and_ask_only_for_the_fields_they_map() -> None:
    pages = {
        None: {
            "data": [
                {
                    "id": 11,
                    "display_number": "00011-Acme",
                    "description": "Lease",
                    "status": "Open",
                    "updated_at": "2026-03-01T10:00:00-05:00",
                    "client": {"id": 3, "name": "Acme Ltd"},
                }
            ],
            "meta": {"paging": {"next": f"{CLIO_API}/matters.json?page_token=p2&fields=x&limit=200"}},
        },
        "p2": {
            "data": [
                {
                    "id": 12,
                    "display_number": "00012-Acme",
                    "description": "Merger",
                    "status": "Pending",
                    "client": {"id": 3, "name": "Acme Ltd"},
                }
            ],
            "meta": {"paging": {}},
        },
    }
    transport = ScriptedTransport(lambda sent: (200, {}, pages[sent.param("page_token")]))

    matters = list(
        clio(transport, FakeTime()).matters(
            include_closed=False, updated_since=datetime(2026, 3, 1, tzinfo=UTC)
        )
    )

    assert [(m.external_id, m.number, m.status, m.client_external_id, m.client_name) for m in matters] == [
        ("11", "00011-Acme", "open", "3", "Acme Ltd"),
        ("12", "00012-Acme", "pending", "3", "Acme Ltd"),
    ]
    assert matters[0].updated_at == datetime(2026, 3, 1, 15, 0, tzinfo=UTC)
    first = transport.sent[0]
    assert first.path == "/api/v4/matters.json"
    assert first.param("fields") == "id,display_number,description,status,updated_at,client{id,name}"
    assert first.param("status") == "open,pending"
    assert first.param("updated_since") == "2026-03-01T00:00:00Z"
    assert first.param("limit") == "200"
    assert transport.sent[1].param("page_token") == "p2"


def test_clio_closed_matters_come_only_when_asked_and_unknown_states_count_as_closed() -> None:
    data = [
        {"id": 1, "display_number": "1", "status": "Closed"},
        {"id": 2, "display_number": "2", "status": "Archived"},
    ]
    transport = ScriptedTransport(script((200, {}, {"data": data})))
    target = clio(transport, FakeTime())

    assert list(target.matters(include_closed=False)) == []
    assert [m.status for m in target.matters(include_closed=True)] == ["closed", "closed"]
    assert transport.sent[1].param("status") is None


def test_clio_users_contacts_and_activity_descriptions_map_to_our_types() -> None:
    answers = {
        "/api/v4/users.json": [
            {"id": 501, "name": "Dana Scully", "email": "dana@firm.test", "enabled": False}
        ],
        "/api/v4/contacts.json": [
            {"id": 3, "name": "Acme Ltd", "primary_email_address": "legal@acme.test", "is_client": True}
        ],
        "/api/v4/activity_descriptions.json": [
            {
                "id": 77,
                "name": "Drafting",
                "rate": {"amount": 350.0, "type": "FlatRate"},
                "utbms_task": {"code": "L110"},
                "utbms_activity": {"code": "A103"},
            },
            {"id": 78, "name": "Research", "rate": {"amount": 0, "type": "User"}},
        ],
    }
    transport = ScriptedTransport(lambda sent: (200, {}, {"data": answers[sent.path]}))
    target = clio(transport, FakeTime())

    (user,) = target.users()
    (contact,) = target.contacts()
    drafting, research = target.activity_types()

    assert (user.external_id, user.email, user.name, user.enabled) == (
        "501",
        "dana@firm.test",
        "Dana Scully",
        False,
    )
    assert (contact.email, contact.is_client) == ("legal@acme.test", True)
    assert (drafting.rate, drafting.utbms_task, drafting.utbms_activity) == ("350.00", "L110", "A103")
    assert research.rate is None
    assert (
        transport.sent[2].param("fields") == "id,name,rate{amount,type},utbms_task{code},utbms_activity{code}"
    )


def test_clio_posts_a_time_entry_in_seconds_with_our_reference_in_the_note() -> None:
    transport = ScriptedTransport(script(CREATED))

    assert clio(transport, FakeTime()).post_time(POSTING) == "9001"

    (sent,) = transport.sent
    assert (sent.method, sent.path) == ("POST", "/api/v4/activities.json")
    assert sent.json() == {
        "data": {
            "type": "TimeEntry",
            "date": "2026-03-09",
            "quantity": 1800,
            "matter": {"id": 1001},
            "user": {"id": 501},
            "note": "Email to Dana re: lease [ML-e1]",
            "non_billable": False,
            "activity_description": {"id": 77},
        }
    }
    assert sent.headers["Content-Type"] == "application/json"


def test_clio_find_posted_matches_the_reference_marker_exactly() -> None:
    found = [
        {"id": 1, "note": f"Other work {note_with_reference('x', 'ML-e12')}"},
        {"id": 2, "note": "Email to Dana re: lease [ML-e1]"},
    ]
    transport = ScriptedTransport(script((200, {}, {"data": found})))

    assert clio(transport, FakeTime()).find_posted(POSTING) == "2"

    (sent,) = transport.sent
    assert sent.path == "/api/v4/activities.json"
    assert {
        name: sent.param(name)
        for name in ("matter_id", "user_id", "start_date", "end_date", "query", "fields")
    } == {
        "matter_id": "1001",
        "user_id": "501",
        "start_date": "2026-03-09",
        "end_date": "2026-03-09",
        "query": "ML-e1",
        "fields": "id,note",
    }


def test_clio_find_posted_looks_again_without_the_note_search_before_saying_nothing_is_there() -> None:
    transport = ScriptedTransport(
        lambda sent: (200, {}, {"data": [] if sent.param("query") else [{"id": 5, "note": "lease [ML-e1]"}]})
    )

    assert clio(transport, FakeTime()).find_posted(POSTING) == "5"
    assert [sent.param("query") for sent in transport.sent] == ["ML-e1", None]


def test_clio_find_posted_says_none_when_no_entry_carries_the_marker() -> None:
    transport = ScriptedTransport(script((200, {}, {"data": [{"id": 9, "note": "ML-e1 without brackets"}]})))

    assert clio(transport, FakeTime()).find_posted(POSTING) is None


# ------------------------------------------------------------------ Actionstep mapping


def test_actionstep_posts_hours_as_decimal_text_with_the_reference_and_flags() -> None:
    created: Answer = (
        200,
        {},
        {"links": {}, "timeentries": {"id": "4417", "importExternalReference": "ML-e1"}},
    )
    transport = ScriptedTransport(script(created))

    assert actionstep(transport, FakeTime()).post_time(POSTING) == "4417"

    (sent,) = transport.sent
    assert (sent.method, sent.url) == ("POST", "https://ap-southeast-2.actionstep.test/api/rest/timeentries")
    assert sent.headers["Content-Type"] == "application/vnd.api+json"
    assert sent.headers["Accept"] == "application/vnd.api+json"
    assert sent.json() == {
        "timeentries": {
            "timestampDate": "2026-03-09",
            "description": "Email to Dana re: lease",
            "actualHours": "0.40",
            "billableHours": "0.50",
            "isBillable": "T",
            "importExternalReference": "ML-e1",
            "links": {"action": "1001", "owner": "501", "createdBy": "501", "quickCode": "77"},
        }
    }


def test_actionstep_non_billable_time_posts_as_F_and_worked_time_defaults_to_billed() -> None:
    transport = ScriptedTransport(script((200, {}, {"timeentries": [{"id": 8}]})))
    posting = TimePosting("ML-e2", date(2026, 3, 9), 360, "1001", "501", "Memo", non_billable=True)

    assert actionstep(transport, FakeTime()).post_time(posting) == "8"
    body = transport.sent[0].json()["timeentries"]
    assert (body["isBillable"], body["actualHours"], body["billableHours"]) == ("F", "0.10", "0.10")
    assert "quickCode" not in body["links"]


def test_hours_are_rounded_half_up_to_two_places() -> None:
    assert [hours(s) for s in (0, 18, 36, 5400, 1437, 86400)] == [
        "0.00",
        "0.01",
        "0.01",
        "1.50",
        "0.40",
        "24.00",
    ]


def test_actionstep_reads_page_by_page_until_the_last_page() -> None:
    def answer(sent: Sent) -> Answer:
        page = int(sent.param("page") or 1)
        records = [
            {
                "id": str(page * 10 + n),
                "name": f"Matter {page}-{n}",
                "reference": f"M-{page}{n}",
                "status": "Active",
                "links": {"primaryParticipants": "300"},
            }
            for n in range(2)
        ]
        paging = {
            "actions": {
                "recordCount": 5,
                "pageCount": 3,
                "page": page,
                "pageSize": 2,
                "nextPage": f"{ACTIONSTEP_API}rest/actions?page={page + 1}" if page < 3 else None,
            }
        }
        linked = {"participants": [{"id": 300, "displayName": "Acme Ltd"}]}
        return (
            200,
            {},
            {
                "links": {},
                "actions": records[: 1 if page == 3 else 2],
                "linked": linked,
                "meta": {"paging": paging},
            },
        )

    transport = ScriptedTransport(answer)

    matters = list(actionstep(transport, FakeTime(), page_size=2).matters(include_closed=False))

    assert [m.external_id for m in matters] == ["10", "11", "20", "21", "30"]
    assert {(m.client_external_id, m.client_name, m.status) for m in matters} == {("300", "Acme Ltd", "open")}
    assert [(s.param("page"), s.param("pageSize")) for s in transport.sent] == [
        ("1", "2"),
        ("2", "2"),
        ("3", "2"),
    ]
    assert transport.sent[0].param("status_in") == "Active,Inactive"
    assert transport.sent[0].param("include") == "primaryParticipants"


def test_actionstep_statuses_map_and_the_updated_since_filter_is_utc_without_offset() -> None:
    actions = [{"id": 1, "status": "Active"}, {"id": 2, "status": "Inactive"}, {"id": 3, "status": "Closed"}]
    transport = ScriptedTransport(script((200, {}, {"actions": actions})))
    since = datetime(2026, 3, 1, 9, 30, tzinfo=UTC) + timedelta(hours=0)

    matters = list(actionstep(transport, FakeTime()).matters(include_closed=True, updated_since=since))

    assert [m.status for m in matters] == ["open", "pending", "closed"]
    assert transport.sent[0].param("modifiedTimestamp_gteq") == "2026-03-01T09:30:00"
    assert transport.sent[0].param("status_in") is None


def test_actionstep_users_are_known_by_their_participant_id() -> None:
    answer = {
        "users": {
            "id": 2,
            "emailAddress": "dana@firm.test",
            "isActive": "T",
            "links": {"participant": "501"},
        },
        "linked": {"participants": {"id": "501", "firstName": "Dana", "lastName": "Scully"}},
    }
    transport = ScriptedTransport(script((200, {}, answer)))

    (user,) = actionstep(transport, FakeTime()).users()

    assert (user.external_id, user.email, user.name, user.enabled) == (
        "501",
        "dana@firm.test",
        "Dana Scully",
        True,
    )


def test_actionstep_answers_204_when_nothing_matches_and_find_posted_says_none() -> None:
    transport = ScriptedTransport(script((204, {}, None)))

    assert actionstep(transport, FakeTime()).find_posted(POSTING) is None
    assert transport.sent[0].param("importExternalReference") == "ML-e1"


def test_actionstep_find_posted_matches_the_external_reference_exactly() -> None:
    entries = [
        {"id": "1", "importExternalReference": "ML-e12"},
        {"id": "2", "importExternalReference": "ML-e1"},
    ]
    transport = ScriptedTransport(script((200, {}, {"timeentries": entries})))

    assert actionstep(transport, FakeTime()).find_posted(POSTING) == "2"


def test_actionstep_quick_codes_for_time_entries_are_the_activity_types() -> None:
    codes = [
        {"id": 1, "quickCode": "Client Communications", "useForTimeEntry": "T"},
        {"id": 2, "quickCode": "Receipts only", "useForTimeEntry": "F"},
    ]
    transport = ScriptedTransport(script((200, {}, {"quickcodes": codes})))

    assert [(t.external_id, t.name) for t in actionstep(transport, FakeTime()).activity_types()] == [
        ("1", "Client Communications")
    ]


def test_actionstep_without_an_api_endpoint_asks_for_the_account_to_be_connected_again() -> None:
    transport = ScriptedTransport(script((200, {}, {})))
    target = ActionstepTarget(RecordingTokens(api_base=None), session=session_with(transport))

    with pytest.raises(BillingError, match="connect the account again"):
        list(target.users())
    assert transport.sent == []


# ------------------------------------------------------------------ OAuth clients


def test_the_authorize_urls_carry_state_redirect_and_what_each_system_needs() -> None:
    clio_url = ClioOAuth(
        "https://app.clio.test/oauth/authorize", "https://app.clio.test/oauth/token", "cid", "secret"
    )
    actionstep_url = ActionstepOAuth(
        "https://go.actionstep.test/api/oauth/authorize",
        "https://api.actionstep.test/api/oauth/token",
        "aid",
        "secret",
    )

    clio_query = parse_qs(urlsplit(clio_url.authorize_url("st-1", "https://ml.test/cb")).query)
    actionstep_query = parse_qs(urlsplit(actionstep_url.authorize_url("st-2", "https://ml.test/cb")).query)

    assert clio_query == {
        "response_type": ["code"],
        "client_id": ["cid"],
        "redirect_uri": ["https://ml.test/cb"],
        "state": ["st-1"],
        "redirect_on_decline": ["true"],
    }
    assert actionstep_query["state"] == ["st-2"]
    assert actionstep_query["scope"] == ["actions participants timeentries users quickcodes"]


def test_clio_exchanges_a_code_and_keeps_its_refresh_token_on_refresh() -> None:
    answers: list[Answer] = [
        (
            200,
            {},
            {"token_type": "bearer", "access_token": "a1", "refresh_token": "r1", "expires_in": 604800},
        ),
        (200, {}, {"token_type": "bearer", "access_token": "a2", "expires_in": 604800}),
    ]
    transport = ScriptedTransport(script(*answers))
    clock = ManualClock()
    oauth = ClioOAuth(
        "https://app.clio.test/oauth/authorize",
        "https://app.clio.test/oauth/token",
        "cid",
        "secret",
        session=session_with(transport),
        clock=clock,
    )

    first = oauth.exchange_code("code-1", "https://ml.test/cb")
    second = oauth.refresh(first)

    assert (first.access_token, first.refresh_token, first.api_base) == ("a1", "r1", None)
    assert first.expires_at == clock.now() + timedelta(days=7)
    assert (second.access_token, second.refresh_token) == ("a2", "r1")
    assert transport.sent[0].form() == {
        "grant_type": "authorization_code",
        "code": "code-1",
        "redirect_uri": "https://ml.test/cb",
        "client_id": "cid",
        "client_secret": "secret",
    }
    assert transport.sent[1].form() == {
        "grant_type": "refresh_token",
        "refresh_token": "r1",
        "client_id": "cid",
        "client_secret": "secret",
    }


def test_actionstep_refresh_keeps_the_new_refresh_token_and_the_api_endpoint() -> None:
    answers: list[Answer] = [
        (
            200,
            {},
            {
                "access_token": "a1",
                "refresh_token": "r1",
                "expires_in": 3600,
                "api_endpoint": "https://ap-southeast-2.actionstep.test/api/",
                "orgkey": "firm",
            },
        ),
        (
            200,
            {},
            {
                "access_token": "a2",
                "refresh_token": "r2",
                "expires_in": 3600,
                "api_endpoint": "https://uk-east-1.actionstep.test/api/",
                "orgkey": "firm",
            },
        ),
    ]
    transport = ScriptedTransport(script(*answers))
    oauth = ActionstepOAuth(
        "https://go.actionstep.test/api/oauth/authorize",
        "https://api.actionstep.test/api/oauth/token",
        "aid",
        "secret",
        session=session_with(transport),
        clock=ManualClock(),
    )

    first = oauth.exchange_code("code", "https://ml.test/cb")
    second = oauth.refresh(first)

    assert first.api_base == "https://ap-southeast-2.actionstep.test/api/"
    assert (second.access_token, second.refresh_token, second.api_base) == (
        "a2",
        "r2",
        "https://uk-east-1.actionstep.test/api/",
    )


def test_a_refused_refresh_raises_reauthorization_required_with_the_systems_reason() -> None:
    transport = ScriptedTransport(
        script((400, {}, {"error": "invalid_grant", "error_description": "expired"}))
    )
    oauth = ClioOAuth(
        "https://c.test/oauth/authorize",
        "https://c.test/oauth/token",
        "cid",
        "secret",
        session=session_with(transport),
    )

    with pytest.raises(ReauthorizationRequired, match="invalid_grant: expired"):
        oauth.refresh(OAuthTokens("a", "r", EXPIRES))


def test_a_token_endpoint_that_is_down_is_a_retryable_error_not_a_lost_connection() -> None:
    transport = ScriptedTransport(script((503, {}, "maintenance")))
    oauth = ClioOAuth(
        "https://c.test/oauth/authorize",
        "https://c.test/oauth/token",
        "cid",
        "secret",
        session=session_with(transport),
    )

    with pytest.raises(BillingError) as raised:
        oauth.refresh(OAuthTokens("a", "r", EXPIRES))

    assert raised.value.retryable and not isinstance(raised.value, ReauthorizationRequired)


# ------------------------------------------------------------------ against the simulators

REDIRECT_URI = "http://127.0.0.1:8000/billing/callback"
SIM_SECRET = "devstack-secret"


class RenewingTokens:
    """The ``TokenSource`` a connection gives its target: renews through the OAuth client and keeps
    whatever the system sends back (Actionstep's new refresh token)."""

    def __init__(self, oauth: ClioOAuth | ActionstepOAuth, tokens: OAuthTokens) -> None:
        self._oauth = oauth
        self.tokens = tokens
        self.renewals = 0

    def current(self) -> OAuthTokens:
        return self.tokens

    def refresh(self, rejected: OAuthTokens) -> OAuthTokens:
        if rejected.access_token == self.tokens.access_token:
            self.tokens = self._oauth.refresh(self.tokens)
            self.renewals += 1
        return self.tokens


class RealShortSleep:
    """Sleeps for real (the simulators' windows are a fraction of a second) and remembers each wait."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        assert seconds <= 2, f"a test should never wait {seconds} s"
        self.waits.append(seconds)
        time.sleep(seconds)


def connect(simulator: BillingSimulator, oauth: ClioOAuth | ActionstepOAuth) -> OAuthTokens:
    """Walk the consent page as an admin would, then trade the code for tokens."""
    url = oauth.authorize_url("state-123", REDIRECT_URI)
    page = requests.get(url, timeout=5)
    assert page.status_code == 200
    form = {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}
    decision = requests.post(
        f"{simulator.base_url}{simulator.AUTHORIZE_PATH}",
        data={**form, "decision": "allow"},
        allow_redirects=False,
        timeout=5,
    )
    back = parse_qs(urlsplit(decision.headers["Location"]).query)
    assert back["state"] == ["state-123"]
    return oauth.exchange_code(back["code"][0], REDIRECT_URI)


@dataclass
class Connected:
    """A simulator, a connected target and what it waited for."""

    simulator: Any
    target: Any
    tokens: RenewingTokens
    sleep: RealShortSleep


@pytest.fixture
def clio_account() -> Iterator[Connected]:
    simulator = ClioSimulator(port=0)
    simulator.start()
    try:
        oauth = ClioOAuth(
            f"{simulator.base_url}/oauth/authorize",
            f"{simulator.base_url}/oauth/token",
            simulator.client_id,
            SIM_SECRET,
        )
        tokens = RenewingTokens(oauth, connect(simulator, oauth))
        sleep = RealShortSleep()
        yield Connected(
            simulator, ClioTarget(f"{simulator.base_url}/api/v4", tokens, sleep=sleep), tokens, sleep
        )
    finally:
        simulator.stop()


@pytest.fixture
def actionstep_account() -> Iterator[Connected]:
    simulator = ActionstepSimulator(port=0)
    simulator.start()
    try:
        oauth = ActionstepOAuth(
            f"{simulator.base_url}/api/oauth/authorize",
            f"{simulator.base_url}/api/oauth/token",
            simulator.client_id,
            SIM_SECRET,
        )
        tokens = RenewingTokens(oauth, connect(simulator, oauth))
        sleep = RealShortSleep()
        yield Connected(simulator, ActionstepTarget(tokens, sleep=sleep), tokens, sleep)
    finally:
        simulator.stop()


@pytest.fixture(params=["clio", "actionstep"])
def account(request: pytest.FixtureRequest) -> Connected:
    """Each behaviour that both systems share, once against each simulator."""
    connected: Connected = request.getfixturevalue(f"{request.param}_account")
    return connected


def postings_for(account: Connected, count: int, prefix: str = "ML-int") -> list[TimePosting]:
    """``count`` postings on the account's first open matter, for its first enabled user."""
    user = next(user for user in account.target.users() if user.enabled)
    matter = next(matter for matter in account.target.matters(include_closed=True) if matter.status == "open")
    return [
        TimePosting(
            reference=f"{prefix}-{n}",
            day=date(2026, 3, 9),
            seconds=360 * (n + 1),
            matter_external_id=matter.external_id,
            user_external_id=user.external_id,
            note=f"Email to client re: draft {n}",
            worked_seconds=300 * (n + 1),
        )
        for n in range(count)
    ]


def stored_references(account: Connected) -> list[str]:
    """Our references as the simulator stored them, one per time entry."""
    references = []
    for entry in account.simulator.time_entries():
        if "importExternalReference" in entry:
            references.append(entry["importExternalReference"])
        else:
            references.append(str(entry["note"]).rsplit("[", 1)[1].rstrip("]"))
    return references


def test_clio_sync_reads_every_user_matter_contact_and_activity_description(clio_account: Connected) -> None:
    target, simulator = clio_account.target, clio_account.simulator
    all_matters = list(target.matters(include_closed=True))
    open_matters = list(target.matters(include_closed=False))

    assert {user.email for user in target.users()} >= {"alex.attorney@halemercer.example"}
    assert "closed" in {matter.status for matter in all_matters}
    assert all(matter.status != "closed" for matter in open_matters)
    assert {matter.external_id for matter in open_matters} < {matter.external_id for matter in all_matters}
    assert all(matter.number and matter.client_name for matter in all_matters)
    assert any(contact.is_client for contact in target.contacts())
    kinds = list(target.activity_types())
    assert all(kind.rate is not None for kind in kinds)
    assert any(kind.utbms_task and kind.utbms_activity for kind in kinds)

    before = datetime.now(UTC) - timedelta(seconds=2)
    simulator.set_matter_status(int(open_matters[0].external_id), "Pending")
    (changed,) = target.matters(include_closed=False, updated_since=before)
    assert (changed.external_id, changed.status) == (open_matters[0].external_id, "pending")


def test_clio_reads_follow_the_simulators_cursor_across_small_pages(clio_account: Connected) -> None:
    tokens, simulator = clio_account.tokens, clio_account.simulator
    small_pages = ClioTarget(f"{simulator.base_url}/api/v4", tokens, page_size=2)

    assert [m.external_id for m in small_pages.matters(True)] == [
        m.external_id for m in clio_account.target.matters(True)
    ]


def test_actionstep_sync_reads_users_actions_participants_and_quick_codes(
    actionstep_account: Connected,
) -> None:
    target, simulator = actionstep_account.target, actionstep_account.simulator
    all_matters = list(target.matters(include_closed=True))

    users = list(target.users())
    assert {user.email for user in users} >= {"alex.attorney@halemercer.example"}
    assert all(user.external_id.isdigit() and user.name for user in users)
    assert {matter.status for matter in all_matters} >= {"open", "closed"}
    assert all(matter.number and matter.client_external_id for matter in all_matters)
    assert len(list(target.contacts())) > len(users)
    assert [kind.name for kind in target.activity_types()]

    small_pages = ActionstepTarget(actionstep_account.tokens, page_size=3)
    assert [m.external_id for m in small_pages.matters(include_closed=True)] == [
        m.external_id for m in all_matters
    ]

    before = datetime.now(UTC) - timedelta(seconds=2)
    simulator.set_matter_status(int(all_matters[0].external_id), "Inactive")
    (changed,) = target.matters(include_closed=True, updated_since=before)
    assert (changed.external_id, changed.status) == (all_matters[0].external_id, "pending")


def test_actionstep_open_matters_leave_closed_actions_out(actionstep_account: Connected) -> None:
    target = actionstep_account.target
    open_matters = list(target.matters(include_closed=False))

    assert open_matters and all(matter.status != "closed" for matter in open_matters)


def test_posted_time_arrives_once_with_our_reference_and_find_posted_finds_it(account: Connected) -> None:
    postings = postings_for(account, 3)

    created = [account.target.post_time(posting) for posting in postings]

    assert len(set(created)) == 3
    assert stored_references(account) == [posting.reference for posting in postings]
    assert [account.target.find_posted(posting) for posting in postings] == created
    assert account.target.find_posted(replace_reference(postings[0], "ML-never-posted")) is None


def test_clio_stores_seconds_the_note_with_its_marker_and_the_billable_flag(clio_account: Connected) -> None:
    (posting,) = postings_for(clio_account, 1)
    posting = replace_non_billable(posting)

    clio_account.target.post_time(posting)

    (entry,) = clio_account.simulator.time_entries()
    assert entry["quantity"] == posting.seconds
    assert entry["note"] == note_with_reference(posting.note, posting.reference)
    assert entry["non_billable"] is True
    assert str(entry["matter"]["id"]) == posting.matter_external_id


def test_actionstep_stores_hours_as_text_and_the_external_reference(actionstep_account: Connected) -> None:
    (posting,) = postings_for(actionstep_account, 1)

    actionstep_account.target.post_time(posting)

    (entry,) = actionstep_account.simulator.time_entries()
    assert (entry["actualHours"], entry["billableHours"], entry["isBillable"]) == ("0.08", "0.10", "T")
    assert entry["importExternalReference"] == posting.reference
    assert entry["links"]["action"] == posting.matter_external_id
    assert entry["links"]["owner"] == posting.user_external_id


def test_a_create_whose_answer_is_lost_is_found_by_find_posted_and_not_posted_twice(
    account: Connected,
) -> None:
    (posting,) = postings_for(account, 1)
    account.simulator.drop_after_create(1)

    with pytest.raises(BillingError) as raised:
        account.target.post_time(posting)

    assert raised.value.retryable
    found = account.target.find_posted(posting)
    assert found is not None
    assert stored_references(account) == [posting.reference]


def test_an_access_token_that_expires_mid_run_is_renewed_once_and_the_run_continues(
    account: Connected,
) -> None:
    postings = postings_for(account, 4)
    account.target.post_time(postings[0])
    account.target.post_time(postings[1])

    account.simulator.expire_access_tokens()
    account.target.post_time(postings[2])
    account.target.post_time(postings[3])

    assert account.tokens.renewals == 1
    assert stored_references(account) == [posting.reference for posting in postings]


def test_renewed_tokens_keep_working_through_a_second_expiry(account: Connected) -> None:
    postings = postings_for(account, 2)
    account.simulator.expire_access_tokens()
    account.target.post_time(postings[0])
    account.simulator.expire_access_tokens()
    account.target.post_time(postings[1])

    # Actionstep replaces its refresh token on every renewal: the second renewal proves we kept it.
    assert account.tokens.renewals == 2
    assert stored_references(account) == [posting.reference for posting in postings]


def test_a_revoked_connection_asks_for_reauthorization(account: Connected) -> None:
    account.simulator.expire_access_tokens()
    account.simulator.revoke_refresh_tokens()

    with pytest.raises(ReauthorizationRequired):
        list(account.target.users())


def test_a_429_storm_waits_retry_after_and_loses_nothing(account: Connected) -> None:
    postings = postings_for(account, 5)
    account.simulator.throttle_next(3, retry_after=0.05)

    created = [account.target.post_time(posting) for posting in postings]

    assert account.sleep.waits == [0.05, 0.05, 0.05]
    assert len(set(created)) == 5
    assert stored_references(account) == [posting.reference for posting in postings]


def test_a_tight_rate_limit_is_paced_and_every_entry_arrives_once(account: Connected) -> None:
    postings = postings_for(account, 5)
    account.simulator.set_rate_limit(2, 0.2)

    for posting in postings:
        account.target.post_time(posting)

    assert account.sleep.waits, "the adapter should have waited for the rate window"
    assert stored_references(account) == [posting.reference for posting in postings]


def test_a_500_on_one_create_fails_that_entry_only(account: Connected) -> None:
    postings = postings_for(account, 3)
    account.simulator.fail_next_creates(1, status=500)

    with pytest.raises(BillingError) as raised:
        account.target.post_time(postings[0])
    rest = [account.target.post_time(posting) for posting in postings[1:]]

    assert (raised.value.status, raised.value.retryable) == (500, True)
    assert account.target.find_posted(postings[0]) is None
    assert len(rest) == 2
    assert stored_references(account) == [posting.reference for posting in postings[1:]]


def test_a_refused_create_carries_the_systems_own_message(account: Connected) -> None:
    (posting,) = postings_for(account, 1)
    closed = next(m for m in account.target.matters(include_closed=True) if m.status == "closed")

    with pytest.raises(BillingError) as raised:
        account.target.post_time(replace_matter(posting, closed.external_id))

    assert not raised.value.retryable and raised.value.status in (400, 422)
    assert "closed" in str(raised.value).lower()
    assert account.simulator.time_entries() == []


def replace_reference(posting: TimePosting, reference: str) -> TimePosting:
    return dataclasses.replace(posting, reference=reference)


def replace_non_billable(posting: TimePosting) -> TimePosting:
    return dataclasses.replace(posting, non_billable=True)


def replace_matter(posting: TimePosting, matter_external_id: str) -> TimePosting:
    return dataclasses.replace(posting, matter_external_id=matter_external_id)
