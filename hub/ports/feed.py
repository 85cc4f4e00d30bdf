"""The home feed's cache: per account, the ids of its most recent feed entries, newest first.

The cache holds positions, not posts: the feed service reads a window of entries here and then loads
the posts themselves (visibility, blocks and deletions checked again) from the database. Each list is
capped (`capacity`, HUB_FEED_CACHE_ITEMS) and expires when its account stops reading it.

Exactness. A list is exact at and above its `horizon`: every feed entry with a position >= horizon is
in the list (None: the list holds the whole feed). Below it, the feed continues in the database. A
rebuild from the database sets it (the oldest entry it got when it got `capacity` of them); trimming
at the cap raises it; removals leave it (what they remove was never to be shown).

Rebuilds against concurrent writes. `begin_rebuild` before reading the database, `replace` after:
whatever `add` brought in between (a post committed after the database read) is kept, and whatever
`remove_post` / `remove_author` took out in between stays out, so a rebuild never loses a new post nor
brings back a deleted one. Only the latest rebuild of an account may replace its list.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from hub.ports.posts import PostRecord
from hub.ports.social import Position, Window

__all__ = ["Audience", "CachedWindow", "FeedCache", "FeedEntry", "FeedRepo", "Position", "Window"]


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One post in an account's feed: its id, its author, its keyset position (created_at, id)."""

    post_id: str
    author_id: str
    at: datetime

    @property
    def position(self) -> Position:
        return self.at, self.post_id


@dataclass(frozen=True, slots=True)
class CachedWindow:
    """What a read found in a cached list.

    `entries` follow `Window`: newest first older than `before` (or from the top), oldest first newer
    than `after`. `horizon` is the list's: a `before` read that returns fewer than `limit` entries
    continues in the database below the last one when `horizon` is set; an `after` read is only
    complete when `after >= horizon` (else entries between `after` and the horizon were trimmed).
    """

    entries: list[FeedEntry]
    horizon: Position | None


class FeedCache(Protocol):
    """Per-account capped lists of feed entries ordered by (at, post_id), each operation atomic.

    An account is either not cached (`read` answers None and `add` leaves it alone: a list made of
    new posts only would hide the older ones) or cached, possibly empty. Entries older than a
    list's horizon are not added to it. Implementations: `storage.memory.feed` (one process) and
    `storage.redis.feed` (shared by every instance).
    """

    capacity: int

    async def read(self, account: str, window: Window) -> CachedWindow | None:
        """A window of the account's list, None when it is not cached; renews the list's TTL."""
        ...

    async def add(self, accounts: Collection[str], entries: Sequence[FeedEntry]) -> None:
        """Fan-out on write: put `entries` into every cached (or rebuilding) list of `accounts`,
        trimming each to `capacity`. Idempotent."""
        ...

    async def remove_post(self, accounts: Collection[str], post_id: str, author_id: str) -> None:
        """Take one post out of the lists of `accounts` (the author and its followers); `author_id` is
        the post's author (an entry is known by both)."""
        ...

    async def remove_author(self, account: str, author_id: str) -> None:
        """Take every entry of `author_id` out of one account's list (unfollow, block, mute)."""
        ...

    async def begin_rebuild(self, account: str) -> str:
        """Start a rebuild; the token `replace` needs. Call it before reading the database."""
        ...

    async def replace(self, account: str, token: str, entries: Sequence[FeedEntry], *, exhaustive: bool) -> bool:
        """Set the account's whole list at once: `entries` (its newest feed entries from the database;
        `exhaustive` when the database had no more) plus what was added since `begin_rebuild`, minus
        what was removed since. False, and nothing written, when a later rebuild began (its replace
        wins) or the rebuild expired."""
        ...

    async def forget(self, account: str) -> None:
        """Drop the account's list: it is not cached any more (the next read rebuilds it)."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Audience:
    """Who a new post of `author_id` reaches: its followers that do not mute it, and how many follow it."""

    followers: list[str]
    followers_count: int


class FeedRepo(Protocol):
    """The home feed in the database: the accounts one follows (and oneself), minus mutes and blocks."""

    async def settled(self) -> datetime:
        """A time before which no post can still commit: every feed position below it is final.

        A post's position is taken when it is inserted, not when it commits, so a later commit can land
        below positions already read; pages stop at this time so that `since` never skips one.
        """
        ...

    async def entries(
        self, viewer: str, window: Window, *, below: datetime, not_before: datetime | None = None
    ) -> list[FeedEntry]:
        """Feed entries of `viewer` in `window`, older than `below` and (when given) not older than
        `not_before`."""
        ...

    async def merged(
        self, viewer: str, window: Window, *, below: datetime, hot_followers: int, newer_than: datetime
    ) -> list[FeedEntry]:
        """What a cached read merges in: the feed entries in `window`, older than `below`, of the
        accounts with more than `hot_followers` followers, and everyone's newer than `newer_than`."""
        ...

    async def posts(self, viewer: str, ids: list[str]) -> list[PostRecord]:
        """The posts among `ids` still in `viewer`'s feed (not deleted, visible, followed, not muted)."""
        ...

    async def audience(self, author_id: str) -> Audience: ...

    async def followers(self, author_id: str) -> list[str]:
        """Every follower of the account (whose cached feeds may hold its posts)."""
        ...

    async def active_accounts(self, since_seconds: float) -> list[str]:
        """Registered accounts with a login (a live refresh token) issued in the last `since_seconds`."""
        ...
