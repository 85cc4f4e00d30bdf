"""Redis key/value with expiry, shared by every hub instance."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from redis.asyncio import Redis
from redis.exceptions import RedisError

from hub.errors import ServiceUnavailable


@contextlib.contextmanager
def _translate() -> Iterator[None]:
    try:
        yield
    except (RedisError, OSError) as exc:
        # Token checks read these keys: an outage is a 503 with Retry-After, not an unhandled error.
        raise ServiceUnavailable("Redis is unavailable.", code="unavailable") from exc


class RedisKV:
    """Implements `hub.ports.KeyValueTTL`."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = f"{prefix}:kv:"

    async def set(self, key: str, value: str, ttl_seconds: int) -> None:
        with _translate():
            await self._redis.set(self._prefix + key, value, ex=max(1, ttl_seconds))

    async def get(self, key: str) -> str | None:
        with _translate():
            value = await self._redis.get(self._prefix + key)
        return value.decode() if isinstance(value, bytes) else value

    async def set_if_absent(self, key: str, value: str, ttl_seconds: int) -> bool:
        with _translate():
            return bool(await self._redis.set(self._prefix + key, value, ex=max(1, ttl_seconds), nx=True))

    async def close(self) -> None:
        return None
