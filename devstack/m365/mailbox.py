"""The simulated Exchange mailboxes: messages per folder, calendar items, and a change log per folder.

One store serves every protocol the simulator speaks: the Graph routes (``graph.py``) and the EWS
endpoint read the same mailboxes, so a message delivered by a test or by the scenario engine shows up
in a Graph delta query and in an EWS ``SyncFolderItems`` alike.

The public API, kept small on purpose (other modules build on it; do not rename):

* ``MailboxStore``: ``add_mailbox``/``mailbox``/``mailboxes``; messages with ``add_message``,
  ``message``, ``messages``, ``update_message``, ``mark_read``, ``move_message``, ``delete_message``;
  calendar items with ``add_event``, ``event``, ``events``, ``update_event``, ``override_occurrence``,
  ``delete_event``; the change log with ``changes``, ``latest_sequence``, ``oldest_sequence``,
  ``sync_epoch``, ``expire_sync_states``, ``replay_last_change``; ``add_listener``; ``to_dict`` and
  ``from_dict`` for saving under ``var/``.
* Values are frozen dataclasses (``Mailbox``, ``Message``, ``CalendarEvent``, ``Change``...): what the
  store hands out can never be changed behind its lock.
* ``expand_event`` turns a series master into its occurrences and exceptions within a window, for
  Graph ``calendarView`` and EWS ``CalendarView`` alike; ``occurrence_id``/``parse_occurrence_id``
  name an occurrence the same way everywhere.
* ``MailTransport`` moves mail and meetings between the mailboxes of a store (a sent message reaches
  colleagues' Inboxes, a meeting every attendee's calendar, responses and cancellations follow).
* ``SimulatorClock`` is the simulator's advanceable clock; ``WINDOWS_TIME_ZONES``,
  ``windows_zone_name`` and ``zone_info`` translate Windows and IANA zone names.

How changes are recorded, so that delta queries and sync states can be computed from them:

* Every folder (``inbox``, ``sentitems``, ``drafts``, ``deleteditems``, ``calendar``) has its own log
  and its own sequence counter. Each change appends ``Change(sequence, kind, item_key, item_id...)``
  and stamps the item with that sequence (``Message.sequence``), so "everything changed after N" is
  answerable both from the log and from the items.
* A move is two changes: ``deleted`` (reason ``moved``) in the source folder and ``created`` in the
  destination. A message's ``item_id`` (the regular Exchange id) changes when it moves; its
  ``item_key`` (the immutable id) never does.
* ``replay_last_change`` appends copies of a folder's last change flagged ``replayed``: a delta query
  then reports the same change again, as Exchange sometimes does.
* The log keeps the newest ``log_limit`` entries per folder; a sync state older than
  ``oldest_sequence`` (or issued before ``expire_sync_states``, which bumps ``sync_epoch``) can no
  longer be served and the client must start over (Graph answers ``410 Gone``).

Listeners (``add_listener``) are called after each change, outside the store's lock, in the thread
that made the change: keep them quick (the notification service only enqueues).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

logger = logging.getLogger(__name__)

DEFAULT_LOG_LIMIT = 20_000
_BODY_PREVIEW_CHARS = 255


# --- Folders, changes, clock -------------------------------------------------------------------------


class WellKnownFolder(StrEnum):
    """The folders the simulator keeps, by their Graph well-known names."""

    INBOX = "inbox"
    SENT_ITEMS = "sentitems"
    DRAFTS = "drafts"
    DELETED_ITEMS = "deleteditems"
    CALENDAR = "calendar"


MAIL_FOLDERS: tuple[WellKnownFolder, ...] = (
    WellKnownFolder.INBOX,
    WellKnownFolder.SENT_ITEMS,
    WellKnownFolder.DRAFTS,
    WellKnownFolder.DELETED_ITEMS,
)

_FOLDER_DISPLAY_NAMES = {
    WellKnownFolder.INBOX: "Inbox",
    WellKnownFolder.SENT_ITEMS: "Sent Items",
    WellKnownFolder.DRAFTS: "Drafts",
    WellKnownFolder.DELETED_ITEMS: "Deleted Items",
    WellKnownFolder.CALENDAR: "Calendar",
}


def folder_display_name(folder: WellKnownFolder | str) -> str:
    """The folder's name as Outlook shows it (``Sent Items``)."""
    return _FOLDER_DISPLAY_NAMES[WellKnownFolder(folder)]


def parse_folder(name: str) -> WellKnownFolder | None:
    """A well-known folder from its Graph name in any case (``Inbox``, ``SentItems``), else None."""
    try:
        return WellKnownFolder(name.strip().lower())
    except ValueError:
        return None


class ChangeKind(StrEnum):
    """What happened to an item in a folder."""

    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"


@dataclass(frozen=True)
class Change:
    """One entry of a folder's change log.

    ``item_key`` is the item's immutable id; ``item_id`` its regular id at the time of the change (for a
    removal, the id the client knew). ``reason`` says why an item left the folder: ``deleted``
    (hard delete), ``moved`` (moved elsewhere, including to Deleted Items) or empty. ``occurrence`` is
    the original start (UTC ISO) when the change concerns one occurrence of a series only.
    """

    sequence: int
    mailbox: str  # the mailbox owner's user id
    folder: WellKnownFolder
    kind: ChangeKind
    item_key: str
    item_id: str
    at: datetime
    reason: str = ""
    occurrence: str | None = None
    replayed: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (inverse of ``from_dict``)."""
        return {
            "sequence": self.sequence,
            "mailbox": self.mailbox,
            "folder": str(self.folder),
            "kind": str(self.kind),
            "item_key": self.item_key,
            "item_id": self.item_id,
            "at": _iso(self.at),
            "reason": self.reason,
            "occurrence": self.occurrence,
            "replayed": self.replayed,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Change:
        """Rebuild from ``to_dict`` output."""
        return cls(
            sequence=int(data["sequence"]),
            mailbox=str(data["mailbox"]),
            folder=WellKnownFolder(data["folder"]),
            kind=ChangeKind(data["kind"]),
            item_key=str(data["item_key"]),
            item_id=str(data["item_id"]),
            at=_parse_iso(data["at"]),
            reason=str(data.get("reason") or ""),
            occurrence=data.get("occurrence"),
            replayed=bool(data.get("replayed")),
        )


ChangeListener = Callable[[Change], None]


def utc_now() -> datetime:
    """The current time, UTC, timezone-aware."""
    return datetime.now(UTC)


class SimulatorClock:
    """The simulator's notion of now: real time (or a fixed start) plus an offset scripts can advance.

    Advancing moves subscription expiry, delta token age and the scenario engine forward without
    waiting. ``frozen=True`` stops time between advances, for tests that need exact timestamps.
    """

    def __init__(self, start: datetime | None = None, *, frozen: bool = False) -> None:
        if start is not None and start.tzinfo is None:
            raise ValueError("the clock's start must be timezone-aware")
        self._lock = threading.Lock()
        self._start = (start or utc_now()).astimezone(UTC)
        self._started_at = time.monotonic()
        self._offset = timedelta(0)
        self._frozen = frozen

    def now(self) -> datetime:
        """The simulated current time (UTC)."""
        with self._lock:
            elapsed = timedelta(0) if self._frozen else timedelta(seconds=time.monotonic() - self._started_at)
            return self._start + elapsed + self._offset

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by ``delta`` (never backward); returns the new now."""
        if delta < timedelta(0):
            raise ValueError("the simulator clock only moves forward")
        with self._lock:
            self._offset += delta
        return self.now()

    def __call__(self) -> datetime:
        return self.now()


# --- Time zone names ----------------------------------------------------------------------------------

