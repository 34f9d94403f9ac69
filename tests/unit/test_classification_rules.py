"""Classification follows the precedence in its module docstring and always says why."""

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.capture import ActivityEvent, Category, EventKind, Source
from chalicelib.domain.classification import Classification, ClassificationRule, RuleScope, classify

PROPERTY = settings(max_examples=300, deadline=None)

FIRM_DOMAINS = frozenset({"lovelace.law", "lovelace-babbage.com"})
AT = datetime(2026, 3, 9, 14, 0, tzinfo=UTC)


def a_read(
    *,
    sender: str = "carol@client.com",
    participants: tuple[str, ...] = ("ada@lovelace.law",),
    kind: EventKind = EventKind.READ,
    personal: bool = False,
    list_unsubscribe: bool = False,
    auto_submitted: bool = False,
) -> ActivityEvent:
    return ActivityEvent(
        firm_id="f1",
        user_id="u1",
        key="read:<a@client.com>",
        kind=kind,
        sources=frozenset({Source.ADDIN}),
        first_at=AT,
        participants=participants,
        personal=personal,
        list_unsubscribe=list_unsubscribe,
        auto_submitted=auto_submitted,
        details={"sender": (AT, sender)} if sender else {},
    )


def sender_rule(value: str, category: Category) -> ClassificationRule:
    return ClassificationRule(RuleScope.SENDER, value, category)


def domain_rule(value: str, category: Category) -> ClassificationRule:
    return ClassificationRule(RuleScope.DOMAIN, value, category)


def classified(event: ActivityEvent, **rules: tuple[ClassificationRule, ...]) -> Classification:
    return classify(event, firm_domains=FIRM_DOMAINS, **rules)


# ---------------------------------------------------------------- each rung, with its reason


def test_the_users_personal_mark_beats_every_rule() -> None:
    event = a_read(personal=True, list_unsubscribe=True)
    result = classified(
        event,
        user_rules=(sender_rule("carol@client.com", Category.BUSINESS),),
        firm_rules=(sender_rule("carol@client.com", Category.BUSINESS),),
    )
    assert result == Classification(Category.PERSONAL, "you marked it personal")


def test_the_users_own_rule_beats_the_firms_rules_and_names_itself() -> None:
    result = classified(
        a_read(sender="Carol@Client.com"),
        user_rules=(sender_rule("carol@CLIENT.com", Category.PERSONAL),),
        firm_rules=(sender_rule("carol@client.com", Category.BUSINESS),),
    )
    assert result == Classification(Category.PERSONAL, "your rule for carol@CLIENT.com")


def test_a_firm_sender_rule_beats_a_firm_domain_rule_listed_before_it() -> None:
    result = classified(
        a_read(),
        firm_rules=(
            domain_rule("client.com", Category.FILTERED),
            sender_rule("carol@client.com", Category.BUSINESS),
        ),
    )
    assert result == Classification(Category.BUSINESS, "firm rule for carol@client.com")


def test_a_firm_domain_rule_matches_the_senders_domain_with_or_without_an_at_sign() -> None:
    for value in ("client.com", "@Client.COM"):
        result = classified(a_read(), firm_rules=(domain_rule(value, Category.FILTERED),))
        assert result == Classification(Category.FILTERED, f"firm rule for {value}")


def test_a_firm_rule_for_a_sender_beats_the_newsletter_and_automatic_mail_filters() -> None:
    event = a_read(sender="noreply@court.gov", list_unsubscribe=True, auto_submitted=True)
    result = classified(event, firm_rules=(domain_rule("court.gov", Category.BUSINESS),))
    assert result == Classification(Category.BUSINESS, "firm rule for court.gov")


def test_a_newsletter_is_filtered_before_it_is_taken_for_automatic_mail() -> None:
    result = classified(a_read(sender="noreply@news.example", list_unsubscribe=True, auto_submitted=True))
    assert result == Classification(Category.FILTERED, "newsletter (List-Unsubscribe header)")


def test_auto_submitted_mail_is_filtered_as_automatic() -> None:
    assert classified(a_read(auto_submitted=True)) == Classification(Category.FILTERED, "automatic mail")


@pytest.mark.parametrize(
    "sender",
    [
        "noreply@github.com",
        "no-reply@accounts.example",
        "no_reply@bank.example",
        "No.Reply@Bank.Example",
        "donotreply@court.gov",
        "do-not-reply@court.gov",
        "mailer-daemon@lovelace.law",
        "postmaster@client.com",
        "notification@docusign.net",
        "notifications@github.com",
    ],
)
def test_no_reply_senders_are_filtered_as_automatic_mail(sender: str) -> None:
    assert classified(a_read(sender=sender)) == Classification(Category.FILTERED, "automatic mail")


@pytest.mark.parametrize("sender", ["nora@client.com", "noreply.team@client.com", "replies@client.com"])
def test_people_whose_address_merely_resembles_no_reply_are_not_filtered(sender: str) -> None:
    assert classified(a_read(sender=sender)).category is Category.BUSINESS


