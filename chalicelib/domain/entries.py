"""Billable entries, built from events by the firm's grouping policy.

Raw time is never lost: ``raw_seconds`` is what was captured, ``billed_seconds`` is raw plus adjustments
rounded *up* to the increment, and ``rounding`` names the rule that did it.

Building is a pure function of the day's events; reconciling it with the stored entries keeps the user's
edits and never touches an entry once it left the user's hands:

    unassigned ──assign──▶ assigned ──release──▶ released ──export/post──▶ exported | posted
        ▲                     │  ▲                  │
        └──── clear matter ───┘  └──── reopen ──────┘      (split: the entry hands its time to parts)

New events for a group whose entry is released, exported, posted or split start a new entry
(``group#2``), so nothing is billed twice and nothing released changes under the user's feet.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from chalicelib.domain.capture import ActivityEvent, Category, EventKind
from chalicelib.domain.errors import Conflict, FieldError, InvalidInput
from chalicelib.domain.timeutil import local_day


class GroupingPolicy(StrEnum):
    PER_EVENT = "per_event"
    PER_THREAD_DAY = "per_thread_day"
    PER_MATTER_DAY = "per_matter_day"


class EntryStatus(StrEnum):
    UNASSIGNED = "unassigned"
    ASSIGNED = "assigned"
    RELEASED = "released"
    EXPORTED = "exported"
    POSTED = "posted"
    SPLIT = "split"


EDITABLE = frozenset({EntryStatus.UNASSIGNED, EntryStatus.ASSIGNED})
BILLED_ELSEWHERE = frozenset({EntryStatus.EXPORTED, EntryStatus.POSTED})

DEFAULT_TEMPLATES: dict[str, str] = {
    EventKind.READ: "Review email from {sender} re: {subject}",
    EventKind.COMPOSE: "Email to {to} re: {subject}",
    EventKind.MEETING: "Meeting re: {subject}",
    EventKind.CALL: "Telephone call with {who}",
    EventKind.MANUAL: "{note}",
    "group": "Correspondence re: {subject} ({count} items)",
}

_PLACEHOLDER = re.compile(r"{(\w+)}")


def render_narrative(template: str, values: dict[str, str]) -> str:
    """Fill ``{name}`` placeholders; unknown names stay empty. No attribute access: firms edit these."""
    text = _PLACEHOLDER.sub(lambda match: values.get(match.group(1), ""), template)
    return re.sub(r"\s+", " ", text).strip(" :")


@dataclass(frozen=True)
class Rounding:
    """Round billed time up to ``increment_seconds``; ``rule`` says whose increment it is."""

    increment_seconds: int = 360
    rule: str = "firm: 6 min"


def describe_increment(seconds: int) -> str:
    """'6 min' (0.1 h), '15 min', '30 s': how lawyers say it."""
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


def round_up(seconds: float, increment_seconds: int) -> int:
    """Always up to the next increment; exact multiples stay; zero stays zero."""
    # Whole milliseconds (the precision of every time here), so float noise never rounds a boundary up.
    milliseconds = max(round(seconds * 1000), 0)
    if increment_seconds <= 0:
        return math.ceil(milliseconds / 1000)
    step = increment_seconds * 1000
    return -(-milliseconds // step) * increment_seconds


@dataclass(frozen=True)
class Entry:
    """What gets billed."""

    firm_id: str
    user_id: str
    entry_id: str
    group_key: str
    day: date
    event_ids: tuple[str, ...]
    raw_seconds: float
    narrative: str
    category: Category = Category.BUSINESS
    matter_id: str | None = None
    activity_code: str | None = None
    task_code: str | None = None
    narrative_edited: bool = False
    category_edited: bool = False
    prep_seconds: int = 0
    post_seconds: int = 0
    billed_seconds: int = 0
    rounding_rule: str = ""
    billable: bool = True
    status: EntryStatus = EntryStatus.UNASSIGNED
    split_from: str | None = None
    share: Decimal = Decimal(1)
    external_id: str | None = None
    # When the entry's first event started (UTC); entries sort by it.
    start: datetime | None = None
    version: int = 0

    @property
    def editable(self) -> bool:
        return self.status in EDITABLE

    @property
    def frozen_events(self) -> bool:
        """Entries whose events no longer follow the capture (released, billed, split, or split parts)."""
        return not self.editable or self.split_from is not None


def entry_id_for(user_id: str, group_key: str, day: date) -> str:
    """The day leads the id, so an entry's storage key can be derived from its id alone."""
    return f"{day:%Y%m%d}{hashlib.sha256(f'{user_id}|{group_key}'.encode()).hexdigest()[:16]}"


def day_of_entry_id(entry_id: str) -> date | None:
    """The day encoded in an entry id, or None if it is not an entry id."""
    if len(entry_id) != 24 or not entry_id[:8].isdigit():
        return None
    try:
        return date(int(entry_id[:4]), int(entry_id[4:6]), int(entry_id[6:8]))
    except ValueError:
        return None