# Windows zone names as Exchange reports them, for the zones the simulated tenant uses (CLDR
# windowsZones.xml, territory 001). Kept here rather than borrowed from chalicelib, so a gap in the
# product's own table cannot be hidden by the simulator sharing it.
WINDOWS_TIME_ZONES: dict[str, str] = {
    "Eastern Standard Time": "America/New_York",
    "Central Standard Time": "America/Chicago",
    "Mountain Standard Time": "America/Denver",
    "US Mountain Standard Time": "America/Phoenix",
    "Pacific Standard Time": "America/Los_Angeles",
    "Alaskan Standard Time": "America/Anchorage",
    "Hawaiian Standard Time": "Pacific/Honolulu",
    "GMT Standard Time": "Europe/London",
    "W. Europe Standard Time": "Europe/Berlin",
    "Romance Standard Time": "Europe/Paris",
    "India Standard Time": "Asia/Calcutta",
    "Tokyo Standard Time": "Asia/Tokyo",
    "AUS Eastern Standard Time": "Australia/Sydney",
    "UTC": "Etc/UTC",
}
_IANA_TO_WINDOWS = {iana: windows for windows, iana in WINDOWS_TIME_ZONES.items()}
_IANA_TO_WINDOWS.update({"UTC": "UTC", "Asia/Kolkata": "India Standard Time"})


def windows_zone_name(iana: str) -> str | None:
    """The Windows name of an IANA zone (``America/New_York`` -> ``Eastern Standard Time``), if known."""
    return _IANA_TO_WINDOWS.get(iana)


def zone_info(name: str) -> ZoneInfo | None:
    """A zone from a Windows or IANA name, or None when neither is known."""
    try:
        return ZoneInfo(WINDOWS_TIME_ZONES.get(name, name))
    except (KeyError, ValueError):
        return None


# --- People ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    """A name and an SMTP address, as in Graph's ``emailAddress``."""

    address: str
    name: str = ""

    def to_dict(self) -> dict[str, str]:
        """JSON-ready form; also Graph's ``emailAddress`` object."""
        return {"name": self.name or self.address, "address": self.address}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | str) -> Recipient:
        """From ``to_dict`` output, Graph's ``emailAddress`` object, or a bare address."""
        if isinstance(data, str):
            return cls(address=data)
        inner = data.get("emailAddress", data)
        return cls(address=str(inner["address"]), name=str(inner.get("name") or ""))


