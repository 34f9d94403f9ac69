"""A simulated Actionstep account (REST API) for the devstack and the billing adapter's tests.

Seeded from the demo book (``devstack/demo_book.py``) with the ids it gives Actionstep: the demo people
in ``ACTIONSTEP_PARTICIPANT_IDS`` are the firm's users (participants with a login), clients and their
people are participants too, matters are actions, and activity types are time-entry quick codes (ids in
``QUICK_CODE_IDS``). Actionstep exposes no rate table through its public resources (quick codes only
link to one), so the simulator serves ``quickcodes`` without rates.

OAuth 2.0 authorization code grant (``base_url`` is ``http://127.0.0.1:PORT``)
    ``GET /api/oauth/authorize?response_type=code&client_id=&redirect_uri=&state=`` shows a consent
    page whose form ("Allow access" / "Deny") POSTs back and redirects to ``redirect_uri?code=&state=``.
    ``POST /api/oauth/token`` (form; client credentials in the form or HTTP Basic), grants
    ``authorization_code`` (``code``, ``redirect_uri``) and ``refresh_token`` (``refresh_token``), both
    answering ``{"access_token", "token_type": "bearer", "expires_in": 3600, "api_endpoint":
    "{base_url}/api/", "orgkey": "halemercer", "refresh_token"}``. Every refresh returns a NEW refresh
    token and the one used stops working at once; refresh tokens last 21 days. Errors are RFC 6749
    JSON (``invalid_request``, ``invalid_client`` 401, ``invalid_grant``, ``unsupported_grant_type``).

REST API under ``{api_endpoint}rest/`` (``Authorization: Bearer ...``)
    Requests must send ``Accept: application/vnd.api+json`` (else 406) and, with a body,
    ``Content-Type: application/vnd.api+json`` (else 415); responses are ``application/vnd.api+json``.

    ``GET participants``, ``GET actions``, ``GET timeentries``, ``GET quickcodes``, ``GET users``,
    ``GET users/current``, each also as ``GET {resource}/{id}`` or ``{resource}/{id},{id}``;
    ``POST timeentries``.

    A response is ``{"links": {"timeentries.action": {"href", "type"}, ...}, "timeentries": ...,
    "linked": {...}, "meta": {"paging": {"timeentries": {"recordCount", "pageCount", "page",
    "pageSize", "prevPage", "nextPage"}}}}`` (``linked`` only with ``include=``). As in Actionstep:

    * when the page holds exactly ONE record, the resource key is that object, not a list;
    * when nothing matches (or the page is past the end) the answer is ``204 No Content``, no body;
    * ``id`` is a number; every other number (hours, amounts, link ids) is a string; booleans are
      ``"T"``/``"F"``; timestamps are ISO-8601 with an offset.

    Query: ``page`` (from 1) and ``pageSize`` (1..200, default 50; else 400); ``sort=field,-field``;
    ``fields=a,b`` or ``fields[resource]=a,b`` (``id`` always comes back; link names keep their link);
    ``include=action,owner`` (link names) fills ``linked``. Filters are ``field=value`` (comma list:
    any of), or ``field_OP=value`` with OP one of ``eq``, ``nteq``, ``gt``, ``gteq``, ``lt``, ``lteq``,
    ``like``, ``ilike`` (``*`` or ``%`` as wildcard), on an attribute or a link name, e.g.
    ``timeentries?importExternalReference=ML-1``, ``timeentries?action=801&timestampDate_gteq=2026-03-01``,
    ``actions?status_nteq=Closed``. An unknown filter, field or include -> 400.

    ``POST timeentries`` takes ``{"timeentries": {"timestampDate": "YYYY-MM-DD", "actualHours",
    "billableHours", "description", "isBillable": "T"|"F", "importExternalReference", "links":
    {"action", "owner", "quickCode"}}}`` (hours as numbers or numeric strings; ``billableHours``
    defaults to ``actualHours``, ``isBillable`` to ``"T"``, ``owner`` to the token's user) and answers
    201 with the created record in the envelope above. It is NOT idempotent: the same
    ``importExternalReference`` twice makes two entries; look it up first. Validation errors answer 400
    (Actionstep documents no 422) in Actionstep's error shape ``{"errors": [{"status", "code"?,
    "title", "detail", "source": {"pointer"}?}]}``: missing/malformed timestampDate, hours that are
    not numbers, negative actualHours (TR02) or billableHours (TR01), an owner who is not a system
    user (TR03), an unknown or closed action, an unknown quick code, an isBillable other than T/F.
    Other errors use the same shape: 401 (missing, unknown or expired token), 404, 405, 406, 415, 429.

Rate limit: per access token (``rate_limit`` requests per ``rate_window_seconds``, 100 per 60 s unless
configured) with
``X-RateLimit-*`` headers and 429 + ``Retry-After``; faults and the ``/_sim/`` control API are described
in ``devstack.billing.base``.

Python: ``ActionstepSimulator(port=0).start()``; ``sim.api_endpoint``; ``sim.issue_tokens()``;
``sim.time_entries()`` returns the time entries as stored (exactly the API's attributes, with
``links``); ``sim.time_entry_tokens()`` says whose token created each (simulator-only, also under
``time_entry_tokens`` in ``/_sim/state``; the lookup by ``importExternalReference`` finds entries made
with any token of the account); ``sim.set_matter_status(action_id, "Closed")``.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from devstack.billing.base import (
    BillingSimulator,
    Clock,
    Principal,
    Request,
    Response,
    TokenGrant,
    iso_timestamp,
    parse_iso_timestamp,
    url_with,
)
from devstack.demo import DEMO_PEOPLE, email_of
from devstack.demo_book import ACTIONSTEP_PARTICIPANT_IDS, ACTIVITY_TYPES, CLIENTS, CONTACTS, MATTERS

MEDIA_TYPE = "application/vnd.api+json"
REST_PREFIX = "/api/rest"
ORG_KEY = "halemercer"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
SEEDED_AT = "2026-01-02T09:00:00+00:00"
FIRST_TIME_ENTRY_ID = 70_001
DIVISION_ID = "1"
ACTION_TYPE_ID = "1"
# The demo activity types as time-entry quick codes (activity code -> quick code id).
QUICK_CODE_IDS: dict[str, int] = {activity.code: 201 + index for index, activity in enumerate(ACTIVITY_TYPES)}
_STATUS_WORDS = {"open": "Active", "pending": "Inactive", "closed": "Closed"}
_DEFAULT_RATES = {"attorney": Decimal("350.00"), "other": Decimal("150.00")}
_OPERATORS = ("eq", "nteq", "in", "gt", "gteq", "lt", "lteq", "like", "ilike")
_RESERVED = {"page", "pageSize", "fields", "include", "sort"}


class ActionstepApiError(Exception):
    """Becomes Actionstep's ``{"errors": [...]}`` body with ``status``."""

    def __init__(
        self, status: int, title: str, detail: str, *, code: str | None = None, pointer: str | None = None
    ):
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.code = code
        self.pointer = pointer


