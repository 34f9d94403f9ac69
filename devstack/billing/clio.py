"""A simulated Clio Manage account (API v4) for the devstack and the billing adapter's tests.

Seeded from the demo book (``devstack/demo_book.py``) with the ids it gives Clio: the demo people in
``CLIO_USER_IDS`` are users, clients and their people are contacts, matters keep their status, activity
types are activity descriptions.

Endpoints (``base_url`` is ``http://127.0.0.1:PORT``; the API is ``{base_url}/api/v4``; ``.json`` on a
path is optional, as in Clio):

OAuth 2.0 authorization code grant
    ``GET /oauth/authorize?response_type=code&client_id=&redirect_uri=&state=`` shows a consent page
    whose form (choose the user, "Allow access" or "Deny") POSTs back to ``/oauth/authorize`` and
    redirects to ``redirect_uri?code=...&state=...`` (or ``?error=access_denied&state=...``). A bad
    ``client_id``/``redirect_uri`` is shown as a 400 page, never redirected.
    ``POST /oauth/token`` (form; client credentials in the form or HTTP Basic):
    ``grant_type=authorization_code`` with ``code``, ``redirect_uri``, ``client_id``, ``client_secret``
    -> ``{"access_token", "token_type": "bearer", "expires_in", "refresh_token"}``;
    ``grant_type=refresh_token`` with ``refresh_token`` -> ``{"access_token", "token_type",
    "expires_in"}``: like Clio, the answer to a refresh carries NO refresh token, and the refresh token
    you have keeps working (it does not expire). Errors are RFC 6749 JSON ``{"error",
    "error_description"}``: ``invalid_request`` (400), ``invalid_client`` (401), ``invalid_grant`` (400:
    codes are single-use, expire after 10 minutes and are bound to client and redirect URI),
    ``unsupported_grant_type`` (400).

API (``Authorization: Bearer ...``)
    ``GET /users/who_am_i``, ``GET /users`` (``enabled``, ``updated_since``), ``GET /users/{id}``;
    ``GET /matters`` (``status`` comma list of open|pending|closed, ``updated_since``, ``query``,
    ``client_id``), ``GET /matters/{id}``;
    ``GET /contacts`` (``type`` Person|Company, ``updated_since``, ``query``, ``client_only``),
    ``GET /contacts/{id}``;
    ``GET /activity_descriptions``, ``GET /activity_descriptions/{id}``;
    ``GET /activities`` (``matter_id``, ``user_id``, ``start_date``, ``end_date``, ``query`` = substring
    of the note, ``type``, ``activity_description_id``, ``created_since``, ``updated_since``),
    ``GET /activities/{id}``; ``POST /activities``.

    Every list and record takes ``fields=`` (comma list; one level of nesting with braces, e.g.
    ``fields=id,display_number,status,client{id,name}``; unknown fields or deeper nesting -> 400).
    Without ``fields`` a record is only ``{"id", "etag"}``, and so is a nested record named without
    braces. ``ids=`` (comma list) filters any list. Lists are ``{"data": [...], "meta": {"paging":
    {"next": URL}, "records": N}}``, ordered by id: cursor paging by default (``limit`` 1..200, default
    200, else 400; ``meta.paging.next`` is the full URL with ``page_token`` and is absent on the last
    page), or offset paging when ``offset`` is given (``previous``/``next`` URLs; past 10,000 records
    -> 422 ArgumentError). ``order`` other than ``id(asc)`` is refused with 400.

    ``POST /activities`` takes ``{"data": {"type": "TimeEntry", "date": "YYYY-MM-DD", "quantity":
    seconds, "matter": {"id"}, "user": {"id"}, "activity_description": {"id"}, "note",
    "non_billable", "price"}}`` and answers 201 ``{"data": {"id", "etag"}}`` (or the ``fields`` asked
    for). ``user`` defaults to the token's user; ``matter`` and ``activity_description`` are optional, as
    in Clio. 422 ``ValidationError`` for: a type other than TimeEntry, a missing or malformed date, a
    quantity that is not a positive whole number of seconds, an unknown or closed matter, an unknown or
    disabled user, an unknown activity description, a note that is not text, a non_billable that is
    not a boolean. A body that is not JSON or has no ``data`` object -> 400. Clio has no idempotency
    key: posting twice creates two activities.

    Errors are ``{"error": {"type", "message"}}`` (400 BadRequest, 404 NotFound, 405 MethodNotAllowed,
    410 Gone, 422 ValidationError/ArgumentError, 429 RateLimited, injected failures
    InternalServerError or ServiceUnavailable) except the 401 for a missing, unknown or expired token,
    which is Clio's OAuth body ``{"error": "invalid_token", "error_description": "The access token
    provided is expired, revoked, malformed or invalid for other reasons."}`` with a ``WWW-Authenticate:
    Bearer`` header. Successful responses carry ``X-API-VERSION``; a request ``X-API-VERSION`` header
    must name 4.0.4 or later (quantity is in seconds since 4.0.4), else 410 Gone.

Rate limit: per access token, 50 requests per 60 s by default, with ``X-RateLimit-*`` on every API
response and 429 + ``Retry-After`` past it (see ``devstack.billing.base`` for the window rule and the
control API under ``/_sim/``, which also says how faults behave).

Python: ``ClioSimulator(port=0).start()``; ``sim.issue_tokens(user_id=None)``; ``sim.time_entries()``
returns the activities as stored::

    {"id", "etag", "type": "TimeEntry", "date", "quantity", "quantity_in_hours", "price", "total",
     "non_billable_total", "note", "non_billable", "matter": {"id"} | None, "user": {"id"},
     "activity_description": {"id"} | None, "created_at", "updated_at"}

``sim.set_matter_status(matter_id, "Closed")`` changes a matter (and its ``updated_at``) for tests.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

from chalicelib.domain.utbms import ACTIVITY_CODES, TASK_CODES
from devstack.billing.base import (
    BillingSimulator,
    Clock,
    Principal,
    Request,
    Response,
    decode_cursor,
    encode_cursor,
    iso_timestamp,
    parse_iso_timestamp,
    url_with,
)
from devstack.demo import DEMO_PEOPLE, email_of
from devstack.demo_book import ACTIVITY_TYPES, CLIENTS, CLIO_USER_IDS, CONTACTS, MATTERS

API_PREFIX = "/api/v4"
DEFAULT_API_VERSION = "4.0.10"
# Clio access tokens last 30 days; refresh tokens do not expire.
DEFAULT_ACCESS_TOKEN_SECONDS = 30 * 24 * 3600
MAX_LIMIT = 200
OFFSET_RECORD_LIMIT = 10_000
# When the demo account was set up: the seeded records' created_at/updated_at.
SEEDED_AT = "2026-01-02T09:00:00+00:00"
FIRST_ACTIVITY_ID = 60_000_001
INVALID_TOKEN_DESCRIPTION = (
    "The access token provided is expired, revoked, malformed or invalid for other reasons."
)
_STATUS_WORDS = {"open": "Open", "pending": "Pending", "closed": "Closed"}
_DEFAULT_RATES = {"attorney": 350.0, "other": 150.0}


class ClioApiError(Exception):
    """Becomes ``{"error": {"type", "message"}}`` with ``status``."""

    def __init__(self, status: int, error_type: str, message: str):
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


def clio_error(status: int, error_type: str, message: str) -> Response:
    """Clio's error envelope."""
    return Response.json({"error": {"type": error_type, "message": message}}, status=status)


