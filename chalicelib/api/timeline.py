"""Capture, the timeline, entries and the capture policy."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from chalice import Blueprint, Response

from chalicelib.api.routing import Api, Call, services
from chalicelib.api.timeline_schemas import (
    ActingFor,
    BulkEntries,
    BulkOut,
    BulkOutcomeOut,
    CallImportIn,
    CallImportOut,
    CaptureBatch,
    CaptureIn,
    EntryList,
    EntryOut,
    EventOut,
    GroupOut,
    IngestOut,
    MarkPersonal,
    PolicyIn,
    PolicyOut,
    RowErrorOut,
    RuleIn,
    RulesIn,
    RulesOut,
    SplitEntry,
    TimelineOut,
    TimelineQuery,
    TotalsOut,
    TotalsQuery,
    UpdateEntry,
    VersionOnly,
)
from chalicelib.domain.capture import CaptureSettings
from chalicelib.domain.entries import Entry
from chalicelib.domain.policy import CapturePolicy
from chalicelib.domain.timeutil import local_day

# A garbage file can have hundreds of thousands of problems; the first thousand say what is wrong.
MAX_ROW_ERRORS = 1000

if TYPE_CHECKING:
    from chalicelib.domain.identity import Principal
    from chalicelib.services.timeline import IngestResult, TimelineView, Totals

timeline = Blueprint(__name__)
api = Api(timeline, "timeline")


def _ingest_out(result: IngestResult) -> IngestOut:
    return IngestOut(
        captures=result.captures, events_changed=result.events_changed, days_rebuilt=result.days_rebuilt
    )


@api.route(
    "/capture",
    "POST",
    summary="Record one capture (heartbeat, compose, send, manual item)",
    body=CaptureIn,
    response=IngestOut,
)
def capture_one(call: Call) -> IngestOut:
    return _ingest_out(services().timeline.capture(call.principal, [call.body.to_capture()]))


@api.route(
    "/capture/batch",
    "POST",
    summary="Record up to 500 captures (offline queue); idempotent",
    body=CaptureBatch,
    response=IngestOut,
)
def capture_batch(call: Call) -> IngestOut:
    body: CaptureBatch = call.body
    unique = {item.id: item for item in body.items}  # a queue may hold the same item twice
    return _ingest_out(services().timeline.capture(call.principal, [i.to_capture() for i in unique.values()]))


def _acting(call: Call) -> Principal:
    """The caller on their own timeline, or as a delegate on ``?user_id=``'s (checked by the service)."""
    query: ActingFor = call.query
    return services().delegates.acting(call.principal, query.user_id)


def _totals_out(totals: Totals) -> TotalsOut:
    return TotalsOut(**vars(totals))


def _sort_key(sort: str):
    if sort == "duration":
        return lambda entry: (-entry.billed_seconds, entry.entry_id)
    if sort == "matter":
        return lambda entry: (entry.matter_id or "~", entry.start or 0, entry.entry_id)
    return lambda entry: (entry.start.isoformat() if entry.start else "", entry.entry_id)


def _group_value(entry: Entry, group_by: str) -> str:
    if group_by == "matter":
        return entry.matter_id or "(no matter)"
    if group_by == "status":
        return entry.status.value
    if group_by == "category":
        return entry.category.value
    return "all"


def _timeline_out(view: TimelineView, query: TimelineQuery) -> TimelineOut:
    entries = sorted(view.entries, key=_sort_key(query.sort))
    groups: dict[str, list[Entry]] = defaultdict(list)
    if query.group_by != "none":
        kinds = {event.event_id: event.kind.value for event, _ in view.events}
        for entry in entries:
            key = (
                kinds.get(entry.event_ids[0], "other")
                if query.group_by == "kind" and entry.event_ids
                else _group_value(entry, query.group_by)
            )
            groups[key].append(entry)
    return TimelineOut(
        user_id=view.user_id,
        time_zone=view.time_zone,
        start=view.first_day,
        end=view.last_day,
        totals=_totals_out(view.totals),
        entries=[EntryOut.of(entry) for entry in entries],
        groups=[
            GroupOut(
                key=key,
                billed_seconds=sum(e.billed_seconds for e in members),
                raw_seconds=round(sum(e.raw_seconds for e in members), 3),
                entry_ids=[e.entry_id for e in members],
            )
            for key, members in sorted(groups.items())
        ],
        events=[
            EventOut.of(event, how) for event, how in sorted(view.events, key=lambda pair: pair[0].start)
        ],
    )


