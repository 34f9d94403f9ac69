"""Repositories over the ``Table`` interface: firms, users, API tokens and the audit trail.

Every change is one transaction that writes the entity with a version check, keeps its uniqueness guards
in step, and appends an audit record — so an entity never changes without its audit record, and two
writers that read the same version cannot both win:

    writer A: read v3 ─────────── write v4 if version = 3 ──▶ ok
    writer B: read v3 ──────────────────── write v4 if version = 3 ──▶ StaleVersion
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from chalicelib.adapters.persistence import keys
from chalicelib.adapters.persistence.codec import (
    decode_cursor,
    dt_in,
    dt_out,
    encode_cursor,
    int_in,
    strip_none,
)
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
from chalicelib.domain.api_tokens import ApiToken, TokenStatus
from chalicelib.domain.audit import AuditRecord
from chalicelib.domain.errors import Duplicate, InvalidInput, NotFound, StaleVersion
from chalicelib.domain.identity import Permission, Role
from chalicelib.domain.roster import Firm, User, UserStatus
from chalicelib.ports import Clock, Page


@dataclass(frozen=True)
class Guard:
    """A uniqueness guard item: ``field`` names the value for the error message."""

    pk: str
    sk: str
    field: str
    value: str


class VersionedWriter:
    """Writes one entity, its guards and its audit record in a single transaction."""

    def __init__(self, table: Table, clock: Clock) -> None:
        self._table = table
        self._clock = clock

    def write(
        self,
        *,
        firm_id: str,
        entity_type: str,
        entity_id: str,
        item: Item,
        before: dict[str, Any] | None,
        after: dict[str, Any],
        expected_version: int | None,
        actor: str,
        action: str,
        add_guards: Sequence[Guard] = (),
        remove_guards: Sequence[Guard] = (),
        extra: Sequence[Operation] = (),
    ) -> int:
        """Save ``item`` at the next version; ``expected_version`` None means it must not exist yet."""
        new_version = 1 if expected_version is None else expected_version + 1
        condition = ItemAbsent() if expected_version is None else AttributeEquals("version", expected_version)
        operations: list[Operation] = [Put({**item, "version": new_version}, condition)]
        for guard in add_guards:
            guard_item = {"PK": guard.pk, "SK": guard.sk, "firm_id": firm_id, "owner": entity_id}
            operations.append(Put(guard_item, ItemAbsent()))
        for guard in remove_guards:
            operations.append(Delete(guard.pk, guard.sk, AttributeEquals("owner", entity_id)))
        operations.extend(extra)  # non-unique lookup items kept in step with the entity
        audit = self.audit_item(firm_id, entity_type, entity_id, new_version, action, actor, before, after)
        operations.append(Put(audit, ItemAbsent()))
        try:
            self._table.transact(operations)
        except TransactionCancelled as cancelled:
            if 0 in cancelled.failed:
                if expected_version is None:
                    raise Duplicate(f"{entity_type} {entity_id} already exists") from cancelled
                raise StaleVersion(entity_type, entity_id) from cancelled
            for index in cancelled.failed:
                if 1 <= index <= len(add_guards):
                    guard = add_guards[index - 1]
                    raise Duplicate(
                        f"{guard.field} '{guard.value}' is already in use",
                    ) from cancelled
            raise StaleVersion(entity_type, entity_id) from cancelled
        return new_version

    def audit_item(
        self,
        firm_id: str,
        entity_type: str,
        entity_id: str,
        version: int,
        action: str,
        actor: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> Item:
        """An audit record as an item; callers put it in the same transaction as the change.

        An entity's records are keyed by the version the change produced, so its history reads in
        order even when two changes share a millisecond, and a record can never be written twice.
        """
        at = dt_out(self._clock.now())
        return strip_none(
            {
                "PK": keys.audit_stream(firm_id, entity_type, entity_id),
                "SK": keys.audit_version(version),
                "GSI1PK": keys.audit_feed(firm_id),
                "GSI1SK": f"{at}#{entity_type}#{entity_id}#{keys.audit_version(version)}",
                "type": "audit",
                "firm_id": firm_id,
                "entity_type": entity_type,
                "entity_id": entity_id,
                "action": action,
                "actor": actor,
                "at": at,
                "before": json.dumps(before, sort_keys=True, default=str) if before is not None else None,
                "after": json.dumps(after, sort_keys=True, default=str) if after is not None else None,
            }
        )


# ---------------------------------------------------------------- firms


def _firm_item(firm: Firm) -> Item:
    pk, sk = keys.firm(firm.firm_id)
    return strip_none(
        {
            "PK": pk,
            "SK": sk,
            "GSI1PK": keys.FIRMS_INDEX_PK,
            "GSI1SK": pk,
            "type": "firm",
            "firm_id": firm.firm_id,
            "name": firm.name,
            "tenant_id": firm.tenant_id,
            "time_zone": firm.time_zone,
            "created_at": dt_out(firm.created_at),
        }
    )


def _firm_from(item: Item) -> Firm:
    return Firm(
        firm_id=item["firm_id"],
        name=item["name"],
        tenant_id=item["tenant_id"],
        time_zone=item["time_zone"],
        created_at=dt_in(item.get("created_at")),
        version=int_in(item.get("version", 0)),
    )


def firm_snapshot(firm: Firm) -> dict[str, Any]:
    return {"name": firm.name, "tenant_id": firm.tenant_id, "time_zone": firm.time_zone}


class TableFirmRepository:
    """Firms, with a guard so one Microsoft 365 tenant belongs to one firm."""

    def __init__(self, table: Table, clock: Clock) -> None:
        self._table = table
        self._writer = VersionedWriter(table, clock)

    def get(self, firm_id: str) -> Firm | None:
        item = self._table.get(*keys.firm(firm_id))
        return _firm_from(item) if item else None

    def get_by_tenant(self, tenant_id: str) -> Firm | None:
        guard = self._table.get(*keys.tenant_guard(tenant_id))
        return self.get(guard["owner"]) if guard else None

    def add(self, firm: Firm, actor: str) -> Firm:
        tenant_pk, tenant_sk = keys.tenant_guard(firm.tenant_id)
        version = self._writer.write(
            firm_id=firm.firm_id,
            entity_type="firm",
            entity_id=firm.firm_id,
            item=_firm_item(firm),
            before=None,
            after=firm_snapshot(firm),
            expected_version=None,
            actor=actor,
            action="create",
            add_guards=[Guard(tenant_pk, tenant_sk, "tenant", firm.tenant_id)],
        )
        return replace(firm, version=version)

    def list_all(self) -> list[Firm]:
        firms: list[Firm] = []
        start: Item | None = None
        while True:
            page = self._table.query(keys.FIRMS_INDEX_PK, index="GSI1", start_after=start)
            firms.extend(_firm_from(item) for item in page.items)
            if page.last_key is None:
                return firms
            start = page.last_key


# ---------------------------------------------------------------- users


def _user_item(user: User) -> Item:
    pk, sk = keys.user(user.firm_id, user.user_id)
    return strip_none(
        {
            "PK": pk,
            "SK": sk,
            "type": "user",
            "firm_id": user.firm_id,
            "user_id": user.user_id,
            "email": user.email,
            "display_name": user.display_name,
            "roles": sorted(role.value for role in user.roles),
            "status": user.status.value,
            "time_zone": user.time_zone,
            "external_ids": dict(user.external_ids),
            "phone_extensions": list(user.phone_extensions),
            "timekeeper_class": user.timekeeper_class,
            "hourly_rate": user.hourly_rate,
            "identity_oid": user.identity_oid,
            "created_at": dt_out(user.created_at),
        }
    )


def _user_from(item: Item) -> User:
    return User(
        firm_id=item["firm_id"],
        user_id=item["user_id"],
        email=item["email"],
        display_name=item["display_name"],
        roles=frozenset(Role(role) for role in item.get("roles", [])),
        status=UserStatus(item["status"]),
        time_zone=item.get("time_zone"),
        external_ids=dict(item.get("external_ids", {})),
        phone_extensions=tuple(item.get("phone_extensions", [])),
        timekeeper_class=item.get("timekeeper_class"),
        hourly_rate=item.get("hourly_rate"),
        identity_oid=item.get("identity_oid"),
        created_at=dt_in(item.get("created_at")),
        version=int_in(item.get("version", 0)),
    )


def user_snapshot(user: User) -> dict[str, Any]:
    """What the audit trail records of a user."""
    return {
        "email": user.email,
        "display_name": user.display_name,
        "roles": sorted(role.value for role in user.roles),
        "status": user.status.value,
        "time_zone": user.time_zone,
        "external_ids": dict(sorted(user.external_ids.items())),
        "phone_extensions": list(user.phone_extensions),
        "timekeeper_class": user.timekeeper_class,
        "hourly_rate": user.hourly_rate,
        "identity_oid": user.identity_oid,
    }


def _user_guards(user: User) -> list[Guard]:
    guards = [Guard(*keys.email_guard(user.firm_id, user.email), "email", user.email)]
    if user.identity_oid:
        guards.append(
            Guard(*keys.identity_guard(user.firm_id, user.identity_oid), "identity", user.identity_oid)
        )
    return guards


class TableUserRepository:
    """A firm's roster; email and Entra object id are unique within the firm."""

    def __init__(self, table: Table, clock: Clock) -> None:
        self._table = table
        self._writer = VersionedWriter(table, clock)

    def get(self, firm_id: str, user_id: str) -> User | None:
        item = self._table.get(*keys.user(firm_id, user_id))
        return _user_from(item) if item else None

    def _by_guard(self, firm_id: str, guard_key: tuple[str, str]) -> User | None:
        guard = self._table.get(*guard_key)
        return self.get(firm_id, guard["owner"]) if guard else None

    def get_by_email(self, firm_id: str, email: str) -> User | None:
        return self._by_guard(firm_id, keys.email_guard(firm_id, email))

    def get_by_identity(self, firm_id: str, oid: str) -> User | None:
        return self._by_guard(firm_id, keys.identity_guard(firm_id, oid))

    def list(self, firm_id: str, cursor: str | None = None, limit: int = 100) -> Page[User]:
        pk, _ = keys.firm(firm_id)
        try:
            start = decode_cursor(cursor, "PK", pk)
        except ValueError as error:
            raise InvalidInput(str(error)) from error
        page = self._table.query(pk, KeyRange(prefix=keys.USER_PREFIX), limit=limit, start_after=start)
        return Page([_user_from(item) for item in page.items], encode_cursor(page.last_key))

    def add(self, user: User, actor: str) -> User:
        version = self._writer.write(
            firm_id=user.firm_id,
            entity_type="user",
            entity_id=user.user_id,
            item=_user_item(user),
            before=None,
            after=user_snapshot(user),
            expected_version=None,
            actor=actor,
            action="create",
            add_guards=_user_guards(user),
        )
        return replace(user, version=version)

    def update(self, user: User, actor: str, action: str = "update") -> User:
        stored = self.get(user.firm_id, user.user_id)
        if stored is None:
            raise NotFound(f"user {user.user_id} does not exist")
        if stored.version != user.version:
            raise StaleVersion("user", user.user_id)
        old_guards = {(g.pk, g.sk): g for g in _user_guards(stored)}
        new_guards = {(g.pk, g.sk): g for g in _user_guards(user)}
        version = self._writer.write(
            firm_id=user.firm_id,
            entity_type="user",
            entity_id=user.user_id,
            item=_user_item(user),
            before=user_snapshot(stored),
            after=user_snapshot(user),
            expected_version=user.version,
            actor=actor,
            action=action,
            add_guards=[g for key, g in new_guards.items() if key not in old_guards],
            remove_guards=[g for key, g in old_guards.items() if key not in new_guards],
        )
        return replace(user, version=version)


