"""An ``EmailSender`` that keeps what it was given (tests, and runs without SES)."""

from __future__ import annotations

import itertools
import threading

from chalicelib.ports import OutgoingEmail


class RecordingEmailSender:
    """Remembers every email, in order; ``fail_next`` makes the next sends raise (fault injection)."""

    def __init__(self) -> None:
        self.sent: list[OutgoingEmail] = []
        self.fail_next = 0
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def send(self, email: OutgoingEmail) -> str:
        with self._lock:
            if self.fail_next:
                self.fail_next -= 1
                raise ConnectionError("the mail service did not answer")
            self.sent.append(email)
            return f"memory-{next(self._ids)}"
