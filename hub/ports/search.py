"""Ports of search: accounts by handle and display name now, posts by text and hashtag once posts exist."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from hub.ports.social import ProfileRecord

# A keyset position in a ranked list: (the item's rank, its id). Pages run by rank descending, then id
# descending, so a position names exactly one place and a page starts strictly after it.
RankPosition = tuple[float, str]


class MatchMode(StrEnum):
    """How a query matches, decided by its length (`hub.services.search.MIN_ANYWHERE_CHARS`)."""

    ANYWHERE = "anywhere"  # 3+ characters: a substring of the handle or display name (trigram-served)
    HANDLE_PREFIX = "handle_prefix"  # 1-2 characters: the start of a handle


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A cleaned query: `text` is NFC-normalised and stripped, never empty."""

    text: str
    mode: MatchMode


@dataclass(frozen=True, slots=True)
class RankedWindow:
    """Up to `limit` items ranked strictly below `after` (None: from the top)."""

    limit: int
    after: RankPosition | None = None


@dataclass(frozen=True, slots=True)
class RankedProfile:
    profile: ProfileRecord
    rank: float

    @property
    def position(self) -> RankPosition:
        return self.rank, self.profile.id


@dataclass(frozen=True, slots=True)
class RankedPostId:
    """A post found by search, with its rank; the posts capability loads what the viewer sees of it."""

    id: str
    rank: float

    @property
    def position(self) -> RankPosition:
        return self.rank, self.id


class SearchRepo(Protocol):
    async def search_users(self, viewer: str, query: SearchQuery, window: RankedWindow) -> list[RankedProfile]:
        """Registered accounts matching `query`, best first, without any that block or are blocked by
        `viewer` (either way). Ranks and ids are stable while the accounts do not change, so keyset
        pages over (rank, id) have no gaps and no duplicates."""
        ...

    async def search_posts(self, viewer: str, query: SearchQuery, window: RankedWindow) -> list[RankedPostId]:
        """Posts whose text matches `query` (or, for a `#tag` query, that carry the hashtag), best first.

        Not wired yet: it needs the `posts` table. The contract for the change that adds it:
        - only posts `viewer` may see in search: `public` ones, plus `followers` ones when `viewer` is an
          accepted follower of the author or the author; never `unlisted` ones, never deleted
          (`deleted_at`) or taken-down ones, never by an author that blocks or is blocked by `viewer`
          (`storage.postgres.social.blocked_between`);
        - ANYWHERE: `text ILIKE '%q%'` (q escaped as in `storage.postgres.search.like_pattern`) served by a
          conditional `gin (text gin_trgm_ops)` index, ranked by `similarity(text, q)`, ties by id;
          HANDLE_PREFIX (1-2 characters) has no posts meaning and returns no rows;
        - a query starting with `#` matches the hashtags table exactly (lower-cased tag), ranked by
          recency (the post's created_at as epoch seconds is a valid rank);
        - pages over (rank, id) exactly as `search_users`.
        """
        ...