def actionstep_error(
    status: int, title: str, detail: str, *, code: str | None = None, pointer: str | None = None
) -> Response:
    """Actionstep's error envelope."""
    error: dict[str, Any] = {"status": str(status)}
    if code:
        error["code"] = code
    error["title"] = title
    error["detail"] = detail
    if pointer:
        error["source"] = {"pointer": pointer}
    return Response.json({"errors": [error]}, status=status, content_type=MEDIA_TYPE)


def _validation(detail: str, *, pointer: str, code: str | None = None) -> ActionstepApiError:
    return ActionstepApiError(400, "Validation Error", detail, code=code, pointer=pointer)


@dataclass(frozen=True)
class _Resource:
    """How one REST resource is listed, filtered and linked."""

    name: str
    # Filterable names (attributes or link names) and how their values compare.
    filters: Mapping[str, str]
    # Link name -> the resource it points to.
    links: Mapping[str, str]


_RESOURCES: dict[str, _Resource] = {
    "participants": _Resource(
        "participants",
        {
            "id": "int",
            "displayName": "text",
            "firstName": "text",
            "lastName": "text",
            "companyName": "text",
            "email": "text",
            "isCompany": "text",
            "modifiedTimestamp": "timestamp",
            "createdTimestamp": "timestamp",
        },
        {"division": "divisions"},
    ),
    "actions": _Resource(
        "actions",
        {
            "id": "int",
            "name": "text",
            "reference": "text",
            "status": "text",
            "modifiedTimestamp": "timestamp",
            "createdTimestamp": "timestamp",
            "assignedTo": "int",
            "primaryParticipants": "int",
            "actionType": "int",
            "division": "int",
        },
        {
            "assignedTo": "participants",
            "division": "divisions",
            "actionType": "actiontypes",
            "primaryParticipants": "participants",
        },
    ),
    "timeentries": _Resource(
        "timeentries",
        {
            "id": "int",
            "timestampDate": "date",
            "description": "text",
            "importExternalReference": "text",
            "isBillable": "text",
            "createdTimestamp": "timestamp",
            "action": "int",
            "owner": "int",
            "createdBy": "int",
            "quickCode": "int",
        },
        {
            "action": "actions",
            "owner": "participants",
            "createdBy": "participants",
            "quickCode": "quickcodes",
            "utbmsActivityCode": "utbmscodes",
            "utbmsTaskCode": "utbmscodes",
        },
    ),
    "quickcodes": _Resource(
        "quickcodes",
        {"id": "int", "quickCode": "text", "description": "text", "useForTimeEntry": "text"},
        {},
    ),
    "users": _Resource(
        "users", {"id": "int", "isActive": "text", "participant": "int"}, {"participant": "participants"}
    ),
}


