"""Conversions between domain values and item attributes."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any


def dt_out(value: datetime | None) -> str | None:
    """UTC, millisecond precision, sortable as a string."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def dt_in(value: Any) -> datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def int_in(value: Any) -> int:
    return int(value) if isinstance(value, Decimal | int) else int(str(value))


def encode_cursor(last_key: dict[str, Any] | None) -> str | None:
    """An opaque cursor for a listing's next page."""
    if last_key is None:
        return None
    raw = json.dumps(last_key, sort_keys=True, default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, partition_attribute: str, partition: str) -> dict[str, Any] | None:
    """The key a cursor stands for; ``ValueError`` if it is damaged or belongs to another listing."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError("the cursor is damaged; start the listing again without it") from error
    if not isinstance(key, dict) or key.get(partition_attribute) != partition:
        # A cursor made for another firm or listing must not become a way to read it.
        raise ValueError("the cursor does not belong to this listing; start again without it")
    return key


def strip_none(item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB keeps no attribute for a missing value; neither do we."""
    return {key: value for key, value in item.items() if value is not None}
