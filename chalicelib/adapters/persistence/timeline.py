"""Events, entries, the firm's capture policy and users' capture rules, on the single table."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from chalicelib.adapters.persistence import keys
from chalicelib.adapters.persistence.codec import dt_in, int_in, strip_none
from chalicelib.adapters.persistence.repositories import VersionedWriter
from chalicelib.adapters.persistence.table import (
    AttributeEquals,
    ConditionFailed,
    Delete,
    Item,
    ItemAbsent,
    KeyRange,
    Operation,
    Put,
    Table,
    TransactionCancelled,
)
from chalicelib.domain.capture import ActivityEvent, CaptureSettings, Category, EventKind, Source, Span
from chalicelib.domain.classification import ClassificationRule, RuleScope
from chalicelib.domain.entries import Entry, EntryStatus, GroupingPolicy
from chalicelib.domain.errors import StaleVersion
from chalicelib.domain.policy import CapturePolicy
from chalicelib.domain.timeutil import iso_ms
from chalicelib.ports import Clock

# Audit records of timeline items never carry content (subjects, people): admins read the audit log.
_ENTRY_AUDIT_FIELDS = ("status", "matter_id", "activity_code", "billed_seconds", "billable", "category")


def _ms(moment: datetime) -> str:
    return iso_ms(moment)


# ---------------------------------------------------------------- events


def event_item(event: ActivityEvent) -> Item:
    pk = keys.timeline(event.firm_id, event.user_id)
    return strip_none(
        {
            "PK": pk,
            "SK": keys.event(event.event_id),
            "GSI1PK": pk,
            "GSI1SK": f"{_ms(event.start)}#E#{event.event_id}",
            "type": "event",
            "firm_id": event.firm_id,
            "user_id": event.user_id,
            "event_id": event.event_id,
            "key": event.key,
            "kind": event.kind.value,
            "sources": sorted(s.value for s in event.sources),
            "spans": [[_ms(s.start), _ms(s.end)] for s in event.spans],
            "estimate_ms": round(event.estimate_seconds * 1000),
            "first_at": _ms(event.first_at) if event.first_at else None,
            "participants": list(event.participants),
            "details": {name: [_ms(at), value] for name, (at, value) in event.details.items()},
            "flags": sorted(
                name
                for name in ("list_unsubscribe", "auto_submitted", "sent", "deleted", "personal")
                if getattr(event, name)
            ),
            "matter_id": event.matter_id,
            "version": event.version,
        }
    )


def event_from(item: Item) -> ActivityEvent:
    flags = set(item.get("flags", []))
    return ActivityEvent(
        firm_id=item["firm_id"],
        user_id=item["user_id"],
        key=item["key"],
        kind=EventKind(item["kind"]),
        sources=frozenset(Source(s) for s in item.get("sources", [])),
        spans=tuple(Span(_dt(a), _dt(b)) for a, b in item.get("spans", [])),
        estimate_seconds=int_in(item.get("estimate_ms", 0)) / 1000,
        first_at=dt_in(item.get("first_at")),
        participants=tuple(item.get("participants", [])),
        details={name: (_dt(at), value) for name, (at, value) in item.get("details", {}).items()},
        list_unsubscribe="list_unsubscribe" in flags,
        auto_submitted="auto_submitted" in flags,
        sent="sent" in flags,
        deleted="deleted" in flags,
        personal="personal" in flags,
        matter_id=item.get("matter_id"),
        version=int_in(item.get("version", 0)),
    )


def _dt(value: Any) -> datetime:
    parsed = dt_in(value)
    assert parsed is not None
    return parsed


# ---------------------------------------------------------------- entries


def entry_item(entry: Entry) -> Item:
    pk = keys.timeline(entry.firm_id, entry.user_id)
    sort_at = entry.start or datetime.combine(entry.day, datetime.min.time(), tzinfo=UTC)
    return strip_none(
        {
            "PK": pk,
            "SK": keys.entry(entry.day.isoformat(), entry.entry_id),
            "GSI1PK": pk,
            "GSI1SK": f"{_ms(sort_at)}#N#{entry.entry_id}",
            # Released entries wait in a firm-wide queue for billing (sparse: only released carry it).
            "GSI2PK": f"FIRM#{entry.firm_id}#RELEASED" if entry.status is EntryStatus.RELEASED else None,
            "GSI2SK": f"{entry.day.isoformat()}#{entry.entry_id}"
            if entry.status is EntryStatus.RELEASED
            else None,
            "type": "entry",
            "firm_id": entry.firm_id,
            "user_id": entry.user_id,
            "entry_id": entry.entry_id,
            "group_key": entry.group_key,
            "day": entry.day.isoformat(),
            "sort_at": _ms(sort_at),
            "event_ids": list(entry.event_ids),
            "raw_ms": round(entry.raw_seconds * 1000),
            "narrative": entry.narrative,
            "category": entry.category.value,
            "matter_id": entry.matter_id,
            "activity_code": entry.activity_code,
            "task_code": entry.task_code,
            "narrative_edited": entry.narrative_edited,
            "category_edited": entry.category_edited,
            "prep_seconds": entry.prep_seconds,
            "post_seconds": entry.post_seconds,
            "billed_seconds": entry.billed_seconds,
            "rounding_rule": entry.rounding_rule,
            "billable": entry.billable,
            "status": entry.status.value,
            "split_from": entry.split_from,
            "share": str(entry.share),
            "external_id": entry.external_id,
            "version": entry.version,
        }
    )


def entry_from(item: Item) -> Entry:
    return Entry(
        firm_id=item["firm_id"],
        user_id=item["user_id"],
        entry_id=item["entry_id"],
        group_key=item["group_key"],
        day=date.fromisoformat(item["day"]),
        event_ids=tuple(item.get("event_ids", [])),
        raw_seconds=int_in(item.get("raw_ms", 0)) / 1000,
        narrative=item.get("narrative", ""),
        category=Category(item.get("category", "business")),
        matter_id=item.get("matter_id"),
        activity_code=item.get("activity_code"),
        task_code=item.get("task_code"),
        narrative_edited=bool(item.get("narrative_edited", False)),
        category_edited=bool(item.get("category_edited", False)),
        prep_seconds=int_in(item.get("prep_seconds", 0)),
        post_seconds=int_in(item.get("post_seconds", 0)),
        billed_seconds=int_in(item.get("billed_seconds", 0)),
        rounding_rule=item.get("rounding_rule", ""),
        billable=bool(item.get("billable", True)),
        status=EntryStatus(item["status"]),
        split_from=item.get("split_from"),
        share=Decimal(str(item.get("share", "1"))),
        external_id=item.get("external_id"),
        start=dt_in(item.get("sort_at")),
        version=int_in(item.get("version", 0)),
    )


def entry_snapshot(entry: Entry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in _ENTRY_AUDIT_FIELDS} | {"raw_seconds": entry.raw_seconds}


class TableTimelineRepository:
    """A user's events and entries."""

    def __init__(self, table: Table, clock: Clock) -> None:
        self._table = table
        self._writer = VersionedWriter(table, clock)

    # events

    def get_event(self, firm_id: str, user_id: str, event_id: str) -> ActivityEvent | None:
        item = self._table.get(keys.timeline(firm_id, user_id), keys.event(event_id))
        return event_from(item) if item else None

    def save_event(self, event: ActivityEvent) -> ActivityEvent:
        """Write if nobody else wrote this event since it was read (``event.version``)."""
        condition = ItemAbsent() if event.version == 0 else AttributeEquals("version", event.version)
        saved = replace(event, version=event.version + 1)
        try:
            self._table.put(event_item(saved), condition)
        except ConditionFailed as lost:
            raise StaleVersion("event", event.event_id) from lost
        return saved

    def change_event(self, event: ActivityEvent, actor: str, action: str) -> ActivityEvent:
        """A user's own change to an event (personal, deleted, matter), audited without its content."""
        after = {"personal": event.personal, "deleted": event.deleted, "matter_id": event.matter_id}
        version = self._writer.write(
            firm_id=event.firm_id,
            entity_type="event",
            entity_id=event.event_id,
            item=event_item(event),
            before=None,
            after=after,
            expected_version=event.version,
            actor=actor,
            action=action,
        )
        return replace(event, version=version)

    # views

    def between(
        self, firm_id: str, user_id: str, start: datetime, end: datetime
    ) -> tuple[list[ActivityEvent], list[Entry]]:
        """Events and entries whose time falls in [start, end): one Query on GSI1 (paged)."""
        pk = keys.timeline(firm_id, user_id)
        events: list[ActivityEvent] = []
        entries: list[Entry] = []
        start_key: Item | None = None
        # Sort keys are "<instant>#...": "<start>#..." sorts after `start`, "<end>#..." after `end`.
        window = KeyRange(between=(_ms(start), _ms(end)))
        while True:
            page = self._table.query(pk, window, index="GSI1", start_after=start_key)
            for item in page.items:
                if item["type"] == "event":
                    events.append(event_from(item))
                else:
                    entries.append(entry_from(item))
            if page.last_key is None:
                return events, entries
            start_key = page.last_key

    def entries_of_day(self, firm_id: str, user_id: str, day: date) -> list[Entry]:
        """A day's entries, strongly consistent (rebuilding a day reads this before writing)."""
        page = self._table.query(
            keys.timeline(firm_id, user_id), KeyRange(prefix=f"N#{day.isoformat()}#"), consistent=True
        )
        return [entry_from(item) for item in page.items]

    def get_entry(self, firm_id: str, user_id: str, day: date, entry_id: str) -> Entry | None:
        item = self._table.get(keys.timeline(firm_id, user_id), keys.entry(day.isoformat(), entry_id))
        return entry_from(item) if item else None

    def save_entries(
        self, put: Iterable[Entry], remove: Iterable[Entry], actor: str, action: str
    ) -> list[Entry]:
        """Write and remove entries with version checks, each with its audit record, in transactions."""
        operations: list[tuple[list[Operation], Entry | None]] = []
        saved: list[Entry] = []
        for entry in put:
            new = replace(entry, version=entry.version + 1)
            condition = ItemAbsent() if entry.version == 0 else AttributeEquals("version", entry.version)
            audit = self._writer.audit_item(
                entry.firm_id,
                "entry",
                entry.entry_id,
                new.version,
                action if entry.version else "create",
                actor,
                None,
                entry_snapshot(new),
            )
            operations.append(([Put(entry_item(new), condition), Put(audit, ItemAbsent())], new))
        for entry in remove:
            audit = self._writer.audit_item(
                entry.firm_id,
                "entry",
                entry.entry_id,
                entry.version + 1,
                "remove",
                actor,
                entry_snapshot(entry),
                None,
            )
            pk = keys.timeline(entry.firm_id, entry.user_id)
            sk = keys.entry(entry.day.isoformat(), entry.entry_id)
            operations.append(
                ([Delete(pk, sk, AttributeEquals("version", entry.version)), Put(audit, ItemAbsent())], None)
            )
        # 100 operations per transaction: 50 entries with their audit records.
        for chunk_start in range(0, len(operations), 50):
            chunk = operations[chunk_start : chunk_start + 50]
            try:
                self._table.transact([op for ops, _ in chunk for op in ops])
            except TransactionCancelled as cancelled:
                raise StaleVersion("entry", "of this day") from cancelled
            saved.extend(entry for _, entry in chunk if entry is not None)
        return saved


