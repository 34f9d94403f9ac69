"""The simulated Clio and Actionstep accounts, exercised over HTTP with ``requests`` as a connector would."""

from __future__ import annotations

import json
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from devstack.billing import ActionstepSimulator, ClioSimulator
from devstack.demo_book import ACTIONSTEP_PARTICIPANT_IDS, CLIO_USER_IDS

REDIRECT_URI = "http://127.0.0.1:8001/connections/callback"
CLIENT_ID = "matterline-devstack"
CLIENT_SECRET = "devstack-secret"
VND = "application/vnd.api+json"
ALEX_CLIO = CLIO_USER_IDS["alex.attorney"]
ALEX_ACTIONSTEP = ACTIONSTEP_PARTICIPANT_IDS["alex.attorney"]
START = 1_790_000_000.0


class FakeClock:
    """Epoch seconds that only move when a test says so."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def clio(clock: FakeClock) -> Iterator[ClioSimulator]:
    simulator = ClioSimulator(port=0, clock=clock)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def actionstep(clock: FakeClock) -> Iterator[ActionstepSimulator]:
    simulator = ActionstepSimulator(port=0, clock=clock)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


# --- helpers -----------------------------------------------------------------------------------------


class _FormReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}
        self.buttons: dict[str, str] = {}
        self.options: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.action = values.get("action", "")
        elif tag == "input":
            self.fields[values["name"]] = values.get("value", "")
        elif tag == "button":
            self.buttons[values["value"]] = values["name"]
        elif tag == "option":
            self.options.append(values["value"])


def consent(
    http: requests.Session,
    base_url: str,
    authorize_path: str,
    *,
    user_id: int | None,
    decision: str = "allow",
) -> dict[str, list[str]]:
    """Open the consent page, submit it, and return the redirect's query."""
    page = http.get(
        f"{base_url}{authorize_path}",
        params={
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "state": "xyz-123",
        },
    )
    assert page.status_code == 200
    assert "Allow access" in page.text
    form = _FormReader()
    form.feed(page.text)
    fields = dict(form.fields)
    fields[form.buttons[decision]] = decision
    if user_id is not None:
        assert str(user_id) in form.options
        fields["user_id"] = str(user_id)
    answer = http.post(f"{base_url}{form.action}", data=fields, allow_redirects=False)
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    return parse_qs(urlsplit(location).query)


def token(http: requests.Session, url: str, **form: str) -> requests.Response:
    return http.post(url, data={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **form})


def clio_get(
    http: requests.Session, clio: ClioSimulator, path: str, access_token: str, **params: Any
) -> requests.Response:
    return http.get(
        f"{clio.api_url}{path}", params=params, headers={"Authorization": f"Bearer {access_token}"}
    )


def clio_post_activity(
    http: requests.Session, clio: ClioSimulator, access_token: str, data: dict[str, Any], **params: Any
) -> requests.Response:
    return http.post(
        f"{clio.api_url}/activities.json",
        json={"data": data},
        params=params,
        headers={"Authorization": f"Bearer {access_token}"},
    )


def time_entry(**changes: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "type": "TimeEntry",
        "date": "2026-03-02",
        "quantity": 1800,
        "matter": {"id": 9101},
        "user": {"id": ALEX_CLIO},
        "activity_description": {"id": 8001},
        "note": "Email to Dana Whitfield re: supply contract [ML-e1]",
        "non_billable": False,
    }
    entry.update(changes)
    return entry


def as_headers(access_token: str, *, body: bool = False) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {access_token}", "Accept": VND}
    if body:
        headers["Content-Type"] = VND
    return headers


def as_get(
    http: requests.Session, actionstep: ActionstepSimulator, resource: str, access_token: str, **params: Any
) -> requests.Response:
    return http.get(
        f"{actionstep.api_endpoint}rest/{resource}", params=params, headers=as_headers(access_token)
    )


def as_post_time_entry(
    http: requests.Session, actionstep: ActionstepSimulator, access_token: str, entry: dict[str, Any]
) -> requests.Response:
    return http.post(
        f"{actionstep.api_endpoint}rest/timeentries",
        data=json.dumps({"timeentries": entry}),
        headers=as_headers(access_token, body=True),
    )


def actionstep_entry(**changes: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "timestampDate": "2026-03-02",
        "actualHours": 0.5,
        "billableHours": "0.6",
        "description": "Email to Dana Whitfield re: supply contract",
        "isBillable": "T",
        "importExternalReference": "ML-e1",
        "links": {"action": 801, "owner": ALEX_ACTIONSTEP},
    }
    entry.update(changes)
    return entry


# --- OAuth -------------------------------------------------------------------------------------------