@api.route(
    "/timeline",
    "GET",
    summary="My timeline for a day, a week or a range, in my time zone",
    query=TimelineQuery,
    response=TimelineOut,
)
def my_timeline(call: Call) -> TimelineOut:
    query: TimelineQuery = call.query
    container = services()
    principal = container.delegates.acting(call.principal, query.user_id)
    zone_name = container.timeline.zone_of(principal.firm_id, principal.subject_id)
    first, last = query.days(local_day(container.clock.now(), zone_name))
    return _timeline_out(container.timeline.view(principal, first, last), query)


@api.route(
    "/users/{user_id}/totals",
    "GET",
    summary="Someone's time totals (never personal, never content)",
    query=TotalsQuery,
    response=TotalsOut,
)
def user_totals(call: Call, user_id: str) -> TotalsOut:
    query: TotalsQuery = call.query
    return _totals_out(services().timeline.totals_for(call.principal, user_id, query.start, query.end))


@api.route(
    "/entries/{entry_id}",
    "PATCH",
    summary="Edit one of my entries",
    body=UpdateEntry,
    query=ActingFor,
    response=EntryOut,
)
def update_entry(call: Call, entry_id: str) -> EntryOut:
    body: UpdateEntry = call.body
    return EntryOut.of(
        services().timeline.change_entry(_acting(call), entry_id, body.version, body.to_changes())
    )


@api.route(
    "/entries/{entry_id}/release",
    "POST",
    summary="Release an entry to billing",
    body=VersionOnly,
    query=ActingFor,
    response=EntryOut,
)
def release_entry(call: Call, entry_id: str) -> EntryOut:
    return EntryOut.of(services().timeline.set_status(_acting(call), entry_id, call.body.version, "release"))


@api.route(
    "/entries/{entry_id}/reopen",
    "POST",
    summary="Take a released entry back",
    body=VersionOnly,
    query=ActingFor,
    response=EntryOut,
)
def reopen_entry(call: Call, entry_id: str) -> EntryOut:
    return EntryOut.of(services().timeline.set_status(_acting(call), entry_id, call.body.version, "reopen"))


@api.route(
    "/entries/{entry_id}/split",
    "POST",
    summary="Split an entry across matters",
    body=SplitEntry,
    query=ActingFor,
    response=EntryList,
)
def split_entry(call: Call, entry_id: str) -> EntryList:
    body: SplitEntry = call.body
    parts = services().timeline.split_entry(_acting(call), entry_id, body.version, body.matters, body.mode)
    return EntryList(entries=[EntryOut.of(part) for part in parts])


@api.route(
    "/entries/bulk",
    "POST",
    summary="Change or release a selection; each entry reports its result",
    body=BulkEntries,
    query=ActingFor,
    response=BulkOut,
)
def bulk_entries(call: Call) -> BulkOut:
    body: BulkEntries = call.body
    outcomes = services().timeline.bulk(
        _acting(call),
        body.entry_ids,
        changes=body.changes.to_changes() if body.changes else None,
        action=body.action,
    )
    return BulkOut(
        results=[
            BulkOutcomeOut(
                entry_id=o.entry_id, ok=o.ok, entry=EntryOut.of(o.entry) if o.entry else None, error=o.error
            )
            for o in outcomes
        ]
    )


@api.route(
    "/events/{event_id}/personal",
    "POST",
    summary="Mark one of my items personal, or business again",
    body=MarkPersonal,
    query=ActingFor,
    response=EventOut,
)
def mark_personal(call: Call, event_id: str) -> EventOut:
    event, classification = services().timeline.mark_event(
        _acting(call), event_id, personal=call.body.personal
    )
    return EventOut.of(event, classification)