# ---------------------------------------------------------------- API tokens


def _token_item(token: ApiToken) -> Item:
    pk, sk = keys.api_token(token.token_hash)
    return strip_none(
        {
            "PK": pk,
            "SK": sk,
            "GSI1PK": keys.api_tokens_of(token.firm_id),
            "GSI1SK": f"{dt_out(token.created_at)}#{token.token_id}",
            "type": "api_token",
            "firm_id": token.firm_id,
            "token_id": token.token_id,
            "name": token.name,
            "scopes": sorted(scope.value for scope in token.scopes),
            "token_hash": token.token_hash,
            "created_by": token.created_by,
            "created_at": dt_out(token.created_at),
            "expires_at": dt_out(token.expires_at),
            "status": token.status.value,
            "revoked_at": dt_out(token.revoked_at),
            "last_used_at": dt_out(token.last_used_at),
        }
    )


def _token_from(item: Item) -> ApiToken:
    created_at = dt_in(item["created_at"])
    assert created_at is not None
    return ApiToken(
        firm_id=item["firm_id"],
        token_id=item["token_id"],
        name=item["name"],
        scopes=frozenset(Permission(scope) for scope in item.get("scopes", [])),
        token_hash=item["token_hash"],
        created_by=item["created_by"],
        created_at=created_at,
        expires_at=dt_in(item.get("expires_at")),
        status=TokenStatus(item["status"]),
        revoked_at=dt_in(item.get("revoked_at")),
        last_used_at=dt_in(item.get("last_used_at")),
        version=int_in(item.get("version", 0)),
    )


