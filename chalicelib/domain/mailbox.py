"""Mailbox changes as the capture pipeline sees them, whatever protocol brought them (Graph or EWS).

The Graph adapter (delta queries) and the EWS adapter (``SyncFolderItems``) both turn what the server
says into these types; ``chalicelib.domain.mail_capture`` turns them into captures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Folder(StrEnum):
    INBOX = "inbox"
    SENT = "sentitems"
    CALENDAR = "calendar"


@dataclass(frozen=True)
class MailItem:
    """A message in Inbox or Sent Items, new or changed (e.g. marked read)."""

    item_id: str
    folder: Folder
    internet_message_id: str | None = None
    conversation_id: str | None = None
    subject: str = ""
    preview: str = ""
    sender: str | None = None
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    sent_at: datetime | None = None
    received_at: datetime | None = None
    is_read: bool = False
    is_draft: bool = False
    categories: tuple[str, ...] = ()
    # internetMessageHeaders, names lower-cased (e.g. "x-matterline-correlation", "list-unsubscribe").
    headers: dict[str, str] = field(default_factory=dict)
    body_chars: int = 0


@dataclass(frozen=True)
class MeetingItem:
    """A calendar item: a single meeting, an occurrence of a series (already expanded), or an exception.

    Times are UTC. ``response`` is the mailbox owner's: organizer, accepted, tentativelyAccepted,
    declined, notResponded or none.
    """

    item_id: str
    ical_uid: str
    start: datetime
    end: datetime
    subject: str = ""
    series_master_id: str | None = None
    kind: str = "singleInstance"  # singleInstance | occurrence | exception
    is_all_day: bool = False
    is_cancelled: bool = False
    show_as: str = "busy"
    response: str = "none"
    organizer: str | None = None
    attendees: tuple[str, ...] = ()
    body_preview: str = ""


@dataclass(frozen=True)
class RemovedItem:
    """An item the server says is gone (deleted or moved out of the folder)."""

    item_id: str
    folder: Folder


MailboxChange = MailItem | MeetingItem | RemovedItem


@dataclass(frozen=True)
class SyncPage:
    """One page of changes and the state to resume from.

    ``state`` is opaque to the services (a Graph nextLink/deltaLink, an EWS SyncState). While ``more`` is
    true the state resumes the current round; the last page's state starts the next round.
    """

    changes: list[MailboxChange]
    state: str
    more: bool


class SyncStateExpired(Exception):
    """The server no longer knows our sync state (Graph ``410 Gone``): start over with a full sync."""
