"""One contract for every `ReplayBuffer` implementation: memory ring and Redis Stream."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from hub.ports.whiteboard import ReplayBuffer
from storage.memory.replay import MemoryReplayBuffer
from storage.redis.replay import RedisReplayBuffer
from tests.support.services import RedisHandle
from tests.support.waiting import eventually

Factory = Callable[[int, float], ReplayBuffer]


@pytest.fixture(params=["memory", "redis"])
async def make_buffer(
    request: pytest.FixtureRequest, redis_service: RedisHandle, redis_prefix: str
) -> AsyncIterator[Factory]:
    if request.param == "memory":
        yield lambda count, age: MemoryReplayBuffer(count, age)
        return
    redis = Redis.from_url(redis_service.url)
    try:
        yield lambda count, age: RedisReplayBuffer(redis, redis_prefix, count, age)
    finally:
        await redis.aclose()


def ev(seq: int, **extra: Any) -> dict[str, Any]:
    return {"type": "stroke", "seq": seq, "points": [[seq, seq * 2.5]], **extra}


async def test_since_returns_later_events_in_seq_order(make_buffer: Factory) -> None:
    buf = make_buffer(100, 3600)
    await buf.append("s1", "e1", [ev(1), ev(2)])
    await buf.append("s1", "e1", [ev(4), ev(3)])  # two instances appending out of order
    await buf.append("s2", "e1", [ev(1, other=True)])
    assert [e["seq"] for e in await buf.since("s1", "e1", 0)] == [1, 2, 3, 4]
    assert await buf.since("s1", "e1", 2) == [ev(3), ev(4)]
    assert await buf.since("s1", "e1", 4) == []
    assert await buf.since("s2", "e1", 0) == [ev(1, other=True)]
    assert await buf.since("nope", "e1", 0) == []


async def test_count_bound_prunes_oldest(make_buffer: Factory) -> None:
    buf = make_buffer(3, 3600)
    await buf.append("s1", "e1", [ev(i) for i in range(1, 7)])
    assert [e["seq"] for e in await buf.since("s1", "e1", 0)] == [4, 5, 6]


async def test_other_epoch_is_not_replayed(make_buffer: Factory) -> None:
    buf = make_buffer(100, 3600)
    await buf.append("s1", "old", [ev(1), ev(2)])
    await buf.append("s1", "new", [ev(3)])
    assert [e["seq"] for e in await buf.since("s1", "new", 0)] == [3]
    assert await buf.since("s1", "old", 2) == []


async def test_age_bound_prunes_old_events(make_buffer: Factory) -> None:
    buf = make_buffer(100, 0.3)
    await buf.append("s1", "e1", [ev(1)])

    async def pruned() -> bool:
        return not await buf.since("s1", "e1", 0)

    await eventually(pruned, timeout=5)
    await buf.append("s1", "e1", [ev(2)])
    assert [e["seq"] for e in await buf.since("s1", "e1", 0)] == [2]
