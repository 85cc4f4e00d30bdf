"""Prometheus metrics, held on a registry owned by one hub instance (no import-time globals)."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics


class Metrics:
    """All metrics the hub exports on `/metrics`."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        # Every counter and histogram would otherwise carry a `_created` twin series: twice the
        # series for no dashboard or alert that uses them. The switch is process-wide and must
        # precede the metrics' creation.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_latency = Histogram(
            "hub_http_request_duration_seconds",
            "HTTP request latency by route template and status.",
            ["method", "route", "status"],
            registry=r,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
        )
        self.http_in_flight = Gauge("hub_http_requests_in_flight", "HTTP requests being served.", registry=r)
        self.errors = Counter("hub_errors_total", "Error responses by error code.", ["code"], registry=r)
        self.db_pool_size = Gauge("hub_db_pool_size", "Connections in the database pool.", registry=r)
        self.db_pool_idle = Gauge("hub_db_pool_idle", "Idle connections in the database pool.", registry=r)
        # With size and idle, tells an exhausted pool (size == max, idle == 0) from a quiet one.
        self.db_pool_max = Gauge("hub_db_pool_max", "Largest size of the database pool (HUB_DB_POOL_MAX).", registry=r)
        self.ready = Gauge("hub_ready", "1 when every readiness check passes (as /readyz answers 200).", registry=r)
        self.readiness_check = Gauge(
            "hub_readiness_check",
            "1 when this readiness check passes, 0 when it fails.",
            ["check"],
            registry=r,
        )
        self.sockets_connected = Gauge("hub_sockets_connected", "Connected Socket.IO clients.", registry=r)
        self.realtime_events = Counter(
            "hub_realtime_events_total",
            "Socket events handled, by event and outcome.",
            ["event", "outcome"],
            registry=r,
        )
        self.deliveries = Counter("hub_realtime_deliveries_total", "Messages delivered to sockets.", registry=r)
        self.slow_consumers_dropped = Counter(
            "hub_realtime_slow_consumers_dropped_total",
            "Sockets disconnected for falling more than HUB_WS_MAX_BACKLOG_BYTES behind.",
            registry=r,
        )
        self.group_commit_size = Histogram(
            "hub_stroke_group_commit_size",
            "Strokes committed per group commit.",
            registry=r,
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
        )
        # The stroke path's latency, split where it can be acted on (see hub/services/whiteboard_commit.py).
        stroke_buckets = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 1.0)
        self.stroke_commit_seconds = Histogram(
            "hub_stroke_commit_seconds",
            "Duration of one stroke group-commit transaction.",
            registry=r,
            buckets=stroke_buckets,
        )
        self.stroke_ack_seconds = Histogram(
            "hub_stroke_ack_seconds",
            "Time from a stroke's arrival at the committer to its ack.",
            registry=r,
            buckets=stroke_buckets,
        )
        # A collection stops the event loop: every socket's latency includes it.
        self.gc_pause_seconds = Histogram(
            "hub_gc_pause_seconds",
            "Garbage-collector pauses, by generation.",
            ["generation"],
            registry=r,
            buckets=(0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1),
        )
        self.uploads_created = Counter("hub_uploads_created_total", "Upload URLs issued.", registry=r)
        self.downloads_created = Counter("hub_downloads_created_total", "Download URLs issued.", registry=r)
        self.bytes_confirmed = Counter("hub_upload_bytes_confirmed_total", "Bytes of completed uploads.", registry=r)
        self.presign_latency = Histogram(
            "hub_presign_duration_seconds",
            "Time to presign a store URL.",
            registry=r,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1),
        )
        self.queue_depth = Gauge(
            "hub_jobs_queue_depth", "Jobs not settled yet (waiting or being processed), by kind.", ["kind"], registry=r
        )
        self.job_latency = Histogram("hub_job_duration_seconds", "Media job processing time.", registry=r)
        self.job_failures = Counter("hub_job_failures_total", "Media job failures.", registry=r)
        self.jobs_processed = Counter(
            "hub_jobs_processed_total",
            "Jobs by kind and outcome (done, failed, dead_lettered).",
            ["kind", "outcome"],
            registry=r,
        )
        self.job_lag = Histogram(
            "hub_job_lag_seconds",
            "Time from a job's enqueue to the start of its processing, by kind.",
            ["kind"],
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
        )
        self.notifications_created = Counter(
            "hub_notifications_total", "Notifications that reached someone, by type.", ["type"], registry=r
        )
        self.notification_delivery = Histogram(
            "hub_notification_delivery_seconds",
            "From the commit that caused a notification to its push to the recipient's sockets.",
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        )
        self.batch_job_seconds = Histogram(
            "hub_batch_job_seconds",
            "Duration of batch job runs (hub batch, the maintenance schedule), by job.",
            ["job"],
            registry=r,
            buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0),
        )
        self.batch_job_items = Counter(
            "hub_batch_job_items_total", "Items batch jobs fixed, deleted or rebuilt, by job.", ["job"], registry=r
        )
        self.batch_job_failures = Counter(
            "hub_batch_job_failures_total", "Failed batch job runs, by job.", ["job"], registry=r
        )
        self.moderation_actions = Counter(
            "hub_moderation_actions_total", "Moderation and role actions, by kind.", ["action"], registry=r
        )
        self.reports_created = Counter("hub_reports_total", "Reports filed, by category.", ["category"], registry=r)
        self.dead_letters = Gauge(
            "hub_jobs_dead_letters",
            "Jobs dead-lettered after HUB_JOB_MAX_ATTEMPTS, by kind.",
            ["kind"],
            registry=r,
        )
        # Created only in the scaled mode (`track_redis_bus`): the embedded hub has no Redis, and a
        # gauge stuck at 0 there would look like an outage.
        self.redis_bus_connected: Gauge | None = None
        self.spaces_expired = Counter("hub_spaces_expired_total", "Spaces purged after expiry.", registry=r)

    def track_redis_bus(self) -> Gauge:
        if self.redis_bus_connected is None:
            self.redis_bus_connected = Gauge(
                "hub_redis_bus_connected",
                "1 while the Redis pub/sub subscription is live and its canary comes back.",
                registry=self.registry,
            )
        return self.redis_bus_connected

    def record_readiness(self, checks: dict[str, str]) -> None:
        for name, outcome in checks.items():
            self.readiness_check.labels(check=name).set(1 if outcome == "ok" else 0)
        self.ready.set(1 if all(v == "ok" for v in checks.values()) else 0)

    def record_jobs(self, kinds: Iterable[str], depths: dict[str, int], dead: dict[str, int]) -> None:
        """Set the queue gauges: every kind in `kinds` (the handled ones) has a series, 0 when empty."""
        for kind in {*kinds, *depths, *dead}:
            self.queue_depth.labels(kind=kind).set(depths.get(kind, 0))
            self.dead_letters.labels(kind=kind).set(dead.get(kind, 0))

    def track_gc(self) -> Callable[[], None]:
        """Time every garbage collection of this process into `gc_pause_seconds`; returns the remover."""
        children = [self.gc_pause_seconds.labels(generation=str(g)) for g in range(3)]
        started = [0.0]

        def callback(phase: str, info: dict[str, Any]) -> None:
            if phase == "start":
                started[0] = time.perf_counter()
            else:
                children[min(int(info.get("generation", 2)), 2)].observe(time.perf_counter() - started[0])

        gc.callbacks.append(callback)

        def remove() -> None:
            if callback in gc.callbacks:
                gc.callbacks.remove(callback)

        return remove