@dataclass(frozen=True)
class Mailbox:
    """A user's mailbox.

    ``time_zone`` is the IANA zone the owner works in (used to compute local times); ``settings_time_zone``
    is the name ``mailboxSettings`` reports for it, a Windows name ("Eastern Standard Time") for most
    users and an IANA name for some, as in Exchange Online.
    """

    user_id: str
    address: str
    display_name: str
    tenant_id: str
    time_zone: str = "UTC"
    settings_time_zone: str = "UTC"

    def __post_init__(self) -> None:
        ZoneInfo(self.time_zone)  # fail early on a typo

    def owner(self) -> Recipient:
        """The owner as a recipient."""
        return Recipient(self.address, self.display_name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (inverse of ``from_dict``)."""
        return {
            "user_id": self.user_id,
            "address": self.address,
            "display_name": self.display_name,
            "tenant_id": self.tenant_id,
            "time_zone": self.time_zone,
            "settings_time_zone": self.settings_time_zone,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Mailbox:
        """Rebuild from ``to_dict`` output."""
        return cls(
            user_id=str(data["user_id"]),
            address=str(data["address"]),
            display_name=str(data.get("display_name") or data["address"]),
            tenant_id=str(data["tenant_id"]),
            time_zone=str(data.get("time_zone") or "UTC"),
            settings_time_zone=str(data.get("settings_time_zone") or data.get("time_zone") or "UTC"),
        )


# --- Messages ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """An email in one of the mail folders.

    ``item_key`` is the immutable id (Graph ``Prefer: IdType="ImmutableId"``); ``item_id`` the regular id,
    which Exchange changes when the item moves to another folder. ``headers`` are the internet message
    headers in order, with their original case.
    """

    item_key: str
    item_id: str
    folder: WellKnownFolder
    subject: str
    body: str
    sender: Recipient
    to: tuple[Recipient, ...]
    cc: tuple[Recipient, ...]
    bcc: tuple[Recipient, ...]
    received_at: datetime
    sent_at: datetime | None
    internet_message_id: str
    conversation_id: str
    is_read: bool
    is_draft: bool
    categories: tuple[str, ...]
    headers: tuple[tuple[str, str], ...]
    importance: str
    created_at: datetime
    modified_at: datetime
    change_key: str
    sequence: int

    @property
    def body_preview(self) -> str:
        """The first 255 characters of the body, whitespace collapsed (Graph ``bodyPreview``)."""
        return " ".join(self.body.split())[:_BODY_PREVIEW_CHARS]

    def header(self, name: str) -> str | None:
        """An internet message header's value (case-insensitive name)."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (inverse of ``from_dict``)."""
        return {
            "item_key": self.item_key,
            "item_id": self.item_id,
            "folder": str(self.folder),
            "subject": self.subject,
            "body": self.body,
            "sender": self.sender.to_dict(),
            "to": [r.to_dict() for r in self.to],
            "cc": [r.to_dict() for r in self.cc],
            "bcc": [r.to_dict() for r in self.bcc],
            "received_at": _iso(self.received_at),
            "sent_at": _iso(self.sent_at) if self.sent_at else None,
            "internet_message_id": self.internet_message_id,
            "conversation_id": self.conversation_id,
            "is_read": self.is_read,
            "is_draft": self.is_draft,
            "categories": list(self.categories),
            "headers": [[k, v] for k, v in self.headers],
            "importance": self.importance,
            "created_at": _iso(self.created_at),
            "modified_at": _iso(self.modified_at),
            "change_key": self.change_key,
            "sequence": self.sequence,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Message:
        """Rebuild from ``to_dict`` output."""
        return cls(
            item_key=str(data["item_key"]),
            item_id=str(data["item_id"]),
            folder=WellKnownFolder(data["folder"]),
            subject=str(data.get("subject") or ""),
            body=str(data.get("body") or ""),
            sender=Recipient.from_dict(data["sender"]),
            to=tuple(Recipient.from_dict(r) for r in data.get("to") or ()),
            cc=tuple(Recipient.from_dict(r) for r in data.get("cc") or ()),
            bcc=tuple(Recipient.from_dict(r) for r in data.get("bcc") or ()),
            received_at=_parse_iso(data["received_at"]),
            sent_at=_parse_iso(data["sent_at"]) if data.get("sent_at") else None,
            internet_message_id=str(data["internet_message_id"]),
            conversation_id=str(data["conversation_id"]),
            is_read=bool(data.get("is_read")),
            is_draft=bool(data.get("is_draft")),
            categories=tuple(str(c) for c in data.get("categories") or ()),
            headers=tuple((str(k), str(v)) for k, v in data.get("headers") or ()),
            importance=str(data.get("importance") or "normal"),
            created_at=_parse_iso(data["created_at"]),
            modified_at=_parse_iso(data["modified_at"]),
            change_key=str(data["change_key"]),
            sequence=int(data["sequence"]),
        )


# --- Calendar ----------------------------------------------------------------------------------------

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
RESPONSES = frozenset({"none", "organizer", "tentativelyAccepted", "accepted", "declined", "notResponded"})
SHOW_AS = frozenset({"free", "tentative", "busy", "oof", "workingElsewhere", "unknown"})


@dataclass(frozen=True)
class Recurrence:
    """A series' pattern and range, as Graph's ``patternedRecurrence`` (daily and weekly patterns).

    Dates are in the series' own time zone; ``end_date`` is inclusive (``range.type`` ``endDate``),
    ``occurrences`` counts them (``numbered``), and neither means ``noEnd``.
    """

    pattern: str  # daily | weekly
    start_date: date
    interval: int = 1
    days_of_week: tuple[str, ...] = ()
    first_day_of_week: str = "sunday"
    end_date: date | None = None
    occurrences: int | None = None

    def __post_init__(self) -> None:
        if self.pattern not in ("daily", "weekly"):
            raise ValueError(f"unsupported recurrence pattern {self.pattern!r} (daily or weekly)")
        if self.interval < 1:
            raise ValueError("a recurrence interval must be at least 1")
        unknown = [d for d in self.days_of_week if d not in WEEKDAYS]
        if unknown or self.first_day_of_week not in WEEKDAYS:
            raise ValueError(f"unknown day of week in {self.days_of_week!r}")
        if self.pattern == "weekly" and not self.days_of_week:
            raise ValueError("a weekly recurrence needs daysOfWeek")

    @property
    def range_type(self) -> str:
        """Graph's ``range.type``: ``endDate``, ``numbered`` or ``noEnd``."""
        if self.end_date is not None:
            return "endDate"
        return "numbered" if self.occurrences is not None else "noEnd"

    def to_graph(self, time_zone_name: str) -> dict[str, Any]:
        """Graph's ``recurrence`` object; ``time_zone_name`` is ``range.recurrenceTimeZone``."""
        pattern: dict[str, Any] = {
            "type": self.pattern,
            "interval": self.interval,
            "month": 0,
            "dayOfMonth": 0,
            "firstDayOfWeek": self.first_day_of_week,
            "index": "first",
        }
        if self.pattern == "weekly":
            pattern["daysOfWeek"] = list(self.days_of_week)
        return {
            "pattern": pattern,
            "range": {
                "type": self.range_type,
                "startDate": self.start_date.isoformat(),
                "endDate": self.end_date.isoformat() if self.end_date else "0001-01-01",
                "recurrenceTimeZone": time_zone_name,
                "numberOfOccurrences": self.occurrences or 0,
            },
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (inverse of ``from_dict``)."""
        return {
            "pattern": self.pattern,
            "start_date": self.start_date.isoformat(),
            "interval": self.interval,
            "days_of_week": list(self.days_of_week),
            "first_day_of_week": self.first_day_of_week,
            "end_date": self.end_date.isoformat() if self.end_date else None,
            "occurrences": self.occurrences,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Recurrence:
        """Rebuild from ``to_dict`` output."""
        return cls(
            pattern=str(data["pattern"]),
            start_date=date.fromisoformat(str(data["start_date"])),
            interval=int(data.get("interval") or 1),
            days_of_week=tuple(str(d) for d in data.get("days_of_week") or ()),
            first_day_of_week=str(data.get("first_day_of_week") or "sunday"),
            end_date=date.fromisoformat(str(data["end_date"])) if data.get("end_date") else None,
            occurrences=int(data["occurrences"]) if data.get("occurrences") else None,
        )


@dataclass(frozen=True)
class Attendee:
    """A meeting attendee and their response (``none``, ``accepted``, ``declined``...)."""

    address: str
    name: str = ""
    type: str = "required"  # required | optional | resource
    response: str = "none"
    response_time: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (inverse of ``from_dict``)."""
        return {
            "address": self.address,
            "name": self.name,
            "type": self.type,
            "response": self.response,
            "response_time": _iso(self.response_time) if self.response_time else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Attendee:
        """Rebuild from ``to_dict`` output."""
        return cls(
            address=str(data["address"]),
            name=str(data.get("name") or ""),
            type=str(data.get("type") or "required"),
            response=str(data.get("response") or "none"),
            response_time=_parse_iso(data["response_time"]) if data.get("response_time") else None,
        )


@dataclass(frozen=True)
class OccurrenceOverride:
    """A change to one occurrence of a series: moved or renamed (an exception), or cancelled (gone)."""

    start: datetime | None = None
    end: datetime | None = None
    subject: str | None = None
    cancelled: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (inverse of ``from_dict``)."""
        return {
            "start": _iso(self.start) if self.start else None,
            "end": _iso(self.end) if self.end else None,
            "subject": self.subject,
            "cancelled": self.cancelled,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OccurrenceOverride:
        """Rebuild from ``to_dict`` output."""
        return cls(
            start=_parse_iso(data["start"]) if data.get("start") else None,
            end=_parse_iso(data["end"]) if data.get("end") else None,
            subject=data.get("subject"),
            cancelled=bool(data.get("cancelled")),
        )


@dataclass(frozen=True)
class CalendarEvent:
    """A calendar item in one mailbox: a single meeting or a series master (with ``recurrence``).

    ``start``/``end`` are UTC; ``time_zone`` is the IANA zone the organizer scheduled it in (a series
    recurs at the same local time across DST changes). ``response`` is the mailbox owner's own
    response. ``exceptions`` maps an occurrence's original start (UTC ISO) to its override.
    Every attendee's mailbox holds its own copy, with its own ids and the same ``ical_uid``.
    """

    item_key: str
    item_id: str
    ical_uid: str
    subject: str
    body: str
    start: datetime
    end: datetime
    time_zone: str
    organizer: Recipient
    attendees: tuple[Attendee, ...]
    is_organizer: bool
    response: str
    response_time: datetime | None
    is_all_day: bool
    is_cancelled: bool
    show_as: str
    location: str
    recurrence: Recurrence | None
    exceptions: Mapping[str, OccurrenceOverride]
    created_at: datetime
    modified_at: datetime
    change_key: str
    sequence: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "exceptions", dict(self.exceptions))

    @property
    def type(self) -> str:
        """Graph's ``type`` of the stored item: ``seriesMaster`` or ``singleInstance``."""
        return "seriesMaster" if self.recurrence else "singleInstance"

    @property
    def body_preview(self) -> str:
        """The first 255 characters of the body, whitespace collapsed."""
        return " ".join(self.body.split())[:_BODY_PREVIEW_CHARS]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (inverse of ``from_dict``)."""
        return {
            "item_key": self.item_key,
            "item_id": self.item_id,
            "ical_uid": self.ical_uid,
            "subject": self.subject,
            "body": self.body,
            "start": _iso(self.start),
            "end": _iso(self.end),
            "time_zone": self.time_zone,
            "organizer": self.organizer.to_dict(),
            "attendees": [a.to_dict() for a in self.attendees],
            "is_organizer": self.is_organizer,
            "response": self.response,
            "response_time": _iso(self.response_time) if self.response_time else None,
            "is_all_day": self.is_all_day,
            "is_cancelled": self.is_cancelled,
            "show_as": self.show_as,
            "location": self.location,
            "recurrence": self.recurrence.to_dict() if self.recurrence else None,
            "exceptions": {k: v.to_dict() for k, v in self.exceptions.items()},
            "created_at": _iso(self.created_at),
            "modified_at": _iso(self.modified_at),
            "change_key": self.change_key,
            "sequence": self.sequence,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CalendarEvent:
        """Rebuild from ``to_dict`` output."""
        return cls(
            item_key=str(data["item_key"]),
            item_id=str(data["item_id"]),
            ical_uid=str(data["ical_uid"]),
            subject=str(data.get("subject") or ""),
            body=str(data.get("body") or ""),
            start=_parse_iso(data["start"]),
            end=_parse_iso(data["end"]),
            time_zone=str(data.get("time_zone") or "UTC"),
            organizer=Recipient.from_dict(data["organizer"]),
            attendees=tuple(Attendee.from_dict(a) for a in data.get("attendees") or ()),
            is_organizer=bool(data.get("is_organizer")),
            response=str(data.get("response") or "none"),
            response_time=_parse_iso(data["response_time"]) if data.get("response_time") else None,
            is_all_day=bool(data.get("is_all_day")),
            is_cancelled=bool(data.get("is_cancelled")),
            show_as=str(data.get("show_as") or "busy"),
            location=str(data.get("location") or ""),
            recurrence=Recurrence.from_dict(data["recurrence"]) if data.get("recurrence") else None,
            exceptions={
                str(k): OccurrenceOverride.from_dict(v) for k, v in (data.get("exceptions") or {}).items()
            },
            created_at=_parse_iso(data["created_at"]),
            modified_at=_parse_iso(data["modified_at"]),
            change_key=str(data["change_key"]),
            sequence=int(data["sequence"]),
        )


@dataclass(frozen=True)
class EventInstance:
    """One entry of a calendar view: a single meeting, or an occurrence or exception of a series.

    ``event`` is the stored item it comes from (the series master for occurrences). ``item_id`` and
    ``item_key`` are the instance's own regular and immutable ids (for a single meeting, the event's).
    """

    event: CalendarEvent
    kind: str  # singleInstance | occurrence | exception
    start: datetime
    end: datetime
    subject: str
    original_start: datetime | None
    item_id: str
    item_key: str

    @property
    def series_master(self) -> CalendarEvent | None:
        """The series master for occurrences and exceptions."""
        return self.event if self.kind != "singleInstance" else None


_OCCURRENCE_PREFIX = "AAMkAGOcc"


def occurrence_id(master_id: str, original_start: datetime) -> str:
    """The id of a series' occurrence: opaque, stable, and decodable by ``parse_occurrence_id``.

    Built from whichever id form the master has (regular or immutable), so each form of the master's
    id gives the same form for its occurrences.
    """
    stamp = original_start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    encoded = base64.urlsafe_b64encode(f"{master_id}|{stamp}".encode()).decode("ascii")
    return f"{_OCCURRENCE_PREFIX}{encoded}"


def parse_occurrence_id(item_id: str) -> tuple[str, datetime] | None:
    """``(master_id, original_start)`` for an id made by ``occurrence_id``, else None."""
    if not item_id.startswith(_OCCURRENCE_PREFIX):
        return None
    try:
        decoded = base64.urlsafe_b64decode(item_id[len(_OCCURRENCE_PREFIX) :].encode("ascii")).decode()
        master_id, stamp = decoded.rsplit("|", 1)
        moment = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        return None
    return master_id, moment


def series_starts(event: CalendarEvent, window_start: datetime, window_end: datetime) -> list[datetime]:
    """Original start times (UTC) of a series' occurrences that could overlap the window.

    Occurrences are generated in the series' own zone (same local time every day, across DST), from
    the recurrence's start date, and bounded by its range. Overrides are not applied here.
    """
    recurrence = event.recurrence
    if recurrence is None:
        return []
    tz = ZoneInfo(event.time_zone)
    local_start = event.start.astimezone(tz)
    duration = event.end - event.start
    starts: list[datetime] = []
    day = recurrence.start_date
    last_day = recurrence.end_date
    # Windows past the end need no generation; leave a day's margin for zones and long meetings.
    horizon = (window_end.astimezone(tz) + timedelta(days=1)).date()
    if last_day is None or last_day > horizon:
        last_day = horizon
    counted = 0
    week_anchor = day - timedelta(days=(day.weekday() - WEEKDAYS.index(recurrence.first_day_of_week)) % 7)
    wanted_days = {WEEKDAYS.index(d) for d in recurrence.days_of_week}
    while day <= last_day:
        if recurrence.pattern == "daily":
            matches = (day - recurrence.start_date).days % recurrence.interval == 0
        else:
            weeks = (day - week_anchor).days // 7
            matches = weeks % recurrence.interval == 0 and day.weekday() in wanted_days
        if matches:
            counted += 1
            if recurrence.occurrences is not None and counted > recurrence.occurrences:
                break
            moment = datetime.combine(day, local_start.timetz().replace(tzinfo=None), tzinfo=tz).astimezone(
                UTC
            )
            if moment + duration > window_start and moment < window_end:
                starts.append(moment)
        day += timedelta(days=1)
    return starts


def expand_event(
    event: CalendarEvent, window_start: datetime, window_end: datetime, *, immutable_ids: bool = False
) -> list[EventInstance]:
    """The instances of ``event`` that overlap ``[window_start, window_end)``, in start order.

    A single meeting gives itself; a series master gives its occurrences, with moved or renamed ones
    as ``exception`` and cancelled ones left out (Exchange deletes a cancelled occurrence). With
    ``immutable_ids`` the instance ids derive from the immutable id of the master.
    """
    base_id = event.item_key if immutable_ids else event.item_id
    if event.recurrence is None:
        if event.end > window_start and event.start < window_end:
            return [
                EventInstance(
                    event,
                    "singleInstance",
                    event.start,
                    event.end,
                    event.subject,
                    None,
                    base_id,
                    event.item_key,
                )
            ]
        return []
    duration = event.end - event.start
    instances: list[EventInstance] = []
    # Exceptions moved into the window from outside it still belong in it, so look a little wider.
    margin = timedelta(days=7)
    for original in series_starts(event, window_start - margin, window_end + margin):
        override = event.exceptions.get(_iso(original))
        start, end, subject, kind = original, original + duration, event.subject, "occurrence"
        if override is not None:
            if override.cancelled:
                continue
            start = override.start or start
            end = override.end or (start + duration)
            subject = override.subject if override.subject is not None else subject
            kind = "exception"
        if end > window_start and start < window_end:
            instances.append(
                EventInstance(
                    event,
                    kind,
                    start,
                    end,
                    subject,
                    original,
                    occurrence_id(base_id, original),
                    occurrence_id(event.item_key, original),
                )
            )
    instances.sort(key=lambda instance: instance.start)
    return instances


# --- Ids ---------------------------------------------------------------------------------------------


def _opaque(prefix: str, size: int = 39) -> str:
    """An Exchange-looking id: a fixed prefix and URL-safe base64 (with padding, as Graph ids have)."""
    return prefix + base64.urlsafe_b64encode(secrets.token_bytes(size)).decode("ascii")


def new_item_key() -> str:
    """A new immutable id (Graph ``IdType="ImmutableId"`` ids start ``AAkAL``)."""
    return _opaque("AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A", 30)


def new_item_id() -> str:
    """A new regular Exchange id (they start ``AAMkA``); it changes when the item moves."""
    return _opaque("AAMkAGI2", 60)


def new_change_key() -> str:
    """A new change key: Exchange issues one on every change to an item."""
    return base64.b64encode(secrets.token_bytes(15)).decode("ascii")


def conversation_id_for(thread_key: str) -> str:
    """A stable Graph-looking conversation id for a thread (same key, same id)."""
    digest = hashlib.sha256(thread_key.encode("utf-8")).digest()
    return "AAQkAGI2" + base64.urlsafe_b64encode(digest + digest[:10]).decode("ascii")


def new_internet_message_id(domain: str) -> str:
    """An RFC 5322 ``Message-ID`` in Exchange's style."""
    return f"<{uuid.uuid4().hex.upper()}@{domain}>"


def new_ical_uid() -> str:
    """A new iCalendar UID in Exchange's hexadecimal form."""
    return "040000008200E00074C5B7101A82E00800000000" + secrets.token_hex(28).upper()


# --- The store ---------------------------------------------------------------------------------------


class MailboxNotFoundError(KeyError):
    """No mailbox has that user id or address."""


class ItemNotFoundError(KeyError):
    """No item with that id is in the mailbox (or in the folder asked for)."""


@dataclass
class _FolderLog:
    sequence: int = 0
    floor: int = 0  # entries with sequence <= floor have been trimmed
    entries: list[Change] = field(default_factory=list)


@dataclass
class _MailboxState:
    mailbox: Mailbox
    epoch: int = 1
    messages: dict[str, Message] = field(default_factory=dict)  # by item_key
    events: dict[str, CalendarEvent] = field(default_factory=dict)  # by item_key
    deleted_events: dict[str, CalendarEvent] = field(default_factory=dict)  # tombstones, by item_key
    logs: dict[WellKnownFolder, _FolderLog] = field(
        default_factory=lambda: {folder: _FolderLog() for folder in WellKnownFolder}
    )


_UNSET: Any = object()


class MailboxStore:
    """All simulated mailboxes, safe to read and change from any thread."""

    def __init__(
        self, clock: Callable[[], datetime] = utc_now, *, log_limit: int = DEFAULT_LOG_LIMIT
    ) -> None:
        self._clock = clock
        self._log_limit = log_limit
        self._lock = threading.RLock()
        self._states: dict[str, _MailboxState] = {}
        self._listeners: list[ChangeListener] = []

    # -- mailboxes ---------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The store's clock (the simulator clock when the devstack wires one)."""
        return self._clock()

    def add_mailbox(self, mailbox: Mailbox) -> Mailbox:
        """Add a mailbox, or update the owner details of the mailbox with the same user id."""
        with self._lock:
            for state in self._states.values():
                if state.mailbox.user_id != mailbox.user_id and _same_address(
                    state.mailbox.address, mailbox.address
                ):
                    raise ValueError(f"{mailbox.address} already belongs to another mailbox")
            existing = self._states.get(mailbox.user_id)
            if existing is None:
                self._states[mailbox.user_id] = _MailboxState(mailbox)
            else:
                existing.mailbox = mailbox
        return mailbox

    def mailbox(self, user_id_or_address: str) -> Mailbox | None:
        """The mailbox of a user id (Entra object id) or SMTP address / UPN (any case)."""
        with self._lock:
            state = self._find(user_id_or_address)
            return state.mailbox if state else None

    def mailboxes(self) -> list[Mailbox]:
        """All mailboxes."""
        with self._lock:
            return [state.mailbox for state in self._states.values()]

    # -- messages ----------------------------------------------------------------------------------

    def add_message(
        self,
        mailbox: str,
        folder: WellKnownFolder | str,
        *,
        subject: str,
        sender: Recipient,
        to: Sequence[Recipient] = (),
        cc: Sequence[Recipient] = (),
        bcc: Sequence[Recipient] = (),
        body: str = "",
        received_at: datetime | None = None,
        sent_at: datetime | None = None,
        internet_message_id: str | None = None,
        conversation_id: str | None = None,
        is_read: bool = False,
        is_draft: bool = False,
        categories: Sequence[str] = (),
        headers: Sequence[tuple[str, str]] = (),
        importance: str = "normal",
    ) -> Message:
        """Put a new message in a mail folder and log ``created``; returns it with its ids.

        ``received_at`` defaults to now and ``sent_at`` to ``received_at`` (drafts have none);
        ``internet_message_id`` and ``conversation_id`` are generated when not given.
        """
        target = _mail_folder(folder)
        now = self._clock()
        received = _utc(received_at) if received_at else now
        domain = sender.address.rsplit("@", 1)[-1] or "localhost"
        with self._lock:
            state = self._require(mailbox)
            message = Message(
                item_key=new_item_key(),
                item_id=new_item_id(),
                folder=target,
                subject=subject,
                body=body,
                sender=sender,
                to=tuple(to),
                cc=tuple(cc),
                bcc=tuple(bcc),
                received_at=received,
                sent_at=None if is_draft else (_utc(sent_at) if sent_at else received),
                internet_message_id=internet_message_id or new_internet_message_id(domain),
                conversation_id=conversation_id or conversation_id_for(_thread_key(subject)),
                is_read=is_read,
                is_draft=is_draft,
                categories=tuple(categories),
                headers=tuple((str(k), str(v)) for k, v in headers),
                importance=importance,
                created_at=now,
                modified_at=now,
                change_key=new_change_key(),
                sequence=0,
            )
            message, change = self._log_message(state, message, ChangeKind.CREATED)
        self._notify([change])
        return message

    def message(self, mailbox: str, item_id: str) -> Message | None:
        """A message by its regular or immutable id, in any folder; None if there is none."""
        with self._lock:
            state = self._find(mailbox)
            return self._find_message(state, item_id) if state else None

    def messages(self, mailbox: str, folder: WellKnownFolder | str | None = None) -> list[Message]:
        """The messages in a folder (all mail folders when None), oldest change first."""
        wanted = _mail_folder(folder) if folder is not None else None
        with self._lock:
            state = self._require(mailbox)
            found = [m for m in state.messages.values() if wanted is None or m.folder == wanted]
        return sorted(found, key=lambda m: (m.sequence, m.item_key))

    def update_message(
        self,
        mailbox: str,
        item_id: str,
        *,
        is_read: bool | None = None,
        categories: Sequence[str] | None = None,
        subject: str | None = None,
        body: str | None = None,
        importance: str | None = None,
    ) -> Message:
        """Change a message's properties and log ``updated`` (a new change key each time)."""
        changes: dict[str, Any] = {}
        if is_read is not None:
            changes["is_read"] = is_read
        if categories is not None:
            changes["categories"] = tuple(categories)
        if subject is not None:
            changes["subject"] = subject
        if body is not None:
            changes["body"] = body
        if importance is not None:
            changes["importance"] = importance
        with self._lock:
            state = self._require(mailbox)
            current = self._require_message(state, item_id)
            message, change = self._log_message(state, replace(current, **changes), ChangeKind.UPDATED)
        self._notify([change])
        return message

    def mark_read(self, mailbox: str, item_id: str, is_read: bool = True) -> Message:
        """Mark a message read (or unread); logged as ``updated`` so a delta query reports it again."""
        return self.update_message(mailbox, item_id, is_read=is_read)

    def move_message(self, mailbox: str, item_id: str, folder: WellKnownFolder | str) -> Message:
        """Move a message to another mail folder: it gets a new regular id; its immutable id stays."""
        target = _mail_folder(folder)
        with self._lock:
            state = self._require(mailbox)
            current = self._require_message(state, item_id)
            if current.folder == target:
                return current
            removal = self._append(
                state, current.folder, ChangeKind.DELETED, current.item_key, current.item_id, reason="moved"
            )
            moved = replace(current, folder=target, item_id=new_item_id())
            message, created = self._log_message(state, moved, ChangeKind.CREATED)
        self._notify([removal, created])
        return message

    def delete_message(self, mailbox: str, item_id: str, *, permanent: bool = False) -> Message | None:
        """Delete a message as Outlook does: to Deleted Items, or for good when ``permanent``
        (or when it is already in Deleted Items). Returns the moved message, None when gone."""
        with self._lock:
            state = self._require(mailbox)
            current = self._require_message(state, item_id)
            soft = not permanent and current.folder != WellKnownFolder.DELETED_ITEMS
            if not soft:
                del state.messages[current.item_key]
                change = self._append(
                    state,
                    current.folder,
                    ChangeKind.DELETED,
                    current.item_key,
                    current.item_id,
                    reason="deleted",
                )
        if soft:
            # Outside the lock: move_message notifies listeners itself.
            return self.move_message(mailbox, item_id, WellKnownFolder.DELETED_ITEMS)
        self._notify([change])
        return None

    # -- calendar ----------------------------------------------------------------------------------

    def add_event(
        self,
        mailbox: str,
        *,
        subject: str,
        start: datetime,
        end: datetime,
        organizer: Recipient,
        time_zone: str | None = None,
        attendees: Sequence[Attendee] = (),
        body: str = "",
        location: str = "",
        ical_uid: str | None = None,
        response: str | None = None,
        is_all_day: bool = False,
        show_as: str = "busy",
        recurrence: Recurrence | None = None,
    ) -> CalendarEvent:
        """Put a meeting (or a series master, with ``recurrence``) in the mailbox's calendar.

        The owner is the organizer when ``organizer`` is their address; otherwise the item is an
        invitation whose ``response`` defaults to ``notResponded``. ``time_zone`` (IANA) defaults to
        the mailbox owner's zone.
        """
        if _utc(end) <= _utc(start) and not is_all_day:
            raise ValueError("a meeting must end after it starts")
        if show_as not in SHOW_AS:
            raise ValueError(f"unknown showAs {show_as!r}")
        now = self._clock()
        with self._lock:
            state = self._require(mailbox)
            owner = state.mailbox
            is_organizer = _same_address(organizer.address, owner.address)
            own_response = response or ("organizer" if is_organizer else "notResponded")
            if own_response not in RESPONSES:
                raise ValueError(f"unknown response {own_response!r}")
            zone_name = time_zone or owner.time_zone
            ZoneInfo(zone_name)
            event = CalendarEvent(
                item_key=new_item_key(),
                item_id=new_item_id(),
                ical_uid=ical_uid or new_ical_uid(),
                subject=subject,
                body=body,
                start=_utc(start),
                end=_utc(end),
                time_zone=zone_name,
                organizer=organizer,
                attendees=tuple(attendees),
                is_organizer=is_organizer,
                response=own_response,
                response_time=now if own_response not in ("none", "notResponded", "organizer") else None,
                is_all_day=is_all_day,
                is_cancelled=False,
                show_as=show_as if own_response != "notResponded" or is_organizer else "tentative",
                location=location,
                recurrence=recurrence,
                exceptions={},
                created_at=now,
                modified_at=now,
                change_key=new_change_key(),
                sequence=0,
            )
            event, change = self._log_event(state, event, ChangeKind.CREATED)
        self._notify([change])
        return event

    def event(self, mailbox: str, item_id: str, *, include_deleted: bool = False) -> CalendarEvent | None:
        """A calendar item by regular or immutable id (not an occurrence id; see ``parse_occurrence_id``).

        With ``include_deleted`` a deleted item is returned too (delta queries need its last state).
        """
        with self._lock:
            state = self._find(mailbox)
            if state is None:
                return None
            found = self._find_event(state.events, item_id)
            if found is None and include_deleted:
                found = self._find_event(state.deleted_events, item_id)
            return found

    def events(self, mailbox: str) -> list[CalendarEvent]:
        """All calendar items (single meetings and series masters), oldest change first."""
        with self._lock:
            state = self._require(mailbox)
            found = list(state.events.values())
        return sorted(found, key=lambda e: (e.sequence, e.item_key))

    def update_event(
        self,
        mailbox: str,
        item_id: str,
        *,
        subject: str | None = None,
        body: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        response: str | None = None,
        is_cancelled: bool | None = None,
        show_as: str | None = None,
        attendees: Sequence[Attendee] | None = None,
        location: str | None = None,
    ) -> CalendarEvent:
        """Change a calendar item and log ``updated``.

        Setting ``response`` records the owner's answer (with its time); a declined meeting shows as
        free. ``is_cancelled`` is how an attendee's copy looks after the organizer cancels.
        """
        now = self._clock()
        changes: dict[str, Any] = {}
        for name, value in (("subject", subject), ("body", body), ("location", location)):
            if value is not None:
                changes[name] = value
        if start is not None:
            changes["start"] = _utc(start)
        if end is not None:
            changes["end"] = _utc(end)
        if attendees is not None:
            changes["attendees"] = tuple(attendees)
        if show_as is not None:
            if show_as not in SHOW_AS:
                raise ValueError(f"unknown showAs {show_as!r}")
            changes["show_as"] = show_as
        if response is not None:
            if response not in RESPONSES:
                raise ValueError(f"unknown response {response!r}")
            changes["response"] = response
            changes["response_time"] = now
            if show_as is None:
                changes["show_as"] = {"declined": "free", "tentativelyAccepted": "tentative"}.get(
                    response, "busy"
                )
        if is_cancelled is not None:
            changes["is_cancelled"] = is_cancelled
        with self._lock:
            state = self._require(mailbox)
            current = self._require_event(state, item_id)
            updated = replace(current, **changes)
            if updated.end <= updated.start and not updated.is_all_day:
                raise ValueError("a meeting must end after it starts")
            event, change = self._log_event(state, updated, ChangeKind.UPDATED)
        self._notify([change])
        return event

    def override_occurrence(
        self,
        mailbox: str,
        item_id: str,
        original_start: datetime,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        subject: str | None = None,
        cancelled: bool = False,
    ) -> CalendarEvent:
        """Make one occurrence of a series an exception (moved/renamed) or cancel it.

        ``original_start`` must be one of the series' occurrence starts. Logged as ``updated`` on the
        master, with ``Change.occurrence`` naming the occurrence.
        """
        original = _utc(original_start)
        with self._lock:
            state = self._require(mailbox)
            current = self._require_event(state, item_id)
            if current.recurrence is None:
                raise ValueError("only a series has occurrences")
            starts = series_starts(current, original - timedelta(seconds=1), original + timedelta(seconds=1))
            if original not in starts:
                raise ItemNotFoundError(f"the series has no occurrence starting {_iso(original)}")
            exceptions = dict(current.exceptions)
            exceptions[_iso(original)] = OccurrenceOverride(
                start=_utc(start) if start else None,
                end=_utc(end) if end else None,
                subject=subject,
                cancelled=cancelled,
            )
            event, change = self._log_event(
                state, replace(current, exceptions=exceptions), ChangeKind.UPDATED, occurrence=_iso(original)
            )
        self._notify([change])
        return event

    def delete_event(self, mailbox: str, item_id: str) -> None:
        """Remove a calendar item (and, for a series, all its occurrences); logs ``deleted``."""
        with self._lock:
            state = self._require(mailbox)
            current = self._require_event(state, item_id)
            del state.events[current.item_key]
            change = self._append(
                state,
                WellKnownFolder.CALENDAR,
                ChangeKind.DELETED,
                current.item_key,
                current.item_id,
                reason="deleted",
            )
            state.deleted_events[current.item_key] = replace(current, sequence=change.sequence)
        self._notify([change])

    # -- the change log ----------------------------------------------------------------------------

    def changes(
        self, mailbox: str, folder: WellKnownFolder | str, after: int, upto: int | None = None
    ) -> list[Change]:
        """Log entries of a folder with ``after < sequence <= upto`` (to the end when ``upto`` is None).

        Raises ``SyncStateTooOldError`` when entries after ``after`` have been trimmed from the log.
        """
        wanted = WellKnownFolder(folder)
        with self._lock:
            log = self._require(mailbox).logs[wanted]
            if after < log.floor:
                raise SyncStateTooOldError(f"changes after {after} are no longer kept (oldest {log.floor})")
            entries = log.entries
            # Sequences are consecutive within a log, so the slice is found by arithmetic.
            first = after - log.floor
            last = len(entries) if upto is None else max(first, min(len(entries), upto - log.floor))
            return list(entries[first:last])

    def latest_sequence(self, mailbox: str, folder: WellKnownFolder | str) -> int:
        """The sequence number of a folder's newest change (0 before any)."""
        with self._lock:
            return self._require(mailbox).logs[WellKnownFolder(folder)].sequence

    def oldest_sequence(self, mailbox: str, folder: WellKnownFolder | str) -> int:
        """The oldest position a sync may resume from: states before it are too old to serve."""
        with self._lock:
            return self._require(mailbox).logs[WellKnownFolder(folder)].floor

    def sync_epoch(self, mailbox: str) -> int:
        """The mailbox's sync generation: sync states issued under an older epoch are expired."""
        with self._lock:
            return self._require(mailbox).epoch

    def expire_sync_states(self, mailbox: str) -> int:
        """Invalidate every sync state (Graph delta token, EWS SyncState) of a mailbox; returns the
        new epoch. The next incremental sync must fail and the client start over."""
        with self._lock:
            state = self._require(mailbox)
            state.epoch += 1
            return state.epoch

    def replay_last_change(
        self, mailbox: str, folder: WellKnownFolder | str, copies: int = 1
    ) -> list[Change]:
        """Append ``copies`` copies of a folder's newest change, flagged ``replayed``.

        Delta queries report each copy again, so a client sees the same change twice (or more, and
        possibly within one page). Raises ``LookupError`` if the folder has no changes yet.
        """
        if copies < 1:
            raise ValueError("copies must be at least 1")
        wanted = WellKnownFolder(folder)
        with self._lock:
            state = self._require(mailbox)
            log = state.logs[wanted]
            if not log.entries:
                raise LookupError(f"{wanted} has no change to replay")
            last = log.entries[-1]
            replayed = [
                self._append(
                    state,
                    wanted,
                    last.kind,
                    last.item_key,
                    last.item_id,
                    reason=last.reason,
                    occurrence=last.occurrence,
                    replayed=True,
                )
                for _ in range(copies)
            ]
        self._notify(replayed)
        return replayed

    # -- listeners ---------------------------------------------------------------------------------

    def add_listener(self, listener: ChangeListener) -> Callable[[], None]:
        """Call ``listener(change)`` after every change; returns a function that removes it."""
        with self._lock:
            self._listeners.append(listener)

        def remove() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return remove

    # -- persistence -------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Everything in the store as JSON-ready data (what the devstack saves under ``var/``)."""
        with self._lock:
            return {
                "version": 1,
                "mailboxes": [
                    {
                        "mailbox": state.mailbox.to_dict(),
                        "epoch": state.epoch,
                        "messages": [m.to_dict() for m in state.messages.values()],
                        "events": [e.to_dict() for e in state.events.values()],
                        "deleted_events": [e.to_dict() for e in state.deleted_events.values()],
                        "logs": {
                            str(folder): {
                                "sequence": log.sequence,
                                "floor": log.floor,
                                "entries": [c.to_dict() for c in log.entries],
                            }
                            for folder, log in state.logs.items()
                        },
                    }
                    for state in self._states.values()
                ],
            }

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        clock: Callable[[], datetime] = utc_now,
        *,
        log_limit: int = DEFAULT_LOG_LIMIT,
    ) -> MailboxStore:
        """Rebuild a store saved with ``to_dict``. Raises ``ValueError`` on malformed data."""
        store = cls(clock, log_limit=log_limit)
        try:
            for saved in data.get("mailboxes") or ():
                state = _MailboxState(Mailbox.from_dict(saved["mailbox"]), epoch=int(saved.get("epoch") or 1))
                for item in saved.get("messages") or ():
                    message = Message.from_dict(item)
                    state.messages[message.item_key] = message
                for item in saved.get("events") or ():
                    event = CalendarEvent.from_dict(item)
                    state.events[event.item_key] = event
                for item in saved.get("deleted_events") or ():
                    event = CalendarEvent.from_dict(item)
                    state.deleted_events[event.item_key] = event
                for name, log in (saved.get("logs") or {}).items():
                    state.logs[WellKnownFolder(name)] = _FolderLog(
                        sequence=int(log["sequence"]),
                        floor=int(log["floor"]),
                        entries=[Change.from_dict(c) for c in log.get("entries") or ()],
                    )
                store._states[state.mailbox.user_id] = state
        except (KeyError, TypeError) as error:
            raise ValueError(f"malformed mailbox store data: {error}") from error
        return store

    # -- internals ---------------------------------------------------------------------------------

    def _find(self, user_id_or_address: str) -> _MailboxState | None:
        state = self._states.get(user_id_or_address)
        if state is not None:
            return state
        return next(
            (s for s in self._states.values() if _same_address(s.mailbox.address, user_id_or_address)),
            None,
        )

    def _require(self, user_id_or_address: str) -> _MailboxState:
        state = self._find(user_id_or_address)
        if state is None:
            raise MailboxNotFoundError(user_id_or_address)
        return state

    @staticmethod
    def _find_message(state: _MailboxState, item_id: str) -> Message | None:
        found = state.messages.get(item_id)
        if found is not None:
            return found
        return next((m for m in state.messages.values() if m.item_id == item_id), None)

    def _require_message(self, state: _MailboxState, item_id: str) -> Message:
        found = self._find_message(state, item_id)
        if found is None:
            raise ItemNotFoundError(item_id)
        return found

    @staticmethod
    def _find_event(events: Mapping[str, CalendarEvent], item_id: str) -> CalendarEvent | None:
        found = events.get(item_id)
        if found is not None:
            return found
        return next((e for e in events.values() if e.item_id == item_id), None)

    def _require_event(self, state: _MailboxState, item_id: str) -> CalendarEvent:
        found = self._find_event(state.events, item_id)
        if found is None:
            raise ItemNotFoundError(item_id)
        return found

    def _log_message(
        self, state: _MailboxState, message: Message, kind: ChangeKind
    ) -> tuple[Message, Change]:
        change = self._append(state, message.folder, kind, message.item_key, message.item_id)
        stamped = replace(
            message,
            sequence=change.sequence,
            change_key=new_change_key(),
            modified_at=change.at,
        )
        state.messages[stamped.item_key] = stamped
        return stamped, change

    def _log_event(
        self, state: _MailboxState, event: CalendarEvent, kind: ChangeKind, *, occurrence: str | None = None
    ) -> tuple[CalendarEvent, Change]:
        change = self._append(
            state,
            WellKnownFolder.CALENDAR,
            kind,
            event.item_key,
            event.item_id,
            occurrence=occurrence,
        )
        stamped = replace(event, sequence=change.sequence, change_key=new_change_key(), modified_at=change.at)
        state.events[stamped.item_key] = stamped
        return stamped, change

    def _append(
        self,
        state: _MailboxState,
        folder: WellKnownFolder,
        kind: ChangeKind,
        item_key: str,
        item_id: str,
        *,
        reason: str = "",
        occurrence: str | None = None,
        replayed: bool = False,
    ) -> Change:
        """Log a change; the caller stamps the item (``_log_message``/``_log_event``)."""
        log = state.logs[folder]
        log.sequence += 1
        change = Change(
            sequence=log.sequence,
            mailbox=state.mailbox.user_id,
            folder=folder,
            kind=kind,
            item_key=item_key,
            item_id=item_id,
            at=self._clock(),
            reason=reason,
            occurrence=occurrence,
            replayed=replayed,
        )
        log.entries.append(change)
        if len(log.entries) > self._log_limit:
            dropped = len(log.entries) - self._log_limit
            log.floor = log.entries[dropped - 1].sequence
            del log.entries[:dropped]
        return change

    def _notify(self, changes: Iterable[Change]) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for change in changes:
            for listener in listeners:
                try:
                    listener(change)
                except Exception:
                    # One broken listener must not stop the change or the other listeners.
                    logger.exception("mailbox change listener failed")


class SyncStateTooOldError(LookupError):
    """The log no longer holds the changes a sync state would need: the client must start over."""


# --- Helpers -----------------------------------------------------------------------------------------


def _mail_folder(folder: WellKnownFolder | str) -> WellKnownFolder:
    wanted = WellKnownFolder(folder)
    if wanted not in MAIL_FOLDERS:
        raise ValueError(f"{wanted} is not a mail folder")
    return wanted


def _same_address(left: str, right: str) -> bool:
    return left.strip().lower() == right.strip().lower()


_REPLY_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|wg)\s*:\s*)+", re.IGNORECASE)


