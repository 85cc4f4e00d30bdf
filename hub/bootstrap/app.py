"""Composition root: builds a running hub from settings.

With the rest of `hub.bootstrap` (wiring, the ASGI entry, the CLI, the demo loader) this is the one
place of `hub/` that imports implementations: it picks PostgreSQL (external or private), Redis or
in-memory backends, and the blob store, then hands them to the services. Everything else in `hub/`
sees only ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hub.bootstrap.wiring import CAPABILITIES, COMMIT_CONNECTIONS
from hub.config import Settings
from hub.metrics import Metrics
from hub.ports.feed import FeedCache
from hub.ports.files import JobQueue
from hub.ports.infra import Bus, RateLimiter
from hub.ports.whiteboard import Presence, ReplayBuffer
from hub.runtime import Closer, Hub
from hub.tasks import every
from storage.errors import as_unavailable
from storage.postgres.db import PostgresDatabase

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)

# How often idle Redis connections are checked for a server that went away (a restart).
REDIS_SWEEP_SECONDS = 5.0


@dataclass(frozen=True)
class Backends:
    """The implementations chosen from the settings, before any service exists.

    The wiring gets what the hub itself never sees: the concrete database (repositories need its
    driver) and the Redis client (the readiness ping; without Redis the hub runs its own media worker).
    """

    db: PostgresDatabase
    dsn: str  # the database `db` talks to (capabilities may open their own pools)
    bus: Bus
    rate_limiter: RateLimiter
    jobs: JobQueue
    replay: ReplayBuffer
    presence: Presence
    feed_cache: FeedCache
    redis: Redis | None = None


def pooled_connections(settings: Settings) -> dict[str, int]:
    """The most connections a hub opens to each service and keeps open (its pools' bounds, Redis's
    when it has one): what "no leak" means for a hub's open sockets after a load."""
    return {
        # The main pool and the group commit's own.
        "postgres": settings.db_pool_max + COMMIT_CONNECTIONS,
        # The shared client's pool and the rate limiter's (each bounded), plus the bus's subscription.
        "redis": 2 * settings.redis_max_connections + 1,
    }


async def _database_url(settings: Settings, hub_closers: list[Closer]) -> str:
    if settings.database_url:
        return settings.database_url
    from storage.postgres.server import PostgresServer, ensure_database

    server = PostgresServer(settings.data_path / "postgres", durable=True)
    admin_dsn = await asyncio.to_thread(server.start)

    async def stop() -> None:
        await asyncio.to_thread(server.stop)

    hub_closers.append(stop)
    await ensure_database(admin_dsn, "hub")
    log.info("embedded postgres started", extra={"fields": {"port": server.port}})
    return server.dsn("hub")


async def _open_backends(settings: Settings, closers: list[Closer]) -> Backends:
    """The one switch from the settings to implementations: Redis when scaled out, memory otherwise.

    The bus, the rate limiter, the whiteboard's replay and presence, the media job queue and the home
    feed's cache are chosen together, so one hub never mixes a shared backend with a process-local one.
    """
    dsn = await _database_url(settings, closers)
    if settings.migrate_on_start:
        from storage.postgres.migrate import migrate

        await migrate(dsn)
    db = await PostgresDatabase.connect(
        dsn,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        command_timeout=settings.db_command_timeout,
    )
    closers.append(db.close)

    from storage.ratelimit import LimitsRateLimiter

    if settings.redis_url:
        from storage.redis.bus import RedisBus
        from storage.redis.feed import RedisFeedCache
        from storage.redis.jobs import RedisJobQueue
        from storage.redis.pool import connect
        from storage.redis.presence import RedisPresence
        from storage.redis.replay import RedisReplayBuffer

        redis = connect(settings)
        closers.append(redis.aclose)
        prefix = settings.redis_prefix
        return Backends(
            db=db,
            dsn=dsn,
            bus=RedisBus(redis, prefix),
            rate_limiter=LimitsRateLimiter.redis(
                settings.redis_url, prefix, max_connections=settings.redis_max_connections
            ),
            # A shared stream consumed by `hub worker` processes.
            jobs=RedisJobQueue(
                redis,
                prefix,
                max_attempts=settings.job_max_attempts,
                visibility_timeout=settings.job_visibility_timeout,
            ),
            replay=RedisReplayBuffer(redis, prefix, settings.replay_max_events, settings.replay_max_age),
            presence=RedisPresence(redis, prefix),
            feed_cache=RedisFeedCache(redis, prefix, settings.feed_cache_items, settings.feed_cache_ttl),
            redis=redis,
        )
    from storage.memory.bus import MemoryBus
    from storage.memory.feed import MemoryFeedCache
    from storage.memory.jobs import MemoryJobQueue
    from storage.memory.presence import MemoryPresence
    from storage.memory.replay import MemoryReplayBuffer

    return Backends(
        db=db,
        dsn=dsn,
        bus=MemoryBus(),
        rate_limiter=LimitsRateLimiter.memory(),
        # In-process: this hub runs the worker loop itself (hub.bootstrap.wiring.wire_files).
        jobs=MemoryJobQueue(max_attempts=settings.job_max_attempts),
        replay=MemoryReplayBuffer(settings.replay_max_events, settings.replay_max_age),
        presence=MemoryPresence(),
        feed_cache=MemoryFeedCache(settings.feed_cache_items, settings.feed_cache_ttl),
    )


