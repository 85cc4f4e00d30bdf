"""Composition root: builds a running hub from settings.

This is the one module of `hub/` (with `hub.cli` and `hub.asgi`) that imports implementations:
it picks PostgreSQL (external or private), Redis or in-memory backends, and the blob store, then
hands them to the services. Everything else in `hub/` sees only ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hub.config import Settings
from hub.errors import HubError
from hub.metrics import Metrics
from hub.ports.infra import Bus, HealthCheck, KeyValueTTL, RateLimiter
from hub.ports.whiteboard import Presence, ReplayBuffer
from storage.errors import as_unavailable
from storage.postgres.db import PostgresDatabase

if TYPE_CHECKING:
    from hub.ports.files import BlobStore, JobQueue
    from hub.services.bins import BinService
    from hub.services.files import FileService
    from hub.services.identity import IdentityService
    from hub.services.media import MediaWorker
    from hub.services.spaces import SpaceService
    from hub.services.whiteboard import WhiteboardService

log = logging.getLogger(__name__)

Closer = Callable[[], Awaitable[None]]

# Gauges sampled in the background are at most this old; Prometheus scrapes every 15 s by default.
METRICS_SAMPLE_SECONDS = 5.0


# Seconds each backend gets to close at shutdown (the database pool terminates its connections sooner).
CLOSE_TIMEOUT = 10.0


@dataclass
class Hub:
    """Everything one hub process runs: backends, services and background tasks."""

    settings: Settings
    metrics: Metrics
    db: PostgresDatabase
    bus: Bus
    kv: KeyValueTTL
    rate_limiter: RateLimiter
    redis: Any | None = None
    dsn: str = ""  # the database the pool above talks to (capabilities may open their own pools)
    # Whiteboard backends, chosen with the bus: Redis when scaled out, in-memory otherwise.
    replay: ReplayBuffer | None = None
    presence: Presence | None = None
    health_checks: list[HealthCheck] = field(default_factory=list)
    # Driver knowledge for the adapters' last resort: an unreachable dependency as a 503, else None.
    unavailable: Callable[[BaseException], HubError | None] = field(default=lambda _exc: None)
    # Capabilities, set by their wiring functions (hub.wiring).
    identity: IdentityService = field(init=False)
    spaces: SpaceService = field(init=False)
    bins: BinService = field(init=False)
    files: FileService = field(init=False)
    blobs: BlobStore = field(init=False)
    jobs: JobQueue = field(init=False)
    media: MediaWorker = field(init=False)
    whiteboard: WhiteboardService = field(init=False)
    _closers: list[Closer] = field(default_factory=list)
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    def on_close(self, closer: Closer) -> None:
        self._closers.append(closer)

    def spawn(self, coro: Awaitable[Any], name: str) -> None:
        """Run a background loop for the lifetime of the hub."""
        self._tasks.append(asyncio.ensure_future(coro))
        self._tasks[-1].set_name(name)

    async def ready(self) -> dict[str, str]:
        """Run every readiness check; returns {name: "ok" | error code}."""
        results: dict[str, str] = {}
        for check in self.health_checks:
            try:
                await asyncio.wait_for(check.check(), timeout=2.0)
                results[check.name] = "ok"
            except Exception as exc:  # readiness reports, it never raises
                results[check.name] = getattr(exc, "code", type(exc).__name__)
        self.metrics.record_readiness(results)
        if self.metrics.redis_bus_connected is not None and self.bus.name in results:
            self.metrics.redis_bus_connected.set(1 if results[self.bus.name] == "ok" else 0)
        return results

    async def sample_metrics(self) -> None:
        """Refresh the gauges nothing updates on its own (pool, readiness, bus, job queue)."""
        size, idle = self.db.pool_stats()
        self.metrics.db_pool_size.set(size)
        self.metrics.db_pool_idle.set(idle)
        await self.ready()
        with contextlib.suppress(Exception):  # a Redis outage is reported by readiness above
            self.metrics.queue_depth.set(await asyncio.wait_for(self.jobs.depth(), timeout=2.0))
            self.metrics.dead_letters.set(await asyncio.wait_for(self.jobs.dead_letter_count(), timeout=2.0))

    async def sample_metrics_forever(self, interval: float = METRICS_SAMPLE_SECONDS) -> None:
        while True:
            await self.sample_metrics()
            await asyncio.sleep(interval)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for closer in reversed(self._closers):
            # Each bounded: a backend stuck on a dead peer must not hold the whole shutdown.
            try:
                await asyncio.wait_for(closer(), CLOSE_TIMEOUT)
            except TimeoutError:
                log.warning("a backend did not close in time", extra={"fields": {"closer": repr(closer)}})
            except Exception:
                log.exception("error while closing the hub")


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


# Capability wiring: each adds its services, health checks and background loops to the hub.
Wiring = Callable[[Hub], Awaitable[None]]


def capability_wiring() -> list[Wiring]:
    """Imported lazily so the core stays importable without every capability."""
    from hub.wiring import wire_files, wire_identity_spaces_bins, wire_whiteboard

    wiring: list[Wiring] = [wire_identity_spaces_bins, wire_whiteboard, wire_files]
    return wiring


async def build_hub(settings: Settings, metrics: Metrics | None = None) -> Hub:
    closers: list[Closer] = []
    try:
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

        redis: Any | None = None
        bus: Bus
        kv: KeyValueTTL
        rate_limiter: RateLimiter
        replay: ReplayBuffer
        presence: Presence
        if settings.redis_url:
            from redis.asyncio import Redis

            from storage.ratelimit import LimitsRateLimiter
            from storage.redis.bus import RedisBus
            from storage.redis.kv import RedisKV
            from storage.redis.presence import RedisPresence
            from storage.redis.replay import RedisReplayBuffer

            redis = Redis.from_url(settings.redis_url, health_check_interval=10, socket_keepalive=True)
            closers.append(redis.aclose)
            bus = RedisBus(redis, settings.redis_prefix)
            kv = RedisKV(redis, settings.redis_prefix)
            rate_limiter = LimitsRateLimiter.redis(settings.redis_url, settings.redis_prefix)
            replay = RedisReplayBuffer(
                redis, settings.redis_prefix, settings.replay_max_events, settings.replay_max_age
            )
            presence = RedisPresence(redis, settings.redis_prefix)
        else:
            from storage.memory.bus import MemoryBus
            from storage.memory.kv import MemoryKV
            from storage.memory.presence import MemoryPresence
            from storage.memory.replay import MemoryReplayBuffer
            from storage.ratelimit import LimitsRateLimiter

            bus, kv, rate_limiter = MemoryBus(), MemoryKV(), LimitsRateLimiter.memory()
            replay = MemoryReplayBuffer(settings.replay_max_events, settings.replay_max_age)
            presence = MemoryPresence()
    except BaseException:
        for closer in reversed(closers):
            with contextlib.suppress(Exception):
                await closer()
        raise

    hub = Hub(
        settings=settings,
        metrics=metrics or Metrics(),
        db=db,
        dsn=dsn,
        bus=bus,
        kv=kv,
        rate_limiter=rate_limiter,
        redis=redis,
        replay=replay,
        presence=presence,
        _closers=closers,
        unavailable=as_unavailable,
    )
    untrack_gc = hub.metrics.track_gc()

    async def stop_tracking_gc() -> None:
        untrack_gc()

    hub.on_close(stop_tracking_gc)
    hub.metrics.db_pool_max.set(settings.db_pool_max)
    if redis is not None:
        hub.metrics.track_redis_bus()
    if not settings.embedded_database and not settings.signing_key:
        # Every instance sharing this database would mint its own key and refuse the others' tokens.
        log.warning(
            "HUB_SIGNING_KEY is not set: tokens are signed with a key generated into this instance's data "
            "directory, so other instances sharing this database will reject them; set the same "
            "HUB_SIGNING_KEY on every instance",
            extra={"fields": {"event": "signing_key_generated_locally", "data_dir": str(settings.data_path)}},
        )
    hub.on_close(rate_limiter.close)
    hub.on_close(kv.close)
    hub.on_close(bus.close)
    hub.health_checks.append(db)
    if redis is not None:
        hub.health_checks.append(_RedisPing(redis))
        hub.health_checks.append(bus)
    try:
        for wire in capability_wiring():
            await wire(hub)
        await bus.start()
        if settings.metrics_address is not None:
            _serve_metrics(hub, *settings.metrics_address)
        await hub.sample_metrics()
        hub.spawn(hub.sample_metrics_forever(), "metrics-sampler")
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

    def __init__(self, redis: Any) -> None:
        self._redis = redis

    async def check(self) -> None:
        from hub.errors import RedisUnavailable

        try:
            await self._redis.ping()
        except Exception as exc:
            raise RedisUnavailable("Redis is unreachable.") from exc