def test_a_clio_connection_is_authorized_on_the_consent_page_and_refreshed_with_the_same_refresh_token(
    clio: ClioSimulator, http: requests.Session
) -> None:
    query = consent(http, clio.base_url, "/oauth/authorize", user_id=ALEX_CLIO)
    assert query["state"] == ["xyz-123"]

    granted = token(
        http,
        f"{clio.base_url}/oauth/token",
        grant_type="authorization_code",
        code=query["code"][0],
        redirect_uri=REDIRECT_URI,
    )
    assert granted.status_code == 200
    tokens = granted.json()
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] > 0
    assert granted.headers["Cache-Control"] == "no-store"
    me = clio_get(http, clio, "/users/who_am_i.json", tokens["access_token"], fields="id,name,email")
    assert me.json()["data"] == {
        "id": ALEX_CLIO,
        "name": "Alex Attorney",
        "email": "alex.attorney@halemercer.example",
    }

    refreshed = token(
        http,
        f"{clio.base_url}/oauth/token",
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
    )
    assert refreshed.status_code == 200
    assert "refresh_token" not in refreshed.json()  # Clio keeps the refresh token you have
    assert clio_get(http, clio, "/users/who_am_i", refreshed.json()["access_token"]).status_code == 200
    again = token(
        http,
        f"{clio.base_url}/oauth/token",
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
    )
    assert again.status_code == 200


def test_an_authorization_code_is_spent_by_its_first_exchange(
    clio: ClioSimulator, http: requests.Session
) -> None:
    code = consent(http, clio.base_url, "/oauth/authorize", user_id=None)["code"][0]
    url = f"{clio.base_url}/oauth/token"

    assert token(http, url, grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI).ok
    replay = token(http, url, grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI)

    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"


def test_an_authorization_code_expires_after_ten_minutes(
    clio: ClioSimulator, http: requests.Session, clock: FakeClock
) -> None:
    code = consent(http, clio.base_url, "/oauth/authorize", user_id=None)["code"][0]
    clock.advance(601)

    late = token(
        http,
        f"{clio.base_url}/oauth/token",
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT_URI,
    )

    assert late.json()["error"] == "invalid_grant"


def test_a_code_is_refused_for_another_redirect_uri(clio: ClioSimulator, http: requests.Session) -> None:
    code = consent(http, clio.base_url, "/oauth/authorize", user_id=None)["code"][0]

    refused = token(
        http,
        f"{clio.base_url}/oauth/token",
        grant_type="authorization_code",
        code=code,
        redirect_uri="http://127.0.0.1:9999/elsewhere",
    )

    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")


def test_the_token_endpoint_refuses_a_wrong_client_secret_and_an_unknown_grant(
    clio: ClioSimulator, http: requests.Session
) -> None:
    url = f"{clio.base_url}/oauth/token"
    wrong_secret = http.post(
        url,
        data={
            "client_id": CLIENT_ID,
            "client_secret": "guess",
            "grant_type": "refresh_token",
            "refresh_token": "x",
        },
    )
    unknown_grant = token(http, url, grant_type="password")

    assert (wrong_secret.status_code, wrong_secret.json()["error"]) == (401, "invalid_client")
    assert (unknown_grant.status_code, unknown_grant.json()["error"]) == (400, "unsupported_grant_type")


def test_client_credentials_may_come_as_http_basic(clio: ClioSimulator, http: requests.Session) -> None:
    code = consent(http, clio.base_url, "/oauth/authorize", user_id=None)["code"][0]

    granted = http.post(
        f"{clio.base_url}/oauth/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
        auth=(CLIENT_ID, CLIENT_SECRET),
    )

    assert granted.status_code == 200


def test_denying_access_redirects_with_access_denied(clio: ClioSimulator, http: requests.Session) -> None:
    query = consent(http, clio.base_url, "/oauth/authorize", user_id=None, decision="deny")

    assert query == {"error": ["access_denied"], "state": ["xyz-123"]}


def test_an_unknown_client_is_shown_an_error_page_and_never_redirected(
    clio: ClioSimulator, http: requests.Session
) -> None:
    page = http.get(
        f"{clio.base_url}/oauth/authorize",
        params={"response_type": "code", "client_id": "stranger", "redirect_uri": REDIRECT_URI},
        allow_redirects=False,
    )

    assert page.status_code == 400
    assert "Location" not in page.headers


