"""Redis key/value with expiry, shared by every hub instance."""

from __future__ import annotations

from redis.asyncio import Redis


class RedisKV:
    """Implements `hub.ports.KeyValueTTL`."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = f"{prefix}:kv:"

    async def set(self, key: str, value: str, ttl_seconds: int) -> None:
        await self._redis.set(self._prefix + key, value, ex=max(1, ttl_seconds))

    async def get(self, key: str) -> str | None:
        value = await self._redis.get(self._prefix + key)
        return value.decode() if isinstance(value, bytes) else value

    async def set_if_absent(self, key: str, value: str, ttl_seconds: int) -> bool:
        return bool(await self._redis.set(self._prefix + key, value, ex=max(1, ttl_seconds), nx=True))

    async def close(self) -> None:
        return None