def token_snapshot(token: ApiToken) -> dict[str, Any]:
    """What the audit trail records of a token: never the hash."""
    return {
        "name": token.name,
        "scopes": sorted(scope.value for scope in token.scopes),
        "status": token.status.value,
        "expires_at": dt_out(token.expires_at),
        "revoked_at": dt_out(token.revoked_at),
    }


class TableApiTokenRepository:
    """API tokens: found by the hash of the presented secret, listed per firm through GSI1."""

    def __init__(self, table: Table, clock: Clock) -> None:
        self._table = table
        self._writer = VersionedWriter(table, clock)

    def add(self, token: ApiToken, actor: str) -> ApiToken:
        version = self._writer.write(
            firm_id=token.firm_id,
            entity_type="api_token",
            entity_id=token.token_id,
            item=_token_item(token),
            before=None,
            after=token_snapshot(token),
            expected_version=None,
            actor=actor,
            action="create",
        )
        return replace(token, version=version)

    def get_by_hash(self, token_hash: str) -> ApiToken | None:
        item = self._table.get(*keys.api_token(token_hash))
        return _token_from(item) if item else None

    def get(self, firm_id: str, token_id: str) -> ApiToken | None:
        return next((token for token in self.list(firm_id) if token.token_id == token_id), None)

    def list(self, firm_id: str) -> list[ApiToken]:
        tokens: list[ApiToken] = []
        start: Item | None = None
        while True:
            page = self._table.query(keys.api_tokens_of(firm_id), index="GSI1", start_after=start)
            tokens.extend(_token_from(item) for item in page.items)
            if page.last_key is None:
                return tokens
            start = page.last_key

    def update(self, token: ApiToken, actor: str, action: str) -> ApiToken:
        stored = self.get_by_hash(token.token_hash)
        if stored is None or stored.firm_id != token.firm_id:
            raise NotFound(f"API token {token.token_id} does not exist")
        version = self._writer.write(
            firm_id=token.firm_id,
            entity_type="api_token",
            entity_id=token.token_id,
            item=_token_item(token),
            before=token_snapshot(stored),
            after=token_snapshot(token),
            expected_version=token.version,
            actor=actor,
            action=action,
        )
        return replace(token, version=version)

    def record_use(self, token: ApiToken, at: datetime) -> None:
        item = _token_item(replace(token, last_used_at=at))
        # Losing to a concurrent revoke or use is fine: the next call stamps it.
        with contextlib.suppress(ConditionFailed):
            self._table.put({**item, "version": token.version}, AttributeEquals("version", token.version))


