"""Batch jobs: `hub batch <job>` on the command line, and the same jobs on the maintenance schedule.

- `counters`: recompute likes, comments, followers, following and posts counts; report what drifted;
- `tokens`: delete expired refresh tokens and revocations nobody needs any more;
- `notifications`: delete read notifications older than HUB_NOTIFICATION_RETENTION;
- `feeds`: rebuild the cached home feeds of recently active accounts, paced.

Scheduled runs take a database advisory lock per job (`ExclusiveLock`), so with many instances each job
runs on one of them at a time; the others skip that round. Every run records its duration, the items it
handled and its failures in metrics, and logs `batch_job_done` or `batch_job_failed`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from hub.logs import log_event
from hub.metrics import Metrics
from hub.ports.infra import ExclusiveLock
from hub.tasks import every

log = logging.getLogger(__name__)


class Progress(Protocol):
    """Where a job reports how far it is: `total` None while unknown."""

    def update(self, done: int, total: int | None = None) -> None: ...


class NoProgress:
    def update(self, done: int, total: int | None = None) -> None:
        return None


# A job: does its work, tells `progress`, returns what it did by kind ({"refresh_tokens": 12, ...}).
BatchJob = Callable[[Progress], Awaitable[dict[str, int]]]


class BatchJobs:
    """The hub's batch jobs by name, run on demand or on the schedule."""

    def __init__(self, lock: ExclusiveLock, metrics: Metrics) -> None:
        self._lock = lock
        self._metrics = metrics
        self._jobs: dict[str, BatchJob] = {}

    def add(self, name: str, job: BatchJob) -> None:
        self._jobs[name] = job

    @property
    def names(self) -> list[str]:
        return list(self._jobs)

    async def run(self, name: str, progress: Progress | None = None) -> dict[str, int]:
        """Run job `name` now (the command line), whoever else runs it."""
        job = self._jobs[name]
        started = time.perf_counter()
        try:
            result = await job(progress or NoProgress())
        except Exception as exc:
            self._metrics.batch_job_failures.labels(job=name).inc()
            log_event("batch_job_failed", job=name, error=type(exc).__name__)
            raise
        finally:
            self._metrics.batch_job_seconds.labels(job=name).observe(time.perf_counter() - started)
        self._metrics.batch_job_items.labels(job=name).inc(sum(result.values()))
        log_event("batch_job_done", job=name, seconds=round(time.perf_counter() - started, 3), **result)
        return result

    async def run_exclusive(self, name: str) -> dict[str, int] | None:
        """Run job `name` unless another instance is running it (then None)."""
        async with self._lock.hold(f"batch:{name}") as held:
            if not held:
                return None
            return await self.run(name)

    async def run_all(self) -> None:
        for name in self._jobs:
            try:
                await self.run_exclusive(name)
            except Exception:  # logged and counted by `run`; the next job still runs
                log.warning("batch job failed", extra={"fields": {"job": name}})

    async def schedule_forever(self, interval: float) -> None:
        """Every `interval` seconds, starting one interval after start-up (not during a deploy's rush)."""
        await asyncio.sleep(interval)
        await every(interval, self.run_all, "batch jobs")
