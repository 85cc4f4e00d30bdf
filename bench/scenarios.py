"""The five scenarios, their load-generator settings (full and --quick) and the numbers each reports.

Targets are what we aim for, printed beside the results; the benchmark reports, it never asserts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Report = dict[str, Any]


@dataclass(frozen=True)
class Metric:
    """One number read from a load-generator report; `higher` says which direction is better."""

    label: str
    read: Callable[[Report], float | None]
    target: str = ""
    higher: bool = False


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    rooms: int
    clients: int
    loadgen: dict[str, Any]
    max_seconds: float
    metrics: list[Metric] = field(default_factory=list)
    # Run without --only? The crowd (10,000 sockets, minutes of set-up) is asked for by name.
    by_default: bool = True


def _get(report: Report, *path: str) -> float | None:
    value: Any = report
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _step(report: Report, *path: str) -> float | None:
    steps = report.get("steps") or []
    return _get(steps[0], *path) if steps else None


def _seconds(report: Report, key: str) -> float | None:
    ms = _get(report, key)
    return None if ms is None else round(ms / 1000, 2)


def _cpu_per_stroke(report: Report) -> float | None:
    """Server (and, for the hub, PostgreSQL) CPU per stroke sent: the step's mean CPU over its send rate.
    The CPU window includes the drain after the last send, so this slightly understates the cost."""
    cpu, rate = _step(report, "server_cpu_pct"), _step(report, "send_rate")
    if cpu is None or not rate:
        return None
    return (cpu + (_step(report, "aux_cpu_pct") or 0.0)) * 10_000 / rate


def _saturated(report: Report) -> float | None:
    steps = report.get("steps") or []
    if not steps:
        return _get(report, "loadgen_cpu_pct")
    return max((_get(s, "loadgen_cpu_pct") or 0.0) for s in steps)


def scenarios(quick: bool) -> list[Scenario]:
    # Ramp: 100 clients, 4 senders; deliveries/s = rate x 99. The ramp stops at the first step whose
    # delivery p99 exceeds 100 ms or that loses a delivery.
    ramp = [25, 50, 100, 150, 200, 300, 400, 600, 800, 1200, 1600] if not quick else [50, 200, 800]
    step_seconds = 3.0 if not quick else 1.5
    return [
        Scenario(
            key="fanout",
            title="1 room x 100 clients: max deliveries/s at p99 <= 100 ms, zero loss",
            rooms=1,
            clients=100,
            max_seconds=120,
            loadgen={
                "mode": "fanout",
                "senders": 4,
                "stopP99Ms": 100,
                "drainMs": 3000,
                "steps": [{"rate": r, "duration": step_seconds} for r in ramp],
            },
            metrics=[
                Metric(
                    "max deliveries/s",
                    lambda r: _get(r, "best", "deliveries_per_s"),
                    "higher is better",
                    higher=True,
                ),
                Metric("at that rate: strokes/s per room", lambda r: _get(r, "best", "rate_per_room"), "", higher=True),
                Metric("at that rate: delivery p99 ms", lambda r: _get(r, "best", "delivery_ms", "p99"), "<= 100"),
                Metric("at that rate: server CPU %", lambda r: _get(r, "best", "server_cpu_pct"), "of one core"),
                Metric("loadgen CPU %, busiest step", _saturated, "< 90 else saturated"),
            ],
        ),
        Scenario(
            key="steady",
            title="10 rooms x 20 clients, 50 strokes/s per room",
            rooms=10,
            clients=20,
            max_seconds=60,
            loadgen={
                "mode": "fanout",
                "senders": 2,
                "drainMs": 3000,
                "steps": [{"rate": 50, "duration": 10.0 if not quick else 3.0}],
            },
            metrics=[
                Metric("ack p99 ms", lambda r: _step(r, "ack_ms", "p99"), "<= 15"),
                Metric("delivery p99 ms", lambda r: _step(r, "delivery_ms", "p99"), "<= 15"),
                Metric("delivery p50 ms", lambda r: _step(r, "delivery_ms", "p50"), ""),
                Metric("lost deliveries", lambda r: _step(r, "loss"), "0"),
                Metric("server CPU %", lambda r: _step(r, "server_cpu_pct"), "of one core"),
                Metric("db CPU %", lambda r: _step(r, "aux_cpu_pct"), "hub only"),
            ],
        ),
        Scenario(
            key="small",
            title="100 rooms x 2 clients, 5 strokes/s per room (500 acked strokes/s)",
            rooms=100,
            clients=2,
            max_seconds=90,
            loadgen={
                "mode": "fanout",
                "senders": 2,
                "drainMs": 3000,
                "steps": [{"rate": 5, "duration": 10.0 if not quick else 3.0}],
            },
            metrics=[
                Metric("ack p99 ms", lambda r: _step(r, "ack_ms", "p99"), ""),
                Metric("delivery p99 ms", lambda r: _step(r, "delivery_ms", "p99"), ""),
                Metric("lost deliveries", lambda r: _step(r, "loss"), "0"),
                Metric("server CPU %", lambda r: _step(r, "server_cpu_pct"), "of one core"),
                Metric("db CPU %", lambda r: _step(r, "aux_cpu_pct"), "hub only"),
                Metric("CPU us per stroke (server + db)", _cpu_per_stroke, "<= 300"),
            ],
        ),
        Scenario(
            key="idle",
            title=f"{1000 if not quick else 300} idle sockets (joined, 10 rooms)",
            rooms=10,
            clients=100 if not quick else 30,
            max_seconds=90,
            loadgen={"mode": "idle", "idleHoldMs": 3000 if not quick else 1000},
            metrics=[
                Metric("connected", lambda r: _get(r, "connected"), "all", higher=True),
                Metric("RSS KB per connection", lambda r: _get(r, "rss_per_conn_kb"), "<= 20"),
            ],
        ),
        Scenario(
            key="crowd",
            title=f"{10_000 if not quick else 500:,} idle sockets (joined, 100 rooms), then SIGTERM",
            rooms=100 if not quick else 10,
            clients=100 if not quick else 50,
            max_seconds=300,
            loadgen={"mode": "idle", "idleHoldMs": 10_000 if not quick else 1000, "stopServer": True},
            by_default=False,
            metrics=[
                Metric("connected", lambda r: _get(r, "connected"), "all", higher=True),
                Metric("connect + join s, all of them", lambda r: _seconds(r, "connect_ms"), "<= 5"),
                Metric("RSS KB per connection", lambda r: _get(r, "rss_per_conn_kb"), "<= 16"),
                Metric("idle server CPU %", lambda r: _get(r, "server_cpu_pct"), "<= 3"),
                Metric("db CPU % while idle", lambda r: _get(r, "aux_cpu_pct"), "hub only"),
                Metric("shutdown s (SIGTERM to exit)", lambda r: _seconds(r, "shutdown_ms"), "<= 3"),
            ],
        ),
        Scenario(
            key="replay",
            title="replay of 1,000 events (join with since)",
            rooms=1,
            clients=3,
            max_seconds=60,
            loadgen={
                "mode": "replay",
                "replay": {"events": 1000, "joins": 10 if not quick else 5, "window": 32},
            },
            metrics=[
                Metric("replay join p50 ms", lambda r: _get(r, "replay_ms", "p50"), "<= 50"),
                Metric("replay join max ms", lambda r: _get(r, "replay_ms", "max"), "<= 50"),
                Metric("complete replays", lambda r: _get(r, "replay_checks", "complete"), "all", higher=True),
            ],
        ),
    ]
