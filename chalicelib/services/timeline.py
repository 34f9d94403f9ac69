"""Capture and the timeline: fold captures into events, rebuild the day's entries, show and edit them.

Writing a capture is a read-merge-conditional-write of one event per stable key; two writers that read
the same version retry, and because the merge is commutative and idempotent the retry is always safe:

    A: get v3 ─ merge ─ put if v3 ──▶ ok (v4)
    B: get v3 ─ merge ────────── put if v3 ──▶ stale ─ get v4 ─ merge ─ put if v4 ──▶ ok (v5)

Then each touched user-day is rebuilt: events (one Query) + entries (one consistent Query) → plan →
one transaction per 50 entries, each conditional on the version it read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta

from chalicelib.domain.capture import ActivityEvent, Capture, Category, event_id_for, fold
from chalicelib.domain.classification import Classification, ClassificationRule, classify
from chalicelib.domain.delegation import is_delegated
from chalicelib.domain.entries import (
    BILLED_ELSEWHERE,
    Entry,
    EntryChanges,
    EntryStatus,
    GroupingPolicy,
    Rounding,
    SplitMode,
    apply_changes,
    day_of_entry_id,
    describe_increment,
    plan_day,
    release,
    reopen,
    split,
)
from chalicelib.domain.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
    StaleVersion,
)
from chalicelib.domain.identity import Permission, Principal
from chalicelib.domain.policy import CapturePolicy
from chalicelib.domain.timeutil import day_bounds, local_day
from chalicelib.ports import (
    Clock,
    FirmRepository,
    MatterAssistant,
    MatterRepository,
    PolicyRepository,
    TimelineRepository,
    UserRepository,
)

MAX_ATTEMPTS = 5
MAX_RANGE_DAYS = 62


@dataclass(frozen=True)
class IngestResult:
    """What a batch of captures did."""

    captures: int
    events_changed: int
    days_rebuilt: list[date]


@dataclass(frozen=True)
class Totals:
    """Seconds per bucket. ``personal_seconds`` is None whenever someone other than the owner asks."""

    captured_seconds: float
    unassigned_seconds: int
    assigned_seconds: int
    released_seconds: int
    exported_seconds: int
    entries: int
    personal_seconds: float | None = None


@dataclass(frozen=True)
class TimelineView:
    """A user's own view of a range: events with how they were classified, entries, totals."""

    user_id: str
    time_zone: str
    first_day: date
    last_day: date
    events: list[tuple[ActivityEvent, Classification]]
    entries: list[Entry]
    totals: Totals


@dataclass(frozen=True)
class BulkOutcome:
    """One entry's result in a bulk change."""

    entry_id: str
    ok: bool
    entry: Entry | None = None
    error: str | None = None