def group_key(event: ActivityEvent, policy: GroupingPolicy, day: date) -> str:
    """Which entry an event belongs to."""
    # Ids from outside are hashed so no id can look like a later generation ("...#2") of another group.
    if policy is GroupingPolicy.PER_THREAD_DAY and event.conversation_id:
        return f"{day.isoformat()}|thread|{_digest(event.conversation_id)}"
    if policy is GroupingPolicy.PER_MATTER_DAY and event.matter_id:
        return f"{day.isoformat()}|matter|{_digest(event.matter_id)}"
    return f"{day.isoformat()}|event|{event.event_id}"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:24]


def billable_events(events: Iterable[ActivityEvent], categories: dict[str, Category]) -> list[ActivityEvent]:
    """Events that can become entries: not deleted, not personal, not filtered."""
    return [
        event
        for event in events
        if not event.deleted
        and not event.personal
        and categories[event.event_id] in (Category.BUSINESS, Category.MEMO)
    ]


def _narrative(events: list[ActivityEvent], templates: dict[str, str]) -> str:
    first = min(events, key=lambda e: e.start)
    to = ", ".join(p for p in first.participants if p != first.sender.lower())
    values = {
        "subject": first.subject,
        "sender": first.sender,
        "to": to,
        "who": ", ".join(first.participants),
        "note": first.detail("note") or first.subject,
        "count": str(len(events)),
    }
    template = templates.get("group", DEFAULT_TEMPLATES["group"]) if len(events) > 1 else None
    return render_narrative(template or templates.get(first.kind, DEFAULT_TEMPLATES[first.kind]), values)


def _billed(entry: Entry, rounding: Rounding) -> Entry:
    worked = float(entry.raw_seconds) + entry.prep_seconds + entry.post_seconds
    return replace(
        entry, billed_seconds=round_up(worked, rounding.increment_seconds), rounding_rule=rounding.rule
    )


def _status_for(matter_id: str | None, status: EntryStatus) -> EntryStatus:
    if status not in EDITABLE:
        return status
    return EntryStatus.ASSIGNED if matter_id else EntryStatus.UNASSIGNED


@dataclass(frozen=True)
class DayPlan:
    """What reconciling a day changes: entries to write and entries to remove."""

    put: list[Entry]
    remove: list[Entry]


def plan_day(
    *,
    firm_id: str,
    user_id: str,
    day: date,
    zone_name: str,
    events: list[ActivityEvent],
    categories: dict[str, Category],
    existing: list[Entry],
    policy: GroupingPolicy,
    templates: dict[str, str],
    rounding_for: Callable[[str | None], Rounding],
) -> DayPlan:
    """Rebuild one user-day's entries from its events, keeping every edit and every frozen entry."""
    frozen_event_ids = {eid for entry in existing if entry.frozen_events for eid in entry.event_ids}
    groups: dict[str, list[ActivityEvent]] = {}
    for event in billable_events(events, categories):
        if local_day(event.start, zone_name) != day or event.event_id in frozen_event_ids:
            continue
        groups.setdefault(group_key(event, policy, day), []).append(event)

    by_group = {entry.group_key: entry for entry in existing}
    put: list[Entry] = []
    live_groups: set[str] = set()
    for base_key, members in groups.items():
        key = base_key
        generation = 1
        while key in by_group and by_group[key].frozen_events:
            generation += 1
            key = f"{base_key}#{generation}"
        live_groups.add(key)
        members.sort(key=lambda e: (e.start, e.event_id))
        current = by_group.get(key)
        matter = current.matter_id if current else _common_matter(members)
        category = (
            Category.MEMO
            if all(categories[e.event_id] is Category.MEMO for e in members)
            else Category.BUSINESS
        )
        draft = Entry(
            firm_id=firm_id,
            user_id=user_id,
            entry_id=entry_id_for(user_id, key, day),
            group_key=key,
            day=day,
            event_ids=tuple(e.event_id for e in members),
            raw_seconds=round(sum(e.seconds for e in members), 3),
            narrative=_narrative(members, templates),
            category=category,
            matter_id=matter,
            start=members[0].start,
        )
        if current is not None:
            draft = replace(
                current,
                event_ids=draft.event_ids,
                raw_seconds=draft.raw_seconds,
                start=draft.start,
                narrative=current.narrative if current.narrative_edited else draft.narrative,
                category=current.category if current.category_edited else draft.category,
            )
        draft = _billed(
            replace(draft, status=_status_for(draft.matter_id, draft.status)), rounding_for(draft.matter_id)
        )
        if current is None or draft != current:
            put.append(draft)
    remove = [e for e in existing if not e.frozen_events and e.group_key not in live_groups]
    return DayPlan(put=put, remove=remove)


