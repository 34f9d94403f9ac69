"""Activity events: one per real thing, merged from every capture of it.

A *capture* is one observation from one source (an add-in heartbeat, a Graph change, a CDR row, a manual
item). Captures of the same thing share a stable key and merge into one *event*. The merge is a
join-semilattice — commutative, associative, idempotent — so replays, retries and any batch split or
order give the same event:

    measured spans: union of intervals, then gaps ≤ pulse time closed (ActivityWatch-style merging)
        hb 10:00:00 ─┐ pulse 60 s ┌─ hb 10:00:40 ─ hb 10:01:20      hb 10:05:00
                     └────────────┴──────────────────────────┘      └─ new span
    estimate: the largest estimate seen      text details: per field, the latest non-empty value (time, value)
    flags (sent, deleted, personal): once set, set
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from chalicelib.domain.errors import InvalidInput


class EventKind(StrEnum):
    """What the lawyer was doing."""

    READ = "read"
    COMPOSE = "compose"
    MEETING = "meeting"
    CALL = "call"
    MANUAL = "manual"


class Source(StrEnum):
    """Where a capture came from."""

    ADDIN = "addin"
    GRAPH = "graph"
    EWS = "ews"
    CDR = "cdr"
    MANUAL = "manual"


class Category(StrEnum):
    """How an event counts: business time, personal (private forever), an internal memo, or filtered out."""

    BUSINESS = "business"
    PERSONAL = "personal"
    MEMO = "memo"
    FILTERED = "filtered"


@dataclass(frozen=True, order=True)
class Span:
    """A measured interval of work, UTC."""

    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True)
class Capture:
    """One observation of one thing by one source, already normalised to UTC."""

    kind: EventKind
    source: Source
    key: str
    at: datetime
    duration_seconds: float = 0.0
    measured: bool = True
    subject: str = ""
    participants: tuple[str, ...] = ()
    sender: str = ""
    conversation_id: str = ""
    internet_message_id: str = ""
    body_chars: int = 0
    list_unsubscribe: bool = False
    auto_submitted: bool = False
    sent: bool = False
    deleted: bool = False
    personal: bool = False
    note: str = ""

    def __post_init__(self) -> None:
        if not self.key:
            raise InvalidInput("a capture needs a stable key")
        if self.duration_seconds < 0:
            raise InvalidInput("a duration cannot be negative")


_KIND_RANK = [EventKind.MANUAL, EventKind.READ, EventKind.CALL, EventKind.MEETING, EventKind.COMPOSE]

DETAIL_FIELDS = ("subject", "sender", "conversation_id", "internet_message_id", "note")


@dataclass(frozen=True)
class CaptureSettings:
    """Firm settings that shape events."""

    pulse_seconds: float = 90.0
    reading_words_per_minute: int = 220
    typing_words_per_minute: int = 40
    chars_per_word: float = 5.5
    minimum_estimate_seconds: float = 30.0


@dataclass(frozen=True)
class ActivityEvent:
    """Everything known about one real thing the user did."""

    firm_id: str
    user_id: str
    key: str
    kind: EventKind
    sources: frozenset[Source] = frozenset()
    spans: tuple[Span, ...] = ()
    estimate_seconds: float = 0.0
    first_at: datetime | None = None
    participants: tuple[str, ...] = ()
    list_unsubscribe: bool = False
    auto_submitted: bool = False
    sent: bool = False
    deleted: bool = False
    personal: bool = False
    # Text details, each the latest non-empty value seen: {"subject": (observed at, value), ...}.
    details: dict[str, tuple[datetime, str]] = field(default_factory=dict)
    matter_id: str | None = None
    version: int = 0

    def detail(self, name: str) -> str:
        return self.details[name][1] if name in self.details else ""

    @property
    def subject(self) -> str:
        return self.detail("subject")

    @property
    def sender(self) -> str:
        return self.detail("sender")

    @property
    def conversation_id(self) -> str:
        return self.detail("conversation_id")

    @property
    def event_id(self) -> str:
        return event_id_for(self.key)

    @property
    def measured(self) -> bool:
        """Measured durations win over estimates for the same thing."""
        return bool(self.spans)

    @property
    def seconds(self) -> float:
        if self.spans:
            return sum(span.seconds for span in self.spans)
        return self.estimate_seconds

    @property
    def start(self) -> datetime:
        if self.spans:
            return self.spans[0].start
        assert self.first_at is not None
        return self.first_at


def event_id_for(key: str) -> str:
    """A short id derived from the stable key: the same thing always has the same id."""
    return hashlib.sha256(key.encode()).hexdigest()[:20]


def close_spans(spans: list[Span], pulse_seconds: float) -> tuple[Span, ...]:
    """Union the intervals and close every gap no longer than the pulse time."""
    if not spans:
        return ()
    ordered = sorted(spans)
    pulse = timedelta(seconds=pulse_seconds)
    merged = [ordered[0]]
    for span in ordered[1:]:
        last = merged[-1]
        if span.start - last.end <= pulse:
            merged[-1] = Span(last.start, max(last.end, span.end))
        else:
            merged.append(span)
    return tuple(merged)


def estimate_seconds(capture: Capture, settings: CaptureSettings) -> float:
    """Reading or typing time from the text's length (for items nobody measured)."""
    if capture.duration_seconds:
        return capture.duration_seconds
    words = capture.body_chars / settings.chars_per_word
    per_minute = (
        settings.typing_words_per_minute
        if capture.kind is EventKind.COMPOSE
        else settings.reading_words_per_minute
    )
    return max(settings.minimum_estimate_seconds, round(words / per_minute * 60, 3))


