"""`python -m bench.memory`: what one idle, joined Socket.IO connection costs the hub, by owner.

The `idle` scenario of `bench.run` measures RSS per socket; this says where it goes. It runs the same
set-up (a private durable PostgreSQL, `hub serve` in production mode, real guests and memberships,
N sockets from the Node load generator joined to 10 rooms and left idle), but the hub runs under
`tracemalloc`: a snapshot is taken before the sockets connect and another once all of them have
joined (both after a full `gc.collect()`), and the difference is attributed to the code that asked
for the memory. Owners are recognised by the innermost frame of the allocation's traceback that lies
in a known package (uvicorn, websockets, engineio, socketio, the hub's own packages); allocations
inside asyncio or the standard library are charged to whoever called them.

tracemalloc itself costs memory (its own record of every live block) and time, so the RSS printed here
is several times `bench.run`'s and is not the figure to quote; the traced bytes are the point. C code
that allocates through Python's allocators (uvloop's transports and libuv handles) is traced too, and
shows as "event loop" when no Python frame is on the stack.

    python -m bench.memory                 # 1,000 sockets, 10 rooms
    python -m bench.memory --sockets 300 --lines 40
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import linecache
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

# Package directory (in a traceback's file name) -> owner label, first match of the innermost frame wins.
OWNERS: tuple[tuple[str, str], ...] = (
    ("/uvicorn/protocols/websockets/", "uvicorn WebSocket protocol"),
    ("/uvicorn/protocols/http/", "uvicorn HTTP protocol (handshake)"),
    ("/uvicorn/", "uvicorn other"),
    ("/websockets/", "websockets (sans-io ServerProtocol)"),
    ("/engineio/", "python-engineio"),
    ("/socketio/", "python-socketio"),
    ("/realtime/", "hub realtime adapter"),
    ("/hub/", "hub core"),
    ("/rest/", "hub REST"),
    ("/storage/", "hub storage"),
    ("/sanic/", "sanic"),
    ("/asyncpg/", "asyncpg"),
    ("/uvloop/", "uvloop"),
)


def owner(frames: Sequence[tracemalloc.Frame]) -> str:
    """The label of the innermost frame in a known package; else the innermost frame's file."""
    if frames and frames[-1].filename.endswith("asyncio/runners.py"):
        # Allocated by the event loop's C code with no Python frame of its own: uvloop's transport,
        # its libuv handle, the objects it creates for a new connection.
        return "event loop (C: transport, handles)"
    for frame in reversed(frames):  # a traceback lists the oldest frame first
        for needle, label in OWNERS:
            if needle in frame.filename:
                return label
    return f"other: {Path(frames[-1].filename).name}" if frames else "other"


# -- the traced hub (runs in the server process) -------------------------------------------------


def _serve(frames: int) -> int:
    tracemalloc.start(frames)
    from hub.bootstrap.cli import main

    def commands() -> None:
        # The driver writes one snapshot path per line on our stdin; we answer by creating <path>.done.
        for line in sys.stdin:
            path = line.strip()
            if not path:
                continue
            gc.collect()
            snapshot = tracemalloc.take_snapshot()
            snapshot.dump(path)
            Path(path + ".done").write_text(json.dumps({"rss_kb": _rss_kb(os.getpid())}))

    threading.Thread(target=commands, name="bench-memory", daemon=True).start()
    return main(["serve"])


def _rss_kb(pid: int) -> int:
    match = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) if match else 0


# -- the driver ------------------------------------------------------------------------------------


@contextlib.contextmanager
def _traced_hub(pg: Any, workdir: Path, frames: int) -> Iterator[tuple[str, subprocess.Popen[str]]]:

    from bench import procs

    port = procs._free_port()
    env = procs.hub_env(pg.dsn, port, workdir / "hub-data")
    log = open(workdir / "hub.log", "wb")  # closed in finally
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.memory", "--serve", "--frames", str(frames)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=procs.REPO_ROOT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        procs.wait_http(f"{url}/healthz", proc, workdir / "hub.log", "traced hub", 120)
        yield url, proc
    finally:
        procs._stop(proc)  # type: ignore[arg-type]
        log.close()


def _snapshot(proc: subprocess.Popen[str], path: Path, timeout: float = 120) -> dict[str, Any]:
    assert proc.stdin is not None
    proc.stdin.write(f"{path}\n")
    proc.stdin.flush()
    done = Path(f"{path}.done")
    deadline = time.monotonic() + timeout
    while not done.exists():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError(f"no snapshot at {path}")
        time.sleep(0.1)  # bounded by the deadline
    info: dict[str, Any] = json.loads(done.read_text())
    return info


def _counts(url: str) -> tuple[int, int]:
    """(sockets connected now, joins acknowledged so far) from the hub's /metrics."""
    import httpx

    text = httpx.get(f"{url}/metrics", timeout=5).text
    found = []
    patterns = (
        r"hub_sockets_connected ([0-9.e+]+)",
        r'hub_realtime_events_total\{event="join",outcome="ok"\} ([0-9.e+]+)',
    )
    for pattern in patterns:
        match = re.search(pattern, text)
        found.append(int(float(match.group(1))) if match else 0)
    return found[0], found[1]


