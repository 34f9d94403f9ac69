"""Microsoft Graph: mailbox delta queries (``MailboxSource``) and change-notification subscriptions.

A plain ``requests`` client rather than O365 (python-o365): O365 has no delta queries (its maintainers
say so, O365/python-o365#543), so neither ``messages/delta`` nor ``calendarView/delta`` with their
nextLink/deltaLink rounds, and it hides the HTTP we must control here: ``Prefer: IdType="ImmutableId"``
and ``odata.maxpagesize``, ``Retry-After`` on 429/503 (fractional seconds), ``410 Gone`` for an
expired delta token, ``$batch``, and Graph's limit of 4 concurrent requests per app and mailbox.
The Graph calls are few and stable; owning them costs less than working around a library.

    GraphMailboxSource.mail_changes(mailbox, folder, state)
        GET /v1.0/users/{m}/mailFolders('{folder}')/messages/delta?$select=...   (state None)
        GET {state}                                     (a nextLink or deltaLink we stored)
        ──▶ SyncPage(changes, nextLink, more=True) ... SyncPage(changes, deltaLink, more=False)

    GraphMailboxSource.calendar_changes(mailbox, start, end, state)
        GET /v1.0/users/{m}/calendarView/delta?startDateTime=&endDateTime=
        occurrences arrive stripped (id, seriesMasterId, type, start, end): their series master is
        fetched once per sync ($batch of up to 4, one mailbox's concurrency) and joined in.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.m365 import MailServerError, SubscriptionGone
from chalicelib.domain.mailbox import (
    Folder,
    MailboxChange,
    MailItem,
    MeetingItem,
    RemovedItem,
    SyncPage,
    SyncStateExpired,
)
from chalicelib.domain.timeutil import utc_ms, zone

logger = logging.getLogger(__name__)

# Graph's documented limit: 4 concurrent requests per app per mailbox (Outlook service limits).
MAX_IN_FLIGHT_PER_MAILBOX = 4
# A $batch holds at most 20 requests; sub-requests to one mailbox count against its 4, so we send 4.
MAX_BATCH = MAX_IN_FLIGHT_PER_MAILBOX
# Throttled without Retry-After: back off 1, 2, 4 ... seconds, never more than a minute per wait.
MAX_BACKOFF_SECONDS = 60.0
_RETRY_STATUSES = frozenset({429, 503, 504})

MESSAGE_FIELDS = (
    "id,sentDateTime,receivedDateTime,isRead,isDraft,conversationId,internetMessageId,from,toRecipients,"
    "ccRecipients,subject,bodyPreview,categories,internetMessageHeaders"
)
MASTER_FIELDS = (
    "id,iCalUId,subject,bodyPreview,organizer,attendees,isAllDay,isCancelled,showAs,responseStatus,type"
)


class MailboxSlots:
    """At most ``limit`` requests in flight per mailbox, across every thread of this process.

    A ``$batch`` of n sub-requests to one mailbox takes n slots at once (Graph runs them in parallel),
    so slots are counted rather than held by a plain semaphore.
    """

    def __init__(self, limit: int = MAX_IN_FLIGHT_PER_MAILBOX) -> None:
        self.limit = limit
        self._in_use: dict[str, int] = {}
        self._changed = threading.Condition()

    def acquire(self, mailbox: str, count: int = 1) -> None:
        count = min(count, self.limit)
        key = mailbox.lower()
        with self._changed:
            while self._in_use.get(key, 0) + count > self.limit:
                self._changed.wait()
            self._in_use[key] = self._in_use.get(key, 0) + count

    def release(self, mailbox: str, count: int = 1) -> None:
        count = min(count, self.limit)
        key = mailbox.lower()
        with self._changed:
            left = self._in_use.get(key, 0) - count
            if left > 0:
                self._in_use[key] = left
            else:
                self._in_use.pop(key, None)
            self._changed.notify_all()


# One process-wide registry: every Graph client of this process shares each mailbox's four slots.
MAILBOX_SLOTS = MailboxSlots()


def retry_after_seconds(value: str | None, attempt: int, now: Callable[[], datetime]) -> float:
    """How long Graph asks us to wait: ``Retry-After`` in (possibly fractional) seconds or as an
    HTTP date; without one, exponential back-off."""
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, (parsedate_to_datetime(value) - now()).total_seconds())
            except (TypeError, ValueError):
                pass
    return min(MAX_BACKOFF_SECONDS, float(2**attempt))


class GraphClient:
    """HTTP to Graph for one tenant: bearer token, ``Prefer`` headers, retries, per-mailbox limits.

    ``token()`` returns a valid app-only token; ``forget_token()`` is called once when Graph answers
    401, before one retry. ``sleep`` is injectable so tests wait no real time for ``Retry-After``.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: Callable[[], str],
        session: requests.Session,
        forget_token: Callable[[], None] | None = None,
        page_size: int = 50,
        max_retries: int = 6,
        sleep: Callable[[float], None] = time.sleep,
        slots: MailboxSlots = MAILBOX_SLOTS,
        timeout_seconds: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._forget_token = forget_token
        self._session = session
        self.page_size = page_size
        self._max_retries = max_retries
        self._sleep = sleep
        self._slots = slots
        self._timeout = timeout_seconds
        self.requests_made = 0
        self.throttled = 0
        self._count_lock = threading.Lock()

    def url(self, path: str) -> str:
        """An absolute URL for ``path`` (``/v1.0/...``)."""
        return f"{self.base_url}{path}"

    def own_link(self, link: str) -> str:
        """A nextLink/deltaLink, checked to point at our Graph (a stored state must not send our
        token elsewhere)."""
        ours, theirs = urlsplit(self.base_url), urlsplit(link)
        if (theirs.scheme, theirs.netloc.lower()) != (ours.scheme, ours.netloc.lower()):
            raise MailServerError(f"refusing to follow a link outside {self.base_url}", retryable=False)
        return link

    def request(
        self,
        method: str,
        url: str,
        *,
        mailbox: str,
        body: Mapping[str, Any] | None = None,
        slots: int = 1,
    ) -> requests.Response:
        """Send with retries; returns the final response (any status the caller must interpret)."""
        attempt = 0
        refreshed = False
        while True:
            headers = {
                "Authorization": f"Bearer {self._token()}",
                "Accept": "application/json",
                # One Prefer header, comma-separated preferences (RFC 7240).
                "Prefer": f'IdType="ImmutableId", odata.maxpagesize={self.page_size}',
            }
            self._slots.acquire(mailbox, slots)
            try:
                with self._count_lock:
                    self.requests_made += 1
                response: requests.Response | None = self._send(method, url, headers, body)
                failure: Exception | None = None
            except requests.RequestException as error:
                response, failure = None, error
            finally:
                self._slots.release(mailbox, slots)
            if response is not None and response.status_code == 401 and not refreshed and self._forget_token:
                refreshed = True
                self._forget_token()
                continue
            retryable = response is None or response.status_code in _RETRY_STATUSES
            if not retryable:
                assert response is not None
                return response
            if attempt >= self._max_retries:
                status = response.status_code if response is not None else None
                raise MailServerError(
                    f"Graph still throttles or fails after {attempt + 1} attempts ({status or failure})",
                    retryable=True,
                    status=status,
                )
            wait = retry_after_seconds(
                response.headers.get("Retry-After") if response is not None else None,
                attempt,
                lambda: datetime.now(UTC),
            )
            if response is not None and response.status_code == 429:
                with self._count_lock:
                    self.throttled += 1
            logger.info("graph: waiting %.3f s before retrying %s (attempt %d)", wait, method, attempt + 1)
            self._sleep(wait)
            attempt += 1

    def _send(
        self, method: str, url: str, headers: dict[str, str], body: Mapping[str, Any] | None
    ) -> requests.Response:
        if body is not None:
            headers = {**headers, "Content-Type": "application/json"}
        return self._session.request(
            method,
            url,
            headers=headers,
            data=json.dumps(body).encode() if body is not None else None,
            timeout=self._timeout,
        )

    def get_json(self, url: str, *, mailbox: str) -> dict[str, Any]:
        """GET and parse, raising for anything but 200."""
        response = self.request("GET", url, mailbox=mailbox)
        if response.status_code == 410:
            raise SyncStateExpired(_error_text(response))
        _raise_for(response, mailbox)
        return _json(response)

    def batch(self, requests_: Sequence[Mapping[str, Any]], *, mailbox: str) -> dict[str, dict[str, Any]]:
        """Send sub-requests (``id``, ``method``, ``url`` relative to the version) through ``$batch``;
        sub-requests Graph throttles are sent again after their ``Retry-After``. Returns responses by id."""
        pending = list(requests_)
        answers: dict[str, dict[str, Any]] = {}
        attempt = 0
        while pending:
            response = self.request(
                "POST",
                self.url("/v1.0/$batch"),
                mailbox=mailbox,
                body={"requests": pending},
                slots=len(pending),
            )
            _raise_for(response, mailbox)
            throttled: list[Mapping[str, Any]] = []
            wait = 0.0
            by_id = {str(request["id"]): request for request in pending}
            for answer in _json(response).get("responses", []):
                answer_id = str(answer.get("id"))
                status = int(answer.get("status", 500))
                if status in _RETRY_STATUSES and answer_id in by_id:
                    throttled.append(by_id[answer_id])
                    headers = {str(k).lower(): str(v) for k, v in (answer.get("headers") or {}).items()}
                    wait = max(
                        wait,
                        retry_after_seconds(headers.get("retry-after"), attempt, lambda: datetime.now(UTC)),
                    )
                else:
                    answers[answer_id] = answer
            if throttled and attempt >= self._max_retries:
                raise MailServerError("Graph kept throttling a $batch", retryable=True, status=429)
            if throttled:
                with self._count_lock:
                    self.throttled += 1
                self._sleep(wait)
                attempt += 1
            pending = throttled
        return answers


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError as error:
        raise MailServerError("Graph answered with something that is not JSON", retryable=True) from error
    if not isinstance(data, dict):
        raise MailServerError("Graph answered with JSON that is not an object", retryable=True)
    return data


