"""Search: accounts by handle and display name, posts by text and hashtag, ranked, in keyset pages.

Search is a read, open to guests. Blocks apply both ways: an account that blocks the viewer, or that
the viewer blocks, is never among the results, nor are its posts (the repository filters with the same
SQL condition as every other read path). A query of `MIN_ANYWHERE_CHARS` or more characters matches
anywhere in a handle, display name or post text; a shorter one only matches the start of a handle,
where a substring would match nearly everything and say little. Posts have no handle, so a short
query finds no posts; `#tag` finds the posts carrying that hashtag, however short it is.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import unicodedata
import uuid
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import orjson

from hub.errors import InvalidCursor, ValidationFailed
from hub.models import Principal
from hub.ports.search import (
    MatchMode,
    RankedPost,
    RankedProfile,
    RankedWindow,
    RankPosition,
    SearchQuery,
    SearchRepo,
)
from hub.services.posts_input import HASHTAG_MAX_CHARS, parse_hashtags


class _Ranked(Protocol):
    @property
    def position(self) -> RankPosition: ...


T = TypeVar("T")
R = TypeVar("R", bound=_Ranked)

# The whole query is one hashtag, as posts spell them (`hub.services.posts_input.parse_hashtags`).
_ONE_HASHTAG = re.compile(rf"#\w{{1,{HASHTAG_MAX_CHARS}}}")

MIN_ANYWHERE_CHARS = 3
MAX_QUERY_CHARS = 100


@dataclass(frozen=True, slots=True)
class RankCursor:
    """Position after the last item of a ranked page: (its rank, its id)."""

    rank: float
    id: str

    def encode(self) -> str:
        raw = orjson.dumps([self.rank, self.id])
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str | None) -> RankCursor | None:
        if not token:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            rank, ident = orjson.loads(raw)
            # bool is an int to Python, and NaN or infinities are no rank a row can have.
            if isinstance(rank, bool) or not isinstance(rank, int | float) or not math.isfinite(rank):
                raise ValueError(rank)
            if not isinstance(ident, str) or len(ident) > 36:
                raise ValueError(ident)
            return cls(float(rank), str(uuid.UUID(ident)))
        except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
            raise InvalidCursor("The cursor is invalid.") from None


@dataclass(frozen=True, slots=True)
class RankedPage(Generic[T]):
    """A best-first page: `next_cursor` continues with lower-ranked items (None at the end);
    `prev_cursor` is the best item's position, from which `since` reads the page above this one
    (None on an empty page)."""

    items: list[T]
    next_cursor: str | None
    prev_cursor: str | None = None


def clean_query(text: str) -> SearchQuery:
    """The query as it is matched: NFC, without surrounding space; 422 when empty or too long."""
    cleaned = unicodedata.normalize("NFC", text).strip()
    if not cleaned:
        raise ValidationFailed({"q": "must not be empty"})
    if len(cleaned) > MAX_QUERY_CHARS:
        raise ValidationFailed({"q": f"must be at most {MAX_QUERY_CHARS} characters"})
    mode = MatchMode.ANYWHERE if len(cleaned) >= MIN_ANYWHERE_CHARS else MatchMode.HANDLE_PREFIX
    return SearchQuery(cleaned, mode)


def clean_post_query(text: str) -> SearchQuery:
    """As `clean_query`, and a query starting with `#` must be one hashtag: it matches that tag exactly
    (case-folded as posts store it), whatever its length; anything else after a `#` is a 422."""
    query = clean_query(text)
    if not query.text.startswith("#"):
        return query
    tags = parse_hashtags(query.text) if _ONE_HASHTAG.fullmatch(query.text) else []
    if not tags:
        raise ValidationFailed({"q": "a query starting with # must be one hashtag: letters, digits or _"})
    return SearchQuery(tags[0], MatchMode.HASHTAG)


def _window(limit: int, cursor: str | None, since: str | None = None) -> RankedWindow:
    # One row more than asked only tells whether there is a page beyond.
    above = RankCursor.decode(since)
    if above is not None:
        return RankedWindow(limit + 1, before=(above.rank, above.id))
    after = RankCursor.decode(cursor)
    position: RankPosition | None = (after.rank, after.id) if after else None
    return RankedWindow(limit + 1, position)


def _page(rows: list[R], limit: int, window: RankedWindow) -> RankedPage[R]:
    """`rows` best first; read backwards (`before`) they are the page just above the cursor plus, when
    there is more above, one better row first."""
    if window.before is not None:
        items = rows[-limit:] if len(rows) > limit else rows
        if not items:  # nothing ranks above: the cursor's own page comes next
            token = RankCursor(*window.before).encode()
            return RankedPage([], token, None)
        return RankedPage(items, RankCursor(*items[-1].position).encode(), RankCursor(*items[0].position).encode())
    items = rows[:limit]
    more = len(rows) > limit
    best = RankCursor(*items[0].position).encode() if items else None
    return RankedPage(items, RankCursor(*items[-1].position).encode() if more else None, best)


class SearchService:
    def __init__(self, repo: SearchRepo) -> None:
        self.repo = repo

    async def users(
        self, viewer: Principal, q: str, *, limit: int, cursor: str | None = None, since: str | None = None
    ) -> RankedPage[RankedProfile]:
        """Accounts matching `q`, best first: the exact handle, then handles that start with it, then the
        closest matches (trigram similarity where the server has pg_trgm)."""
        query = clean_query(q)
        window = _window(limit, cursor, since)
        rows = await self.repo.search_users(viewer.user_id, query, window)
        return _page(rows, limit, window)

    async def posts(
        self, viewer: Principal, q: str, *, limit: int, cursor: str | None = None, since: str | None = None
    ) -> RankedPage[RankedPost]:
        """Posts `viewer` may find (public, or followers-only of an account it follows; never unlisted)
        whose text contains `q`, closest first; or, for `#tag`, those carrying the tag, newest first."""
        query = clean_post_query(q)
        window = _window(limit, cursor, since)
        rows = await self.repo.search_posts(viewer.user_id, query, window)
        return _page(rows, limit, window)
