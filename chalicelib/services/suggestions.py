"""Matter suggestions for an event or the add-in's open item, and learning from every assignment.

The index of a firm's matters, clients and contacts is built once per process and reused for a few
minutes (a Lambda container serves many requests); assignments update the user's learning at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from chalicelib.domain.capture import ActivityEvent
from chalicelib.domain.errors import NotFound
from chalicelib.domain.identity import Permission, Principal
from chalicelib.domain.suggestions import Learning, MatterIndex, SuggestionItem, SuggestionResult, suggest
from chalicelib.ports import (
    Clock,
    LearningStore,
    MatterRepository,
    PolicyRepository,
    TimelineRepository,
)
from chalicelib.services.paging import every_item

INDEX_SECONDS = 300


class SuggestionService:
    """Suggest, assign automatically above the firm's threshold, learn from feedback."""

    def __init__(
        self,
        *,
        matters: MatterRepository,
        timeline: TimelineRepository,
        policies: PolicyRepository,
        learning: LearningStore,
        clock: Clock,
    ) -> None:
        self._matters = matters
        self._timeline = timeline
        self._policies = policies
        self._learning = learning
        self._clock = clock
        self._indexes: dict[str, tuple[float, MatterIndex]] = {}
        self._lock = threading.Lock()

    def for_event(self, principal: Principal, event_id: str) -> SuggestionResult:
        """Suggestions for one of the caller's captured items."""
        principal.require(Permission.TIME_READ_OWN)
        event = self._timeline.get_event(principal.firm_id, principal.subject_id, event_id)
        if event is None or event.deleted:
            raise NotFound("there is no such item in your timeline")
        return self.for_item(principal, SuggestionItem.from_event(event))

    def for_item(self, principal: Principal, item: SuggestionItem) -> SuggestionResult:
        """Suggestions for an item the add-in has open (not necessarily captured yet)."""
        principal.require(Permission.TIME_READ_OWN)
        return self.decide(principal.firm_id, principal.subject_id, item)

    def decide(self, firm_id: str, user_id: str, item: SuggestionItem) -> SuggestionResult:
        """Rank and decide with the firm's thresholds (the capture pipeline calls this to auto-assign)."""
        policy = self._policies.get(firm_id)
        return suggest(
            self.index(firm_id),
            item,
            learning=self._learning.load(firm_id, user_id),
            thread_matter=self._learning.thread_matter(firm_id, item.conversation_id),
            now=self._clock.now(),
            auto_assign_at=policy.auto_assign_at,
        )

    def auto_matter(self, firm_id: str, user_id: str, event: ActivityEvent) -> tuple[str, str] | None:
        """The matter to assign a new event to without asking, and why; None when not sure enough."""
        result = self.decide(firm_id, user_id, SuggestionItem.from_event(event))
        matter_id = result.assigned_matter_id
        return (matter_id, f"assigned automatically: {result.explanation}") if matter_id else None

    def learn(
        self,
        firm_id: str,
        user_id: str,
        events: Iterable[ActivityEvent],
        matter_id: str,
        replaced: str | None,
    ) -> None:
        """Every assignment and correction teaches the engine (this user's choices, the firm's threads)."""
        items = [SuggestionItem.from_event(event) for event in events]
        if not items:
            return
        domains = self._policies.get(firm_id).firm_domains

        def observe(learning: Learning) -> None:
            for item in items:
                learning.observe(item, matter_id, self._clock.now(), firm_domains=domains, replaced=replaced)

        self._learning.update(firm_id, user_id, observe)
        for item in items:
            if item.conversation_id:
                self._learning.set_thread_matter(firm_id, item.conversation_id, matter_id)

    def feedback(self, principal: Principal, event_id: str, matter_id: str, replaced: str | None) -> None:
        """The add-in's one-click assign (or change) of an item."""
        principal.require(Permission.TIME_WRITE_OWN)
        event = self._timeline.get_event(principal.firm_id, principal.subject_id, event_id)
        if event is None or event.deleted:
            raise NotFound("there is no such item in your timeline")
        if self._matters.matter(principal.firm_id, matter_id) is None:
            raise NotFound("there is no such matter in your firm")
        self.learn(principal.firm_id, principal.subject_id, [event], matter_id, replaced)

    def index(self, firm_id: str) -> MatterIndex:
        """The firm's index, rebuilt when older than a few minutes."""
        with self._lock:
            cached = self._indexes.get(firm_id)
            if cached and time.monotonic() - cached[0] < INDEX_SECONDS:
                return cached[1]
        policy = self._policies.get(firm_id)
        index = MatterIndex.build(
            every_item(lambda cursor: self._matters.list_matters(firm_id, cursor, 200)),
            every_item(lambda cursor: self._matters.list_clients(firm_id, cursor, 200)),
            every_item(lambda cursor: self._matters.list_contacts(firm_id, cursor, 200)),
            firm_domains=policy.firm_domains,
            include_closed=policy.show_closed_cases,
            number_patterns=policy.matter_number_patterns or None,
        )
        with self._lock:
            self._indexes[firm_id] = (time.monotonic(), index)
        return index

    def forget_index(self, firm_id: str) -> None:
        """Drop the cached index (after an import, or in tests)."""
        with self._lock:
            self._indexes.pop(firm_id, None)