def test_an_actionstep_refresh_returns_a_new_refresh_token_and_the_old_one_stops_working(
    actionstep: ActionstepSimulator, http: requests.Session
) -> None:
    query = consent(http, actionstep.base_url, "/api/oauth/authorize", user_id=ALEX_ACTIONSTEP)
    url = f"{actionstep.base_url}/api/oauth/token"
    first = token(
        http, url, grant_type="authorization_code", code=query["code"][0], redirect_uri=REDIRECT_URI
    )
    tokens = first.json()
    assert tokens["api_endpoint"] == f"{actionstep.base_url}/api/"
    assert tokens["orgkey"] == "halemercer"
    assert tokens["expires_in"] == 3600
    current = http.get(
        f"{tokens['api_endpoint']}rest/users/current", headers=as_headers(tokens["access_token"])
    )
    assert current.json()["users"]["id"] == ALEX_ACTIONSTEP

    second = token(http, url, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert second.status_code == 200
    assert second.json()["refresh_token"] != tokens["refresh_token"]
    assert second.json()["api_endpoint"] == tokens["api_endpoint"]
    replay = token(http, url, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert (replay.status_code, replay.json()["error"]) == (400, "invalid_grant")
    assert token(http, url, grant_type="refresh_token", refresh_token=second.json()["refresh_token"]).ok


def test_actionstep_refresh_tokens_last_twenty_one_days(
    actionstep: ActionstepSimulator, http: requests.Session, clock: FakeClock
) -> None:
    refresh_token = actionstep.issue_tokens()["refresh_token"]
    clock.advance(21 * 24 * 3600 + 1)

    late = token(
        http,
        f"{actionstep.base_url}/api/oauth/token",
        grant_type="refresh_token",
        refresh_token=refresh_token,
    )

    assert late.json()["error"] == "invalid_grant"


# --- Clio API ----------------------------------------------------------------------------------------


def test_clio_records_are_only_id_and_etag_unless_fields_asks(
    clio: ClioSimulator, http: requests.Session
) -> None:
    access = clio.issue_tokens()["access_token"]

    bare = clio_get(http, clio, "/matters.json", access).json()["data"][0]
    chosen = clio_get(
        http,
        clio,
        "/matters.json",
        access,
        fields="id,display_number,description,status,client{id,name}",
        limit=1,
    ).json()["data"][0]

    assert set(bare) == {"id", "etag"}
    assert chosen == {
        "id": 9101,
        "display_number": "2026-0101",
        "description": "Acme v. Northwind - breach of supply contract",
        "status": "Open",
        "client": {"id": 7001, "name": "Acme Manufacturing Inc."},
    }


def test_clio_nests_fields_one_level_deep_only(clio: ClioSimulator, http: requests.Session) -> None:
    access = clio.issue_tokens()["access_token"]
    entry = clio_post_activity(http, clio, access, time_entry()).json()["data"]

    one_level = clio_get(http, clio, f"/activities/{entry['id']}.json", access, fields="id,matter{id,client}")
    too_deep = clio_get(http, clio, "/activities.json", access, fields="id,matter{client{name}}")
    unknown = clio_get(http, clio, "/matters.json", access, fields="id,colour")

    assert set(one_level.json()["data"]["matter"]["client"]) == {"id", "etag"}
    assert too_deep.status_code == 400
    assert unknown.status_code == 400
    assert unknown.json()["error"]["type"] == "BadRequest"


def test_clio_cursor_paging_returns_every_matter_once(clio: ClioSimulator, http: requests.Session) -> None:
    access = clio.issue_tokens()["access_token"]
    seen: list[int] = []
    answer = clio_get(http, clio, "/matters.json", access, limit=3, fields="id")
    while True:
        body = answer.json()
        seen += [record["id"] for record in body["data"]]
        assert body["meta"]["records"] == 10
        next_url = body["meta"]["paging"].get("next")
        if next_url is None:
            break
        assert "page_token=" in next_url and "fields=id" in next_url
        answer = http.get(next_url, headers={"Authorization": f"Bearer {access}"})

    assert seen == sorted(set(seen))
    assert len(seen) == 10


def test_clio_refuses_pages_over_two_hundred_and_offsets_past_ten_thousand(
    clio: ClioSimulator, http: requests.Session
) -> None:
    access = clio.issue_tokens()["access_token"]

    too_big = clio_get(http, clio, "/matters.json", access, limit=201)
    too_far = clio_get(http, clio, "/matters.json", access, offset=9900, limit=200)
    offset_page = clio_get(http, clio, "/matters.json", access, offset=8, limit=1).json()

    assert too_big.status_code == 400
    assert (too_far.status_code, too_far.json()["error"]["type"]) == (422, "ArgumentError")
    assert "offset=9" in offset_page["meta"]["paging"]["next"]
    assert "offset=7" in offset_page["meta"]["paging"]["previous"]


def test_clio_filters_matters_by_status_query_and_updated_since(
    clio: ClioSimulator, http: requests.Session, clock: FakeClock
) -> None:
    access = clio.issue_tokens()["access_token"]

    open_or_pending = clio_get(http, clio, "/matters.json", access, status="open,pending", fields="status")
    evergreen = clio_get(http, clio, "/matters.json", access, query="evergreen", fields="display_number")
    clio.set_matter_status(9102, "closed")
    changed = clio_get(
        http, clio, "/matters.json", access, updated_since="2026-06-01T00:00:00Z", fields="id,status"
    )

    assert {m["status"] for m in open_or_pending.json()["data"]} == {"Open", "Pending"}
    assert len(open_or_pending.json()["data"]) == 9
    assert [m["display_number"] for m in evergreen.json()["data"]] == ["2026-0140", "2026-0141"]
    assert changed.json()["data"] == [{"id": 9102, "status": "Closed"}]
    assert clio_get(http, clio, "/matters.json", access, status="dormant").status_code == 400


def test_clio_users_and_contacts_carry_emails_and_client_flags(
    clio: ClioSimulator, http: requests.Session
) -> None:
    access = clio.issue_tokens()["access_token"]

    users = clio_get(http, clio, "/users.json", access, fields="id,name,email,enabled").json()["data"]
    companies = clio_get(http, clio, "/contacts.json", access, type="Company", fields="name,is_client").json()
    people = clio_get(
        http,
        clio,
        "/contacts.json",
        access,
        type="Person",
        fields="name,primary_email_address,is_client,company{name}",
    ).json()["data"]

    assert {u["email"] for u in users} == {
        "fiona.admin@halemercer.example",
        "alex.attorney@halemercer.example",
        "priya.partner@halemercer.example",
        "sam.assistant@halemercer.example",
    }
    assert all(u["enabled"] for u in users)
    assert len(companies["data"]) == 5 and all(c["is_client"] for c in companies["data"])
    dana = next(p for p in people if p["name"] == "Dana Whitfield")
    assert dana == {
        "name": "Dana Whitfield",
        "primary_email_address": "dana.whitfield@acme-mfg.example",
        "is_client": False,
        "company": {"name": "Acme Manufacturing Inc."},
    }
    maria = [p for p in people if p["name"] == "Maria Delgado"]
    assert {p["is_client"] for p in maria} == {True, False}


def test_clio_activity_descriptions_carry_rates_and_utbms_codes(
    clio: ClioSimulator, http: requests.Session
) -> None:
    access = clio.issue_tokens()["access_token"]

    data = clio_get(
        http,
        clio,
        "/activity_descriptions.json",
        access,
        fields="id,name,rate,utbms_task{code},utbms_activity{code}",
    ).json()["data"]

    drafting = next(d for d in data if d["name"] == "Drafting")
    admin = next(d for d in data if d["name"] == "Administrative")
    assert drafting["id"] == 8004
    assert drafting["rate"]["amount"] == 375.0
    assert drafting["utbms_task"] == {"code": "L250"}
    assert drafting["utbms_activity"] == {"code": "A103"}
    assert admin["utbms_task"] is None
    assert admin["rate"]["amount"] == 0.0


def test_a_clio_time_entry_is_created_and_found_again_by_its_note(
    clio: ClioSimulator, http: requests.Session
) -> None:
    access = clio.issue_tokens()["access_token"]

    created = clio_post_activity(http, clio, access, time_entry())
    assert created.status_code == 201
    assert set(created.json()["data"]) == {"id", "etag"}
    activity_id = created.json()["data"]["id"]
    found = clio_get(
        http,
        clio,
        "/activities.json",
        access,
        query="ML-e1",
        matter_id=9101,
        fields="id,quantity,note,user{id}",
    ).json()["data"]
    outside = clio_get(http, clio, "/activities.json", access, start_date="2026-03-03").json()["data"]
    shown = clio_get(http, clio, f"/activities/{activity_id}", access, fields="id,date,total,price").json()[
        "data"
    ]

    assert found == [
        {
            "id": activity_id,
            "quantity": 1800,
            "note": "Email to Dana Whitfield re: supply contract [ML-e1]",
            "user": {"id": ALEX_CLIO},
        }
    ]
    assert outside == []
    assert shown == {"id": activity_id, "date": "2026-03-02", "total": 175.0, "price": 350.0}
    [stored] = clio.time_entries()
    assert stored["matter"] == {"id": 9101}
    assert stored["activity_description"] == {"id": 8001}
    assert stored["quantity"] == 1800 and stored["type"] == "TimeEntry"
    assert clio_get(http, clio, "/activities/1.json", access).status_code == 404


def test_clio_posts_time_for_the_token_user_when_no_user_is_named(
    clio: ClioSimulator, http: requests.Session
) -> None:
    access = clio.issue_tokens(user_id=ALEX_CLIO)["access_token"]
    entry = time_entry()
    del entry["user"]

    assert clio_post_activity(http, clio, access, entry).status_code == 201
    assert clio.time_entries()[0]["user"] == {"id": ALEX_CLIO}


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"date": None}, "Date can't be blank"),
        ({"date": "02/03/2026"}, "Date is invalid"),
        ({"quantity": 0}, "Quantity must be a positive whole number"),
        ({"quantity": 1.5}, "Quantity must be a positive whole number"),
        ({"quantity": "1800"}, "Quantity must be a positive whole number"),
        ({"matter": {"id": 1}}, "Matter could not be found"),
        ({"matter": {"id": 9106}}, "is closed"),
        ({"user": {"id": 5}}, "User could not be found"),
        ({"activity_description": {"id": 1}}, "Activity description could not be found"),
        ({"non_billable": "yes"}, "Non billable must be true or false"),
        ({"type": "ExpenseEntry"}, "TimeEntry activities only"),
    ],
)
def test_clio_refuses_an_invalid_time_entry_with_422_and_stores_nothing(
    clio: ClioSimulator, http: requests.Session, changes: dict[str, Any], complaint: str
) -> None:
    access = clio.issue_tokens()["access_token"]

    refused = clio_post_activity(http, clio, access, time_entry(**changes))

    assert refused.status_code == 422
    assert refused.json()["error"]["type"] == "ValidationError"
    assert complaint in refused.json()["error"]["message"]
    assert clio.time_entries() == []


