"""``WorkQueue`` on SQS: the work queue of infra/template.yaml, consumed by the workers in lambdas/."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

# SQS takes at most 10 messages per SendMessageBatch and delays of at most 15 minutes.
_BATCH = 10
_MAX_DELAY_SECONDS = 900


class WorkQueueError(Exception):
    """SQS refused some messages (the caller's request fails, so its client sends again)."""


class SqsWorkQueue:
    """Sends JSON messages to one SQS queue, ten per request."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url

    def send(self, messages: Sequence[Mapping[str, Any]], delay_seconds: int = 0) -> None:
        """Queue ``messages``; each becomes visible after ``delay_seconds`` (at most 900)."""
        delay = max(0, min(_MAX_DELAY_SECONDS, delay_seconds))
        for offset in range(0, len(messages), _BATCH):
            chunk = messages[offset : offset + _BATCH]
            reply = self._sqs.send_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {
                        "Id": str(index),
                        "MessageBody": json.dumps(message, separators=(",", ":"), sort_keys=True),
                        "DelaySeconds": delay,
                    }
                    for index, message in enumerate(chunk)
                ],
            )
            failed = reply.get("Failed") or []
            if failed:
                codes = sorted({str(entry.get("Code", "?")) for entry in failed})
                raise WorkQueueError(
                    f"SQS refused {len(failed)} of {len(chunk)} messages ({', '.join(codes)})"
                )
