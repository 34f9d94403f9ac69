"""Actionstep: system users, matters (actions), participants and quick codes in; time entries out.

Facts this client relies on (Actionstep's public API documentation):
- the token response names the account's own API base (``api_endpoint``, e.g.
  ``https://ap-southeast-2.actionstep.com/api/``); resources live under ``rest/`` below it;
- requests and answers are ``application/vnd.api+json``; an answer is keyed by the resource name
  (``{"links": ..., "timeentries": [...], "linked": {...}, "meta": {"paging": {"timeentries": ...}}}``),
  a collection of one may come back as a bare object, and a query that matches nothing answers 204;
- numbers often arrive as strings and booleans as "T"/"F";
- paging is ``page``/``pageSize`` (at most 200) with ``meta.paging.<resource>`` giving ``pageCount``
  and ``nextPage``; filters are ``field=value`` and ``field_<op>=value`` (``status_in``,
  ``modifiedTimestamp_gteq`` with a UTC time without offset);
- a time entry (``timeentries``, Enhanced Billing Mode) needs ``timestampDate``, ``actualHours`` and the
  links ``owner`` and ``createdBy`` (participant ids); ``importExternalReference`` holds our reference,
  which is how a retry finds an entry an earlier attempt created: POSTs are not idempotent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import requests

from chalicelib.adapters.billing.http import BillingHttp, OAuthCodeFlow, RetryPolicy
from chalicelib.domain.billing import (
    BillingError,
    OAuthTokens,
    RemoteActivityType,
    RemoteContact,
    RemoteMatter,
    RemoteUser,
    TimePosting,
)
from chalicelib.ports import TokenSource

logger = logging.getLogger("matterline.billing.actionstep")

MAX_PAGE_SIZE = 200
MEDIA_TYPE = "application/vnd.api+json"
# Actionstep's words for a matter's state, and ours.
ACTION_STATUSES = {"active": "open", "inactive": "pending", "closed": "closed"}
OPEN_ACTION_STATUSES = "Active,Inactive"
DEFAULT_SCOPES = ("actions", "participants", "timeentries", "users", "quickcodes")
# Hours travel as decimal text with two places (Actionstep's own precision, 36 seconds).
HOURS_QUANTUM = Decimal("0.01")


class ActionstepTarget:
    """A ``BillingTarget`` for one Actionstep account; its API base comes from the tokens."""

    def __init__(
        self,
        tokens: TokenSource,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        page_size: int = MAX_PAGE_SIZE,
        policy: RetryPolicy | None = None,
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"Actionstep pages hold 1 to {MAX_PAGE_SIZE} records, not {page_size}")
        self._page_size = page_size
        self.http = BillingHttp(
            "Actionstep",
            tokens,
            rest_base,
            session=session,
            headers={"Accept": MEDIA_TYPE, "Content-Type": MEDIA_TYPE},
            sleep=sleep,
            monotonic=monotonic,
            wall_clock=wall_clock,
            policy=policy,
        )

    # ------------------------------------------------------------------ reads

    def users(self) -> Iterator[RemoteUser]:
        """System users. Their external id is their participant id: that is what a time entry's
        ``owner`` link names."""
        for records, linked in self._pages("users", {"include": "participant"}):
            people = _linked(linked, "participants")
            for record in records:
                participant_id = _first_link(record, "participant")
                person = people.get(participant_id or "", {})
                email = str(record.get("emailAddress") or person.get("email") or "")
                yield RemoteUser(
                    external_id=participant_id or str(record["id"]),
                    email=email,
                    name=_person_name(person) or email or str(record["id"]),
                    enabled=flag(record.get("isActive"), default=True),
                )

    def matters(self, include_closed: bool, updated_since: datetime | None = None) -> Iterator[RemoteMatter]:
        """Actions: Active and Inactive ones, and Closed when asked; only those changed since, if given.
        The client is the action's first primary participant."""
        params: dict[str, str] = {"include": "primaryParticipants"}
        if not include_closed:
            params["status_in"] = OPEN_ACTION_STATUSES
        if updated_since is not None:
            params["modifiedTimestamp_gteq"] = _filter_time(updated_since)
        for records, linked in self._pages("actions", params):
            people = _linked(linked, "participants")
            for record in records:
                status = action_status(record.get("status"))
                if status == "closed" and not include_closed:
                    continue
                client_id = _first_link(record, "primaryParticipants")
                client = people.get(client_id or "", {})
                yield RemoteMatter(
                    external_id=str(record["id"]),
                    number=str(record.get("reference") or record["id"]),
                    name=str(record.get("name") or ""),
                    status=status,
                    client_external_id=client_id,
                    client_name=_person_name(client),
                    updated_at=_parse_time(record.get("modifiedTimestamp")),
                )

    def contacts(self, updated_since: datetime | None = None) -> Iterator[RemoteContact]:
        """Participants (people and companies). Actionstep keeps no client flag on a participant:
        who is a client shows in ``RemoteMatter.client_external_id``, so ``is_client`` stays False."""
        params = {"modifiedTimestamp_gteq": _filter_time(updated_since)} if updated_since is not None else {}
        for records, _linked_records in self._pages("participants", params):
            for record in records:
                yield RemoteContact(
                    external_id=str(record["id"]),
                    name=_person_name(record) or "",
                    email=_optional_text(record.get("email")),
                    is_client=False,
                    updated_at=_parse_time(record.get("modifiedTimestamp")),
                )

    def activity_types(self) -> Iterator[RemoteActivityType]:
        """Quick codes usable on time entries. Their rate is a link to a rate table, not an amount."""
        for records, _linked_records in self._pages("quickcodes", {}):
            for record in records:
                if not flag(record.get("useForTimeEntry"), default=True):
                    continue
                yield RemoteActivityType(
                    external_id=str(record["id"]),
                    name=str(record.get("quickCode") or record.get("description") or record["id"]),
                )

    # ------------------------------------------------------------------ posting

    def find_posted(self, posting: TimePosting) -> str | None:
        """The id of the time entry whose ``importExternalReference`` is ``posting.reference``."""
        found = [
            str(record["id"])
            for records, _linked_records in self._pages(
                "timeentries", {"importExternalReference": posting.reference}
            )
            for record in records
            if str(record.get("importExternalReference") or "") == posting.reference
        ]
        if len(found) > 1:
            logger.warning("Actionstep holds %d entries for %s: %s", len(found), posting.reference, found)
        return found[0] if found else None

    def post_time(self, posting: TimePosting) -> str:
        """Create the time entry; returns Actionstep's id. Not idempotent: see ``find_posted``."""
        worked = posting.worked_seconds if posting.worked_seconds is not None else posting.seconds
        links: dict[str, str] = {
            "action": posting.matter_external_id,
            "owner": posting.user_external_id,
            # The timekeeper made the entry; the API user who connected the account only carried it.
            "createdBy": posting.user_external_id,
        }
        if posting.activity_external_id:
            links["quickCode"] = posting.activity_external_id
        entry = {
            "timestampDate": posting.day.isoformat(),
            "description": posting.note,
            "actualHours": hours(worked),
            "billableHours": hours(posting.seconds),
            "isBillable": "F" if posting.non_billable else "T",
            "importExternalReference": posting.reference,
            "links": links,
        }
        answer = self.http.post_json("timeentries", {"timeentries": entry})
        created = _resource(answer, "timeentries") if isinstance(answer, dict) else []
        if not created or created[0].get("id") in (None, ""):
            raise BillingError(
                "Actionstep accepted the time entry but did not say its id; look for it before posting again",
                retryable=True,
            )
        return str(created[0]["id"])

    # ------------------------------------------------------------------ paging

    def _pages(
        self, resource: str, params: Mapping[str, str]
    ) -> Iterator[tuple[list[dict[str, Any]], dict[str, Any]]]:
        """Each page of a collection as (records, linked), page by page until the last."""
        page = 1
        while True:
            answer = self.http.get_json(resource, {**params, "pageSize": self._page_size, "page": page})
            if not isinstance(answer, dict):
                return  # 204: nothing matches
            records = [record for record in _resource(answer, resource) if record.get("id") not in (None, "")]
            linked = answer.get("linked")
            linked = linked if isinstance(linked, dict) else {}
            yield records, linked
            paging = _key(_key(answer.get("meta"), "paging"), resource)
            if not _has_next_page(paging, page, len(records), self._page_size):
                return
            page += 1


