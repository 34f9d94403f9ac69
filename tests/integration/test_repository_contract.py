"""One contract for the repositories, run against the in-memory table and DynamoDB (moto).

A rule that holds in memory must hold in DynamoDB: conditions, transactions, guards, paging, audit.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib.adapters.persistence.repositories import (
    TableApiTokenRepository,
    TableAuditLog,
    TableFirmRepository,
    TableUserRepository,
)
from chalicelib.adapters.persistence.table import (
    AttributeEquals,
    AttributeIn,
    Check,
    ConditionFailed,
    Delete,
    ItemAbsent,
    KeyRange,
    Put,
    TransactionCancelled,
)
from chalicelib.domain.api_tokens import ApiToken, TokenStatus
from chalicelib.domain.errors import Duplicate, InvalidInput, StaleVersion
from chalicelib.domain.identity import Permission, Role
from chalicelib.domain.roster import Firm, User
from tests.support.clock import ManualClock


def a_firm(firm_id: str = "f1", tenant: str = "tenant-1") -> Firm:
    return Firm(firm_id=firm_id, name="Lovelace & Babbage LLP", tenant_id=tenant, time_zone="Europe/London")


def a_user(user_id: str = "u1", email: str = "ada@lovelace.law", firm_id: str = "f1") -> User:
    return User(
        firm_id=firm_id,
        user_id=user_id,
        email=email,
        display_name="Ada Lovelace",
        roles=frozenset({Role.ATTORNEY}),
    )


# ---------------------------------------------------------------- the table itself


def test_a_conditional_put_refuses_to_overwrite_an_existing_item(table) -> None:
    table.put({"PK": "A", "SK": "1", "n": 1}, ItemAbsent())
    with pytest.raises(ConditionFailed):
        table.put({"PK": "A", "SK": "1", "n": 2}, ItemAbsent())
    assert table.get("A", "1")["n"] == 1


def test_a_transaction_applies_nothing_when_one_condition_fails(table) -> None:
    table.put({"PK": "A", "SK": "1", "status": "draft"})
    with pytest.raises(TransactionCancelled) as cancelled:
        table.transact(
            [
                Put({"PK": "A", "SK": "2"}, ItemAbsent()),
                Check("A", "1", AttributeIn("status", ("submitted", "verified"))),
            ]
        )
    assert cancelled.value.failed == [1]
    assert table.get("A", "2") is None


def test_a_transaction_applies_every_operation_when_all_conditions_hold(table) -> None:
    table.put({"PK": "A", "SK": "1", "version": 1})
    table.transact(
        [
            Put({"PK": "A", "SK": "1", "version": 2}, AttributeEquals("version", 1)),
            Put({"PK": "A", "SK": "2"}, ItemAbsent()),
            Delete("A", "3"),
        ]
    )
    assert table.get("A", "1")["version"] == 2
    assert table.get("A", "2") is not None


def test_a_query_pages_through_a_partition_in_sort_key_order(table) -> None:
    for index in range(7):
        table.put({"PK": "P", "SK": f"ITEM#{index:02d}"})
    table.put({"PK": "P", "SK": "OTHER#1"})
    seen: list[str] = []
    start = None
    while True:
        page = table.query("P", KeyRange(prefix="ITEM#"), limit=3, start_after=start)
        seen += [item["SK"] for item in page.items]
        if page.last_key is None:
            break
        start = page.last_key
    assert seen == [f"ITEM#{index:02d}" for index in range(7)]


def test_a_query_can_run_backwards_over_a_range(table) -> None:
    for index in range(5):
        table.put({"PK": "P", "SK": f"{index}"})
    page = table.query("P", KeyRange(between=("1", "3")), forward=False)
    assert [item["SK"] for item in page.items] == ["3", "2", "1"]


def test_an_index_query_finds_items_by_their_secondary_key(table) -> None:
    table.put({"PK": "X#1", "SK": "A", "GSI1PK": "G", "GSI1SK": "2"})
    table.put({"PK": "X#2", "SK": "A", "GSI1PK": "G", "GSI1SK": "1"})
    table.put({"PK": "X#3", "SK": "A"})
    page = table.query("G", index="GSI1")
    assert [item["PK"] for item in page.items] == ["X#2", "X#1"]


# ---------------------------------------------------------------- firms and users


def test_one_tenant_belongs_to_one_firm(table, clock: ManualClock) -> None:
    firms = TableFirmRepository(table, clock)
    firms.add(a_firm("f1", "tenant-1"), "system")
    with pytest.raises(Duplicate, match="tenant"):
        firms.add(a_firm("f2", "tenant-1"), "system")
    assert firms.get_by_tenant("tenant-1").firm_id == "f1"
    assert [firm.firm_id for firm in firms.list_all()] == ["f1"]


def test_an_email_is_unique_within_a_firm_but_not_across_firms(table, clock: ManualClock) -> None:
    users = TableUserRepository(table, clock)
    users.add(a_user("u1", "ada@lovelace.law"), "system")
    with pytest.raises(Duplicate, match="email"):
        users.add(a_user("u2", "ada@lovelace.law"), "system")
    users.add(a_user("u3", "ada@lovelace.law", firm_id="f2"), "system")
    assert users.get_by_email("f1", "ada@lovelace.law").user_id == "u1"
    assert users.get("f1", "u2") is None


def test_a_stale_version_cannot_overwrite_a_newer_one(table, clock: ManualClock) -> None:
    users = TableUserRepository(table, clock)
    stored = users.add(a_user(), "system")
    first = users.update(stored.with_changes(display_name="Ada King"), "user:admin")
    assert first.version == stored.version + 1
    with pytest.raises(StaleVersion):
        users.update(stored.with_changes(display_name="Countess of Lovelace"), "user:other")
    assert users.get("f1", "u1").display_name == "Ada King"


def test_concurrent_updates_of_one_user_let_exactly_one_writer_win(memory_table, clock: ManualClock) -> None:
    """Real threads against the in-memory twin only: moto's DynamoDB backend takes no lock, so racing
    threads can interleave inside one of its transactions (DynamoDB itself serialises them). The same
    condition is proven against moto, sequentially, by the stale-version test above."""
    table = memory_table
    users = TableUserRepository(table, clock)
    stored = users.add(a_user(), "system")
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def rename(name: str) -> None:
        barrier.wait()
        try:
            users.update(stored.with_changes(display_name=name), f"user:{name}")
            outcomes.append("won")
        except StaleVersion:
            outcomes.append("stale")

    threads = [threading.Thread(target=rename, args=(f"Name {n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["stale", "stale", "stale", "won"]
    assert len(TableAuditLog(table).for_entity("f1", "user", "u1")) == 2


def test_changing_an_email_moves_its_guard_so_the_old_email_is_free_again(table, clock: ManualClock) -> None:
    users = TableUserRepository(table, clock)
    stored = users.add(a_user("u1", "ada@lovelace.law"), "system")
    users.update(stored.with_changes(email="ada@king.law"), "user:admin")
    assert users.get_by_email("f1", "ada@lovelace.law") is None
    assert users.get_by_email("f1", "ada@king.law").user_id == "u1"
    users.add(a_user("u2", "ada@lovelace.law"), "system")


def test_binding_an_identity_makes_the_user_findable_by_it_and_keeps_it_unique(
    table, clock: ManualClock
) -> None:
    users = TableUserRepository(table, clock)
    first = users.add(a_user("u1", "ada@lovelace.law"), "system")
    second = users.add(a_user("u2", "charles@lovelace.law"), "system")
    users.update(first.with_changes(identity_oid="oid-1"), "user:u1")
    assert users.get_by_identity("f1", "oid-1").user_id == "u1"
    with pytest.raises(Duplicate, match="identity"):
        users.update(second.with_changes(identity_oid="oid-1"), "user:u2")


def test_the_roster_lists_in_pages_and_refuses_a_cursor_from_another_firm(table, clock: ManualClock) -> None:
    users = TableUserRepository(table, clock)
    for index in range(5):
        users.add(a_user(f"u{index}", f"person{index}@lovelace.law"), "system")
        users.add(a_user(f"v{index}", f"person{index}@other.law", firm_id="f2"), "system")
    first = users.list("f1", limit=2)
    assert len(first.items) == 2 and first.next_cursor
    rest = users.list("f1", cursor=first.next_cursor, limit=10)
    assert {u.user_id for u in first.items + rest.items} == {f"u{index}" for index in range(5)}
    with pytest.raises(InvalidInput, match="does not belong"):
        users.list("f2", cursor=first.next_cursor)


# ---------------------------------------------------------------- audit


def test_every_change_appends_an_audit_record_with_before_and_after(table, clock: ManualClock) -> None:
    users = TableUserRepository(table, clock)
    stored = users.add(a_user(), "user:admin")
    clock.advance(minutes=5)
    users.update(stored.with_changes(roles=frozenset({Role.ATTORNEY, Role.FIRM_ADMIN})), "user:admin")
    history = TableAuditLog(table).for_entity("f1", "user", "u1")
    assert [record.action for record in history] == ["create", "update"]
    assert history[0].before is None and history[0].after["email"] == "ada@lovelace.law"
    assert history[1].before["roles"] == ["attorney"]
    assert history[1].after["roles"] == ["attorney", "firm_admin"]
    assert history[1].actor == "user:admin"
    assert history[1].at - history[0].at == timedelta(minutes=5)


def test_a_refused_change_leaves_no_audit_record(table, clock: ManualClock) -> None:
    users = TableUserRepository(table, clock)
    stored = users.add(a_user(), "system")
    users.update(stored.with_changes(display_name="Ada King"), "user:admin")
    with pytest.raises(StaleVersion):
        users.update(stored.with_changes(display_name="Someone"), "user:admin")
    assert len(TableAuditLog(table).for_entity("f1", "user", "u1")) == 2


def test_the_firm_audit_feed_is_newest_first_and_pages(table, clock: ManualClock) -> None:
    users = TableUserRepository(table, clock)
    for index in range(4):
        clock.advance(seconds=1)
        users.add(a_user(f"u{index}", f"p{index}@lovelace.law"), "system")
    log = TableAuditLog(table)
    first = log.recent("f1", limit=3)
    assert [record.entity_id for record in first.items] == ["u3", "u2", "u1"]
    rest = log.recent("f1", cursor=first.next_cursor, limit=3)
    assert [record.entity_id for record in rest.items] == ["u0"]


# ---------------------------------------------------------------- API tokens


def test_tokens_are_found_by_hash_listed_per_firm_and_never_audited_with_their_hash(
    table, clock: ManualClock
) -> None:
    tokens = TableApiTokenRepository(table, clock)
    token = tokens.add(
        ApiToken(
            firm_id="f1",
            token_id="t1",
            name="Clio",
            scopes=frozenset({Permission.MATTERS_READ}),
            token_hash="a" * 64,
            created_by="user:admin",
            created_at=clock.now(),
        ),
        "user:admin",
    )
    assert tokens.get_by_hash("a" * 64).token_id == "t1"
    assert [t.token_id for t in tokens.list("f1")] == ["t1"] and tokens.list("f2") == []
    tokens.update(replace(token, status=TokenStatus.REVOKED, revoked_at=clock.now()), "user:admin", "revoke")
    history = TableAuditLog(table).for_entity("f1", "api_token", "t1")
    assert [record.action for record in history] == ["create", "revoke"]
    assert all("a" * 64 not in str(record.after) for record in history)


def test_recording_a_use_does_not_resurrect_a_revoked_token(table, clock: ManualClock) -> None:
    tokens = TableApiTokenRepository(table, clock)
    token = tokens.add(
        ApiToken(
            firm_id="f1",
            token_id="t1",
            name="Clio",
            scopes=frozenset({Permission.MATTERS_READ}),
            token_hash="b" * 64,
            created_by="user:admin",
            created_at=clock.now(),
        ),
        "user:admin",
    )
    tokens.update(replace(token, status=TokenStatus.REVOKED), "user:admin", "revoke")
    tokens.record_use(token, clock.now())  # a stale read of the active token
    assert tokens.get_by_hash("b" * 64).status is TokenStatus.REVOKED
