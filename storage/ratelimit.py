"""Rate limiting with the `limits` library's sliding-window counter: memory storage embedded, Redis when
scaled.

The sliding-window counter keeps two counts per key (this window's and the last one's, weighted by how
much of it still overlaps the last minute); the moving window it replaces kept one timestamp per
request, so a key cost memory and time in proportion to its limit: 600 entries per client address at
the default limit, and a list copied on every hit (13 % of a cached bin read's CPU under a benchmark's
raised limit, docs/performance.md "REST reads").

When scaled, the limiter must not turn a Redis outage into failed requests: while Redis is unreachable
each process counts on its own (a local limiter, so a client still cannot flood one process), probes
Redis again at most every `probe_interval` seconds, and goes back to the shared counts once it answers.
Each transition is logged once, not once per request.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError
from redis.asyncio import BlockingConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from storage.redis.pool import bounded_pool

log = logging.getLogger(__name__)

# A Redis that accepts connections but does not answer must not stall every request behind it.
_REDIS_TIMEOUT = 1.0


@lru_cache(maxsize=64)
def _item(limit: str) -> RateLimitItem:
    return parse(limit)


class LimitsRateLimiter:
    """Implements `hub.ports.RateLimiter` on one `limits` storage."""

    def __init__(self, storage: Storage, pool: BlockingConnectionPool | None = None) -> None:
        self._storage = storage
        self._pool = pool
        self._limiter = SlidingWindowCounterRateLimiter(storage)

    @classmethod
    def memory(cls) -> LimitsRateLimiter:
        return cls(MemoryStorage())

    @classmethod
    def redis(
        cls, url: str, prefix: str, *, max_connections: int = 32, probe_interval: float = 1.0
    ) -> FallbackRateLimiter:
        # Its own pool, bounded and blocking like the hub's (`storage.redis.pool`): under a burst the
        # unbounded default opened a socket per concurrent request. A request that finds no connection
        # free within the timeout is counted locally, as during an outage. One quick retry (a
        # connection closed by a Redis restart), not redis-py's default backoff of seconds: the local
        # limiter is the answer to an outage, not waiting in the request.
        pool: BlockingConnectionPool = bounded_pool(
            url,
            max_connections=max_connections,
            timeout=_REDIS_TIMEOUT,
            socket_timeout=_REDIS_TIMEOUT,
            socket_connect_timeout=_REDIS_TIMEOUT,
            retry=Retry(NoBackoff(), 1),
            client_name=f"{prefix}:ratelimit",  # told apart in CLIENT LIST
        )
        options: dict[str, Any] = {"connection_pool": pool}  # `limits` types its options narrower
        shared = cls(
            RedisStorage(
                "async+" + url,
                implementation="redispy",
                key_prefix=f"{prefix}:rl",
                wrap_exceptions=True,
                **options,
            ),
            pool,
        )
        return FallbackRateLimiter(shared, cls.memory(), probe_interval=probe_interval)

    async def hit(self, limit: str, *keys: str) -> int:
        item = _item(limit)
        if await self._limiter.hit(item, *keys):
            return 0
        stats = await self._limiter.get_window_stats(item, *keys)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def close(self) -> None:
        if isinstance(self._storage, MemoryStorage):
            await self._storage.reset()
        if self._pool is not None:
            await self._pool.disconnect()


class FallbackRateLimiter:
    """Implements `hub.ports.RateLimiter`: the shared limiter, or the local one while it is unreachable."""

    def __init__(
        self,
        shared: LimitsRateLimiter,
        local: LimitsRateLimiter,
        *,
        probe_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._shared = shared
        self._local = local
        self._probe_interval = probe_interval
        self._clock = clock
        self._degraded = False
        self._next_probe = 0.0

    @property
    def degraded(self) -> bool:
        """True while requests are counted locally because the shared store is unreachable."""
        return self._degraded

    async def hit(self, limit: str, *keys: str) -> int:
        now = self._clock()
        if self._degraded and now < self._next_probe:
            return await self._local.hit(limit, *keys)
        # One request probes at a time; the others stay local until it has answered.
        self._next_probe = now + self._probe_interval
        try:
            retry = await self._shared.hit(limit, *keys)
        except StorageError as exc:
            if not self._degraded:
                self._degraded = True
                log.warning(
                    "rate limiter degraded to local counts: Redis unreachable",
                    extra={"fields": {"error": type(exc.storage_error).__name__}},
                )
            return await self._local.hit(limit, *keys)
        if self._degraded:
            self._degraded = False
            log.info("rate limiter recovered: counting in Redis again")
        return retry

    async def close(self) -> None:
        await self._local.close()
        await self._shared.close()