class ActionstepOAuth(OAuthCodeFlow):
    """Actionstep's OAuth2 flow. Each refresh brings a new refresh token (the old one stops working)
    and the account's ``api_endpoint``; both are kept in the returned ``OAuthTokens``."""

    system = "Actionstep"

    def __init__(
        self,
        authorize_url: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        scopes: tuple[str, ...] = DEFAULT_SCOPES,
        **options: Any,
    ) -> None:
        super().__init__(authorize_url, token_url, client_id, client_secret, **options)
        self._scopes = scopes

    def _extra_authorize_params(self) -> dict[str, str]:
        return {"scope": " ".join(self._scopes)}

    def _api_base(self, payload: Mapping[str, Any], previous: OAuthTokens | None) -> str | None:
        endpoint = payload.get("api_endpoint")
        if endpoint:
            return str(endpoint)
        return previous.api_base if previous else None


def rest_base(tokens: OAuthTokens) -> str:
    """``<api_endpoint>/rest``, from the tokens of the connected account."""
    if not tokens.api_base:
        raise BillingError("Actionstep did not name this account's API endpoint; connect the account again")
    base = tokens.api_base.rstrip("/")
    return base if base.endswith("/rest") else f"{base}/rest"


def hours(seconds: int) -> str:
    """Seconds as Actionstep hours: decimal text, two places, half up (``hours(5400) == "1.50"``)."""
    return str((Decimal(seconds) / Decimal(3600)).quantize(HOURS_QUANTUM, rounding=ROUND_HALF_UP))


