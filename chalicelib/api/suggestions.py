"""Matter suggestions for an item, and the feedback that teaches the engine."""

from __future__ import annotations

from typing import Literal

from chalice import Blueprint
from pydantic import AwareDatetime, Field, model_validator

from chalicelib.api.routing import Api, Call, services
from chalicelib.api.schemas import ApiModel, Input

suggestions = Blueprint(__name__)
api = Api(suggestions, "suggestions")


class OpenItem(Input):
    """The item the add-in has open, as Office.js describes it."""

    subject: str = Field(default="", max_length=1000)
    body_preview: str = Field(default="", max_length=4000)
    attachment_names: list[str] = Field(default_factory=list, max_length=100)
    meeting_text: str = Field(default="", max_length=4000)
    sender: str = Field(default="", max_length=320)
    participants: list[str] = Field(default_factory=list, max_length=200)
    conversation_id: str = Field(default="", max_length=512)
    at: AwareDatetime | None = None
    kind: Literal["", "read", "compose", "meeting", "call", "manual"] = ""


class SuggestFor(Input):
    """Either a captured item (``event_id``) or the open item itself."""

    event_id: str | None = Field(default=None, max_length=64)
    item: OpenItem | None = None

    @model_validator(mode="after")
    def _one_of(self) -> SuggestFor:
        if (self.event_id is None) == (self.item is None):
            raise ValueError("give event_id or item, not both")
        return self


class SuggestionOut(ApiModel):
    matter_id: str
    number: str
    name: str
    confidence: float
    reasons: list[str]


class SuggestionsOut(ApiModel):
    decision: Literal["auto_assign", "suggest", "abstain"]
    explanation: str
    suggestions: list[SuggestionOut]


class Feedback(Input):
    """The user put an item on ``matter_id`` (instead of ``replaced``, when correcting a suggestion)."""

    event_id: str = Field(min_length=1, max_length=64)
    matter_id: str = Field(min_length=1, max_length=64)
    replaced: str | None = Field(default=None, max_length=64)


@api.route(
    "/suggestions",
    "POST",
    summary="Rank matters for an item, with confidence and reasons",
    body=SuggestFor,
    response=SuggestionsOut,
)
def suggest_matters(call: Call) -> SuggestionsOut:
    from chalicelib.domain.suggestions import SuggestionItem

    body: SuggestFor = call.body
    service = services().suggestions
    if body.event_id is not None:
        result = service.for_event(call.principal, body.event_id)
    else:
        assert body.item is not None
        item = body.item
        result = service.for_item(
            call.principal,
            SuggestionItem(
                subject=item.subject,
                body_preview=item.body_preview,
                attachment_names=tuple(item.attachment_names),
                meeting_text=item.meeting_text,
                sender=item.sender.lower(),
                participants=tuple(p.lower() for p in item.participants),
                conversation_id=item.conversation_id,
                at=item.at or services().clock.now(),
                kind=item.kind,
            ),
        )
    return SuggestionsOut.model_validate(result.as_dict())


@api.route(
    "/suggestions/feedback",
    "POST",
    summary="Teach the engine which matter an item belongs to",
    body=Feedback,
    status=204,
)
def suggestion_feedback(call: Call) -> None:
    body: Feedback = call.body
    services().suggestions.feedback(call.principal, body.event_id, body.matter_id, body.replaced)