@dataclass(frozen=True)
class Ref:
    """A nested resource inside a rendered record: rendered on demand, one level deep."""

    kind: str
    id: int | None


# --- fields= ------------------------------------------------------------------------------------------

FieldSpec = list[tuple[str, "FieldSpec | None"]]


def parse_fields(text: str) -> FieldSpec:
    """``id,client{id,name}`` -> ``[("id", None), ("client", [("id", None), ("name", None)])]``."""
    position = 0

    def parse_list() -> FieldSpec:
        nonlocal position
        items: FieldSpec = []
        while True:
            match = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*").match(text, position)
            if match is None:
                raise ClioApiError(400, "BadRequest", f"Malformed fields parameter near {text[position:]!r}")
            position = match.end()
            name = match.group(1)
            sub: FieldSpec | None = None
            if position < len(text) and text[position] == "{":
                position += 1
                sub = parse_list()
                if position >= len(text) or text[position] != "}":
                    raise ClioApiError(400, "BadRequest", "Unbalanced braces in the fields parameter")
                position += 1
            items.append((name, sub))
            if position < len(text) and text[position] == ",":
                position += 1
                continue
            return items

    spec = parse_list()
    if position != len(text):
        raise ClioApiError(400, "BadRequest", f"Malformed fields parameter near {text[position:]!r}")
    return spec


# --- the simulator -----------------------------------------------------------------------------------


