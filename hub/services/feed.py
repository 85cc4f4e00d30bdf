"""The home feed: the posts of the accounts I follow and my own, newest first.

Fan-out on read with a cache. Each account's recent feed entries are kept in the feed cache
(`hub.ports.feed`); a miss rebuilds them with one database query. The cache is kept right as things
happen: a new post is written into its followers' cached lists in a background task after its commit
(on the instance that committed it: the Redis cache is shared, and every instance then reads it);
a deleted post is taken out of them; follow, unfollow, block and mute change the follower's list
before they answer. Whatever the cache holds, every post is loaded with the visibility, block and
mute rules checked again, so a deleted or hidden post never shows even before the cache catches up.

Two things are always read from the database and merged in: posts of hot authors (more followers
than `HUB_FEED_HOT_FOLLOWERS`), which are not written to every follower's list (docs/performance.md,
"Home feed", has the measurement), and the newest `HEAD_SECONDS` of everyone's posts, which covers
the moment between a post's commit and its fan-out.

Positions are final only below the database's settled time (`FeedRepo.settled`): pages stop there,
so `since=<prev_cursor>` never skips a post that committed late with an earlier position.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.errors import FeedCacheUnavailable
from hub.logs import log_event
from hub.models import Principal
from hub.pagination import TwoWayPage, two_way_page
from hub.ports.feed import CachedWindow, FeedCache, FeedEntry, FeedRepo, Window
from hub.ports.posts import PostRecord
from hub.ports.social import GraphChange
from hub.services.personal import PersonalRooms
from hub.services.social import ORIGIN_ID, PageRequest, SocialService
from hub.tasks import stop_tasks

log = logging.getLogger(__name__)

# How far back every read merges everyone's posts from the database: a fan-out lands within
# milliseconds of its commit; this is its margin.
HEAD_SECONDS = 10.0

_FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)

# The spans a feed rebuild reads, newest first, until one holds a full cache (None: all of it).
REBUILD_SPANS: tuple[timedelta | None, ...] = (*(timedelta(days=4**k) for k in range(5)), None)


class FeedService:
    """Reads home feeds and keeps their cache right (as the post and graph listener of the hub)."""

    def __init__(self, repo: FeedRepo, cache: FeedCache, personal: PersonalRooms, *, hot_followers: int) -> None:
        self.repo = repo
        self.cache = cache
        self.personal = personal
        self.hot_followers = hot_followers
        self._tasks: set[asyncio.Task[None]] = set()

    # --- reading ----------------------------------------------------------------------------

    async def feed(self, viewer: Principal, page: PageRequest) -> TwoWayPage[PostRecord]:
        window, cursor, since = SocialService._window(page)
        below = await self.repo.settled()
        posts: list[PostRecord] | None = None
        if since is None and not viewer.is_guest:
            entries = await self._cached(viewer.user_id, window, below)
            if entries is not None:
                posts = await self._load(viewer.user_id, entries)
        if posts is None:
            entries = await self.repo.entries(viewer.user_id, window, below=below)
            posts = await self._load(viewer.user_id, entries) or []
        return two_way_page(posts, page.limit, lambda p: p.position, cursor=cursor, since=since, origin_id=ORIGIN_ID)

    async def _cached(self, viewer: str, window: Window, below: datetime) -> list[FeedEntry] | None:
        """The window from the cache merged with what is always read from the database; None when the
        cache cannot answer it exactly (not cached and not rebuilt, below its horizon, unavailable)."""
        try:
            found = await self.cache.read(viewer, window)
            if found is None:
                found = await self._rebuild(viewer, window)
        except FeedCacheUnavailable:
            log.warning("feed cache unavailable; reading the feed from the database")
            return None
        if found is None:
            return None
        settled = [e for e in found.entries if e.at < below]
        if len(settled) < window.limit and (found.horizon is not None or len(settled) < len(found.entries)):
            return None  # the page runs past what the list holds exactly
        head = below - timedelta(seconds=HEAD_SECONDS)
        extra = await self.repo.merged(viewer, window, below=below, hot_followers=self.hot_followers, newer_than=head)
        merged = {e.post_id: e for e in settled}
        merged.update((e.post_id, e) for e in extra)
        return sorted(merged.values(), key=lambda e: e.position, reverse=True)[: window.limit]

    async def _load(self, viewer: str, entries: list[FeedEntry]) -> list[PostRecord] | None:
        """The posts in the entries' order; None when one of them is gone or hidden (the cache has not
        caught up yet), so that the page is read again from the database rather than come up short."""
        found = {p.id: p for p in await self.repo.posts(viewer, [e.post_id for e in entries])}
        if len(found) < len(entries):
            return None
        return [found[e.post_id] for e in entries]

    async def _rebuild(self, viewer: str, window: Window | None = None) -> CachedWindow | None:
        token = await self.cache.begin_rebuild(viewer)
        capacity = self.cache.capacity
        # The newest `capacity` entries, read over the last day first and then over ever longer spans
        # until there are enough: each followed account's scan then stops at the span's start instead
        # of reading up to `capacity` of its posts (20,000 index entries for 200 accounts). Once a span
        # holds `capacity` entries they are the newest of all, whatever the clocks say.
        now = datetime.now(UTC)
        for span in REBUILD_SPANS:
            since = None if span is None else now - span
            rows = await self.repo.entries(viewer, Window(capacity), below=_FAR_FUTURE, not_before=since)
            if len(rows) >= capacity:
                break
        if not await self.cache.replace(viewer, token, rows, exhaustive=len(rows) < capacity):
            return None
        return await self.cache.read(viewer, window) if window is not None else None

    async def refresh(self, viewer: Principal) -> None:
        """Rebuild the account's cached feed from the database (`POST /feed/refresh`)."""
        if viewer.is_guest:
            return
        try:
            await self._rebuild(viewer.user_id)
        except FeedCacheUnavailable:
            log.warning("feed cache unavailable; nothing to refresh")

    async def backfill(
        self, active_within: float, per_second: float, progress: Callable[[int, int], None] = lambda _d, _t: None
    ) -> dict[str, int]:
        """`hub batch feeds`: rebuild the cached feeds of the accounts active within `active_within`
        seconds, at most `per_second` a second so that the database keeps serving requests."""
        accounts = await self.repo.active_accounts(active_within)
        rebuilt = 0
        for n, user_id in enumerate(accounts, 1):
            started = time.monotonic()
            await self._rebuild(user_id)
            rebuilt += 1
            progress(n, len(accounts))
            # Pacing, not synchronisation: the job is throttled to spare the database.
            await asyncio.sleep(max(0.0, 1.0 / per_second - (time.monotonic() - started)))
        return {"feeds": rebuilt}

    # --- keeping the cache right ------------------------------------------------------------

    def post_created(self, post: PostRecord) -> None:
        self._background(self._fan_out(post), "feed-fan-out")

    def post_deleted(self, post_id: str, author_id: str) -> None:
        self._background(self._take_out(post_id, author_id), "feed-take-out")

    async def _fan_out(self, post: PostRecord) -> None:
        audience = await self.repo.audience(post.author_id)
        hot = audience.followers_count > self.hot_followers
        entry = FeedEntry(post.id, post.author_id, post.created_at)
        # The push first: it does not wait for the lists (a feed read merges the newest posts from the
        # database), and the author's own sockets too, for its other tabs.
        await self.personal.feed_post([post.author_id, *audience.followers], post.id, post.author_id)
        try:
            await self.cache.add([post.author_id, *([] if hot else audience.followers)], [entry])
        except FeedCacheUnavailable:
            log.warning("feed cache unavailable; a new post is read from the database")
        log_event("feed_fan_out", post_id=post.id, followers=len(audience.followers), hot=hot)

    async def _take_out(self, post_id: str, author_id: str) -> None:
        followers = await self.repo.followers(author_id)
        try:
            await self.cache.remove_post([author_id, *followers], post_id, author_id)
        except FeedCacheUnavailable:
            log.warning("feed cache unavailable; a deleted post stays hidden by the database")

    async def graph_changed(self, change: GraphChange, subject: str, other: str) -> None:
        """`subject` followed, unfollowed, blocked, muted or unmuted `other`: change their lists now."""
        try:
            if change in (GraphChange.FOLLOWED, GraphChange.UNMUTED):
                await self._invalidate(subject)
            elif change in (GraphChange.UNFOLLOWED, GraphChange.MUTED):
                await self.cache.remove_author(subject, other)
            elif change is GraphChange.BLOCKED:
                await self.cache.remove_author(subject, other)
                await self.cache.remove_author(other, subject)
        except FeedCacheUnavailable:
            # A list the outage left stale stays right to read: entries of accounts no longer followed,
            # or muted, are dropped when loaded (the page is then read from the database); a new
            # follow's older posts show once the list is rebuilt (`POST /feed/refresh`, or its expiry).
            log.warning("feed cache unavailable; lists unchanged", extra={"fields": {"change": change.value}})

    async def _invalidate(self, account: str) -> None:
        # A new token first, so that a rebuild already running (which read the database before the
        # change) cannot put its list back; the next read rebuilds.
        await self.cache.begin_rebuild(account)
        await self.cache.forget(account)

    # --- lifetime ---------------------------------------------------------------------------

    def _background(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.ensure_future(self._logged(work, name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _logged(work: Coroutine[Any, Any, None], name: str) -> None:
        try:
            await work
        except Exception:
            log.exception("feed background work failed", extra={"fields": {"task": name}})

    async def drained(self) -> None:
        """Wait until the background work begun so far is done (shutdown, tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    async def close(self) -> None:
        await stop_tasks(self._tasks)
