"""Business, personal, memo or filtered: the rules an admin can see and change, and the user's own.

Order of precedence (first match wins), so a person's own choice always beats a firm default:

    1. the user marked this event personal          → personal
    2. the user's rule for the sender, then domain  → personal (or what the rule says)
    3. the firm's rule for the sender, then domain  → what the rule says
    4. newsletter (List-Unsubscribe)                → filtered
    5. automatic mail (Auto-Submitted, no-reply)    → filtered
    6. everyone inside the firm                     → memo
    7. otherwise                                    → business
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from chalicelib.domain.capture import ActivityEvent, Category, EventKind

_NO_REPLY = re.compile(
    r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply|mailer-daemon|postmaster|notifications?)@", re.I
)


class RuleScope(StrEnum):
    SENDER = "sender"
    DOMAIN = "domain"


@dataclass(frozen=True)
class ClassificationRule:
    """``value`` is an address (sender rules) or a domain (domain rules), compared case-insensitively."""

    scope: RuleScope
    value: str
    category: Category

    def matches(self, address: str) -> bool:
        address = address.lower()
        if self.scope is RuleScope.SENDER:
            return address == self.value.lower()
        return address.rsplit("@", 1)[-1] == self.value.lower().lstrip("@")


@dataclass(frozen=True)
class Classification:
    """The category and the rule that decided it, shown to the user."""

    category: Category
    reason: str


def domain_of(address: str) -> str:
    return address.rsplit("@", 1)[-1].lower() if "@" in address else ""


def classify(
    event: ActivityEvent,
    *,
    firm_domains: frozenset[str],
    firm_rules: tuple[ClassificationRule, ...] = (),
    user_rules: tuple[ClassificationRule, ...] = (),
) -> Classification:
    """Decide how an event counts, and say why."""
    if event.personal:
        return Classification(Category.PERSONAL, "you marked it personal")
    sender = event.sender.lower()
    if sender:
        for scope in (RuleScope.SENDER, RuleScope.DOMAIN):
            for rule in user_rules:
                if rule.scope is scope and rule.matches(sender):
                    return Classification(rule.category, f"your rule for {rule.value}")
        for scope in (RuleScope.SENDER, RuleScope.DOMAIN):
            for rule in firm_rules:
                if rule.scope is scope and rule.matches(sender):
                    return Classification(rule.category, f"firm rule for {rule.value}")
    if event.kind is EventKind.READ and event.list_unsubscribe:
        return Classification(Category.FILTERED, "newsletter (List-Unsubscribe header)")
    if event.kind is EventKind.READ and (event.auto_submitted or _NO_REPLY.match(sender)):
        return Classification(Category.FILTERED, "automatic mail")
    addresses = [a for a in (*event.participants, sender) if "@" in a]
    if addresses and all(domain_of(a) in firm_domains for a in addresses):
        return Classification(Category.MEMO, "everyone is inside the firm")
    return Classification(Category.BUSINESS, "default")
