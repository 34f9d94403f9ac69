"""Entries keep raw time, round billed time up, group as the policy says, keep the user's edits and never
touch what left the user's hands; narratives fill templates and nothing more."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.capture import (
    ActivityEvent,
    Capture,
    CaptureSettings,
    Category,
    EventKind,
    Source,
    event_id_for,
    merge,
)
from chalicelib.domain.entries import (
    DEFAULT_TEMPLATES,
    DayPlan,
    Entry,
    EntryChanges,
    EntryStatus,
    GroupingPolicy,
    Rounding,
    SplitMode,
    apply_changes,
    plan_day,
    release,
    render_narrative,
    reopen,
    round_up,
    split,
)
from chalicelib.domain.errors import Conflict, InvalidInput
from chalicelib.domain.policy import CapturePolicy
from chalicelib.domain.timeutil import day_bounds

PROPERTY = settings(max_examples=200, deadline=None)

FIRM, USER = "f1", "u1"
ZONE = "America/New_York"
DAY = date(2026, 3, 9)
DAY_START, DAY_END = day_bounds(DAY, ZONE)  # 04:00 UTC to 04:00 UTC (EDT)
POLICY = CapturePolicy(firm_id=FIRM)  # 0.1 h, per event
ROUNDING = POLICY.rounding_for(None)


def an_event(
    key: str,
    *,
    start: datetime = DAY_START + timedelta(hours=10),
    seconds: float = 120.0,
    measured: bool = True,
    kind: EventKind = EventKind.READ,
    subject: str = "Share purchase agreement",
    sender: str = "carol@client.com",
    conversation_id: str = "",
    matter_id: str | None = None,
    personal: bool = False,
    deleted: bool = False,
) -> ActivityEvent:
    """An event as capture makes it: merged from one capture, with a matter if one was assigned."""
    capture = Capture(
        kind=kind,
        source=Source.ADDIN if measured else Source.GRAPH,
        key=key,
        at=start,
        duration_seconds=seconds,
        measured=measured,
        subject=subject,
        sender=sender,
        participants=(sender, "ada@lovelace.law") if sender else ("ada@lovelace.law",),
        conversation_id=conversation_id,
        personal=personal,
        deleted=deleted,
    )
    event = merge(None, capture, firm_id=FIRM, user_id=USER, settings=CaptureSettings())
    return replace(event, matter_id=matter_id)


def plan(
    events: list[ActivityEvent],
    *,
    existing: list[Entry] | None = None,
    categories: dict[str, Category] | None = None,
    policy: GroupingPolicy = GroupingPolicy.PER_EVENT,
) -> DayPlan:
    # As classification decides when nothing else is said: personal marks are personal, the rest business.
    categories = {e.event_id: Category.PERSONAL if e.personal else Category.BUSINESS for e in events} | (
        categories or {}
    )
    return plan_day(
        firm_id=FIRM,
        user_id=USER,
        day=DAY,
        zone_name=ZONE,
        events=events,
        categories=categories,
        existing=existing or [],
        policy=policy,
        templates=dict(POLICY.templates),
        rounding_for=POLICY.rounding_for,
    )


def stored(existing: list[Entry], day_plan: DayPlan) -> list[Entry]:
    """What the store holds after writing a plan."""
    by_id = {entry.entry_id: entry for entry in existing}
    for entry in day_plan.remove:
        del by_id[entry.entry_id]
    for entry in day_plan.put:
        by_id[entry.entry_id] = entry
    return list(by_id.values())


def entries_of(events: list[ActivityEvent], **kwargs: object) -> list[Entry]:
    return stored([], plan(events, **kwargs))  # type: ignore[arg-type]


def only(entries: list[Entry]) -> Entry:
    assert len(entries) == 1, entries
    return entries[0]


def assigned(entry: Entry, matter: str = "M-1") -> Entry:
    return apply_changes(entry, EntryChanges(matter_id=matter), ROUNDING)


# ---------------------------------------------------------------- strategies


@st.composite
def day_events(
    draw: st.DrawFn, *, prefix: str = "k", min_size: int = 0, max_size: int = 8
) -> list[ActivityEvent]:
    """Events of a user around one day (some fall on the day before or after), with distinct keys."""
    count = draw(st.integers(min_size, max_size))
    return [
        an_event(
            f"{prefix}{index}",
            start=DAY_START
            + timedelta(hours=draw(st.integers(-2, 25)), milliseconds=draw(st.integers(0, 3_599_999))),
            seconds=draw(st.integers(0, 7_200_000)) / 1000,
            measured=draw(st.booleans()),
            kind=draw(st.sampled_from(EventKind)),
            subject=draw(st.sampled_from(("SPA", "RE: SPA", "Lease", ""))),
            conversation_id=draw(st.sampled_from(("", "conv-1", "conv-2"))),
            matter_id=draw(st.sampled_from((None, "M-1", "M-2"))),
            personal=draw(st.booleans()) and draw(st.booleans()),
            deleted=draw(st.booleans()) and draw(st.booleans()),
        )
        for index in range(count)
    ]


def categories_for(events: list[ActivityEvent]) -> st.SearchStrategy[dict[str, Category]]:
    """Categories as classification gives them: a personal mark always wins, the rest varies."""
    weighted = st.sampled_from((Category.BUSINESS, Category.BUSINESS, Category.MEMO, *Category))
    return st.fixed_dictionaries(
        {e.event_id: st.just(Category.PERSONAL) if e.personal else weighted for e in events}
    )


policies = st.sampled_from(GroupingPolicy)
ms_seconds = st.integers(0, 7 * 86_400_000).map(lambda ms: ms / 1000)
increments = st.integers(1, 86_400)


def on_the_day(event: ActivityEvent) -> bool:
    return DAY_START <= event.start < DAY_END


# ---------------------------------------------------------------- rounding: always up, raw kept


@PROPERTY
@given(ms_seconds, increments)
def test_rounding_is_up_by_less_than_one_increment_to_a_multiple_of_it(
    seconds: float, increment: int
) -> None:
    billed = round_up(seconds, increment)
    assert billed >= seconds
    assert billed - seconds < increment
    assert billed % increment == 0


@pytest.mark.parametrize(
    ("seconds", "billed"), [(0, 0), (0.001, 360), (1, 360), (360, 360), (360.001, 720), (3599.999, 3600)]
)
def test_rounding_to_a_tenth_of_an_hour_keeps_exact_multiples_and_zero(seconds: float, billed: int) -> None:
    assert round_up(seconds, 360) == billed


@PROPERTY
@given(st.data(), policies)
def test_planned_entries_bill_at_least_their_raw_time_which_is_the_sum_of_their_events(
    data: st.DataObject, policy: GroupingPolicy
) -> None:
    events = data.draw(day_events())
    categories = data.draw(categories_for(events))
    by_id = {e.event_id: e for e in events}
    for entry in plan(events, categories=categories, policy=policy).put:
        assert abs(entry.raw_seconds - sum(by_id[i].seconds for i in entry.event_ids)) <= 0.0005
        assert entry.billed_seconds >= entry.raw_seconds + entry.prep_seconds + entry.post_seconds
        assert entry.billed_seconds % ROUNDING.increment_seconds == 0
        assert entry.rounding_rule == "firm: 6 min"


@PROPERTY
@given(ms_seconds, st.integers(0, 86_400), st.integers(0, 86_400), increments)
def test_preparation_and_post_processing_change_billed_time_but_never_raw_time(
    raw: float, prep: int, post: int, increment: int
) -> None:
    entry = only(entries_of([an_event("k", seconds=raw)]))
    changed = apply_changes(
        entry, EntryChanges(prep_seconds=prep, post_seconds=post), Rounding(increment, "client: custom")
    )
    assert changed.raw_seconds == entry.raw_seconds
    assert changed.billed_seconds >= changed.raw_seconds + prep + post
    assert changed.billed_seconds - (changed.raw_seconds + prep + post) < increment
    assert changed.rounding_rule == "client: custom"


@pytest.mark.parametrize("field", ["prep_seconds", "post_seconds"])
@pytest.mark.parametrize("value", [-1, 86_401])
def test_adjustments_outside_a_day_are_refused_naming_the_field(field: str, value: int) -> None:
    entry = only(entries_of([an_event("k")]))
    with pytest.raises(InvalidInput) as raised:
        apply_changes(entry, EntryChanges(**{field: value}), ROUNDING)
    assert [problem.field for problem in raised.value.field_errors] == [field]


# ---------------------------------------------------------------- what reaches an entry


@PROPERTY
@given(st.data(), policies)
def test_personal_deleted_and_filtered_events_and_other_days_never_reach_an_entry(
    data: st.DataObject, policy: GroupingPolicy
) -> None:
    events = data.draw(day_events())
    categories = data.draw(categories_for(events))
    billed = {i for entry in plan(events, categories=categories, policy=policy).put for i in entry.event_ids}
    expected = {
        e.event_id
        for e in events
        if not e.personal
        and not e.deleted
        and categories[e.event_id] in (Category.BUSINESS, Category.MEMO)
        and on_the_day(e)
    }
    assert billed == expected


def test_an_event_marked_personal_never_reaches_an_entry_whatever_category_it_was_given() -> None:
    """``billable_events`` promises "not personal"; the flag alone must keep an event out, even if a
    stale or careless caller passes it as business. Left failing while ``billable_events`` checks only
    the category for personal events (it checks the flag for deleted ones)."""
    secret = an_event("k", personal=True)
    assert entries_of([secret], categories={secret.event_id: Category.BUSINESS}) == []


def test_an_event_late_in_the_evening_belongs_to_the_users_local_day_not_the_utc_one() -> None:
    evening = an_event("evening", start=datetime(2026, 3, 10, 3, 30, tzinfo=UTC))  # 23:30 in New York
    early = an_event("early", start=datetime(2026, 3, 9, 3, 30, tzinfo=UTC))  # 23:30 the day before
    assert only(entries_of([evening, early])).event_ids == (evening.event_id,)


# ---------------------------------------------------------------- grouping


def expected_groups(events: list[ActivityEvent], policy: GroupingPolicy) -> set[frozenset[str]]:
    def key(event: ActivityEvent) -> tuple[str, str]:
        if policy is GroupingPolicy.PER_THREAD_DAY and event.conversation_id:
            return ("thread", event.conversation_id)
        if policy is GroupingPolicy.PER_MATTER_DAY and event.matter_id:
            return ("matter", event.matter_id)
        return ("event", event.key)

    groups: dict[tuple[str, str], set[str]] = {}
    for event in events:
        groups.setdefault(key(event), set()).add(event.event_id)
    return {frozenset(group) for group in groups.values()}


@PROPERTY
@given(day_events(), policies)
def test_entries_group_events_per_event_per_thread_or_per_matter_within_the_day(
    events: list[ActivityEvent], policy: GroupingPolicy
) -> None:
    billable = [e for e in events if on_the_day(e) and not e.deleted and not e.personal]
    entries = entries_of(events, policy=policy)
    assert {frozenset(entry.event_ids) for entry in entries} == expected_groups(billable, policy)
    for entry in entries:
        assert entry.day == DAY
        assert entry.status is (EntryStatus.ASSIGNED if entry.matter_id else EntryStatus.UNASSIGNED)


def test_a_thread_becomes_one_entry_with_a_group_narrative_counting_its_items() -> None:
    events = [
        an_event("a", conversation_id="conv-1", subject="SPA", start=DAY_START + timedelta(hours=9)),
        an_event("b", conversation_id="conv-1", subject="RE: SPA", start=DAY_START + timedelta(hours=11)),
        an_event("c", conversation_id="conv-2", subject="Lease"),
    ]
    entries = sorted(entries_of(events, policy=GroupingPolicy.PER_THREAD_DAY), key=lambda e: len(e.event_ids))
    assert [e.narrative for e in entries] == [
        "Review email from carol@client.com re: Lease",
        "Correspondence re: SPA (2 items)",
    ]
    assert entries[1].event_ids == (events[0].event_id, events[1].event_id)
    assert entries[1].raw_seconds == 240.0


def test_per_matter_grouping_joins_a_matters_events_and_takes_its_matter() -> None:
    events = [
        an_event("a", matter_id="M-1"),
        an_event("b", matter_id="M-1", kind=EventKind.CALL),
        an_event("c"),
    ]
    entries = entries_of(events, policy=GroupingPolicy.PER_MATTER_DAY)
    matter_entry = only([e for e in entries if e.matter_id])
    assert (matter_entry.matter_id, matter_entry.status) == ("M-1", EntryStatus.ASSIGNED)
    assert set(matter_entry.event_ids) == {events[0].event_id, events[1].event_id}


def test_an_entry_of_internal_memos_only_is_a_memo_and_any_business_event_makes_it_business() -> None:
    memo, business = an_event("a", conversation_id="c"), an_event("b", conversation_id="c")
    categories = {memo.event_id: Category.MEMO, business.event_id: Category.MEMO}
    assert (
        only(
            entries_of([memo, business], categories=categories, policy=GroupingPolicy.PER_THREAD_DAY)
        ).category
        is Category.MEMO
    )
    categories[business.event_id] = Category.BUSINESS
    assert (
        only(
            entries_of([memo, business], categories=categories, policy=GroupingPolicy.PER_THREAD_DAY)
        ).category
        is Category.BUSINESS
    )


# ---------------------------------------------------------------- re-planning keeps edits, freezes what left


def test_the_users_narrative_and_matter_survive_a_replan_with_more_events() -> None:
    first = an_event("a", conversation_id="conv-1")
    entry = only(entries_of([first], policy=GroupingPolicy.PER_THREAD_DAY))
    edited = apply_changes(
        entry, EntryChanges(matter_id="M-7", narrative="Advise on SPA warranties"), ROUNDING
    )

    more = [first, an_event("b", conversation_id="conv-1", seconds=600)]
    replanned = only(plan(more, existing=[edited], policy=GroupingPolicy.PER_THREAD_DAY).put)

    assert replanned.entry_id == edited.entry_id
    assert (replanned.narrative, replanned.matter_id) == ("Advise on SPA warranties", "M-7")
    assert replanned.status is EntryStatus.ASSIGNED
    assert replanned.raw_seconds == 720.0
    assert replanned.billed_seconds == 720


def test_an_unedited_narrative_follows_the_events() -> None:
    first = an_event("a", conversation_id="conv-1")
    entry = only(entries_of([first], policy=GroupingPolicy.PER_THREAD_DAY))
    more = [first, an_event("b", conversation_id="conv-1")]
    replanned = only(plan(more, existing=[entry], policy=GroupingPolicy.PER_THREAD_DAY).put)
    assert replanned.narrative == "Correspondence re: Share purchase agreement (2 items)"


@pytest.mark.parametrize("status", [EntryStatus.RELEASED, EntryStatus.EXPORTED, EntryStatus.POSTED])
def test_a_released_or_billed_entry_keeps_its_events_and_new_ones_start_entry_number_two(
    status: EntryStatus,
) -> None:
    first = an_event("a", conversation_id="conv-1")
    gone = replace(assigned(only(entries_of([first], policy=GroupingPolicy.PER_THREAD_DAY))), status=status)

    grown_first = an_event("a", conversation_id="conv-1", seconds=900)  # more heartbeats after release
    later = an_event("b", conversation_id="conv-1", start=DAY_START + timedelta(hours=15))
    day_plan = plan([grown_first, later], existing=[gone], policy=GroupingPolicy.PER_THREAD_DAY)

    new = only(day_plan.put)
    assert day_plan.remove == []
    assert new.group_key == f"{gone.group_key}#2"
    assert new.entry_id != gone.entry_id
    assert new.event_ids == (later.event_id,)
    assert new.matter_id is None  # the released entry's matter is not copied


def test_a_third_generation_follows_a_second_released_entry() -> None:
    first = an_event("a", conversation_id="conv-1")
    one = release(assigned(only(entries_of([first], policy=GroupingPolicy.PER_THREAD_DAY))))
    second = an_event("b", conversation_id="conv-1")
    two = release(
        assigned(only(plan([first, second], existing=[one], policy=GroupingPolicy.PER_THREAD_DAY).put))
    )
    third = an_event("c", conversation_id="conv-1")
    new = only(plan([first, second, third], existing=[one, two], policy=GroupingPolicy.PER_THREAD_DAY).put)
    assert new.group_key == f"{one.group_key}#3"
    assert new.event_ids == (third.event_id,)


@st.composite
def a_day_of_work(
    draw: st.DrawFn,
) -> tuple[GroupingPolicy, list[Entry], list[ActivityEvent], dict[str, Category]]:
    """A first plan, then the user's edits, releases, splits and billing, then more captures."""
    policy = draw(policies)
    events = draw(day_events(prefix="a", min_size=1))
    categories = draw(categories_for(events))
    existing = stored([], plan(events, categories=categories, policy=policy))
    after_edits: list[Entry] = []
    for entry in existing:
        action = draw(st.sampled_from(("keep", "narrate", "assign", "release", "release", "export", "split")))
        if action == "narrate":
            after_edits.append(
                apply_changes(entry, EntryChanges(narrative="Edited", prep_seconds=60), ROUNDING)
            )
        elif action == "assign":
            after_edits.append(assigned(entry))
        elif action == "release":
            after_edits.append(release(assigned(entry)))
        elif action == "export":
            after_edits.append(replace(release(assigned(entry)), status=EntryStatus.EXPORTED))
        elif action == "split":
            after_edits.extend(split(entry, ["M-1", "M-2"], SplitMode.EQUAL, POLICY.rounding_for))
        else:
            after_edits.append(entry)
    # More captures arrive: some events grow, some get marked personal or deleted, new ones appear.
    grown = [
        draw(
            st.sampled_from(
                (
                    event,
                    an_event(
                        event.key,
                        start=event.start,
                        seconds=event.seconds + 600,
                        kind=event.kind,
                        subject=event.subject,
                        conversation_id=event.conversation_id,
                        matter_id=event.matter_id,
                        personal=event.personal,
                        deleted=event.deleted,
                    ),
                    replace(event, deleted=True),
                    replace(event, personal=True),
                )
            )
        )
        for event in events
    ]
    new = draw(day_events(prefix="b", min_size=1, max_size=5))
    all_events = grown + new
    categories = categories | draw(categories_for(new))
    categories |= {e.event_id: Category.PERSONAL for e in grown if e.personal}  # as classification says
    return policy, after_edits, all_events, categories