def analyse(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, sockets: int, lines: int) -> dict[str, Any]:
    """Per-socket bytes and blocks by owner, and the top allocation sites."""
    diffs = after.compare_to(before, "traceback")
    by_owner: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_site: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for d in diffs:
        if d.size_diff == 0 and d.count_diff == 0:
            continue
        frames = list(d.traceback)  # oldest first
        label = owner(frames)
        by_owner[label][0] += d.size_diff
        by_owner[label][1] += d.count_diff
        site = frames[-1] if frames else None
        caller = next((f for f in reversed(frames) if any(n in f.filename for n, _ in OWNERS)), site)
        key = (
            label,
            f"{_short(site.filename)}:{site.lineno} {linecache.getline(site.filename, site.lineno).strip()[:60]}"
            + (f"  <- {_short(caller.filename)}:{caller.lineno}" if caller is not None and caller is not site else "")
            if site is not None
            else "?",
        )
        by_site[key][0] += d.size_diff
        by_site[key][1] += d.count_diff
    total = sum(v[0] for v in by_owner.values())
    return {
        "sockets": sockets,
        "traced_bytes_per_socket": round(total / sockets),
        "owners": sorted(
            (
                {"owner": k, "bytes": round(v[0] / sockets), "blocks": round(v[1] / sockets, 1)}
                for k, v in by_owner.items()
            ),
            key=lambda r: -r["bytes"],
        ),
        "sites": sorted(
            (
                {"owner": k[0], "site": k[1], "bytes": round(v[0] / sockets), "blocks": round(v[1] / sockets, 2)}
                for k, v in by_site.items()
            ),
            key=lambda r: -r["bytes"],
        )[:lines],
    }


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    root = str(Path(__file__).resolve().parent.parent) + "/"
    return filename[len(root) :] if filename.startswith(root) else filename


def run(sockets: int, rooms: int, frames: int, lines: int, out: Path | None) -> dict[str, Any]:
    from bench import procs, provision

    procs.ensure_node_deps()
    workdir = Path(tempfile.mkdtemp(prefix="hub-bench-memory-"))
    pg = procs.Postgres()
    pg.start()
    try:
        with _traced_hub(pg, workdir, frames) as (url, proc):
            layout = provision.hub_rooms(url, rooms, sockets // rooms, "mem")
            joins0 = _counts(url)[1]
            rss_before = _snapshot(proc, workdir / "before.snap")["rss_kb"]
            # The traced hub is several times slower: connect gently, with generous timeouts.
            config = {
                "mode": "idle",
                "idleHoldMs": 600_000,
                "url": url,
                "rooms": layout,
                "serverPid": proc.pid,
                "auxPids": [],
                "clkTck": os.sysconf("SC_CLK_TCK"),
                "maxSeconds": 900,
                "connectConcurrency": 10,
                "connectTimeoutMs": 60_000,
                "ackTimeoutMs": 60_000,
            }
            cfg_path = workdir / "loadgen.json"
            cfg_path.write_text(json.dumps(config))
            loadgen = subprocess.Popen(
                [procs.node_binary(), str(procs.NODE_DIR / "loadgen.js"), "--config", str(cfg_path)],
                cwd=procs.NODE_DIR,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                deadline = time.monotonic() + 600
                while True:
                    live, joins = _counts(url)
                    if live >= sockets and joins - joins0 >= sockets:
                        break
                    if loadgen.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"only {live} of {sockets} sockets connected, {joins - joins0} joined")
                    time.sleep(0.5)  # bounded by the deadline
                time.sleep(3)  # idle, as in the benchmark
                rss_after = _snapshot(proc, workdir / "after.snap")["rss_kb"]
                live, joins = _counts(url)
                if live != sockets or joins - joins0 != sockets:
                    raise RuntimeError(f"{live} sockets live and {joins - joins0} joins at the snapshot, not {sockets}")
            finally:
                loadgen.terminate()
                loadgen.wait(10)
            result = analyse(
                tracemalloc.Snapshot.load(str(workdir / "before.snap")),
                tracemalloc.Snapshot.load(str(workdir / "after.snap")),
                sockets,
                lines,
            )
            result["rss_kb_per_socket_traced_process"] = round((rss_after - rss_before) / sockets, 2)
    finally:
        pg.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    if out is not None:
        out.write_text(json.dumps(result, indent=1))
    return result


def _print(result: dict[str, Any]) -> None:
    n = result["sockets"]
    print(
        f"{n} idle joined sockets; traced Python heap per socket: {result['traced_bytes_per_socket']:,} B; "
        f"RSS per socket (traced process): {result['rss_kb_per_socket_traced_process']} KB\n"
    )
    print(f"{'owner':<40} {'B/socket':>9} {'blocks':>7}")
    for row in result["owners"]:
        print(f"{row['owner']:<40} {row['bytes']:>9,} {row['blocks']:>7}")
    print(f"\n{'B/socket':>9} {'blocks':>6}  allocation site  <- innermost known caller")
    for row in result["sites"]:
        print(f"{row['bytes']:>9,} {row['blocks']:>6}  {row['site']}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--rooms", type=int, default=10)
    parser.add_argument("--frames", type=int, default=16, help="traceback depth kept by tracemalloc")
    parser.add_argument("--lines", type=int, default=30, help="allocation sites to print")
    parser.add_argument("--json", type=Path, default=None, help="also write the result here")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return _serve(args.frames)
    _print(run(args.sockets, args.rooms, args.frames, args.lines, args.json))
    return 0


if __name__ == "__main__":
    sys.exit(main())
