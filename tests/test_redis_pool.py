"""The hub's Redis pool (storage.redis.pool.connect) against a real Redis: bounded, and blocking.

Callers beyond the pool's size wait for a connection instead of failing (redis-py's default pool
raises `MaxConnectionsError` there); one that waits longer than the pool timeout is refused like an
outage (`ServiceUnavailable`), never with a driver exception.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from redis.asyncio import Redis
from storage.redis.kv import RedisKV

from hub.config import load_settings
from hub.errors import ServiceUnavailable
from storage.errors import as_unavailable
from storage.redis.pool import connect
from tests.support.services import RedisHandle


def _settings(url: str, **overrides: Any) -> Any:
    return load_settings(environ={}, env="test", redis_url=url, **overrides)


async def _blocked(admin: Redis) -> int:
    """Clients of the server blocked in BLPOP (no other test blocks on lists)."""
    clients: list[dict[str, Any]] = await admin.client_list()
    return sum(1 for c in clients if c.get("cmd") == "blpop" and "b" in c.get("flags", ""))


async def _pop(redis: Redis, key: str) -> str:
    reply: Any = await redis.blpop([key], timeout=30)
    return str(reply[0].decode())


async def _until_blocked(admin: Redis, count: int, deadline_s: float = 10.0) -> None:
    deadline = time.monotonic() + deadline_s
    while await _blocked(admin) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {count} callers blocked in Redis")
        await asyncio.sleep(0.02)


async def test_callers_beyond_the_pool_wait_for_a_connection_and_succeed(
    redis_service: RedisHandle, redis_prefix: str
) -> None:
    size, callers = 4, 60
    redis = connect(_settings(redis_service.url, redis_max_connections=size, redis_pool_timeout=30.0))
    admin = Redis.from_url(redis_service.url)
    keys = [f"{redis_prefix}:pool:{i}" for i in range(callers)]
    try:
        # Each caller holds its connection (BLPOP) until its list gets an item, so the pool is full.
        waiting = [asyncio.create_task(_pop(redis, key)) for key in keys]
        await _until_blocked(admin, size)
        assert await _blocked(admin) == size  # never more connections than the pool allows
        assert not any(t.done() for t in waiting)
        await admin.rpush(keys[0], "x")  # one free connection, yet every key is served in turn
        for key in keys[1:]:
            await admin.rpush(key, "x")
        replies = await asyncio.wait_for(asyncio.gather(*waiting), timeout=30)
        assert replies == keys
        assert await _blocked(admin) == 0
    finally:
        await redis.aclose()
        await admin.delete(*keys)
        await admin.aclose()


async def test_a_pool_timeout_is_an_outage_not_a_driver_error(redis_service: RedisHandle, redis_prefix: str) -> None:
    redis = connect(_settings(redis_service.url, redis_max_connections=1, redis_pool_timeout=0.1))
    admin = Redis.from_url(redis_service.url)
    key = f"{redis_prefix}:pool:held"
    try:
        holder = asyncio.create_task(_pop(redis, key))
        await _until_blocked(admin, 1)
        with pytest.raises(Exception) as raw:
            await redis.get(f"{redis_prefix}:other")
        assert isinstance(as_unavailable(raw.value), ServiceUnavailable)  # the adapters' last resort: 503
        with pytest.raises(ServiceUnavailable):
            await RedisKV(redis, redis_prefix).get("other")
        await admin.rpush(key, "x")
        assert await asyncio.wait_for(holder, timeout=10) == key
        assert await RedisKV(redis, redis_prefix).get("other") is None  # the pool serves again
    finally:
        await redis.aclose()
        await admin.delete(key)
        await admin.aclose()


async def test_a_caller_cancelled_while_giving_its_connection_back_does_not_leak_it(
    redis_service: RedisHandle,
) -> None:
    """redis-py gives a connection back under the pool's lock; a cancellation in that wait lost it."""
    redis = connect(_settings(redis_service.url, redis_max_connections=1, redis_pool_timeout=0.5))
    pool: Any = redis.connection_pool
    try:
        assert await redis.ping()
        async with pool._lock:  # the release below has to wait for it
            caller = asyncio.create_task(redis.ping())
            deadline = time.monotonic() + 10
            while not pool._lock._waiters:
                assert time.monotonic() < deadline, "the caller never reached the release"
                await asyncio.sleep(0.01)
            caller.cancel()
            with pytest.raises(asyncio.CancelledError):
                await caller
        assert await asyncio.wait_for(redis.ping(), timeout=5)  # the pool's one connection is back
    finally:
        await redis.aclose()