@PROPERTY
@given(a_day_of_work())
def test_replanning_never_moves_or_changes_entries_that_left_the_users_hands(
    work: tuple[GroupingPolicy, list[Entry], list[ActivityEvent], dict[str, Category]],
) -> None:
    policy, existing, events, categories = work
    frozen = [e for e in existing if e.frozen_events]
    frozen_ids = {e.entry_id for e in frozen}
    frozen_event_ids = {i for e in frozen for i in e.event_ids}

    day_plan = plan(events, existing=existing, categories=categories, policy=policy)

    assert not frozen_ids & {e.entry_id for e in day_plan.put}
    assert not frozen_ids & {e.entry_id for e in day_plan.remove}
    for entry in day_plan.put:
        assert not frozen_event_ids & set(entry.event_ids)
        base = entry.group_key.split("#")[0]
        if any(e.group_key == base for e in frozen if e.split_from is None):
            assert "#" in entry.group_key


@PROPERTY
@given(a_day_of_work())
def test_replanning_with_the_stored_result_changes_nothing(
    work: tuple[GroupingPolicy, list[Entry], list[ActivityEvent], dict[str, Category]],
) -> None:
    policy, existing, events, categories = work
    after = stored(existing, plan(events, existing=existing, categories=categories, policy=policy))
    again = plan(events, existing=after, categories=categories, policy=policy)
    assert again.put == []
    assert again.remove == []


@PROPERTY
@given(a_day_of_work())
def test_editable_entries_whose_events_are_all_gone_are_removed_and_nothing_else_is(
    work: tuple[GroupingPolicy, list[Entry], list[ActivityEvent], dict[str, Category]],
) -> None:
    policy, existing, events, categories = work
    day_plan = plan(events, existing=existing, categories=categories, policy=policy)
    live_keys = {e.group_key for e in day_plan.put}
    live_event_ids = {i for e in day_plan.put for i in e.event_ids}
    for entry in day_plan.remove:
        assert entry.editable and entry.split_from is None
        assert entry.group_key not in live_keys
    for entry in existing:
        if entry.editable and entry.split_from is None and entry not in day_plan.remove:
            # Kept: either rewritten under its own key or unchanged because its events are unchanged.
            assert entry.group_key in live_keys or not set(entry.event_ids) & live_event_ids


# ---------------------------------------------------------------- split, release, reopen


@PROPERTY
@given(ms_seconds, st.integers(2, 7), st.sampled_from(SplitMode))
def test_splitting_shares_the_raw_time_never_more_and_the_parent_hands_its_time_over(
    raw: float, ways: int, mode: SplitMode
) -> None:
    entry = only(entries_of([an_event("k", seconds=raw)]))
    matters = [f"M-{n}" for n in range(ways)]
    parent, *parts = split(entry, matters, mode, POLICY.rounding_for)

    assert parent.status is EntryStatus.SPLIT and parent.entry_id == entry.entry_id
    assert parent.raw_seconds == entry.raw_seconds
    assert [p.matter_id for p in parts] == matters
    assert len({p.entry_id for p in parts} | {parent.entry_id}) == ways + 1
    for part in parts:
        assert part.split_from == entry.entry_id
        assert part.status is EntryStatus.ASSIGNED
        assert part.billed_seconds >= part.raw_seconds
        assert part.event_ids == entry.event_ids
    total = sum(Decimal(str(p.raw_seconds)) for p in parts)
    if mode is SplitMode.EQUAL:
        assert total <= Decimal(str(entry.raw_seconds))
        assert total >= Decimal(str(entry.raw_seconds)) - Decimal("0.001") * ways
        assert sum(p.share for p in parts) <= 1
    else:
        assert all(p.raw_seconds == entry.raw_seconds for p in parts)


