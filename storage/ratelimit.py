"""Moving-window rate limiting with the `limits` library: memory storage embedded, Redis when scaled."""

from __future__ import annotations

import math
import time
from functools import lru_cache

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter


@lru_cache(maxsize=64)
def _item(limit: str) -> RateLimitItem:
    return parse(limit)


class LimitsRateLimiter:
    """Implements `hub.ports.RateLimiter`."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._limiter = MovingWindowRateLimiter(storage)

    @classmethod
    def memory(cls) -> LimitsRateLimiter:
        return cls(MemoryStorage())

    @classmethod
    def redis(cls, url: str, prefix: str) -> LimitsRateLimiter:
        return cls(RedisStorage("async+" + url, implementation="redispy", key_prefix=f"{prefix}:rl"))

    async def hit(self, limit: str, *keys: str) -> int:
        item = _item(limit)
        if await self._limiter.hit(item, *keys):
            return 0
        stats = await self._limiter.get_window_stats(item, *keys)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def close(self) -> None:
        reset = getattr(self._storage, "reset", None)
        if isinstance(self._storage, MemoryStorage) and reset is not None:
            await reset()
