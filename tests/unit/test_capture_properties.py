"""Captures merge into events as the capture module promises: replays, batch splits and any order give the
same events, measured time only grows, and heartbeats within the pulse time join one span."""

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from hypothesis import example, given, settings
from hypothesis import strategies as st

from chalicelib.domain.capture import (
    ActivityEvent,
    Capture,
    CaptureSettings,
    EventKind,
    Source,
    Span,
    close_spans,
    fold,
    merge,
)

PROPERTY = settings(max_examples=200, deadline=None)

BASE = datetime(2026, 3, 9, 14, 0, tzinfo=UTC)
KEYS = ("msg-1", "msg-2", "msg-3")
FIRM, USER = "f1", "u1"


def at_ms(ms: int) -> datetime:
    return BASE + timedelta(milliseconds=ms)


def captures(keys: tuple[str, ...] = KEYS) -> st.SearchStrategy[Capture]:
    """Any capture of a few things, at millisecond precision within an hour."""
    return st.builds(
        Capture,
        kind=st.sampled_from(EventKind),
        source=st.sampled_from(Source),
        key=st.sampled_from(keys),
        at=st.integers(0, 3_600_000).map(at_ms),
        duration_seconds=st.integers(0, 600_000).map(lambda ms: ms / 1000),
        measured=st.booleans(),
        subject=st.sampled_from(("", "Share purchase agreement", "RE: Share purchase agreement")),
        participants=st.lists(
            st.sampled_from(("Ada@Lovelace.law", "ada@lovelace.law", "carol@client.com", "bob@lovelace.law")),
            max_size=3,
        ).map(tuple),
        sender=st.sampled_from(("", "carol@client.com", "ada@lovelace.law")),
        conversation_id=st.sampled_from(("", "conv-1", "conv-2")),
        internet_message_id=st.sampled_from(("", "<a@client.com>", "<b@client.com>")),
        body_chars=st.integers(0, 50_000),
        list_unsubscribe=st.booleans(),
        auto_submitted=st.booleans(),
        sent=st.booleans(),
        deleted=st.booleans(),
        personal=st.booleans(),
        note=st.sampled_from(("", "draft", "final")),
    )


@st.composite
def captures_with_one_kind_per_key(draw: st.DrawFn) -> list[Capture]:
    """Captures where each key keeps one kind (a compose may join any of them), as the stable keys
    (``read:…``, ``meeting:…``, ``call:…``) make it in practice."""
    kind_of = {key: draw(st.sampled_from(EventKind)) for key in KEYS}
    drawn = draw(st.lists(st.tuples(captures(), st.booleans()), max_size=12))
    return [
        replace(capture, kind=EventKind.COMPOSE if composed else kind_of[capture.key])
        for capture, composed in drawn
    ]


pulses = st.sampled_from((0.0, 1.0, 60.0, 90.0, 300.0))


def fold_once(captures: list[Capture], pulse: float = 90.0) -> dict[str, ActivityEvent]:
    return fold({}, captures, firm_id=FIRM, user_id=USER, settings=CaptureSettings(pulse_seconds=pulse))


def fold_in_batches(
    captures: list[Capture], cuts: list[int], pulse: float = 90.0
) -> dict[str, ActivityEvent]:
    """Fold chunk after chunk, each chunk folded into the events the earlier chunks left."""
    bounds = [0, *sorted({min(cut, len(captures)) for cut in cuts}), len(captures)]
    events: dict[str, ActivityEvent] = {}
    for start, end in pairwise(bounds):
        touched = fold(
            events,
            captures[start:end],
            firm_id=FIRM,
            user_id=USER,
            settings=CaptureSettings(pulse_seconds=pulse),
        )
        events = {**events, **touched}
    return events


def merged(captures: list[Capture], pulse: float = 90.0) -> ActivityEvent:
    event = None
    for capture in captures:
        event = merge(
            event, capture, firm_id=FIRM, user_id=USER, settings=CaptureSettings(pulse_seconds=pulse)
        )
    assert event is not None
    return event


def heartbeat(ms: int, *, seconds: float = 0.0, key: str = "read:<a@client.com>") -> Capture:
    return Capture(kind=EventKind.READ, source=Source.ADDIN, key=key, at=at_ms(ms), duration_seconds=seconds)


