"""The job worker: takes jobs off the queue and hands each to the handler of its kind.

One queue carries every kind of background work (media processing, notifications, …): `hub worker`
processes consume the shared Redis stream in the scaled mode, the embedded hub runs one loop itself.
A handler settles its job (acks it, or fails it for a retry or the dead letters); `settled` wraps a
plain coroutine in that contract for handlers that need nothing special on failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from hub.errors import HubError
from hub.metrics import Metrics
from hub.ports.files import Job, JobQueue

log = logging.getLogger(__name__)

# Settles `job`: acks it, or fails it (to be retried, or dead-lettered past the attempts).
JobHandler = Callable[[Job], Awaitable[None]]

# The error a job of a kind nobody here handles fails with (another version's worker may know it).
UNKNOWN_KIND = "unknown_job_kind"

# The payload field with the enqueue time (epoch seconds), from which the lag is measured.
ENQUEUED_AT = "enqueued_at"

# The outcomes `hub_jobs_processed_total` counts.
OUTCOMES = ("done", "failed", "dead_lettered")


def stamped(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload with its enqueue time, for the lag metric."""
    return {**payload, ENQUEUED_AT: time.time()}


class JobRunner:
    """Dispatches the queue's jobs by kind."""

    def __init__(self, queue: JobQueue, metrics: Metrics) -> None:
        self.queue = queue
        self.metrics = metrics
        self._handlers: dict[str, JobHandler] = {}

    def register(self, kind: str, handler: JobHandler) -> None:
        self._handlers[kind] = handler
        # Every series of a handled kind exists from the start, so rates and alerts see a 0 before the
        # first job rather than no data.
        for outcome in OUTCOMES:
            self.metrics.jobs_processed.labels(kind=kind, outcome=outcome)
        self.metrics.job_lag.labels(kind=kind)

    @property
    def kinds(self) -> list[str]:
        """The kinds handled here: each has a queue gauge series, zero or not."""
        return sorted(self._handlers)

    async def sample(self) -> None:
        """Read the queue's depth and dead letters by kind into the gauges (the hub's metrics sampler
        calls it, in `hub serve` and `hub worker` alike)."""
        self.metrics.record_jobs(self.kinds, await self.queue.depths(), await self.queue.dead_letter_counts())

    def settled(self, kind: str, work: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        """Register `work(payload)`: the job is acked when it returns and failed when it raises."""

        async def handle(job: Job) -> None:
            try:
                await work(job.payload)
            except Exception as exc:
                code = exc.code if isinstance(exc, HubError) else type(exc).__name__
                log.warning(
                    "job failed",
                    extra={"fields": {"kind": kind, "job": job.id, "attempts": job.attempts + 1, "error": code}},
                )
                self.metrics.jobs_processed.labels(kind=kind, outcome="failed").inc()
                if await self.queue.fail(job, code):
                    self.metrics.jobs_processed.labels(kind=kind, outcome="dead_lettered").inc()
                    log.warning("job dead-lettered", extra={"fields": {"kind": kind, "job": job.id}})
                return
            await self.queue.ack(job)
            self.metrics.jobs_processed.labels(kind=kind, outcome="done").inc()

        self.register(kind, handle)

    async def run(self, consumer: str, stop: asyncio.Event | None = None) -> None:
        """Process jobs until `stop` is set; a queue outage is waited out, never raised."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                job = await self.queue.receive(consumer, timeout=1.0)
            except HubError as exc:
                log.warning("job queue unavailable", extra={"fields": {"code": exc.code}})
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await stop.wait()
                continue
            if job is not None:
                await self.dispatch(job)

    async def dispatch(self, job: Job) -> None:
        enqueued = job.payload.get(ENQUEUED_AT)
        if isinstance(enqueued, int | float):
            self.metrics.job_lag.labels(kind=job.kind).observe(max(0.0, time.time() - enqueued))
        handler = self._handlers.get(job.kind)
        if handler is None:
            log.warning("job of an unknown kind", extra={"fields": {"kind": job.kind, "job": job.id}})
            await self.queue.fail(job, UNKNOWN_KIND)
            return
        try:
            await handler(job)
        except Exception:  # a handler that failed to settle: the job is retried after its visibility timeout
            log.exception("job handler failed", extra={"fields": {"kind": job.kind, "job": job.id}})