def _thread_key(subject: str) -> str:
    """The subject without reply/forward prefixes: Exchange threads by it when no id is given."""
    return _REPLY_PREFIX.sub("", subject).strip().lower()


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    """UTC ISO 8601 with a ``Z``, the key format used throughout the store."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(str(text).replace("Z", "+00:00")).astimezone(UTC)


def iso_utc(moment: datetime) -> str:
    """The store's canonical UTC timestamp text (the keys of ``CalendarEvent.exceptions``)."""
    return _iso(moment)


# --- Mail flow between the mailboxes of one store ----------------------------------------------------


def _as_recipient(value: Recipient | str) -> Recipient:
    return value if isinstance(value, Recipient) else Recipient(address=value)


class MailTransport:
    """How Exchange moves mail and meeting copies between the mailboxes of one store.

    Protocol front ends (Graph, EWS) and the scenario engine script the mailboxes through this, so a
    message sent by one user reaches a colleague's Inbox, and a meeting lands in every attendee's
    calendar with the same ``iCalUId``. Mailboxes are named by user id or address.
    """

    def __init__(self, store: MailboxStore) -> None:
        self.store = store

    def mailbox(self, mailbox: str) -> Mailbox:
        """A mailbox by user id or address; raises ``MailboxNotFoundError``."""
        found = self.store.mailbox(mailbox)
        if found is None:
            raise MailboxNotFoundError(mailbox)
        return found

    def deliver(
        self,
        mailbox: str,
        *,
        sender: Recipient | str,
        subject: str,
        body: str = "",
        to: Sequence[Recipient | str] | None = None,
        cc: Sequence[Recipient | str] = (),
        headers: Sequence[tuple[str, str]] = (),
        received_at: datetime | None = None,
        internet_message_id: str | None = None,
        conversation_id: str | None = None,
        is_read: bool = False,
        categories: Sequence[str] = (),
    ) -> Message:
        """An inbound message from outside lands in the Inbox (addressed to the owner unless ``to``)."""
        owner = self.mailbox(mailbox)
        return self.store.add_message(
            owner.user_id,
            WellKnownFolder.INBOX,
            subject=subject,
            body=body,
            sender=_as_recipient(sender),
            to=[_as_recipient(r) for r in to] if to is not None else [owner.owner()],
            cc=[_as_recipient(r) for r in cc],
            received_at=received_at,
            sent_at=received_at,
            internet_message_id=internet_message_id,
            conversation_id=conversation_id,
            is_read=is_read,
            categories=categories,
            headers=headers,
        )

    def send(
        self,
        mailbox: str,
        *,
        to: Sequence[Recipient | str],
        subject: str,
        body: str = "",
        cc: Sequence[Recipient | str] = (),
        headers: Sequence[tuple[str, str]] = (),
        sent_at: datetime | None = None,
        internet_message_id: str | None = None,
        conversation_id: str | None = None,
    ) -> Message:
        """The owner sends a message: a read copy in their Sent Items, and an unread copy in the Inbox of
        every recipient with a mailbox in this store. Returns the Sent Items copy."""
        owner = self.mailbox(mailbox)
        recipients = [_as_recipient(r) for r in to]
        copies = [_as_recipient(r) for r in cc]
        sent = self.store.add_message(
            owner.user_id,
            WellKnownFolder.SENT_ITEMS,
            subject=subject,
            body=body,
            sender=owner.owner(),
            to=recipients,
            cc=copies,
            received_at=sent_at,
            sent_at=sent_at,
            internet_message_id=internet_message_id,
            conversation_id=conversation_id,
            is_read=True,
            headers=headers,
        )
        for recipient in {r.address.lower(): r for r in [*recipients, *copies]}.values():
            inbox = self.store.mailbox(recipient.address)
            if inbox is not None and inbox.user_id != owner.user_id:
                self.store.add_message(
                    inbox.user_id,
                    WellKnownFolder.INBOX,
                    subject=subject,
                    body=body,
                    sender=owner.owner(),
                    to=recipients,
                    cc=copies,
                    received_at=sent.received_at,
                    sent_at=sent.sent_at,
                    internet_message_id=sent.internet_message_id,
                    conversation_id=sent.conversation_id,
                    headers=headers,
                )
        return sent

    def find_message(
        self, mailbox: str, internet_message_id: str, folder: WellKnownFolder | str | None = None
    ) -> Message | None:
        """A message of a mailbox by its ``Message-ID`` (each mailbox has its own copy and ids)."""
        owner = self.mailbox(mailbox)
        return next(
            (
                m
                for m in self.store.messages(owner.user_id, folder)
                if m.internet_message_id == internet_message_id
            ),
            None,
        )

    def create_meeting(
        self,
        organizer: Recipient | str,
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
        ical_uid: str | None = None,
    ) -> dict[str, CalendarEvent]:
        """A meeting (or series) in the organizer's calendar and in each attendee's calendar that is in
        this store, all with one ``iCalUId``. The organizer may be outside the store (an invitation from
        a client). Returns the copies by mailbox user id."""
        organizer_recipient = _as_recipient(organizer)
        organizer_box = self.store.mailbox(organizer_recipient.address)
        if organizer_box is not None:
            organizer_recipient = organizer_box.owner()
        people = [_as_recipient(a) for a in attendees]
        attendee_list = tuple(Attendee(p.address, p.name) for p in people)
        holders = ([organizer_box] if organizer_box else []) + [
            box for p in people if (box := self.store.mailbox(p.address)) is not None
        ]
        uid = ical_uid or new_ical_uid()
        copies: dict[str, CalendarEvent] = {}
        for holder in {box.user_id: box for box in holders}.values():
            copies[holder.user_id] = self.store.add_event(
                holder.user_id,
                subject=subject,
                start=start,
                end=end,
                organizer=organizer_recipient,
                time_zone=time_zone or (organizer_box.time_zone if organizer_box else None),
                attendees=attendee_list,
                body=body,
                location=location,
                ical_uid=uid,
                is_all_day=is_all_day,
                show_as=show_as,
                recurrence=recurrence,
            )
        return copies

    def copies(self, mailbox: str, ical_uid: str) -> list[CalendarEvent]:
        """A mailbox's calendar items with this ``iCalUId`` (its copy of a meeting)."""
        owner = self.mailbox(mailbox)
        return [e for e in self.store.events(owner.user_id) if e.ical_uid == ical_uid]

    def respond(self, mailbox: str, event_id: str, response: str) -> CalendarEvent:
        """An attendee answers (``accepted``, ``tentativelyAccepted``, ``declined``); the organizer's
        copy records the answer when the organizer has a mailbox here."""
        owner = self.mailbox(mailbox)
        event = self.store.update_event(owner.user_id, event_id, response=response)
        organizer_box = self.store.mailbox(event.organizer.address)
        if organizer_box is not None and organizer_box.user_id != owner.user_id:
            answered = self.store.now()
            for copy in self.copies(organizer_box.user_id, event.ical_uid):
                attendees = tuple(
                    replace(a, response=response, response_time=answered)
                    if _same_address(a.address, owner.address)
                    else a
                    for a in copy.attendees
                )
                self.store.update_event(organizer_box.user_id, copy.item_key, attendees=attendees)
        return event

    def cancel_meeting(
        self, organizer: str, event_id: str, *, occurrence_start: datetime | None = None
    ) -> None:
        """The organizer cancels a meeting, or one occurrence of a series.

        A whole meeting: the organizer's copy is removed and each attendee's copy becomes
        ``isCancelled`` ("Canceled: ..."), as Exchange leaves it until the attendee removes it. One
        occurrence: it disappears from every copy of the series.
        """
        box = self.mailbox(organizer)
        event = self.store.event(box.user_id, event_id)
        if event is None:
            raise ItemNotFoundError(event_id)
        others = [b for b in self.store.mailboxes() if b.user_id != box.user_id]
        if occurrence_start is not None:
            self.store.override_occurrence(box.user_id, event.item_key, occurrence_start, cancelled=True)
            for holder in others:
                for copy in self.copies(holder.user_id, event.ical_uid):
                    self.store.override_occurrence(
                        holder.user_id, copy.item_key, occurrence_start, cancelled=True
                    )
            return
        self.store.delete_event(box.user_id, event.item_key)
        for holder in others:
            for copy in self.copies(holder.user_id, event.ical_uid):
                self.store.update_event(
                    holder.user_id, copy.item_key, is_cancelled=True, subject=f"Canceled: {copy.subject}"
                )

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
        """One occurrence of a series becomes an exception (new time, maybe a new subject) in every copy."""
        box = self.mailbox(organizer)
        event = self.store.event(box.user_id, event_id)
        if event is None:
            raise ItemNotFoundError(event_id)
        for holder in self.store.mailboxes():
            targets = (
                [event] if holder.user_id == box.user_id else self.copies(holder.user_id, event.ical_uid)
            )
            for copy in targets:
                self.store.override_occurrence(
                    holder.user_id, copy.item_key, original_start, start=start, end=end, subject=subject
                )
