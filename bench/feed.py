"""Home feed: fan-out on write against merge on read, to choose `HUB_FEED_HOT_FOLLOWERS`.

Measures, on private PostgreSQL and Redis servers started for the run:

- fan-out on write: the time one new post takes to reach N cached follower lists in Redis
  (`RedisFeedCache.add`, pipelined), for N followers;
- merge on read: the database query every cached read runs anyway (`FeedRepo.entries` with
  `only_hot`: the hot authors' posts in the window plus everyone's newest seconds), for a reader who
  follows 200 accounts of which k are hot.

    PYTHONPATH=. .venv/bin/python -m bench.feed [--reads 300]

Prints a table of figures; docs/performance.md ("Home feed") records a run and the choice made.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from redis.asyncio import Redis

from hub.ports.feed import FeedEntry, Window
from storage.postgres.db import PostgresDatabase
from storage.postgres.feed import PostgresFeedRepo
from storage.postgres.migrate import migrate
from storage.postgres.server import PostgresServer
from storage.redis.feed import RedisFeedCache
from tests.support.services import redis_server

FOLLOWED = 200
POSTS_EACH = 100
HOT_POSTS = 2_000
HOT_THRESHOLD = 1_000


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def fan_out(redis_url: str) -> list[tuple[int, float, float]]:
    """(followers, median ms, max ms) of one post's fan-out into that many cached lists."""
    redis = Redis.from_url(redis_url)
    cache = RedisFeedCache(redis, "bench", 800, 3_600)
    now = datetime.now(UTC)
    out = []
    try:
        for followers in (100, 1_000, 5_000, 20_000, 50_000):
            await redis.flushdb()
            accounts = [str(uuid.uuid4()) for _ in range(followers)]
            seed = [FeedEntry(str(uuid.uuid4()), str(uuid.uuid4()), now - timedelta(minutes=i)) for i in range(10)]
            for start in range(0, followers, 20):
                chunk = accounts[start : start + 20]
                tokens = await asyncio.gather(*[cache.begin_rebuild(a) for a in chunk])
                await asyncio.gather(
                    *[cache.replace(a, t, seed, exhaustive=True) for a, t in zip(chunk, tokens, strict=True)]
                )
            times = []
            for i in range(5):
                entry = FeedEntry(str(uuid.uuid4()), str(uuid.uuid4()), now + timedelta(seconds=i))
                began = time.perf_counter()
                await cache.add(accounts, [entry])
                times.append(time.perf_counter() - began)
            out.append((followers, statistics.median(times), max(times)))
    finally:
        await redis.aclose()
    return out


async def seed(db: PostgresDatabase, hot: int) -> str:
    """A reader following FOLLOWED accounts (POSTS_EACH posts each), `hot` of them with many followers."""
    reader = await db.fetchval(
        "INSERT INTO users (username, display_name) VALUES ($1, 'r') RETURNING id::text", f"r{uuid.uuid4().hex[:12]}"
    )
    await db.execute(
        """WITH a AS (
             INSERT INTO users (username, display_name, followers_count)
             SELECT 'a' || substr(md5(random()::text), 1, 16), 'a', CASE WHEN g <= $2::int THEN $3::int ELSE 10 END
             FROM generate_series(1, $4::int) g RETURNING id, followers_count)
           , f AS (INSERT INTO follows (follower_id, followee_id) SELECT $1::uuid, id FROM a)
           INSERT INTO posts (author_id, text, visibility, created_at)
           SELECT a.id, 'post', 'public', now() - make_interval(secs => random() * 86400 * 30)
           FROM a, generate_series(1, CASE WHEN a.followers_count > $5::int THEN $6::int ELSE $7::int END)""",
        reader,
        hot,
        HOT_THRESHOLD * 5,
        FOLLOWED,
        HOT_THRESHOLD,
        HOT_POSTS,
        POSTS_EACH,
    )
    await db.execute("ANALYZE")
    return reader


async def merge_on_read(dsn: str, reads: int) -> list[tuple[int, float, float, float]]:
    """(hot followed, p50 ms, p99 ms of the merge query, p50 ms of a cold full read) per reader."""
    db = await PostgresDatabase.connect(dsn)
    repo = PostgresFeedRepo(db)
    out = []
    try:
        for hot in (0, 1, 5, 20):
            reader = await seed(db, hot)
            merged, cold = [], []
            for _ in range(reads):
                below = await repo.settled()
                began = time.perf_counter()
                await repo.entries(
                    reader, Window(21), below=below, only_hot=HOT_THRESHOLD, newer_than=below - timedelta(seconds=10)
                )
                merged.append(time.perf_counter() - began)
            for _ in range(max(20, reads // 10)):
                began = time.perf_counter()
                await repo.entries(reader, Window(21), below=await repo.settled())
                cold.append(time.perf_counter() - began)
            out.append((hot, _pct(merged, 0.5), _pct(merged, 0.99), _pct(cold, 0.5)))
    finally:
        await db.close()
    return out


async def main(reads: int) -> None:
    with tempfile.TemporaryDirectory(prefix="feed-bench-") as tmp:
        server = PostgresServer(Path(tmp) / "pgdata", durable=False)
        server.start()
        try:
            await migrate(server.dsn())
            with redis_server(Path(tmp) / "redis") as redis:
                writes = await fan_out(redis.url)
            read_figures = await merge_on_read(server.dsn(), reads)
        finally:
            server.stop()
    print("fan-out on write: one post into N cached follower lists (Redis, pipelined)")
    print("| followers | median ms | max ms |\n|---:|---:|---:|")
    for followers, median, worst in writes:
        print(f"| {followers} | {_ms(median)} | {_ms(worst)} |")
    print(f"\nmerge on read: the query of every cached read, reader following {FOLLOWED} accounts")
    print("| hot followed | p50 ms | p99 ms | cold full read p50 ms |\n|---:|---:|---:|---:|")
    for hot, p50, p99, cold in read_figures:
        print(f"| {hot} | {_ms(p50)} | {_ms(p99)} | {_ms(cold)} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=300)
    asyncio.run(main(parser.parse_args().reads))
