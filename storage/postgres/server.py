"""A private PostgreSQL server in a directory: the embedded default, and the test suite's database.

System binaries are used when present (they are faster to start and match the OS); otherwise the
binaries shipped in the `pgserver` wheel. PostgreSQL refuses to run as root, so when we are root the
server runs as a dedicated system user. It listens on 127.0.0.1 only, on a free port, with
password authentication (the password is generated once and kept in the data directory, mode 0600).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import secrets
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SERVICE_USER = "hubpg"


def free_port(host: str = "127.0.0.1") -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def find_bin_dir() -> Path:
    """HUB_PG_BIN, then the system's PostgreSQL, then the `pgserver` wheel's."""
    explicit = os.environ.get("HUB_PG_BIN")
    if explicit:
        return Path(explicit)
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidate = Path(out.stdout.strip())
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    for name in ("initdb", "pg_ctl"):
        if not shutil.which(name):
            break
    else:
        return Path(os.path.realpath(shutil.which("pg_ctl") or "")).parent
    try:
        from pgserver._commands import POSTGRES_BIN_PATH
    except ImportError as exc:  # pragma: no cover - pgserver is a dependency
        raise RuntimeError("no PostgreSQL binaries found: install postgresql or the pgserver wheel") from exc
    return Path(POSTGRES_BIN_PATH)


def _service_user() -> pwd.struct_passwd | None:
    """The user the server runs as: ourselves, or a dedicated system user when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(SERVICE_USER)


def _make_traversable(path: Path) -> None:
    """Let the service user reach `path` (it needs +x on every ancestor)."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


@dataclass
class PostgresServer:
    """Owns one PostgreSQL cluster directory and the server process running it."""

    data_dir: Path
    port: int = 0
    durable: bool = True
    bin_dir: Path | None = None

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()
        self.bin_dir = self.bin_dir or find_bin_dir()
        self.user = _service_user()
        self.password_file = self.data_dir.parent / (self.data_dir.name + ".password")

    @property
    def pgdata(self) -> Path:
        return self.data_dir

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        assert self.bin_dir is not None
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        kwargs: dict[str, object] = {}
        if self.user is not None:
            kwargs = {"user": self.user.pw_uid, "group": self.user.pw_gid}
        return subprocess.run(  # type: ignore[call-overload, no-any-return]
            cmd, capture_output=True, text=True, timeout=timeout, check=False, cwd="/", **kwargs
        )

    def _password(self) -> str:
        if self.password_file.exists():
            return self.password_file.read_text().strip()
        password = secrets.token_urlsafe(24)
        self.password_file.write_text(password)
        self.password_file.chmod(0o600)
        return password

    def init(self) -> None:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        password = self._password()
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        pwfile = self.data_dir.parent / (self.data_dir.name + ".initpw")
        pwfile.write_text(password)
        try:
            if self.user is not None:
                _make_traversable(self.data_dir.parent)
                os.chown(self.data_dir, self.user.pw_uid, self.user.pw_gid)
                os.chown(pwfile, self.user.pw_uid, self.user.pw_gid)
            pwfile.chmod(0o600)
            args = [
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "--encoding=UTF8",
                "--locale=C",
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
            ]
            if not self.durable:
                args.append("--no-sync")
            result = self._run(*args, timeout=120)
            if result.returncode != 0:
                raise RuntimeError(f"initdb failed: {result.stderr.strip() or result.stdout.strip()}")
        finally:
            pwfile.unlink(missing_ok=True)

    def start(self) -> str:
        """Start the server and return a DSN for the `postgres` database."""
        self.init()
        self.port = self.port or free_port()
        options = [
            f"-p {self.port}",
            "-c listen_addresses=127.0.0.1",
            "-c unix_socket_directories=''",
            "-c max_connections=200",
        ]
        if not self.durable:
            # Test clusters trade crash safety for speed; the embedded default never does.
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        logfile = self.data_dir / "server.log"
        result = self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-w",
            "-t",
            "60",
            "-l",
            str(logfile),
            "-o",
            " ".join(options),
            "start",
            timeout=90,
        )
        if result.returncode != 0:
            tail = logfile.read_text(errors="replace")[-2000:] if logfile.exists() else ""
            raise RuntimeError(f"PostgreSQL did not start: {result.stderr.strip()} {tail}")
        return self.dsn()

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres:{self._password()}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if not (self.data_dir / "postmaster.pid").exists():
            return
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "30", "stop", timeout=60)


async def ensure_database(admin_dsn: str, name: str) -> None:
    """Create database `name` when missing."""
    import asyncpg

    conn = await asyncpg.connect(admin_dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
