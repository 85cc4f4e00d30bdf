"""Ports of search: accounts by handle and display name, posts by text and hashtag."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from hub.ports.posts import PostRecord
from hub.ports.social import ProfileRecord

# A keyset position in a ranked list: (the item's rank, its id). Pages run by rank descending, then id
# descending, so a position names exactly one place and a page starts strictly after it.
RankPosition = tuple[float, str]


class MatchMode(StrEnum):
    """How a query matches, decided by its length (`hub.services.search.MIN_ANYWHERE_CHARS`) and, for
    posts, by a leading `#`."""

    ANYWHERE = "anywhere"  # 3+ characters: a substring of the handle, display name or text (trigram-served)
    HANDLE_PREFIX = "handle_prefix"  # 1-2 characters: the start of a handle; no posts match
    HASHTAG = "hashtag"  # posts only, `#tag`: `text` is the case-folded tag, matched exactly


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A cleaned query: `text` is NFC-normalised and stripped, never empty."""

    text: str
    mode: MatchMode


@dataclass(frozen=True, slots=True)
class RankedWindow:
    """Up to `limit` items ranked strictly below `after` (None: from the top), best first; or with
    `before`, the items ranked just above it, worst first (the page before, read backwards)."""

    limit: int
    after: RankPosition | None = None
    before: RankPosition | None = None

    @property
    def position(self) -> RankPosition | None:
        return self.after if self.after is not None else self.before


@dataclass(frozen=True, slots=True)
class RankedProfile:
    profile: ProfileRecord
    rank: float

    @property
    def position(self) -> RankPosition:
        return self.rank, self.profile.id


@dataclass(frozen=True, slots=True)
class RankedPost:
    """A post found by search, as the viewer sees it (the shape of `PostRepo.get`), with its rank."""

    post: PostRecord
    rank: float

    @property
    def position(self) -> RankPosition:
        return self.rank, self.post.id


class SearchRepo(Protocol):
    async def search_users(self, viewer: str, query: SearchQuery, window: RankedWindow) -> list[RankedProfile]:
        """Registered accounts matching `query`, best first, without any that block or are blocked by
        `viewer` (either way). Ranks and ids are stable while the accounts do not change, so keyset
        pages over (rank, id) have no gaps and no duplicates."""
        ...

    async def search_posts(self, viewer: str, query: SearchQuery, window: RankedWindow) -> list[RankedPost]:
        """Posts whose text matches `query` (or, for a HASHTAG query, that carry the tag), best first.

        - only posts `viewer` may see in search: `public` ones, plus `followers` ones when `viewer` is an
          accepted follower of the author or the author; never `unlisted` ones (not even the author's),
          never by an author that blocks or is blocked by `viewer`. Deleted posts are deleted rows, so
          they are gone from the next search on;
        - ANYWHERE: `text ILIKE '%q%'` (q escaped) served by a conditional `gin (text gin_trgm_ops)`
          index, ranked by `similarity(text, q)`, ties by id; HANDLE_PREFIX has no posts meaning and
          returns no rows;
        - HASHTAG: posts carrying exactly that tag (`post_hashtags`), newest first (the rank is the
          post's created_at in epoch seconds);
        - pages over (rank, id) exactly as `search_users`.
        """
        ...
