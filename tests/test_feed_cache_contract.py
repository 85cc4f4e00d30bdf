"""One contract for every `FeedCache` implementation: memory and Redis behave the same."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from hub.ports.feed import FeedCache, FeedEntry, Position, Window
from storage.memory.feed import MemoryFeedCache
from storage.redis.feed import RedisFeedCache
from tests.support.services import RedisHandle

CAP = 10
T0 = datetime(2026, 1, 1, tzinfo=UTC)

MakeCache = Callable[..., FeedCache]


@pytest.fixture(params=["memory", "redis"])
async def make_cache(
    request: pytest.FixtureRequest, redis_service: RedisHandle, redis_prefix: str
) -> AsyncIterator[MakeCache]:
    """Caches over one backend; two made by one test share it (two hub instances on one Redis)."""
    if request.param == "memory":
        memory: dict[tuple[int, int], MemoryFeedCache] = {}

        def make_memory(capacity: int = CAP, ttl: int = 60) -> FeedCache:
            return memory.setdefault((capacity, ttl), MemoryFeedCache(capacity, ttl))

        yield make_memory
        return
    redis = Redis.from_url(redis_service.url)

    def make_redis(capacity: int = CAP, ttl: int = 60) -> FeedCache:
        return RedisFeedCache(redis, redis_prefix, capacity, ttl)

    try:
        yield make_redis
    finally:
        await redis.aclose()


@pytest.fixture
def cache(make_cache: MakeCache) -> FeedCache:
    return make_cache()


def post(n: int, author: str = "alice", *, same_time_as: int | None = None) -> FeedEntry:
    """Post n at T0 + n ms (or at post `same_time_as`'s time), with a random UUID: ties sort by id."""
    ms = n if same_time_as is None else same_time_as
    return FeedEntry(str(uuid.uuid4()), author, T0 + timedelta(milliseconds=ms, microseconds=7))


def newest_first(entries: list[FeedEntry]) -> list[FeedEntry]:
    return sorted(entries, key=lambda e: e.position, reverse=True)


async def cached(cache: FeedCache, account: str, *entries: FeedEntry, exhaustive: bool = True) -> None:
    token = await cache.begin_rebuild(account)
    assert await cache.replace(account, token, list(entries), exhaustive=exhaustive)


async def everything(cache: FeedCache, account: str) -> list[FeedEntry]:
    found = await cache.read(account, Window(1000))
    assert found is not None
    return found.entries


async def walk(cache: FeedCache, account: str, limit: int) -> list[FeedEntry]:
    """Every entry, page by page with `before` cursors as the feed pages."""
    out: list[FeedEntry] = []
    before: Position | None = None
    while True:
        page = await cache.read(account, Window(limit, before=before))
        assert page is not None
        out += page.entries
        if len(page.entries) < limit:
            return out
        before = page.entries[-1].position


async def test_not_cached_is_not_cached_and_empty(cache: FeedCache) -> None:
    assert await cache.read("nobody", Window(20)) is None
    await cache.add(["nobody"], [post(1)])  # a list of new posts only would hide the older ones
    assert await cache.read("nobody", Window(20)) is None

    await cached(cache, "quiet")
    empty = await cache.read("quiet", Window(20))
    assert empty is not None and empty.entries == [] and empty.horizon is None

    await cache.forget("quiet")
    assert await cache.read("quiet", Window(20)) is None


async def test_entries_round_trip_newest_first(cache: FeedCache) -> None:
    posts = [post(n, f"author{n % 3}") for n in range(5)]
    await cached(cache, "a", *posts[:3])
    await cache.add(["a"], posts[3:])
    await cache.add(["a"], posts[3:])  # idempotent
    assert await everything(cache, "a") == newest_first(posts)  # ids, authors and times exactly


async def test_pages_before_and_after_positions_with_ties(cache: FeedCache) -> None:
    # Five posts in the same microsecond: the id decides, as in the database's (created_at, id) order.
    posts = [post(1), *(post(0, same_time_as=5) for _ in range(5)), post(9)]
    await cached(cache, "a", *posts)
    ordered = newest_first(posts)
    assert await walk(cache, "a", 2) == ordered
    assert await walk(cache, "a", 1) == ordered

    middle = ordered[3]
    older = await cache.read("a", Window(10, before=middle.position))
    assert older is not None and older.entries == ordered[4:]
    newer = await cache.read("a", Window(2, after=middle.position))
    assert newer is not None and newer.entries == [ordered[2], ordered[1]]  # oldest first, just after
    # A position that is not (or no longer) in the list splits it the same way.
    gone = FeedEntry(str(uuid.uuid4()), "x", middle.at).position
    after = await cache.read("a", Window(10, after=gone))
    before = await cache.read("a", Window(10, before=gone))
    assert after is not None and before is not None
    assert list(reversed(after.entries)) == [e for e in ordered if e.position > gone]
    assert before.entries == [e for e in ordered if e.position < gone]


async def test_capped_at_capacity_and_horizon_rises(cache: FeedCache) -> None:
    posts = [post(n) for n in range(CAP + 5)]
    await cached(cache, "a", *posts[:3])
    await cache.add(["a"], posts[3:])
    found = await cache.read("a", Window(100))
    assert found is not None and found.entries == newest_first(posts)[:CAP]
    assert found.horizon == newest_first(posts)[CAP - 1].position  # exact from the oldest kept one up
    # An entry below the horizon is not taken: it would sit below entries the cache no longer has.
    await cache.add(["a"], [post(-1)])
    assert await everything(cache, "a") == newest_first(posts)[:CAP]


async def test_rebuild_that_is_not_exhaustive_has_a_horizon(cache: FeedCache) -> None:
    posts = [post(n) for n in range(4)]
    await cached(cache, "a", *posts, exhaustive=False)
    found = await cache.read("a", Window(100))
    assert found is not None and found.horizon == posts[0].position
    await cached(cache, "b", *(post(n) for n in range(2 * CAP)), exhaustive=False)
    assert len(await everything(cache, "b")) == CAP


async def test_fan_out_to_many_accounts_skips_uncached_ones(cache: FeedCache) -> None:
    followers = [f"f{i}" for i in range(1200)]  # more than one pipeline round trip
    for account in followers[::100]:
        await cached(cache, account)
    hot = post(1, "celebrity")
    await cache.add(followers, [hot])
    for account in followers:
        found = await cache.read(account, Window(5))
        if account in followers[::100]:
            assert found is not None and found.entries == [hot]
        else:
            assert found is None


async def test_remove_post_and_author(cache: FeedCache) -> None:
    a1, a2, b1 = post(1, "ann"), post(2, "ann"), post(3, "bob")
    for account in ("x", "y"):
        await cached(cache, account, a1, a2, b1)
    await cache.remove_post(["x", "y", "not-cached"], a2.post_id, "ann")
    assert await everything(cache, "x") == [b1, a1]
    assert await everything(cache, "y") == [b1, a1]
    await cache.remove_author("x", "ann")
    assert await everything(cache, "x") == [b1]
    assert await everything(cache, "y") == [b1, a1]  # one account's unfollow touches only its list
    await cache.remove_author("x", "bob")
    emptied = await cache.read("x", Window(5))
    assert emptied is not None and emptied.entries == []  # still cached: empty is an answer


async def test_rebuild_keeps_what_arrived_and_drops_what_left_meanwhile(cache: FeedCache) -> None:
    old, deleted, unfollowed = post(1, "ann"), post(2, "ann"), post(3, "eve")
    await cached(cache, "a", old)  # cached before: adds reach both the list and the rebuild
    token = await cache.begin_rebuild("a")
    snapshot = [old, deleted, unfollowed]  # the database read, before these changes happened
    arrived = post(4, "ann")
    await cache.add(["a"], [arrived])
    await cache.remove_post(["a"], deleted.post_id, "ann")
    await cache.remove_author("a", "eve")
    assert await cache.replace("a", token, snapshot, exhaustive=True)
    assert await everything(cache, "a") == [arrived, old]

    # A cold account too: the post committed after the rebuild's read is not lost.
    token = await cache.begin_rebuild("cold")
    fresh = post(5)
    await cache.add(["cold"], [fresh])
    assert await cache.read("cold", Window(5)) is None  # not cached until the rebuild lands
    assert await cache.replace("cold", token, [old], exhaustive=True)
    assert await everything(cache, "cold") == [fresh, old]


async def test_only_the_latest_rebuild_replaces(cache: FeedCache) -> None:
    first = await cache.begin_rebuild("a")
    meanwhile = post(2)
    await cache.add(["a"], [meanwhile])
    second = await cache.begin_rebuild("a")
    assert not await cache.replace("a", first, [post(1)], exhaustive=True)
    assert await cache.read("a", Window(5)) is None
    snapshot = post(1)
    assert await cache.replace("a", second, [snapshot], exhaustive=True)
    assert await everything(cache, "a") == [meanwhile, snapshot]  # the first rebuild's adds were kept
    assert not await cache.replace("a", second, [], exhaustive=True)  # a token is used once


async def test_two_instances_share_one_cache(make_cache: MakeCache) -> None:
    one, two = make_cache(), make_cache()
    entry = post(1)
    await cached(one, "a")
    await two.add(["a"], [entry])
    assert await everything(one, "a") == [entry]


async def test_idle_lists_expire_and_reads_keep_them(make_cache: MakeCache) -> None:
    cache = make_cache(ttl=1)
    await cached(cache, "idle", post(1))
    await cached(cache, "busy", post(1))
    await cache.add(["idle"], [post(2)])  # a fan-out does not keep an unread list alive
    loop = asyncio.get_running_loop()
    until = loop.time() + 1.5  # past the TTL; reading "idle" would renew it, so only "busy" is read

    async def keep_busy() -> None:
        while loop.time() < until:
            assert await cache.read("busy", Window(1)) is not None
            await asyncio.sleep(0.1)

    await asyncio.wait_for(keep_busy(), timeout=5)
    assert await cache.read("idle", Window(1)) is None
    assert await cache.read("busy", Window(1)) is not None


async def test_pages_have_no_gaps_or_duplicates_while_entries_arrive(make_cache: MakeCache) -> None:
    cache = make_cache(capacity=1000)
    db = [post(n) for n in range(40)]
    await cached(cache, "a", *db)
    first = await cache.read("a", Window(7))
    assert first is not None
    top = first.entries[0].position  # the page's prev position: `since` reads from it

    async def write() -> None:
        for n in range(40, 80):
            db.append(post(n))
            await cache.add(["a"], [db[-1]])
            await asyncio.sleep(0)  # let the reader interleave (the memory cache never yields)

    async def read_older() -> list[FeedEntry]:
        seen = list(first.entries)
        while True:
            page = await cache.read("a", Window(7, before=seen[-1].position))
            assert page is not None
            seen += page.entries
            if len(page.entries) < 7:
                return seen
            await asyncio.sleep(0)

    async def read_newer() -> list[FeedEntry]:
        seen: list[FeedEntry] = []
        since = top
        while len(seen) < 40:  # every new entry arrives; the deadline below bounds the wait
            page = await cache.read("a", Window(3, after=since))
            assert page is not None
            seen += page.entries
            since = seen[-1].position if seen else since
            await asyncio.sleep(0)
        return seen

    older, newer, _ = await asyncio.wait_for(asyncio.gather(read_older(), read_newer(), write()), timeout=10)
    assert older == newest_first(db[:40])
    assert newer == db[40:]  # oldest first, each once


async def test_concurrent_adds_and_rebuilds_lose_nothing(make_cache: MakeCache) -> None:
    cache = make_cache(capacity=1000)
    db: list[FeedEntry] = []  # committed posts; each is added to the cache after its commit
    rng = random.Random(13)

    async def interleave() -> None:  # a seeded, varied schedule (the memory cache never yields)
        for _ in range(rng.randrange(4)):
            await asyncio.sleep(0)

    async def write() -> None:
        for n in range(100):
            db.append(post(n))
            await interleave()
            await cache.add(["a"], [db[-1]])
            await interleave()

    async def rebuild() -> None:
        while len(db) < 80:  # then the writes go on: nothing rebuilds what a rebuild lost
            token = await cache.begin_rebuild("a")
            await interleave()
            snapshot = list(db)  # the database read, after begin_rebuild
            await interleave()
            await cache.replace("a", token, snapshot, exhaustive=True)

    await asyncio.wait_for(asyncio.gather(write(), rebuild(), rebuild()), timeout=10)
    assert await everything(cache, "a") == newest_first(db)
