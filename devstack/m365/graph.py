"""Simulated Microsoft Graph: mail, calendar, subscriptions and ``$batch`` over the simulated mailboxes.

``GraphSimulator(server, store)`` registers the Graph routes (``/v1.0/...``) and the scripting routes
(``/_sim/...``, no authentication, loopback only) on an ``M365Server``, and offers the same scripting
as Python methods (deliver a message, send one, mark read, create a meeting, expire delta tokens,
throttle a mailbox...).

Fidelity notes (what a connector built against this must already cope with):

* Bearer tokens from the simulated Entra ID, audience ``https://graph.microsoft.com`` or Graph's app id.
  Application tokens need ``roles`` (``Mail.Read``, ``Calendars.Read``...), delegated tokens ``scp``;
  a delegated token reads another user's mailbox only with a ``*.Shared`` permission. Failures are
  401 ``InvalidAuthenticationToken`` / 403 ``ErrorAccessDenied`` with Graph's error body.
* Delta queries (messages per folder, ``calendarView``): ``@odata.nextLink`` pages (``$skiptoken``),
  then ``@odata.deltaLink`` (``$deltatoken``); ``$select`` is baked into the links; page size from
  ``Prefer: odata.maxpagesize`` (default 10 here, so paging always happens). Removed items come as
  ``@removed``; an item changed twice is reported once, with its latest state; a replayed change is
  reported again. A delta token that is too old, from before ``expire_delta_tokens``, or unreadable
  gives ``410 Gone`` with ``SyncStateNotFound``: start over.
* Ids: regular ids change when a message moves; with ``Prefer: IdType="ImmutableId"`` they do not.
  Answered with ``Preference-Applied``.
* Calendar: times are UTC unless ``Prefer: outlook.timezone="..."`` names a zone (Windows or IANA),
  as in Graph; ``mailboxSettings.timeZone`` is a Windows name for some users and IANA for others.
  ``calendarView/delta`` returns occurrences of a series stripped to ``id, seriesMasterId, type,
  start, end`` (get the rest from the master with ``GET /events/{seriesMasterId}``); exceptions and
  single meetings come whole.
* Throttling: 4 concurrent requests per app per mailbox (the 5th gets ``429 ApplicationThrottled``,
  "MailboxConcurrency"), a request budget per app per mailbox per window (10,000 per 10 minutes),
  and ``throttle(mailbox, count, retry_after)`` on demand; 429s carry ``Retry-After`` (seconds, may be
  fractional). Every request addressed to a mailbox is counted (``request_counts()``).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import Message as HeaderBlock
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit
from zoneinfo import ZoneInfo

from devstack.m365.identity import (
    GRAPH_APP_ID,
    GRAPH_RESOURCE,
    IdentityProvider,
    TokenExpiredError,
    TokenValidationError,
)
from devstack.m365.mailbox import (
    MAIL_FOLDERS,
    WINDOWS_TIME_ZONES,
    CalendarEvent,
    Change,
    ChangeKind,
    EventInstance,
    ItemNotFoundError,
    Mailbox,
    MailboxNotFoundError,
    MailboxStore,
    MailTransport,
    Message,
    Recipient,
    Recurrence,
    SimulatorClock,
    SyncStateTooOldError,
    WellKnownFolder,
    expand_event,
    folder_display_name,
    iso_utc,
    occurrence_id,
    parse_folder,
    parse_occurrence_id,
    series_starts,
    windows_zone_name,
    zone_info,
)
from devstack.m365.notifications import (
    NotificationService,
    NotificationSettings,
    Subscription,
    SubscriptionError,
    parse_resource,
)
from devstack.m365.server import M365Server, Request, Response

logger = logging.getLogger(__name__)

GRAPH_AUDIENCES = (GRAPH_RESOURCE, GRAPH_APP_ID)
_JSON_TYPE = (
    "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8"
)


@dataclass(frozen=True)
class GraphSettings:
    """Paging, token and throttling limits of the simulated Graph."""

    default_page_size: int = 10
    max_page_size: int = 1000
    delta_token_lifetime: timedelta = timedelta(days=30)
    mailbox_concurrency: int = 4
    request_budget: int = 10_000
    budget_window: timedelta = timedelta(minutes=10)
    max_batch_requests: int = 20
    hold_timeout: float = 10.0  # how long ``hold_requests`` may keep a request waiting


class GraphError(Exception):
    """A Graph error response: status, ``error.code``, ``error.message`` and extra headers."""

    def __init__(self, status: int, code: str, message: str, headers: Sequence[tuple[str, str]] = ()):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = list(headers)


# --- Callers and permissions -------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """Who is calling, from a validated access token."""

    tenant_id: str
    app_id: str
    user_id: str | None  # set for delegated (user) tokens
    roles: frozenset[str]
    scopes: frozenset[str]

    @property
    def is_app_only(self) -> bool:
        """An application token (client credentials), not acting for a user."""
        return self.user_id is None

    def granted(self) -> frozenset[str]:
        """The permissions that count for this kind of token."""
        return self.roles if self.is_app_only else self.scopes


@dataclass(frozen=True)
class _Need:
    """Permissions that allow an operation: for app tokens, delegated tokens on the user's own mailbox,
    and delegated tokens on someone else's mailbox; ``basic`` ones allow it without bodies."""

    app: frozenset[str]
    delegated: frozenset[str]
    shared: frozenset[str]
    basic: frozenset[str] = frozenset()


_MAIL = _Need(
    app=frozenset({"Mail.Read", "Mail.ReadWrite", "Mail.ReadBasic.All"}),
    delegated=frozenset({"Mail.Read", "Mail.ReadWrite", "Mail.ReadBasic"}),
    shared=frozenset({"Mail.Read.Shared", "Mail.ReadWrite.Shared"}),
    basic=frozenset({"Mail.ReadBasic.All", "Mail.ReadBasic"}),
)
_CALENDAR = _Need(
    app=frozenset({"Calendars.Read", "Calendars.ReadWrite", "Calendars.ReadBasic"}),
    delegated=frozenset({"Calendars.Read", "Calendars.ReadWrite", "Calendars.ReadBasic"}),
    shared=frozenset({"Calendars.Read.Shared", "Calendars.ReadWrite.Shared"}),
)
_SETTINGS = _Need(
    app=frozenset({"MailboxSettings.Read", "MailboxSettings.ReadWrite"}),
    delegated=frozenset({"MailboxSettings.Read", "MailboxSettings.ReadWrite"}),
    shared=frozenset(),
)
_USERS_APP = frozenset({"User.Read.All", "User.ReadBasic.All", "User.ReadWrite.All", "Directory.Read.All"})
_USERS_OTHERS = frozenset({"User.ReadBasic.All", "User.Read.All", "Directory.Read.All"})


# --- Throttling --------------------------------------------------------------------------------------


class Throttling:
    """Graph's Outlook limits per app and mailbox, plus throttling on demand and request counting."""

    def __init__(self, settings: GraphSettings, clock: Callable[[], datetime]) -> None:
        self._settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._in_flight: Counter[tuple[str, str]] = Counter()
        self._windows: dict[tuple[str, str], tuple[datetime, int]] = {}
        self._forced: dict[str, tuple[int, float]] = {}
        self._counts: Counter[str] = Counter()
        self._gate = threading.Event()
        self._gate.set()

    def admit(self, app_id: str, mailbox_id: str) -> None:
        """Count a request to a mailbox and let it in, or raise a 429 ``GraphError``.

        A request that is let in must be followed by ``release`` once answered.
        """
        with self._lock:
            self._counts[mailbox_id] += 1
            forced = self._forced.get(mailbox_id)
            if forced is not None:
                remaining, retry_after = forced
                if remaining <= 1:
                    del self._forced[mailbox_id]
                else:
                    self._forced[mailbox_id] = (remaining - 1, retry_after)
                raise _too_many("TooManyRequests", "Too many requests. Please retry later.", retry_after)
            key = (app_id, mailbox_id)
            now = self._clock()
            window_start, used = self._windows.get(key, (now, 0))
            if now - window_start >= self._settings.budget_window:
                window_start, used = now, 0
            if used >= self._settings.request_budget:
                wait = (window_start + self._settings.budget_window - now).total_seconds()
                raise _too_many(
                    "ApplicationThrottled", "Application is over its MailboxRequests limit.", max(wait, 0.1)
                )
            if self._in_flight[key] >= self._settings.mailbox_concurrency:
                raise _too_many(
                    "ApplicationThrottled", "Application is over its MailboxConcurrency limit.", 1
                )
            self._windows[key] = (window_start, used + 1)
            self._in_flight[key] += 1

    def release(self, app_id: str, mailbox_id: str) -> None:
        """The request let in by ``admit`` has been answered."""
        with self._lock:
            key = (app_id, mailbox_id)
            self._in_flight[key] -= 1
            if self._in_flight[key] <= 0:
                del self._in_flight[key]

    def wait_if_held(self) -> None:
        """Keep an admitted request waiting while ``hold`` is in effect (tests of concurrency)."""
        self._gate.wait(self._settings.hold_timeout)

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """While inside, admitted requests wait before being answered (they keep their slot)."""
        self._gate.clear()
        try:
            yield
        finally:
            self._gate.set()

    def throttle(self, mailbox_id: str, count: int, retry_after: float) -> None:
        """Answer the next ``count`` requests to a mailbox with 429 and ``Retry-After: retry_after``."""
        if count < 1 or retry_after < 0:
            raise ValueError("count must be at least 1 and retry_after not negative")
        with self._lock:
            self._forced[mailbox_id] = (count, retry_after)

    def in_flight(self, mailbox_id: str) -> int:
        """Requests to a mailbox being answered now (all apps)."""
        with self._lock:
            return sum(n for (_, mailbox), n in self._in_flight.items() if mailbox == mailbox_id)

    def counts(self) -> dict[str, int]:
        """Requests per mailbox (user id) since the last reset, throttled ones included."""
        with self._lock:
            return dict(self._counts)

    def reset_counts(self) -> None:
        """Start counting requests from zero."""
        with self._lock:
            self._counts.clear()


def _too_many(code: str, message: str, retry_after: float) -> GraphError:
    return GraphError(429, code, message, [("Retry-After", _seconds_text(retry_after))])


def _seconds_text(seconds: float) -> str:
    """``2`` for whole seconds, ``0.5`` otherwise (Graph's Retry-After may be fractional)."""
    if float(seconds).is_integer():
        return str(int(seconds))
    return f"{seconds:.3f}".rstrip("0").rstrip(".")


# --- Request context ---------------------------------------------------------------------------------


