"""The public API as one person, for browser tests: seed what a page needs and check what the page did."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class PublicApi:
    """Calls with one person's token; a refusal fails the test with the API's own explanation."""

    def __init__(self, base: str, token: str, timeout: float = 600) -> None:
        self.base, self.token, self.timeout = base, token, timeout

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """The decoded JSON answer (None for an empty one)."""
        request = urllib.request.Request(
            f"{self.base}{path}",
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                text = response.read()
                return json.loads(text) if text else None
        except urllib.error.HTTPError as error:
            raise AssertionError(f"{method} {path}: {error.code} {error.read().decode()}") from None
