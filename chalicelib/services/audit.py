"""Reading the audit trail."""

from __future__ import annotations

from chalicelib.domain.audit import AuditRecord
from chalicelib.domain.identity import Permission, Principal
from chalicelib.ports import AuditLog, Page


class AuditService:
    """Who changed what in the caller's firm."""

    def __init__(self, audit: AuditLog) -> None:
        self._audit = audit

    def recent(self, principal: Principal, cursor: str | None, limit: int) -> Page[AuditRecord]:
        """The firm's changes, newest first."""
        principal.require(Permission.AUDIT_READ)
        return self._audit.recent(principal.firm_id, cursor=cursor, limit=limit)

    def history(self, principal: Principal, entity_type: str, entity_id: str) -> list[AuditRecord]:
        """Every change to one entity, oldest first."""
        principal.require(Permission.AUDIT_READ)
        return self._audit.for_entity(principal.firm_id, entity_type, entity_id)