def test_clio_refuses_a_body_without_data_with_400(clio: ClioSimulator, http: requests.Session) -> None:
    access = clio.issue_tokens()["access_token"]

    refused = http.post(
        f"{clio.api_url}/activities.json", data="not json", headers={"Authorization": f"Bearer {access}"}
    )

    assert refused.status_code == 400


def test_clio_answers_401_for_a_missing_unknown_or_expired_token(
    clio: ClioSimulator, http: requests.Session, clock: FakeClock
) -> None:
    tokens = clio.issue_tokens()
    missing = http.get(f"{clio.api_url}/matters.json")
    unknown = clio_get(http, clio, "/matters.json", "not-a-token")
    clock.advance(tokens["expires_in"] + 1)
    expired = clio_get(http, clio, "/matters.json", tokens["access_token"])

    for answer in (missing, unknown, expired):
        assert answer.status_code == 401
        assert answer.json()["error"] == "invalid_token"
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert "X-RateLimit-Limit" in answer.headers
    refreshed = token(
        http,
        f"{clio.base_url}/oauth/token",
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
    )
    assert clio_get(http, clio, "/matters.json", refreshed.json()["access_token"]).status_code == 200


def test_clio_refuses_api_versions_before_seconds_quantities(
    clio: ClioSimulator, http: requests.Session
) -> None:
    access = clio.issue_tokens()["access_token"]
    headers = {"Authorization": f"Bearer {access}"}

    old = http.get(f"{clio.api_url}/matters.json", headers={**headers, "X-API-VERSION": "4.0.3"})
    current = http.get(f"{clio.api_url}/matters.json", headers={**headers, "X-API-VERSION": "4.0.9"})

    assert old.status_code == 410
    assert current.status_code == 200
    assert current.headers["X-API-VERSION"].startswith("4.0.")


