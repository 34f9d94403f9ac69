"""A firm's capture policy: how events become entries. Admins see and change it."""

from __future__ import annotations

from dataclasses import dataclass, field

from chalicelib.domain.capture import CaptureSettings
from chalicelib.domain.classification import ClassificationRule
from chalicelib.domain.entries import DEFAULT_TEMPLATES, GroupingPolicy, Rounding, describe_increment


@dataclass(frozen=True)
class CapturePolicy:
    """Everything firm-wide that shapes the timeline."""

    firm_id: str
    settings: CaptureSettings = field(default_factory=CaptureSettings)
    grouping: GroupingPolicy = GroupingPolicy.PER_EVENT
    increment_seconds: int = 360
    templates: dict[str, str] = field(
        default_factory=lambda: {str(k): v for k, v in DEFAULT_TEMPLATES.items()}
    )
    firm_domains: frozenset[str] = frozenset()
    rules: tuple[ClassificationRule, ...] = ()
    # Matter suggestions: assign without asking at or above this confidence; offer closed matters or not.
    auto_assign_at: float = 0.95
    show_closed_cases: bool = False
    # What the firm's matter numbers look like (regular expressions); empty means the engine's default.
    matter_number_patterns: tuple[str, ...] = ()
    version: int = 0

    def rounding_for(self, matter_id: str | None) -> Rounding:
        """The firm increment (client and matter increments arrive with the matters model)."""
        return Rounding(self.increment_seconds, f"firm: {describe_increment(self.increment_seconds)}")
