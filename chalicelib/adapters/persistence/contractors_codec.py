"""Contractor-module records as item attributes: one generic, exact codec for the domain's dataclasses.

Every contractor record is stored whole as a JSON document (the ``data`` attribute) next to the key and
condition attributes (``version``, ``status``) DynamoDB needs to see. The codec walks the dataclass'
type hints, so adding a field to a domain record needs no change here. Exactness:

- ``Decimal`` travels as its string (``"125.50"``), never through a float, so amounts and rates come back
  to the last digit;
- datetimes as UTC ISO text with milliseconds, dates as ISO dates, enums by value, tuples as lists.

Public API: ``to_plain(value)``, ``from_plain(type, data)``, ``dumps(record)``, ``loads(type, text)``.
"""

from __future__ import annotations

import json
import types
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from functools import cache
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from chalicelib.adapters.persistence.codec import dt_in, dt_out

T = TypeVar("T")


def to_plain(value: Any) -> Any:
    """A domain value as JSON-ready data (Decimal as text, dates ISO, enums by value)."""
    if value is None or (isinstance(value, bool | int | str) and not isinstance(value, Enum)):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return dt_out(value)
    if isinstance(value, date):
        return value.isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, frozenset | set):
        return sorted(to_plain(v) for v in value)
    if isinstance(value, tuple | list):
        return [to_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(to_plain(k)): to_plain(v) for k, v in value.items()}
    raise TypeError(f"cannot store a {type(value).__name__}")


@cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def from_plain(kind: Any, data: Any) -> Any:
    """Rebuild a value of type ``kind`` from ``to_plain``'s output."""
    origin = get_origin(kind)
    if kind is Any:
        return data
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(kind) if a is not type(None)]
        if data is None:
            return None
        if len(options) == 1:
            return from_plain(options[0], data)
        for option in options:
            try:
                return from_plain(option, data)
            except (TypeError, ValueError, KeyError):
                continue
        raise ValueError(f"{data!r} fits none of {kind}")
    if origin is tuple:
        args = get_args(kind)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_plain(args[0], item) for item in data)
        return tuple(from_plain(arg, item) for arg, item in zip(args, data, strict=True))
    if origin in (frozenset, set):
        (item_kind,) = get_args(kind)
        return frozenset(from_plain(item_kind, item) for item in data)
    if origin in (dict, Mapping) or (origin is not None and origin.__name__ == "Mapping"):
        key_kind, value_kind = get_args(kind)
        return {from_plain(key_kind, k): from_plain(value_kind, v) for k, v in data.items()}
    if data is None:
        return None
    if isinstance(kind, type):
        if issubclass(kind, Enum):
            return kind(data)
        if kind is Decimal:
            return Decimal(str(data))
        if kind is datetime:
            return dt_in(data)
        if kind is date:
            return date.fromisoformat(str(data))
        if kind in (bool, int, str):
            return kind(data)
        if is_dataclass(kind):
            hints = _hints(kind)
            values = {f.name: from_plain(hints[f.name], data[f.name]) for f in fields(kind) if f.name in data}
            return kind(**values)
    raise TypeError(f"cannot rebuild a {kind!r}")


def dumps(record: Any) -> str:
    """A record as compact JSON text."""
    return json.dumps(to_plain(record), separators=(",", ":"), sort_keys=True)


def loads(kind: type[T], text: str) -> T:
    """A record of ``kind`` from ``dumps``' text."""
    result: T = from_plain(kind, json.loads(text))
    return result