def flag(value: Any, *, default: bool) -> bool:
    """Actionstep's "T"/"F" (and the JSON booleans some resources use) as a bool."""
    if isinstance(value, bool):
        return value
    text = str(value or "").strip().upper()
    if text in ("T", "TRUE", "Y", "YES", "1"):
        return True
    if text in ("F", "FALSE", "N", "NO", "0"):
        return False
    return default


def action_status(value: Any) -> str:
    """Actionstep's Active/Inactive/Closed as open/pending/closed. A word we do not know counts as
    closed: a matter in a state we cannot read is not offered for time until someone looks."""
    status = ACTION_STATUSES.get(str(value or "").strip().lower())
    if status is None:
        logger.warning("Actionstep action status %r is not one we know; treating it as closed", value)
        return "closed"
    return status


def _resource(answer: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    """The records under ``name``: a list, or the bare object Actionstep sends for a single record."""
    value = _key(answer, name)
    if isinstance(value, dict):
        return [value] if value else []
    if isinstance(value, list):
        return [item for item in value if isinstance(item, dict)]
    return []


def _key(mapping: Any, name: str) -> Any:
    # Actionstep's documents are not consistent about case (``QuickCodes`` beside ``quickcodes``).
    if not isinstance(mapping, Mapping):
        return None
    if name in mapping:
        return mapping[name]
    lowered = name.lower()
    for key, value in mapping.items():
        if str(key).lower() == lowered:
            return value
    return None


def _has_next_page(paging: Any, page: int, count: int, page_size: int) -> bool:
    if isinstance(paging, Mapping):
        if "nextPage" in paging:
            return bool(paging["nextPage"])
        page_count = paging.get("pageCount")
        if page_count not in (None, ""):
            try:
                return page < int(page_count)
            except (TypeError, ValueError):
                pass
    return count >= page_size


def _linked(linked: Mapping[str, Any], name: str) -> dict[str, dict[str, Any]]:
    """Side-loaded records of one resource, by id."""
    return {str(record["id"]): record for record in _resource(linked, name) if record.get("id") is not None}


def _first_link(record: Mapping[str, Any], name: str) -> str | None:
    """The first id of a link, which may be a number, a string, "1,2" or a list."""
    links = record.get("links")
    value = links.get(name) if isinstance(links, Mapping) else None
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None or value == "":
        return None
    return str(value).split(",")[0].strip() or None


def _person_name(person: Mapping[str, Any]) -> str | None:
    name = person.get("displayName")
    if name:
        return str(name)
    parts = [str(person[key]) for key in ("firstName", "lastName") if person.get(key)]
    if parts:
        return " ".join(parts)
    return _optional_text(person.get("companyName"))


def _optional_text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _filter_time(moment: datetime) -> str:
    """A UTC time without offset, as Actionstep's timestamp filters expect."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
