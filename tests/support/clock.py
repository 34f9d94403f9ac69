"""A clock tests move by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class ManualClock:
    """``now`` stays where the test puts it."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 3, 9, 14, 30, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)
