"""Matter suggestion ranks matters with a confidence and reasons, then assigns, suggests or abstains."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.capture import ActivityEvent, EventKind, Source
from chalicelib.domain.matters import Client, Contact, Matter, MatterStatus
from chalicelib.domain.suggestions import (
    DIGITS_NUMBER_PATTERN,
    GENERIC_NUMBER_PATTERN,
    Decision,
    Learning,
    MatterIndex,
    SuggestionItem,
    canonical_number,
    suggest,
)
from devstack.suggestion_eval import TARGET_TOP1, TARGET_WRONG_AUTO, evaluate, generate_labelled_set

PROPERTY = settings(max_examples=200, deadline=None)
AT = datetime(2026, 3, 9, 14, 0, tzinfo=UTC)
FIRM = ("lovelace.law",)
ME = "ada@lovelace.law"

CLIENTS = [
    Client("f1", "c-acme", "Acme Corp.", domains=("acme.com",)),
    Client("f1", "c-globex", "Globex", domains=("globex.com",)),
    Client("f1", "c-jane", "Jane Doe"),  # an individual, on free mail
    Client("f1", "c-free", "Misconfigured", domains=("gmail.com",)),
    Client("f1", "c-trust", "Globex Pension Trust", domains=("globex.com",)),
    Client("f1", "c-code", "Code Ltd"),
]
MATTERS = [
    Matter("f1", "m-acme-1", "00001-0001", "Acme v. Roadrunner", "c-acme"),
    Matter("f1", "m-acme-old", "00001-0002", "Old lease", "c-acme", status=MatterStatus.CLOSED),
    Matter("f1", "m-globex-1", "00002-0001", "Series B financing", "c-globex"),
    Matter("f1", "m-globex-2", "00002-0002", "Trademark portfolio", "c-globex", contact_ids=("p-hank",)),
    Matter("f1", "m-globex-3", "00002-0003", "Employment advice", "c-globex"),
    Matter("f1", "m-jane-1", "00003-0001", "Estate of John Doe", "c-jane"),
    Matter("f1", "m-free-1", "00004-0001", "Something", "c-free"),
    Matter("f1", "m-trust-1", "00005-0001", "Pension scheme restructuring", "c-trust"),
    Matter("f1", "m-code", "ACME", "A number without separators", "c-code"),
]
CONTACTS = [
    Contact(
        "f1",
        "p-wile",
        "Wile E. Coyote",
        emails=("wile@acme.com",),
        phones=("+1 212 555 0100",),
        client_id="c-acme",
    ),
    Contact("f1", "p-hank", "Hank Scorpio", emails=("hank@globex.com",), client_id="c-globex"),
    Contact("f1", "p-homer", "Homer Simpson", emails=("homer@globex.com",), client_id="c-globex"),
    Contact("f1", "p-jane", "Jane Doe", emails=("jane.doe@gmail.com",), client_id="c-jane"),
]


def an_index(**options: object) -> MatterIndex:
    return MatterIndex.build(MATTERS, CLIENTS, CONTACTS, firm_domains=FIRM, **options)  # type: ignore[arg-type]


def an_item(
    *,
    subject: str = "",
    body: str = "",
    attachments: tuple[str, ...] = (),
    sender: str = "",
    participants: tuple[str, ...] = (),
    conversation_id: str = "",
    at: datetime = AT,
    kind: str = "",
    meeting_text: str = "",
) -> SuggestionItem:
    return SuggestionItem(
        subject=subject,
        body_preview=body,
        attachment_names=attachments,
        meeting_text=meeting_text,
        sender=sender,
        participants=(ME, *participants) if participants or sender else participants,
        conversation_id=conversation_id,
        at=at,
        kind=kind,
    )


def top_of(result: object) -> str | None:
    top = getattr(result, "top", None)
    return top.matter_id if top else None


# ---------------------------------------------------------------- matter numbers


def test_a_matter_number_in_the_subject_wins_and_is_assigned_automatically() -> None:
    result = suggest(an_index(), an_item(subject="RE: 00002-0003 draft contract", sender="homer@globex.com"))
    assert top_of(result) == "m-globex-3"
    assert result.decision is Decision.AUTO_ASSIGN
    assert result.suggestions[0].reasons[0] == "matter number 00002-0003 in the subject"
    assert result.explanation.startswith("assigned automatically to 00002-0003 Employment advice")


def test_a_matter_number_inside_an_attachment_name_is_found() -> None:
    item = an_item(subject="Comments", attachments=("image001.png", "00002-0001_SPA_v3.docx"))
    result = suggest(an_index(), item)
    assert top_of(result) == "m-globex-1"
    assert "matter number 00002-0001 in attachment '00002-0001_SPA_v3.docx'" in result.suggestions[0].reasons


@pytest.mark.parametrize(
    "written", ["00002-0002", "00002.0002", "#00002/0002", "00002_0002", "(00002-0002)", "ref:00002-0002."]
)
def test_numbers_are_found_however_people_separate_or_wrap_them(written: str) -> None:
    result = suggest(an_index(), an_item(subject=f"Please review {written} today"))
    assert top_of(result) == "m-globex-2"


def test_numbers_are_found_in_the_body_and_the_meeting_text_too() -> None:
    assert top_of(suggest(an_index(), an_item(body="Our ref: 00003-0001. Regards"))) == "m-jane-1"
    meeting = an_item(subject="Status call", meeting_text="Dial-in ... ref 00005-0001", kind="meeting")
    assert top_of(suggest(an_index(), meeting)) == "m-trust-1"


def test_dates_versions_and_urls_are_not_taken_for_matter_numbers() -> None:
    item = an_item(body="On 2026-03-09 we sent v2.1 of www.example.com/terms-2026, call +1 212 555 0199.")
    result = suggest(an_index(), item)
    assert result.suggestions == ()
    assert result.decision is Decision.ABSTAIN


def test_a_number_the_patterns_cannot_see_is_listed_for_the_admin() -> None:
    index = an_index()
    assert index.unscannable == ("ACME",)
    assert suggest(index, an_item(subject="ACME call")).suggestions == ()


def test_a_firm_with_plain_digit_numbers_configures_a_pattern_for_them() -> None:
    matters = [Matter("f1", "m-1", "48213", "Digits only", "c-acme")]
    index = MatterIndex.build(
        matters,
        CLIENTS,
        [],
        firm_domains=FIRM,
        number_patterns=[GENERIC_NUMBER_PATTERN, DIGITS_NUMBER_PATTERN],
    )
    assert index.unscannable == ()
    assert top_of(suggest(index, an_item(subject="Matter 48213: draft"))) == "m-1"
    assert top_of(suggest(index, an_item(subject="Scan 48213-A.pdf"))) == "m-1"
    assert suggest(index, an_item(subject="Invoice 148213")).suggestions == ()


def test_two_matter_numbers_in_the_subject_are_suggested_not_assigned() -> None:
    result = suggest(an_index(), an_item(subject="00002-0001 and 00002-0002: board minutes"))
    assert {s.matter_id for s in result.suggestions[:2]} == {"m-globex-1", "m-globex-2"}
    assert result.decision is not Decision.AUTO_ASSIGN


# ---------------------------------------------------------------- people, clients, domains


def test_a_participant_who_is_a_contact_of_a_client_with_one_open_matter_suggests_it() -> None:
    result = suggest(an_index(), an_item(subject="Call tomorrow?", sender="wile@acme.com"))
    assert top_of(result) == "m-acme-1"  # the client's closed matter is not offered
    assert result.decision is Decision.SUGGEST
    assert "wile@acme.com (Wile E. Coyote) is a contact of Acme Corp." in result.suggestions[0].reasons[-1]


def test_a_client_with_several_open_matters_and_nothing_else_is_low_confidence_never_automatic() -> None:
    result = suggest(an_index(), an_item(subject="Hello", sender="homer@globex.com"))
    assert {s.matter_id for s in result.suggestions} == {"m-globex-1", "m-globex-2", "m-globex-3"}
    assert all(s.confidence < 0.5 for s in result.suggestions)
    assert result.decision is Decision.ABSTAIN
    assert result.explanation == "not sure: Globex has 3 offered matters and nothing points to one"


def test_a_contact_named_on_a_matter_lifts_that_matter_above_the_clients_others() -> None:
    result = suggest(an_index(), an_item(subject="Hello", sender="hank@globex.com"))
    assert top_of(result) == "m-globex-2"
    assert (
        "participant hank@globex.com (Hank Scorpio) is a contact on this matter"
        in result.suggestions[0].reasons
    )


def test_a_new_address_at_a_clients_domain_or_subdomain_points_to_the_client() -> None:
    for sender in ("newbie@acme.com", "it@mail.acme.com"):
        result = suggest(an_index(), an_item(subject="Hello", sender=sender))
        assert top_of(result) == "m-acme-1"
        assert "a domain of Acme Corp." in result.suggestions[0].reasons[-1]


def test_free_mail_domains_never_map_to_a_client() -> None:
    stranger = suggest(an_index(), an_item(subject="Hello", sender="someone@gmail.com"))
    assert stranger.suggestions == ()
    assert stranger.decision is Decision.ABSTAIN
    # but a known free-mail address is a known contact
    jane = suggest(an_index(), an_item(subject="Hello", sender="jane.doe@gmail.com"))
    assert top_of(jane) == "m-jane-1"


def test_a_domain_shared_by_two_clients_splits_the_confidence_between_their_matters() -> None:
    result = suggest(an_index(), an_item(subject="Hello", sender="someone.new@globex.com"), limit=5)
    matters = {s.matter_id for s in result.suggestions}
    assert "m-trust-1" in matters
    assert matters & {"m-globex-1", "m-globex-2", "m-globex-3"}
    assert result.decision is Decision.ABSTAIN
    assert (
        result.explanation
        == "not sure: the participants belong to 2 clients and nothing points to one matter"
    )


def test_phone_numbers_match_contacts_however_they_are_written() -> None:
    for number in ("+12125550100", "(212) 555-0100", "212.555.0100"):
        result = suggest(an_index(), an_item(participants=(number,), kind="call"))
        assert top_of(result) == "m-acme-1"


def test_meeting_attendees_are_called_attendees_in_the_reasons() -> None:
    item = an_item(subject="Status call", participants=("wile@acme.com",), kind="meeting")
    assert "attendee wile@acme.com" in suggest(an_index(), item).suggestions[0].reasons[-1]


def test_a_matter_name_in_the_subject_picks_among_the_clients_matters() -> None:
    result = suggest(an_index(), an_item(subject="Trademark portfolio: renewals", sender="homer@globex.com"))
    assert top_of(result) == "m-globex-2"
    assert result.suggestions[0].reasons[0] == "the matter's name 'Trademark portfolio' is in the subject"


# ---------------------------------------------------------------- closed matters


def test_closed_matters_are_not_offered_unless_the_firm_asks() -> None:
    item = an_item(subject="RE: 00001-0002 old lease")
    assert suggest(an_index(), item).suggestions == ()
    offered = suggest(an_index(include_closed=True), item)
    assert top_of(offered) == "m-acme-old"
    assert "the matter is closed" in offered.suggestions[0].reasons


# ---------------------------------------------------------------- the thread and what the user chose


def test_the_threads_earlier_assignment_wins_over_the_clients_other_matters() -> None:
    item = an_item(subject="RE: Hello", sender="homer@globex.com", conversation_id="conv-1")
    result = suggest(an_index(), item, thread_matter="m-globex-3")
    assert top_of(result) == "m-globex-3"
    assert result.decision is Decision.AUTO_ASSIGN
    assert result.suggestions[0].reasons[0] == "this conversation was assigned to it before"


def test_a_thread_pointing_elsewhere_than_the_subjects_number_is_suggested_not_assigned() -> None:
    item = an_item(subject="RE: 00002-0001 board", sender="homer@globex.com", conversation_id="conv-1")
    result = suggest(an_index(), item, thread_matter="m-globex-3")
    assert result.decision is Decision.SUGGEST
    assert "points to" in result.explanation


def test_a_learned_choice_for_a_contact_picks_among_the_clients_matters() -> None:
    learning = Learning()
    for day in range(4):
        past = an_item(subject="x", sender="homer@globex.com", at=AT - timedelta(days=10 - day))
        learning.observe(past, "m-globex-1", firm_domains=FIRM)
    result = suggest(an_index(), an_item(subject="Hello", sender="homer@globex.com"), learning=learning)
    assert top_of(result) == "m-globex-1"
    assert result.decision is not Decision.ABSTAIN
    assert result.suggestions[0].reasons[0] == "you chose it for homer@globex.com 4 times (last 7 days ago)"


def test_a_recent_correction_beats_an_old_habit_because_choices_decay() -> None:
    learning = Learning(half_life_days=30)
    for n in range(6):  # months ago, always the financing
        learning.observe(an_item(sender="homer@globex.com", at=AT - timedelta(days=150 + n)), "m-globex-1")
    corrected = an_item(sender="homer@globex.com", at=AT - timedelta(days=2))
    learning.observe(corrected, "m-globex-3", replaced="m-globex-1")
    result = suggest(an_index(), an_item(subject="Hello", sender="homer@globex.com"), learning=learning)
    assert top_of(result) == "m-globex-3"
    # without decay the habit would have won
    weights = dict((m, w) for m, w, _ in learning.choices("contact", "homer@globex.com", AT))
    assert weights["m-globex-3"] > weights["m-globex-1"]


def test_what_the_user_marks_as_no_matter_is_learned_too() -> None:
    learning = Learning()
    for day in range(6):
        learning.observe(an_item(sender="wile@acme.com", at=AT - timedelta(days=day + 1)), None)
    result = suggest(
        an_index(), an_item(subject="Season's greetings", sender="wile@acme.com"), learning=learning
    )
    assert result.decision is Decision.ABSTAIN
    assert "you marked wile@acme.com as no matter 6 times" in result.explanation


def test_learning_ignores_the_firms_own_addresses_and_free_mail_domains() -> None:
    learning = Learning()
    item = an_item(sender="jane.doe@gmail.com", participants=("bob@lovelace.law",), conversation_id="c1")
    learning.observe(item, "m-jane-1", firm_domains=FIRM)
    stored = learning.to_dict()["keys"]
    assert set(stored["contact"]) == {"jane.doe@gmail.com"}
    assert stored["domain"] == {}
    assert set(stored["thread"]) == {"c1"}


def test_learning_survives_a_round_trip_through_to_dict() -> None:
    learning = Learning(half_life_days=14)
    learning.observe(
        an_item(sender="homer@globex.com", conversation_id="c9"), "m-globex-2", firm_domains=FIRM
    )
    learning.observe(an_item(sender="homer@globex.com", at=AT + timedelta(days=1)), "m-globex-1")
    learning.observe(an_item(sender="wile@acme.com"), None)
    data = learning.to_dict()
    again = Learning.from_dict(data)
    assert again.to_dict() == data
    assert again.half_life_days == 14
    later = AT + timedelta(days=20)
    assert again.choices("contact", "homer@globex.com", later) == learning.choices(
        "contact", "homer@globex.com", later
    )


def test_old_choices_can_be_pruned() -> None:
    learning = Learning(half_life_days=1)
    learning.observe(an_item(sender="homer@globex.com"), "m-globex-2", firm_domains=FIRM)
    assert learning.prune(AT + timedelta(days=30)) == 2  # the contact and the domain
    assert len(learning) == 0


# ---------------------------------------------------------------- internal mail and thresholds


def test_internal_only_mail_abstains_unless_something_names_a_matter() -> None:
    internal = an_item(subject="Lunch?", sender="bob@lovelace.law", participants=("carol@lovelace.law",))
    result = suggest(an_index(), internal)
    assert result.decision is Decision.ABSTAIN
    assert result.explanation == "no suggestion: everyone is inside the firm and nothing names a matter"
    numbered = an_item(subject="00001-0001: can you review?", sender="bob@lovelace.law")
    assert suggest(an_index(), numbered).decision is Decision.AUTO_ASSIGN


def test_thresholds_turn_the_same_confidence_into_assign_suggest_or_abstain() -> None:
    item = an_item(subject="Call tomorrow?", sender="wile@acme.com")
    confidence = suggest(an_index(), item).suggestions[0].confidence
    assert 0.5 < confidence < 0.95

    def decided(abstain_below: float, auto_assign_at: float) -> Decision:
        result = suggest(an_index(), item, abstain_below=abstain_below, auto_assign_at=auto_assign_at)
        return result.decision

    assert decided(0.5, confidence) is Decision.AUTO_ASSIGN
    assert decided(0.5, confidence + 0.01) is Decision.SUGGEST
    assert decided(confidence + 0.01, 0.99) is Decision.ABSTAIN


def test_reasons_explain_every_piece_of_evidence_best_first() -> None:
    learning = Learning()
    learning.observe(an_item(sender="hank@globex.com", at=AT - timedelta(days=1)), "m-globex-2")
    item = an_item(subject="00002-0002 renewals", sender="hank@globex.com", conversation_id="c1")
    result = suggest(an_index(), item, learning=learning, thread_matter="m-globex-2")
    assert result.suggestions[0].reasons == (
        "matter number 00002-0002 in the subject",
        "this conversation was assigned to it before",
        "you chose it for hank@globex.com 1 time (last yesterday)",
        "you chose it for mail from globex.com 1 time (last yesterday)",
        "participant hank@globex.com (Hank Scorpio) is a contact on this matter",
        "participant hank@globex.com (Hank Scorpio) is a contact of Globex (3 offered matters)",
    )
    assert result.as_dict()["suggestions"][0]["matter_id"] == "m-globex-2"


def test_an_activity_event_becomes_an_item() -> None:
    event = ActivityEvent(
        firm_id="f1",
        user_id="u1",
        key="meeting:x",
        kind=EventKind.MEETING,
        sources=frozenset({Source.GRAPH}),
        first_at=AT,
        participants=("Wile@Acme.com", ME),
        details={
            "subject": (AT, "Status call"),
            "note": (AT, "ref 00001-0001"),
            "conversation_id": (AT, "conv-7"),
            "attachment_names": (AT, "a.pdf\nb.docx\n"),
        },
    )
    item = SuggestionItem.from_event(event)
    assert item.participants == ("wile@acme.com", ME)
    assert item.meeting_text == "ref 00001-0001"
    assert item.attachment_names == ("a.pdf", "b.docx")
    assert (item.conversation_id, item.at, item.kind) == ("conv-7", AT, "meeting")
    assert top_of(suggest(an_index(), item)) == "m-acme-1"


# ---------------------------------------------------------------- properties


@st.composite
def texts_around(draw: st.DrawFn, number: str) -> str:
    junk = st.text(alphabet=" ,;:()[]\n\tabcxyz0123456789-._/", max_size=30)
    before = draw(junk)
    after = draw(junk)
    written = draw(
        st.sampled_from([number, number.replace("-", "."), number.replace("-", "/"), number.lower()])
    )
    separator = st.sampled_from([" ", "(", "#", "\n", ": ", "_"])
    ending = draw(st.sampled_from([" ", ")", ".", "_v2.docx", "\n", ","]))
    return f"{before}{draw(separator)}{written}{ending}{after}"


@PROPERTY
@given(st.data())
def test_a_registered_number_is_found_wherever_it_stands_between_non_alphanumerics(
    data: st.DataObject,
) -> None:
    matter = data.draw(
        st.sampled_from([m for m in MATTERS if m.status is MatterStatus.OPEN and "-" in m.number])
    )
    text = data.draw(texts_around(matter.number))
    found = {ix for _, ix in an_index().find_numbers(text)}
    assert an_index().matter_ix(matter.matter_id) in found


@PROPERTY
@given(
    subject=st.text(max_size=60),
    sender=st.sampled_from(
        ["", "wile@acme.com", "homer@globex.com", "x@globex.com", "bob@lovelace.law", "5550100"]
    ),
    thread=st.sampled_from([None, "m-globex-1", "m-acme-1", "m-unknown"]),
)
def test_confidences_are_probabilities_ranked_best_first(
    subject: str, sender: str, thread: str | None
) -> None:
    result = suggest(an_index(), an_item(subject=subject, sender=sender), thread_matter=thread)
    confidences = [s.confidence for s in result.suggestions]
    assert all(0.0 <= c <= 1.0 for c in confidences)
    assert sum(confidences) <= 1.0 + 1e-9
    assert confidences == sorted(confidences, reverse=True)
    assert all(s.reasons for s in result.suggestions)
    assert result.explanation


def test_canonical_numbers_ignore_case_and_the_kind_of_separator() -> None:
    assert canonical_number(" lit.2024/117 ") == canonical_number("LIT-2024-117") == "LIT-2024-117"


# ---------------------------------------------------------------- the evaluation guards the targets


def test_the_evaluation_on_a_generated_labelled_set_meets_the_targets() -> None:
    labelled = generate_labelled_set(2000, seed=7)
    assert len(labelled.items) == 2000
    scenarios = {item.scenario for item in labelled.items}
    assert {
        "thread",
        "new contact",
        "known contact, several matters",
        "internal",
        "after correction",
    } <= scenarios
    report = evaluate(labelled)
    assert report.top1_accuracy >= TARGET_TOP1
    assert report.wrong_auto_rate <= TARGET_WRONG_AUTO
    assert report.top3_accuracy >= report.top1_accuracy * 0.9
    assert 0.0 < report.abstain_rate < 0.5