class ClioSimulator(BillingSimulator):
    """A Clio Manage account over HTTP on loopback. See the module docstring for the protocol."""

    KIND: ClassVar[str] = "clio"
    AUTHORIZE_PATH: ClassVar[str] = "/oauth/authorize"
    TOKEN_PATH: ClassVar[str] = "/oauth/token"
    ROTATE_REFRESH_TOKENS: ClassVar[bool] = False
    SERVICE_TITLE: ClassVar[str] = "Clio"

    def __init__(
        self,
        port: int = 0,
        client_id: str = "matterline-devstack",
        client_secret: str = "devstack-secret",
        access_token_seconds: int = DEFAULT_ACCESS_TOKEN_SECONDS,
        rate_limit: int = 50,
        rate_window_seconds: float = 60.0,
        *,
        host: str = "127.0.0.1",
        clock: Clock = time.time,
    ) -> None:
        self._users: dict[int, dict[str, Any]] = {}
        self._contacts: dict[int, dict[str, Any]] = {}
        self._matters: dict[int, dict[str, Any]] = {}
        self._descriptions: dict[int, dict[str, Any]] = {}
        self._activities: dict[int, dict[str, Any]] = {}
        self._next_activity_id = FIRST_ACTIVITY_ID
        super().__init__(
            port=port,
            client_id=client_id,
            client_secret=client_secret,
            access_token_seconds=access_token_seconds,
            refresh_token_seconds=None,
            rate_limit=rate_limit,
            rate_window_seconds=rate_window_seconds,
            host=host,
            clock=clock,
        )

    @property
    def api_url(self) -> str:
        """``{base_url}/api/v4``."""
        return f"{self.base_url}{API_PREFIX}"

    # -- Python control API -----------------------------------------------------------------------

    def time_entries(self) -> list[dict[str, Any]]:
        """The activities created through the API, as stored, oldest first."""
        with self._lock:
            return [copy.deepcopy(self._activities[key]) for key in sorted(self._activities)]

    def set_matter_status(self, matter_id: int, status: str) -> None:
        """Set a matter's status (Open, Pending or Closed) and bump its ``updated_at``."""
        word = _STATUS_WORDS.get(status.lower())
        if word is None:
            raise ValueError(f"unknown matter status {status!r}")
        with self._lock:
            matter = self._matters[int(matter_id)]
            matter["status"] = word
            matter["close_date"] = (
                time.strftime("%Y-%m-%d", time.gmtime(self._clock())) if word == "Closed" else None
            )
            matter["updated_at"] = iso_timestamp(self._clock())

    # -- seeding and state -------------------------------------------------------------------------

    def _seed(self) -> None:
        people = {person.email: person for person in DEMO_PEOPLE}
        self._users = {}
        for mailbox, user_id in CLIO_USER_IDS.items():
            person = people[mailbox]
            first, _, last = person.name.partition(" ")
            attorney = any(role.value == "attorney" for role in person.roles)
            self._users[user_id] = {
                "id": user_id,
                "name": person.name,
                "first_name": first,
                "last_name": last,
                "email": email_of(person),
                "enabled": True,
                "subscription_type": "Attorney" if attorney else "NonAttorney",
                "default_rate": _DEFAULT_RATES["attorney" if attorney else "other"],
                "created_at": SEEDED_AT,
                "updated_at": SEEDED_AT,
            }
        self._contacts = {}
        for client in CLIENTS:
            same_person = next(
                (c for c in CONTACTS if c.client_key == client.key and c.name == client.name), None
            )
            first, _, last = client.name.partition(" ")
            self._contacts[client.clio_id] = {
                "id": client.clio_id,
                "name": client.name,
                # A client whose contact has the client's own name is a person (Maria Delgado).
                "type": "Person" if same_person else "Company",
                "first_name": first if same_person else None,
                "last_name": last if same_person else None,
                "primary_email_address": same_person.email if same_person else None,
                "is_client": True,
                "company_id": None,
                "created_at": SEEDED_AT,
                "updated_at": SEEDED_AT,
            }
        by_key = {client.key: client for client in CLIENTS}
        for contact in CONTACTS:
            first, _, last = contact.name.partition(" ")
            client = by_key[contact.client_key]
            self._contacts[contact.clio_id] = {
                "id": contact.clio_id,
                "name": contact.name,
                "type": "Person",
                "first_name": first,
                "last_name": last,
                "primary_email_address": contact.email,
                "is_client": False,
                "company_id": None if client.name == contact.name else client.clio_id,
                "created_at": SEEDED_AT,
                "updated_at": SEEDED_AT,
            }
        self._matters = {}
        for matter in MATTERS:
            status = _STATUS_WORDS[matter.status]
            self._matters[matter.clio_id] = {
                "id": matter.clio_id,
                "display_number": matter.number,
                "description": matter.name,
                "status": status,
                "client_id": by_key[matter.client_key].clio_id,
                "responsible_attorney_id": CLIO_USER_IDS.get(matter.responsible),
                "billable": True,
                "open_date": "2026-01-05" if matter.number.startswith("2026") else "2025-03-10",
                "close_date": "2025-12-19" if status == "Closed" else None,
                "created_at": SEEDED_AT,
                "updated_at": SEEDED_AT,
            }
        self._descriptions = {}
        for activity_type in ACTIVITY_TYPES:
            self._descriptions[activity_type.clio_id] = {
                "id": activity_type.clio_id,
                "name": activity_type.name,
                "rate_amount": float(activity_type.rate),
                "billable": activity_type.billable,
                "utbms_task": activity_type.utbms_task,
                "utbms_activity": activity_type.utbms_activity,
                "created_at": SEEDED_AT,
                "updated_at": SEEDED_AT,
            }
        self._activities = {}
        self._next_activity_id = FIRST_ACTIVITY_ID

    def _account_state(self) -> dict[str, Any]:
        return {
            "users": [_public_user(u) for u in self._users.values()],
            "contacts": list(copy.deepcopy(self._contacts).values()),
            "matters": list(copy.deepcopy(self._matters).values()),
            "activity_descriptions": list(copy.deepcopy(self._descriptions).values()),
            "activities": [copy.deepcopy(self._activities[k]) for k in sorted(self._activities)],
        }

    def _account_to_dict(self) -> dict[str, Any]:
        return {
            "users": list(self._users.values()),
            "contacts": list(self._contacts.values()),
            "matters": list(self._matters.values()),
            "activity_descriptions": list(self._descriptions.values()),
            "activities": list(self._activities.values()),
            "next_activity_id": self._next_activity_id,
        }

    def _account_from_dict(self, data: Mapping[str, Any]) -> None:
        self._users = {int(r["id"]): dict(r) for r in data["users"]}
        self._contacts = {int(r["id"]): dict(r) for r in data["contacts"]}
        self._matters = {int(r["id"]): dict(r) for r in data["matters"]}
        self._descriptions = {int(r["id"]): dict(r) for r in data["activity_descriptions"]}
        self._activities = {int(r["id"]): copy.deepcopy(dict(r)) for r in data["activities"]}
        self._next_activity_id = int(data.get("next_activity_id", FIRST_ACTIVITY_ID))

    def _users_for_consent(self) -> list[tuple[int, str]]:
        return [(u["id"], f"{u['name']} <{u['email']}>") for u in self._users.values() if u["enabled"]]

    def _default_user_id(self) -> int:
        return CLIO_USER_IDS["fiona.admin"]

    def _is_user(self, user_id: int) -> bool:
        user = self._users.get(user_id)
        return bool(user and user["enabled"])

    # -- service specifics ------------------------------------------------------------------------

    def _unauthorized(self, request: Request) -> Response:
        return Response.json(
            {"error": "invalid_token", "error_description": INVALID_TOKEN_DESCRIPTION},
            status=401,
            headers=[
                (
                    "WWW-Authenticate",
                    'Bearer realm="Clio", error="invalid_token", '
                    f'error_description="{INVALID_TOKEN_DESCRIPTION}"',
                )
            ],
        )

    def _throttled(self, retry_after: float) -> Response:
        seconds = max(1, int(retry_after + 0.999))
        return clio_error(429, "RateLimited", f"Rate limit exceeded. Retry in {seconds} seconds.")

    def _create_failed(self, status: int) -> Response:
        kind = "ServiceUnavailable" if status == 503 else "InternalServerError"
        return clio_error(status, kind, "The request could not be completed. Please try again later.")

    def _not_found(self, request: Request) -> Response:
        return clio_error(404, "NotFound", f"No route matches {request.method} {request.path}")

    def _not_allowed(self, request: Request) -> Response:
        return clio_error(405, "MethodNotAllowed", f"{request.method} is not allowed on {request.path}")

    def _refresh_response_has_refresh_token(self) -> bool:
        return False

    def negotiate(self, request: Request, *, has_body: bool) -> Response | None:
        requested = request.header("X-API-VERSION")
        if requested is None:
            return None
        match = re.fullmatch(r"4\.0\.(\d+)", requested.strip())
        if match is None or int(match.group(1)) < 4:
            return clio_error(
                410,
                "Gone",
                f"API version {requested!r} is not supported (the simulator serves 4.0.4 and later)",
            )
        return None

    def decorate(self, response: Response) -> Response:
        if response.status < 400:
            response.headers.append(("X-API-VERSION", DEFAULT_API_VERSION))
        return response

    # -- routes -----------------------------------------------------------------------------------

    def _register_api_routes(self) -> None:
        json_suffix = r"(?:\.json)?"
        route = self.api_route
        route("GET", rf"^{API_PREFIX}/users/who_am_i{json_suffix}$", self._api(self._who_am_i))
        for collection, kind in (
            ("users", "user"),
            ("matters", "matter"),
            ("contacts", "contact"),
            ("activity_descriptions", "activity_description"),
            ("activities", "activity"),
        ):
            route("GET", rf"^{API_PREFIX}/{collection}{json_suffix}$", self._api(self._lister(kind)))
            route(
                "GET",
                rf"^{API_PREFIX}/{collection}/(?P<id>\d+){json_suffix}$",
                self._api(self._shower(kind)),
            )
        route(
            "POST",
            rf"^{API_PREFIX}/activities{json_suffix}$",
            self._api(self._create_activity),
            creates_time_entry=True,
        )

    def _api(
        self, handler: Callable[[Request, Principal], Response]
    ) -> Callable[[Request, Principal], Response]:
        def run(request: Request, principal: Principal) -> Response:
            try:
                return handler(request, principal)
            except ClioApiError as error:
                return clio_error(error.status, error.error_type, error.message)

        return run

    def _who_am_i(self, request: Request, principal: Principal) -> Response:
        spec = self._fields(request)
        return Response.json({"data": self._select(self._render("user", principal.user_id), spec)})

    def _shower(self, kind: str) -> Callable[[Request, Principal], Response]:
        def show(request: Request, principal: Principal) -> Response:
            spec = self._fields(request)
            record_id = int(request.params["id"])
            if record_id not in self._table(kind):
                raise ClioApiError(404, "NotFound", f"{_TITLES[kind]} {record_id} could not be found")
            return Response.json({"data": self._select(self._render(kind, record_id), spec)})

        return show

    def _lister(self, kind: str) -> Callable[[Request, Principal], Response]:
        def index(request: Request, principal: Principal) -> Response:
            spec = self._fields(request)
            order = request.arg("order")
            if order is not None and order.replace(" ", "") != "id(asc)":
                raise ClioApiError(400, "BadRequest", "The simulator orders lists by id(asc) only")
            records = [r for r in self._table(kind).values() if self._matches(kind, r, request)]
            records.sort(key=lambda r: int(r["id"]))
            page, paging = self._page(records, request)
            data = [self._select(self._render(kind, int(r["id"])), spec) for r in page]
            return Response.json({"data": data, "meta": {"paging": paging, "records": len(records)}})

        return index

    # -- paging ------------------------------------------------------------------------------------

    def _page(
        self, records: list[dict[str, Any]], request: Request
    ) -> tuple[list[dict[str, Any]], dict[str, str]]:
        limit = _int_arg(request, "limit", MAX_LIMIT)
        if not 1 <= limit <= MAX_LIMIT:
            raise ClioApiError(400, "BadRequest", f"limit must be between 1 and {MAX_LIMIT}")
        url_base = f"{self.base_url}{request.path}"
        paging: dict[str, str] = {}
        if request.arg("offset") is not None:
            offset = _int_arg(request, "offset", 0)
            if offset < 0:
                raise ClioApiError(400, "BadRequest", "offset must not be negative")
            if offset + limit > OFFSET_RECORD_LIMIT:
                raise ClioApiError(
                    422, "ArgumentError", f"Offset pagination is limited to {OFFSET_RECORD_LIMIT} records"
                )
            page = records[offset : offset + limit]
            if offset > 0:
                paging["previous"] = url_with(url_base, "", request.query, offset=str(max(offset - limit, 0)))
            if offset + limit < len(records):
                paging["next"] = url_with(url_base, "", request.query, offset=str(offset + limit))
            return page, paging
        token = request.arg("page_token")
        after = 0
        if token:
            cursor = decode_cursor(token)
            if cursor is None or not isinstance(cursor.get("after"), int):
                raise ClioApiError(400, "BadRequest", "page_token is not valid")
            after = int(cursor["after"])
        remaining = [r for r in records if int(r["id"]) > after]
        page = remaining[:limit]
        if len(remaining) > limit:
            next_token = encode_cursor({"after": int(page[-1]["id"])})
            paging["next"] = url_with(url_base, "", request.query, page_token=next_token)
        return page, paging

    # -- filters -----------------------------------------------------------------------------------

    def _matches(self, kind: str, record: Mapping[str, Any], request: Request) -> bool:
        ids = request.arg("ids")
        if ids is not None and int(record["id"]) not in _int_list(ids, "ids"):
            return False
        updated_since = _timestamp_arg(request, "updated_since")
        if updated_since is not None and (parse_iso_timestamp(record["updated_at"]) or 0) <= updated_since:
            return False
        checks = _FILTERS[kind]
        return all(check(self, record, request) for check in checks)

    # -- rendering and fields ---------------------------------------------------------------------

    def _fields(self, request: Request) -> FieldSpec | None:
        text = request.arg("fields")
        return parse_fields(text) if text else None

    def _table(self, kind: str) -> dict[int, dict[str, Any]]:
        return {
            "user": self._users,
            "contact": self._contacts,
            "matter": self._matters,
            "activity_description": self._descriptions,
            "activity": self._activities,
        }[kind]

    def _render(self, kind: str, record_id: int) -> dict[str, Any]:
        """Every field of a record; nested resources as ``Ref``."""
        record = self._table(kind)[record_id]
        etag = _etag(record)
        if kind == "user":
            return {**_public_user(record), "etag": etag}
        if kind == "contact":
            fields = {k: v for k, v in record.items() if k != "company_id"}
            fields["etag"] = etag
            fields["company"] = Ref("contact", record["company_id"]) if record["company_id"] else None
            return fields
        if kind == "matter":
            fields = {k: v for k, v in record.items() if k not in ("client_id", "responsible_attorney_id")}
            fields["etag"] = etag
            fields["client"] = Ref("contact", record["client_id"])
            fields["responsible_attorney"] = (
                Ref("user", record["responsible_attorney_id"]) if record["responsible_attorney_id"] else None
            )
            return fields
        if kind == "activity_description":
            return _render_description(record, etag)
        fields = {k: v for k, v in record.items() if k not in ("matter", "user", "activity_description")}
        fields["matter"] = Ref("matter", record["matter"]["id"]) if record["matter"] else None
        fields["user"] = Ref("user", record["user"]["id"])
        fields["activity_description"] = (
            Ref("activity_description", record["activity_description"]["id"])
            if record["activity_description"]
            else None
        )
        return fields

    def _select(
        self, full: Mapping[str, Any], spec: FieldSpec | None, *, nested: bool = False
    ) -> dict[str, Any]:
        if spec is None:
            return {"id": full["id"], "etag": full["etag"]}
        selected: dict[str, Any] = {}
        for name, sub in spec:
            if name not in full:
                raise ClioApiError(400, "BadRequest", f"Invalid field: {name}")
            value = full[name]
            if isinstance(value, Ref):
                if sub is not None and nested:
                    raise ClioApiError(
                        400,
                        "BadRequest",
                        f"Fields of second-level nested resources cannot be requested: {name}",
                    )
                if value.id is None or value.id not in self._table(value.kind):
                    selected[name] = None
                    continue
                nested_full = self._render(value.kind, value.id)
                selected[name] = self._select(nested_full, sub, nested=True)
            elif isinstance(value, dict):
                if sub is None:
                    selected[name] = copy.deepcopy(value)
                else:
                    if any(inner is not None for _, inner in sub):
                        raise ClioApiError(400, "BadRequest", f"Too deeply nested fields under {name}")
                    unknown = [inner_name for inner_name, _ in sub if inner_name not in value]
                    if unknown:
                        raise ClioApiError(400, "BadRequest", f"Invalid field: {name}{{{unknown[0]}}}")
                    selected[name] = {inner_name: value[inner_name] for inner_name, _ in sub}
            elif value is None:
                # An absent nested resource (no company, no UTBMS code) is null whatever was asked of it.
                selected[name] = None
            else:
                if sub is not None:
                    raise ClioApiError(400, "BadRequest", f"{name} is not a nested resource")
                selected[name] = value
        return selected

    # -- creating activities ----------------------------------------------------------------------

    def _create_activity(self, request: Request, principal: Principal) -> Response:
        spec = self._fields(request)
        try:
            body = request.json()
        except ValueError as error:
            raise ClioApiError(400, "BadRequest", "The request body is not valid JSON") from error
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise ClioApiError(400, "BadRequest", "The request body must be an object with a data object")
        problems: list[str] = []
        activity_type = data.get("type", "TimeEntry")
        if activity_type != "TimeEntry":
            problems.append(
                "Type is not supported (the simulator records TimeEntry activities only)"
                if activity_type == "ExpenseEntry"
                else "Type is not included in the list"
            )
        day = data.get("date")
        if day in (None, ""):
            problems.append("Date can't be blank")
        elif not isinstance(day, str) or not _is_iso_date(day):
            problems.append("Date is invalid (expected YYYY-MM-DD)")
        quantity = data.get("quantity")
        if isinstance(quantity, float) and quantity.is_integer():
            quantity = int(quantity)
        if quantity is None:
            problems.append("Quantity can't be blank")
        elif isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            problems.append("Quantity must be a positive whole number of seconds")
        matter_id = _nested_id(data, "matter", problems)
        if matter_id is not None:
            matter = self._matters.get(matter_id)
            if matter is None:
                problems.append(f"Matter could not be found (id {matter_id})")
            elif matter["status"] == "Closed":
                problems.append(
                    f"Matter {matter['display_number']} is closed: time cannot be recorded against it"
                )
        user_id = _nested_id(data, "user", problems)
        if user_id is None and "user" not in data:
            user_id = principal.user_id
        if user_id is not None:
            user = self._users.get(user_id)
            if user is None:
                problems.append(f"User could not be found (id {user_id})")
            elif not user["enabled"]:
                problems.append(f"User {user['name']} is not enabled")
        description_id = _nested_id(data, "activity_description", problems)
        if description_id is not None and description_id not in self._descriptions:
            problems.append(f"Activity description could not be found (id {description_id})")
        note = data.get("note")
        if note is not None and not isinstance(note, str):
            problems.append("Note must be text")
        non_billable = data.get("non_billable", False)
        if not isinstance(non_billable, bool):
            problems.append("Non billable must be true or false")
        price = data.get("price")
        if price is not None and (isinstance(price, bool) or not isinstance(price, int | float) or price < 0):
            problems.append("Price must be a number that is not negative")
        if problems:
            raise ClioApiError(422, "ValidationError", "Validation failed: " + ", ".join(problems))
        assert isinstance(quantity, int) and isinstance(day, str) and user_id is not None
        if price is None:
            price = (
                self._descriptions[description_id]["rate_amount"]
                if description_id is not None
                else self._users[user_id]["default_rate"]
            )
        hours = quantity / 3600
        amount = round(hours * float(price), 2)
        now = iso_timestamp(self._clock())
        activity_id = self._next_activity_id
        self._next_activity_id += 1
        record: dict[str, Any] = {
            "id": activity_id,
            "type": "TimeEntry",
            "date": day,
            "quantity": quantity,
            "quantity_in_hours": round(hours, 4),
            "price": float(price),
            "total": 0.0 if non_billable else amount,
            "non_billable_total": amount if non_billable else 0.0,
            "note": note or "",
            "non_billable": non_billable,
            "no_charge": False,
            "billed": False,
            "on_bill": False,
            "flat_rate": False,
            "matter": {"id": matter_id} if matter_id is not None else None,
            "user": {"id": user_id},
            "activity_description": {"id": description_id} if description_id is not None else None,
            "created_at": now,
            "updated_at": now,
        }
        record["etag"] = _etag(record)
        self._activities[activity_id] = record
        return Response.json({"data": self._select(self._render("activity", activity_id), spec)}, status=201)