async def build_hub(settings: Settings, metrics: Metrics | None = None) -> Hub:
    closers: list[Closer] = []
    try:
        backends = await _open_backends(settings, closers)
    except BaseException:
        for closer in reversed(closers):
            with contextlib.suppress(Exception):
                await closer()
        raise

    hub = Hub(
        settings=settings,
        metrics=metrics or Metrics(),
        db=backends.db,
        bus=backends.bus,
        rate_limiter=backends.rate_limiter,
        jobs=backends.jobs,
        replay=backends.replay,
        presence=backends.presence,
        feed_cache=backends.feed_cache,
        _closers=closers,
        unavailable=as_unavailable,
    )
    untrack_gc = hub.metrics.track_gc()

    async def stop_tracking_gc() -> None:
        untrack_gc()

    hub.on_close(stop_tracking_gc)
    hub.metrics.db_pool_max.set(settings.db_pool_max)
    if backends.redis is not None:
        hub.metrics.track_redis_bus()
    if not settings.embedded_database and not settings.signing_key:
        # Every instance sharing this database would mint its own key and refuse the others' tokens.
        log.warning(
            "HUB_SIGNING_KEY is not set: tokens are signed with a key generated into this instance's data "
            "directory, so other instances sharing this database will reject them; set the same "
            "HUB_SIGNING_KEY on every instance",
            extra={"fields": {"event": "signing_key_generated_locally", "data_dir": str(settings.data_path)}},
        )
    hub.on_close(hub.rate_limiter.close)
    hub.on_close(hub.bus.close)
    hub.on_close(hub.feed_cache.close)
    hub.health_checks.append(hub.db)
    if backends.redis is not None:
        hub.health_checks.append(_RedisPing(backends.redis))
        hub.health_checks.append(hub.bus)
    try:
        for wire in CAPABILITIES:
            await wire(hub, backends)
        await hub.bus.start()
        if settings.metrics_address is not None:
            _serve_metrics(hub, *settings.metrics_address)
        await hub.sample_metrics()
        hub.spawn(hub.sample_metrics_forever(), "metrics-sampler")
        if backends.redis is not None:
            from storage.redis.pool import sweep_all

            # Idle connections whose server went away are closed even in a pool nobody uses meanwhile.
            hub.spawn(every(REDIS_SWEEP_SECONDS, sweep_all, "redis pool sweep"), "redis-pool-sweeper")
    except BaseException:
        await hub.close()
        raise
    return hub


def _serve_metrics(hub: Hub, host: str, port: int) -> None:
    """Serve the registry on its own address (HUB_METRICS_LISTEN), apart from the public port."""
    from prometheus_client import start_http_server

    try:
        server, thread = start_http_server(port, addr=host, registry=hub.metrics.registry)
    except OSError as exc:
        from hub.config import ConfigError

        raise ConfigError(f"HUB_METRICS_LISTEN: cannot listen on {host}:{port}: {exc.strerror}") from None

    async def stop() -> None:
        await asyncio.to_thread(server.shutdown)  # blocks until its serve loop notices (up to 0.5 s)
        server.server_close()
        await asyncio.to_thread(thread.join, 5)

    hub.on_close(stop)
    log.info("metrics listener started", extra={"fields": {"host": host, "port": port}})


class _RedisPing:
    name = "redis"

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def check(self) -> None:
        from hub.errors import RedisUnavailable

        try:
            await self._redis.ping()
        except Exception as exc:
            raise RedisUnavailable("Redis is unreachable.") from exc
