"""Replay buffer in a Redis Stream per space, bounded by XADD MAXLEN and by age.

Instances append after their own commits, so entries can land slightly out of seq order; `since`
returns them sorted and the service checks that the result is gap-free before trusting it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import msgpack
from redis.asyncio import Redis
from redis.exceptions import RedisError

from hub.errors import ReplayUnavailable

_CHUNK = 256


class RedisReplayBuffer:
    """Implements `hub.ports.whiteboard.ReplayBuffer` across instances."""

    def __init__(self, redis: Redis, prefix: str, max_events: int, max_age: float) -> None:
        self._redis = redis
        self._prefix = f"{prefix}:wb:replay:"
        self._max_events = max_events
        self._max_age = max_age

    async def append(self, space_id: str, epoch: str, events: Sequence[dict[str, Any]]) -> None:
        if not events:
            return
        key = self._prefix + space_id
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for event in events:
                    pipe.xadd(
                        key,
                        {"e": epoch, "s": int(event["seq"]), "d": msgpack.packb(event)},
                        maxlen=self._max_events,
                        approximate=False,
                    )
                # An idle board's history disappears on its own once it is too old to replay anyway.
                pipe.expire(key, int(self._max_age) + 1)
                await pipe.execute()
        except RedisError as exc:
            raise ReplayUnavailable("The replay buffer is unavailable.") from exc

    async def since(self, space_id: str, epoch: str, seq: int) -> list[dict[str, Any]]:
        key = self._prefix + space_id
        oldest_ms = int((time.time() - self._max_age) * 1000)
        found: dict[int, dict[str, Any]] = {}
        upper = "+"
        try:
            while True:
                chunk: list[tuple[bytes, dict[bytes, bytes]]] = await self._redis.xrevrange(  # type: ignore[assignment]
                    key, max=upper, min="-", count=_CHUNK
                )
                done = len(chunk) < _CHUNK
                for entry_id, fields in chunk:
                    entry = entry_id.decode()
                    entry_seq = int(fields[b"s"])
                    if int(entry.split("-", 1)[0]) < oldest_ms or entry_seq <= seq:
                        done = True
                        break
                    if fields[b"e"].decode() == epoch:
                        found[entry_seq] = msgpack.unpackb(fields[b"d"])
                    upper = "(" + entry
                if done:
                    break
        except RedisError as exc:
            raise ReplayUnavailable("The replay buffer is unavailable.") from exc
        return [found[s] for s in sorted(found)]

    async def close(self) -> None:
        return None