# --- helpers -----------------------------------------------------------------------------------------

_TITLES = {
    "user": "User",
    "contact": "Contact",
    "matter": "Matter",
    "activity_description": "ActivityDescription",
    "activity": "Activity",
}


def _public_user(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "default_rate"}


def _render_description(record: Mapping[str, Any], etag: str) -> dict[str, Any]:
    task, activity = record["utbms_task"], record["utbms_activity"]
    return {
        "id": record["id"],
        "etag": etag,
        "name": record["name"],
        "type": "ActivityDescription",
        "default": False,
        "visible_to_co_counsel": False,
        "accessible_to_user": True,
        "category_type": "hourly",
        "currency": {"id": 1, "code": "USD", "sign": "$"},
        "rate": {
            "amount": record["rate_amount"] if record["billable"] else 0.0,
            "non_billable_amount": 0.0 if record["billable"] else record["rate_amount"],
            "type": "ActivityRate",
            "hierarchy": "Firm",
        },
        "utbms_task_id": _utbms_id(task),
        "utbms_task_name": TASK_CODES.get(task) if task else None,
        "utbms_activity_id": _utbms_id(activity),
        "utbms_task": _utbms_code(task, "UtbmsTask", TASK_CODES),
        "utbms_activity": _utbms_code(activity, "UtbmsActivity", ACTIVITY_CODES),
        "created_at": record["created_at"],
        "updated_at": record["updated_at"],
    }