# ---------------------------------------------------------------- replays, retries, batch splits, order


@PROPERTY
@given(st.lists(captures(), max_size=12), st.lists(st.integers(0, 12), max_size=4), pulses)
def test_folding_captures_in_any_batch_split_gives_the_same_events_as_folding_them_once(
    captures: list[Capture], cuts: list[int], pulse: float
) -> None:
    assert fold_in_batches(captures, cuts, pulse) == fold_once(captures, pulse)


@PROPERTY
@given(st.lists(captures(), min_size=1, max_size=10), st.data(), pulses)
def test_replayed_captures_anywhere_after_their_first_delivery_change_no_event(
    captures: list[Capture], data: st.DataObject, pulse: float
) -> None:
    delivered = list(captures)
    for index in data.draw(st.lists(st.integers(0, len(captures) - 1), max_size=6), label="replayed"):
        first = delivered.index(captures[index])
        position = data.draw(st.integers(first + 1, len(delivered)), label="replayed at")
        delivered.insert(position, captures[index])
    cuts = data.draw(st.lists(st.integers(0, len(delivered)), max_size=4), label="cuts")

    assert fold_in_batches(delivered, cuts, pulse) == fold_once(captures, pulse)


@PROPERTY
@given(st.lists(captures(), max_size=12), pulses)
def test_folding_the_same_captures_again_into_their_events_changes_nothing(
    captures: list[Capture], pulse: float
) -> None:
    events = fold_once(captures, pulse)
    again = fold(events, captures, firm_id=FIRM, user_id=USER, settings=CaptureSettings(pulse_seconds=pulse))
    assert again == {key: events[key] for key in again}


@PROPERTY
@given(captures(), pulses)
def test_merging_a_capture_twice_is_merging_it_once(capture: Capture, pulse: float) -> None:
    assert merged([capture, capture], pulse) == merged([capture], pulse)


@PROPERTY
@given(captures_with_one_kind_per_key(), st.data(), pulses)
def test_any_order_of_captures_gives_the_same_events_when_each_key_keeps_its_kind(
    captures: list[Capture], data: st.DataObject, pulse: float
) -> None:
    shuffled = data.draw(st.permutations(captures), label="delivered in this order")
    cuts = data.draw(st.lists(st.integers(0, len(captures)), max_size=3), label="cuts")
    assert fold_in_batches(shuffled, cuts, pulse) == fold_once(captures, pulse)


READ_THEN_MEETING = [
    Capture(kind=EventKind.READ, source=Source.ADDIN, key="k", at=BASE),
    Capture(kind=EventKind.MEETING, source=Source.ADDIN, key="k", at=BASE),
]


@st.composite
def captures_and_a_permutation(draw: st.DrawFn) -> tuple[list[Capture], list[Capture]]:
    original = draw(st.lists(captures(), max_size=12))
    return original, draw(st.permutations(original))


@PROPERTY
@example((READ_THEN_MEETING, READ_THEN_MEETING[::-1]), 90.0)  # once the kind followed arrival order
@given(captures_and_a_permutation(), pulses)
def test_any_order_of_any_captures_gives_the_same_events(
    orders: tuple[list[Capture], list[Capture]], pulse: float
) -> None:
    """The module promises a semilattice for every capture, so order must not matter even when two
    captures of one key disagree on the kind."""
    original, shuffled = orders
    assert fold_once(shuffled, pulse) == fold_once(original, pulse)


def test_when_kinds_meet_on_one_key_the_higher_ranked_kind_wins_whichever_arrives_first() -> None:
    read, meeting = READ_THEN_MEETING
    assert merged([read, meeting]).kind is merged([meeting, read]).kind is EventKind.MEETING


def test_a_capture_of_the_composed_reply_makes_the_event_a_compose_whichever_arrives_first() -> None:
    read = heartbeat(0, seconds=10)
    composed = replace(read, kind=EventKind.COMPOSE, at=at_ms(5_000))
    assert merged([read, composed]).kind is EventKind.COMPOSE
    assert merged([composed, read]).kind is EventKind.COMPOSE


