"""One contract, every backend: the memory and Redis implementations of the bus and the rate limiter
behave the same."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from hub.events import space_topic, user_topic
from storage.memory.bus import MemoryBus
from storage.ratelimit import LimitsRateLimiter
from storage.redis.bus import RedisBus


@pytest.fixture(params=["memory", "redis"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, Any]]:
    if request.param == "memory":
        yield "memory", None
        return
    service = request.getfixturevalue("redis_service")
    prefix = request.getfixturevalue("redis_prefix")
    redis = Redis.from_url(service.url)
    yield "redis", (redis, prefix, service.url)
    await redis.aclose()


async def test_rate_limiter_contract(backend: tuple[str, Any]) -> None:
    kind, ctx = backend
    limiter = LimitsRateLimiter.memory() if kind == "memory" else LimitsRateLimiter.redis(ctx[2], ctx[1])
    results = [await limiter.hit("3/minute", "ip", "1.2.3.4") for _ in range(4)]
    assert results[:3] == [0, 0, 0]
    assert 1 <= results[3] <= 60
    assert await limiter.hit("3/minute", "ip", "5.6.7.8") == 0  # keys are independent
    await limiter.close()


async def test_bus_contract_local_delivery_first(backend: tuple[str, Any]) -> None:
    kind, ctx = backend
    bus = MemoryBus() if kind == "memory" else RedisBus(ctx[0], ctx[1], canary_interval=0.2)
    got: list[tuple[str, dict[str, Any]]] = []

    async def handler(topic: str, event: dict[str, Any]) -> None:
        got.append((topic, event))

    bus.subscribe(handler)
    await bus.start()
    await bus.check()
    await bus.publish(space_topic("x"), {"type": "ping", "n": 1})
    # Local subscribers have the event when publish returns: no round trip through Redis.
    assert got == [(space_topic("x"), {"type": "ping", "n": 1})]
    await bus.close()


async def test_redis_bus_crosses_instances_and_ignores_own_echo(redis_service, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    r1, r2 = Redis.from_url(redis_service.url), Redis.from_url(redis_service.url)
    a, b = RedisBus(r1, redis_prefix, canary_interval=0.2), RedisBus(r2, redis_prefix, canary_interval=0.2)
    seen_a: list[dict[str, Any]] = []
    arrived, second = asyncio.Event(), asyncio.Event()
    seen_b: list[dict[str, Any]] = []

    async def on_a(topic: str, event: dict[str, Any]) -> None:
        seen_a.append(event)
        if event["type"] == "second":
            second.set()

    async def on_b(topic: str, event: dict[str, Any]) -> None:
        seen_b.append(event)
        arrived.set()

    a.subscribe(on_a)
    b.subscribe(on_b)
    await a.start()
    await b.start()
    await a.publish(space_topic("y"), {"type": "hello"})
    await asyncio.wait_for(arrived.wait(), timeout=5)
    assert seen_b == [{"type": "hello"}]
    # Redis delivers a channel's messages in order, so once b's reply reaches a, a's own echo of
    # "hello" (published earlier) has been seen and ignored.
    await b.publish(space_topic("y"), {"type": "second"})
    await asyncio.wait_for(second.wait(), timeout=5)
    assert seen_a == [{"type": "hello"}, {"type": "second"}]
    await a.close()
    await b.close()
    await r1.aclose()
    await r2.aclose()


async def test_bus_contract_publish_many_delivers_each_in_order(backend: tuple[str, Any]) -> None:
    kind, ctx = backend
    bus = MemoryBus() if kind == "memory" else RedisBus(ctx[0], ctx[1], canary_interval=0.2)
    got: list[tuple[str, dict[str, Any]]] = []

    async def handler(topic: str, event: dict[str, Any]) -> None:
        got.append((topic, event))

    bus.subscribe(handler)
    await bus.start()
    messages = [(user_topic(f"u{n}"), {"type": "ping", "n": n}) for n in range(2_500)]
    await bus.publish_many(messages)
    assert got == messages  # locally, before publish_many returns
    await bus.close()


async def test_redis_bus_publish_many_crosses_instances_in_batches(redis_service, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    r1, r2 = Redis.from_url(redis_service.url), Redis.from_url(redis_service.url)
    a, b = RedisBus(r1, redis_prefix, canary_interval=0.2), RedisBus(r2, redis_prefix, canary_interval=0.2)
    seen_b: list[tuple[str, dict[str, Any]]] = []
    done = asyncio.Event()
    # More than one batch (1,000 events each), then a plain publish: Redis keeps the order.
    messages = [(user_topic(f"u{n}"), {"type": "ping", "n": n}) for n in range(2_500)]

    async def on_b(topic: str, event: dict[str, Any]) -> None:
        seen_b.append((topic, event))
        if event["type"] == "last":
            done.set()

    b.subscribe(on_b)
    await a.start()
    await b.start()
    try:
        await a.publish_many(messages)
        await a.publish(space_topic("z"), {"type": "last"})
        await asyncio.wait_for(done.wait(), timeout=5)
        assert seen_b == [*messages, (space_topic("z"), {"type": "last"})]
    finally:
        await a.close()
        await b.close()
        await r1.aclose()
        await r2.aclose()
