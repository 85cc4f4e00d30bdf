"""Opaque keyset cursors: stable under concurrent inserts, unlike OFFSET."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar

import orjson

from hub.errors import BadRequest

T = TypeVar("T")

MAX_LIMIT = 100


@dataclass(frozen=True, slots=True)
class Cursor:
    """Position after the last item seen: (sort key, id) of that item."""

    at: datetime
    id: str

    def encode(self) -> str:
        raw = orjson.dumps([self.at.isoformat(), self.id])
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str | None) -> Cursor | None:
        if not token:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            at, ident = orjson.loads(raw)
            return cls(datetime.fromisoformat(at), str(ident))
        except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
            raise BadRequest("The cursor is invalid.", code="invalid_cursor") from None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def page_of(rows: list[T], limit: int, position: Callable[[T], tuple[datetime, str]]) -> Page[T]:
    """`rows` were fetched with LIMIT limit+1; the extra row only tells whether there is more.

    `position` gives an item's (sort key, id), which the next page starts after.
    """
    if len(rows) <= limit:
        return Page(rows, None)
    items = rows[:limit]
    at, ident = position(items[-1])
    return Page(items, Cursor(at, ident).encode())


# Where a list starts: the position before every item (a `since` from here reads from the oldest).
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class TwoWayPage(Generic[T]):
    """A newest-first page that can be followed both ways.

    `next_cursor` continues with older items (None at the end); `prev_cursor` is the newest item's
    position, or where the request stood when the page is empty, so it is always set: `since=` it
    reads what arrived after, oldest of those first, so that nothing is skipped however much arrived.
    """

    items: list[T]
    next_cursor: str | None
    prev_cursor: str


def two_way_page(
    rows: list[T],
    limit: int,
    position: Callable[[T], tuple[datetime, str]],
    *,
    cursor: Cursor | None,
    since: Cursor | None,
    origin_id: str = "",
) -> TwoWayPage[T]:
    """`rows`: with `since`, up to `limit` items just after it, oldest first; otherwise fetched newest
    first with LIMIT limit+1 after `cursor`. `origin_id` is the smallest id of the list's id type."""
    if since is not None:
        items = list(reversed(rows[:limit]))
        if not items:
            return TwoWayPage(items, None, since.encode())
        return TwoWayPage(items, Cursor(*position(items[-1])).encode(), Cursor(*position(items[0])).encode())
    page = page_of(rows, limit, position)
    newest = Cursor(*position(page.items[0])) if page.items else (cursor or Cursor(EPOCH, origin_id))
    return TwoWayPage(page.items, page.next_cursor, newest.encode())