def test_a_split_needs_two_distinct_matters_and_an_editable_entry() -> None:
    entry = only(entries_of([an_event("k")]))
    for matters in (["M-1"], ["M-1", "M-1"]):
        with pytest.raises(InvalidInput):
            split(entry, matters, SplitMode.EQUAL, POLICY.rounding_for)
    with pytest.raises(Conflict):
        split(release(assigned(entry)), ["M-1", "M-2"], SplitMode.EQUAL, POLICY.rounding_for)


def test_a_split_entry_and_its_parts_stay_put_when_the_day_is_replanned() -> None:
    event = an_event("k", conversation_id="conv-1")
    entry = only(entries_of([event], policy=GroupingPolicy.PER_THREAD_DAY))
    pieces = split(entry, ["M-1", "M-2"], SplitMode.EQUAL, POLICY.rounding_for)
    later = an_event("later", conversation_id="conv-1")
    day_plan = plan([event, later], existing=pieces, policy=GroupingPolicy.PER_THREAD_DAY)
    assert day_plan.remove == []
    assert only(day_plan.put).event_ids == (later.event_id,)
    assert only(day_plan.put).group_key == f"{entry.group_key}#2"


def test_release_needs_an_assigned_matter() -> None:
    entry = only(entries_of([an_event("k")]))
    assert entry.status is EntryStatus.UNASSIGNED
    with pytest.raises(Conflict, match="assign a matter"):
        release(entry)
    released = release(assigned(entry))
    assert (released.status, released.matter_id) == (EntryStatus.RELEASED, "M-1")
    assert release(released) == released  # releasing again is harmless