@dataclass
class _Context:
    """Per-request details the handlers share: the caller, the mailbox, the Prefer header."""

    request: Request
    caller: Caller
    mailbox: Mailbox
    prefer: dict[str, str]
    applied: list[str] = field(default_factory=list)
    basic_only: bool = False

    @property
    def immutable_ids(self) -> bool:
        wanted = self.prefer.get("idtype", "").lower() == "immutableid"
        if wanted and 'IdType="ImmutableId"' not in self.applied:
            self.applied.append('IdType="ImmutableId"')
        return wanted

    def page_size(self, settings: GraphSettings) -> int:
        raw = self.prefer.get("odata.maxpagesize")
        if raw is None:
            return settings.default_page_size
        try:
            size = max(1, min(int(raw), settings.max_page_size))
        except ValueError:
            return settings.default_page_size
        self.applied.append(f"odata.maxpagesize={size}")
        return size

    def output_zone(self) -> tuple[str, ZoneInfo]:
        """The zone name and zone for event times: ``Prefer: outlook.timezone``, else UTC."""
        name = self.prefer.get("outlook.timezone")
        if name:
            zone = zone_info(name)
            if zone is not None:
                self.applied.append(f'outlook.timezone="{name}"')
                return name, zone
        return "UTC", ZoneInfo("UTC")


def _parse_prefer(request: Request) -> dict[str, str]:
    """The ``Prefer`` preferences, names lower-cased, values unquoted."""
    found: dict[str, str] = {}
    for header in request.headers.get_all("Prefer") or []:
        for part in str(header).split(","):
            name, _, value = part.strip().partition("=")
            if name:
                found[name.strip().lower()] = value.strip().strip('"')
    return found


# --- Delta state tokens ------------------------------------------------------------------------------


