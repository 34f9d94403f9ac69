"""Billing connections, the posting ledger and export records in the single table.

| item | PK | SK | GSI1PK / GSI1SK |
| --- | --- | --- | --- |
| connection | FIRM#{firm} | BILLING#{system} | |
| OAuth state (single use) | OAUTHSTATE#{state} | OAUTHSTATE | |
| posting ledger line | FIRM#{firm}#POSTINGS#{system} | {entry} | same PK / {updated}#{entry} |
| export record | FIRM#{firm}#EXPORTS | {format}.{first}.{last}.{seq} | FIRM#{firm}#EXPORTS / {created}#{id} |
| released entry (queue) | (the entry) | | GSI2: FIRM#{firm}#RELEASED / {day}#{entry} |
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from chalicelib.adapters.persistence.codec import (
    decode_cursor,
    dt_in,
    dt_out,
    encode_cursor,
    int_in,
    strip_none,
)
from chalicelib.adapters.persistence.repositories import VersionedWriter
from chalicelib.adapters.persistence.table import (
    AllOf,
    AttributeEquals,
    AttributeIn,
    ConditionFailed,
    ItemAbsent,
    KeyRange,
    Table,
)
from chalicelib.adapters.persistence.timeline import entry_from
from chalicelib.domain.billing import (
    BillingConnection,
    BillingSystem,
    ConnectionProperties,
    ConnectionStatus,
    ExportFormat,
    ExportRecord,
    ExportState,
    PostingRecord,
    PostingState,
)
from chalicelib.domain.entries import Entry
from chalicelib.domain.errors import InvalidInput, StaleVersion
from chalicelib.ports import Clock, Page


def _firm_pk(firm_id: str) -> str:
    return f"FIRM#{firm_id}"


def _postings_pk(firm_id: str, system: str) -> str:
    return f"FIRM#{firm_id}#POSTINGS#{system}"


def _exports_pk(firm_id: str) -> str:
    return f"FIRM#{firm_id}#EXPORTS"


def _released_pk(firm_id: str) -> str:
    return f"FIRM#{firm_id}#RELEASED"


def _cursor(cursor: str | None, attribute: str, partition: str) -> dict[str, Any] | None:
    try:
        return decode_cursor(cursor, attribute, partition)
    except ValueError as error:
        raise InvalidInput(str(error)) from error


# ---------------------------------------------------------------- connections


def _connection_item(connection: BillingConnection) -> dict[str, Any]:
    return strip_none(
        {
            "PK": _firm_pk(connection.firm_id),
            "SK": f"BILLING#{connection.system.value}",
            "type": "billing_connection",
            "firm_id": connection.firm_id,
            "system": connection.system.value,
            "status": connection.status.value,
            "properties": json.dumps(connection.properties.__dict__, sort_keys=True, default=list),
            "sealed_tokens": connection.sealed_tokens,
            "connected_by": connection.connected_by,
            "connected_at": dt_out(connection.connected_at),
            "last_sync_at": dt_out(connection.last_sync_at),
            "last_activity_sync_at": dt_out(connection.last_activity_sync_at),
            "last_sync": json.dumps(connection.last_sync, sort_keys=True),
            "last_post_at": dt_out(connection.last_post_at),
            "last_error": connection.last_error,
        }
    )


def _connection_from(item: dict[str, Any]) -> BillingConnection:
    properties = json.loads(item.get("properties", "{}"))
    properties["activity_types_non_billable"] = tuple(properties.get("activity_types_non_billable", ()))
    return BillingConnection(
        firm_id=item["firm_id"],
        system=BillingSystem(item["system"]),
        status=ConnectionStatus(item["status"]),
        properties=ConnectionProperties(**properties),
        sealed_tokens=item.get("sealed_tokens"),
        connected_by=item.get("connected_by"),
        connected_at=dt_in(item.get("connected_at")),
        last_sync_at=dt_in(item.get("last_sync_at")),
        last_activity_sync_at=dt_in(item.get("last_activity_sync_at")),
        last_sync=json.loads(item.get("last_sync", "{}")),
        last_post_at=dt_in(item.get("last_post_at")),
        last_error=item.get("last_error"),
        version=int_in(item.get("version", 0)),
    )


def _connection_snapshot(connection: BillingConnection) -> dict[str, Any]:
    # The audit trail records what changed, never the sealed secret itself.
    item = _connection_item(connection)
    item["sealed_tokens"] = "(sealed)" if connection.sealed_tokens else None
    return {k: v for k, v in item.items() if k not in ("PK", "SK")}


# ---------------------------------------------------------------- postings


def _posting_item(record: PostingRecord, updated_at: datetime) -> dict[str, Any]:
    pk = _postings_pk(record.firm_id, record.system.value)
    return strip_none(
        {
            "PK": pk,
            "SK": record.entry_id,
            "GSI1PK": pk,
            "GSI1SK": f"{dt_out(updated_at)}#{record.entry_id}",
            "type": "posting",
            "firm_id": record.firm_id,
            "system": record.system.value,
            "entry_id": record.entry_id,
            "user_id": record.user_id,
            "day": record.day.isoformat(),
            "reference": record.reference,
            "state": record.state.value,
            "attempts": record.attempts,
            "claimed_at": dt_out(record.claimed_at),
            "external_id": record.external_id,
            "message": record.message or None,
            "maybe_created": record.maybe_created,
            "updated_at": dt_out(updated_at),
        }
    )


def _posting_from(item: dict[str, Any]) -> PostingRecord:
    claimed_at = dt_in(item["claimed_at"])
    assert claimed_at is not None
    return PostingRecord(
        firm_id=item["firm_id"],
        system=BillingSystem(item["system"]),
        entry_id=item["entry_id"],
        user_id=item["user_id"],
        day=date.fromisoformat(item["day"]),
        reference=item["reference"],
        state=PostingState(item["state"]),
        attempts=int_in(item["attempts"]),
        claimed_at=claimed_at,
        external_id=item.get("external_id"),
        message=item.get("message", ""),
        maybe_created=bool(item.get("maybe_created", False)),
    )


# ---------------------------------------------------------------- exports


def export_id_for(format: ExportFormat, first_day: date, last_day: date, sequence: int) -> str:
    """Export ids say what they are (and are safe in a URL); one period's exports share a prefix."""
    return f"{format.value}.{first_day.isoformat()}.{last_day.isoformat()}.{sequence:04d}"