def _utbms_id(code: str | None) -> int | None:
    """A stable id per UTBMS code (Clio numbers its UTBMS codes; these are the simulator's)."""
    if not code:
        return None
    return {"L": 10_000, "A": 20_000, "E": 30_000}.get(code[0], 40_000) + int(code[1:])


def _utbms_code(code: str | None, kind: str, names: Mapping[str, str]) -> dict[str, Any] | None:
    if not code:
        return None
    return {
        "id": _utbms_id(code),
        "code": code,
        "name": names.get(code, code),
        "description": names.get(code, code),
        "type": kind,
        "utbms_set_id": 1,
    }


def _etag(record: Mapping[str, Any]) -> str:
    payload = json.dumps({k: v for k, v in record.items() if k != "etag"}, sort_keys=True, default=str)
    return '"' + hashlib.md5(payload.encode("utf-8"), usedforsecurity=False).hexdigest() + '"'


def _is_iso_date(text: str) -> bool:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _nested_id(data: Mapping[str, Any], name: str, problems: list[str]) -> int | None:
    """``data[name]["id"]`` as an int; a problem is noted when it is there but malformed."""
    value = data.get(name)
    if value is None:
        return None
    raw = value.get("id") if isinstance(value, dict) else None
    if isinstance(raw, str) and raw.isdigit():
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int):
        problems.append(f"{name.replace('_', ' ').capitalize()} must be an object with a numeric id")
        return None
    return raw