def test_clearing_the_matter_makes_an_entry_unassigned_and_unreleasable_again() -> None:
    entry = assigned(only(entries_of([an_event("k")])))
    cleared = apply_changes(entry, EntryChanges(clear_matter=True), ROUNDING)
    assert (cleared.status, cleared.matter_id) == (EntryStatus.UNASSIGNED, None)
    with pytest.raises(Conflict):
        release(cleared)


@pytest.mark.parametrize(
    "status", [EntryStatus.UNASSIGNED, EntryStatus.EXPORTED, EntryStatus.POSTED, EntryStatus.SPLIT]
)
def test_nothing_but_a_released_entry_can_be_released_from_another_state(status: EntryStatus) -> None:
    entry = replace(only(entries_of([an_event("k")])), status=status, matter_id="M-1")
    with pytest.raises(Conflict):
        release(entry)


@pytest.mark.parametrize(
    "status",
    [
        EntryStatus.UNASSIGNED,
        EntryStatus.ASSIGNED,
        EntryStatus.EXPORTED,
        EntryStatus.POSTED,
        EntryStatus.SPLIT,
    ],
)
def test_only_a_released_entry_can_be_reopened(status: EntryStatus) -> None:
    entry = replace(only(entries_of([an_event("k")])), status=status, matter_id="M-1")
    with pytest.raises(Conflict, match="only released entries"):
        reopen(entry)


