"""What every workflow task shares: Powertools idempotency on a table of its own.

Each task with a side effect runs through ``once``: Powertools records the task's payload hash
(``INPROGRESS`` while it runs, ``COMPLETED`` with the result after), so a retried or redelivered task
with the same payload returns the stored result without running again. A task that *raised* leaves no
record (Powertools deletes it so the retry can run): for that case - the crash after an email went out -
the services' own delivery ledger and posting ledger are what stop a second email or a second post.

    attempt 1                        idempotency table           delivery ledger
    ─────────                        ─────────────────           ───────────────
    once(task) ───────────────────▶  INPROGRESS
      send email  ───────────────────────────────────────────▶   claimed → sent
      crash ✗                        (record deleted)
    attempt 2 (Step Functions Retry)
    once(task) ───────────────────▶  INPROGRESS
      send email  ───────────────────────────────────────────▶   sent already: nothing sent
      return ───────────────────────▶ COMPLETED (result)
    attempt 3 (a replay)  ──────────▶ COMPLETED: the stored result, nothing runs
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

# Results are kept long enough to cover every retry and replay of an execution (a day), not forever.
RESULT_SECONDS = 86_400

_layers: dict[str, DynamoDBPersistenceLayer] = {}
_lock = threading.Lock()


def _layer() -> DynamoDBPersistenceLayer | None:
    table = os.environ.get("MATTERLINE_IDEMPOTENCY_TABLE")
    if not table:
        return None
    with _lock:
        if table not in _layers:
            _layers[table] = DynamoDBPersistenceLayer(table_name=table)
        return _layers[table]


def once(
    task: str, payload: Mapping[str, Any], context: LambdaContext, run: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """Run ``run`` once per (task, payload); a repeat returns the first run's result."""
    layer = _layer()
    if layer is None:  # no table configured (unit tests): the services' ledgers still hold
        return run()
    config = IdempotencyConfig(expires_after_seconds=RESULT_SECONDS, raise_on_no_idempotency_key=True)
    config.register_lambda_context(context)

    @idempotent_function(data_keyword_argument="work", persistence_store=layer, config=config)
    def guarded(work: dict[str, Any]) -> dict[str, Any]:
        return run()

    # The task's name is part of the hashed payload: two tasks given the same input stay apart.
    result: dict[str, Any] = guarded(work={"task": task, **dict(payload)})
    return result