def merge(
    event: ActivityEvent | None, capture: Capture, *, firm_id: str, user_id: str, settings: CaptureSettings
) -> ActivityEvent:
    """Fold one capture into the event for its key (or start one)."""
    if event is None:
        event = ActivityEvent(firm_id=firm_id, user_id=user_id, key=capture.key, kind=capture.kind)
    elif event.key != capture.key:
        raise ValueError("a capture merges only into the event with its key")
    spans = list(event.spans)
    estimate = event.estimate_seconds
    if capture.measured:
        spans.append(Span(capture.at, capture.at + timedelta(seconds=capture.duration_seconds)))
    else:
        estimate = max(estimate, estimate_seconds(capture, settings))
    first_at = min(event.first_at, capture.at) if event.first_at else capture.at
    details = dict(event.details)
    for name in DETAIL_FIELDS:
        value = getattr(capture, name)
        if value and (name not in details or (capture.at, value) > details[name]):
            details[name] = (capture.at, value)
    # Keys carry their kind, so kinds rarely meet; when they do (a draft that was also opened to read),
    # the higher rank wins whatever the order.
    kind = max(event.kind, capture.kind, key=_KIND_RANK.index)
    return replace(
        event,
        kind=kind,
        sources=event.sources | {capture.source},
        spans=close_spans(spans, settings.pulse_seconds),
        estimate_seconds=estimate,
        first_at=first_at,
        participants=tuple(sorted(set(event.participants) | {p.lower() for p in capture.participants})),
        list_unsubscribe=event.list_unsubscribe or capture.list_unsubscribe,
        auto_submitted=event.auto_submitted or capture.auto_submitted,
        sent=event.sent or capture.sent,
        deleted=event.deleted or capture.deleted,
        personal=event.personal or capture.personal,
        details=details,
    )


def fold(
    existing: dict[str, ActivityEvent],
    captures: list[Capture],
    *,
    firm_id: str,
    user_id: str,
    settings: CaptureSettings,
) -> dict[str, ActivityEvent]:
    """Fold many captures into the events they touch; returns only the touched events."""
    touched: dict[str, ActivityEvent] = {}
    for capture in captures:
        current = touched.get(capture.key) or existing.get(capture.key)
        touched[capture.key] = merge(current, capture, firm_id=firm_id, user_id=user_id, settings=settings)
    return touched


# ---------------------------------------------------------------- stable keys: one real thing, one key


def read_key(internet_message_id: str) -> str:
    """Reading a message: the same message read again merges into the same event."""
    return f"read:{internet_message_id}"


def compose_key(correlation_id: str) -> str:
    """Writing a message: the add-in's correlation id, stamped on the draft, ties compose to send."""
    return f"compose:{correlation_id}"


def meeting_key(ical_uid: str, occurrence_start: datetime) -> str:
    """A meeting occurrence: iCalUId plus the occurrence's start (a series shares one iCalUId)."""
    return f"meeting:{ical_uid}:{occurrence_start.isoformat()}"


def call_key(call_id: str) -> str:
    """A phone call: the phone system's call id."""
    return f"call:{call_id}"


def manual_key(client_id: str) -> str:
    """A manual item: the id the client generated, so a retried send is the same item."""
    return f"manual:{client_id}"