class ActionstepSimulator(BillingSimulator):
    """An Actionstep account over HTTP on loopback. See the module docstring for the protocol."""

    KIND: ClassVar[str] = "actionstep"
    AUTHORIZE_PATH: ClassVar[str] = "/api/oauth/authorize"
    TOKEN_PATH: ClassVar[str] = "/api/oauth/token"
    ROTATE_REFRESH_TOKENS: ClassVar[bool] = True
    SERVICE_TITLE: ClassVar[str] = "Actionstep"

    def __init__(
        self,
        port: int = 0,
        client_id: str = "matterline-devstack",
        client_secret: str = "devstack-secret",
        access_token_seconds: int = 3600,
        refresh_token_days: int = 21,
        rate_limit: int = 100,
        rate_window_seconds: float = 60.0,
        *,
        host: str = "127.0.0.1",
        clock: Clock = time.time,
    ) -> None:
        self._tables: dict[str, dict[int, dict[str, Any]]] = {}
        self._next_time_entry_id = FIRST_TIME_ENTRY_ID
        self._default_rates: dict[int, Decimal] = {}
        # Simulator-only: whose token created each time entry (entry id -> participant id), for tests
        # that check who posted. Never part of an API answer; seen through ``time_entry_tokens()`` and
        # ``/_sim/state``.
        self._token_users: dict[int, int] = {}
        super().__init__(
            port=port,
            client_id=client_id,
            client_secret=client_secret,
            access_token_seconds=access_token_seconds,
            refresh_token_seconds=int(refresh_token_days) * 24 * 3600,
            rate_limit=rate_limit,
            rate_window_seconds=rate_window_seconds,
            host=host,
            clock=clock,
        )

    @property
    def api_endpoint(self) -> str:
        """The account's API base as the token response names it: ``{base_url}/api/``."""
        return f"{self.base_url}/api/"

    # -- Python control API -----------------------------------------------------------------------

    def time_entries(self) -> list[dict[str, Any]]:
        """The time entries created through the API, as stored, oldest first."""
        with self._lock:
            entries = self._tables["timeentries"]
            return [copy.deepcopy(entries[key]) for key in sorted(entries)]

    def time_entry_tokens(self) -> dict[int, int]:
        """Simulator-only: which participant's token created each time entry (entry id -> participant)."""
        with self._lock:
            return dict(self._token_users)

    def set_matter_status(self, action_id: int, status: str) -> None:
        """Set an action's status (Active, Inactive or Closed) and bump its ``modifiedTimestamp``."""
        if status not in ("Active", "Inactive", "Closed"):
            raise ValueError(f"unknown action status {status!r}")
        with self._lock:
            action = self._tables["actions"][int(action_id)]
            now = iso_timestamp(self._clock())
            action.update(status=status, statusTimestamp=now, modifiedTimestamp=now)

    # -- seeding and state -------------------------------------------------------------------------

    def _seed(self) -> None:
        people = {person.email: person for person in DEMO_PEOPLE}
        participants: dict[int, dict[str, Any]] = {}
        users: dict[int, dict[str, Any]] = {}
        self._default_rates = {}
        for mailbox, participant_id in ACTIONSTEP_PARTICIPANT_IDS.items():
            person = people[mailbox]
            first, _, last = person.name.partition(" ")
            participants[participant_id] = _participant(
                participant_id, person.name, first, last, email_of(person)
            )
            users[participant_id] = {
                "id": participant_id,
                "isActive": "T",
                "links": {"participant": str(participant_id)},
            }
            attorney = any(role.value == "attorney" for role in person.roles)
            self._default_rates[participant_id] = _DEFAULT_RATES["attorney" if attorney else "other"]
        for client in CLIENTS:
            same_person = next(
                (c for c in CONTACTS if c.client_key == client.key and c.name == client.name), None
            )
            if same_person:
                first, _, last = client.name.partition(" ")
                participants[client.actionstep_id] = _participant(
                    client.actionstep_id, client.name, first, last, same_person.email
                )
            else:
                participants[client.actionstep_id] = _participant(
                    client.actionstep_id, client.name, None, None, None, company=True
                )
        for contact in CONTACTS:
            first, _, last = contact.name.partition(" ")
            participants[contact.actionstep_id] = _participant(
                contact.actionstep_id, contact.name, first, last, contact.email
            )
        by_key = {client.key: client for client in CLIENTS}
        actions: dict[int, dict[str, Any]] = {}
        for matter in MATTERS:
            owner = ACTIONSTEP_PARTICIPANT_IDS.get(matter.responsible)
            actions[matter.actionstep_id] = {
                "id": matter.actionstep_id,
                "name": matter.name,
                "reference": matter.number,
                "priority": 0,
                "status": _STATUS_WORDS[matter.status],
                "statusTimestamp": SEEDED_AT,
                "isBillableOverride": None,
                "createdTimestamp": SEEDED_AT,
                "modifiedTimestamp": SEEDED_AT,
                "isDeleted": "F",
                "deletedBy": None,
                "deletedTimestamp": None,
                "isFavorite": "F",
                "overrideBillingStatus": None,
                "lastAccessTimestamp": None,
                "importExternalReference": None,
                "links": {
                    "assignedTo": str(owner) if owner else None,
                    "division": DIVISION_ID,
                    "actionType": ACTION_TYPE_ID,
                    "primaryParticipants": str(by_key[matter.client_key].actionstep_id),
                },
            }
        quickcodes: dict[int, dict[str, Any]] = {}
        for activity in ACTIVITY_TYPES:
            code_id = QUICK_CODE_IDS[activity.code]
            quickcodes[code_id] = {
                "id": code_id,
                "quickCode": activity.code,
                "description": activity.name,
                "useForRetainerTransfers": "F",
                "useForReceipts": "F",
                "useForTasks": "F",
                "useForTimeEntry": "T",
                "useForWithdrawals": "F",
                "links": {},
            }
        self._tables = {
            "participants": participants,
            "users": users,
            "actions": actions,
            "quickcodes": quickcodes,
            "timeentries": {},
        }
        self._next_time_entry_id = FIRST_TIME_ENTRY_ID
        self._token_users = {}

    def _account_state(self) -> dict[str, Any]:
        return {
            **{
                name: [copy.deepcopy(table[key]) for key in sorted(table)]
                for name, table in self._tables.items()
            },
            "time_entry_tokens": {str(key): value for key, value in sorted(self._token_users.items())},
        }

    def _account_to_dict(self) -> dict[str, Any]:
        return {
            "tables": {name: list(table.values()) for name, table in self._tables.items()},
            "next_time_entry_id": self._next_time_entry_id,
            "time_entry_tokens": {str(key): value for key, value in self._token_users.items()},
        }

    def _account_from_dict(self, data: Mapping[str, Any]) -> None:
        self._tables = {
            name: {int(record["id"]): copy.deepcopy(dict(record)) for record in records}
            for name, records in data["tables"].items()
        }
        self._next_time_entry_id = int(data.get("next_time_entry_id", FIRST_TIME_ENTRY_ID))
        self._token_users = {int(k): int(v) for k, v in (data.get("time_entry_tokens") or {}).items()}

    def _users_for_consent(self) -> list[tuple[int, str]]:
        participants = self._tables["participants"]
        return [
            (user_id, f"{participants[user_id]['displayName']} <{participants[user_id]['email']}>")
            for user_id, user in self._tables["users"].items()
            if user["isActive"] == "T"
        ]

    def _default_user_id(self) -> int:
        return ACTIONSTEP_PARTICIPANT_IDS["fiona.admin"]

    def _is_user(self, user_id: int) -> bool:
        user = self._tables["users"].get(user_id)
        return bool(user and user["isActive"] == "T")

    # -- service specifics ------------------------------------------------------------------------

    def _token_body(self, grant: TokenGrant, *, include_refresh_token: bool) -> dict[str, Any]:
        body = super()._token_body(grant, include_refresh_token=False)
        body["api_endpoint"] = self.api_endpoint
        body["orgkey"] = ORG_KEY
        if include_refresh_token and grant.refresh_token is not None:
            body["refresh_token"] = grant.refresh_token
        return body

    def _unauthorized(self, request: Request) -> Response:
        response = actionstep_error(
            401, "Unauthorized", "The access token is missing, invalid or has expired."
        )
        response.headers.append(("WWW-Authenticate", 'Bearer realm="Actionstep", error="invalid_token"'))
        return response

    def _throttled(self, retry_after: float) -> Response:
        return actionstep_error(
            429, "Too Many Requests", "The API rate limit has been exceeded; retry later."
        )

    def _create_failed(self, status: int) -> Response:
        title = "Service Unavailable" if status == 503 else "Internal Server Error"
        return actionstep_error(status, title, "The request could not be processed. Please try again later.")

    def _not_found(self, request: Request) -> Response:
        return actionstep_error(404, "Not Found", f"No resource is served at {request.path}.")

    def _not_allowed(self, request: Request) -> Response:
        return actionstep_error(
            405, "Method Not Allowed", f"{request.method} is not supported on {request.path}."
        )

    def negotiate(self, request: Request, *, has_body: bool) -> Response | None:
        accepted = [
            part.split(";", 1)[0].strip().lower() for part in (request.header("Accept") or "").split(",")
        ]
        if MEDIA_TYPE not in accepted:
            return actionstep_error(406, "Not Acceptable", f"Requests must accept {MEDIA_TYPE}.")
        if has_body and request.media_type() != MEDIA_TYPE:
            return actionstep_error(415, "Unsupported Media Type", f"Request bodies must be {MEDIA_TYPE}.")
        return None

    # -- routes -----------------------------------------------------------------------------------

    def _register_api_routes(self) -> None:
        route = self.api_route
        route("GET", rf"^{REST_PREFIX}/users/current/?$", self._api(self._current_user))
        for name in _RESOURCES:
            route("GET", rf"^{REST_PREFIX}/{name}/?$", self._api(self._lister(name)))
            route("GET", rf"^{REST_PREFIX}/{name}/(?P<ids>\d+(?:,\d+)*)/?$", self._api(self._shower(name)))
        route(
            "POST",
            rf"^{REST_PREFIX}/timeentries/?$",
            self._api(self._create_time_entry),
            creates_time_entry=True,
        )

    def _api(
        self, handler: Callable[[Request, Principal], Response]
    ) -> Callable[[Request, Principal], Response]:
        def run(request: Request, principal: Principal) -> Response:
            try:
                return handler(request, principal)
            except ActionstepApiError as error:
                return actionstep_error(
                    error.status, error.title, error.detail, code=error.code, pointer=error.pointer
                )

        return run

    def _current_user(self, request: Request, principal: Principal) -> Response:
        resource = _RESOURCES["users"]
        record = self._tables["users"][principal.user_id]
        return self._respond(resource, [record], request, total=1, page=1, page_size=1)

    def _shower(self, name: str) -> Callable[[Request, Principal], Response]:
        resource = _RESOURCES[name]

        def show(request: Request, principal: Principal) -> Response:
            ids = [int(part) for part in request.params["ids"].split(",")]
            table = self._tables[name]
            missing = [record_id for record_id in ids if record_id not in table]
            if missing:
                raise ActionstepApiError(404, "Not Found", f"No {name} record with id {missing[0]}.")
            records = [table[record_id] for record_id in ids]
            return self._respond(
                resource, records, request, total=len(records), page=1, page_size=len(records)
            )

        return show

    def _lister(self, name: str) -> Callable[[Request, Principal], Response]:
        resource = _RESOURCES[name]

        def index(request: Request, principal: Principal) -> Response:
            page = _positive_int(request, "page", 1)
            page_size = _positive_int(request, "pageSize", DEFAULT_PAGE_SIZE)
            if page_size > MAX_PAGE_SIZE:
                raise ActionstepApiError(400, "Bad Request", f"pageSize cannot be more than {MAX_PAGE_SIZE}.")
            conditions = _filters(resource, request)
            records = [r for r in self._tables[name].values() if all(c(r) for c in conditions)]
            records = _sorted(resource, records, request.arg("sort"))
            start = (page - 1) * page_size
            chunk = records[start : start + page_size]
            if not chunk:
                # Actionstep answers 204 when nothing matches the request.
                return Response(204, b"", [])
            return self._respond(resource, chunk, request, total=len(records), page=page, page_size=page_size)

        return index

    # -- envelopes ---------------------------------------------------------------------------------

    def _respond(
        self,
        resource: _Resource,
        records: list[dict[str, Any]],
        request: Request,
        *,
        total: int,
        page: int,
        page_size: int,
        status: int = 200,
        headers: list[tuple[str, str]] | None = None,
    ) -> Response:
        sparse = _sparse_fields(request)
        include = _includes(resource, request)
        data = [_project(resource, record, _primary_sparse(sparse, resource)) for record in records]
        page_count = max(1, -(-total // page_size))
        url_base = f"{self.base_url}{request.path}"
        paging = {
            "recordCount": total,
            "pageCount": page_count,
            "page": page,
            "pageSize": page_size,
            "prevPage": url_with(url_base, "", request.query, page=str(page - 1)) if page > 1 else None,
            "nextPage": url_with(url_base, "", request.query, page=str(page + 1))
            if page < page_count
            else None,
        }
        body: dict[str, Any] = {
            "links": self._link_templates(resource, include),
            # One record comes back as an object, several as a list: Actionstep's own habit.
            resource.name: data[0] if len(data) == 1 else data,
        }
        if include:
            body["linked"] = self._linked(resource, records, include, sparse)
        body["meta"] = {"paging": {resource.name: paging}}
        return Response.json(body, status=status, headers=headers or [], content_type=MEDIA_TYPE)

    def _link_templates(self, resource: _Resource, include: list[str]) -> dict[str, Any]:
        templates: dict[str, Any] = {}
        for link, target in resource.links.items():
            key = f"{resource.name}.{link}"
            templates[key] = {"href": f"{self.api_endpoint}rest/{target}/{{{key}}}", "type": target}
        for link in include:
            linked = _RESOURCES[resource.links[link]]
            for inner, inner_target in linked.links.items():
                key = f"{linked.name}.{inner}"
                templates[key] = {
                    "href": f"{self.api_endpoint}rest/{inner_target}/{{{key}}}",
                    "type": inner_target,
                }
        return templates

    def _linked(
        self,
        resource: _Resource,
        records: list[dict[str, Any]],
        include: list[str],
        sparse: Mapping[str, list[str]],
    ) -> dict[str, list[dict[str, Any]]]:
        linked: dict[str, dict[int, dict[str, Any]]] = {}
        for link in include:
            target = _RESOURCES[resource.links[link]]
            table = self._tables[target.name]
            for record in records:
                raw = (record.get("links") or {}).get(link)
                if raw is None:
                    continue
                linked_id = int(raw)
                if linked_id in table:
                    projected = _project(target, table[linked_id], sparse.get(target.name))
                    linked.setdefault(target.name, {})[linked_id] = projected
        return {name: [by_id[key] for key in sorted(by_id)] for name, by_id in linked.items()}

    # -- creating time entries --------------------------------------------------------------------

    def _create_time_entry(self, request: Request, principal: Principal) -> Response:
        try:
            body = request.json()
        except ValueError as error:
            raise ActionstepApiError(400, "Bad Request", "The request body is not valid JSON.") from error
        entry = body.get("timeentries") if isinstance(body, dict) else None
        if isinstance(entry, list):
            raise ActionstepApiError(
                400, "Bad Request", "The simulator creates one time entry per request: send an object."
            )
        if not isinstance(entry, dict):
            raise ActionstepApiError(400, "Bad Request", 'The body must be {"timeentries": {...}}.')
        links = entry.get("links") or {}
        if not isinstance(links, dict):
            raise _validation("links must be an object.", pointer="/timeentries/links")

        day = entry.get("timestampDate")
        if not isinstance(day, str) or not _is_iso_date(day):
            raise _validation(
                "timestampDate is required as YYYY-MM-DD.", pointer="/timeentries/timestampDate"
            )
        actual = _hours(entry.get("actualHours"), "actualHours")
        if actual < 0:
            raise _validation(
                "The actualHours value cannot be less than zero.",
                pointer="/timeentries/actualHours",
                code="TR02",
            )
        raw_billable = entry.get("billableHours")
        billable_hours = actual if raw_billable is None else _hours(raw_billable, "billableHours")
        if billable_hours < 0:
            raise _validation(
                "The billableHours value cannot be less than zero.",
                pointer="/timeentries/billableHours",
                code="TR01",
            )
        is_billable = entry.get("isBillable", "T")
        if is_billable not in ("T", "F"):
            raise _validation('isBillable must be "T" or "F".', pointer="/timeentries/isBillable")
        description = entry.get("description")
        if description is not None and not isinstance(description, str):
            raise _validation("description must be text.", pointer="/timeentries/description")
        reference = entry.get("importExternalReference")
        if reference is not None and not isinstance(reference, str):
            raise _validation(
                "importExternalReference must be text.", pointer="/timeentries/importExternalReference"
            )

        action_id = _link_id(links, "action", required=True)
        assert action_id is not None
        action = self._tables["actions"].get(action_id)
        if action is None:
            raise _validation(f"The action {action_id} does not exist.", pointer="/timeentries/links/action")
        if action["status"] == "Closed":
            raise _validation(
                f"Time cannot be recorded against the closed matter {action['reference']} "
                f"(action {action_id}).",
                pointer="/timeentries/links/action",
            )
        owner_id = _link_id(links, "owner", required=False)
        if owner_id is None:
            owner_id = principal.user_id
        if not self._is_user(owner_id):
            raise _validation(
                "The owner must be a system user.", pointer="/timeentries/links/owner", code="TR03"
            )
        quick_code_id = _link_id(links, "quickCode", required=False)
        quick_code = None
        if quick_code_id is not None:
            quick_code = self._tables["quickcodes"].get(quick_code_id)
            if quick_code is None:
                raise _validation(
                    f"The quick code {quick_code_id} does not exist.", pointer="/timeentries/links/quickCode"
                )

        rate = self._default_rates.get(owner_id, _DEFAULT_RATES["other"])
        amount = (billable_hours * rate).quantize(Decimal("0.01")) if is_billable == "T" else Decimal("0.00")
        now = iso_timestamp(self._clock())
        entry_id = self._next_time_entry_id
        self._next_time_entry_id += 1
        record = {
            "id": entry_id,
            "timestampDate": day,
            "description": description
            if description is not None
            else (quick_code or {}).get("description", ""),
            "actualHours": _hours_text(actual),
            "billableHours": _hours_text(billable_hours),
            "createdTimestamp": now,
            "timerStatus": "Stopped",
            "billingBehavior": "Bill" if is_billable == "T" else "No charge",
            "rateUnitPrice": f"{rate:.2f}",
            "rateSource": "Timekeeper",
            "billableAmountType": "Calculated",
            "billableAmount": f"{amount:.2f}",
            "isBillable": is_billable,
            "importExternalReference": reference,
            "links": {
                "action": str(action_id),
                "owner": str(owner_id),
                "createdBy": str(principal.user_id),
                "quickCode": str(quick_code_id) if quick_code_id is not None else None,
                "utbmsActivityCode": _text_link(links, "utbmsActivityCode"),
                "utbmsTaskCode": _text_link(links, "utbmsTaskCode"),
            },
        }
        self._tables["timeentries"][entry_id] = record
        self._token_users[entry_id] = principal.user_id
        location = [("Location", f"{self.api_endpoint}rest/timeentries/{entry_id}")]
        return self._respond(
            _RESOURCES["timeentries"],
            [record],
            request,
            total=1,
            page=1,
            page_size=1,
            status=201,
            headers=location,
        )


# --- helpers -----------------------------------------------------------------------------------------


def _participant(
    participant_id: int,
    display_name: str,
    first: str | None,
    last: str | None,
    email: str | None,
    *,
    company: bool = False,
) -> dict[str, Any]:
    return {
        "id": participant_id,
        "displayName": display_name,
        "isCompany": "T" if company else "F",
        "companyName": display_name if company else None,
        "firstName": first,
        "lastName": last,
        "email": email,
        "createdTimestamp": SEEDED_AT,
        "modifiedTimestamp": SEEDED_AT,
        "importExternalReference": None,
        "links": {"division": DIVISION_ID},
    }


def _value(record: Mapping[str, Any], name: str) -> Any:
    if name in record:
        return record[name]
    return (record.get("links") or {}).get(name)


def _comparable(kind: str, value: Any) -> Any:
    """A record's or a filter's value in a form that compares the way Actionstep compares the field."""
    if value is None:
        return None
    if kind == "int":
        return int(value)
    if kind == "timestamp":
        return parse_iso_timestamp(str(value))
    if kind == "date":
        return str(value)[:10]
    return str(value).lower()


def _filters(resource: _Resource, request: Request) -> list[Callable[[Mapping[str, Any]], bool]]:
    conditions: list[Callable[[Mapping[str, Any]], bool]] = []
    for key, values in request.query.items():
        if key in _RESERVED or key.startswith("fields["):
            continue
        field_name, _, operator = key.partition("_")
        if operator and operator not in _OPERATORS:
            raise ActionstepApiError(400, "Bad Request", f"Unknown filter operator in {key!r}.")
        kind = resource.filters.get(field_name)
        if kind is None:
            raise ActionstepApiError(
                400, "Bad Request", f"{resource.name} cannot be filtered by {field_name!r}."
            )
        for raw in values:
            conditions.append(_condition(field_name, kind, operator or "eq", raw))
    return conditions


def _condition(field_name: str, kind: str, operator: str, raw: str) -> Callable[[Mapping[str, Any]], bool]:
    try:
        if operator in ("like", "ilike"):
            pattern = re.escape(raw).replace(r"\*", ".*").replace("%", ".*")
            regex = re.compile(f"^{pattern}$", re.IGNORECASE if operator == "ilike" else 0)
            return lambda record: regex.match(str(_value(record, field_name) or "")) is not None
        # eq and in take a comma list (id_in=1,2,3 is how Actionstep's own clients ask for several).
        listed = operator in ("eq", "nteq", "in")
        wanted = [_comparable(kind, part) for part in raw.split(",")] if listed else []
        bound = _comparable(kind, raw) if not listed else None
    except (TypeError, ValueError) as error:
        raise ActionstepApiError(
            400, "Bad Request", f"{raw!r} is not a valid value for {field_name}."
        ) from error
    if bound is None and not listed:
        raise ActionstepApiError(400, "Bad Request", f"{raw!r} is not a valid value for {field_name}.")

    def check(record: Mapping[str, Any]) -> bool:
        value = _comparable(kind, _value(record, field_name))
        if operator in ("eq", "in"):
            return value in wanted
        if operator == "nteq":
            return value not in wanted
        if value is None:
            return False
        if operator == "gt":
            return bool(value > bound)
        if operator == "gteq":
            return bool(value >= bound)
        if operator == "lt":
            return bool(value < bound)
        return bool(value <= bound)

    return check


def _sorted(resource: _Resource, records: list[dict[str, Any]], sort: str | None) -> list[dict[str, Any]]:
    ordered = sorted(records, key=lambda record: int(record["id"]))
    if not sort:
        return ordered
    for part in reversed([p.strip() for p in sort.split(",") if p.strip()]):
        descending = part.startswith("-")
        name = part.lstrip("-")
        kind = resource.filters.get(name)
        if kind is None:
            raise ActionstepApiError(400, "Bad Request", f"{resource.name} cannot be sorted by {name!r}.")
        present = [r for r in ordered if _value(r, name) is not None]
        absent = [r for r in ordered if _value(r, name) is None]
        present.sort(key=_sort_key(name, kind), reverse=descending)
        ordered = present + absent
    return ordered


def _sort_key(name: str, kind: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda record: _comparable(kind, _value(record, name))


def _sparse_fields(request: Request) -> dict[str, list[str]]:
    sparse: dict[str, list[str]] = {}
    for key, values in request.query.items():
        if key == "fields":
            sparse["__primary__"] = [f.strip() for f in values[0].split(",") if f.strip()]
        elif key.startswith("fields[") and key.endswith("]"):
            sparse[key[7:-1]] = [f.strip() for f in values[0].split(",") if f.strip()]
    return sparse


def _includes(resource: _Resource, request: Request) -> list[str]:
    text = request.arg("include")
    if not text:
        return []
    names = [name.strip() for name in text.split(",") if name.strip()]
    for name in names:
        target = resource.links.get(name)
        if target is None or target not in _RESOURCES:
            raise ActionstepApiError(400, "Bad Request", f"{resource.name} cannot include {name!r}.")
    return names


def _project(resource: _Resource, record: Mapping[str, Any], fields: list[str] | None) -> dict[str, Any]:
    if fields is None:
        return copy.deepcopy(dict(record))
    links = record.get("links") or {}
    unknown = [f for f in fields if f not in record and f not in links and f not in resource.links]
    if unknown:
        raise ActionstepApiError(400, "Bad Request", f"{resource.name} has no field {unknown[0]!r}.")
    projected: dict[str, Any] = {"id": record["id"]}
    for name in fields:
        if name in record and name != "links":
            projected[name] = copy.deepcopy(record[name])
    kept_links = {name: links.get(name) for name in fields if name in links or name in resource.links}
    if kept_links:
        projected["links"] = kept_links
    return projected


def _primary_sparse(sparse: Mapping[str, list[str]], resource: _Resource) -> list[str] | None:
    return sparse.get(resource.name) or sparse.get("__primary__")


def _positive_int(request: Request, name: str, default: int) -> int:
    value = request.arg(name)
    if value is None or value == "":
        return default
    if not value.isdigit() or int(value) < 1:
        raise ActionstepApiError(400, "Bad Request", f"{name} must be a whole number of at least 1.")
    return int(value)


def _is_iso_date(text: str) -> bool:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _hours(value: Any, name: str) -> Decimal:
    if value is None:
        raise _validation(f"{name} is required.", pointer=f"/timeentries/{name}")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _validation(f"{name} must be a decimal number.", pointer=f"/timeentries/{name}")
    try:
        hours = Decimal(str(value).strip())
    except InvalidOperation as error:
        raise _validation(f"{name} must be a decimal number.", pointer=f"/timeentries/{name}") from error
    if not hours.is_finite():
        raise _validation(f"{name} must be a decimal number.", pointer=f"/timeentries/{name}")
    return hours


def _hours_text(hours: Decimal) -> str:
    """``1.5`` -> ``"1.50"``, ``0.116666`` -> ``"0.1167"``: two to four decimal places."""
    text = f"{hours.quantize(Decimal('0.0001')):f}".rstrip("0")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


def _link_id(links: Mapping[str, Any], name: str, *, required: bool) -> int | None:
    raw = links.get(name)
    if raw is None or raw == "":
        if required:
            raise _validation(f"links.{name} is required.", pointer=f"/timeentries/links/{name}")
        return None
    if isinstance(raw, bool):
        raise _validation(f"links.{name} must be an id.", pointer=f"/timeentries/links/{name}")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and raw.strip().isdigit():
        return int(raw.strip())
    raise _validation(f"links.{name} must be an id.", pointer=f"/timeentries/links/{name}")


def _text_link(links: Mapping[str, Any], name: str) -> str | None:
    value = links.get(name)
    return str(value) if value not in (None, "") else None