# --- rate limits -------------------------------------------------------------------------------------


def test_every_clio_api_response_carries_the_rate_limit_headers(
    clio: ClioSimulator, http: requests.Session, clock: FakeClock
) -> None:
    access = clio.issue_tokens()["access_token"]

    first = clio_get(http, clio, "/matters.json", access)
    second = clio_get(http, clio, "/users.json", access)

    assert first.headers["X-RateLimit-Limit"] == "50"
    assert (first.headers["X-RateLimit-Remaining"], second.headers["X-RateLimit-Remaining"]) == ("49", "48")
    assert int(first.headers["X-RateLimit-Reset"]) == int(START + 60)


def test_going_over_the_rate_limit_answers_429_with_retry_after_until_the_window_ends(
    clio: ClioSimulator, http: requests.Session, clock: FakeClock
) -> None:
    clio.set_rate_limit(3, 60)
    access = clio.issue_tokens()["access_token"]
    other = clio.issue_tokens()["access_token"]

    answers = [clio_get(http, clio, "/matters.json", access) for _ in range(3)]
    clock.advance(20)
    refused = clio_get(http, clio, "/matters.json", access)

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "40"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert refused.json()["error"]["type"] == "RateLimited"
    assert clio_get(http, clio, "/matters.json", other).status_code == 200  # limits are per token
    clock.advance(40)
    assert clio_get(http, clio, "/matters.json", access).headers["X-RateLimit-Remaining"] == "2"


def test_actionstep_rate_limits_can_be_set_over_the_control_api(
    actionstep: ActionstepSimulator, http: requests.Session
) -> None:
    set_limit = http.post(
        f"{actionstep.base_url}/_sim/faults", json={"rate_limit": {"limit": 1, "window_seconds": 0.5}}
    )
    access = actionstep.issue_tokens()["access_token"]

    allowed = as_get(http, actionstep, "actions", access)
    refused = as_get(http, actionstep, "actions", access)

    assert set_limit.status_code == 200
    assert allowed.status_code == 200
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "0.5"
    assert refused.json()["errors"][0]["status"] == "429"


# --- faults ------------------------------------------------------------------------------------------


