"""A feed rebuild reads the newest entries over growing spans of time (`REBUILD_SPANS`) instead of up
to a full cache of every followed account's posts; whatever span the newest `capacity` entries fall
in, the rebuilt list must be exactly them, and complete (`exhaustive`) only when the feed has fewer."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from hub.models import Principal
from hub.ports.feed import Window
from hub.services.feed import REBUILD_SPANS, FeedService
from hub.services.personal import PersonalRooms
from storage.memory.bus import MemoryBus
from storage.memory.feed import MemoryFeedCache
from storage.postgres.db import PostgresDatabase
from storage.postgres.feed import PostgresFeedRepo

CAPACITY = 40


async def _accounts(db: PostgresDatabase, prefix: str, n: int) -> list[str]:
    rows = await db.fetch(
        "INSERT INTO users (username, display_name) SELECT $1 || i, 'R' FROM generate_series(1, $2::int) i "
        "RETURNING id::text",
        prefix,
        n,
    )
    return [r["id"] for r in rows]


def _principal(user_id: str) -> Principal:
    return Principal(user_id, "R", False, "t", 2**40)


@pytest.mark.parametrize(
    "ages_days",
    [
        [0.01 * i for i in range(100)],  # the first span holds a full cache
        [3 + 0.5 * i for i in range(100)],  # only a later span does
        [400 + i for i in range(100)],  # older than every bounded span
        [0.2, 30, 200, 900],  # fewer posts than the cache holds: the list is complete
    ],
)
async def test_the_rebuilt_list_is_the_newest_entries(db: PostgresDatabase, ages_days: list[float]) -> None:
    rng = random.Random(len(ages_days))
    tag = f"rb{rng.randrange(10**9)}x"
    viewer, *authors = await _accounts(db, tag, 6)
    stranger = (await _accounts(db, tag + "s", 1))[0]
    await db.execute(
        "INSERT INTO follows (follower_id, followee_id) SELECT $1::uuid, unnest($2::uuid[])", viewer, authors[:4]
    )
    now = datetime.now(UTC)
    # Each age once for a followed author (or the viewer itself), and the same ages for a stranger,
    # whose posts must never come in.
    writers = [*authors[:4], viewer]
    await db.execute(
        """INSERT INTO posts (author_id, text, visibility, created_at)
           SELECT a, 'post', 'public', t FROM unnest($1::uuid[], $2::timestamptz[]) AS x(a, t)""",
        [rng.choice(writers) for _ in ages_days] + [stranger] * len(ages_days),
        [now - timedelta(days=d) for d in ages_days] * 2,
    )
    repo = PostgresFeedRepo(db)
    cache = MemoryFeedCache(CAPACITY, 3600)
    feeds = FeedService(repo, cache, PersonalRooms(MemoryBus()), hot_followers=1000)
    await feeds.refresh(_principal(viewer))
    found = await cache.read(viewer, Window(CAPACITY))
    assert found is not None
    expected = await repo.entries(viewer, Window(CAPACITY), below=datetime(9999, 1, 1, tzinfo=UTC))
    assert found.entries == expected
    assert len(expected) == min(CAPACITY, len(ages_days))
    assert (found.horizon is None) == (len(ages_days) < CAPACITY)


def test_the_spans_grow_and_end_unbounded() -> None:
    bounded = [s for s in REBUILD_SPANS if s is not None]
    assert bounded == sorted(bounded) and REBUILD_SPANS[-1] is None
