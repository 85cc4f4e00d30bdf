"""Presence leases in Redis: a hash of entries and a sorted set of deadlines per space.

Deadlines use the Redis server clock (TIME inside the scripts) so instances with skewed clocks agree
on who has expired, and every mutation is one script so an expired lease is reaped exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgpack
from redis.asyncio import Redis
from redis.exceptions import RedisError

from hub.errors import PresenceUnavailable
from hub.ports.whiteboard import PresenceEntry

_NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) + tonumber(t[2]) / 1000000 "

# ARGV: ttl, then (conn id, packed entry) pairs: one round trip renews every lease of a space.
_PUT = (
    _NOW
    + """
local ttl = tonumber(ARGV[1])
for i = 2, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  redis.call('ZADD', KEYS[2], now + ttl, ARGV[i])
end
local keep = math.ceil(ttl * 3)
redis.call('EXPIRE', KEYS[1], keep)
redis.call('EXPIRE', KEYS[2], keep)
return 1
"""
)

_REMOVE = """
local held = redis.call('ZREM', KEYS[2], ARGV[1])
local value = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[1], ARGV[1])
if held == 1 then return value end
return false
"""

_LIST = (
    _NOW
    + """
local conns = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. now, '+inf')
if #conns == 0 then return {} end
return redis.call('HMGET', KEYS[1], unpack(conns))
"""
)

_EXPIRE = (
    _NOW
    + """
local conns = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
local out = {}
for _, conn in ipairs(conns) do
  redis.call('ZREM', KEYS[2], conn)
  local value = redis.call('HGET', KEYS[1], conn)
  redis.call('HDEL', KEYS[1], conn)
  if value then table.insert(out, value) end
end
return out
"""
)


def _pack(entry: PresenceEntry) -> bytes:
    return msgpack.packb(  # type: ignore[no-any-return]
        [entry.conn_id, entry.user_id, entry.display_name, entry.color, list(entry.cursor) if entry.cursor else None]
    )


def _unpack(raw: Any) -> PresenceEntry | None:
    if not raw:
        return None
    conn_id, user_id, name, color, cursor = msgpack.unpackb(raw)
    return PresenceEntry(conn_id, user_id, name, color, (cursor[0], cursor[1]) if cursor else None)


class RedisPresence:
    """Implements `hub.ports.whiteboard.Presence` across instances."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = f"{prefix}:wb:presence:"
        self._put = redis.register_script(_PUT)
        self._remove = redis.register_script(_REMOVE)
        self._list = redis.register_script(_LIST)
        self._expire = redis.register_script(_EXPIRE)

    def _keys(self, space_id: str) -> list[str]:
        base = self._prefix + space_id
        return [base, base + ":deadlines"]

    async def _run(self, script: Any, space_id: str, *args: Any) -> Any:
        try:
            return await script(keys=self._keys(space_id), args=list(args))
        except RedisError as exc:
            raise PresenceUnavailable("Presence is unavailable.") from exc

    async def put(self, space_id: str, entry: PresenceEntry, ttl: float) -> None:
        await self.put_many(space_id, [entry], ttl)

    async def put_many(self, space_id: str, entries: Sequence[PresenceEntry], ttl: float) -> None:
        args: list[Any] = [ttl]
        for entry in entries:
            args += [entry.conn_id, _pack(entry)]
        if entries:
            await self._run(self._put, space_id, *args)

    async def remove(self, space_id: str, conn_id: str) -> PresenceEntry | None:
        return _unpack(await self._run(self._remove, space_id, conn_id))

    async def entries(self, space_id: str) -> list[PresenceEntry]:
        raw = await self._run(self._list, space_id)
        return [e for e in (_unpack(r) for r in raw) if e is not None]

    async def expire(self, space_id: str) -> list[PresenceEntry]:
        raw = await self._run(self._expire, space_id)
        return [e for e in (_unpack(r) for r in raw) if e is not None]

    async def close(self) -> None:
        return None
