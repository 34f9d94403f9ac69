"""People's own billing authorizations (Actionstep) and their OAuth states, on the single table.

    PK FIRM#<firm>#BILLINGUSERS   SK <system>#<user>      one person's authorization (versioned, audited)
    PK USEROAUTHSTATE#<state>     SK USEROAUTHSTATE       a person's pending consent (single use, TTL)

The states live apart from the firm flow's ``OAUTHSTATE#`` items, so the shared callback can tell the
two kinds apart by where the state is found, and neither flow can consume the other's.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from chalicelib.adapters.persistence.codec import dt_in, dt_out, int_in, strip_none
from chalicelib.adapters.persistence.repositories import VersionedWriter
from chalicelib.adapters.persistence.table import (
    AttributeEquals,
    ConditionFailed,
    ItemAbsent,
    KeyRange,
    Table,
)
from chalicelib.domain.billing import BillingSystem
from chalicelib.domain.billing_users import BillingUserAuthorization, UserAuthorizationStatus
from chalicelib.ports import Clock


def _pk(firm_id: str) -> str:
    return f"FIRM#{firm_id}#BILLINGUSERS"


def _item(authorization: BillingUserAuthorization) -> dict[str, Any]:
    return strip_none(
        {
            "PK": _pk(authorization.firm_id),
            "SK": f"{authorization.system.value}#{authorization.user_id}",
            "type": "billing_user_authorization",
            "firm_id": authorization.firm_id,
            "system": authorization.system.value,
            "user_id": authorization.user_id,
            "status": authorization.status.value,
            "sealed_tokens": authorization.sealed_tokens,
            "participant_id": authorization.participant_id,
            "participant_name": authorization.participant_name,
            "authorized_at": dt_out(authorization.authorized_at),
            "changed_at": dt_out(authorization.changed_at),
            "last_error": authorization.last_error,
        }
    )


def _from(item: dict[str, Any]) -> BillingUserAuthorization:
    return BillingUserAuthorization(
        firm_id=item["firm_id"],
        system=BillingSystem(item["system"]),
        user_id=item["user_id"],
        status=UserAuthorizationStatus(item["status"]),
        sealed_tokens=item.get("sealed_tokens"),
        participant_id=item.get("participant_id"),
        participant_name=item.get("participant_name"),
        authorized_at=dt_in(item.get("authorized_at")),
        changed_at=dt_in(item.get("changed_at")),
        last_error=item.get("last_error"),
        version=int_in(item.get("version", 0)),
    )


def _snapshot(authorization: BillingUserAuthorization) -> dict[str, Any]:
    # The audit trail records what changed, never the sealed secret itself.
    item = _item(authorization)
    item["sealed_tokens"] = "(sealed)" if authorization.sealed_tokens else None
    return {k: v for k, v in item.items() if k not in ("PK", "SK")}


class TableBillingUserAuthorizations:
    """``BillingUserAuthorizations`` on the single table."""

    def __init__(self, table: Table, clock: Clock) -> None:
        self._table = table
        self._writer = VersionedWriter(table, clock)

    def authorization(self, firm_id: str, system: str, user_id: str) -> BillingUserAuthorization | None:
        item = self._table.get(_pk(firm_id), f"{system}#{user_id}")
        return _from(item) if item else None

    def authorizations(self, firm_id: str, system: str) -> list[BillingUserAuthorization]:
        """Every person's authorization with ``system``: one Query of the firm's partition (paged by
        DynamoDB's 1 MB limit only), never a read per person."""
        found: list[BillingUserAuthorization] = []
        start: dict[str, Any] | None = None
        while True:
            page = self._table.query(
                _pk(firm_id), KeyRange(prefix=f"{system}#"), start_after=start, consistent=True
            )
            found.extend(_from(item) for item in page.items)
            if page.last_key is None:
                return found
            start = page.last_key

    def save_authorization(
        self, authorization: BillingUserAuthorization, actor: str, action: str
    ) -> BillingUserAuthorization:
        before = (
            self.authorization(authorization.firm_id, authorization.system.value, authorization.user_id)
            if authorization.version
            else None
        )
        version = self._writer.write(
            firm_id=authorization.firm_id,
            entity_type="billing_user_authorization",
            entity_id=f"{authorization.system.value}:{authorization.user_id}",
            item=_item(authorization),
            before=_snapshot(before) if before else None,
            after=_snapshot(authorization),
            expected_version=authorization.version or None,
            actor=actor,
            action=action,
        )
        return replace(authorization, version=version)

    def save_user_oauth_state(
        self, state: str, firm_id: str, system: str, user_id: str, expires_at: datetime
    ) -> None:
        self._table.put(
            {
                "PK": f"USEROAUTHSTATE#{state}",
                "SK": "USEROAUTHSTATE",
                "type": "user_oauth_state",
                "firm_id": firm_id,
                "system": system,
                "user_id": user_id,
                "expires_at": dt_out(expires_at),
                "expires_at_epoch": int(expires_at.timestamp()),
            },
            ItemAbsent(),
        )

    def take_user_oauth_state(self, state: str) -> tuple[str, str, str, datetime] | None:
        pk, sk = f"USEROAUTHSTATE#{state}", "USEROAUTHSTATE"
        item = self._table.get(pk, sk)
        if item is None:
            return None
        try:
            # Deleting on condition it still exists: of two callbacks with one state, one wins.
            self._table.delete(pk, sk, AttributeEquals("user_id", item["user_id"]))
        except ConditionFailed:
            return None
        expires_at = dt_in(item["expires_at"])
        assert expires_at is not None
        return item["firm_id"], item["system"], item["user_id"], expires_at