def test_reopening_a_released_entry_makes_it_assigned_and_editable_again() -> None:
    released = release(assigned(only(entries_of([an_event("k")]))))
    with pytest.raises(Conflict):
        apply_changes(released, EntryChanges(narrative="late edit"), ROUNDING)
    reopened = reopen(released)
    assert reopened.status is EntryStatus.ASSIGNED
    assert apply_changes(reopened, EntryChanges(narrative="late edit"), ROUNDING).narrative == "late edit"


# ---------------------------------------------------------------- narratives


def test_a_narrative_fills_its_placeholders() -> None:
    text = render_narrative(
        DEFAULT_TEMPLATES[EventKind.COMPOSE], {"to": "carol@client.com", "subject": "SPA"}
    )
    assert text == "Email to carol@client.com re: SPA"


def test_unknown_placeholders_are_left_empty() -> None:
    assert render_narrative("Meeting re: {subject} {room}", {"subject": "SPA"}) == "Meeting re: SPA"
    assert render_narrative("Call with {who}", {}) == "Call with"


@pytest.mark.parametrize(
    "template",
    [
        "{subject.__class__}",
        "{subject.__class__.__mro__}",
        "{subject.__init__.__globals__}",
        "{subject[0]}",
        "{subject!r}",
        "{subject:>40}",
        "{0}",
        "{__import__}",
    ],
)
def test_a_template_cannot_reach_attributes_items_or_format_specs(template: str) -> None:
    text = render_narrative(template, {"subject": "SPA"})
    assert "<" not in text and "class" not in text.replace("__class__", "")
    assert "globals" not in text.replace("__globals__", "")
    assert "SPA " not in text and text.count("SPA") <= 1
    assert len(text) <= len(template)


