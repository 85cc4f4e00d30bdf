"""REST read throughput: the hub's hot GETs against a bare Sanic hello-world on the same core.

    python -m bench.rest [--seconds 10] [--repeat 3] [--connections 32] [--pin] [--update-docs]

The hub (`hub serve`, one worker, production settings, its durable PostgreSQL) and the hello-world
(`bench/hello.py` under uvicorn, as the hub is served) run pinned to CPU 0, and wrk, the load generator
(1 thread, N connections, keep-alive), to CPU 1 (`--pin`, the default when there are two CPUs). Each
repetition measures every route once, the hello-world first on odd repetitions and last on even ones; the
table gives medians. CPU is read from /proc for the server and, for the hub, its PostgreSQL (every
backend), so a route's cost per request is reported as microseconds of server CPU. wrk's own CPU tells
when it, not the server, was the limit (`loadgen_saturated` above 90 % of its core).

Routes: `/healthz`; an authenticated bin GET (`/spaces/{id}/bins/{id}`), the same with `If-None-Match`
(304), its `/raw`, and `GET /spaces`. Targets from the performance issue: bin GET >= 0.5x hello req/s,
`/healthz` >= 0.8x, p99 at 32 connections <= 10 ms.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import procs, report

DOCS = procs.REPO_ROOT / "docs" / "performance.md"
BEGIN = "<!-- bench:rest:begin -->"
END = "<!-- bench:rest:end -->"
BIN_TEXT = ("The quick brown fox jumps over the lazy dog. " * 40).strip()  # ~1.8 KB, a typical paste
TICKS = os.sysconf("SC_CLK_TCK")


@dataclasses.dataclass
class Options:
    seconds: float = 10.0
    repeat: int = 3
    connections: int = 32
    pin: bool = True
    only: tuple[str, ...] = ()


@dataclasses.dataclass
class Route:
    name: str
    path: str
    headers: dict[str, str]
    target_ratio: float | None = None  # of hello req/s


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (after the state field)


def _children(root: int) -> list[int]:
    """`root` and every descendant (PostgreSQL's postmaster forks a backend per connection)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def _tree_ticks(root: int) -> int:
    total = 0
    for pid in _children(root):
        with contextlib.suppress(OSError):
            total += _cpu_ticks(pid)
    return total


_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if match is None:
        raise procs.BenchError(f"unreadable wrk latency {text!r}")
    return float(match[1]) * _UNIT[match[2]]


def parse_wrk(output: str) -> dict[str, Any]:
    """Requests/s, latency percentiles (ms), errors and non-2xx/3xx answers from `wrk --latency`."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if rps is None:
        raise procs.BenchError(f"wrk printed no Requests/sec: {output[-500:]}")
    pct = {f"p{m[1]}": _ms(m[2]) for m in re.finditer(r"^\s+(50|75|90|99)%\s+(\S+)$", output, re.M)}
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    total = re.search(r"(\d+) requests in", output)
    return {
        "rps": float(rps[1]),
        "requests": int(total[1]) if total else None,
        **pct,
        "non_2xx_3xx": int(bad[1]) if bad else 0,
        "socket_errors": sum(int(g) for g in errors.groups()) if errors else 0,
    }


def wrk(url: str, headers: dict[str, str], opts: Options, cpu: int | None) -> dict[str, Any]:
    binary = shutil.which("wrk")
    if binary is None:
        raise procs.BenchError("`wrk` is not on PATH: apt-get install wrk")
    cmd = [binary, "-t1", f"-c{opts.connections}", f"-d{opts.seconds:g}s", "--latency", "--timeout", "5s"]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    if cpu is not None:
        cmd = ["taskset", "-c", str(cpu), *cmd]
    started = os.times()
    result = subprocess.run([*cmd, url], capture_output=True, text=True, timeout=opts.seconds + 60, check=False)
    ended = os.times()
    if result.returncode != 0:
        raise procs.BenchError(f"wrk failed ({result.returncode}): {(result.stderr + result.stdout).strip()[-500:]}")
    figures = parse_wrk(result.stdout)
    child_cpu = (ended.children_user - started.children_user) + (ended.children_system - started.children_system)
    figures["loadgen_cpu_pct"] = round(100 * child_cpu / opts.seconds, 1)
    return figures


def measure(
    url: str, route: Route, opts: Options, cpus: tuple[int | None, int | None], pids: list[int]
) -> dict[str, Any]:
    """One wrk run against `url + route.path`, with the server's CPU over it."""
    before = [_tree_ticks(pid) for pid in pids]
    t0 = time.monotonic()
    figures = wrk(url + route.path, route.headers, opts, cpus[1])
    wall = time.monotonic() - t0
    each = [(_tree_ticks(pid) - b) / TICKS for pid, b in zip(pids, before, strict=True)]
    used = sum(each)
    figures["server_cpu_pct"] = round(100 * used / wall, 1)
    # The hub's own share; the rest is its PostgreSQL (the second pid's process tree).
    figures["app_cpu_pct"] = round(100 * each[0] / wall, 1)
    requests = figures.get("requests") or 0
    figures["server_cpu_us_per_request"] = round(1e6 * used / requests, 1) if requests else None
    figures["loadgen_saturated"] = figures["loadgen_cpu_pct"] > 90
    return figures


@contextlib.contextmanager
def hello_server(workdir: Path) -> Iterator[tuple[str, int]]:
    port = procs._free_port()
    log = workdir / f"hello-{port}.log"
    cmd = [sys.executable, "-m", "uvicorn", "bench.hello:app", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--no-access-log", "--log-level", "warning", "--lifespan", "on", "--no-server-header"]
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=procs.REPO_ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        procs.wait_http(f"{url}/hello", proc, log, "the hello-world", 30)
        yield url, proc.pid
    finally:
        procs._stop(proc)


def seed(url: str) -> list[Route]:
    """An account with a space and a bin; the routes to measure, with its token."""
    with httpx.Client(base_url=url, timeout=30) as http:
        password = base64.urlsafe_b64encode(os.urandom(12)).decode()
        r = http.post("/auth/register", json={"username": "benchrest", "password": password, "display_name": "Bench"})
        r.raise_for_status()
        token = r.json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        r = http.post("/spaces", json={"name": "REST bench"}, headers=auth)
        r.raise_for_status()
        space_id = r.json()["id"]
        r = http.post(f"/spaces/{space_id}/bins", json={"title": "notes", "content": BIN_TEXT}, headers=auth)
        r.raise_for_status()
        bin_id = r.json()["id"]
        r = http.get(f"/spaces/{space_id}/bins/{bin_id}", headers=auth)
        r.raise_for_status()
        etag = r.headers["etag"]
    bin_path = f"/spaces/{space_id}/bins/{bin_id}"
    return [
        Route("healthz", "/healthz", {}, 0.8),
        Route("bin", bin_path, auth, 0.5),
        Route("bin_304", bin_path, {**auth, "If-None-Match": etag}, None),
        Route("bin_raw", f"{bin_path}/raw", auth, None),
        Route("spaces", "/spaces", auth, None),
    ]


def run(opts: Options, workdir: Path) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    server_cpu = load_cpu = None
    if opts.pin and (os.cpu_count() or 1) >= 2:
        server_cpu, load_cpu = 0, 1
    result: dict[str, Any] = {
        "options": dataclasses.asdict(opts),
        "pinned": server_cpu is not None,
        "loadavg_start": report.loadavg(),
        "runs": {},
        "error": None,
    }
    t0 = time.monotonic()
    runs: dict[str, list[dict[str, Any]]] = result["runs"]
    procs.pin(server_cpu)  # children inherit it: PostgreSQL, the hub, the hello-world
    pg = procs.Postgres()
    hub: procs.HubProcess | None = None
    try:
        pg.start()
        hub = procs.HubProcess(pg, workdir)
        hub.start(start_timeout=120)
        with hello_server(workdir) as (hello_url, hello_pid):
            procs.pin(load_cpu)
            routes = [r for r in seed(hub.url) if not opts.only or r.name in opts.only]
            hello = Route("hello", "/hello", {}, None)
            for repetition in range(opts.repeat):
                order = [hello, *routes] if repetition % 2 == 0 else [*routes, hello]
                for route in order:
                    url, pids = (hello_url, [hello_pid]) if route is hello else (hub.url, [hub.pid, pg.pid])
                    figures = measure(url, route, opts, (server_cpu, load_cpu), pids)
                    runs.setdefault(route.name, []).append(figures)
                    print(
                        f"  {repetition + 1}/{opts.repeat} {route.name:8} {figures['rps']:>9,.0f} req/s"
                        f"  p99 {figures.get('p99', 0):6.2f} ms  server CPU {figures['server_cpu_pct']:5.1f} %"
                        f" (app {figures['app_cpu_pct']:5.1f} %)",
                        file=sys.stderr,
                        flush=True,
                    )
            result["targets"] = {r.name: r.target_ratio for r in routes}
    except procs.RUN_ERRORS as exc:
        result["error"] = procs.error_text(exc)
    finally:
        procs.teardown(hub, pg)
    result["duration_s"] = round(time.monotonic() - t0, 1)
    result["loadavg_end"] = report.loadavg()
    return result


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def table(result: dict[str, Any]) -> list[list[str]]:
    """[route, req/s, x hello, target, p50 ms, p99 ms, server CPU us/req, CPU %, loadgen %, errors]."""
    runs = result.get("runs") or {}
    hello_rps = _median([r["rps"] for r in runs.get("hello", [])])
    rows: list[list[str]] = []
    for name, items in runs.items():
        rps = _median([r["rps"] for r in items])
        ratio = rps / hello_rps if rps is not None and hello_rps else None
        target = (result.get("targets") or {}).get(name)
        rows.append(
            [
                name,
                f"{rps:,.0f}" if rps is not None else "n/a",
                f"{ratio:.2f}" if ratio is not None else "n/a",
                f">= {target}" if target else "",
                _fmt(_median([r.get("p50") for r in items])),
                _fmt(_median([r.get("p99") for r in items])),
                _fmt(_median([r.get("server_cpu_us_per_request") for r in items]), 0),
                _fmt(_median([r.get("server_cpu_pct") for r in items]), 0)
                + f" ({_fmt(_median([r.get('app_cpu_pct') for r in items]), 0)})",
                _fmt(max(r.get("loadgen_cpu_pct") or 0 for r in items), 0)
                + (" (saturated)" if any(r.get("loadgen_saturated") for r in items) else ""),
                str(sum(r.get("non_2xx_3xx", 0) + r.get("socket_errors", 0) for r in items)),
            ]
        )
    return rows


def _fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


HEADER = [
    "route",
    "req/s",
    "x hello",
    "target",
    "p50 ms",
    "p99 ms",
    "server CPU us/req",
    "server CPU % (app only)",
    "wrk CPU %",
    "errors",
]


def markdown(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    return "\n".join([*lines, *("| " + " | ".join(r) + " |" for r in rows)])


def docs_section(result: dict[str, Any], command: str, stamp: str) -> str:
    from bench.social import _machine

    m = _machine()
    opts = result["options"]
    pinned = "server and PostgreSQL on CPU 0, wrk on CPU 1" if result.get("pinned") else "not pinned"
    return "\n".join(
        [
            f"Run {stamp} ({result['duration_s']} s): `{command}`",
            "",
            f"Machine: {m['nproc']} CPUs ({m['cpu']}), Python {m['python']}; {pinned}; wrk 1 thread, "
            f"{opts['connections']} connections, {opts['repeat']} x {opts['seconds']:g} s per route, medians. "
            f"Load average at start/end: {result['loadavg_start']}/{result['loadavg_end']}.",
            "",
            markdown(table(result)),
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=Options.seconds)
    parser.add_argument("--repeat", type=int, default=Options.repeat)
    parser.add_argument("--connections", type=int, default=Options.connections)
    parser.add_argument("--no-pin", dest="pin", action="store_false", help="let every process use every CPU")
    parser.add_argument("--only", nargs="*", default=[], help="routes to measure (healthz bin bin_304 bin_raw spaces)")
    parser.add_argument("--update-docs", action="store_true", help=f"write the table into {DOCS.name}")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    opts = Options(args.seconds, args.repeat, args.connections, args.pin, tuple(args.only))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    workdir = args.workdir or procs.REPO_ROOT / "bench" / "results" / f"rest-{stamp}"
    result = run(opts, workdir)
    (workdir / "result.json").write_text(json.dumps(result, indent=2))
    if result["error"]:
        print(f"error: {result['error']}", file=sys.stderr)
        return 1
    print(markdown(table(result)))
    if args.update_docs:
        command = "python -m bench.rest " + " ".join(argv if argv is not None else sys.argv[1:])
        report.update_docs(DOCS, docs_section(result, command.strip(), stamp), BEGIN, END)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
