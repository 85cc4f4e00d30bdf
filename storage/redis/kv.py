"""Redis key/value with expiry, shared by every hub instance.

Every authenticated request reads these keys (the token deny-lists), so a Redis restart of a second
or less is ridden out with a few quick retries (about 0.75 s in all) instead of failing the requests
that arrive meanwhile; a longer outage is a 503 with Retry-After.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError

from hub.errors import ServiceUnavailable

T = TypeVar("T")


@contextlib.contextmanager
def _translate() -> Iterator[None]:
    try:
        yield
    except (RedisError, OSError) as exc:
        raise ServiceUnavailable("Redis is unavailable.") from exc


async def _retrying(_error: Exception) -> None:
    return None


class RedisKV:
    """Implements `hub.ports.KeyValueTTL`."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = f"{prefix}:kv:"
        # Connection and timeout errors only: 50, 100, 200, 400 ms between the attempts.
        self._retry = Retry(ExponentialBackoff(cap=0.4, base=0.05), retries=4)

    async def _call(self, do: Callable[[], Awaitable[T]]) -> T:
        with _translate():
            return await self._retry.call_with_retry(do, _retrying)

    async def set(self, key: str, value: str, ttl_seconds: int) -> None:
        await self._call(lambda: self._redis.set(self._prefix + key, value, ex=max(1, ttl_seconds)))

    async def get(self, key: str) -> str | None:
        value = await self._call(lambda: self._redis.get(self._prefix + key))
        return value.decode() if isinstance(value, bytes) else value

    async def set_if_absent(self, key: str, value: str, ttl_seconds: int) -> bool:
        return bool(
            await self._call(lambda: self._redis.set(self._prefix + key, value, ex=max(1, ttl_seconds), nx=True))
        )

    async def close(self) -> None:
        return None
