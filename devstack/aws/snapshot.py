"""Save the devstack's DynamoDB tables to disk on stop, and load them back on start.

moto keeps everything in memory, so a local user's data would vanish with every Ctrl-C. The
devstack calls ``save_tables`` before stopping the embedded AWS and ``load_tables`` after creating
the tables of a new one.

One file per table, ``<directory>/<table>.json``::

    {"format": "matterline.dynamodb-snapshot/1", "table": "matterline-local",
     "saved_at": "2025-01-31T17:02:03+00:00", "count": 2,
     "items": [{"PK": {"S": "FIRM#1"}, "SK": {"S": "FIRM"}, "rate": {"N": "250.5"}}, ...]}

Items are DynamoDB JSON, the wire format of the low-level client (what ``TypeSerializer``
produces), so numbers stay exact decimal strings and sets stay sets; binary values (``B``, ``BS``)
are base64 text, as in DynamoDB's own S3 exports. A file is written to a temporary name and
renamed over the old one, so a crash while saving leaves the previous snapshot intact.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

__all__ = ["FORMAT", "load_tables", "read_snapshot", "save_tables", "snapshot_path"]

logger = logging.getLogger(__name__)

FORMAT = "matterline.dynamodb-snapshot/1"
_BATCH = 25  # BatchWriteItem's limit
_MAX_UNPROCESSED_ROUNDS = 12


class _Aws(Protocol):
    def client(self, service: str, **kwargs: Any) -> Any: ...


def snapshot_path(directory: str | Path, table_name: str) -> Path:
    """Where the snapshot of ``table_name`` lives in ``directory``."""
    return Path(directory) / f"{table_name}.json"


def save_tables(aws: _Aws, table_names: Iterable[str], directory: str | Path) -> dict[str, int]:
    """Write every item of each table to ``directory/<table>.json``; returns item counts by table.

    Scans with consistent reads and follows ``LastEvaluatedKey`` to the end. The directory is
    created if needed.
    """
    ddb = aws.client("dynamodb")
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for table in table_names:
        items = [_encode_item(item) for item in _scan(ddb, table)]
        document = {
            "format": FORMAT,
            "table": table,
            "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "count": len(items),
            "items": items,
        }
        _write_atomically(snapshot_path(target, table), document)
        counts[table] = len(items)
        logger.info("saved %d items of %s", len(items), table)
    return counts


def load_tables(aws: _Aws, table_names: Iterable[str], directory: str | Path) -> dict[str, int]:
    """Put every saved item back into its table; returns item counts by table.

    A table without a snapshot file is left alone (count 0). Items are written with
    ``BatchWriteItem`` (puts: an item already there with the same key is replaced; items not in
    the snapshot are not touched), retrying unprocessed items with back-off.
    """
    ddb = aws.client("dynamodb")
    counts: dict[str, int] = {}
    for table in table_names:
        path = snapshot_path(directory, table)
        if not path.exists():
            counts[table] = 0
            continue
        items = read_snapshot(path)
        for start in range(0, len(items), _BATCH):
            requests = [
                {"PutRequest": {"Item": _decode_item(item)}} for item in items[start : start + _BATCH]
            ]
            _batch_write(ddb, table, requests)
        counts[table] = len(items)
        logger.info("loaded %d items into %s", len(items), table)
    return counts


def read_snapshot(path: str | Path) -> list[dict[str, Any]]:
    """The items (DynamoDB JSON, binary as base64) of one snapshot file."""
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    if document.get("format") != FORMAT:
        raise ValueError(f"{path} is not a {FORMAT} file")
    items = document.get("items")
    if not isinstance(items, list):
        raise ValueError(f"{path} has no item list")
    return items


# ----------------------------------------------------------------------------------------------


def _scan(ddb: Any, table: str) -> Iterator[dict[str, Any]]:
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = ddb.scan(**kwargs)
        yield from page.get("Items", [])
        if not page.get("LastEvaluatedKey"):
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _batch_write(ddb: Any, table: str, requests: list[dict[str, Any]]) -> None:
    pending = {table: requests}
    for attempt in range(_MAX_UNPROCESSED_ROUNDS):
        unprocessed = ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        if not unprocessed:
            return
        pending = unprocessed
        time.sleep(min(0.05 * 2**attempt, 2.0))
    raise RuntimeError(f"{table}: items still unprocessed after {_MAX_UNPROCESSED_ROUNDS} rounds")


def _encode_item(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _encode_value(value) for name, value in item.items()}


def _decode_item(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _decode_value(value) for name, value in item.items()}


def _encode_value(value: dict[str, Any]) -> dict[str, Any]:
    """One AttributeValue from the client (bytes for B/BS) → JSON-safe (base64 for B/BS)."""
    ((kind, data),) = value.items()
    if kind == "B":
        return {"B": base64.b64encode(bytes(data)).decode("ascii")}
    if kind == "BS":
        return {"BS": [base64.b64encode(bytes(d)).decode("ascii") for d in data]}
    if kind == "M":
        return {"M": {k: _encode_value(v) for k, v in data.items()}}
    if kind == "L":
        return {"L": [_encode_value(v) for v in data]}
    return {kind: data}  # S, N, SS, NS (strings), BOOL, NULL


def _decode_value(value: dict[str, Any]) -> dict[str, Any]:
    """The inverse of ``_encode_value``."""
    ((kind, data),) = value.items()
    if kind == "B":
        return {"B": base64.b64decode(data)}
    if kind == "BS":
        return {"BS": [base64.b64decode(d) for d in data]}
    if kind == "M":
        return {"M": {k: _decode_value(v) for k, v in data.items()}}
    if kind == "L":
        return {"L": [_decode_value(v) for v in data]}
    return {kind: data}


def _write_atomically(path: Path, document: Any) -> None:
    """Write JSON to a temporary file beside ``path``, fsync it, then rename it over ``path``.

    The rename is atomic on POSIX: a reader (or a crash) sees the old file or the new one, never
    half of one.
    """
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, ensure_ascii=False, separators=(",", ":"))
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    # Make the rename itself durable (best effort: not every platform can fsync a directory).
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