def _export_item(record: ExportRecord) -> dict[str, Any]:
    pk = _exports_pk(record.firm_id)
    return strip_none(
        {
            "PK": pk,
            "SK": record.export_id,
            "GSI1PK": pk,
            "GSI1SK": f"{dt_out(record.created_at)}#{record.export_id}",
            "type": "export",
            "firm_id": record.firm_id,
            "export_id": record.export_id,
            "format": record.format.value,
            "first_day": record.first_day.isoformat(),
            "last_day": record.last_day.isoformat(),
            "sequence": record.sequence,
            "state": record.state.value,
            "entry_count": record.entry_count,
            "manifest_key": record.manifest_key,
            "created_by": record.created_by,
            "created_at": dt_out(record.created_at),
            "file_key": record.file_key,
            "file_name": record.file_name,
            "sha256": record.sha256,
            "lines": record.lines,
            "total_hours": record.total_hours,
            "total_amount": record.total_amount,
        }
    )


def _export_from(item: dict[str, Any]) -> ExportRecord:
    created_at = dt_in(item["created_at"])
    assert created_at is not None
    return ExportRecord(
        firm_id=item["firm_id"],
        export_id=item["export_id"],
        format=ExportFormat(item["format"]),
        first_day=date.fromisoformat(item["first_day"]),
        last_day=date.fromisoformat(item["last_day"]),
        sequence=int_in(item["sequence"]),
        state=ExportState(item["state"]),
        entry_count=int_in(item["entry_count"]),
        manifest_key=item["manifest_key"],
        created_by=item["created_by"],
        created_at=created_at,
        file_key=item.get("file_key"),
        file_name=item.get("file_name"),
        sha256=item.get("sha256"),
        lines=int_in(item.get("lines", 0)),
        total_hours=item.get("total_hours", "0"),
        total_amount=item.get("total_amount", "0"),
        version=int_in(item.get("version", 0)),
    )


