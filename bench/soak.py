"""`python -m bench.soak`: the whiteboard under steady load for minutes, through a Redis restart and a hub crash.

Scaled mode on one machine: a private durable PostgreSQL and a private Redis (both started here, on
loopback ports of their own), two `hub serve` processes sharing them, and the Node load generator's
`soak` mode with every room's members spread over both hubs. While strokes flow, Redis is stopped and
started again (every key lost, as after a crash without persistence), later one hub is SIGKILLed and
started again on its port. Sockets of the dead hub reconnect by themselves (to the other hub or the
restarted one) and join with the last `{seq, epoch}` they saw; strokes whose ack never came are sent
again with the same id.

Reported: loss (acked strokes that never reached some other member of the room, live, by replay or in
a snapshot), duplicates, delivery latency (all live deliveries, and the worst 5-s window away from the
faults), and each hub process's RSS and open file descriptors at the start and the end of the load.
Targets: 0 lost, RSS within 10 %, no fd growth. The benchmark reports; it never asserts.

    python -m bench.soak                                   # 10 min, 200 clients, 20 rooms, 2,000 deliveries/s
    python -m bench.soak --minutes 0.5 --clients 20 --rooms 4 --rate 200
    python -m bench.soak --pin --update-docs               # servers on CPU 0, load generator on CPU 1
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import procs, provision, report
from hub.bootstrap.app import pooled_connections
from hub.config import Settings

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DOCS = procs.REPO_ROOT / "docs" / "performance.md"


def markers(block: str) -> tuple[str, str]:
    """The markers of a results block in docs/performance.md: "soak", or "soak:<block>" for another run."""
    name = "soak" if block == "soak" else f"soak:{block}"
    return f"<!-- bench:{name}:begin -->", f"<!-- bench:{name}:end -->"


WINDOW_S = 5.0
# A 5-s window this close to a fault (after it ends) still counts as disturbed by it.
SETTLE_S = 10.0


@dataclass
class Options:
    seconds: float = 600.0
    clients: int = 200
    rooms: int = 20
    rate: float = 2000.0  # deliveries/s over all rooms
    redis_at: float = 0.35  # fractions of the sending time
    redis_down: float = 3.0
    kill_at: float = 0.55
    hub_down: float = 5.0
    faults: tuple[str, ...] = ("redis", "kill")
    drain_s: float = 30.0
    sample_s: float = 5.0
    pin: bool = False


@dataclass
class Sample:
    t_s: float  # since sending started
    pid: int
    rss_kb: int | None
    fds: int | None
    sockets: int | None
    cpu_s: float | None = None  # the process's CPU time so far


@dataclass
class HubTrack:
    hub: procs.HubProcess
    samples: list[Sample] = field(default_factory=list)
    # pid -> label ("hub1", "hub1 (restarted)")
    labels: dict[int, str] = field(default_factory=dict)


def _rss_kb(pid: int) -> int | None:
    with contextlib.suppress(OSError):
        match = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
        return int(match.group(1)) if match else None
    return None


def _fds(pid: int) -> int | None:
    with contextlib.suppress(OSError):
        return len(os.listdir(f"/proc/{pid}/fd"))
    return None


def _fd_kinds(pid: int, peers: dict[int, str]) -> dict[str, int]:
    """A process's open fds by kind: TCP connections by the service at the other end, then the rest."""
    kinds: Counter[str] = Counter()
    sockets = procs.socket_table()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    entry = sockets.get(target[8:-1])
                    if entry is None:
                        # A TCP socket not connected yet (or closing) is in none of the tables.
                        kinds["socket (TCP, unconnected)"] += 1
                    elif entry.kind != "tcp":
                        kinds[f"socket ({entry.kind})"] += 1
                    elif entry.remote_port == 0:
                        kinds["tcp listen"] += 1
                    else:
                        peer = peers.get(entry.remote_port, "clients" if entry.local_port in peers else "other")
                        kinds[f"tcp to {peer}"] += 1
                elif target.startswith("anon_inode:"):
                    kinds[target.strip("[]")] += 1  # eventfd, eventpoll, ...
                elif target.startswith("pipe:"):
                    kinds["pipe"] += 1
                else:
                    kinds["file"] += 1
    return dict(sorted(kinds.items()))


