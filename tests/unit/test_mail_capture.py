"""Mailbox changes become captures: sent, read, meetings, removals, and the flags filters rely on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.capture import (
    CaptureSettings,
    EventKind,
    Source,
    compose_key,
    fold,
    meeting_key,
    read_key,
)
from chalicelib.domain.m365 import (
    FolderSyncState,
    Subscription,
    calendar_window,
    client_state_matches,
    hash_client_state,
    subscription_resource,
    window_needs_roll,
)
from chalicelib.domain.mail_capture import (
    CORRELATION_HEADER,
    CaptureRules,
    LedgerEntry,
    MeetingDecision,
    mail_capture,
    mail_flags,
    meeting_capture,
    meeting_decision,
    plan_changes,
    release_due,
)
from chalicelib.domain.mailbox import Folder, MailboxChange, MailItem, MeetingItem, RemovedItem

OWNER = "alex@halemercer.example"
CLIENT = "dana.reyes@northwind.example"
NOW = datetime(2026, 3, 9, 18, 0, tzinfo=UTC)
RULES = CaptureRules(owner=OWNER, since=NOW - timedelta(days=7))


def sent(**changes: object) -> MailItem:
    values: dict[str, object] = {
        "item_id": "AAMk-sent-1",
        "folder": Folder.SENT,
        "internet_message_id": "<sent-1@halemercer.example>",
        "conversation_id": "conv-1",
        "subject": "RE: Northwind v. Contoso",
        "preview": "Dana, attached are my comments.",
        "sender": OWNER,
        "to": (CLIENT,),
        "cc": ("Paralegal@HaleMercer.example", OWNER),
        "sent_at": NOW - timedelta(hours=2),
        "received_at": NOW - timedelta(hours=2),
        "is_read": True,
    }
    values.update(changes)
    return MailItem(**values)  # type: ignore[arg-type]


def received(**changes: object) -> MailItem:
    values: dict[str, object] = {
        "item_id": "AAMk-in-1",
        "folder": Folder.INBOX,
        "internet_message_id": "<in-1@northwind.example>",
        "subject": "Deposition dates",
        "preview": "Can we move the deposition?",
        "sender": CLIENT,
        "to": (OWNER,),
        "received_at": NOW - timedelta(hours=3),
        "sent_at": NOW - timedelta(hours=3, minutes=1),
        "is_read": True,
        "body_chars": 2200,
    }
    values.update(changes)
    return MailItem(**values)  # type: ignore[arg-type]


def meeting(**changes: object) -> MeetingItem:
    start = NOW - timedelta(hours=4)
    values: dict[str, object] = {
        "item_id": "AAMk-ev-1",
        "ical_uid": "040000008200E00074C5B7101A82E008-1",
        "start": start,
        "end": start + timedelta(minutes=45),
        "subject": "Northwind strategy call",
        "response": "accepted",
        "organizer": CLIENT,
        "attendees": (OWNER, CLIENT),
    }
    values.update(changes)
    return MeetingItem(**values)  # type: ignore[arg-type]


class TestSentMail:
    def test_a_sent_message_with_the_add_ins_header_merges_with_the_compose_record(self) -> None:
        capture = mail_capture(sent(headers={CORRELATION_HEADER: " draft-42 "}), RULES)
        assert capture is not None
        assert capture.key == compose_key("draft-42")
        assert capture.kind is EventKind.COMPOSE and capture.sent and capture.source is Source.GRAPH

    def test_a_sent_message_without_the_header_is_keyed_by_its_internet_message_id(self) -> None:
        capture = mail_capture(sent(), RULES)
        assert capture is not None and capture.key == compose_key("<sent-1@halemercer.example>")

    def test_a_sent_message_is_an_estimate_dated_when_it_was_sent(self) -> None:
        capture = mail_capture(sent(), RULES)
        assert capture is not None
        assert capture.measured is False and capture.at == NOW - timedelta(hours=2)

    def test_participants_are_the_recipients_without_the_owner_lower_cased_once_each(self) -> None:
        capture = mail_capture(sent(to=(CLIENT, CLIENT.upper())), RULES)
        assert capture is not None
        assert capture.participants == (CLIENT, "paralegal@halemercer.example")

    def test_a_draft_is_not_work_yet(self) -> None:
        assert mail_capture(sent(is_draft=True), RULES) is None

    def test_mail_from_before_the_capture_started_is_history(self) -> None:
        assert mail_capture(sent(sent_at=NOW - timedelta(days=30)), RULES) is None


class TestReadMail:
    def test_a_read_inbox_message_is_a_read_capture_keyed_like_the_add_in_does(self) -> None:
        capture = mail_capture(received(), RULES)
        assert capture is not None
        assert capture.kind is EventKind.READ and capture.key == read_key("<in-1@northwind.example>")
        assert capture.sender == CLIENT and capture.participants == (CLIENT,)

    def test_an_unread_message_is_not_captured(self) -> None:
        assert mail_capture(received(is_read=False), RULES) is None

    def test_the_reading_time_is_estimated_from_the_length_of_the_text(self) -> None:
        capture = mail_capture(received(body_chars=0, preview="x" * 200), RULES)
        assert capture is not None and capture.body_chars == 200 and not capture.measured

    def test_a_message_categorised_personal_in_outlook_is_personal(self) -> None:
        capture = mail_capture(received(categories=("Personal",)), RULES)
        assert capture is not None and capture.personal

    def test_newsletters_and_automatic_replies_are_flagged_for_the_filters(self) -> None:
        newsletter = mail_capture(received(headers={"list-unsubscribe": "<mailto:x@y>"}), RULES)
        auto = mail_capture(received(headers={"auto-submitted": "auto-replied"}), RULES)
        assert newsletter is not None and newsletter.list_unsubscribe and not newsletter.auto_submitted
        assert auto is not None and auto.auto_submitted and not auto.list_unsubscribe

    def test_auto_submitted_no_is_a_person_writing(self) -> None:
        assert mail_flags({"auto-submitted": "no"}) == (False, False)
        assert mail_flags({"precedence": "bulk"}) == (True, False)
        assert mail_flags({"precedence": "auto_reply"}) == (False, True)


class TestMeetings:
    def test_an_accepted_meeting_that_happened_is_captured(self) -> None:
        assert meeting_decision(meeting(), RULES, NOW) == (MeetingDecision.CAPTURE, "attended")

    def test_a_meeting_still_to_come_waits(self) -> None:
        later = meeting(start=NOW + timedelta(hours=1), end=NOW + timedelta(hours=2))
        assert meeting_decision(later, RULES, NOW)[0] is MeetingDecision.WAIT

    def test_declined_cancelled_free_all_day_and_unanswered_meetings_are_not_the_users_time(self) -> None:
        for item, reason in [
            (meeting(response="declined"), "declined"),
            (meeting(is_cancelled=True), "cancelled"),
            (meeting(show_as="free"), "free"),
            (meeting(is_all_day=True), "all-day"),
            (meeting(response="notResponded"), "unanswered"),
        ]:
            assert meeting_decision(item, RULES, NOW) == (MeetingDecision.SKIP, reason)

    def test_the_firm_can_count_free_all_day_and_unanswered_meetings(self) -> None:
        generous = CaptureRules(
            owner=OWNER,
            capture_free_meetings=True,
            capture_all_day_meetings=True,
            capture_unanswered_meetings=True,
        )
        for item in (meeting(show_as="free"), meeting(is_all_day=True), meeting(response="notResponded")):
            assert meeting_decision(item, generous, NOW)[0] is MeetingDecision.CAPTURE

    def test_the_organisers_own_appointments_count(self) -> None:
        for response in ("organizer", "none", "tentativelyAccepted"):
            assert meeting_decision(meeting(response=response), RULES, NOW)[0] is MeetingDecision.CAPTURE

    def test_a_meeting_is_keyed_by_its_ical_uid_and_occurrence_start(self) -> None:
        item = meeting()
        capture = meeting_capture(item, RULES)
        assert capture.key == meeting_key(item.ical_uid, item.start)
        assert capture.duration_seconds == 45 * 60 and capture.participants == (CLIENT,)


def ledger_of(plan_entries: list[LedgerEntry]) -> dict[str, LedgerEntry]:
    return {entry.item_id: entry for entry in plan_entries}


class TestPlans:
    def test_each_occurrence_of_a_recurring_meeting_is_its_own_capture(self) -> None:
        starts = [NOW - timedelta(days=days, hours=4) for days in (14, 7, 0)]
        occurrences = [
            meeting(
                item_id=f"occ-{i}",
                series_master_id="master",
                kind="occurrence",
                start=s,
                end=s + timedelta(hours=1),
            )
            for i, s in enumerate(starts)
        ]
        plan = plan_changes(occurrences, rules=CaptureRules(owner=OWNER), now=NOW, known={})
        assert len({capture.key for capture in plan.captures}) == 3

    def test_a_future_meeting_is_remembered_and_released_once_it_has_ended(self) -> None:
        start = NOW + timedelta(hours=1)
        plan = plan_changes(
            [meeting(start=start, end=start + timedelta(hours=1))], rules=RULES, now=NOW, known={}
        )
        assert plan.captures == [] and [e.captured for e in plan.remember] == [False]
        assert release_due(plan.remember, NOW + timedelta(minutes=90)).captures == []
        released = release_due(plan.remember, NOW + timedelta(hours=2))
        assert [c.key for c in released.captures] == [plan.remember[0].key]
        assert [e.captured for e in released.remember] == [True]

    def test_a_pending_meeting_that_is_cancelled_is_forgotten_without_a_capture(self) -> None:
        start = NOW + timedelta(hours=1)
        waiting = plan_changes(
            [meeting(start=start, end=start + timedelta(hours=1))], rules=RULES, now=NOW, known={}
        )
        cancelled = plan_changes(
            [meeting(start=start, end=start + timedelta(hours=1), is_cancelled=True)],
            rules=RULES,
            now=NOW,
            known=ledger_of(waiting.remember),
        )
        assert cancelled.captures == [] and cancelled.forget == ["AAMk-ev-1"]

    def test_a_captured_meeting_that_is_removed_is_marked_deleted(self) -> None:
        captured = plan_changes([meeting()], rules=RULES, now=NOW, known={})
        removed = plan_changes(
            [RemovedItem("AAMk-ev-1", Folder.CALENDAR)],
            rules=RULES,
            now=NOW,
            known=ledger_of(captured.remember),
        )
        assert [(c.key, c.deleted) for c in removed.captures] == [(captured.captures[0].key, True)]
        assert removed.forget == ["AAMk-ev-1"]

    def test_a_removed_message_is_not_a_deletion_because_filing_looks_the_same(self) -> None:
        plan = plan_changes([RemovedItem("AAMk-in-1", Folder.INBOX)], rules=RULES, now=NOW, known={})
        assert plan.captures == [] and plan.forget == []

    def test_the_last_change_of_an_item_in_a_page_wins(self) -> None:
        start = NOW + timedelta(hours=1)
        upcoming = meeting(start=start, end=start + timedelta(hours=1))
        plan = plan_changes(
            [upcoming, RemovedItem(upcoming.item_id, Folder.CALENDAR), upcoming],
            rules=RULES,
            now=NOW,
            known={},
        )
        assert [e.item_id for e in plan.remember] == [upcoming.item_id] and plan.forget == []


@given(
    st.lists(st.sampled_from(["sent", "read", "unread", "meeting", "declined"]), max_size=12),
    st.integers(1, 3),
)
def test_replaying_a_page_any_number_of_times_changes_no_event(kinds: list[str], replays: int) -> None:
    factory: dict[str, Callable[[int], MailboxChange]] = {
        "sent": lambda i: sent(item_id=f"s{i}", internet_message_id=f"<s{i}@x>"),
        "read": lambda i: received(item_id=f"r{i}", internet_message_id=f"<r{i}@x>"),
        "unread": lambda i: received(item_id=f"u{i}", internet_message_id=f"<u{i}@x>", is_read=False),
        "meeting": lambda i: meeting(item_id=f"m{i}", ical_uid=f"uid-{i}"),
        "declined": lambda i: meeting(item_id=f"d{i}", ical_uid=f"uid-d{i}", response="declined"),
    }
    page: list[MailboxChange] = [factory[kind](index) for index, kind in enumerate(kinds)]
    settings = CaptureSettings()
    once = fold(
        {},
        plan_changes(page, rules=RULES, now=NOW, known={}).captures,
        firm_id="f",
        user_id="u",
        settings=settings,
    )
    events = dict(once)
    for _ in range(replays):
        again = plan_changes(page, rules=RULES, now=NOW, known={}).captures
        events.update(fold(events, again, firm_id="f", user_id="u", settings=settings))
    assert events == once


class TestConnectionRules:
    def test_a_subscription_is_due_for_renewal_at_half_its_life(self) -> None:
        subscription = Subscription(
            firm_id="f",
            user_id="u",
            folder=Folder.INBOX,
            subscription_id="s",
            resource=subscription_resource(OWNER, Folder.INBOX),
            expires_at=NOW + timedelta(hours=48),
            renewed_at=NOW,
            client_state_hash=hash_client_state("secret"),
        )
        assert not subscription.renewal_due(NOW + timedelta(hours=23, minutes=59))
        assert subscription.renewal_due(NOW + timedelta(hours=24))

    def test_only_the_right_client_state_matches(self) -> None:
        subscription = Subscription(
            "f", "u", Folder.INBOX, "s", "r", NOW, NOW, client_state_hash=hash_client_state("secret")
        )
        assert client_state_matches(subscription, "secret")
        assert not client_state_matches(subscription, "Secret")
        assert not client_state_matches(subscription, None)
        assert not client_state_matches(subscription, "x" * 129)

    def test_resources_name_the_folder_graph_watches(self) -> None:
        assert subscription_resource(OWNER, Folder.SENT) == f"users/{OWNER}/mailFolders('sentitems')/messages"
        assert subscription_resource(OWNER, Folder.CALENDAR) == f"users/{OWNER}/events"

    def test_a_calendar_window_rolls_once_half_its_future_has_passed(self) -> None:
        start, end = calendar_window(NOW, past_days=7, future_days=28)
        assert start == datetime(2026, 3, 2, tzinfo=UTC) and end == datetime(2026, 4, 7, tzinfo=UTC)
        state = FolderSyncState("f", "u", Folder.CALENDAR, state="link", window_start=start, window_end=end)
        assert not window_needs_roll(state, NOW + timedelta(days=10), future_days=28)
        assert window_needs_roll(state, NOW + timedelta(days=15), future_days=28)


class TestConnectionValidation:
    def test_a_graph_connection_needs_guids_or_a_tenant_domain_and_real_mailboxes(self) -> None:
        from chalicelib.domain.errors import InvalidInput
        from chalicelib.domain.m365 import CapturedUser, M365Connection, MailProtocol, validate_connection

        good = M365Connection(
            firm_id="f",
            tenant_id="lovelace.law",
            client_id="5e0c8a1d-2b3f-4e6a-8c7d-9e0f1a2b3c4d",
            users=(CapturedUser("alex", OWNER),),
        )
        validate_connection(good)
        broken = M365Connection(
            firm_id="f",
            tenant_id="not a tenant",
            client_id="app",
            protocol=MailProtocol.EWS,
            users=(
                CapturedUser("alex", "alex"),
                CapturedUser("alex", OWNER),
                CapturedUser("blake", OWNER.upper()),
            ),
        )
        try:
            validate_connection(broken)
        except InvalidInput as invalid:
            fields = sorted({problem.field for problem in invalid.field_errors})
            assert fields == ["client_id", "ews_endpoint", "tenant_id", "users"]
            assert len([p for p in invalid.field_errors if p.field == "users"]) == 3
        else:
            raise AssertionError("the broken connection was accepted")

    def test_an_ews_connection_needs_an_https_endpoint(self) -> None:
        from chalicelib.domain.errors import InvalidInput
        from chalicelib.domain.m365 import M365Connection, MailProtocol, validate_connection

        connection = M365Connection(
            firm_id="f",
            tenant_id="lovelace.law",
            client_id="5e0c8a1d-2b3f-4e6a-8c7d-9e0f1a2b3c4d",
            protocol=MailProtocol.EWS,
            ews_endpoint="http://mail.lovelace.law/EWS/Exchange.asmx",
        )
        try:
            validate_connection(connection)
        except InvalidInput as invalid:
            assert [problem.field for problem in invalid.field_errors] == ["ews_endpoint"]
        else:
            raise AssertionError("a plain http EWS endpoint was accepted")