class TimelineService:
    """Use cases of capture and the timeline."""

    def __init__(
        self,
        *,
        timeline: TimelineRepository,
        policies: PolicyRepository,
        firms: FirmRepository,
        users: UserRepository,
        clock: Clock,
        matters: MatterRepository | None = None,
        assistant: MatterAssistant | None = None,
    ) -> None:
        self._matters = matters
        self._assistant = assistant
        self._timeline = timeline
        self._policies = policies
        self._firms = firms
        self._users = users
        self._clock = clock

    # ------------------------------------------------------------ capture

    def capture(self, principal: Principal, captures: list[Capture]) -> IngestResult:
        """The signed-in user's own captures (add-in heartbeats, compose, manual items, offline queue)."""
        principal.require(Permission.TIME_WRITE_OWN)
        return self.ingest(principal.firm_id, principal.subject_id, captures, actor=principal.actor)

    def ingest(self, firm_id: str, user_id: str, captures: list[Capture], *, actor: str) -> IngestResult:
        """Fold captures into events and rebuild the affected days (workers and importers call this)."""
        if not captures:
            return IngestResult(0, 0, [])
        policy = self._policies.get(firm_id)
        zone_name = self.zone_of(firm_id, user_id)
        by_key: dict[str, list[Capture]] = defaultdict(list)
        for item in captures:
            by_key[item.key].append(item)
        changed: dict[str, ActivityEvent] = {}
        days: set[date] = set()
        for key, group in by_key.items():
            before, after = self._merge_with_retry(firm_id, user_id, key, group, policy)
            if after is None:
                continue
            changed[after.event_id] = after
            days.add(local_day(after.start, zone_name))
            if before is not None:
                days.add(local_day(before.start, zone_name))
        for day in sorted(days):
            self.rebuild_day(firm_id, user_id, day, fresh=changed, actor=actor)
        return IngestResult(len(captures), len(changed), sorted(days))

    def _merge_with_retry(
        self, firm_id: str, user_id: str, key: str, group: list[Capture], policy: CapturePolicy
    ) -> tuple[ActivityEvent | None, ActivityEvent | None]:
        event_id = event_id_for(key)
        for _ in range(MAX_ATTEMPTS):
            current = self._timeline.get_event(firm_id, user_id, event_id)
            existing = {key: current} if current else {}
            merged = fold(existing, group, firm_id=firm_id, user_id=user_id, settings=policy.settings)[key]
            if merged == current:
                return current, None  # a replay: nothing new
            if current is None and self._assistant is not None:
                merged = self._auto_assign(firm_id, user_id, merged)
            try:
                return current, self._timeline.save_event(merged)
            except StaleVersion:
                continue
        raise Conflict("this item is being captured from several places at once; send it again")

    def _auto_assign(self, firm_id: str, user_id: str, event: ActivityEvent) -> ActivityEvent:
        # Only a brand-new event, once: above the firm's threshold the engine assigns and says why.
        assert self._assistant is not None
        decided = self._assistant.auto_matter(firm_id, user_id, event)
        if decided is None:
            return event
        matter_id, why = decided
        return replace(
            event, matter_id=matter_id, details={**event.details, "assignment": (event.start, why)}
        )

    def rebuild_day(
        self,
        firm_id: str,
        user_id: str,
        day: date,
        *,
        fresh: dict[str, ActivityEvent] | None = None,
        actor: str,
    ) -> list[Entry]:
        """Re-plan one user-day's entries from its events; safe to run any number of times."""
        policy = self._policies.get(firm_id)
        user_rules, _ = self._policies.user_rules(firm_id, user_id)
        zone_name = self.zone_of(firm_id, user_id)
        start, end = day_bounds(day, zone_name)
        for _ in range(MAX_ATTEMPTS):
            events, _entries = self._timeline.between(firm_id, user_id, start, end)
            # The index behind `between` may lag a write by a moment; what this process just wrote wins.
            known = {event.event_id: event for event in events}
            for event in (fresh or {}).values():
                if event.event_id not in known or known[event.event_id].version < event.version:
                    known[event.event_id] = event
            existing = self._timeline.entries_of_day(firm_id, user_id, day)
            categories = {
                event_id: self._classify(event, policy, user_rules).category
                for event_id, event in known.items()
            }
            plan = plan_day(
                firm_id=firm_id,
                user_id=user_id,
                day=day,
                zone_name=zone_name,
                events=list(known.values()),
                categories=categories,
                existing=existing,
                policy=policy.grouping,
                templates=policy.templates,
                rounding_for=self._rounding(firm_id, policy),
            )
            if not plan.put and not plan.remove:
                return existing
            try:
                return self._timeline.save_entries(plan.put, plan.remove, actor, "rebuild")
            except StaleVersion:
                continue
        raise Conflict("the day changed while it was being rebuilt; try again")

    # ------------------------------------------------------------ views

    def view(self, principal: Principal, first_day: date, last_day: date) -> TimelineView:
        """The caller's own timeline for a range of their days (in their time zone).

        A delegate sees the owner's timeline without personal items, and without their totals.
        """
        principal.require(Permission.TIME_READ_OWN)
        zone_name, shown, entries = self._range(principal.firm_id, principal.subject_id, first_day, last_day)
        delegated = is_delegated(principal)
        if delegated:
            shown = [(e, c) for e, c in shown if not e.personal and c.category is not Category.PERSONAL]
        return TimelineView(
            user_id=principal.subject_id,
            time_zone=zone_name,
            first_day=first_day,
            last_day=last_day,
            events=shown,
            entries=[entry for entry in entries if entry.status is not EntryStatus.SPLIT],
            totals=_totals(shown, entries, include_personal=not delegated),
        )

    def totals_for(self, principal: Principal, user_id: str, first_day: date, last_day: date) -> Totals:
        """What an admin or billing manager may know of someone's time: totals, never personal or content."""
        if user_id != principal.subject_id:
            principal.require(Permission.ROSTER_READ)
        if self._users.get(principal.firm_id, user_id) is None:
            raise NotFound("there is no such user in your firm")
        _, classified, entries = self._range(principal.firm_id, user_id, first_day, last_day)
        return _totals(classified, entries, include_personal=False)

    def _range(
        self, firm_id: str, user_id: str, first_day: date, last_day: date
    ) -> tuple[str, list[tuple[ActivityEvent, Classification]], list[Entry]]:
        """A user's zone, classified live events and entries for a range of their days (one Query)."""
        if last_day < first_day or (last_day - first_day).days >= MAX_RANGE_DAYS:
            raise InvalidInput(
                f"a range runs forward and covers at most {MAX_RANGE_DAYS} days",
                field_errors=[FieldError("end", f"must be on or after start, within {MAX_RANGE_DAYS} days")],
            )
        zone_name = self.zone_of(firm_id, user_id)
        start, _ = day_bounds(first_day, zone_name)
        _, end = day_bounds(last_day, zone_name)
        events, entries = self._timeline.between(firm_id, user_id, start, end)
        policy = self._policies.get(firm_id)
        user_rules, _ = self._policies.user_rules(firm_id, user_id)
        classified = [(e, self._classify(e, policy, user_rules)) for e in events if not e.deleted]
        return zone_name, classified, entries

    # ------------------------------------------------------------ entries

    def change_entry(self, principal: Principal, entry_id: str, version: int, changes: EntryChanges) -> Entry:
        """Edit one of the caller's entries (matter, activity, narrative, adjustments, billable)."""
        principal.require(Permission.TIME_WRITE_OWN)
        entry = self._own_entry(principal, entry_id, version)
        policy = self._policies.get(principal.firm_id)
        rounding_for = self._rounding(principal.firm_id, policy)
        updated = apply_changes(entry, changes, rounding_for(changes.matter_id or entry.matter_id))
        if changes.matter_id and changes.matter_id != entry.matter_id:
            self._learn(principal, entry, changes.matter_id)
        if changes.matter_id and policy.grouping is GroupingPolicy.PER_MATTER_DAY:
            return self._regroup_by_matter(principal, entry, changes.matter_id)
        return self._timeline.save_entries([updated], [], principal.actor, "update")[0]

    def _learn(self, principal: Principal, entry: Entry, matter_id: str) -> None:
        """Every assignment and correction teaches the suggestion engine."""
        if self._assistant is None:
            return
        events = [
            event
            for event_id in entry.event_ids
            if (event := self._timeline.get_event(principal.firm_id, principal.subject_id, event_id))
        ]
        self._assistant.learn(principal.firm_id, principal.subject_id, events, matter_id, entry.matter_id)

    def _regroup_by_matter(self, principal: Principal, entry: Entry, matter_id: str) -> Entry:
        # Per matter per day, the matter lives on the events: move them, and the day regroups.
        firm_id, user_id = principal.firm_id, principal.subject_id
        moved: dict[str, ActivityEvent] = {}
        for event_id in entry.event_ids:
            event = self._timeline.get_event(firm_id, user_id, event_id)
            if event is not None and event.matter_id != matter_id:
                moved[event_id] = self._timeline.change_event(
                    replace(event, matter_id=matter_id), principal.actor, "assign"
                )
        self.rebuild_day(firm_id, user_id, entry.day, fresh=moved, actor=principal.actor)
        for candidate in self._timeline.entries_of_day(firm_id, user_id, entry.day):
            if set(entry.event_ids) & set(candidate.event_ids) and candidate.matter_id == matter_id:
                return candidate
        raise Conflict("the day changed while the matter was being assigned; reload it and try again")

    def set_status(self, principal: Principal, entry_id: str, version: int, action: str) -> Entry:
        """Release an entry to billing, or reopen a released one."""
        principal.require(Permission.TIME_WRITE_OWN)
        entry = self._own_entry(principal, entry_id, version)
        changed = release(entry) if action == "release" else reopen(entry)
        if changed == entry:
            return entry
        return self._timeline.save_entries([changed], [], principal.actor, action)[0]

    def bulk(
        self, principal: Principal, entry_ids: list[str], *, changes: EntryChanges | None, action: str | None
    ) -> list[BulkOutcome]:
        """Apply one change or action to a selection; each entry reports its own result."""
        principal.require(Permission.TIME_WRITE_OWN)
        outcomes: list[BulkOutcome] = []
        for entry_id in dict.fromkeys(entry_ids):
            try:
                current = self._own_entry(principal, entry_id, None)
                if changes is not None:
                    current = self.change_entry(principal, entry_id, current.version, changes)
                if action is not None:
                    current = self.set_status(principal, entry_id, current.version, action)
                outcomes.append(BulkOutcome(entry_id, True, entry=current))
            except (Conflict, InvalidInput, NotFound) as error:
                outcomes.append(BulkOutcome(entry_id, False, error=error.message))
        return outcomes

    def split_entry(
        self, principal: Principal, entry_id: str, version: int, matters: list[str], mode: SplitMode
    ) -> list[Entry]:
        """Split an entry across matters; returns the parts."""
        principal.require(Permission.TIME_WRITE_OWN)
        entry = self._own_entry(principal, entry_id, version)
        policy = self._policies.get(principal.firm_id)
        parent, *parts = split(entry, matters, mode, self._rounding(principal.firm_id, policy))
        saved = self._timeline.save_entries([parent, *parts], [], principal.actor, "split")
        return saved[1:]

    def _own_entry(self, principal: Principal, entry_id: str, version: int | None) -> Entry:
        day = day_of_entry_id(entry_id)
        entry = (
            self._timeline.get_entry(principal.firm_id, principal.subject_id, day, entry_id) if day else None
        )
        if entry is None:
            raise NotFound("there is no such entry in your timeline")
        if version is not None and entry.version != version:
            raise StaleVersion("entry", entry_id)
        return entry

    # ------------------------------------------------------------ events

    def mark_event(
        self, principal: Principal, event_id: str, *, personal: bool | None = None, delete: bool = False
    ) -> tuple[ActivityEvent, Classification]:
        """Mark one of the caller's events personal (or not), or delete it for good."""
        principal.require(Permission.TIME_WRITE_OWN)
        event = self._timeline.get_event(principal.firm_id, principal.subject_id, event_id)
        # To a delegate, the owner's personal items do not exist; deleting for good is the owner's alone.
        hidden = is_delegated(principal) and (
            event is None
            or event.personal
            or self._classify_for(principal.firm_id, principal.subject_id, event).category
            is Category.PERSONAL
        )
        if event is None or event.deleted or hidden:
            raise NotFound("there is no such item in your timeline")
        if delete and is_delegated(principal):
            raise Forbidden("only the owner of a timeline can delete an item for good")
        day = local_day(event.start, self.zone_of(principal.firm_id, principal.subject_id))
        for entry in self._timeline.entries_of_day(principal.firm_id, principal.subject_id, day):
            if event_id in entry.event_ids and entry.status in (EntryStatus.RELEASED, *BILLED_ELSEWHERE):
                raise Conflict(f"this item is in a {entry.status.value} entry; reopen the entry first")
        changed = replace(event, personal=event.personal if personal is None else personal, deleted=delete)
        if changed == event:
            return event, self._classify_for(principal.firm_id, principal.subject_id, event)
        action = "delete" if delete else ("mark_personal" if changed.personal else "mark_business")
        saved = self._timeline.change_event(changed, principal.actor, action)
        self.rebuild_day(
            principal.firm_id, principal.subject_id, day, fresh={saved.event_id: saved}, actor=principal.actor
        )
        return saved, self._classify_for(principal.firm_id, principal.subject_id, saved)

    # ------------------------------------------------------------ policy

    def policy(self, principal: Principal) -> CapturePolicy:
        principal.require(Permission.MATTERS_READ)
        return self._policies.get(principal.firm_id)

    def update_policy(self, principal: Principal, policy: CapturePolicy) -> CapturePolicy:
        """Admins change the firm's capture policy (grouping, rounding, templates, rules)."""
        principal.require(Permission.ROSTER_WRITE)
        current = self._policies.get(principal.firm_id)
        if current.version != policy.version:
            raise StaleVersion("capture policy", principal.firm_id)
        return self._policies.save(replace(policy, firm_id=principal.firm_id), principal.actor)

    def my_rules(self, principal: Principal) -> tuple[tuple[ClassificationRule, ...], int]:
        principal.require(Permission.TIME_READ_OWN)
        return self._policies.user_rules(principal.firm_id, principal.subject_id)

    def set_my_rules(self, principal: Principal, rules: tuple[ClassificationRule, ...], version: int) -> int:
        """A user's own rules, e.g. 'always personal for this sender'."""
        principal.require(Permission.TIME_WRITE_OWN)
        _, current = self._policies.user_rules(principal.firm_id, principal.subject_id)
        if current != version:
            raise StaleVersion("capture rules", principal.subject_id)
        return self._policies.save_user_rules(
            principal.firm_id, principal.subject_id, rules, version, principal.actor
        )

    # ------------------------------------------------------------ helpers

    def _rounding(self, firm_id: str, policy: CapturePolicy) -> Callable[[str | None], Rounding]:
        """The matter's increment, else its client's, else the firm's; the rule names which."""
        cache: dict[str | None, Rounding] = {}

        def rounding_for(matter_id: str | None) -> Rounding:
            if matter_id not in cache:
                cache[matter_id] = self._resolve_rounding(firm_id, policy, matter_id)
            return cache[matter_id]

        return rounding_for

    def _resolve_rounding(self, firm_id: str, policy: CapturePolicy, matter_id: str | None) -> Rounding:
        matter = self._matters.matter(firm_id, matter_id) if self._matters and matter_id else None
        if matter is not None and matter.rounding_increment_seconds:
            seconds = matter.rounding_increment_seconds
            return Rounding(seconds, f"matter {matter.number}: {describe_increment(seconds)}")
        client = self._matters.client(firm_id, matter.client_id) if self._matters and matter else None
        if client is not None and client.rounding_increment_seconds:
            seconds = client.rounding_increment_seconds
            return Rounding(seconds, f"client {client.name}: {describe_increment(seconds)}")
        return policy.rounding_for(matter_id)

    def zone_of(self, firm_id: str, user_id: str) -> str:
        """The user's own zone, else the firm's."""
        user = self._users.get(firm_id, user_id)
        if user is not None and user.time_zone:
            return user.time_zone
        firm = self._firms.get(firm_id)
        return firm.time_zone if firm else "UTC"

    def _classify_for(self, firm_id: str, user_id: str, event: ActivityEvent) -> Classification:
        user_rules, _ = self._policies.user_rules(firm_id, user_id)
        return self._classify(event, self._policies.get(firm_id), user_rules)

    @staticmethod
    def _classify(
        event: ActivityEvent, policy: CapturePolicy, user_rules: tuple[ClassificationRule, ...]
    ) -> Classification:
        return classify(
            event, firm_domains=policy.firm_domains, firm_rules=policy.rules, user_rules=user_rules
        )


def _totals(
    events: list[tuple[ActivityEvent, Classification]], entries: list[Entry], *, include_personal: bool
) -> Totals:
    counted = (Category.BUSINESS, Category.MEMO)
    captured = sum(e.seconds for e, c in events if c.category in counted)
    personal = sum(e.seconds for e, c in events if c.category is Category.PERSONAL)
    billed: dict[EntryStatus, int] = defaultdict(int)
    live = [entry for entry in entries if entry.status is not EntryStatus.SPLIT]
    for entry in live:
        billed[entry.status] += entry.billed_seconds
    return Totals(
        captured_seconds=round(captured, 3),
        unassigned_seconds=billed[EntryStatus.UNASSIGNED],
        assigned_seconds=billed[EntryStatus.ASSIGNED],
        released_seconds=billed[EntryStatus.RELEASED],
        exported_seconds=billed[EntryStatus.EXPORTED] + billed[EntryStatus.POSTED],
        entries=len(live),
        personal_seconds=round(personal, 3) if include_personal else None,
    )


def week_of(day: date) -> tuple[date, date]:
    """Monday to Sunday around ``day``."""
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=6)