def _redis_clients(pid: int, redis_port: int) -> dict[str, int]:
    """A process's connections to Redis by client name (`<prefix>:hub`, `<prefix>:ratelimit`)."""
    import redis as redis_py

    sockets = procs.socket_table()
    entries = [sockets.get(inode) for inode in procs.socket_inodes(pid)]
    mine = {e.local_port for e in entries if e is not None and e.kind == "tcp" and e.remote_port == redis_port}
    names: Counter[str] = Counter()
    with contextlib.suppress(redis_py.RedisError, OSError):
        with redis_py.Redis(port=redis_port, socket_timeout=5) as admin:
            for client in admin.client_list():
                if int(str(client.get("addr", ":0")).rsplit(":", 1)[1]) in mine:
                    names[str(client.get("name") or "(unnamed)")] += 1
    return dict(sorted(names.items()))


def _sockets(url: str) -> int | None:
    with contextlib.suppress(httpx.HTTPError):
        match = re.search(r"^hub_sockets_connected ([0-9.e+]+)$", httpx.get(f"{url}/metrics", timeout=5).text, re.M)
        return int(float(match.group(1))) if match else None
    return None


def _sample(track: HubTrack, t_s: float) -> None:
    proc = track.hub.proc
    if proc is None or proc.poll() is not None or proc.pid not in track.labels:
        return  # dead, or still starting up
    track.samples.append(
        Sample(
            round(t_s, 1),
            proc.pid,
            _rss_kb(proc.pid),
            _fds(proc.pid),
            _sockets(track.hub.url),
            procs.cpu_seconds(proc.pid),
        )
    )


