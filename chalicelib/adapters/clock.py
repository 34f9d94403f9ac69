"""The system clock (freezegun freezes it in tests)."""

from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    """``now`` in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)
