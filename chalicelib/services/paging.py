"""Walking every page of a listing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

from chalicelib.ports import Page

T = TypeVar("T")


def every_item(fetch: Callable[[str | None], Page[T]]) -> Iterator[T]:
    """Every item of a paged listing; ``fetch(cursor)`` returns one page."""
    cursor: str | None = None
    while True:
        page = fetch(cursor)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor
