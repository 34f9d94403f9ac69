"""``WorkQueue`` in memory: tests drain it into the real worker; a local run without SQS keeps it."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any


class MemoryWorkQueue:
    """Keeps messages in order, with the delay each was sent with."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[tuple[dict[str, Any], int]] = []
        self.sent = 0

    def send(self, messages: Sequence[Mapping[str, Any]], delay_seconds: int = 0) -> None:
        with self._lock:
            self._messages.extend((dict(message), delay_seconds) for message in messages)
            self.sent += len(messages)

    def take(self) -> list[dict[str, Any]]:
        """Every message waiting, oldest first; the queue is empty afterwards."""
        with self._lock:
            taken = [message for message, _ in self._messages]
            self._messages.clear()
        return taken

    def waiting(self) -> list[tuple[dict[str, Any], int]]:
        """The messages waiting and their delays, without taking them."""
        with self._lock:
            return list(self._messages)