def _encode_state(state: Mapping[str, Any]) -> str:
    raw = json.dumps(state, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _decode_state(token: str) -> dict[str, Any] | None:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        return None
    return data if isinstance(data, dict) else None


def _sync_state_gone(generation: Any, highest: int) -> GraphError:
    """Exchange's answer to a delta token it can no longer serve (the client must resync)."""
    return GraphError(
        410,
        "SyncStateNotFound",
        f"The sync state generation is not found; generation={generation};[highest={highest}][{highest}].",
    )


# --- Message and event JSON --------------------------------------------------------------------------

MESSAGE_PROPERTIES = frozenset(
    {
        "id",
        "createdDateTime",
        "lastModifiedDateTime",
        "changeKey",
        "categories",
        "receivedDateTime",
        "sentDateTime",
        "hasAttachments",
        "internetMessageId",
        "subject",
        "bodyPreview",
        "importance",
        "parentFolderId",
        "conversationId",
        "conversationIndex",
        "isDeliveryReceiptRequested",
        "isReadReceiptRequested",
        "isRead",
        "isDraft",
        "webLink",
        "inferenceClassification",
        "body",
        "uniqueBody",
        "sender",
        "from",
        "toRecipients",
        "ccRecipients",
        "bccRecipients",
        "replyTo",
        "flag",
        "internetMessageHeaders",
    }
)
_BODY_PROPERTIES = frozenset({"body", "uniqueBody", "bodyPreview", "internetMessageHeaders"})
EVENT_PROPERTIES = frozenset(
    {
        "id",
        "createdDateTime",
        "lastModifiedDateTime",
        "changeKey",
        "categories",
        "transactionId",
        "originalStartTimeZone",
        "originalEndTimeZone",
        "iCalUId",
        "uid",
        "reminderMinutesBeforeStart",
        "isReminderOn",
        "hasAttachments",
        "subject",
        "bodyPreview",
        "importance",
        "sensitivity",
        "isAllDay",
        "isCancelled",
        "isOrganizer",
        "responseRequested",
        "seriesMasterId",
        "showAs",
        "type",
        "webLink",
        "onlineMeetingUrl",
        "isOnlineMeeting",
        "onlineMeetingProvider",
        "allowNewTimeProposals",
        "isDraft",
        "hideAttendees",
        "responseStatus",
        "body",
        "start",
        "end",
        "location",
        "locations",
        "recurrence",
        "attendees",
        "organizer",
        "onlineMeeting",
        "originalStart",
    }
)


def graph_datetime(moment: datetime | None) -> str | None:
    """Graph's message timestamps: ``2026-11-22T14:03:11Z``."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _date_time_zone(moment: datetime, name: str, zone: ZoneInfo) -> dict[str, str]:
    """Graph's ``dateTimeTimeZone``: local wall time with seven fractional digits, and the zone's name."""
    local = moment.astimezone(zone)
    return {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond:06d}0", "timeZone": name}


def _email(recipient: Recipient) -> dict[str, Any]:
    return {"emailAddress": recipient.to_dict()}


def _folder_id(mailbox: Mailbox, folder: WellKnownFolder) -> str:
    """A folder's opaque id, stable for a mailbox (real ones start ``AQMkA``)."""
    raw = f"{mailbox.user_id}:{folder}".encode()
    return "AQMkA" + base64.urlsafe_b64encode(raw).decode("ascii")


def _folder_from_id(mailbox: Mailbox, value: str) -> WellKnownFolder | None:
    """A folder from a well-known name (any case) or from an id made by ``_folder_id``."""
    known = parse_folder(value)
    if known is not None:
        return known
    if value.startswith("AQMkA"):
        try:
            decoded = base64.urlsafe_b64decode(value[5:].encode("ascii")).decode()
        except (ValueError, binascii.Error, UnicodeError):
            return None
        owner, _, name = decoded.partition(":")
        if owner == mailbox.user_id:
            return parse_folder(name)
    return None


def _select(request: Request, allowed: frozenset[str], entity: str) -> tuple[str, ...] | None:
    raw = request.arg("$select")
    if raw is None:
        return None
    fields = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    for name in fields:
        if name not in allowed:
            raise GraphError(
                400,
                "RequestBroker--ParseUri",
                f"Could not find a property named '{name}' on type '{entity}'.",
            )
    return fields


def _apply_select(full: dict[str, Any], select: Sequence[str] | None) -> dict[str, Any]:
    if select is None:
        return full
    keep = {"id", "@odata.type", "@odata.etag", *select}
    return {k: v for k, v in full.items() if k in keep}


# --- $filter (the small subset connectors use) -------------------------------------------------------

_CLAUSE = re.compile(r"^\s*(\w+)\s+(eq|ne|ge|gt|le|lt)\s+(.+?)\s*$", re.IGNORECASE)
_FILTERABLE = {
    "receivedDateTime": "received_at",
    "sentDateTime": "sent_at",
    "isRead": "is_read",
    "isDraft": "is_draft",
    "subject": "subject",
    "conversationId": "conversation_id",
    "internetMessageId": "internet_message_id",
}


def _message_filter(raw: str | None) -> Callable[[Message], bool]:
    """A predicate for ``$filter`` clauses joined by ``and`` (dates, booleans, quoted strings)."""
    if not raw:
        return lambda message: True
    tests: list[Callable[[Message], bool]] = []
    for clause in re.split(r"\s+and\s+", raw.strip(), flags=re.IGNORECASE):
        match = _CLAUSE.match(clause)
        if match is None or match.group(1) not in _FILTERABLE:
            raise GraphError(400, "BadRequest", f"Invalid filter clause: {clause.strip()}")
        name, operator, literal = match.group(1), match.group(2).lower(), match.group(3)
        value = _filter_literal(literal, clause)
        tests.append(_comparison(_FILTERABLE[name], operator, value))
    return lambda message: all(test(message) for test in tests)


def _filter_literal(literal: str, clause: str) -> Any:
    if literal.lower() in ("true", "false"):
        return literal.lower() == "true"
    if len(literal) >= 2 and literal[0] == literal[-1] == "'":
        return literal[1:-1].replace("''", "'")
    try:
        moment = datetime.fromisoformat(literal.replace("Z", "+00:00"))
    except ValueError as error:
        raise GraphError(400, "BadRequest", f"Invalid filter clause: {clause.strip()}") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _comparison(attribute: str, operator: str, value: Any) -> Callable[[Message], bool]:
    def test(message: Message) -> bool:
        actual = getattr(message, attribute)
        if actual is None:
            return False
        try:
            return {
                "eq": actual == value,
                "ne": actual != value,
                "ge": actual >= value,
                "gt": actual > value,
                "le": actual <= value,
                "lt": actual < value,
            }[operator]
        except TypeError:
            return False

    return test


def _window(request: Request, state: Mapping[str, Any] | None = None) -> tuple[datetime, datetime]:
    """``startDateTime``/``endDateTime`` of a calendar view (from the query, or baked into a token)."""
    if state is not None:
        return _parse_moment(state["ws"], "startDateTime"), _parse_moment(state["we"], "endDateTime")
    start_raw, end_raw = request.arg("startDateTime"), request.arg("endDateTime")
    if not start_raw or not end_raw:
        raise GraphError(
            400,
            "ErrorInvalidParameter",
            "This request requires a time window specified by the query string parameters StartDateTime "
            "and EndDateTime.",
        )
    start, end = _parse_moment(start_raw, "startDateTime"), _parse_moment(end_raw, "endDateTime")
    if end <= start:
        raise GraphError(400, "ErrorInvalidParameter", "The end of the time window must be after its start.")
    return start, end


def _parse_moment(raw: str, what: str) -> datetime:
    text = raw.strip().replace(" ", "+").replace("Z", "+00:00")
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise GraphError(400, "ErrorInvalidParameter", f"'{raw}' is not a valid {what}.") from error
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# --- Routes ------------------------------------------------------------------------------------------

_OWNER = r"^/v1\.0/(?:users/(?P<user>[^/]+)|me)"
_FOLDER = r"mailFolders(?:\('(?P<qfolder>[^']+)'\)|/(?P<folder>[^/(]+))"
_DELTA = r"(?:delta|microsoft\.graph\.delta)(?:\(\))?"
_ITEM = r"(?P<item>[^/]+)"


class GraphSimulator:
    """The Graph endpoints and their scripting, over one ``MailboxStore``.

    The store should run on the same clock (``MailboxStore(clock)``) so that item timestamps, token
    ages and subscription expiry agree. ``start()``/``stop()`` run the notification delivery thread
    (``start`` is called by the constructor unless ``start_notifications=False``).
    """

    def __init__(
        self,
        server: M365Server,
        store: MailboxStore,
        *,
        clock: SimulatorClock | None = None,
        settings: GraphSettings | None = None,
        notification_settings: NotificationSettings | None = None,
        start_notifications: bool = True,
    ) -> None:
        self.server = server
        self.store = store
        self.identity: IdentityProvider = server.identity
        self.clock = clock or SimulatorClock()
        self.settings = settings or GraphSettings()
        self.transport = MailTransport(store)
        self.throttling = Throttling(self.settings, self.clock.now)
        self.notifications = NotificationService(store, self.clock.now, notification_settings)
        self._register_graph_routes()
        self._register_scripting_routes()
        if start_notifications:
            self.notifications.start()

    def start(self) -> None:
        """Start delivering notifications."""
        self.notifications.start()

    def stop(self) -> None:
        """Stop delivering notifications."""
        self.notifications.stop()

    @property
    def base_url(self) -> str:
        """The simulator's origin (``https://localhost:{port}``)."""
        return self.server.base_url

    # =============================================================================================
    # Scripting (Python)
    # =============================================================================================

    def mailbox(self, mailbox: str) -> Mailbox:
        """A mailbox by user id or address; raises ``MailboxNotFoundError``."""
        found = self.store.mailbox(mailbox)
        if found is None:
            raise MailboxNotFoundError(mailbox)
        return found

    def deliver_message(
        self,
        mailbox: str,
        *,
        sender: Recipient | str,
        subject: str,
        body: str = "",
        to: Sequence[Recipient | str] | None = None,
        cc: Sequence[Recipient | str] = (),
        headers: Sequence[tuple[str, str]] | Mapping[str, str] = (),
        received_at: datetime | None = None,
        internet_message_id: str | None = None,
        conversation_id: str | None = None,
        is_read: bool = False,
        categories: Sequence[str] = (),
    ) -> Message:
        """An inbound message lands in the mailbox's Inbox (addressed to the owner unless ``to``)."""
        return self.transport.deliver(
            mailbox,
            sender=sender,
            subject=subject,
            body=body,
            to=to,
            cc=cc,
            headers=_header_pairs(headers),
            received_at=received_at,
            internet_message_id=internet_message_id,
            conversation_id=conversation_id,
            is_read=is_read,
            categories=categories,
        )

    def send_message(
        self,
        mailbox: str,
        *,
        to: Sequence[Recipient | str],
        subject: str,
        body: str = "",
        cc: Sequence[Recipient | str] = (),
        headers: Sequence[tuple[str, str]] | Mapping[str, str] = (),
        sent_at: datetime | None = None,
        correlation_id: str | None = None,
        internet_message_id: str | None = None,
        conversation_id: str | None = None,
    ) -> Message:
        """The owner sends a message: it lands in their Sent Items (read), and in the Inbox of every
        recipient with a mailbox here. ``correlation_id`` adds the add-in's ``x-matterline-correlation``
        header. Returns the Sent Items copy."""
        pairs = _header_pairs(headers)
        if correlation_id:
            pairs.append(("x-matterline-correlation", correlation_id))
        return self.transport.send(
            mailbox,
            to=to,
            subject=subject,
            body=body,
            cc=cc,
            headers=pairs,
            sent_at=sent_at,
            internet_message_id=internet_message_id,
            conversation_id=conversation_id,
        )

    def mark_read(self, mailbox: str, message_id: str, is_read: bool = True) -> Message:
        """Mark a message read (or unread)."""
        return self.store.mark_read(self.mailbox(mailbox).user_id, message_id, is_read)

    def delete_message(self, mailbox: str, message_id: str, *, permanent: bool = False) -> Message | None:
        """Delete a message (to Deleted Items, or for good)."""
        return self.store.delete_message(self.mailbox(mailbox).user_id, message_id, permanent=permanent)

    def create_meeting(
        self,
        organizer: str,
        *,
        subject: str,
        start: datetime,
        end: datetime,
        attendees: Sequence[Recipient | str] = (),
        body: str = "",
        location: str = "",
        time_zone: str | None = None,
        recurrence: Recurrence | None = None,
        is_all_day: bool = False,
        show_as: str = "busy",
    ) -> dict[str, CalendarEvent]:
        """A meeting (or weekly/daily series) in the organizer's calendar and in the calendar of each
        attendee with a mailbox here, all with one ``iCalUId``. ``organizer`` may be an outside
        address. Returns the copies by mailbox user id."""
        return self.transport.create_meeting(
            organizer,
            subject=subject,
            start=start,
            end=end,
            attendees=attendees,
            body=body,
            location=location,
            time_zone=time_zone,
            recurrence=recurrence,
            is_all_day=is_all_day,
            show_as=show_as,
        )

    def respond(self, mailbox: str, event_id: str, response: str) -> CalendarEvent:
        """An attendee answers (``accepted``, ``tentativelyAccepted``, ``declined``)."""
        return self.transport.respond(mailbox, event_id, response)

    def cancel_meeting(
        self, organizer: str, event_id: str, *, occurrence_start: datetime | None = None
    ) -> None:
        """The organizer cancels a meeting (attendee copies become ``isCancelled``) or one occurrence."""
        self.transport.cancel_meeting(organizer, event_id, occurrence_start=occurrence_start)

    def move_occurrence(
        self,
        organizer: str,
        event_id: str,
        original_start: datetime,
        *,
        start: datetime,
        end: datetime,
        subject: str | None = None,
    ) -> None:
        """Make one occurrence of a series an exception (new time, optionally a new subject) in every copy."""
        self.transport.move_occurrence(
            organizer, event_id, original_start, start=start, end=end, subject=subject
        )

    def expire_delta_tokens(self, mailbox: str) -> int:
        """Every delta token of the mailbox now gets ``410 Gone``; returns the new sync epoch."""
        return self.store.expire_sync_states(self.mailbox(mailbox).user_id)

    def replay_last_change(
        self, mailbox: str, folder: WellKnownFolder | str, copies: int = 1
    ) -> list[Change]:
        """The folder's last change is reported again by the next delta query (``copies`` times)."""
        return self.store.replay_last_change(self.mailbox(mailbox).user_id, folder, copies)

    def throttle(self, mailbox: str, count: int, retry_after: float) -> None:
        """Answer the next ``count`` Graph requests to the mailbox with 429 and ``Retry-After``."""
        self.throttling.throttle(self.mailbox(mailbox).user_id, count, retry_after)

    def hold_requests(self) -> contextlib.AbstractContextManager[None]:
        """Keep admitted requests waiting while inside (to put several in flight at once)."""
        return self.throttling.hold()

    def in_flight(self, mailbox: str) -> int:
        """Requests to the mailbox being answered right now."""
        return self.throttling.in_flight(self.mailbox(mailbox).user_id)

    def request_counts(self) -> dict[str, int]:
        """Graph requests per mailbox address since the last reset (throttled ones included)."""
        by_id = self.throttling.counts()
        return {box.address: by_id.get(box.user_id, 0) for box in self.store.mailboxes()}

    def reset_request_counts(self) -> None:
        """Start counting Graph requests from zero."""
        self.throttling.reset_counts()

    def fire_lifecycle(self, subscription_id: str, event: str) -> Subscription:
        """Send ``reauthorizationRequired``, ``subscriptionRemoved`` or ``missed`` for a subscription."""
        return self.notifications.fire_lifecycle(subscription_id, event)

    def expire_subscription(self, subscription_id: str) -> Subscription:
        """The subscription expires now and stops notifying."""
        return self.notifications.expire(subscription_id)

    def advance_clock(self, delta: timedelta) -> datetime:
        """Move the simulator clock forward (tokens age, subscriptions expire)."""
        return self.clock.advance(delta)

    # =============================================================================================
    # Graph routes
    # =============================================================================================

    def _register_graph_routes(self) -> None:
        add = self.server.add_route
        o, f, d, i = _OWNER, _FOLDER, _DELTA, _ITEM
        add("GET", rf"{o}$", self._get_user, cors=True)
        add("GET", r"^/v1\.0/users$", self._list_users, cors=True)
        add("GET", rf"{o}/mailboxSettings$", self._get_mailbox_settings, cors=True)
        add("GET", rf"{o}/mailFolders$", self._list_folders, cors=True)
        add("GET", rf"{o}/{f}$", self._get_folder, cors=True)
        add("GET", rf"{o}/{f}/messages/{d}$", self._message_delta, cors=True)
        add("GET", rf"{o}/{f}/messages$", self._list_folder_messages, cors=True)
        add("GET", rf"{o}/{f}/messages/{i}$", self._get_message, cors=True)
        add("GET", rf"{o}/messages$", self._list_all_messages, cors=True)
        add("GET", rf"{o}/messages/{i}$", self._get_message, cors=True)
        add("GET", rf"{o}/(?:calendar/)?calendarView/{d}$", self._calendar_delta, cors=True)
        add("GET", rf"{o}/(?:calendar/)?calendarView$", self._calendar_view, cors=True)
        add("GET", rf"{o}/(?:calendar/)?events$", self._list_events, cors=True)
        add("GET", rf"{o}/(?:calendar/)?events/{i}/instances$", self._event_instances, cors=True)
        add("GET", rf"{o}/(?:calendar/)?events/{i}$", self._get_event, cors=True)
        add("POST", r"^/v1\.0/subscriptions$", self._create_subscription)
        add("GET", r"^/v1\.0/subscriptions$", self._list_subscriptions)
        add("GET", r"^/v1\.0/subscriptions/(?P<sub>[^/]+)$", self._get_subscription)
        add("PATCH", r"^/v1\.0/subscriptions/(?P<sub>[^/]+)$", self._renew_subscription)
        add("DELETE", r"^/v1\.0/subscriptions/(?P<sub>[^/]+)$", self._delete_subscription)
        add("POST", r"^/v1\.0/subscriptions/(?P<sub>[^/]+)/reauthorize$", self._reauthorize_subscription)
        add("POST", r"^/v1\.0/\$batch$", self._batch, cors=True)

    # -- plumbing ----------------------------------------------------------------------------------

    def _respond(self, request: Request, handler: Callable[[], Response]) -> Response:
        """Run a handler, turning ``GraphError`` into Graph's error response; add request ids."""
        request_id = str(uuid.uuid4())
        try:
            response = handler()
        except GraphError as error:
            response = self._error(error, request_id, request)
        except SubscriptionError as error:
            response = self._error(GraphError(error.status, error.code, error.message), request_id, request)
        response.headers.append(("request-id", request_id))
        response.headers.append(("client-request-id", request.header("client-request-id") or request_id))
        return response

    def _error(self, error: GraphError, request_id: str, request: Request) -> Response:
        body = {
            "error": {
                "code": error.code,
                "message": error.message,
                "innerError": {
                    "date": self.clock.now().strftime("%Y-%m-%dT%H:%M:%S"),
                    "request-id": request_id,
                    "client-request-id": request.header("client-request-id") or request_id,
                },
            }
        }
        response = _json(body, error.status)
        response.headers.extend(error.headers)
        if error.status == 401:
            response.headers.append(
                (
                    "WWW-Authenticate",
                    f'Bearer realm="", authorization_uri="{self.identity.base_url}/common/oauth2/authorize", '
                    f'client_id="{GRAPH_APP_ID}"',
                )
            )
        return response

    def _caller(self, request: Request) -> Caller:
        """Validate the bearer token; raises 401 ``GraphError`` as Graph words it."""
        header = request.header("Authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.")
        try:
            claims = self.identity.validate_token(token.strip(), audience=list(GRAPH_AUDIENCES))
        except TokenExpiredError as error:
            raise GraphError(
                401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired."
            ) from error
        except TokenValidationError as error:
            reason = "Invalid audience." if "audience" in str(error) else "Invalid signature or claims."
            raise GraphError(
                401, "InvalidAuthenticationToken", f"Access token validation failure. {reason}"
            ) from error
        scopes = frozenset(str(claims.get("scp") or "").split())
        roles = frozenset(str(r) for r in claims.get("roles") or ())
        delegated = bool(scopes) or claims.get("idtyp") == "user"
        return Caller(
            tenant_id=str(claims["tid"]),
            app_id=str(claims.get("azp") or claims.get("appid") or ""),
            user_id=str(claims["oid"]) if delegated else None,
            roles=roles,
            scopes=scopes,
        )

    def _resolve_mailbox(self, caller: Caller, user: str | None) -> Mailbox:
        """The mailbox a path (``users/{id or UPN}`` or ``me``) names, in the caller's tenant; 404 if none."""
        if user is None:
            if caller.is_app_only:
                raise GraphError(
                    400, "BadRequest", "/me request is only valid with delegated authentication flow."
                )
            user = caller.user_id or ""
        mailbox = self.store.mailbox(user)
        if mailbox is None or mailbox.tenant_id != caller.tenant_id:
            tenant = self.identity.directory.tenant(caller.tenant_id)
            person = (tenant.user(user) or tenant.user_by_email(user)) if tenant else None
            if person is not None:
                raise GraphError(
                    404,
                    "MailboxNotEnabledForRESTAPI",
                    "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
                )
            raise GraphError(404, "ErrorInvalidUser", f"The requested user '{user}' is invalid.")
        return mailbox

    def _authorize(self, caller: Caller, mailbox: Mailbox, need: _Need) -> bool:
        """Raise 403 unless the caller may read this; returns whether only the basic form is allowed."""
        granted = caller.granted()
        if caller.is_app_only:
            allowed = granted & need.app
        elif caller.user_id == mailbox.user_id:
            allowed = granted & (need.delegated | need.shared)
        else:
            allowed = granted & need.shared
        if not allowed:
            raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        return not (allowed - need.basic)

    def _mailbox_call(
        self, request: Request, need: _Need, handler: Callable[[_Context], Response]
    ) -> Response:
        """Authenticate, find and authorize the mailbox, apply throttling, run ``handler``."""

        def run() -> Response:
            caller = self._caller(request)
            mailbox = self._resolve_mailbox(caller, request.params.get("user"))
            basic = self._authorize(caller, mailbox, need)
            self.throttling.admit(caller.app_id, mailbox.user_id)
            try:
                self.throttling.wait_if_held()
                context = _Context(request, caller, mailbox, _parse_prefer(request), basic_only=basic)
                response = handler(context)
                if context.applied:
                    response.headers.append(("Preference-Applied", ", ".join(dict.fromkeys(context.applied))))
                return response
            finally:
                self.throttling.release(caller.app_id, mailbox.user_id)

        return self._respond(request, run)

    def _link(self, request: Request, params: Mapping[str, str]) -> str:
        """An absolute link to the same path with new query parameters (``$skiptoken``...)."""
        path = quote(request.path, safe="/()'$:@!*,;=")
        return f"{self.base_url}{path}?{urlencode(params, safe='$')}"

    def _context_url(self, mailbox: Mailbox, tail: str) -> str:
        return f"{self.base_url}/v1.0/$metadata#users('{quote(mailbox.user_id)}')/{tail}"

    # -- users -------------------------------------------------------------------------------------

    def _get_user(self, request: Request) -> Response:
        def run() -> Response:
            caller = self._caller(request)
            wanted = request.params.get("user") or caller.user_id
            if wanted is None:
                raise GraphError(
                    400, "BadRequest", "/me request is only valid with delegated authentication flow."
                )
            tenant = self.identity.directory.tenant(caller.tenant_id)
            person = (
                (tenant.user(unquote(wanted)) or tenant.user_by_email(unquote(wanted))) if tenant else None
            )
            if person is None:
                raise GraphError(
                    404,
                    "Request_ResourceNotFound",
                    f"Resource '{wanted}' does not exist or one of its queried reference-property objects "
                    "are not present.",
                )
            is_self = caller.user_id == person.oid
            if not is_self and not (caller.granted() & (_USERS_APP if caller.is_app_only else _USERS_OTHERS)):
                raise GraphError(
                    403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
                )
            body = {"@odata.context": f"{self.base_url}/v1.0/$metadata#users/$entity", **_user_json(person)}
            return _json(body)

        return self._respond(request, run)

    def _list_users(self, request: Request) -> Response:
        def run() -> Response:
            caller = self._caller(request)
            if not (caller.granted() & (_USERS_APP if caller.is_app_only else _USERS_OTHERS)):
                raise GraphError(
                    403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
                )
            tenant = self.identity.directory.tenant(caller.tenant_id)
            people = list(tenant.users) if tenant else []
            return _json(
                {
                    "@odata.context": f"{self.base_url}/v1.0/$metadata#users",
                    "value": [_user_json(p) for p in people],
                }
            )

        return self._respond(request, run)

    def _get_mailbox_settings(self, request: Request) -> Response:
        def handler(context: _Context) -> Response:
            box = context.mailbox
            return _json(
                {
                    "@odata.context": self._context_url(box, "mailboxSettings"),
                    "timeZone": box.settings_time_zone,
                    "dateFormat": "M/d/yyyy",
                    "timeFormat": "h:mm tt",
                    "language": {"locale": "en-US", "displayName": "English (United States)"},
                    "workingHours": {
                        "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
                        "startTime": "08:00:00.0000000",
                        "endTime": "17:00:00.0000000",
                        "timeZone": {"name": box.settings_time_zone},
                    },
                    "automaticRepliesSetting": {"status": "disabled"},
                    "delegateMeetingMessageDeliveryOptions": "sendToDelegateOnly",
                    "userPurpose": "user",
                }
            )

        return self._mailbox_call(request, _SETTINGS, handler)

    # -- mail folders ------------------------------------------------------------------------------

    def _folder_param(self, context: _Context) -> WellKnownFolder:
        raw = context.request.params.get("qfolder") or context.request.params.get("folder") or ""
        folder = _folder_from_id(context.mailbox, raw)
        if folder is None or folder not in MAIL_FOLDERS:
            raise GraphError(404, "ErrorInvalidIdMalformed", "Id is malformed.")
        return folder

    def _folder_json(self, mailbox: Mailbox, folder: WellKnownFolder) -> dict[str, Any]:
        messages = self.store.messages(mailbox.user_id, folder)
        return {
            "id": _folder_id(mailbox, folder),
            "displayName": folder_display_name(folder),
            "parentFolderId": "AQMkA"
            + base64.urlsafe_b64encode(f"{mailbox.user_id}:root".encode()).decode("ascii"),
            "childFolderCount": 0,
            "unreadItemCount": sum(1 for m in messages if not m.is_read),
            "totalItemCount": len(messages),
            "sizeInBytes": sum(len(m.body) + 512 for m in messages),
            "isHidden": False,
        }

    def _list_folders(self, request: Request) -> Response:
        def handler(context: _Context) -> Response:
            box = context.mailbox
            return _json(
                {
                    "@odata.context": self._context_url(box, "mailFolders"),
                    "value": [self._folder_json(box, f) for f in MAIL_FOLDERS],
                }
            )

        return self._mailbox_call(request, _MAIL, handler)

    def _get_folder(self, request: Request) -> Response:
        def handler(context: _Context) -> Response:
            folder = self._folder_param(context)
            body = {
                "@odata.context": self._context_url(context.mailbox, "mailFolders/$entity"),
                **self._folder_json(context.mailbox, folder),
            }
            return _json(body)

        return self._mailbox_call(request, _MAIL, handler)

    # -- messages ----------------------------------------------------------------------------------

    def _message_json(
        self, context: _Context, message: Message, select: Sequence[str] | None
    ) -> dict[str, Any]:
        immutable = context.immutable_ids
        box = context.mailbox
        item_id = message.item_key if immutable else message.item_id
        full: dict[str, Any] = {
            "@odata.etag": f'W/"{message.change_key}"',
            "id": item_id,
            "createdDateTime": graph_datetime(message.created_at),
            "lastModifiedDateTime": graph_datetime(message.modified_at),
            "changeKey": message.change_key,
            "categories": list(message.categories),
            "receivedDateTime": graph_datetime(message.received_at),
            "sentDateTime": graph_datetime(message.sent_at),
            "hasAttachments": False,
            "internetMessageId": message.internet_message_id,
            "subject": message.subject,
            "bodyPreview": message.body_preview,
            "importance": message.importance,
            "parentFolderId": _folder_id(box, message.folder),
            "conversationId": message.conversation_id,
            "conversationIndex": base64.b64encode(message.conversation_id.encode()[:22]).decode("ascii"),
            "isDeliveryReceiptRequested": False,
            "isReadReceiptRequested": False,
            "isRead": message.is_read,
            "isDraft": message.is_draft,
            "webLink": f"{self.base_url}/owa/?ItemID={quote(item_id, safe='')}&viewmodel=ReadMessageItem",
            "inferenceClassification": "focused",
            "body": {"contentType": "text", "content": message.body},
            "sender": _email(message.sender),
            "from": _email(message.sender),
            "toRecipients": [_email(r) for r in message.to],
            "ccRecipients": [_email(r) for r in message.cc],
            "bccRecipients": [_email(r) for r in message.bcc],
            "replyTo": [],
            "flag": {"flagStatus": "notFlagged"},
        }
        if select is not None and "internetMessageHeaders" in select:
            # Graph returns the headers only when asked for by $select.
            full["internetMessageHeaders"] = [{"name": k, "value": v} for k, v in message.headers]
        if select is not None and "uniqueBody" in select:
            full["uniqueBody"] = full["body"]
        if context.basic_only:
            for name in _BODY_PROPERTIES:
                full.pop(name, None)
        return _apply_select(full, select)

    def _get_message(self, request: Request) -> Response:
        def handler(context: _Context) -> Response:
            select = _select(request, MESSAGE_PROPERTIES, "microsoft.graph.message")
            # A regular id that went stale when the item moved finds nothing (hence immutable ids).
            message = self.store.message(context.mailbox.user_id, request.params["item"])
            restricted = request.params.get("qfolder") or request.params.get("folder")
            if message is not None and restricted and self._folder_param(context) != message.folder:
                message = None
            if message is None:
                raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
            body = {
                "@odata.context": self._context_url(context.mailbox, "messages/$entity"),
                **self._message_json(context, message, select),
            }
            return _json(body)

        return self._mailbox_call(request, _MAIL, handler)

    def _list_folder_messages(self, request: Request) -> Response:
        return self._list_messages(request, folder_scoped=True)

    def _list_all_messages(self, request: Request) -> Response:
        return self._list_messages(request, folder_scoped=False)

    def _list_messages(self, request: Request, *, folder_scoped: bool) -> Response:
        def handler(context: _Context) -> Response:
            select = _select(request, MESSAGE_PROPERTIES, "microsoft.graph.message")
            folder = self._folder_param(context) if folder_scoped else None
            matches = _message_filter(request.arg("$filter"))
            found = [m for m in self.store.messages(context.mailbox.user_id, folder) if matches(m)]
            order = (request.arg("$orderby") or "receivedDateTime desc").strip()
            key_name, _, direction = order.partition(" ")
            attribute = {
                "receivedDateTime": "received_at",
                "sentDateTime": "sent_at",
                "subject": "subject",
            }.get(key_name)
            if attribute is None:
                raise GraphError(400, "BadRequest", f"The $orderby property '{key_name}' is not supported.")
            found.sort(
                key=lambda m: (getattr(m, attribute) is None, getattr(m, attribute) or ""),
                reverse=direction.strip().lower() == "desc",
            )
            top = _int_arg(request, "$top", context.page_size(self.settings), 1, 1000)
            skip = _int_arg(request, "$skip", 0, 0, 10**9)
            page = found[skip : skip + top]
            body: dict[str, Any] = {
                "@odata.context": self._context_url(context.mailbox, "messages"),
                "value": [self._message_json(context, m, select) for m in page],
            }
            if skip + top < len(found):
                params = {k: v[0] for k, v in request.query.items() if k not in ("$skip",)}
                params["$skip"] = str(skip + top)
                body["@odata.nextLink"] = self._link(request, params)
            return _json(body)

        return self._mailbox_call(request, _MAIL, handler)

    def _message_delta(self, request: Request) -> Response:
        def handler(context: _Context) -> Response:
            box = context.mailbox
            folder = self._folder_param(context)
            state = self._delta_state(request, box, kind="m", scope=str(folder))
            if state is None:
                select = _select(request, MESSAGE_PROPERTIES, "microsoft.graph.message")
                change_type = request.arg("changeType")
                if change_type is not None and change_type not in ("created", "updated", "deleted"):
                    raise GraphError(400, "BadRequest", f"'{change_type}' is not a valid changeType.")
                _message_filter(request.arg("$filter"))  # reject a bad filter before handing out tokens
                state = {
                    "k": "m",
                    "u": box.user_id,
                    "s": str(folder),
                    "e": self.store.sync_epoch(box.user_id),
                    "f": None,
                    "t": self.store.latest_sequence(box.user_id, folder),
                    "c": 0,
                    "sel": list(select) if select is not None else None,
                    "flt": request.arg("$filter"),
                    "ct": change_type,
                }
            select_baked = tuple(state["sel"]) if state.get("sel") is not None else None
            matches = _message_filter(state.get("flt"))
            size = context.page_size(self.settings)
            emissions = self._message_emissions(context, folder, state, matches)
            page, more = emissions[:size], len(emissions) > size
            values: list[dict[str, Any]] = []
            for _, change, message in page:
                if message is None:
                    values.append(_removed("#microsoft.graph.message", _removed_id(context, change)))
                else:
                    item = self._message_json(context, message, select_baked)
                    values.append({"@odata.type": "#microsoft.graph.message", **item})
            body: dict[str, Any] = {
                "@odata.context": self._context_url(box, "messages/$delta"),
                "value": values,
            }
            self._finish_delta(request, body, state, page[-1][0] if page else None, more)
            return _json(body)

        return self._mailbox_call(request, _MAIL, handler)

    def _message_emissions(
        self,
        context: _Context,
        folder: WellKnownFolder,
        state: Mapping[str, Any],
        matches: Callable[[Message], bool],
    ) -> list[tuple[int, Change | None, Message | None]]:
        """What the rest of a delta round reports, in order: ``(sequence, change, message-or-removed)``.

        A full sync lists the folder's current messages. An incremental round reports each item once
        with its latest state (or as removed), plus every replayed change again.
        """
        box = context.mailbox
        cursor, upto = int(state["c"]), int(state["t"])
        if state["f"] is None:
            return [
                (m.sequence, None, m)
                for m in self.store.messages(box.user_id, folder)
                if cursor < m.sequence <= upto and matches(m)
            ]
        try:
            changes = self.store.changes(box.user_id, folder, max(int(state["f"]), cursor), upto)
        except SyncStateTooOldError as error:
            raise _sync_state_gone(state.get("e"), self.store.sync_epoch(box.user_id)) from error
        immutable = context.immutable_ids
        change_type = state.get("ct")
        latest: dict[str, tuple[int, Change, Message | None]] = {}
        extra: list[tuple[int, Change, Message | None]] = []
        for change in changes:
            if change.kind == ChangeKind.DELETED:
                entry: tuple[int, Change, Message | None] = (change.sequence, change, None)
                key = change.item_key if immutable else change.item_id
            else:
                message = self.store.message(box.user_id, change.item_key)
                if message is None or message.folder != folder or not matches(message):
                    continue  # gone or moved on since: a later removal reports it
                entry = (change.sequence, change, message)
                key = message.item_key if immutable else message.item_id
            if change_type and _change_type_of(change) != change_type:
                continue
            if change.replayed:
                extra.append(entry)
            else:
                latest[key] = entry
        return sorted([*latest.values(), *extra], key=lambda e: e[0])

    def _delta_state(
        self, request: Request, mailbox: Mailbox, *, kind: str, scope: str
    ) -> dict[str, Any] | None:
        """The state carried by ``$skiptoken``/``$deltatoken``, checked; None for a new initial sync."""
        skip, delta = request.arg("$skiptoken"), request.arg("$deltatoken")
        token = skip or delta
        if token is None:
            return None
        epoch = self.store.sync_epoch(mailbox.user_id)
        state = _decode_state(token)
        if (
            state is None
            or state.get("k") != kind
            or state.get("u") != mailbox.user_id
            or state.get("s") != scope
        ):
            raise _sync_state_gone("unknown", epoch)
        if state.get("e") != epoch:
            raise _sync_state_gone(state.get("e"), epoch)
        issued = datetime.fromtimestamp(float(state.get("i", 0)), UTC)
        if self.clock.now() - issued > self.settings.delta_token_lifetime:
            raise _sync_state_gone(state.get("e"), epoch)
        if delta is not None:
            # A delta token starts a new round: from where the last one ended up to now.
            folder = WellKnownFolder.CALENDAR if kind == "c" else WellKnownFolder(scope)
            state = {**state, "f": state["t"], "c": state["t"], "ci": 0}
            state["t"] = self.store.latest_sequence(mailbox.user_id, folder)
        if state.get("f") is not None and int(state["f"]) < self.store.oldest_sequence(
            mailbox.user_id, WellKnownFolder.CALENDAR if kind == "c" else WellKnownFolder(scope)
        ):
            raise _sync_state_gone(state.get("e"), epoch)
        return state

    def _finish_delta(
        self, request: Request, body: dict[str, Any], state: Mapping[str, Any], last: int | None, more: bool
    ) -> None:
        """Add ``@odata.nextLink`` (more of this round) or ``@odata.deltaLink`` (round complete)."""
        issued = int(self.clock.now().timestamp())
        if more:
            token = _encode_state({**state, "c": last if last is not None else state["c"], "i": issued})
            body["@odata.nextLink"] = self._link(request, {"$skiptoken": token})
        else:
            token = _encode_state({**state, "f": state["t"], "c": state["t"], "ci": 0, "i": issued})
            body["@odata.deltaLink"] = self._link(request, {"$deltatoken": token})

    # -- calendar ----------------------------------------------------------------------------------

    def _event_json(
        self, context: _Context, instance: EventInstance, *, stripped: bool = False
    ) -> dict[str, Any]:
        zone_name, zone = context.output_zone()
        event = instance.event
        immutable = context.immutable_ids
        instance_id = instance.item_key if immutable else instance.item_id
        master_id = (
            (event.item_key if immutable else event.item_id) if instance.kind != "singleInstance" else None
        )
        etag = f'W/"{event.change_key}"'
        start, end = _event_times(instance, event, zone_name, zone)
        if stripped:
            return {
                "@odata.type": "#microsoft.graph.event",
                "@odata.etag": etag,
                "id": instance_id,
                "seriesMasterId": master_id,
                "type": instance.kind,
                "start": start,
                "end": end,
            }
        owner = context.mailbox
        original_zone = _zone_label(event.time_zone, owner)
        full: dict[str, Any] = {
            "@odata.type": "#microsoft.graph.event",
            "@odata.etag": etag,
            "id": instance_id,
            "createdDateTime": _precise(event.created_at),
            "lastModifiedDateTime": _precise(event.modified_at),
            "changeKey": event.change_key,
            "categories": [],
            "transactionId": None,
            "originalStartTimeZone": original_zone,
            "originalEndTimeZone": original_zone,
            "iCalUId": event.ical_uid,
            "uid": event.ical_uid,
            "reminderMinutesBeforeStart": 15,
            "isReminderOn": not event.is_all_day,
            "hasAttachments": False,
            "subject": instance.subject,
            "bodyPreview": event.body_preview,
            "importance": "normal",
            "sensitivity": "normal",
            "isAllDay": event.is_all_day,
            "isCancelled": event.is_cancelled,
            "isOrganizer": event.is_organizer,
            "responseRequested": True,
            "seriesMasterId": master_id,
            "showAs": event.show_as,
            "type": instance.kind,
            "webLink": f"{self.base_url}/owa/?itemid={quote(instance_id, safe='')}&path=/calendar/item",
            "onlineMeetingUrl": None,
            "isOnlineMeeting": False,
            "onlineMeetingProvider": "unknown",
            "allowNewTimeProposals": True,
            "isDraft": False,
            "hideAttendees": False,
            "responseStatus": {
                "response": event.response,
                "time": graph_datetime(event.response_time) or "0001-01-01T00:00:00Z",
            },
            "body": {"contentType": "text", "content": event.body},
            "start": start,
            "end": end,
            "location": {
                "displayName": event.location,
                "locationType": "default",
                "uniqueIdType": "unknown" if not event.location else "private",
                "address": {},
                "coordinates": {},
            },
            "locations": [{"displayName": event.location, "locationType": "default"}]
            if event.location
            else [],
            "recurrence": (
                event.recurrence.to_graph(original_zone)
                if event.recurrence is not None and instance.kind == "singleInstance"
                else None
            ),
            "attendees": [
                {
                    "type": a.type,
                    "status": {
                        "response": a.response,
                        "time": graph_datetime(a.response_time) or "0001-01-01T00:00:00Z",
                    },
                    "emailAddress": {"name": a.name or a.address, "address": a.address},
                }
                for a in event.attendees
            ],
            "organizer": _email(event.organizer),
            "onlineMeeting": None,
        }
        if instance.original_start is not None:
            full["originalStart"] = graph_datetime(instance.original_start)
        return full

    def _master_json(self, context: _Context, event: CalendarEvent) -> dict[str, Any]:
        """A stored item (single meeting or series master) as ``GET /events/{id}`` returns it."""
        kind = "seriesMaster" if event.recurrence else "singleInstance"
        immutable = context.immutable_ids
        item_id = event.item_key if immutable else event.item_id
        instance = EventInstance(
            event, "singleInstance", event.start, event.end, event.subject, None, item_id, event.item_key
        )
        json_body = self._event_json(context, instance)
        json_body["type"] = kind
        json_body["seriesMasterId"] = None
        return json_body

    def _find_instance(self, context: _Context, item: str) -> EventInstance | CalendarEvent:
        """An event id (single or master) or an occurrence id, resolved; raises 404."""
        box = context.mailbox
        event = self.store.event(box.user_id, item)
        if event is not None and item in (event.item_id, event.item_key):
            return event
        parsed = parse_occurrence_id(item)
        if parsed is not None:
            master_id, original = parsed
            master = self.store.event(box.user_id, master_id)
            if master is not None and master.recurrence is not None:
                override = master.exceptions.get(iso_utc(original))
                in_series = original in series_starts(
                    master, original - timedelta(seconds=1), original + timedelta(seconds=1)
                )
                if in_series and not (override and override.cancelled):
                    duration = master.end - master.start
                    start = override.start if override and override.start else original
                    end = override.end if override and override.end else start + duration
                    subject = (
                        override.subject if override and override.subject is not None else master.subject
                    )
                    return EventInstance(
                        master,
                        "exception" if override else "occurrence",
                        start,
                        end,
                        subject,
                        original,
                        occurrence_id(master.item_id, original),
                        occurrence_id(master.item_key, original),
                    )
        raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")

    def _get_event(self, request: Request) -> Response:
        def handler(context: _Context) -> Response:
            select = _select(request, EVENT_PROPERTIES, "microsoft.graph.event")
            found = self._find_instance(context, request.params["item"])
            full = (
                self._master_json(context, found)
                if isinstance(found, CalendarEvent)
                else self._event_json(context, found)
            )
            body = {
                "@odata.context": self._context_url(context.mailbox, "events/$entity"),
                **_apply_select(full, select),
            }
            return _json(body)

        return self._mailbox_call(request, _CALENDAR, handler)

    def _list_events(self, request: Request) -> Response:
        def handler(context: _Context) -> Response:
            select = _select(request, EVENT_PROPERTIES, "microsoft.graph.event")
            events = sorted(self.store.events(context.mailbox.user_id), key=lambda e: e.start)
            top = _int_arg(request, "$top", context.page_size(self.settings), 1, 1000)
            skip = _int_arg(request, "$skip", 0, 0, 10**9)
            body: dict[str, Any] = {
                "@odata.context": self._context_url(context.mailbox, "events"),
                "value": [
                    _apply_select(self._master_json(context, e), select) for e in events[skip : skip + top]
                ],
            }
            if skip + top < len(events):
                params = {k: v[0] for k, v in request.query.items() if k != "$skip"}
                params["$skip"] = str(skip + top)
                body["@odata.nextLink"] = self._link(request, params)
            return _json(body)

        return self._mailbox_call(request, _CALENDAR, handler)

    def _instances_in(self, context: _Context, start: datetime, end: datetime) -> list[EventInstance]:
        immutable = context.immutable_ids
        found = [
            instance
            for event in self.store.events(context.mailbox.user_id)
            for instance in expand_event(event, start, end, immutable_ids=immutable)
        ]
        found.sort(key=lambda instance: (instance.start, instance.item_id))
        return found

    def _calendar_view(self, request: Request) -> Response:
        def handler(context: _Context) -> Response:
            select = _select(request, EVENT_PROPERTIES, "microsoft.graph.event")
            start, end = _window(request)
            instances = self._instances_in(context, start, end)
            top = _int_arg(request, "$top", context.page_size(self.settings), 1, 1000)
            skip = _int_arg(request, "$skip", 0, 0, 10**9)
            body: dict[str, Any] = {
                "@odata.context": self._context_url(context.mailbox, "calendarView"),
                "value": [
                    _apply_select(self._event_json(context, i), select) for i in instances[skip : skip + top]
                ],
            }
            if skip + top < len(instances):
                params = {k: v[0] for k, v in request.query.items() if k != "$skip"}
                params["$skip"] = str(skip + top)
                body["@odata.nextLink"] = self._link(request, params)
            return _json(body)

        return self._mailbox_call(request, _CALENDAR, handler)

    def _event_instances(self, request: Request) -> Response:
        def handler(context: _Context) -> Response:
            select = _select(request, EVENT_PROPERTIES, "microsoft.graph.event")
            start, end = _window(request)
            found = self._find_instance(context, request.params["item"])
            if not isinstance(found, CalendarEvent) or found.recurrence is None:
                values: list[dict[str, Any]] = []
            else:
                values = [
                    _apply_select(self._event_json(context, i), select)
                    for i in expand_event(found, start, end, immutable_ids=context.immutable_ids)
                ]
            return _json({"@odata.context": self._context_url(context.mailbox, "events"), "value": values})

        return self._mailbox_call(request, _CALENDAR, handler)

    def _calendar_delta(self, request: Request) -> Response:
        def handler(context: _Context) -> Response:
            box = context.mailbox
            state = self._delta_state(request, box, kind="c", scope="calendar")
            if state is None:
                start, end = _window(request)
                state = {
                    "k": "c",
                    "u": box.user_id,
                    "s": "calendar",
                    "e": self.store.sync_epoch(box.user_id),
                    "f": None,
                    "t": self.store.latest_sequence(box.user_id, WellKnownFolder.CALENDAR),
                    "c": 0,
                    "ws": iso_utc(start),
                    "we": iso_utc(end),
                }
            window = _window(request, state)
            size = context.page_size(self.settings)
            emissions = self._calendar_emissions(context, state, window)
            values, last, partial, more = _calendar_page(emissions, int(state.get("ci") or 0), size)
            body: dict[str, Any] = {
                "@odata.context": self._context_url(box, "events/$delta"),
                "value": values,
            }
            self._finish_delta(request, body, {**state, "ci": partial}, last, more)
            return _json(body)

        return self._mailbox_call(request, _CALENDAR, handler)

    def _calendar_emissions(
        self, context: _Context, state: Mapping[str, Any], window: tuple[datetime, datetime]
    ) -> list[tuple[int, list[dict[str, Any]]]]:
        """The rest of a calendar delta round: ``(sequence, entries)`` per changed item, in order."""
        box = context.mailbox
        start, end = window
        cursor, upto = int(state["c"]), int(state["t"])
        if state["f"] is None:
            emissions = []
            for event in self.store.events(box.user_id):
                if cursor < event.sequence <= upto:
                    instances = expand_event(event, start, end, immutable_ids=context.immutable_ids)
                    if instances:
                        emissions.append(
                            (event.sequence, [self._delta_event_json(context, i) for i in instances])
                        )
            return emissions
        try:
            changes = self.store.changes(
                box.user_id, WellKnownFolder.CALENDAR, max(int(state["f"]), cursor), upto
            )
        except SyncStateTooOldError as error:
            raise _sync_state_gone(state.get("e"), self.store.sync_epoch(box.user_id)) from error
        latest: dict[tuple[str, str | None], Change] = {}
        extra: list[Change] = []
        for change in changes:
            if change.replayed:
                extra.append(change)
            else:
                latest[(change.item_key, change.occurrence)] = change
        ordered = sorted([*latest.values(), *extra], key=lambda c: c.sequence)
        emissions = []
        for change in ordered:
            items = self._calendar_change_entries(context, change, start, end)
            if items:
                emissions.append((change.sequence, items))
        return emissions

    def _calendar_change_entries(
        self, context: _Context, change: Change, start: datetime, end: datetime
    ) -> list[dict[str, Any]]:
        box = context.mailbox
        immutable = context.immutable_ids
        event = self.store.event(box.user_id, change.item_key)
        if event is None:
            gone = self.store.event(box.user_id, change.item_key, include_deleted=True)
            if gone is None:
                return [_removed("#microsoft.graph.event", change.item_key if immutable else change.item_id)]
            return [
                _removed("#microsoft.graph.event", i.item_key if immutable else i.item_id)
                for i in expand_event(gone, start, end, immutable_ids=immutable)
            ]
        instances = expand_event(event, start, end, immutable_ids=immutable)
        base_id = event.item_key if immutable else event.item_id
        if change.occurrence is not None and event.recurrence is not None:
            original = datetime.fromisoformat(change.occurrence.replace("Z", "+00:00"))
            chosen = [i for i in instances if i.original_start == original]
            if chosen:
                return [self._delta_event_json(context, i) for i in chosen]
            return [_removed("#microsoft.graph.event", occurrence_id(base_id, original))]
        if not instances and event.recurrence is None:
            return [_removed("#microsoft.graph.event", base_id)]  # moved out of the window
        return [self._delta_event_json(context, i) for i in instances]

    def _delta_event_json(self, context: _Context, instance: EventInstance) -> dict[str, Any]:
        return self._event_json(context, instance, stripped=instance.kind == "occurrence")

    # -- subscriptions -----------------------------------------------------------------------------

    def _subscription_need(self, scope: str) -> _Need:
        return _CALENDAR if scope == "events" else _MAIL

    def _create_subscription(self, request: Request) -> Response:
        def run() -> Response:
            caller = self._caller(request)
            body = _json_body(request)
            resource_text = body.get("resource")
            if not isinstance(resource_text, str) or not resource_text.strip():
                raise GraphError(400, "InvalidRequest", "'resource' is required.")
            resource = parse_resource(resource_text)
            mailbox = self._resolve_mailbox(caller, None if resource.is_me else resource.mailbox)
            self._authorize(caller, mailbox, self._subscription_need(resource.scope))
            prefer = _parse_prefer(request)
            immutable = prefer.get("idtype", "").lower() == "immutableid"
            subscription = self.notifications.create(
                tenant_id=caller.tenant_id,
                application_id=caller.app_id,
                creator_id=caller.user_id or self._service_principal(caller),
                mailbox_id=mailbox.user_id,
                resource=resource,
                body=body,
                immutable_ids=immutable,
            )
            response = _json(subscription.to_graph(self.base_url), 201)
            if immutable:
                response.headers.append(("Preference-Applied", 'IdType="ImmutableId"'))
            return response

        return self._respond(request, run)

    def _service_principal(self, caller: Caller) -> str:
        tenant = self.identity.directory.tenant(caller.tenant_id)
        return tenant.service_principal_id(caller.app_id) if tenant else caller.app_id

    def _list_subscriptions(self, request: Request) -> Response:
        def run() -> Response:
            caller = self._caller(request)
            found = self.notifications.subscriptions_of(
                tenant_id=caller.tenant_id, application_id=caller.app_id
            )
            values = [s.to_graph(self.base_url) for s in found]
            for value in values:
                value.pop("@odata.context", None)
            return _json({"@odata.context": f"{self.base_url}/v1.0/$metadata#subscriptions", "value": values})

        return self._respond(request, run)

    def _get_subscription(self, request: Request) -> Response:
        def run() -> Response:
            caller = self._caller(request)
            found = self.notifications.get(request.params["sub"], application_id=caller.app_id)
            return _json(found.to_graph(self.base_url))

        return self._respond(request, run)

    def _renew_subscription(self, request: Request) -> Response:
        def run() -> Response:
            caller = self._caller(request)
            body = _json_body(request)
            renewed = self.notifications.renew(
                request.params["sub"], body.get("expirationDateTime"), application_id=caller.app_id
            )
            return _json(renewed.to_graph(self.base_url))

        return self._respond(request, run)

    def _delete_subscription(self, request: Request) -> Response:
        def run() -> Response:
            caller = self._caller(request)
            self.notifications.delete(request.params["sub"], application_id=caller.app_id)
            return Response(204)

        return self._respond(request, run)

    def _reauthorize_subscription(self, request: Request) -> Response:
        def run() -> Response:
            caller = self._caller(request)
            self.notifications.reauthorize(request.params["sub"], application_id=caller.app_id)
            return Response(204)

        return self._respond(request, run)

    # -- $batch ------------------------------------------------------------------------------------

    def _batch(self, request: Request) -> Response:
        def run() -> Response:
            body = _json_body(request)
            requests_ = body.get("requests")
            if not isinstance(requests_, list) or not requests_:
                raise GraphError(400, "BadRequest", "The batch request must contain a 'requests' array.")
            limit = self.settings.max_batch_requests
            if len(requests_) > limit:
                raise GraphError(
                    400, "BadRequest", f"The number of requests in the batch exceeds the limit of {limit}."
                )
            ids = [str(item.get("id")) if isinstance(item, dict) else "" for item in requests_]
            if any(not i or i == "None" for i in ids) or len(set(ids)) != len(ids):
                raise GraphError(400, "BadRequest", "Every request in a batch needs a unique 'id'.")
            statuses: dict[str, int] = {}
            responses = []
            for item in requests_:
                responses.append(self._batch_item(request, item, statuses))
            return _json({"responses": responses})

        return self._respond(request, run)

    def _batch_item(
        self, outer: Request, item: Mapping[str, Any], statuses: dict[str, int]
    ) -> dict[str, Any]:
        item_id = str(item["id"])
        depends = item.get("dependsOn") or []
        if any(statuses.get(str(d), 0) >= 400 or str(d) not in statuses for d in depends):
            statuses[item_id] = 424
            return {
                "id": item_id,
                "status": 424,
                "headers": {},
                "body": _error_body("FailedDependency", "A dependency failed."),
            }
        method = str(item.get("method") or "").upper()
        url = str(item.get("url") or "")
        if method not in ("GET", "POST", "PATCH", "PUT", "DELETE") or not url or "://" in url:
            statuses[item_id] = 400
            return {
                "id": item_id,
                "status": 400,
                "headers": {},
                "body": _error_body("BadRequest", "Each batch request needs a method and a relative url."),
            }
        split = urlsplit("/" + url.lstrip("/"))
        path = unquote(split.path)
        if not path.startswith("/v1.0/"):
            path = "/v1.0" + path
        if path.rstrip("/").endswith("$batch"):
            statuses[item_id] = 400
            return {
                "id": item_id,
                "status": 400,
                "headers": {},
                "body": _error_body("BadRequest", "Batches cannot nest."),
            }
        headers = HeaderBlock()
        for name, value in (item.get("headers") or {}).items():
            headers[str(name)] = str(value)
        if outer.header("Authorization") and "Authorization" not in headers:
            headers["Authorization"] = str(outer.header("Authorization"))
        raw_body = item.get("body")
        payload = b""
        if raw_body is not None:
            payload = (
                raw_body.encode("utf-8")
                if isinstance(raw_body, str)
                else json.dumps(raw_body).encode("utf-8")
            )
            if "Content-Type" not in headers:
                headers["Content-Type"] = "application/json"
        inner = Request(
            method,
            path,
            parse_qs(split.query, keep_blank_values=True),
            headers,
            payload,
            outer.client_address,
        )
        response = self.server.router.dispatch(inner)
        statuses[item_id] = response.status
        result: dict[str, Any] = {
            "id": item_id,
            "status": response.status,
            "headers": {k: v for k, v in response.headers if k.lower() not in ("content-length",)},
        }
        if response.body:
            content_type = (response.header("Content-Type") or "").lower()
            if "json" in content_type:
                result["body"] = json.loads(response.body)
            else:
                result["body"] = base64.b64encode(response.body).decode("ascii")
        return result

    # =============================================================================================
    # Scripting routes (no authentication: loopback only, for the CLI and browser tests)
    # =============================================================================================

    def _register_scripting_routes(self) -> None:
        add = self.server.add_route
        m = r"^/_sim/mailboxes/(?P<mailbox>[^/]+)"
        add("GET", r"^/_sim/mailboxes$", self._sim_list_mailboxes)
        add("POST", rf"{m}/messages/inbound$", self._sim_inbound)
        add("POST", rf"{m}/messages/sent$", self._sim_sent)
        add("POST", rf"{m}/messages/(?P<item>[^/]+)/read$", self._sim_read)
        add("DELETE", rf"{m}/messages/(?P<item>[^/]+)$", self._sim_delete_message)
        add("POST", rf"{m}/events$", self._sim_create_meeting)
        add("POST", rf"{m}/events/(?P<item>[^/]+)/respond$", self._sim_respond)
        add("POST", rf"{m}/events/(?P<item>[^/]+)/cancel$", self._sim_cancel)
        add("POST", rf"{m}/events/(?P<item>[^/]+)/exceptions$", self._sim_move_occurrence)
        add("POST", rf"{m}/expire-delta-tokens$", self._sim_expire_tokens)
        add("POST", rf"{m}/replay$", self._sim_replay)
        add("POST", rf"{m}/throttle$", self._sim_throttle)
        add("GET", r"^/_sim/graph/requests$", self._sim_request_counts)
        add("DELETE", r"^/_sim/graph/requests$", self._sim_reset_counts)
        add("GET", r"^/_sim/subscriptions$", self._sim_list_subscriptions)
        add("POST", r"^/_sim/subscriptions/(?P<sub>[^/]+)/lifecycle$", self._sim_lifecycle)
        add("POST", r"^/_sim/subscriptions/(?P<sub>[^/]+)/expire$", self._sim_expire_subscription)
        add("GET", r"^/_sim/clock$", self._sim_clock)
        add("POST", r"^/_sim/clock/advance$", self._sim_advance_clock)

    def _script(self, request: Request, action: Callable[[dict[str, Any]], tuple[int, Any]]) -> Response:
        """Run a scripting action on the JSON body; bad input is a 400, unknown ids a 404."""
        try:
            body = _json_body(request) if request.body.strip() else {}
            status, result = action(body)
        except GraphError as error:
            return _json(_error_body(error.code, error.message), error.status)
        except (MailboxNotFoundError, ItemNotFoundError, LookupError) as error:
            return _json(_error_body("NotFound", _key_error_text(error)), 404)
        except SubscriptionError as error:
            return _json(_error_body(error.code, error.message), error.status)
        except (ValueError, TypeError) as error:
            return _json(_error_body("BadRequest", str(error)), 400)
        return Response(204) if result is None else _json(result, status)

    def _sim_list_mailboxes(self, request: Request) -> Response:
        def action(_: dict[str, Any]) -> tuple[int, Any]:
            counts = self.throttling.counts()
            return 200, {
                "value": [
                    {
                        **box.to_dict(),
                        "folders": {str(f): len(self.store.messages(box.user_id, f)) for f in MAIL_FOLDERS},
                        "events": len(self.store.events(box.user_id)),
                        "graphRequests": counts.get(box.user_id, 0),
                    }
                    for box in self.store.mailboxes()
                ]
            }

        return self._script(request, action)

    def _sim_inbound(self, request: Request) -> Response:
        def action(body: dict[str, Any]) -> tuple[int, Any]:
            message = self.deliver_message(
                request.params["mailbox"],
                sender=_recipient_from_json(_required(body, "from")),
                subject=str(_required(body, "subject")),
                body=str(body.get("body") or ""),
                to=[_recipient_from_json(r) for r in body["to"]] if body.get("to") else None,
                cc=[_recipient_from_json(r) for r in body.get("cc") or ()],
                headers=_headers_from_json(body.get("headers")),
                received_at=_optional_moment(body.get("receivedDateTime")),
                internet_message_id=body.get("internetMessageId"),
                conversation_id=body.get("conversationId"),
                is_read=bool(body.get("isRead")),
                categories=[str(c) for c in body.get("categories") or ()],
            )
            return 201, _message_summary(message)

        return self._script(request, action)

    def _sim_sent(self, request: Request) -> Response:
        def action(body: dict[str, Any]) -> tuple[int, Any]:
            message = self.send_message(
                request.params["mailbox"],
                to=[_recipient_from_json(r) for r in _required(body, "to")],
                subject=str(_required(body, "subject")),
                body=str(body.get("body") or ""),
                cc=[_recipient_from_json(r) for r in body.get("cc") or ()],
                headers=_headers_from_json(body.get("headers")),
                sent_at=_optional_moment(body.get("sentDateTime")),
                correlation_id=body.get("correlationId"),
                internet_message_id=body.get("internetMessageId"),
                conversation_id=body.get("conversationId"),
            )
            return 201, _message_summary(message)

        return self._script(request, action)

    def _sim_read(self, request: Request) -> Response:
        def action(body: dict[str, Any]) -> tuple[int, Any]:
            message = self.mark_read(
                request.params["mailbox"], request.params["item"], bool(body.get("isRead", True))
            )
            return 200, _message_summary(message)

        return self._script(request, action)

    def _sim_delete_message(self, request: Request) -> Response:
        def action(_: dict[str, Any]) -> tuple[int, Any]:
            permanent = (request.arg("permanent") or "").lower() in ("1", "true", "yes")
            moved = self.delete_message(
                request.params["mailbox"], request.params["item"], permanent=permanent
            )
            return 200, (_message_summary(moved) if moved else {"deleted": True})

        return self._script(request, action)

    def _sim_create_meeting(self, request: Request) -> Response:
        def action(body: dict[str, Any]) -> tuple[int, Any]:
            raw_recurrence = body.get("recurrence")
            recurrence = (
                _recurrence_from_json(raw_recurrence) if isinstance(raw_recurrence, Mapping) else None
            )
            copies = self.create_meeting(
                request.params["mailbox"],
                subject=str(_required(body, "subject")),
                start=_moment(_required(body, "start")),
                end=_moment(_required(body, "end")),
                attendees=[_recipient_from_json(a) for a in body.get("attendees") or ()],
                body=str(body.get("body") or ""),
                location=str(body.get("location") or ""),
                time_zone=body.get("timeZone"),
                recurrence=recurrence,
                is_all_day=bool(body.get("isAllDay")),
                show_as=str(body.get("showAs") or "busy"),
            )
            return 201, {
                "iCalUId": next(iter(copies.values())).ical_uid if copies else None,
                "copies": {
                    self.mailbox(user_id).address: {"id": e.item_id, "immutableId": e.item_key}
                    for user_id, e in copies.items()
                },
            }

        return self._script(request, action)

    def _sim_respond(self, request: Request) -> Response:
        def action(body: dict[str, Any]) -> tuple[int, Any]:
            event = self.respond(
                request.params["mailbox"], request.params["item"], str(_required(body, "response"))
            )
            return 200, {"id": event.item_id, "response": event.response}

        return self._script(request, action)

    def _sim_cancel(self, request: Request) -> Response:
        def action(body: dict[str, Any]) -> tuple[int, Any]:
            occurrence = _optional_moment(body.get("occurrenceStart"))
            self.cancel_meeting(
                request.params["mailbox"], request.params["item"], occurrence_start=occurrence
            )
            return 204, None

        return self._script(request, action)

    def _sim_move_occurrence(self, request: Request) -> Response:
        def action(body: dict[str, Any]) -> tuple[int, Any]:
            self.move_occurrence(
                request.params["mailbox"],
                request.params["item"],
                _moment(_required(body, "originalStart")),
                start=_moment(_required(body, "start")),
                end=_moment(_required(body, "end")),
                subject=body.get("subject"),
            )
            return 204, None

        return self._script(request, action)

    def _sim_expire_tokens(self, request: Request) -> Response:
        def action(_: dict[str, Any]) -> tuple[int, Any]:
            return 200, {"syncEpoch": self.expire_delta_tokens(request.params["mailbox"])}

        return self._script(request, action)

    def _sim_replay(self, request: Request) -> Response:
        def action(body: dict[str, Any]) -> tuple[int, Any]:
            folder = parse_folder(str(body.get("folder") or "inbox"))
            if folder is None:
                raise ValueError(f"unknown folder {body.get('folder')!r}")
            replayed = self.replay_last_change(
                request.params["mailbox"], folder, int(body.get("copies") or 1)
            )
            return 200, {"replayed": [c.to_dict() for c in replayed]}

        return self._script(request, action)

    def _sim_throttle(self, request: Request) -> Response:
        def action(body: dict[str, Any]) -> tuple[int, Any]:
            self.throttle(
                request.params["mailbox"],
                int(body.get("count") or 1),
                float(body.get("retryAfter", 1)),
            )
            return 204, None

        return self._script(request, action)

    def _sim_request_counts(self, request: Request) -> Response:
        return self._script(request, lambda _: (200, {"requests": self.request_counts()}))

    def _sim_reset_counts(self, request: Request) -> Response:
        def action(_: dict[str, Any]) -> tuple[int, Any]:
            self.reset_request_counts()
            return 204, None

        return self._script(request, action)

    def _sim_list_subscriptions(self, request: Request) -> Response:
        def action(_: dict[str, Any]) -> tuple[int, Any]:
            return 200, {
                "value": [s.to_graph(self.base_url) for s in self.notifications.all()],
                "delivery": vars(self.notifications.stats),
            }

        return self._script(request, action)

    def _sim_lifecycle(self, request: Request) -> Response:
        def action(body: dict[str, Any]) -> tuple[int, Any]:
            self.fire_lifecycle(request.params["sub"], str(_required(body, "event")))
            return 204, None

        return self._script(request, action)

    def _sim_expire_subscription(self, request: Request) -> Response:
        def action(_: dict[str, Any]) -> tuple[int, Any]:
            self.expire_subscription(request.params["sub"])
            return 204, None

        return self._script(request, action)

    def _sim_clock(self, request: Request) -> Response:
        return self._script(request, lambda _: (200, {"now": graph_datetime(self.clock.now())}))

    def _sim_advance_clock(self, request: Request) -> Response:
        def action(body: dict[str, Any]) -> tuple[int, Any]:
            delta = timedelta(
                seconds=float(body.get("seconds") or 0),
                minutes=float(body.get("minutes") or 0),
                hours=float(body.get("hours") or 0),
                days=float(body.get("days") or 0),
            )
            return 200, {"now": graph_datetime(self.advance_clock(delta))}

        return self._script(request, action)


# --- Module helpers ----------------------------------------------------------------------------------


def _json(data: Any, status: int = 200) -> Response:
    body = json.dumps(data, ensure_ascii=False).encode("utf-8")
    return Response(status, body, [("Content-Type", _JSON_TYPE), ("Cache-Control", "private")])


def _error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = request.json()
    except (ValueError, UnicodeDecodeError) as error:
        raise GraphError(400, "BadRequest", "The request body is not valid JSON.") from error
    if not isinstance(body, dict):
        raise GraphError(400, "BadRequest", "The request body must be a JSON object.")
    return body


def _int_arg(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.arg(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as error:
        raise GraphError(400, "BadRequest", f"'{raw}' is not a valid value for {name}.") from error
    if not low <= value <= high:
        raise GraphError(400, "BadRequest", f"{name} must be between {low} and {high}.")
    return value


def _calendar_page(
    emissions: Sequence[tuple[int, list[dict[str, Any]]]], skip: int, size: int
) -> tuple[list[dict[str, Any]], int | None, int, bool]:
    """Cut one page from a calendar round: ``(values, cursor, partial, more)``.

    Emissions are per changed item and a series can have many instances, so a page may end inside an
    item: ``cursor`` is the sequence of the last item sent completely (None if none) and ``partial``
    how many entries of the next item were sent already (``skip`` for the first one of this page).
    """
    values: list[dict[str, Any]] = []
    cursor: int | None = None
    for position, (sequence, items) in enumerate(emissions):
        start = skip if position == 0 else 0
        remaining = items[start:]
        room = size - len(values)
        if len(remaining) > room:
            values.extend(remaining[:room])
            return values, cursor, start + room, True
        values.extend(remaining)
        cursor = sequence
        if len(values) >= size and position + 1 < len(emissions):
            return values, cursor, 0, True
    return values, cursor, 0, False


def _removed(odata_type: str, item_id: str) -> dict[str, Any]:
    return {"@odata.type": odata_type, "id": item_id, "@removed": {"reason": "deleted"}}


def _removed_id(context: _Context, change: Change | None) -> str:
    assert change is not None
    return change.item_key if context.immutable_ids else change.item_id


def _change_type_of(change: Change) -> str:
    return str(change.kind)


def _precise(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0Z"


def _zone_label(iana: str, owner: Mailbox) -> str:
    """How a mailbox names an event's zone: Windows names unless the owner's settings use IANA ones."""
    if owner.settings_time_zone in WINDOWS_TIME_ZONES:
        return windows_zone_name(iana) or iana
    return iana


def iana_name(name: str) -> str:
    """The IANA name for a Windows or IANA zone name (unknown names unchanged)."""
    zone = zone_info(name)
    return str(zone.key) if zone is not None else name


def _event_times(
    instance: EventInstance, event: CalendarEvent, zone_name: str, zone: ZoneInfo
) -> tuple[dict[str, str], dict[str, str]]:
    if event.is_all_day:
        # All-day items float: midnight to midnight in whatever zone is asked for.
        own = ZoneInfo(event.time_zone)
        first: date = instance.start.astimezone(own).date()
        last: date = instance.end.astimezone(own).date()
        if last <= first:
            last = first + timedelta(days=1)
        return (
            {"dateTime": f"{first.isoformat()}T00:00:00.0000000", "timeZone": zone_name},
            {"dateTime": f"{last.isoformat()}T00:00:00.0000000", "timeZone": zone_name},
        )
    return _date_time_zone(instance.start, zone_name, zone), _date_time_zone(instance.end, zone_name, zone)


def _user_json(person: Any) -> dict[str, Any]:
    given, _, surname = str(person.display_name).partition(" ")
    return {
        "businessPhones": [],
        "displayName": person.display_name,
        "givenName": given or None,
        "jobTitle": None,
        "mail": person.email,
        "mobilePhone": None,
        "officeLocation": None,
        "preferredLanguage": "en-US",
        "surname": surname or None,
        "userPrincipalName": person.email,
        "id": person.oid,
    }


def _recipient(value: Recipient | str) -> Recipient:
    return value if isinstance(value, Recipient) else Recipient(address=value)


def _recipient_from_json(value: Any) -> Recipient:
    if isinstance(value, str):
        return Recipient(value)
    if isinstance(value, Mapping):
        return Recipient.from_dict(value)
    raise ValueError("a recipient is an address or {name, address}")


def _header_pairs(headers: Sequence[tuple[str, str]] | Mapping[str, str]) -> list[tuple[str, str]]:
    if isinstance(headers, Mapping):
        return [(str(k), str(v)) for k, v in headers.items()]
    return [(str(k), str(v)) for k, v in headers]


def _headers_from_json(value: Any) -> list[tuple[str, str]]:
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [(str(k), str(v)) for k, v in value.items()]
    if isinstance(value, list):
        pairs: list[tuple[str, str]] = []
        for item in value:
            if isinstance(item, Mapping):
                pairs.append((str(item["name"]), str(item["value"])))
            else:
                name, header_value = item
                pairs.append((str(name), str(header_value)))
        return pairs
    raise ValueError("headers are an object or a list of {name, value}")


def _required(body: Mapping[str, Any], name: str) -> Any:
    value = body.get(name)
    if value is None or value == "":
        raise ValueError(f"'{name}' is required")
    return value


def _moment(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("times are ISO 8601 strings with an offset")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"'{value}' needs an offset (e.g. Z)")
    return moment


def _optional_moment(value: Any) -> datetime | None:
    return _moment(value) if value else None


def _recurrence_from_json(value: Mapping[str, Any]) -> Recurrence:
    """``{"pattern": "weekly", "startDate", "daysOfWeek", "interval", "endDate" | "occurrences"}``."""
    return Recurrence(
        pattern=str(value.get("pattern") or "weekly"),
        start_date=date.fromisoformat(str(_required(value, "startDate"))),
        interval=int(value.get("interval") or 1),
        days_of_week=tuple(str(d).lower() for d in value.get("daysOfWeek") or ()),
        end_date=date.fromisoformat(str(value["endDate"])) if value.get("endDate") else None,
        occurrences=int(value["occurrences"]) if value.get("occurrences") else None,
    )


def _message_summary(message: Message) -> dict[str, Any]:
    return {
        "id": message.item_id,
        "immutableId": message.item_key,
        "folder": str(message.folder),
        "internetMessageId": message.internet_message_id,
        "conversationId": message.conversation_id,
        "isRead": message.is_read,
    }


def _key_error_text(error: Exception) -> str:
    text = str(error.args[0]) if error.args else type(error).__name__
    return f"not found: {text}"


__all__ = [
    "EVENT_PROPERTIES",
    "GRAPH_AUDIENCES",
    "MESSAGE_PROPERTIES",
    "Caller",
    "GraphError",
    "GraphSettings",
    "GraphSimulator",
    "Throttling",
    "graph_datetime",
    "iana_name",
]