def _int_arg(request: Request, name: str, default: int) -> int:
    value = request.arg(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as error:
        raise ClioApiError(400, "BadRequest", f"{name} must be a whole number") from error


def _int_list(text: str, name: str) -> set[int]:
    try:
        return {int(part) for part in text.split(",") if part.strip()}
    except ValueError as error:
        raise ClioApiError(400, "BadRequest", f"{name} must be a comma-separated list of ids") from error


def _timestamp_arg(request: Request, name: str) -> float | None:
    value = request.arg(name)
    if not value:
        return None
    parsed = parse_iso_timestamp(value)
    if parsed is None:
        raise ClioApiError(400, "BadRequest", f"{name} must be an ISO-8601 timestamp")
    return parsed


def _date_arg(request: Request, name: str) -> str | None:
    value = request.arg(name)
    if not value:
        return None
    day = value[:10]
    if not _is_iso_date(day):
        raise ClioApiError(400, "BadRequest", f"{name} must be an ISO-8601 date")
    return day


def _bool_arg(request: Request, name: str) -> bool | None:
    value = request.arg(name)
    if value is None or value == "":
        return None
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise ClioApiError(400, "BadRequest", f"{name} must be true or false")
    return lowered == "true"


def _id_equals(field_name: str, param: str) -> Callable[[ClioSimulator, Mapping[str, Any], Request], bool]:
    def check(sim: ClioSimulator, record: Mapping[str, Any], request: Request) -> bool:
        value = request.arg(param)
        if value is None:
            return True
        wanted = _int_list(value, param)
        actual = record.get(field_name)
        if isinstance(actual, dict):
            actual = actual.get("id")
        return actual in wanted

    return check


def _matter_status(sim: ClioSimulator, record: Mapping[str, Any], request: Request) -> bool:
    value = request.arg("status")
    if not value:
        return True
    wanted = set()
    for word in value.split(","):
        status = _STATUS_WORDS.get(word.strip().lower())
        if status is None:
            raise ClioApiError(
                400, "BadRequest", f"status must be a comma list of open, pending, closed: {word!r}"
            )
        wanted.add(status)
    return record["status"] in wanted


def _query_in(*field_names: str) -> Callable[[ClioSimulator, Mapping[str, Any], Request], bool]:
    def check(sim: ClioSimulator, record: Mapping[str, Any], request: Request) -> bool:
        value = request.arg("query")
        if not value:
            return True
        needle = value.lower()
        return any(needle in str(record.get(name) or "").lower() for name in field_names)

    return check


def _enabled(sim: ClioSimulator, record: Mapping[str, Any], request: Request) -> bool:
    wanted = _bool_arg(request, "enabled")
    return wanted is None or record["enabled"] == wanted


def _contact_type(sim: ClioSimulator, record: Mapping[str, Any], request: Request) -> bool:
    value = request.arg("type")
    if not value:
        return True
    if value not in ("Person", "Company"):
        raise ClioApiError(400, "BadRequest", "type must be Person or Company")
    return record["type"] == value


def _client_only(sim: ClioSimulator, record: Mapping[str, Any], request: Request) -> bool:
    wanted = _bool_arg(request, "client_only")
    return not wanted or record["is_client"]


def _activity_type(sim: ClioSimulator, record: Mapping[str, Any], request: Request) -> bool:
    value = request.arg("type")
    if not value:
        return True
    if value not in ("TimeEntry", "ExpenseEntry"):
        raise ClioApiError(400, "BadRequest", "type must be TimeEntry or ExpenseEntry")
    return record["type"] == value


def _activity_dates(sim: ClioSimulator, record: Mapping[str, Any], request: Request) -> bool:
    start, end = _date_arg(request, "start_date"), _date_arg(request, "end_date")
    return (start is None or record["date"] >= start) and (end is None or record["date"] <= end)


def _created_since(sim: ClioSimulator, record: Mapping[str, Any], request: Request) -> bool:
    since = _timestamp_arg(request, "created_since")
    return since is None or (parse_iso_timestamp(record["created_at"]) or 0) > since


_Check = Callable[[ClioSimulator, Mapping[str, Any], Request], bool]
_FILTERS: dict[str, tuple[_Check, ...]] = {
    "user": (_enabled,),
    "contact": (_contact_type, _client_only, _query_in("name", "primary_email_address")),
    "matter": (
        _matter_status,
        _query_in("display_number", "description"),
        _id_equals("client_id", "client_id"),
    ),
    "activity_description": (),
    "activity": (
        _id_equals("matter", "matter_id"),
        _id_equals("user", "user_id"),
        _id_equals("activity_description", "activity_description_id"),
        _activity_type,
        _activity_dates,
        _created_since,
        _query_in("note"),
    ),
}
