"""The one Redis client every Redis backend of a hub process shares, on a bounded, blocking pool.

redis-py's default pool opens a new connection whenever none is idle and raises `MaxConnectionsError`
once it has opened its maximum, so a burst of load beyond the pool fails at once (and, below the
maximum, opens ever more sockets). A `BlockingConnectionPool` instead makes the burst wait for a
connection to come back, up to `HUB_REDIS_POOL_TIMEOUT`; after that it raises redis-py's
`ConnectionError("No connection available.")`, which every backend already translates like Redis being
unreachable (a 503, a refused join or ack with a "not now" code), never a 500.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection

from hub.config import Settings

__all__ = ["bounded_pool", "connect", "sweep_all"]


# Every bounded pool of this process, for `sweep_all` (weakly: a closed client's pool just goes away).
_POOLS: weakref.WeakSet[_Pool] = weakref.WeakSet()


class _Pool(BlockingConnectionPool):
    """Gives every connection back, even when the task that used it is cancelled while doing so, and
    closes idle connections whose server has gone.

    redis-py releases a connection in a `finally` that waits for the pool's locks; a task cancelled in
    that wait (a `wait_for` deadline, a closing socket's handler) never gave it back, so the pool
    shrank for good until every caller waited on it. Shielded, the release completes regardless.

    When Redis restarts, every idle connection's socket is closed by the server. redis-py notices that
    only when the connection is taken out again, and the pool hands out its most recently used ones
    first, so the others kept their dead sockets open for good (`python -m bench.soak --faults redis`
    left 18-20 per hub). `sweep` closes the idle connections that have seen the end of their stream;
    each reconnects when it is next taken out. The hub calls `sweep_all` on a timer rather than
    sweeping on a release: a pool nobody uses after the restart sees no release, and a timer keeps the
    check off every command's path.
    """

    async def release(self, connection: AbstractConnection) -> None:
        await asyncio.shield(super().release(connection))

    async def sweep(self) -> None:
        """Close the idle connections that have seen the end of their stream (the server went away)."""
        async with self._condition:  # nothing is taken out meanwhile
            for idle in list(self._available_connections):
                reader = getattr(idle, "_reader", None)
                if reader is not None and reader.at_eof():
                    await idle.disconnect()


async def sweep_all() -> None:
    """Sweep every bounded pool of the process (the hub does this every `REDIS_SWEEP_SECONDS`)."""
    for pool in list(_POOLS):
        await pool.sweep()


def bounded_pool(url: str, *, max_connections: int, timeout: float, **options: Any) -> BlockingConnectionPool:
    """A pool of at most `max_connections` to `url`; a caller waits up to `timeout` s for one to come back."""
    pool: _Pool = _Pool.from_url(url, max_connections=max_connections, timeout=timeout, **options)
    _POOLS.add(pool)
    return pool


def connect(settings: Settings) -> Redis:
    """A client on a pool of at most `redis_max_connections`; closing the client closes the pool."""
    pool = bounded_pool(
        settings.redis_url,
        max_connections=settings.redis_max_connections,
        timeout=settings.redis_pool_timeout,
        health_check_interval=10,
        socket_keepalive=True,
        client_name=f"{settings.redis_prefix}:hub",  # tells its connections apart in CLIENT LIST
    )
    return Redis.from_pool(pool)
