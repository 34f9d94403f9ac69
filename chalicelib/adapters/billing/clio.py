"""Clio Manage API v4: users, matters, contacts and activity descriptions in; time entries out.

Facts this client relies on (Clio's public API documentation):
- every answer is an envelope ``{"data": ...}``; lists carry ``meta.paging.next``, a full URL with a
  ``page_token`` cursor, until the last page; ``limit`` is at most 200;
- only ``id`` and ``etag`` come back unless ``fields=`` asks for more (nested resources one level
  deep in braces, e.g. ``client{id,name}``), so every read names exactly the fields it maps;
- a time entry is ``POST /activities.json`` with ``{"data": {"type": "TimeEntry", ...}}``, its
  ``quantity`` in seconds (API 4.0.4 and later); Clio has no idempotency key or external reference for
  activities, so our reference rides at the end of the note (``note_with_reference``) and
  ``find_posted`` looks for it there;
- matters' ``status`` is Open, Pending or Closed and the list filter takes ``open,pending``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import requests

from chalicelib.adapters.billing.http import BillingHttp, OAuthCodeFlow, RetryPolicy
from chalicelib.domain.billing import (
    BillingError,
    RemoteActivityType,
    RemoteContact,
    RemoteMatter,
    RemoteUser,
    TimePosting,
    note_with_reference,
)
from chalicelib.ports import TokenSource

logger = logging.getLogger("matterline.billing.clio")

MAX_PAGE_SIZE = 200
USER_FIELDS = "id,name,email,enabled"
MATTER_FIELDS = "id,display_number,description,status,updated_at,client{id,name}"
CONTACT_FIELDS = "id,name,primary_email_address,is_client,updated_at"
ACTIVITY_DESCRIPTION_FIELDS = "id,name,rate{amount,type},utbms_task{code},utbms_activity{code}"
POSTED_ACTIVITY_FIELDS = "id,note"

# Clio's words for a matter's state, and ours.
MATTER_STATUSES = {"open": "open", "pending": "pending", "closed": "closed"}


class ClioTarget:
    """A ``BillingTarget`` for one Clio account (``api_base`` like ``https://app.clio.com/api/v4``)."""

    def __init__(
        self,
        api_base: str,
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
            raise ValueError(f"Clio pages hold 1 to {MAX_PAGE_SIZE} records, not {page_size}")
        self._page_size = page_size
        self.http = BillingHttp(
            "Clio",
            tokens,
            api_base,
            session=session,
            headers={"Accept": "application/json", "Content-Type": "application/json"},
            sleep=sleep,
            monotonic=monotonic,
            wall_clock=wall_clock,
            policy=policy,
        )

    # ------------------------------------------------------------------ reads

    def users(self) -> Iterator[RemoteUser]:
        """Every Clio user, enabled or not (the roster decides what a disabled user means)."""
        for record in self._records("users.json", USER_FIELDS):
            yield RemoteUser(
                external_id=str(record["id"]),
                email=str(record.get("email") or ""),
                name=str(record.get("name") or record.get("email") or record["id"]),
                enabled=bool(record.get("enabled", True)),
            )

    def matters(self, include_closed: bool, updated_since: datetime | None = None) -> Iterator[RemoteMatter]:
        """Open and pending matters, and closed ones when asked; only those changed since, if given."""
        filters: dict[str, str] = {}
        if not include_closed:
            filters["status"] = "open,pending"
        if updated_since is not None:
            filters["updated_since"] = _timestamp(updated_since)
        for record in self._records("matters.json", MATTER_FIELDS, filters):
            status = matter_status(record.get("status"))
            if status == "closed" and not include_closed:
                continue
            client = _nested(record, "client")
            yield RemoteMatter(
                external_id=str(record["id"]),
                number=str(record.get("display_number") or record["id"]),
                name=str(record.get("description") or ""),
                status=status,
                client_external_id=_optional_text(client.get("id")),
                client_name=_optional_text(client.get("name")),
                updated_at=_parse_time(record.get("updated_at")),
            )

    def contacts(self, updated_since: datetime | None = None) -> Iterator[RemoteContact]:
        """People and companies, with whether Clio marks them as clients."""
        filters = {"updated_since": _timestamp(updated_since)} if updated_since is not None else {}
        for record in self._records("contacts.json", CONTACT_FIELDS, filters):
            yield RemoteContact(
                external_id=str(record["id"]),
                name=str(record.get("name") or ""),
                email=_optional_text(record.get("primary_email_address")),
                is_client=bool(record.get("is_client", False)),
                updated_at=_parse_time(record.get("updated_at")),
            )

    def activity_types(self) -> Iterator[RemoteActivityType]:
        """Activity descriptions with their own rate (a "User" rate means the timekeeper's, so none)."""
        for record in self._records("activity_descriptions.json", ACTIVITY_DESCRIPTION_FIELDS):
            rate = _nested(record, "rate")
            amount = None if rate.get("type") == "User" else _money(rate.get("amount"))
            yield RemoteActivityType(
                external_id=str(record["id"]),
                name=str(record.get("name") or ""),
                rate=amount,
                utbms_task=_code(record.get("utbms_task")),
                utbms_activity=_code(record.get("utbms_activity")),
            )

    # ------------------------------------------------------------------ posting

    def find_posted(self, posting: TimePosting) -> str | None:
        """The id of a time entry whose note carries ``[reference]``, on that matter, user and day.

        First with Clio's note search (``query``), then, if that finds nothing, the same day's entries
        without it: a full-text search that splits our reference into words must not make us post twice.
        This only runs when an earlier attempt may have created the entry, so the second read is cheap.
        """
        marker = f"[{posting.reference}]"
        filters = {
            "type": "TimeEntry",
            "matter_id": posting.matter_external_id,
            "user_id": posting.user_external_id,
            "start_date": posting.day.isoformat(),
            "end_date": posting.day.isoformat(),
        }
        for search in ({**filters, "query": posting.reference}, filters):
            found = [
                str(record["id"])
                for record in self._records("activities.json", POSTED_ACTIVITY_FIELDS, search)
                if marker in str(record.get("note") or "")
            ]
            if found:
                if len(found) > 1:
                    logger.warning("Clio holds %d time entries for %s: %s", len(found), marker, found)
                return found[0]
        return None

    def post_time(self, posting: TimePosting) -> str:
        """Create the time entry; returns Clio's id. Not idempotent: see ``find_posted``."""
        data: dict[str, Any] = {
            "type": "TimeEntry",
            "date": posting.day.isoformat(),
            "quantity": posting.seconds,
            "matter": {"id": _clio_id(posting.matter_external_id)},
            "user": {"id": _clio_id(posting.user_external_id)},
            "note": note_with_reference(posting.note, posting.reference),
            "non_billable": posting.non_billable,
        }
        if posting.activity_external_id:
            data["activity_description"] = {"id": _clio_id(posting.activity_external_id)}
        answer = self.http.post_json("activities.json", {"data": data}, params={"fields": "id"})
        created = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(created, dict) or created.get("id") in (None, ""):
            raise BillingError(
                "Clio accepted the time entry but did not say its id; look for it before posting again",
                retryable=True,
            )
        return str(created["id"])

    # ------------------------------------------------------------------ paging

    def _records(
        self, path: str, fields: str, filters: Mapping[str, str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every record of a list, following ``meta.paging.next`` (which repeats fields and filters)."""
        target: str | None = path
        params: dict[str, Any] | None = {**(filters or {}), "fields": fields, "limit": self._page_size}
        seen: set[str] = set()
        while target is not None:
            answer = self.http.get_json(target, params)
            if not isinstance(answer, dict):
                return
            for record in answer.get("data") or []:
                if isinstance(record, dict) and record.get("id") not in (None, ""):
                    yield record
            paging = (answer.get("meta") or {}).get("paging") or {}
            following = paging.get("next")
            if not following:
                return
            if following in seen:
                raise BillingError(f"Clio's paging of {path} went round in a circle; stopped", retryable=True)
            seen.add(following)
            target, params = str(following), None


class ClioOAuth(OAuthCodeFlow):
    """Clio's OAuth2 authorization-code flow (``/oauth/authorize``, ``/oauth/token`` of the region).

    A refresh answer carries no new refresh token: the one we hold stays valid and is kept.
    """

    system = "Clio"

    def _extra_authorize_params(self) -> dict[str, str]:
        # A declined consent comes back to our redirect (with error=access_denied) instead of
        # leaving the admin on Clio's page.
        return {"redirect_on_decline": "true"}


def matter_status(value: Any) -> str:
    """Clio's Open/Pending/Closed as ours. A word we do not know counts as closed: a matter in a state
    we cannot read is not offered for time until someone looks."""
    status = MATTER_STATUSES.get(str(value or "").strip().lower())
    if status is None:
        logger.warning("Clio matter status %r is not one we know; treating it as closed", value)
        return "closed"
    return status


def _clio_id(value: str) -> int | str:
    # Clio's ids are integers; ours are kept as text.
    return int(value) if value.isdigit() else value


def _nested(record: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = record.get(name)
    return value if isinstance(value, Mapping) else {}


def _code(value: Any) -> str | None:
    return _optional_text(value.get("code")) if isinstance(value, dict) else None


def _money(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return str(Decimal(str(value)).quantize(Decimal("0.01")))
    except InvalidOperation:
        return None


def _optional_text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _timestamp(moment: datetime) -> str:
    """ISO-8601 in UTC, whole seconds (rounding down only widens an ``updated_since`` window)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