def test_values_are_inserted_as_text_and_never_expanded_again() -> None:
    text = render_narrative("Email re: {subject}", {"subject": "{sender} {subject.__class__}", "sender": "x"})
    assert text == "Email re: {sender} {subject.__class__}"


names = st.from_regex(r"[a-z_]{1,8}", fullmatch=True)
literals = st.text(
    alphabet=st.characters(blacklist_characters="{}", blacklist_categories=("Cs",)), max_size=12
)


@PROPERTY
@given(
    st.lists(st.one_of(literals.map(lambda t: ("text", t)), names.map(lambda n: ("name", n))), max_size=8),
    st.dictionaries(names, literals, max_size=5),
)
def test_a_template_renders_as_its_text_with_each_known_placeholder_replaced_and_unknown_ones_empty(
    pieces: list[tuple[str, str]], values: dict[str, str]
) -> None:
    template = "".join(p if kind == "text" else "{" + p + "}" for kind, p in pieces)
    filled = "".join(p if kind == "text" else values.get(p, "") for kind, p in pieces)
    assert render_narrative(template, values) == " ".join(filled.split()).strip(" :")


@PROPERTY
@given(st.text(max_size=60), st.dictionaries(st.text(max_size=8), st.text(max_size=20), max_size=5))
def test_any_template_a_firm_types_renders_without_error(template: str, values: dict[str, str]) -> None:
    assert isinstance(render_narrative(template, values), str)


def test_event_ids_are_stable_for_a_key() -> None:
    assert an_event("k").event_id == event_id_for("k") == event_id_for("k")
