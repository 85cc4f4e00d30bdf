"""Opaque keyset cursors: stable under concurrent inserts, unlike OFFSET."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

import orjson

from hub.errors import InvalidCursor

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
            raise InvalidCursor("The cursor is invalid.") from None


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