def test_throttle_next_answers_429_with_the_chosen_retry_after_then_recovers(
    clio: ClioSimulator, http: requests.Session
) -> None:
    access = clio.issue_tokens()["access_token"]
    clio.throttle_next(2, retry_after=0.2)

    answers = [clio_get(http, clio, "/matters.json", access) for _ in range(3)]

    assert [a.status_code for a in answers] == [429, 429, 200]
    assert answers[0].headers["Retry-After"] == "0.2"
    assert answers[2].headers["X-RateLimit-Remaining"] == "49"  # forced 429s use none of the window


def test_a_failed_create_answers_its_status_and_stores_nothing(
    clio: ClioSimulator, http: requests.Session
) -> None:
    access = clio.issue_tokens()["access_token"]
    clio.fail_next_creates(1, status=503)

    failed = clio_post_activity(http, clio, access, time_entry())
    assert failed.status_code == 503
    assert clio.time_entries() == []
    assert clio_post_activity(http, clio, access, time_entry()).status_code == 201
    assert len(clio.time_entries()) == 1


def test_a_dropped_create_is_stored_but_the_caller_gets_no_response(
    clio: ClioSimulator, http: requests.Session
) -> None:
    access = clio.issue_tokens()["access_token"]
    clio.drop_after_create(1)

    with pytest.raises(requests.ConnectionError):
        clio_post_activity(http, clio, access, time_entry())

    assert len(clio.time_entries()) == 1
    found = clio_get(http, clio, "/activities.json", access, query="ML-e1").json()["data"]
    assert len(found) == 1  # a retry can discover the entry the lost response was about


def test_a_refused_create_does_not_use_up_a_pending_drop(clio: ClioSimulator, http: requests.Session) -> None:
    access = clio.issue_tokens()["access_token"]
    clio.drop_after_create(1)

    assert clio_post_activity(http, clio, access, time_entry(quantity=0)).status_code == 422
    with pytest.raises(requests.ConnectionError):
        clio_post_activity(http, clio, access, time_entry())


def test_faults_are_armed_over_http_and_show_in_the_state(
    actionstep: ActionstepSimulator, http: requests.Session
) -> None:
    faults = f"{actionstep.base_url}/_sim/faults"
    access = actionstep.issue_tokens()["access_token"]

    armed = http.post(
        faults,
        json={
            "throttle_next": {"count": 1, "retry_after": 0.1},
            "fail_next_creates": {"count": 1, "status": 500},
            "drop_after_create": {"count": 1},
        },
    )
    state = http.get(f"{actionstep.base_url}/_sim/state").json()
    throttled = as_get(http, actionstep, "actions", access)
    failed = as_post_time_entry(http, actionstep, access, actionstep_entry())
    with pytest.raises(requests.ConnectionError):
        as_post_time_entry(http, actionstep, access, actionstep_entry())
    nonsense = http.post(faults, json={"meteor_strike": True})

    assert armed.status_code == 200
    assert state["faults"]["fail_next_creates"] == {"count": 1, "status": 500}
    assert state["tokens"]["access_tokens"] == 1
    assert {"participants", "actions", "timeentries", "quickcodes"} <= set(state)
    assert throttled.status_code == 429
    assert failed.status_code == 500
    assert len(actionstep.time_entries()) == 1
    assert nonsense.status_code == 400


def test_expiring_access_tokens_over_http_forces_a_refresh(
    actionstep: ActionstepSimulator, http: requests.Session
) -> None:
    tokens = actionstep.issue_tokens()
    http.post(f"{actionstep.base_url}/_sim/faults", json={"expire_access_tokens": True})

    expired = as_get(http, actionstep, "actions", tokens["access_token"])
    refreshed = token(
        http,
        f"{actionstep.base_url}/api/oauth/token",
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
    )

    assert expired.status_code == 401
    assert expired.json()["errors"][0]["status"] == "401"
    assert as_get(http, actionstep, "actions", refreshed.json()["access_token"]).status_code == 200


def test_revoked_refresh_tokens_need_the_connection_authorized_again(
    clio: ClioSimulator, http: requests.Session
) -> None:
    tokens = clio.issue_tokens()
    http.post(f"{clio.base_url}/_sim/faults", json={"revoke_refresh_tokens": True})

    refused = token(
        http,
        f"{clio.base_url}/oauth/token",
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
    )

    assert refused.json()["error"] == "invalid_grant"
    assert clio_get(http, clio, "/matters.json", tokens["access_token"]).status_code == 200


def test_reset_returns_to_the_seeded_account(clio: ClioSimulator, http: requests.Session) -> None:
    access = clio.issue_tokens()["access_token"]
    clio_post_activity(http, clio, access, time_entry())
    clio.set_matter_status(9101, "Closed")

    reset = http.post(f"{clio.base_url}/_sim/reset", json={"keep_tokens": True})

    assert reset.status_code == 200
    assert clio.time_entries() == []
    assert (
        clio_get(http, clio, "/matters/9101.json", access, fields="status").json()["data"]["status"] == "Open"
    )