def test_mail_between_people_inside_the_firm_only_is_an_internal_memo() -> None:
    event = a_read(sender="Bob@Lovelace.law", participants=("ada@lovelace.law", "eve@lovelace-babbage.com"))
    assert classified(event) == Classification(Category.MEMO, "everyone is inside the firm")


def test_one_outside_participant_makes_internal_mail_business() -> None:
    event = a_read(sender="bob@lovelace.law", participants=("ada@lovelace.law", "carol@client.com"))
    assert classified(event) == Classification(Category.BUSINESS, "default")


def test_an_item_with_no_addresses_at_all_is_business_not_memo() -> None:
    event = a_read(sender="", participants=(), kind=EventKind.MANUAL)
    assert classified(event) == Classification(Category.BUSINESS, "default")


def test_filters_for_newsletters_and_automatic_mail_apply_to_mail_read_not_to_mail_written() -> None:
    event = a_read(
        kind=EventKind.COMPOSE,
        sender="notifications@lovelace.law",
        list_unsubscribe=True,
        auto_submitted=True,
    )
    assert classified(event).category is Category.MEMO


# ---------------------------------------------------------------- the whole ladder, as a property


@dataclass(frozen=True)
class Address:
    text: str
    internal: bool
    no_reply: bool


ADDRESSES = (
    Address("carol@client.com", internal=False, no_reply=False),
    Address("Dan@Client.com", internal=False, no_reply=False),
    Address("noreply@client.com", internal=False, no_reply=True),
    Address("ada@lovelace.law", internal=True, no_reply=False),
    Address("Bob@Lovelace.LAW", internal=True, no_reply=False),
    Address("notifications@lovelace.law", internal=True, no_reply=True),
)
DOMAINS = ("client.com", "@CLIENT.com", "lovelace.law", "other.example")


def domain_part(address: str) -> str:
    return address.lower().split("@")[1]


rules = st.builds(
    ClassificationRule,
    scope=st.just(RuleScope.SENDER),
    value=st.sampled_from([a.text for a in ADDRESSES]).map(lambda v: v.swapcase() if "a" in v else v),
    category=st.sampled_from(Category),
) | st.builds(
    ClassificationRule,
    scope=st.just(RuleScope.DOMAIN),
    value=st.sampled_from(DOMAINS),
    category=st.sampled_from(Category),
)


def expected(
    sender: Address | None,
    participants: list[Address],
    *,
    personal: bool,
    list_unsubscribe: bool,
    auto_submitted: bool,
    user_rules: list[ClassificationRule],
    firm_rules: list[ClassificationRule],
) -> tuple[Category, str]:
    """The docstring's ladder, written out independently: first match wins."""
    if personal:
        return Category.PERSONAL, "you marked it personal"
    if sender is not None:
        address = sender.text.lower()
        for rule in user_rules:
            if rule.scope is RuleScope.SENDER and rule.value.lower() == address:
                return rule.category, f"your rule for {rule.value}"
        for rule in firm_rules:
            if rule.scope is RuleScope.SENDER and rule.value.lower() == address:
                return rule.category, f"firm rule for {rule.value}"
        for rule in firm_rules:
            if rule.scope is RuleScope.DOMAIN and rule.value.lower().lstrip("@") == domain_part(address):
                return rule.category, f"firm rule for {rule.value}"
    if list_unsubscribe:
        return Category.FILTERED, "newsletter (List-Unsubscribe header)"
    if auto_submitted or (sender is not None and sender.no_reply):
        return Category.FILTERED, "automatic mail"
    everyone = [*participants, *([sender] if sender else [])]
    if everyone and all(a.internal for a in everyone):
        return Category.MEMO, "everyone is inside the firm"
    return Category.BUSINESS, "default"


@PROPERTY
@given(
    sender=st.none() | st.sampled_from(ADDRESSES),
    participants=st.lists(st.sampled_from(ADDRESSES), max_size=3, unique=True),
    personal=st.booleans(),
    list_unsubscribe=st.booleans(),
    auto_submitted=st.booleans(),
    user_rules=st.lists(rules.filter(lambda r: r.scope is RuleScope.SENDER), max_size=3),
    firm_rules=st.lists(rules, max_size=4),
)
def test_mail_read_is_classified_by_the_first_matching_rung_of_the_ladder_with_its_reason(
    sender: Address | None,
    participants: list[Address],
    personal: bool,
    list_unsubscribe: bool,
    auto_submitted: bool,
    user_rules: list[ClassificationRule],
    firm_rules: list[ClassificationRule],
) -> None:
    event = a_read(
        sender=sender.text if sender else "",
        participants=tuple(sorted(a.text.lower() for a in participants)),
        personal=personal,
        list_unsubscribe=list_unsubscribe,
        auto_submitted=auto_submitted,
    )
    result = classified(event, user_rules=tuple(user_rules), firm_rules=tuple(firm_rules))
    assert (result.category, result.reason) == expected(
        sender,
        participants,
        personal=personal,
        list_unsubscribe=list_unsubscribe,
        auto_submitted=auto_submitted,
        user_rules=user_rules,
        firm_rules=firm_rules,
    )