@api.route("/events/{event_id}", "DELETE", summary="Delete one of my items for good", status=204)
def delete_event(call: Call, event_id: str) -> None:
    services().timeline.mark_event(call.principal, event_id, delete=True)


def _policy_out(policy: CapturePolicy) -> PolicyOut:
    return PolicyOut(
        version=policy.version,
        grouping=policy.grouping,
        increment_seconds=policy.increment_seconds,
        pulse_seconds=policy.settings.pulse_seconds,
        reading_words_per_minute=policy.settings.reading_words_per_minute,
        typing_words_per_minute=policy.settings.typing_words_per_minute,
        templates=dict(policy.templates),
        firm_domains=sorted(policy.firm_domains),
        rules=[RuleIn(scope=r.scope, value=r.value, category=r.category) for r in policy.rules],
        auto_assign_at=policy.auto_assign_at,
        show_closed_cases=policy.show_closed_cases,
        matter_number_patterns=list(policy.matter_number_patterns),
    )


@api.route("/capture/policy", "GET", summary="The firm's capture policy", response=PolicyOut)
def get_policy(call: Call) -> PolicyOut:
    return _policy_out(services().timeline.policy(call.principal))


@api.route(
    "/capture/policy",
    "PUT",
    summary="Change grouping, rounding, templates and filter rules",
    body=PolicyIn,
    response=PolicyOut,
)
def put_policy(call: Call) -> PolicyOut:
    body: PolicyIn = call.body
    policy = CapturePolicy(
        firm_id=call.principal.firm_id,
        settings=CaptureSettings(
            pulse_seconds=body.pulse_seconds,
            reading_words_per_minute=body.reading_words_per_minute,
            typing_words_per_minute=body.typing_words_per_minute,
        ),
        grouping=body.grouping,
        increment_seconds=body.increment_seconds,
        templates=body.templates or CapturePolicy(firm_id="").templates,
        firm_domains=frozenset(d.lower().lstrip("@") for d in body.firm_domains),
        rules=tuple(rule.to_rule() for rule in body.rules),
        auto_assign_at=body.auto_assign_at,
        show_closed_cases=body.show_closed_cases,
        matter_number_patterns=tuple(body.matter_number_patterns),
        version=body.version,
    )
    return _policy_out(services().timeline.update_policy(call.principal, policy))


@api.route("/me/capture-rules", "GET", summary="My own capture rules", response=RulesOut)
def get_my_rules(call: Call) -> RulesOut:
    rules, version = services().timeline.my_rules(call.principal)
    return RulesOut(
        version=version, rules=[RuleIn(scope=r.scope, value=r.value, category=r.category) for r in rules]
    )


@api.route(
    "/me/capture-rules",
    "PUT",
    summary="Set my rules, e.g. always personal for a sender",
    body=RulesIn,
    response=RulesOut,
)
def put_my_rules(call: Call) -> RulesOut:
    body: RulesIn = call.body
    version = services().timeline.set_my_rules(
        call.principal, tuple(r.to_rule() for r in body.rules), body.version
    )
    return RulesOut(version=version, rules=body.rules)


@api.route(
    "/calls/import",
    "POST",
    summary="Import call-detail records (preview, then commit)",
    body=CallImportIn,
    response=CallImportOut,
)
def import_calls(call: Call) -> CallImportOut | Response:
    body: CallImportIn = call.body
    report = services().calls.import_csv(call.principal, body.csv, commit=body.commit)
    out = CallImportOut(
        calls=report.calls,
        skipped_missed=report.skipped_missed,
        committed=report.committed,
        new_calls=report.new_calls,
        calls_by_user=report.calls_by_user,
        errors=[
            RowErrorOut(line=e.line, field=e.field, message=e.message) for e in report.errors[:MAX_ROW_ERRORS]
        ],
        error_count=len(report.errors),
    )
    # A commit refused for bad rows is a 422 carrying the whole row report, so scripts notice.
    return Response(out.model_dump(mode="json"), status_code=422 if body.commit and report.errors else 200)