# ---------------------------------------------------------------- audit


def _audit_from(item: Item) -> AuditRecord:
    at = dt_in(item["at"])
    assert at is not None
    return AuditRecord(
        firm_id=item["firm_id"],
        entity_type=item["entity_type"],
        entity_id=item["entity_id"],
        action=item["action"],
        actor=item["actor"],
        at=at,
        before=json.loads(item["before"]) if "before" in item else None,
        after=json.loads(item["after"]) if "after" in item else None,
        record_id=item["GSI1SK"],
    )


class TableAuditLog:
    """Reads the audit records the writers append."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def for_entity(self, firm_id: str, entity_type: str, entity_id: str) -> list[AuditRecord]:
        records: list[AuditRecord] = []
        start: Item | None = None
        while True:
            page = self._table.query(keys.audit_stream(firm_id, entity_type, entity_id), start_after=start)
            records.extend(_audit_from(item) for item in page.items)
            if page.last_key is None:
                return records
            start = page.last_key

    def recent(self, firm_id: str, cursor: str | None = None, limit: int = 50) -> Page[AuditRecord]:
        feed = keys.audit_feed(firm_id)
        try:
            start = decode_cursor(cursor, "GSI1PK", feed)
        except ValueError as error:
            raise InvalidInput(str(error)) from error
        page = self._table.query(feed, index="GSI1", limit=limit, forward=False, start_after=start)
        return Page([_audit_from(item) for item in page.items], encode_cursor(page.last_key))