# ---------------------------------------------------------------- policy and rules


def _rules_out(rules: Iterable[ClassificationRule]) -> list[dict[str, str]]:
    return [{"scope": r.scope.value, "value": r.value, "category": r.category.value} for r in rules]


def _rules_in(raw: Iterable[dict[str, str]]) -> tuple[ClassificationRule, ...]:
    return tuple(ClassificationRule(RuleScope(r["scope"]), r["value"], Category(r["category"])) for r in raw)


class TablePolicyRepository:
    """The firm's capture policy and each user's own capture rules, versioned and audited."""

    def __init__(self, table: Table, clock: Clock) -> None:
        self._table = table
        self._writer = VersionedWriter(table, clock)

    def get(self, firm_id: str) -> CapturePolicy:
        item = self._table.get(*keys.capture_policy(firm_id))
        if item is None:
            return CapturePolicy(firm_id=firm_id)
        settings = item.get("settings", {})
        return CapturePolicy(
            firm_id=firm_id,
            settings=CaptureSettings(
                pulse_seconds=float(settings.get("pulse_seconds", 90)),
                reading_words_per_minute=int_in(settings.get("reading_words_per_minute", 220)),
                typing_words_per_minute=int_in(settings.get("typing_words_per_minute", 40)),
            ),
            grouping=GroupingPolicy(item.get("grouping", "per_event")),
            increment_seconds=int_in(item.get("increment_seconds", 360)),
            templates=dict(item.get("templates", {})),
            firm_domains=frozenset(item.get("firm_domains", [])),
            rules=_rules_in(item.get("rules", [])),
            auto_assign_at=float(item.get("auto_assign_at", 0.95)),
            show_closed_cases=bool(item.get("show_closed_cases", False)),
            matter_number_patterns=tuple(item.get("matter_number_patterns", [])),
            version=int_in(item.get("version", 0)),
        )

    def save(self, policy: CapturePolicy, actor: str) -> CapturePolicy:
        pk, sk = keys.capture_policy(policy.firm_id)
        snapshot = {
            "settings": {
                "pulse_seconds": Decimal(str(policy.settings.pulse_seconds)),
                "reading_words_per_minute": policy.settings.reading_words_per_minute,
                "typing_words_per_minute": policy.settings.typing_words_per_minute,
            },
            "grouping": policy.grouping.value,
            "increment_seconds": policy.increment_seconds,
            "templates": dict(policy.templates),
            "firm_domains": sorted(policy.firm_domains),
            "rules": _rules_out(policy.rules),
            "auto_assign_at": Decimal(str(policy.auto_assign_at)),
            "show_closed_cases": policy.show_closed_cases,
            "matter_number_patterns": list(policy.matter_number_patterns),
        }
        before = self.get(policy.firm_id)
        version = self._writer.write(
            firm_id=policy.firm_id,
            entity_type="capture_policy",
            entity_id=policy.firm_id,
            item={"PK": pk, "SK": sk, "type": "capture_policy", "firm_id": policy.firm_id, **snapshot},
            before={"grouping": before.grouping.value, "increment_seconds": before.increment_seconds},
            after={"grouping": policy.grouping.value, "increment_seconds": policy.increment_seconds},
            expected_version=policy.version or None,
            actor=actor,
            action="update",
        )
        return replace(policy, version=version)

    def user_rules(self, firm_id: str, user_id: str) -> tuple[tuple[ClassificationRule, ...], int]:
        item = self._table.get(*keys.user_rules(firm_id, user_id))
        if item is None:
            return (), 0
        return _rules_in(item.get("rules", [])), int_in(item.get("version", 0))

    def save_user_rules(
        self, firm_id: str, user_id: str, rules: tuple[ClassificationRule, ...], version: int, actor: str
    ) -> int:
        pk, sk = keys.user_rules(firm_id, user_id)
        return self._writer.write(
            firm_id=firm_id,
            entity_type="user_rules",
            entity_id=user_id,
            item={"PK": pk, "SK": sk, "type": "user_rules", "firm_id": firm_id, "rules": _rules_out(rules)},
            before=None,
            after={"count": len(rules)},  # a user's own rules name senders: the audit keeps only a count
            expected_version=version or None,
            actor=actor,
            action="update",
        )