def _error_text(response: requests.Response) -> str:
    try:
        error = response.json().get("error", {})
        return f"{response.status_code} {error.get('code', '')}: {error.get('message', '')}".strip()
    except (ValueError, AttributeError):
        return f"{response.status_code} {response.reason}"


def _raise_for(response: requests.Response, mailbox: str) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    text = _error_text(response)
    if status in (401, 403):
        raise MailServerError(
            f"Graph refused access to {mailbox} ({text}): the tenant's admin must grant Mail.Read and "
            "Calendars.Read to the app",
            retryable=False,
            status=status,
        )
    if status == 404:
        raise MailServerError(
            f"Graph does not know {mailbox} or its folder ({text})", retryable=False, status=404
        )
    raise MailServerError(f"Graph failed ({text})", retryable=status >= 500, status=status)


# ---------------------------------------------------------------- parsing


def _address(value: Any) -> str | None:
    if isinstance(value, Mapping):
        email = value.get("emailAddress") or {}
        address = email.get("address") if isinstance(email, Mapping) else None
        return str(address).strip().lower() if address else None
    return None


def _addresses(values: Any) -> tuple[str, ...]:
    if not isinstance(values, list):
        return ()
    return tuple(address for value in values if (address := _address(value)))


def _instant(value: Any) -> datetime | None:
    """Graph's DateTimeOffset text (``2026-03-09T14:00:00Z``) as UTC."""
    if not value:
        return None
    try:
        return utc_ms(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except (ValueError, InvalidInput):
        return None


_FRACTION = re.compile(r"(\.\d{6})\d+")


def graph_datetime(value: Any) -> datetime:
    """A ``dateTimeTimeZone`` (``{"dateTime": "2026-03-09T14:00:00.0000000", "timeZone": "..."}``) as UTC.

    ``timeZone`` may be a Windows name (Outlook's) or an IANA one; Windows names are mapped with CLDR's
    table (``chalicelib.domain.timeutil``). Graph writes seven fractional digits; Python reads six.
    """
    if not isinstance(value, Mapping) or not value.get("dateTime"):
        raise ValueError("a dateTimeTimeZone needs dateTime")
    text = _FRACTION.sub(r"\1", str(value["dateTime"]))
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        zone_name = str(value.get("timeZone") or "UTC")
        try:
            tz = zone(zone_name)
        except InvalidInput:
            logger.warning("graph: unknown time zone %r, read as UTC", zone_name)
            tz = zone("UTC")
        moment = moment.replace(tzinfo=tz)
    return utc_ms(moment)


def parse_message(raw: Mapping[str, Any], folder: Folder) -> MailItem | RemovedItem:
    """One entry of a messages delta page."""
    item_id = str(raw.get("id", ""))
    if "@removed" in raw:
        return RemovedItem(item_id=item_id, folder=folder)
    headers: dict[str, str] = {}
    for header in raw.get("internetMessageHeaders") or []:
        if isinstance(header, Mapping) and header.get("name"):
            headers.setdefault(str(header["name"]).strip().lower(), str(header.get("value", "")))
    return MailItem(
        item_id=item_id,
        folder=folder,
        internet_message_id=raw.get("internetMessageId") or None,
        conversation_id=raw.get("conversationId") or None,
        subject=str(raw.get("subject") or ""),
        preview=str(raw.get("bodyPreview") or ""),
        sender=_address(raw.get("from")),
        to=_addresses(raw.get("toRecipients")),
        cc=_addresses(raw.get("ccRecipients")),
        sent_at=_instant(raw.get("sentDateTime")),
        received_at=_instant(raw.get("receivedDateTime")),
        is_read=bool(raw.get("isRead", False)),
        is_draft=bool(raw.get("isDraft", False)),
        categories=tuple(str(c) for c in raw.get("categories") or ()),
        headers=headers,
    )


def parse_event(raw: Mapping[str, Any], master: Mapping[str, Any] | None) -> MeetingItem | RemovedItem | None:
    """One entry of a calendarView delta page, joined with its series master when it has one.

    Stripped occurrences carry only id, seriesMasterId, type, start and end: everything else comes from
    the master. The key of an occurrence uses the master's iCalUId (an occurrence's own, when Graph
    gives one, differs per occurrence and is absent from stripped entries), so an occurrence keeps its
    key when it becomes an exception. Series masters themselves are not meetings anyone attended.
    """
    item_id = str(raw.get("id", ""))
    if "@removed" in raw:
        return RemovedItem(item_id=item_id, folder=Folder.CALENDAR)
    kind = str(raw.get("type") or "singleInstance")
    if kind == "seriesMaster":
        return None
    merged: dict[str, Any] = {**(master or {}), **{k: v for k, v in raw.items() if v is not None}}
    ical_uid = (master or {}).get("iCalUId") if raw.get("seriesMasterId") else raw.get("iCalUId")
    response = merged.get("responseStatus") or {}
    return MeetingItem(
        item_id=item_id,
        ical_uid=str(ical_uid or merged.get("iCalUId") or ""),
        start=graph_datetime(raw.get("start")),
        end=graph_datetime(raw.get("end")),
        subject=str(merged.get("subject") or ""),
        series_master_id=raw.get("seriesMasterId") or None,
        kind=kind,
        is_all_day=bool(merged.get("isAllDay", False)),
        is_cancelled=bool(merged.get("isCancelled", False)),
        show_as=str(merged.get("showAs") or "busy"),
        response=str(response.get("response") or "none") if isinstance(response, Mapping) else "none",
        organizer=_address(merged.get("organizer")),
        attendees=_addresses(merged.get("attendees")),
        body_preview=str(merged.get("bodyPreview") or ""),
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# ---------------------------------------------------------------- the MailboxSource


class GraphMailboxSource:
    """``MailboxSource`` over Graph delta queries for one tenant.

    ``received_since`` narrows a new mail round to recent mail (``$filter=receivedDateTime ge ...``,
    the one filter Graph allows on message delta): a first sync of a lawyer's Inbox would otherwise
    page through years of mail that is history, not today's work.
    """

    def __init__(self, client: GraphClient, received_since: datetime | None = None) -> None:
        self.client = client
        self.received_since = received_since

    def _user_path(self, mailbox: str) -> str:
        return f"/v1.0/users/{quote(mailbox, safe='@.')}"

    def mail_changes(self, mailbox: str, folder: Folder, state: str | None) -> Iterator[SyncPage]:
        """Delta pages of Inbox or Sent Items, starting over when ``state`` is None."""
        if folder is Folder.CALENDAR:
            raise ValueError("the calendar has its own delta: calendar_changes")
        if state:
            url = self.client.own_link(state)
        else:
            url = self.client.url(f"{self._user_path(mailbox)}/mailFolders('{folder.value}')/messages/delta")
            url += f"?$select={MESSAGE_FIELDS}"
            if self.received_since is not None:
                url += "&$filter=" + quote(f"receivedDateTime ge {_iso(self.received_since)}", safe=":")
        while True:
            body = self.client.get_json(url, mailbox=mailbox)
            changes: list[MailboxChange] = [
                parse_message(raw, folder) for raw in body.get("value", []) if isinstance(raw, Mapping)
            ]
            page, url_or_none = _page(body, changes)
            yield page
            if url_or_none is None:
                return
            url = self.client.own_link(url_or_none)

    def calendar_changes(
        self, mailbox: str, start: datetime, end: datetime, state: str | None
    ) -> Iterator[SyncPage]:
        """calendarView delta pages for [start, end), occurrences joined with their series master."""
        url = (
            self.client.own_link(state)
            if state
            else self.client.url(f"{self._user_path(mailbox)}/calendarView/delta")
            + f"?startDateTime={_iso(start)}&endDateTime={_iso(end)}"
        )
        masters: dict[str, Mapping[str, Any] | None] = {}
        while True:
            body = self.client.get_json(url, mailbox=mailbox)
            raws = [raw for raw in body.get("value", []) if isinstance(raw, Mapping)]
            wanted = sorted(
                {
                    str(raw["seriesMasterId"])
                    for raw in raws
                    if raw.get("seriesMasterId") and "@removed" not in raw
                }
                - masters.keys()
            )
            masters.update(self._masters(mailbox, wanted))
            changes: list[MailboxChange] = []
            for raw in raws:
                master = masters.get(str(raw.get("seriesMasterId"))) if raw.get("seriesMasterId") else None
                if raw.get("seriesMasterId") and master is None and "@removed" not in raw:
                    logger.warning(
                        "graph: occurrence %s has no readable series master; skipped", raw.get("id")
                    )
                    continue
                change = parse_event(raw, master)
                if change is not None:
                    changes.append(change)
            page, url_or_none = _page(body, changes)
            yield page
            if url_or_none is None:
                return
            url = self.client.own_link(url_or_none)

    def _masters(self, mailbox: str, ids: Sequence[str]) -> dict[str, Mapping[str, Any] | None]:
        """Series masters by id: one GET for one, ``$batch`` of up to 4 for more. A master Graph no
        longer has (404) is None."""
        found: dict[str, Mapping[str, Any] | None] = {}
        base = f"{self._user_path(mailbox)}/events"
        if len(ids) == 1:
            response = self.client.request(
                "GET",
                self.client.url(f"{base}/{quote(ids[0], safe='')}?$select={MASTER_FIELDS}"),
                mailbox=mailbox,
            )
            if response.status_code == 404:
                return {ids[0]: None}
            _raise_for(response, mailbox)
            return {ids[0]: _json(response)}
        relative = base.removeprefix("/v1.0")  # $batch URLs are relative to the version
        for offset in range(0, len(ids), MAX_BATCH):
            chunk = ids[offset : offset + MAX_BATCH]
            answers = self.client.batch(
                [
                    {
                        "id": str(index),
                        "method": "GET",
                        "url": f"{relative}/{quote(master_id, safe='')}?$select={MASTER_FIELDS}",
                        "headers": {"Prefer": 'IdType="ImmutableId"'},
                    }
                    for index, master_id in enumerate(chunk)
                ],
                mailbox=mailbox,
            )
            for index, master_id in enumerate(chunk):
                answer = answers.get(str(index)) or {}
                status = int(answer.get("status", 500))
                body = answer.get("body")
                if status == 200 and isinstance(body, Mapping):
                    found[master_id] = body
                elif status == 404:
                    found[master_id] = None
                else:
                    raise MailServerError(
                        f"Graph could not read series master {master_id} ({status})", retryable=status >= 500
                    )
        return found


def _page(body: Mapping[str, Any], changes: list[MailboxChange]) -> tuple[SyncPage, str | None]:
    next_link = body.get("@odata.nextLink")
    delta_link = body.get("@odata.deltaLink")
    if next_link:
        return SyncPage(changes=changes, state=str(next_link), more=True), str(next_link)
    if delta_link:
        return SyncPage(changes=changes, state=str(delta_link), more=False), None
    raise MailServerError("Graph sent a delta page with neither a nextLink nor a deltaLink", retryable=True)


# ---------------------------------------------------------------- subscriptions


class GraphSubscriptionClient:
    """``SubscriptionClient`` over ``/v1.0/subscriptions``."""

    def __init__(self, client: GraphClient) -> None:
        self.client = client

    @staticmethod
    def _mailbox_of(resource: str) -> str:
        # "users/{mailbox}/..." - the subscription call counts against that mailbox's concurrency.
        parts = resource.split("/")
        return parts[1] if len(parts) > 1 and parts[0].lower() == "users" else "subscriptions"

    def create(
        self,
        *,
        resource: str,
        change_type: str,
        notification_url: str,
        lifecycle_url: str,
        expires_at: datetime,
        client_state: str,
    ) -> tuple[str, datetime]:
        """POST /subscriptions (Graph validates notificationUrl first); returns (id, granted expiry)."""
        response = self.client.request(
            "POST",
            self.client.url("/v1.0/subscriptions"),
            mailbox=self._mailbox_of(resource),
            body={
                "changeType": change_type,
                "notificationUrl": notification_url,
                "lifecycleNotificationUrl": lifecycle_url,
                "resource": resource,
                "expirationDateTime": _iso(expires_at),
                "clientState": client_state,
                "latestSupportedTlsVersion": "v1_2",
            },
        )
        _raise_for(response, self._mailbox_of(resource))
        body = _json(response)
        granted = _instant(body.get("expirationDateTime")) or expires_at
        return str(body["id"]), granted

    def renew(self, subscription_id: str, expires_at: datetime) -> datetime:
        """PATCH the expiry; ``SubscriptionGone`` when Graph no longer has the subscription."""
        response = self.client.request(
            "PATCH",
            self.client.url(f"/v1.0/subscriptions/{quote(subscription_id, safe='')}"),
            mailbox="subscriptions",
            body={"expirationDateTime": _iso(expires_at)},
        )
        if response.status_code == 404:
            raise SubscriptionGone(subscription_id)
        _raise_for(response, "subscriptions")
        return _instant(_json(response).get("expirationDateTime")) or expires_at

    def delete(self, subscription_id: str) -> None:
        """DELETE; one Graph no longer has is already gone."""
        response = self.client.request(
            "DELETE",
            self.client.url(f"/v1.0/subscriptions/{quote(subscription_id, safe='')}"),
            mailbox="subscriptions",
        )
        if response.status_code not in (200, 204, 404):
            _raise_for(response, "subscriptions")