class TableBillingRepository:
    """``BillingRepository`` on the single table."""

    def __init__(self, table: Table, clock: Clock) -> None:
        self._table = table
        self._clock = clock
        self._writer = VersionedWriter(table, clock)

    # -- connections

    def connection(self, firm_id: str, system: str) -> BillingConnection | None:
        item = self._table.get(_firm_pk(firm_id), f"BILLING#{system}")
        return _connection_from(item) if item else None

    def connections(self, firm_id: str) -> list[BillingConnection]:
        page = self._table.query(_firm_pk(firm_id), KeyRange(prefix="BILLING#"), consistent=True)
        return [_connection_from(item) for item in page.items]

    def save_connection(self, connection: BillingConnection, actor: str, action: str) -> BillingConnection:
        before = self.connection(connection.firm_id, connection.system.value) if connection.version else None
        version = self._writer.write(
            firm_id=connection.firm_id,
            entity_type="billing_connection",
            entity_id=connection.system.value,
            item=_connection_item(connection),
            before=_connection_snapshot(before) if before else None,
            after=_connection_snapshot(connection),
            expected_version=connection.version or None,
            actor=actor,
            action=action,
        )
        return replace(connection, version=version)

    def save_oauth_state(
        self, state: str, firm_id: str, system: str, actor: str, expires_at: datetime
    ) -> None:
        self._table.put(
            {
                "PK": f"OAUTHSTATE#{state}",
                "SK": "OAUTHSTATE",
                "type": "oauth_state",
                "firm_id": firm_id,
                "system": system,
                "actor": actor,
                "expires_at": dt_out(expires_at),
                "expires_at_epoch": int(expires_at.timestamp()),
            },
            ItemAbsent(),
        )

    def take_oauth_state(self, state: str) -> tuple[str, str, str, datetime] | None:
        pk, sk = f"OAUTHSTATE#{state}", "OAUTHSTATE"
        item = self._table.get(pk, sk)
        if item is None:
            return None
        try:
            # Deleting on condition it still exists: of two callbacks with one state, one wins.
            self._table.delete(pk, sk, AttributeEquals("actor", item["actor"]))
        except ConditionFailed:
            return None
        expires_at = dt_in(item["expires_at"])
        assert expires_at is not None
        return item["firm_id"], item["system"], item["actor"], expires_at

    # -- postings

    def posting(self, firm_id: str, system: str, entry_id: str) -> PostingRecord | None:
        item = self._table.get(_postings_pk(firm_id, system), entry_id)
        return _posting_from(item) if item else None

    def claim_posting(self, record: PostingRecord, stale_before: datetime) -> bool:
        """Claim for one attempt.

        Allowed when there is no ledger line, the last attempt failed, or the last claim is stale
        (its worker died). The condition pins the exact line we read (its attempt count), so two
        workers reclaiming the same stale line cannot both win:

            worker A: read attempts=1 ──put attempts=2 if attempts==1──▶ wins
            worker B: read attempts=1 ──put attempts=2 if attempts==1──▶ ConditionFailed
        """
        now = self._clock.now()
        item = _posting_item(record, now)
        if record.attempts == 1:
            condition: Any = ItemAbsent()
        else:
            current = self.posting(record.firm_id, record.system.value, record.entry_id)
            if current is None or current.state is PostingState.POSTED:
                return False
            if current.state is PostingState.CLAIMED and current.claimed_at > stale_before:
                return False
            condition = AllOf(
                (
                    AttributeEquals("attempts", record.attempts - 1),
                    AttributeIn("state", (PostingState.CLAIMED.value, PostingState.FAILED.value)),
                )
            )
        try:
            self._table.put(item, condition)
        except ConditionFailed:
            return False
        return True

    def save_posting(self, record: PostingRecord) -> None:
        try:
            self._table.put(
                _posting_item(record, self._clock.now()),
                AllOf((AttributeEquals("attempts", record.attempts), AttributeEquals("state", "claimed"))),
            )
        except ConditionFailed as failed:
            raise StaleVersion("posting", record.entry_id) from failed

    def postings(self, firm_id: str, system: str, cursor: str | None, limit: int) -> Page[PostingRecord]:
        pk = _postings_pk(firm_id, system)
        page = self._table.query(
            pk, index="GSI1", forward=False, limit=limit, start_after=_cursor(cursor, "GSI1PK", pk)
        )
        return Page([_posting_from(item) for item in page.items], encode_cursor(page.last_key))

    # -- exports

    def export(self, firm_id: str, export_id: str) -> ExportRecord | None:
        item = self._table.get(_exports_pk(firm_id), export_id)
        return _export_from(item) if item else None

    def exports(self, firm_id: str, cursor: str | None, limit: int) -> Page[ExportRecord]:
        pk = _exports_pk(firm_id)
        page = self._table.query(
            pk, index="GSI1", forward=False, limit=limit, start_after=_cursor(cursor, "GSI1PK", pk)
        )
        return Page([_export_from(item) for item in page.items], encode_cursor(page.last_key))

    def exports_of_period(
        self, firm_id: str, format: str, first_day: date, last_day: date
    ) -> list[ExportRecord]:
        prefix = f"{format}.{first_day.isoformat()}.{last_day.isoformat()}."
        page = self._table.query(_exports_pk(firm_id), KeyRange(prefix=prefix), consistent=True)
        return [_export_from(item) for item in page.items]

    def save_export(self, record: ExportRecord, actor: str) -> ExportRecord:
        version = self._writer.write(
            firm_id=record.firm_id,
            entity_type="export",
            entity_id=record.export_id,
            item=_export_item(record),
            before=None,
            after={
                k: v for k, v in _export_item(record).items() if k not in ("PK", "SK", "GSI1PK", "GSI1SK")
            },
            expected_version=record.version or None,
            actor=actor,
            action="create" if not record.version else record.state.value,
        )
        return replace(record, version=version)

    # -- the released queue

    def released(
        self, firm_id: str, first_day: date, last_day: date, cursor: str | None, limit: int
    ) -> Page[Entry]:
        pk = _released_pk(firm_id)
        page = self._table.query(
            pk,
            KeyRange(between=(first_day.isoformat(), f"{last_day.isoformat()}#~")),
            index="GSI2",
            limit=limit,
            start_after=_cursor(cursor, "GSI2PK", pk),
        )
        return Page([entry_from(item) for item in page.items], encode_cursor(page.last_key))