def test_text_details_keep_the_latest_non_empty_value_whatever_the_order() -> None:
    early = replace(heartbeat(0), subject="Draft SPA", sender="carol@client.com")
    late = replace(heartbeat(60_000), subject="Final SPA")
    blank = replace(heartbeat(120_000), subject="")
    for order in ([early, late, blank], [blank, late, early], [late, blank, early]):
        event = merged(order)
        assert (event.subject, event.sender) == ("Final SPA", "carol@client.com")


def test_flags_once_set_stay_set_and_participants_compare_without_case() -> None:
    deleted = replace(heartbeat(0), deleted=True, participants=("Carol@Client.com",))
    later = replace(heartbeat(30_000), participants=("carol@client.com", "Ada@Lovelace.law"))
    event = merged([deleted, later])
    assert event.deleted
    assert event.participants == ("ada@lovelace.law", "carol@client.com")


# ---------------------------------------------------------------- durations only grow


def one_key_captures() -> st.SearchStrategy[list[Capture]]:
    return st.lists(captures(keys=("read:<a@client.com>",)), min_size=1, max_size=12)


@PROPERTY
@given(one_key_captures(), pulses)
def test_an_events_seconds_never_shrink_while_its_time_stays_measured_or_stays_estimated(
    captures: list[Capture], pulse: float
) -> None:
    before = merged(captures[:1], pulse)
    for capture in captures[1:]:
        after = merge(
            before, capture, firm_id=FIRM, user_id=USER, settings=CaptureSettings(pulse_seconds=pulse)
        )
        if after.measured == before.measured:
            assert after.seconds >= before.seconds
        else:
            # The first measurement replaces the guess from the message's length: the pane saw how long
            # the lawyer really spent, and billing a guess over a measurement would overbill the client.
            assert after.measured and after.seconds == sum(span.seconds for span in after.spans)
        before = after


def test_a_measurement_replaces_a_longer_estimate_of_the_same_message() -> None:
    estimated = Capture(
        kind=EventKind.READ, source=Source.GRAPH, key="k", at=BASE, measured=False, body_chars=11_000
    )
    measured = Capture(kind=EventKind.READ, source=Source.ADDIN, key="k", at=BASE, duration_seconds=20)
    assert merged([estimated]).seconds > 500
    assert merged([estimated, measured]).seconds == 20.0
    assert merged([measured, estimated]).seconds == 20.0


@PROPERTY
@given(one_key_captures(), pulses)
def test_measured_time_and_the_estimate_each_only_grow_as_captures_arrive(
    captures: list[Capture], pulse: float
) -> None:
    before = merged(captures[:1], pulse)
    for capture in captures[1:]:
        after = merge(
            before, capture, firm_id=FIRM, user_id=USER, settings=CaptureSettings(pulse_seconds=pulse)
        )
        assert sum(s.seconds for s in after.spans) >= sum(s.seconds for s in before.spans)
        assert after.estimate_seconds >= before.estimate_seconds
        # Every interval measured before is still inside one measured span.
        for old in before.spans:
            assert any(new.start <= old.start and old.end <= new.end for new in after.spans)
        before = after


@PROPERTY
@given(one_key_captures(), pulses)
def test_an_event_with_any_measured_span_reports_the_spans_total_not_the_estimate(
    captures: list[Capture], pulse: float
) -> None:
    event = merged(captures, pulse)
    measured = [c for c in captures if c.measured]
    if measured:
        assert event.measured
        assert event.seconds == sum(span.seconds for span in event.spans)
        hull = max(c.at + timedelta(seconds=c.duration_seconds) for c in measured) - min(
            c.at for c in measured
        )
        assert event.seconds <= hull.total_seconds()
    else:
        assert not event.measured
        assert event.seconds == event.estimate_seconds > 0


def test_a_pane_measurement_replaces_the_estimate_graph_made_from_the_messages_length() -> None:
    from_graph = Capture(
        kind=EventKind.READ,
        source=Source.GRAPH,
        key="read:<a@client.com>",
        at=at_ms(0),
        measured=False,
        body_chars=11_000,  # 2,000 words at 220 wpm: 545.455 s
    )
    from_pane = replace(heartbeat(60_000, seconds=20), source=Source.ADDIN)
    event = merged([from_graph, from_pane])
    assert event.estimate_seconds == 545.455
    assert event.seconds == 20.0


