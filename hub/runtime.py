"""The running hub: the backends chosen from the settings, the services built on them, their lifetime.

`Hub` is what the adapters reach (REST through `rest.context.hub`, Socket.IO through the getter the
composition root hands it). It only knows ports; `hub.bootstrap` picks the implementations and builds it.
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
from hub.ports.feed import FeedCache
from hub.ports.files import JobQueue
from hub.ports.infra import Bus, Database, HealthCheck, RateLimiter
from hub.ports.whiteboard import Presence, ReplayBuffer
from hub.tasks import every, stop_tasks

if TYPE_CHECKING:
    from hub.ports.files import BlobStore
    from hub.services.batch import BatchJobs
    from hub.services.bins import BinService
    from hub.services.board import BoardService
    from hub.services.feed import FeedService
    from hub.services.files import FileService
    from hub.services.identity import IdentityService
    from hub.services.jobs import JobRunner
    from hub.services.media import MediaWorker
    from hub.services.media_library import MediaLibraryService
    from hub.services.moderation import ModerationService
    from hub.services.notifications import NotificationService
    from hub.services.personal import PersonalRooms
    from hub.services.posts import PostService
    from hub.services.search import SearchService
    from hub.services.social import SocialService
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
    """Everything one hub process runs: backends, services and background tasks.

    The backends are chosen together from the settings (Redis when scaled out, in-memory otherwise);
    the capability services are set by their wiring (`hub.bootstrap.wiring`) before the hub serves.
    """

    settings: Settings
    metrics: Metrics
    db: Database
    bus: Bus
    rate_limiter: RateLimiter
    jobs: JobQueue
    replay: ReplayBuffer
    presence: Presence
    feed_cache: FeedCache
    health_checks: list[HealthCheck] = field(default_factory=list)
    # Driver knowledge for the adapters' last resort: an unreachable dependency as a 503, else None.
    unavailable: Callable[[BaseException], HubError | None] = field(default=lambda _exc: None)
    # Capabilities, set by their wiring functions.
    worker: JobRunner = field(init=False)  # the job queue's consumer: `hub worker`, or in-process when embedded
    identity: IdentityService = field(init=False)
    spaces: SpaceService = field(init=False)
    bins: BinService = field(init=False)
    files: FileService = field(init=False)
    blobs: BlobStore = field(init=False)
    media: MediaWorker = field(init=False)
    media_library: MediaLibraryService = field(init=False)
    whiteboard: WhiteboardService = field(init=False)
    board: BoardService = field(init=False)
    social: SocialService = field(init=False)
    personal: PersonalRooms = field(init=False)
    posts: PostService = field(init=False)
    search: SearchService = field(init=False)
    feed: FeedService = field(init=False)
    notifications: NotificationService = field(init=False)
    moderation: ModerationService = field(init=False)
    batch: BatchJobs = field(init=False)
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
                async with asyncio.timeout(2.0):
                    await check.check()
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
            async with asyncio.timeout(2.0):
                await self.worker.sample()

    async def sample_metrics_forever(self, interval: float = METRICS_SAMPLE_SECONDS) -> None:
        """Every `interval` seconds after the first sample, which start-up takes before the hub serves."""
        await asyncio.sleep(interval)
        await every(interval, self.sample_metrics, "metrics sample")

    async def close(self) -> None:
        await stop_tasks(self._tasks, CLOSE_TIMEOUT)
        for closer in reversed(self._closers):
            # Each bounded: a backend stuck on a dead peer must not hold the whole shutdown.
            try:
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await closer()
            except TimeoutError:
                log.warning("a backend did not close in time", extra={"fields": {"closer": repr(closer)}})
            except Exception:
                log.exception("error while closing the hub")