class _Loadgen:
    """The Node load generator in `soak` mode, its progress lines read as they come."""

    def __init__(self, config: dict[str, Any], workdir: Path, cpu: int | None) -> None:
        self.config_path = workdir / "soak-loadgen.json"
        self.config_path.write_text(json.dumps(config))
        self.out_path = workdir / "soak-loadgen.out"
        self.log_path = workdir / "soak-loadgen.log"
        self.sending = threading.Event()
        self.draining = threading.Event()
        self.send_started_unix_ms = 0.0
        self.lines: list[str] = []
        preexec: Callable[[], None] | None = None
        if cpu is not None:
            preexec = lambda: os.sched_setaffinity(0, {cpu})  # noqa: E731
        with open(self.out_path, "wb") as out:
            self.proc = subprocess.Popen(
                [procs.node_binary(), str(procs.NODE_DIR / "loadgen.js"), "--config", str(self.config_path)],
                cwd=procs.NODE_DIR,
                stdout=out,
                stderr=subprocess.PIPE,
                preexec_fn=preexec,
            )
        self._reader = threading.Thread(target=self._read, name="soak-loadgen-stderr", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        with open(self.log_path, "w") as log:
            for raw in self.proc.stderr:
                line = raw.decode(errors="replace").rstrip()
                log.write(line + "\n")
                log.flush()
                self.lines.append(line)
                if len(self.lines) > 200:
                    del self.lines[:100]
                body = line.removeprefix("[loadgen] ")
                if not body.startswith("{"):
                    continue
                with contextlib.suppress(ValueError):
                    event = json.loads(body)
                    if event.get("phase") == "sending":
                        self.send_started_unix_ms = float(event["unix_ms"])
                        self.sending.set()
                    elif event.get("phase") == "draining":
                        self.draining.set()
                    elif event.get("phase") == "progress":
                        print(f"  {body}", file=sys.stderr, flush=True)

    def result(self, timeout: float) -> dict[str, Any]:
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            return {"error": f"load generator killed after {timeout:.0f}s", "log": self.lines[-20:]}
        self._reader.join(10)
        for line in reversed(self.out_path.read_text(errors="replace").strip().splitlines()):
            with contextlib.suppress(ValueError):
                out: dict[str, Any] = json.loads(line)
                out["log"] = self.lines[-20:]
                return out
        return {"error": f"load generator exited with {self.proc.returncode}", "log": self.lines[-20:]}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def _log_findings(path: Path) -> dict[str, int]:
    """Warnings, errors and tracebacks in a hub's log, counted by message."""
    found: Counter[str] = Counter()
    with contextlib.suppress(OSError), open(path, errors="replace") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            if line.startswith("Traceback"):
                found["Traceback"] += 1
                continue
            try:
                record = json.loads(line)
            except ValueError:
                if re.search(r"\b(ERROR|CRITICAL|WARNING)\b", line):
                    found[line[:120]] += 1
                continue
            if isinstance(record, dict):
                level = str(record.get("level", record.get("levelname", ""))).upper()
                message = str(record.get("msg", record.get("message", "")))[:100]
                if level in {"WARNING", "ERROR", "CRITICAL"}:
                    found[f"{level} {message}"] += 1
    return dict(found.most_common(30))


def run(opts: Options, workdir: Path) -> dict[str, Any]:
    """One soak run; returns the full result (the load generator's report, samples, faults, verdicts)."""
    procs.ensure_node_deps()
    workdir.mkdir(parents=True, exist_ok=True)
    server_cpu: int | None = None
    load_cpu: int | None = None
    if opts.pin and (os.cpu_count() or 1) >= 2:
        # Everything started from here on (PostgreSQL, Redis, the hubs) inherits CPU 0.
        server_cpu, load_cpu = 0, 1
        os.sched_setaffinity(0, {server_cpu})
    per_room = max(2, opts.clients // opts.rooms)
    rate_per_room = opts.rate / (opts.rooms * (per_room - 1))
    result: dict[str, Any] = {
        "options": {**opts.__dict__, "clients_per_room": per_room, "strokes_per_s_per_room": round(rate_per_room, 2)},
        "faults": [],
        "loadavg_start": report.loadavg(),
    }
    pg = procs.Postgres()
    redis = procs.Redis(workdir)
    tracks: list[HubTrack] = []
    loadgen: _Loadgen | None = None
    t_wall0 = time.time()
    try:
        pg.start()
        redis.start()
        key = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
        extra = {"REDIS_URL": redis.url, "HUB_SIGNING_KEY": key}
        for i in range(2):
            hub = procs.HubProcess(pg, workdir, extra, name=f"hub{i}")
            hub.start()  # one after the other: the first one migrates the schema
            tracks.append(HubTrack(hub, labels={hub.pid: hub.name}))
        layout = provision.hub_rooms(tracks[0].hub.url, opts.rooms, per_room, "soak")
        peers = {redis.port: "redis", pg.server.port: "postgres", **{t.hub.port: t.hub.name for t in tracks}}
        idle = {
            t.hub.name: {
                "rss_kb": _rss_kb(t.hub.pid),
                "fds": _fds(t.hub.pid),
                "fd_kinds": _fd_kinds(t.hub.pid, peers),
                "redis_clients": _redis_clients(t.hub.pid, redis.port),
            }
            for t in tracks
        }
        result["idle_before"] = idle
        config = {
            "mode": "soak",
            "urls": [t.hub.url for t in tracks],
            "url": tracks[0].hub.url,
            "rooms": layout,
            "ratePerRoom": rate_per_room,
            "duration": opts.seconds,
            "drainMs": opts.drain_s * 1000,
            "windowMs": WINDOW_S * 1000,
            "connectConcurrency": 20,
            "maxSeconds": opts.seconds + opts.drain_s + 180,
            "clkTck": os.sysconf("SC_CLK_TCK"),
        }
        loadgen = _Loadgen(config, workdir, load_cpu)
        if not loadgen.sending.wait(120):
            raise procs.BenchError(f"load generator did not start sending: {loadgen.lines[-5:]}")
        t0 = loadgen.send_started_unix_ms / 1000

        def since() -> float:
            return time.time() - t0

        for t in tracks:
            _sample(t, since())
        # Redis's and PostgreSQL's CPU over the sending time (Redis only when it was never restarted).
        services_cpu0 = {"redis": procs.cpu_seconds(redis.pid), "postgres": procs.cpu_seconds(pg.pid)}
        redis_pid0 = redis.pid
        victim = tracks[1]
        restarts: list[threading.Thread] = []

        def restart(record: dict[str, Any], started: float) -> None:
            try:
                victim.hub.start()
                victim.labels[victim.hub.pid] = f"{victim.hub.name} (restarted)"
            except procs.BenchError as exc:
                record["error"] = str(exc)
            record["took_s"] = round(since() - started, 1)

        plan: list[tuple[float, str]] = []
        if "redis" in opts.faults:
            plan += [
                (opts.seconds * opts.redis_at, "redis stop"),
                (opts.seconds * opts.redis_at + opts.redis_down, "redis start"),
            ]
        if "kill" in opts.faults:
            plan += [
                (opts.seconds * opts.kill_at, f"{victim.hub.name} SIGKILL"),
                (opts.seconds * opts.kill_at + opts.hub_down, f"{victim.hub.name} start"),
            ]
        plan.sort()
        next_sample = since() + opts.sample_s
        deadline = time.monotonic() + opts.seconds + opts.drain_s + 120
        while not loadgen.draining.is_set() and loadgen.proc.poll() is None and time.monotonic() < deadline:
            now = since()
            while plan and plan[0][0] <= now:
                _, action = plan.pop(0)
                started = since()
                if action == "redis stop":
                    redis.stop()
                elif action == "redis start":
                    redis.start()
                elif action.endswith("SIGKILL"):
                    for t in tracks:  # the victim's last look before it dies
                        _sample(t, since())
                    victim.hub.kill()
                else:
                    # In the background: a start-up under load takes seconds, and sampling must go on.
                    record = {"action": action, "at_s": round(started, 1), "took_s": None}
                    restarts.append(threading.Thread(target=restart, args=(record, started), daemon=True))
                    restarts[-1].start()
                    result["faults"].append(record)
                    print(f"  {started:7.1f}s {action}", file=sys.stderr, flush=True)
                    continue
                took = round(since() - started, 1)
                result["faults"].append({"action": action, "at_s": round(started, 1), "took_s": took})
                print(f"  {started:7.1f}s {action}", file=sys.stderr, flush=True)
            if now >= next_sample:
                for t in tracks:
                    _sample(t, now)
                next_sample = now + opts.sample_s
            wait = min([next_sample - since(), *(p[0] - since() for p in plan[:1])])
            loadgen.draining.wait(max(0.05, wait))  # wakes at once when the load generator stops sending
        send_end = since()
        for t in tracks:  # the end of the load, every socket still connected
            _sample(t, send_end)
        result["services_cpu_s"] = {
            "redis": procs.cpu_seconds(redis.pid) - services_cpu0["redis"] if redis.pid == redis_pid0 else None,
            "postgres": procs.cpu_seconds(pg.pid) - services_cpu0["postgres"],
        }
        end_samples = {t.hub.name: t.samples[-1] for t in tracks if t.samples}
        loadgen_result = loadgen.result(opts.drain_s + 120)
        for thread in restarts:
            thread.join(90)  # HubProcess.start gives up after 60 s
        result["loadgen"] = loadgen_result
        result["send_end_s"] = round(send_end, 1)
        # After every socket closed: what a hub keeps once its clients are gone.
        settle = time.monotonic() + 30
        while time.monotonic() < settle and any((_sockets(t.hub.url) or 0) > 0 for t in tracks):
            time.sleep(0.2)  # polling the hubs' /metrics; bounded by `settle`
        # Three looks a second apart, the one with the fewest fds kept: a connection a pool is opening
        # or closing at that instant is not a leak.
        looks = []
        for i in range(3):
            if i:
                time.sleep(1)
            looks.append(
                {
                    t.hub.name: {
                        "rss_kb": _rss_kb(t.hub.pid),
                        "fds": _fds(t.hub.pid),
                        "sockets": _sockets(t.hub.url),
                        "fd_kinds": _fd_kinds(t.hub.pid, peers),
                        "redis_clients": _redis_clients(t.hub.pid, redis.port),
                    }
                    for t in tracks
                }
            )
        result["idle_after"] = {
            name: min((look[name] for look in looks), key=lambda sample: sample["fds"] or 0) for name in looks[0]
        }
        result["readyz"] = {}
        for t in tracks:
            try:
                result["readyz"][t.hub.name] = httpx.get(f"{t.hub.url}/readyz", timeout=5).status_code
            except httpx.HTTPError as exc:
                result["readyz"][t.hub.name] = f"{type(exc).__name__}"
        result["end_samples"] = {k: v.__dict__ for k, v in end_samples.items()}
    except (procs.BenchError, httpx.HTTPError, OSError) as exc:
        result["error"] = str(exc) if isinstance(exc, procs.BenchError) else f"{type(exc).__name__}: {exc}"
    except KeyboardInterrupt:
        result["error"] = "interrupted"  # still stop everything and report what was seen
    finally:
        if loadgen is not None:
            loadgen.stop()
        for t in tracks:
            t.hub.stop()
        redis.stop()
        pg.stop()
    result["wall_s"] = round(time.time() - t_wall0, 1)
    result["loadavg_end"] = report.loadavg()
    result["hub_logs"] = {t.hub.name: _log_findings(t.hub.log) for t in tracks}
    result["processes"] = _processes(tracks)
    result["latency"] = _latency(result)
    result["verdict"] = _verdict(result)
    return result


def _processes(tracks: list[HubTrack]) -> list[dict[str, Any]]:
    """Per hub process: its first and last sample under load, RSS growth and fd change."""
    out = []
    for t in tracks:
        for pid, label in t.labels.items():
            mine = [s for s in t.samples if s.pid == pid and s.rss_kb is not None]
            if not mine:
                continue
            first, last = mine[0], mine[-1]
            assert first.rss_kb is not None and last.rss_kb is not None
            out.append(
                {
                    "process": label,
                    "pid": pid,
                    "from_s": first.t_s,
                    "to_s": last.t_s,
                    "rss_start_kb": first.rss_kb,
                    "rss_end_kb": last.rss_kb,
                    "rss_max_kb": max(s.rss_kb or 0 for s in mine),
                    "rss_growth_pct": round((last.rss_kb - first.rss_kb) / first.rss_kb * 100, 1),
                    "fds_start": first.fds,
                    "fds_end": last.fds,
                    "sockets_start": first.sockets,
                    "sockets_end": last.sockets,
                    "cpu_s": None if first.cpu_s is None or last.cpu_s is None else round(last.cpu_s - first.cpu_s, 2),
                    "cpu_pct": (
                        None
                        if first.cpu_s is None or last.cpu_s is None or last.t_s <= first.t_s
                        else round((last.cpu_s - first.cpu_s) / (last.t_s - first.t_s) * 100, 1)
                    ),
                    "samples": [[s.t_s, s.rss_kb, s.fds, s.sockets] for s in mine],
                }
            )
    return out


def _latency(result: dict[str, Any]) -> dict[str, Any]:
    lg = result.get("loadgen") or {}
    faults = result.get("faults") or []
    # A fault's disturbance: from its first action to SETTLE_S after its last (stop..start pairs).
    spans: list[tuple[float, float]] = []
    for i in range(0, len(faults) - 1, 2):
        spans.append((faults[i]["at_s"], faults[i + 1]["at_s"] + (faults[i + 1]["took_s"] or 0) + SETTLE_S))
    calm = []
    for w in lg.get("timeline") or []:
        start, end = float(w["t_s"]), float(w["t_s"]) + WINDOW_S
        if w["delivery_ms"]["n"] and not any(a < end and start < b for a, b in spans):
            calm.append(w)
    p99s = [float(w["delivery_ms"]["p99"]) for w in calm]
    return {
        "all": lg.get("delivery_ms"),
        "calm_windows": len(calm),
        "calm_worst_window_p99_ms": max(p99s) if p99s else None,
        "calm_median_window_p99_ms": sorted(p99s)[len(p99s) // 2] if p99s else None,
        "disturbed_spans_s": [[round(a, 1), round(b, 1)] for a, b in spans],
    }


def _verdict(result: dict[str, Any]) -> dict[str, Any]:
    lg = result.get("loadgen") or {}
    procs_ = result.get("processes") or []
    survivors = [p for p in procs_ if p["to_s"] >= result.get("send_end_s", 0) - 1]
    return {
        "ran": not result.get("error") and not lg.get("error") and "lost" in lg,
        "zero_loss": lg.get("lost") == 0,
        "zero_duplicates": lg.get("duplicates") == 0,
        "all_reconnected": lg.get("connected_at_end") == lg.get("clients"),
        "rss_within_10pct": all(abs(p["rss_growth_pct"]) <= 10 for p in survivors) if survivors else None,
        "no_fd_growth": _no_fd_growth(result),
    }


# Connections the hub keeps in pools: they open on demand up to the pool's bound and stay open, so
# their count after a load says nothing about a leak as long as it is within that bound.
_POOLED = {"postgres": "tcp to postgres", "redis": "tcp to redis"}


def pool_bounds() -> dict[str, int]:
    """The most pooled connections a hub with default settings opens to each service."""
    return pooled_connections(Settings())


def unpooled_fds(sample: dict[str, Any]) -> int | None:
    """Idle fds that are not pooled connections (files, pipes, listeners, anything leaked)."""
    kinds = sample.get("fd_kinds") or {}
    if sample.get("fds") is None or not kinds:
        return None
    return int(sample["fds"]) - sum(int(kinds.get(kind, 0)) for kind in _POOLED.values())


def _no_fd_growth(result: dict[str, Any]) -> bool | None:
    """Per hub that lived through the whole run, idle (no socket): no more unpooled fds after the load
    than before it, and pooled connections within their pools' bounds."""
    before, after = result.get("idle_before") or {}, result.get("idle_after") or {}
    restarted = {p["process"].split()[0] for p in result.get("processes") or [] if "restarted" in p["process"]}
    names = [n for n in before if n in after and n not in restarted]
    bounds = pool_bounds()
    verdicts: list[bool] = []
    for name in names:
        b, a = unpooled_fds(before[name]), unpooled_fds(after[name])
        if a is None or b is None:
            return None
        kinds = after[name].get("fd_kinds") or {}
        within = all(int(kinds.get(kind, 0)) <= bounds[service] for service, kind in _POOLED.items())
        verdicts.append(a <= b and within)
    return all(verdicts) if verdicts else None


def _p50_p99(summary: dict[str, Any] | None) -> str:
    return f"p50 {summary.get('p50')} p99 {summary.get('p99')}" if summary else "n/a"


def summary_lines(result: dict[str, Any]) -> list[str]:
    o = result["options"]
    lg = result.get("loadgen") or {}
    lat = result.get("latency") or {}
    lines = [
        f"{o['clients_per_room'] * o['rooms']} clients in {o['rooms']} rooms, {o['rate']:,.0f} deliveries/s target "
        f"({o['strokes_per_s_per_room']} strokes/s per room), {o['seconds']:.0f} s; wall {result['wall_s']} s, "
        f"load average {result['loadavg_start']} -> {result['loadavg_end']}",
    ]
    if result.get("error") or lg.get("error"):
        lines.append(f"ERROR: {result.get('error') or lg.get('error')}")
    for f in result.get("faults") or []:
        lines.append(f"  fault at {f['at_s']:>6.1f} s: {f['action']} ({f['took_s']} s)")
    if "lost" in lg:
        d = lg["delivery_ms"]
        lines += [
            f"strokes sent {lg['strokes_sent']:,}, acked {lg['acked']:,}, unacked {lg['unacked']} (refused "
            f"{lg.get('refused')}), resends {lg['resends']}, ack errors {lg['ack_errors']}; load generator CPU "
            f"{lg.get('loadgen_cpu_pct')} % of a core",
            f"deliveries expected {lg['deliveries_expected']:,}: live {lg['delivered_live']:,}, replay "
            f"{lg['delivered_by_replay']:,}, snapshot {lg['delivered_by_snapshot']:,}; LOST {lg['lost']:,}; "
            f"duplicates {lg['duplicates']}, redelivered {lg.get('redelivered')}, replay overlap "
            f"{lg['replay_overlap']}, echoes {lg['echoes']}",
            f"live deliveries/s {lg['deliveries_per_s']:,}; delivery ms p50 {d['p50']} p99 {d['p99']} max {d['max']}; "
            f"calm 5-s windows: median p99 {lat.get('calm_median_window_p99_ms')}, worst p99 "
            f"{lat.get('calm_worst_window_p99_ms')} ({lat.get('calm_windows')} windows)",
            f"same hub: delivery ms {_p50_p99(lg.get('delivery_ms_same_hub'))}; across hubs (Redis): "
            f"{_p50_p99(lg.get('delivery_ms_cross_hub'))}; CPU us per live delivery {cpu_per_delivery(result)}",
            f"reconnects {lg['reconnects']} (moved hub {lg['moved_hub']}), joins recovered {lg['recovered_joins']}, "
            f"snapshot {lg['snapshot_joins']}, on a seq gap {lg.get('gap_rejoins')} (recovered "
            f"{lg.get('gap_rejoins_recovered')}); connected at end {lg['connected_at_end']}/{lg['clients']} "
            f"(per hub {lg['members_per_hub_at_end']}); disconnects {lg['disconnects']}",
        ]
        if lg.get("lost_samples"):
            lines.append(f"first lost: {lg['lost_samples'][:3]}")
    for p in result.get("processes") or []:
        lines.append(
            f"  {p['process']:<18} {p['from_s']:>6.1f}-{p['to_s']:<6.1f}s RSS {p['rss_start_kb'] / 1024:.1f} -> "
            f"{p['rss_end_kb'] / 1024:.1f} MiB ({p['rss_growth_pct']:+.1f} %), fds {p['fds_start']} -> {p['fds_end']}, "
            f"sockets {p['sockets_start']} -> {p['sockets_end']}"
        )
    for name in result.get("idle_before") or {}:
        b, a = result["idle_before"][name], (result.get("idle_after") or {}).get(name, {})
        lines.append(
            f"  {name} without sockets: fds {b['fds']} before, {a.get('fds')} after"
            f" ({unpooled_fds(b)} and {unpooled_fds(a)} not pooled connections);"
            f" RSS {b['rss_kb']} -> {a.get('rss_kb')} KB"
        )
        lines.append(f"    fds before {b.get('fd_kinds')}")
        lines.append(f"    fds after  {a.get('fd_kinds')}")
        lines.append(f"    Redis connections by name before {b.get('redis_clients')}, after {a.get('redis_clients')}")
    for name, found in (result.get("hub_logs") or {}).items():
        if found:
            lines.append(f"  {name} log: {found}")
    lines.append(f"verdict: {result['verdict']}")
    return lines


def cpu_per_delivery(result: dict[str, Any]) -> dict[str, float | None]:
    """CPU microseconds per live delivery over the sending time: every hub process, Redis, PostgreSQL."""
    live = (result.get("loadgen") or {}).get("delivered_live") or 0
    hubs = [p.get("cpu_s") for p in result.get("processes") or []]
    services = result.get("services_cpu_s") or {}

    def per(seconds: float | None) -> float | None:
        return None if seconds is None or not live else round(seconds / live * 1e6, 1)

    return {
        "hubs": per(sum(h for h in hubs if h is not None)) if hubs and None not in hubs else None,
        "redis": per(services.get("redis")),
        "postgres": per(services.get("postgres")),
    }


def docs_section(result: dict[str, Any], command: str, stamp: str) -> str:
    o = result["options"]
    lg = result.get("loadgen") or {}
    lat = result.get("latency") or {}
    v = result["verdict"]
    m = report.machine()
    ok = {True: "met", False: "**not met**", None: "n/a"}
    rows = [
        [
            "lost deliveries (acked, never at a member)",
            "0",
            f"{lg.get('lost', 'n/a'):,}" if "lost" in lg else "n/a",
            ok[v.get("zero_loss")] if v.get("ran") else "n/a",
        ],
        [
            "duplicates (a stroke id under two seqs)",
            "0",
            str(lg.get("duplicates", "n/a")),
            ok[v.get("zero_duplicates")],
        ],
        ["redeliveries (same id and seq again, dropped by clients)", "", str(lg.get("redelivered", "n/a")), ""],
        [
            "clients connected at the end",
            str(lg.get("clients", "")),
            str(lg.get("connected_at_end", "n/a")),
            ok[v.get("all_reconnected")],
        ],
        ["delivery p99 ms, all live deliveries", "", str((lg.get("delivery_ms") or {}).get("p99")), ""],
        ["delivery p99 ms, worst calm 5-s window", "", str(lat.get("calm_worst_window_p99_ms")), ""],
        ["delivery p50 ms", "", str((lg.get("delivery_ms") or {}).get("p50")), ""],
        [
            "delivery p50 / p99 ms, sender and receiver on the same hub",
            "",
            "{p50} / {p99}".format(**(lg.get("delivery_ms_same_hub") or {"p50": None, "p99": None})),
            "",
        ],
        [
            "delivery p50 / p99 ms, across hubs (through Redis)",
            "",
            "{p50} / {p99}".format(**(lg.get("delivery_ms_cross_hub") or {"p50": None, "p99": None})),
            "",
        ],
        [
            "CPU us per live delivery: hubs, Redis, PostgreSQL",
            "",
            "{hubs}, {redis}, {postgres}".format(**cpu_per_delivery(result)),
            "",
        ],
    ]
    for p in result.get("processes") or []:
        rows.append(
            [
                f"{p['process']}: RSS {p['from_s']:.0f}-{p['to_s']:.0f} s",
                "within 10 %",
                f"{p['rss_start_kb'] / 1024:.1f} -> {p['rss_end_kb'] / 1024:.1f} MiB ({p['rss_growth_pct']:+.1f} %)",
                "",
            ]
        )
        rows.append([f"{p['process']}: CPU % of a core while sending", "", str(p.get("cpu_pct")), ""])
        rows.append(
            [
                f"{p['process']}: fds (sockets)",
                "",
                f"{p['fds_start']} ({p['sockets_start']}) -> {p['fds_end']} ({p['sockets_end']})",
                "",
            ]
        )
    restarted = {p["process"].split()[0] for p in result.get("processes") or [] if "restarted" in p["process"]}
    for name, b in (result.get("idle_before") or {}).items():
        a = (result.get("idle_after") or {}).get(name, {})
        after = f"{a.get('fds')} (restarted process)" if name in restarted else str(a.get("fds"))
        rows.append([f"{name}: fds with no socket, before / after", "", f"{b['fds']} / {after}", ""])
        if name not in restarted:
            kinds = a.get("fd_kinds") or {}
            bounds = pool_bounds()
            rows.append(
                [
                    f"{name}: of those, not pooled connections, before / after",
                    "no growth",
                    f"{unpooled_fds(b)} / {unpooled_fds(a)}",
                    "",
                ]
            )
            rows.append(
                [
                    f"{name}: pooled connections after (PostgreSQL, Redis)",
                    f"<= {bounds['postgres']}, <= {bounds['redis']}",
                    f"{kinds.get(_POOLED['postgres'], 0)}, {kinds.get(_POOLED['redis'], 0)}",
                    "",
                ]
            )
    table = ["| metric | target | result | |", "|---|---|---|---|"]
    table += ["| " + " | ".join(r) + " |" for r in rows]
    faults = "; ".join(f"{f['action']} at {f['at_s']:.0f} s" for f in result.get("faults") or []) or "none"
    lines = [
        f"Run {stamp} ({result['wall_s']} s wall): `{command}`",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), Linux {m['kernel']}, Python {m['python']}, Node {m['node']}. "
        f"Load average (1 min) at start/end: {result['loadavg_start']}/{result['loadavg_end']}.",
        "",
        f"{o['clients_per_room'] * o['rooms']} clients in {o['rooms']} rooms ({o['strokes_per_s_per_room']} strokes/s "
        f"per room, {o['rate']:,.0f} deliveries/s), {o['seconds']:.0f} s of strokes; faults: {faults}. "
        f"Strokes sent {lg.get('strokes_sent', 'n/a')}, acked {lg.get('acked', 'n/a')}; deliveries expected "
        f"{lg.get('deliveries_expected', 'n/a')}: {lg.get('delivered_live', 'n/a')} live, "
        f"{lg.get('delivered_by_replay', 'n/a')} by replay, {lg.get('delivered_by_snapshot', 'n/a')} in snapshots. "
        f"Reconnects {lg.get('reconnects', 'n/a')} (joins recovered by replay {lg.get('recovered_joins', 'n/a')}, "
        f"by snapshot {lg.get('snapshot_joins', 'n/a')}); rejoins on a seq gap {lg.get('gap_rejoins', 'n/a')}.",
        "",
        *table,
    ]
    if result.get("error") or lg.get("error"):
        lines += ["", f"Error: {result.get('error') or lg.get('error')}"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="time spent sending strokes")
    parser.add_argument("--seconds", type=float, default=None, help="the same in seconds (wins over --minutes)")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--rooms", type=int, default=20)
    parser.add_argument("--rate", type=float, default=2000.0, help="deliveries/s over all rooms")
    parser.add_argument("--redis-at", type=float, default=0.35, help="Redis restart, as a fraction of the time")
    parser.add_argument("--redis-down", type=float, default=3.0, help="seconds Redis stays down")
    parser.add_argument("--kill-at", type=float, default=0.55, help="hub SIGKILL, as a fraction of the time")
    parser.add_argument("--hub-down", type=float, default=5.0, help="seconds before the killed hub restarts")
    parser.add_argument("--faults", default="redis,kill", help="comma-separated: redis, kill; 'none' for steady load")
    parser.add_argument("--pin", action="store_true", help="servers on CPU 0, load generator on CPU 1")
    parser.add_argument("--update-docs", action="store_true", help=f"rewrite the soak section of {DOCS.name}")
    parser.add_argument(
        "--block", default="soak", help="which results block --update-docs rewrites (e.g. scaleout); default soak"
    )
    args = parser.parse_args(argv)
    seconds = args.seconds if args.seconds is not None else args.minutes * 60
    if seconds <= 0 or args.clients < 2 or args.rooms < 1 or args.clients < 2 * args.rooms or args.rate <= 0:
        parser.error("need a positive time and rate, and at least 2 clients per room")
    faults = tuple(f for f in args.faults.split(",") if f and f != "none")
    if set(faults) - {"redis", "kill"}:
        parser.error("--faults takes redis, kill or none")
    if not (0 < args.redis_at < 1 and 0 < args.kill_at < 1):
        parser.error("--redis-at and --kill-at are fractions between 0 and 1")
    opts = Options(
        seconds=seconds,
        clients=args.clients,
        rooms=args.rooms,
        rate=args.rate,
        redis_at=args.redis_at,
        redis_down=args.redis_down,
        kill_at=args.kill_at,
        hub_down=args.hub_down,
        faults=faults,
        pin=args.pin,
    )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=f"soak-logs-{stamp}-", dir=RESULTS_DIR))
    command = "python -m bench.soak " + shlex.join(list(argv if argv is not None else sys.argv[1:]))
    result = run(opts, workdir)
    result["command"] = command.strip()
    result["started"] = stamp
    print("\n".join(summary_lines(result)))
    out = RESULTS_DIR / f"soak-{stamp}.json"
    out.write_text(json.dumps(result, indent=1))
    print(f"\nresults: {out.relative_to(procs.REPO_ROOT)}; logs: {workdir.relative_to(procs.REPO_ROOT)}")
    if args.update_docs:
        report.update_docs(DOCS, docs_section(result, result["command"], stamp), *markers(args.block))
        print(f"updated {DOCS.relative_to(procs.REPO_ROOT)}")
    return 0 if result["verdict"]["ran"] else 1


if __name__ == "__main__":
    sys.exit(main())