def test_the_state_survives_a_restart_without_holding_a_usable_token(
    clio: ClioSimulator, http: requests.Session, clock: FakeClock
) -> None:
    tokens = clio.issue_tokens()
    clio_post_activity(http, clio, tokens["access_token"], time_entry())
    saved = json.dumps(clio.to_dict())

    restarted = ClioSimulator.from_dict(json.loads(saved), port=0, clock=clock)
    restarted.start()
    try:
        answer = clio_get(http, restarted, "/activities.json", tokens["access_token"], fields="id,note")
        assert answer.status_code == 200
        assert restarted.time_entries() == clio.time_entries()
        second = clio_post_activity(http, restarted, tokens["access_token"], time_entry())
        assert second.json()["data"]["id"] == clio.time_entries()[0]["id"] + 1
    finally:
        restarted.stop()
    assert tokens["access_token"] not in saved
    assert tokens["refresh_token"] not in saved


# --- Actionstep API ----------------------------------------------------------------------------------


def test_actionstep_requires_its_json_api_media_type(
    actionstep: ActionstepSimulator, http: requests.Session
) -> None:
    access = actionstep.issue_tokens()["access_token"]

    plain_accept = http.get(
        f"{actionstep.api_endpoint}rest/actions",
        headers={"Authorization": f"Bearer {access}", "Accept": "application/json"},
    )
    plain_body = http.post(
        f"{actionstep.api_endpoint}rest/timeentries",
        json={"timeentries": actionstep_entry()},
        headers={"Authorization": f"Bearer {access}", "Accept": VND},
    )

    assert plain_accept.status_code == 406
    assert plain_body.status_code == 415
    assert actionstep.time_entries() == []


def test_actionstep_lists_are_keyed_by_resource_with_paging_meta(
    actionstep: ActionstepSimulator, http: requests.Session
) -> None:
    access = actionstep.issue_tokens()["access_token"]

    first = as_get(http, actionstep, "participants", access, pageSize=5)
    body = first.json()
    paging = body["meta"]["paging"]["participants"]
    second = http.get(paging["nextPage"], headers=as_headers(access)).json()

    assert first.headers["Content-Type"] == VND
    assert len(body["participants"]) == 5
    assert paging == {
        "recordCount": 17,
        "pageCount": 4,
        "page": 1,
        "pageSize": 5,
        "prevPage": None,
        "nextPage": paging["nextPage"],
    }
    assert second["meta"]["paging"]["participants"]["page"] == 2
    assert {p["id"] for p in body["participants"]}.isdisjoint({p["id"] for p in second["participants"]})
    assert as_get(http, actionstep, "participants", access, pageSize=201).status_code == 400


def test_actionstep_answers_one_record_as_an_object_and_no_records_with_204(
    actionstep: ActionstepSimulator, http: requests.Session
) -> None:
    access = actionstep.issue_tokens()["access_token"]

    one = as_get(http, actionstep, "actions", access, reference="2026-0141")
    by_id = as_get(http, actionstep, "actions/806", access)
    several = as_get(http, actionstep, "actions/801,802", access)
    none = as_get(http, actionstep, "actions", access, reference="1999-0001")
    past_the_end = as_get(http, actionstep, "actions", access, page=9)

    assert one.json()["actions"]["id"] == 809
    assert by_id.json()["actions"]["status"] == "Closed"
    assert [a["id"] for a in several.json()["actions"]] == [801, 802]
    assert (none.status_code, none.content) == (204, b"")
    assert past_the_end.status_code == 204
    assert as_get(http, actionstep, "actions/1", access).status_code == 404


def test_actionstep_sends_numbers_as_strings_and_booleans_as_t_or_f(
    actionstep: ActionstepSimulator, http: requests.Session
) -> None:
    access = actionstep.issue_tokens()["access_token"]

    created = as_post_time_entry(http, actionstep, access, actionstep_entry()).json()["timeentries"]
    participants = as_get(http, actionstep, "participants", access, pageSize=50).json()["participants"]

    assert created["actualHours"] == "0.50"
    assert created["billableHours"] == "0.60"
    assert created["isBillable"] == "T"
    assert created["billableAmount"] == "210.00"
    assert created["links"]["action"] == "801"
    assert created["links"]["owner"] == str(ALEX_ACTIONSTEP)
    assert {p["isCompany"] for p in participants} == {"T", "F"}