def _common_matter(events: list[ActivityEvent]) -> str | None:
    matters = {event.matter_id for event in events}
    return matters.pop() if len(matters) == 1 else None


# ---------------------------------------------------------------- edits on entries


@dataclass(frozen=True)
class EntryChanges:
    """A change a user applies to one entry or a selection; None leaves a field alone."""

    matter_id: str | None = None
    clear_matter: bool = False
    activity_code: str | None = None
    task_code: str | None = None
    narrative: str | None = None
    prep_seconds: int | None = None
    post_seconds: int | None = None
    billable: bool | None = None
    category: Category | None = None


def apply_changes(entry: Entry, changes: EntryChanges, rounding: Rounding) -> Entry:
    """Edit an entry that is still the user's to edit."""
    if not entry.editable:
        raise Conflict(f"the entry is {entry.status.value}; reopen it before changing it")
    problems: list[FieldError] = []
    for name in ("prep_seconds", "post_seconds"):
        value = getattr(changes, name)
        if value is not None and not 0 <= value <= 86_400:
            problems.append(FieldError(name, "must be between 0 and 86400 seconds"))
    if changes.category is not None and changes.category not in (Category.BUSINESS, Category.MEMO):
        problems.append(FieldError("category", "entries are business or memo; mark events personal instead"))
    if problems:
        raise InvalidInput("the change is not valid", field_errors=problems)
    matter = None if changes.clear_matter else (changes.matter_id or entry.matter_id)
    updated = replace(
        entry,
        matter_id=matter,
        activity_code=changes.activity_code if changes.activity_code is not None else entry.activity_code,
        task_code=changes.task_code if changes.task_code is not None else entry.task_code,
        narrative=changes.narrative if changes.narrative is not None else entry.narrative,
        narrative_edited=entry.narrative_edited or changes.narrative is not None,
        prep_seconds=changes.prep_seconds if changes.prep_seconds is not None else entry.prep_seconds,
        post_seconds=changes.post_seconds if changes.post_seconds is not None else entry.post_seconds,
        billable=changes.billable if changes.billable is not None else entry.billable,
        category=changes.category or entry.category,
        category_edited=entry.category_edited or changes.category is not None,
    )
    return _billed(replace(updated, status=_status_for(updated.matter_id, updated.status)), rounding)


def release(entry: Entry) -> Entry:
    """Hand the entry to billing. It needs a matter."""
    if entry.status is EntryStatus.RELEASED:
        return entry
    if entry.status is not EntryStatus.ASSIGNED or not entry.matter_id:
        raise Conflict(
            f"only assigned entries can be released (this one is {entry.status.value}); assign a matter first"
        )
    return replace(entry, status=EntryStatus.RELEASED)


def reopen(entry: Entry) -> Entry:
    """Take a released entry back before billing took it."""
    if entry.status is not EntryStatus.RELEASED:
        raise Conflict(f"only released entries can be reopened (this one is {entry.status.value})")
    return replace(entry, status=EntryStatus.ASSIGNED)


class SplitMode(StrEnum):
    EQUAL = "equal"  # the time is shared equally between the matters
    FULL = "full"  # each matter is billed the full time (e.g. a meeting about two matters, firm policy)


def split(
    entry: Entry, matters: list[str], mode: SplitMode, rounding_for: Callable[[str | None], Rounding]
) -> list[Entry]:
    """Split one entry across matters: the entry becomes ``split`` and its parts carry the time."""
    if not entry.editable:
        raise Conflict(f"the entry is {entry.status.value}; reopen it before splitting it")
    if len(matters) < 2 or len(set(matters)) != len(matters):
        raise InvalidInput(
            "split across at least two different matters",
            field_errors=[FieldError("matters", "need 2+ distinct")],
        )
    share = Decimal(1) if mode is SplitMode.FULL else Decimal(1) / len(matters)
    raw_ms = round(entry.raw_seconds * 1000)
    # Equal shares in whole milliseconds; the first parts take the leftover milliseconds, so the parts
    # add up to the entry exactly.
    base, leftover = divmod(raw_ms, len(matters))
    parts = []
    for index, matter in enumerate(matters, start=1):
        key = f"{entry.group_key}/split{index}"
        part_ms = raw_ms if mode is SplitMode.FULL else base + (1 if index <= leftover else 0)
        raw = Decimal(part_ms) / 1000
        part = replace(
            entry,
            entry_id=entry_id_for(entry.user_id, key, entry.day),
            group_key=key,
            matter_id=matter,
            raw_seconds=float(raw),
            split_from=entry.entry_id,
            share=share,
            status=EntryStatus.ASSIGNED,
            version=0,
        )
        parts.append(_billed(part, rounding_for(matter)))
    return [replace(entry, status=EntryStatus.SPLIT), *parts]
