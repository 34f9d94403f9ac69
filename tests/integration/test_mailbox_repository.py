"""The Microsoft 365 repository keeps the same promises in memory and in DynamoDB (moto)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.adapters.persistence.mailboxes import TableMailboxRepository
from chalicelib.domain.capture import Capture, EventKind, Source, meeting_key
from chalicelib.domain.errors import Duplicate, StaleVersion
from chalicelib.domain.m365 import (
    CapturedUser,
    FolderSyncState,
    M365Connection,
    Subscription,
    SyncTarget,
    hash_client_state,
)
from chalicelib.domain.mail_capture import LedgerEntry
from chalicelib.domain.mailbox import Folder
from tests.support.clock import ManualClock

NOW = datetime(2026, 3, 9, 18, 0, tzinfo=UTC)
TENANT = "2f6c1e7a-5b3d-4c2e-9a1f-7d8e9f0a1b2c"
APP = "5e0c8a1d-2b3f-4e6a-8c7d-9e0f1a2b3c4d"


@pytest.fixture
def repository(table) -> TableMailboxRepository:
    return TableMailboxRepository(table, ManualClock(NOW))


def connection(firm_id: str = "firm-1", version: int = 0) -> M365Connection:
    return M365Connection(
        firm_id=firm_id,
        tenant_id=TENANT,
        client_id=APP,
        users=(CapturedUser("alex", "alex@lovelace.law"), CapturedUser("blake", "blake@lovelace.law", False)),
        capture_all_day_meetings=True,
        connected_at=NOW,
        connected_by="user:fiona",
        version=version,
    )


def subscription(subscription_id: str, version: int = 0) -> Subscription:
    return Subscription(
        firm_id="firm-1",
        user_id="alex",
        folder=Folder.INBOX,
        subscription_id=subscription_id,
        resource="users/alex@lovelace.law/mailFolders('inbox')/messages",
        expires_at=NOW + timedelta(days=2),
        renewed_at=NOW,
        client_state_hash=hash_client_state("secret"),
        created_at=NOW,
        version=version,
    )


def meeting(item_id: str, ends_at: datetime, captured: bool = False) -> LedgerEntry:
    start = ends_at - timedelta(hours=1)
    capture = Capture(
        kind=EventKind.MEETING,
        source=Source.GRAPH,
        key=meeting_key(f"uid-{item_id}", start),
        at=start,
        duration_seconds=3600,
        measured=False,
        subject="Strategy call",
        participants=("dana@northwind.example",),
    )
    return LedgerEntry(item_id, capture, ends_at, captured)


def test_a_connection_reads_back_as_written_and_a_stale_write_loses(
    repository: TableMailboxRepository,
) -> None:
    saved = repository.save_connection(connection(), "user:fiona", "connect")
    assert saved.version == 1 and repository.connection("firm-1") == saved
    assert repository.connected_firms() == ["firm-1"]
    with pytest.raises(Duplicate):
        repository.save_connection(connection(), "user:fiona", "connect")
    repository.save_connection(replace(saved, capture_free_meetings=True), "user:fiona", "reconnect")
    with pytest.raises(StaleVersion):
        repository.save_connection(replace(saved, capture_all_day_meetings=False), "user:fiona", "reconnect")


def test_two_workers_cannot_both_advance_one_sync_state(repository: TableMailboxRepository) -> None:
    fresh = repository.sync_state("firm-1", "alex", Folder.SENT)
    assert fresh.version == 0 and fresh.state is None
    first = repository.save_sync_state(replace(fresh, state="link-1", lease_owner="a", lease_until=NOW))
    assert repository.sync_state("firm-1", "alex", Folder.SENT) == first
    repository.save_sync_state(replace(first, state="link-2"))
    with pytest.raises(StaleVersion):
        repository.save_sync_state(replace(first, state="link-2-from-another-worker"))
    with pytest.raises(StaleVersion):
        repository.save_sync_state(FolderSyncState("firm-1", "alex", Folder.SENT, state="from-scratch"))
    assert [s.state for s in repository.sync_states("firm-1")] == ["link-2"]


def test_a_subscription_is_found_by_its_id_and_a_replacement_retires_the_old_id(
    repository: TableMailboxRepository,
) -> None:
    first = repository.save_subscription(subscription("sub-1"), replaces=None)
    assert repository.subscription_by_id("sub-1") == first
    assert repository.subscription("firm-1", "alex", Folder.INBOX) == first
    second = repository.save_subscription(
        replace(subscription("sub-2"), version=first.version), replaces=first
    )
    assert repository.subscription_by_id("sub-1") is None and repository.subscription_by_id("sub-2") == second
    with pytest.raises(StaleVersion):
        repository.save_subscription(subscription("sub-3", version=first.version), replaces=first)
    repository.delete_subscription(second)
    assert repository.subscriptions("firm-1") == [] and repository.subscription_by_id("sub-2") is None


def test_a_queued_sync_is_queued_once_until_it_starts_or_goes_stale(
    repository: TableMailboxRepository,
) -> None:
    target = SyncTarget("firm-1", "alex", Folder.INBOX)
    assert repository.mark_queued(target, NOW, stale_before=NOW - timedelta(minutes=15))
    assert not repository.mark_queued(target, NOW + timedelta(minutes=1), NOW - timedelta(minutes=14))
    assert repository.mark_queued(target, NOW + timedelta(minutes=20), NOW + timedelta(minutes=5))
    repository.clear_queued(target)
    assert repository.mark_queued(target, NOW + timedelta(minutes=21), NOW + timedelta(minutes=6))


def test_pending_meetings_wait_in_the_due_queue_until_they_end(repository: TableMailboxRepository) -> None:
    soon, later = meeting("m1", NOW + timedelta(hours=1)), meeting("m2", NOW + timedelta(hours=3))
    done = meeting("m3", NOW - timedelta(hours=1), captured=True)
    repository.update_ledger("firm-1", "alex", [soon, later, done], [])
    assert repository.due_meetings("firm-1", NOW) == []
    assert repository.due_meetings("firm-1", NOW + timedelta(hours=2)) == [("alex", soon)]
    repository.update_ledger("firm-1", "alex", [replace(soon, captured=True)], ["m2"])
    assert repository.due_meetings("firm-1", NOW + timedelta(days=1)) == []
    known = repository.ledger("firm-1", "alex", ["m1", "m2", "m3", "unknown"])
    assert set(known) == {"m1", "m3"} and known["m3"] == done
    many = repository.ledger("firm-1", "alex", [f"x{n}" for n in range(20)] + ["m1"])
    assert list(many) == ["m1"]


def test_token_caches_are_kept_per_firm_tenant_and_app(repository: TableMailboxRepository) -> None:
    assert repository.load("firm-1", TENANT, APP) is None
    repository.save("firm-1", TENANT, APP, "sealed-cache-1")
    repository.save("firm-1", TENANT, APP, "sealed-cache-2")
    assert repository.load("firm-1", TENANT, APP) == "sealed-cache-2"
    assert repository.load("firm-2", TENANT, APP) is None