def test_actionstep_filters_with_its_operator_suffixes_and_sorts(
    actionstep: ActionstepSimulator, http: requests.Session
) -> None:
    access = actionstep.issue_tokens()["access_token"]

    not_closed = as_get(http, actionstep, "actions", access, status_nteq="Closed", pageSize=50).json()
    alex = as_get(
        http, actionstep, "actions", access, assignedTo=ALEX_ACTIONSTEP, sort="-id", fields="id,reference"
    )
    acme_people = as_get(http, actionstep, "participants", access, email_ilike="*@acme-mfg.example")
    companies = as_get(http, actionstep, "participants", access, isCompany="T", pageSize=50).json()[
        "participants"
    ]
    unknown = as_get(http, actionstep, "actions", access, colour="blue")

    assert not_closed["meta"]["paging"]["actions"]["recordCount"] == 9
    assert all(a["status"] != "Closed" for a in not_closed["actions"])
    references = [a["reference"] for a in alex.json()["actions"]]
    assert references == sorted(references, reverse=True)
    assert set(alex.json()["actions"][0]) == {"id", "reference"}
    assert {p["displayName"] for p in acme_people.json()["participants"]} == {"Dana Whitfield", "Luis Ortega"}
    assert len(companies) == 5
    assert unknown.status_code == 400


def test_an_actionstep_time_entry_is_created_and_found_by_its_import_reference(
    actionstep: ActionstepSimulator, http: requests.Session
) -> None:
    access = actionstep.issue_tokens(user_id=ALEX_ACTIONSTEP)["access_token"]

    created = as_post_time_entry(http, actionstep, access, actionstep_entry(links={"action": "801"}))
    found = as_get(http, actionstep, "timeentries", access, importExternalReference="ML-e1", include="action")
    in_march = as_get(http, actionstep, "timeentries", access, action=801, timestampDate_gteq="2026-03-01")
    in_april = as_get(http, actionstep, "timeentries", access, timestampDate_gteq="2026-04-01")

    assert created.status_code == 201
    entry = created.json()["timeentries"]
    assert created.headers["Location"].endswith(f"/rest/timeentries/{entry['id']}")
    assert entry["links"]["owner"] == str(ALEX_ACTIONSTEP)  # the token's user by default
    assert found.json()["timeentries"]["id"] == entry["id"]
    assert found.json()["linked"]["actions"][0]["reference"] == "2026-0101"
    assert found.json()["links"]["timeentries.action"]["type"] == "actions"
    assert in_march.json()["timeentries"]["id"] == entry["id"]
    assert in_april.status_code == 204
    assert actionstep.time_entries() == [entry]


def test_posting_the_same_import_reference_twice_makes_two_actionstep_entries(
    actionstep: ActionstepSimulator, http: requests.Session
) -> None:
    access = actionstep.issue_tokens()["access_token"]

    for _ in range(2):
        assert as_post_time_entry(http, actionstep, access, actionstep_entry()).status_code == 201

    both = as_get(http, actionstep, "timeentries", access, importExternalReference="ML-e1").json()[
        "timeentries"
    ]
    assert len(both) == 2


@pytest.mark.parametrize(
    ("changes", "code", "detail"),
    [
        ({"links": {"action": 999, "owner": ALEX_ACTIONSTEP}}, None, "does not exist"),
        ({"links": {"action": 806, "owner": ALEX_ACTIONSTEP}}, None, "closed matter"),
        ({"links": {"owner": ALEX_ACTIONSTEP}}, None, "links.action is required"),
        ({"links": {"action": 801, "owner": 601}}, "TR03", "system user"),
        ({"actualHours": -1}, "TR02", "actualHours"),
        ({"billableHours": "-0.5"}, "TR01", "billableHours"),
        ({"actualHours": "an hour"}, None, "decimal number"),
        ({"timestampDate": "2026-02-30"}, None, "timestampDate"),
        ({"isBillable": True}, None, "isBillable"),
        ({"links": {"action": 801, "quickCode": 1}}, None, "quick code"),
    ],
)
def test_actionstep_refuses_an_invalid_time_entry_in_its_error_shape_and_stores_nothing(
    actionstep: ActionstepSimulator,
    http: requests.Session,
    changes: dict[str, Any],
    code: str | None,
    detail: str,
) -> None:
    access = actionstep.issue_tokens()["access_token"]

    refused = as_post_time_entry(http, actionstep, access, actionstep_entry(**changes))

    assert refused.status_code == 400
    [error] = refused.json()["errors"]
    assert error["status"] == "400"
    assert error.get("code") == code
    assert detail in error["detail"]
    assert actionstep.time_entries() == []


def test_actionstep_quick_codes_stand_for_the_activity_types(
    actionstep: ActionstepSimulator, http: requests.Session
) -> None:
    access = actionstep.issue_tokens()["access_token"]

    codes = as_get(http, actionstep, "quickcodes", access, useForTimeEntry="T").json()["quickcodes"]
    created = as_post_time_entry(
        http,
        actionstep,
        access,
        actionstep_entry(description=None, links={"action": 801, "quickCode": "204"}),
    ).json()["timeentries"]

    assert [c["quickCode"] for c in codes] == ["EMAIL", "CALL", "MEET", "DRAFT", "RESEARCH", "ADMIN"]
    assert created["description"] == "Drafting"
    assert created["links"]["quickCode"] == "204"


def test_the_billing_simulators_bind_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback"):
        ClioSimulator(port=0, host="0.0.0.0")
