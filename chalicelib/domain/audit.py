"""The append-only audit trail: who changed what, when, from what to what."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class AuditRecord:
    """One change to one entity. ``before`` is None for a creation, ``after`` None for a deletion."""

    firm_id: str
    entity_type: str
    entity_id: str
    action: str
    actor: str
    at: datetime
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    record_id: str = ""