# ---------------------------------------------------------------- heartbeats and spans


def test_heartbeats_within_the_pulse_time_merge_into_one_span_and_a_later_one_starts_another() -> None:
    """The module's diagram: pulse 60 s, heartbeats 10:00:00, 10:00:40, 10:01:20 and 10:05:00."""
    base = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
    beats = [base, base + timedelta(seconds=40), base + timedelta(seconds=80), base + timedelta(minutes=5)]
    event = merged([replace(heartbeat(0), at=moment) for moment in beats], pulse=60)
    assert event.spans == (
        Span(base, base + timedelta(seconds=80)),
        Span(base + timedelta(minutes=5), base + timedelta(minutes=5)),
    )
    assert event.seconds == 80.0


def test_a_gap_of_exactly_the_pulse_time_still_merges_and_one_millisecond_more_does_not() -> None:
    assert len(merged([heartbeat(0), heartbeat(60_000)], pulse=60).spans) == 1
    assert len(merged([heartbeat(0), heartbeat(60_001)], pulse=60).spans) == 2


@PROPERTY
@given(st.lists(st.integers(0, 300_000), max_size=20), st.integers(0, 180), st.randoms())
def test_zero_length_heartbeats_start_a_new_span_exactly_where_the_gap_exceeds_the_pulse(
    gaps_ms: list[int], pulse: int, rng: random.Random
) -> None:
    times = [0]
    for gap in gaps_ms:
        times.append(times[-1] + gap)
    beats = [heartbeat(ms) for ms in times]
    rng.shuffle(beats)
    event = merged(beats, pulse=pulse)
    assert len(event.spans) == 1 + sum(gap > pulse * 1000 for gap in gaps_ms)
    assert round(event.seconds * 1000) == sum(gap for gap in gaps_ms if gap <= pulse * 1000)


def assert_well_formed(spans: tuple[Span, ...], pieces: list[Span], pulse: float) -> None:
    """Sorted, never overlapping, more than the pulse apart, covering every piece, inventing no time."""
    for span in spans:
        assert span.start <= span.end
    for left, right in pairwise(spans):
        assert (right.start - left.end).total_seconds() > pulse
    for piece in pieces:
        holders = [s for s in spans if s.start <= piece.start and piece.end <= s.end]
        assert len(holders) == 1
    assert {s.start for s in spans} <= {p.start for p in pieces}
    assert {s.end for s in spans} <= {p.end for p in pieces}


span_pieces = st.lists(
    st.tuples(st.integers(0, 3_600_000), st.integers(0, 600_000)).map(
        lambda t: Span(at_ms(t[0]), at_ms(t[0] + t[1]))
    ),
    max_size=15,
)


@PROPERTY
@given(span_pieces, pulses)
def test_closed_spans_are_sorted_disjoint_more_than_a_pulse_apart_and_cover_every_interval(
    pieces: list[Span], pulse: float
) -> None:
    assert_well_formed(close_spans(pieces, pulse), pieces, pulse)


@PROPERTY
@given(span_pieces, span_pieces, pulses)
def test_closing_spans_in_two_steps_is_closing_them_once(
    first: list[Span], second: list[Span], pulse: float
) -> None:
    assert close_spans([*close_spans(first, pulse), *second], pulse) == close_spans([*first, *second], pulse)


@PROPERTY
@given(st.lists(st.tuples(st.integers(0, 3_600_000), st.integers(0, 120_000)), max_size=15), pulses)
def test_heartbeats_with_durations_fold_into_well_formed_spans(
    beats: list[tuple[int, int]], pulse: float
) -> None:
    captures = [heartbeat(start, seconds=length / 1000) for start, length in beats]
    events = fold_once(captures, pulse)
    pieces = [Span(c.at, c.at + timedelta(seconds=c.duration_seconds)) for c in captures]
    spans = events["read:<a@client.com>"].spans if captures else ()
    assert_well_formed(spans, pieces, pulse)
