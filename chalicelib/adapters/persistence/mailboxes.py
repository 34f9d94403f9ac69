"""Microsoft 365 capture in the table: connections, folder sync states, subscriptions, the meeting
ledger and msal token caches.

| item | PK | SK | index |
| --- | --- | --- | --- |
| connection | FIRM#{firm}#M365 | CONNECTION | GSI1 M365CONNECTIONS / FIRM#{firm} |
| folder sync state | FIRM#{firm}#M365 | STATE#{user}#{folder} | |
| subscription | FIRM#{firm}#M365 | SUB#{user}#{folder} | |
| subscription by id | GRAPHSUB#{subscription id} | GRAPHSUB | |
| queued sync marker | FIRM#{firm}#M365 | QUEUED#{user}#{folder} | |
| token cache | FIRM#{firm}#M365 | TOKENS#{tenant}#{client id} | |
| meeting ledger | FIRM#{firm}#USER#{user}#M365CAL | {item id} | GSI2 FIRM#{firm}#M365DUE / {ends}... |

The connection status screen is one Query of ``FIRM#{firm}#M365``. A webhook finds the subscription
(and the hash of its clientState) with one GetItem by subscription id, which is unguessable. Pending
meetings sit in a sparse GSI2 queue ordered by end time, so releasing the ones that have ended is one
Query per firm. Every write of a sync state is conditional on the version read:

    worker A: read v7 ─ fetch page ─ ingest ─ put state v8 if version = 7 ──▶ ok
    worker B: read v7 ─ fetch page ─ ingest ─────────── put state v8 if version = 7 ──▶ StaleVersion
              (B's captures merged harmlessly: same keys; B stops and leaves the state to A)
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, replace
from datetime import datetime, timedelta
from typing import Any

from chalicelib.adapters.persistence.codec import dt_in, dt_out, int_in, strip_none
from chalicelib.adapters.persistence.repositories import VersionedWriter
from chalicelib.adapters.persistence.table import (
    AttributeEquals,
    ConditionFailed,
    Delete,
    Item,
    ItemAbsent,
    KeyRange,
    Operation,
    Put,
    Table,
    TransactionCancelled,
)
from chalicelib.domain.capture import Capture, EventKind, Source
from chalicelib.domain.errors import StaleVersion
from chalicelib.domain.m365 import (
    CapturedUser,
    FolderSyncState,
    M365Connection,
    MailProtocol,
    Subscription,
    SyncTarget,
)
from chalicelib.domain.mail_capture import LedgerEntry
from chalicelib.domain.mailbox import Folder
from chalicelib.ports import Clock

CONNECTIONS_INDEX_PK = "M365CONNECTIONS"
# Ledger entries outlive their meeting long enough to map a late removal to its event.
LEDGER_KEEP_DAYS = 120


def _home(firm_id: str) -> str:
    return f"FIRM#{firm_id}#M365"


def _subscription_lookup(subscription_id: str) -> tuple[str, str]:
    return (f"GRAPHSUB#{subscription_id}", "GRAPHSUB")


def _ledger(firm_id: str, user_id: str) -> str:
    return f"FIRM#{firm_id}#USER#{user_id}#M365CAL"


def _due_queue(firm_id: str) -> str:
    return f"FIRM#{firm_id}#M365DUE"


# ---------------------------------------------------------------- codecs


def _connection_snapshot(connection: M365Connection) -> dict[str, Any]:
    # What the audit trail keeps: never the sealed secret.
    return {
        "tenant_id": connection.tenant_id,
        "client_id": connection.client_id,
        "protocol": connection.protocol.value,
        "ews_endpoint": connection.ews_endpoint,
        "users": [asdict(user) for user in connection.users],
        "capture_free_meetings": connection.capture_free_meetings,
        "capture_all_day_meetings": connection.capture_all_day_meetings,
        "capture_unanswered_meetings": connection.capture_unanswered_meetings,
        "own_app_secret": connection.client_secret_sealed is not None,
    }


def _connection_item(connection: M365Connection) -> Item:
    return strip_none(
        {
            "PK": _home(connection.firm_id),
            "SK": "CONNECTION",
            "GSI1PK": CONNECTIONS_INDEX_PK,
            "GSI1SK": f"FIRM#{connection.firm_id}",
            "type": "m365_connection",
            "firm_id": connection.firm_id,
            "tenant_id": connection.tenant_id,
            "client_id": connection.client_id,
            "protocol": connection.protocol.value,
            "ews_endpoint": connection.ews_endpoint,
            "users": json.dumps([asdict(user) for user in connection.users], separators=(",", ":")),
            "capture_free_meetings": connection.capture_free_meetings,
            "capture_all_day_meetings": connection.capture_all_day_meetings,
            "capture_unanswered_meetings": connection.capture_unanswered_meetings,
            "client_secret_sealed": connection.client_secret_sealed,
            "connected_at": dt_out(connection.connected_at),
            "connected_by": connection.connected_by,
        }
    )


def _connection_from(item: Item) -> M365Connection:
    return M365Connection(
        firm_id=item["firm_id"],
        tenant_id=item["tenant_id"],
        client_id=item["client_id"],
        protocol=MailProtocol(item.get("protocol", "graph")),
        ews_endpoint=item.get("ews_endpoint"),
        users=tuple(CapturedUser(**user) for user in json.loads(item.get("users", "[]"))),
        capture_free_meetings=bool(item.get("capture_free_meetings", False)),
        capture_all_day_meetings=bool(item.get("capture_all_day_meetings", False)),
        capture_unanswered_meetings=bool(item.get("capture_unanswered_meetings", False)),
        client_secret_sealed=item.get("client_secret_sealed"),
        connected_at=dt_in(item.get("connected_at")),
        connected_by=item.get("connected_by", ""),
        version=int_in(item.get("version", 0)),
    )


def _state_item(state: FolderSyncState, version: int) -> Item:
    return strip_none(
        {
            "PK": _home(state.firm_id),
            "SK": f"STATE#{state.user_id}#{state.folder.value}",
            "type": "m365_sync_state",
            "firm_id": state.firm_id,
            "user_id": state.user_id,
            "folder": state.folder.value,
            "state": state.state,
            "round_complete": state.round_complete,
            "window_start": dt_out(state.window_start),
            "window_end": dt_out(state.window_end),
            "last_synced_at": dt_out(state.last_synced_at),
            "last_error": state.last_error,
            "last_error_at": dt_out(state.last_error_at),
            "full_syncs": state.full_syncs,
            "captures": state.captures,
            "lease_owner": state.lease_owner,
            "lease_until": dt_out(state.lease_until),
            "version": version,
        }
    )


def _state_from(item: Item) -> FolderSyncState:
    return FolderSyncState(
        firm_id=item["firm_id"],
        user_id=item["user_id"],
        folder=Folder(item["folder"]),
        state=item.get("state"),
        round_complete=bool(item.get("round_complete", False)),
        window_start=dt_in(item.get("window_start")),
        window_end=dt_in(item.get("window_end")),
        last_synced_at=dt_in(item.get("last_synced_at")),
        last_error=item.get("last_error"),
        last_error_at=dt_in(item.get("last_error_at")),
        full_syncs=int_in(item.get("full_syncs", 0)),
        captures=int_in(item.get("captures", 0)),
        lease_owner=item.get("lease_owner"),
        lease_until=dt_in(item.get("lease_until")),
        version=int_in(item.get("version", 0)),
    )


def _subscription_fields(subscription: Subscription, version: int) -> Item:
    return strip_none(
        {
            "type": "m365_subscription",
            "firm_id": subscription.firm_id,
            "user_id": subscription.user_id,
            "folder": subscription.folder.value,
            "subscription_id": subscription.subscription_id,
            "resource": subscription.resource,
            "expires_at": dt_out(subscription.expires_at),
            "renewed_at": dt_out(subscription.renewed_at),
            "client_state_hash": subscription.client_state_hash,
            "created_at": dt_out(subscription.created_at),
            "renewals": subscription.renewals,
            "last_notification_at": dt_out(subscription.last_notification_at),
            "version": version,
        }
    )


def _subscription_from(item: Item) -> Subscription:
    expires_at = dt_in(item["expires_at"])
    renewed_at = dt_in(item["renewed_at"])
    assert expires_at is not None and renewed_at is not None
    return Subscription(
        firm_id=item["firm_id"],
        user_id=item["user_id"],
        folder=Folder(item["folder"]),
        subscription_id=item["subscription_id"],
        resource=item["resource"],
        expires_at=expires_at,
        renewed_at=renewed_at,
        client_state_hash=item["client_state_hash"],
        created_at=dt_in(item.get("created_at")),
        renewals=int_in(item.get("renewals", 0)),
        last_notification_at=dt_in(item.get("last_notification_at")),
        version=int_in(item.get("version", 0)),
    )


def capture_to_dict(capture: Capture) -> dict[str, Any]:
    """A capture as JSON-ready data (the ledger keeps the capture a pending meeting will become)."""
    data = asdict(capture)
    data["kind"] = capture.kind.value
    data["source"] = capture.source.value
    data["at"] = dt_out(capture.at)
    data["participants"] = list(capture.participants)
    return data


def capture_from_dict(data: dict[str, Any]) -> Capture:
    """Inverse of ``capture_to_dict``."""
    at = dt_in(data["at"])
    assert at is not None
    return Capture(
        **{
            **data,
            "kind": EventKind(data["kind"]),
            "source": Source(data["source"]),
            "at": at,
            "participants": tuple(data.get("participants", ())),
        }
    )


# ---------------------------------------------------------------- the repository


class TableMailboxRepository:
    """``MailboxRepository`` over the single table."""

    def __init__(self, table: Table, clock: Clock) -> None:
        self._table = table
        self._clock = clock
        self._writer = VersionedWriter(table, clock)

    # -- connections

    def connection(self, firm_id: str) -> M365Connection | None:
        item = self._table.get(_home(firm_id), "CONNECTION")
        return _connection_from(item) if item else None

    def save_connection(self, connection: M365Connection, actor: str, action: str) -> M365Connection:
        before = self.connection(connection.firm_id)
        version = self._writer.write(
            firm_id=connection.firm_id,
            entity_type="m365_connection",
            entity_id=connection.firm_id,
            item=_connection_item(connection),
            before=_connection_snapshot(before) if before else None,
            after=_connection_snapshot(connection),
            expected_version=connection.version or None,
            actor=actor,
            action=action,
        )
        return replace(connection, version=version)

    def connected_firms(self) -> list[str]:
        firms: list[str] = []
        start: Item | None = None
        while True:
            page = self._table.query(CONNECTIONS_INDEX_PK, index="GSI1", start_after=start)
            firms.extend(str(item["firm_id"]) for item in page.items)
            if page.last_key is None:
                return firms
            start = page.last_key

    # -- sync state

    def sync_state(self, firm_id: str, user_id: str, folder: Folder) -> FolderSyncState:
        item = self._table.get(_home(firm_id), f"STATE#{user_id}#{folder.value}")
        return _state_from(item) if item else FolderSyncState(firm_id=firm_id, user_id=user_id, folder=folder)

    def sync_states(self, firm_id: str) -> list[FolderSyncState]:
        return [_state_from(item) for item in self._query_all(_home(firm_id), KeyRange(prefix="STATE#"))]

    def save_sync_state(self, state: FolderSyncState) -> FolderSyncState:
        condition = AttributeEquals("version", state.version) if state.version else ItemAbsent()
        try:
            self._table.put(_state_item(state, state.version + 1), condition)
        except ConditionFailed as stale:
            raise StaleVersion("sync state", f"{state.user_id}/{state.folder.value}") from stale
        return replace(state, version=state.version + 1)

    # -- subscriptions

    def subscription(self, firm_id: str, user_id: str, folder: Folder) -> Subscription | None:
        item = self._table.get(_home(firm_id), f"SUB#{user_id}#{folder.value}")
        return _subscription_from(item) if item else None

    def subscription_by_id(self, subscription_id: str) -> Subscription | None:
        item = self._table.get(*_subscription_lookup(subscription_id))
        return _subscription_from(item) if item else None

    def subscriptions(self, firm_id: str) -> list[Subscription]:
        return [_subscription_from(item) for item in self._query_all(_home(firm_id), KeyRange(prefix="SUB#"))]

    def save_subscription(self, subscription: Subscription, replaces: Subscription | None) -> Subscription:
        version = subscription.version + 1
        fields = _subscription_fields(subscription, version)
        home = {
            "PK": _home(subscription.firm_id),
            "SK": f"SUB#{subscription.user_id}#{subscription.folder.value}",
        }
        lookup_pk, lookup_sk = _subscription_lookup(subscription.subscription_id)
        operations: list[Operation] = [
            Put(
                {**home, **fields},
                AttributeEquals("version", subscription.version) if subscription.version else ItemAbsent(),
            ),
            Put({"PK": lookup_pk, "SK": lookup_sk, **fields}),
        ]
        if replaces is not None and replaces.subscription_id != subscription.subscription_id:
            operations.append(Delete(*_subscription_lookup(replaces.subscription_id)))
        try:
            self._table.transact(operations)
        except TransactionCancelled as stale:
            raise StaleVersion("subscription", subscription.subscription_id) from stale
        return replace(subscription, version=version)

    def delete_subscription(self, subscription: Subscription) -> None:
        self._table.transact(
            [
                Delete(
                    _home(subscription.firm_id), f"SUB#{subscription.user_id}#{subscription.folder.value}"
                ),
                Delete(*_subscription_lookup(subscription.subscription_id)),
            ]
        )

    # -- coalescing of queued syncs

    def mark_queued(self, target: SyncTarget, now: datetime, stale_before: datetime) -> bool:
        pk, sk = _home(target.firm_id), f"QUEUED#{target.user_id}#{target.folder.value}"
        current = self._table.get(pk, sk)
        if current is not None and (dt_in(current.get("queued_at")) or now) >= stale_before:
            return False  # a job is already waiting; it will see this change too
        condition = AttributeEquals("queued_at", current["queued_at"]) if current else ItemAbsent()
        item = {
            "PK": pk,
            "SK": sk,
            "type": "m365_queued",
            "firm_id": target.firm_id,
            "queued_at": dt_out(now),
            "expires_at_epoch": int(now.timestamp()) + 86_400,
        }
        try:
            self._table.put(item, condition)
        except ConditionFailed:
            return False  # another webhook call queued it a moment ago
        return True

    def clear_queued(self, target: SyncTarget) -> None:
        self._table.delete(_home(target.firm_id), f"QUEUED#{target.user_id}#{target.folder.value}")

    # -- meeting ledger

    def ledger(self, firm_id: str, user_id: str, item_ids: Iterable[str]) -> dict[str, LedgerEntry]:
        wanted = set(item_ids)
        if not wanted:
            return {}
        pk = _ledger(firm_id, user_id)
        if len(wanted) <= 8:
            items = [item for item_id in wanted if (item := self._table.get(pk, item_id))]
        else:
            # A whole page of calendar items: one Query of the user's ledger (bounded by the window)
            # costs less than a GetItem each.
            items = [item for item in self._query_all(pk, None) if item["SK"] in wanted]
        return {item["SK"]: _ledger_from(item) for item in items}

    def update_ledger(
        self, firm_id: str, user_id: str, remember: Iterable[LedgerEntry], forget: Iterable[str]
    ) -> None:
        pk = _ledger(firm_id, user_id)
        for entry in remember:
            self._table.put(_ledger_item(firm_id, user_id, entry))
        for item_id in forget:
            self._table.delete(pk, item_id)

    def due_meetings(self, firm_id: str, before: datetime) -> list[tuple[str, LedgerEntry]]:
        due: list[tuple[str, LedgerEntry]] = []
        start: Item | None = None
        # Timestamps start with a digit, and DynamoDB refuses an empty key value as the lower bound.
        upper = f"{dt_out(before)}#\uffff"
        while True:
            page = self._table.query(
                _due_queue(firm_id), KeyRange(between=("0", upper)), index="GSI2", start_after=start
            )
            due.extend((str(item["user_id"]), _ledger_from(item)) for item in page.items)
            if page.last_key is None:
                return due
            start = page.last_key

    # -- token caches

    def load(self, firm_id: str, tenant_id: str, client_id: str) -> str | None:
        item = self._table.get(_home(firm_id), f"TOKENS#{tenant_id}#{client_id}")
        return str(item["blob"]) if item else None

    def save(self, firm_id: str, tenant_id: str, client_id: str, blob: str) -> None:
        # Last writer wins: two workers that each got a token both hold a valid one.
        self._table.put(
            {
                "PK": _home(firm_id),
                "SK": f"TOKENS#{tenant_id}#{client_id}",
                "type": "m365_token_cache",
                "firm_id": firm_id,
                "blob": blob,
                "updated_at": dt_out(self._clock.now()),
            }
        )

    def _query_all(self, pk: str, key_range: KeyRange | None) -> list[Item]:
        items: list[Item] = []
        start: Item | None = None
        while True:
            page = self._table.query(pk, key_range, start_after=start, consistent=True)
            items.extend(page.items)
            if page.last_key is None:
                return items
            start = page.last_key


def _ledger_item(firm_id: str, user_id: str, entry: LedgerEntry) -> Item:
    item: Item = {
        "PK": _ledger(firm_id, user_id),
        "SK": entry.item_id,
        "type": "m365_meeting",
        "firm_id": firm_id,
        "user_id": user_id,
        "capture": json.dumps(capture_to_dict(entry.capture), separators=(",", ":")),
        "ends_at": dt_out(entry.ends_at),
        "captured": entry.captured,
        "expires_at_epoch": int((entry.ends_at + timedelta(days=LEDGER_KEEP_DAYS)).timestamp()),
    }
    if not entry.captured:
        item["GSI2PK"] = _due_queue(firm_id)
        item["GSI2SK"] = f"{dt_out(entry.ends_at)}#{user_id}#{entry.item_id}"
    return item


def _ledger_from(item: Item) -> LedgerEntry:
    ends_at = dt_in(item["ends_at"])
    assert ends_at is not None
    return LedgerEntry(
        item_id=str(item["SK"]),
        capture=capture_from_dict(json.loads(item["capture"])),
        ends_at=ends_at,
        captured=bool(item.get("captured", False)),
    )
