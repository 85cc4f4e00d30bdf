"""A private PostgreSQL server in a directory: the embedded default, and the test suite's database.

System binaries are used when present (they are faster to start and match the OS); otherwise the
binaries shipped in the `pgserver` wheel. PostgreSQL refuses to run as root, so when we are root the
server runs as a dedicated system user; when that user cannot reach the binaries (a virtualenv inside a
private directory such as a 0700 home or `mktemp -d`), it runs a copy of the installation made of hard
links next to the data directory instead, and the private directory stays private. It listens on
127.0.0.1 only, on a free port, with password authentication (the password is generated once and kept
next to the data directory, mode 0600).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import pwd
import secrets
import shutil
import socket
import stat
import struct
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

SERVICE_USER = "hubpg"
# The programs the server is run with; the service user must be able to execute all of them.
SERVER_PROGRAMS = ("initdb", "pg_ctl", "postgres")


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


def _unrunnable(bin_dir: Path, user: pwd.struct_passwd) -> str | None:
    """Why `user` cannot run the server programs in `bin_dir` (a directory it cannot enter, a library it
    cannot load), or None when it can."""
    for name in SERVER_PROGRAMS:
        try:
            result = subprocess.run(
                [str(bin_dir / name), "--version"],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
                cwd="/",
                user=user.pw_uid,
                group=user.pw_gid,
            )
        except OSError as exc:
            return f"{name}: {exc.strerror or exc}"
        if result.returncode != 0:
            return f"{name}: {(result.stderr or result.stdout).strip() or f'exit status {result.returncode}'}"
    return None


_SHT_DYNAMIC = 6
_DT_NULL, _DT_RPATH, _DT_RUNPATH = 0, 15, 29


def _elf_search_paths(data: bytes) -> list[str]:
    """The DT_RPATH and DT_RUNPATH strings of an ELF file's dynamic section."""
    order = "<" if data[5] == 1 else ">"
    if data[4] == 2:  # ELFCLASS64
        (shoff,) = struct.unpack_from(order + "Q", data, 0x28)
        shentsize, shnum = struct.unpack_from(order + "HH", data, 0x3A)
        section_format, dyn_format = order + "IIQQQQIIQQ", order + "qQ"
    else:
        (shoff,) = struct.unpack_from(order + "I", data, 0x20)
        shentsize, shnum = struct.unpack_from(order + "HH", data, 0x2E)
        section_format, dyn_format = order + "IIIIIIIIII", order + "iI"
    # (name, type, flags, addr, offset, size, link, info, addralign, entsize)
    sections = [struct.unpack_from(section_format, data, shoff + i * shentsize) for i in range(shnum)]
    found: list[str] = []
    for section in sections:
        if section[1] != _SHT_DYNAMIC:
            continue
        strings = sections[section[6]][4]
        for pos in range(section[4], section[4] + section[5], struct.calcsize(dyn_format)):
            tag, value = struct.unpack_from(dyn_format, data, pos)
            if tag == _DT_NULL:
                break
            if tag in (_DT_RPATH, _DT_RUNPATH):
                start = strings + value
                found.append(data[start : data.index(b"\0", start)].decode(errors="replace"))
    return found


def _origin_dirs(path: Path) -> list[Path]:
    """The directories an ELF file loads libraries from relative to its own (`$ORIGIN`): a copy of the
    file must keep them at the same relative place (the wheel keeps libpq in `<site-packages>/*.libs`)."""
    try:
        with path.open("rb") as f:
            if f.read(4) != b"\x7fELF":
                return []
            data = b"\x7fELF" + f.read()
        entries = _elf_search_paths(data)
    except (OSError, ValueError, IndexError, struct.error):
        return []
    dirs = []
    for entry in entries:
        for item in entry.split(":"):
            for origin in ("$ORIGIN", "${ORIGIN}"):
                if item == origin or item.startswith(origin + "/"):
                    dirs.append(Path(os.path.normpath(str(path.parent) + item[len(origin) :])))
    return dirs


def _files(tree: Path) -> list[Path]:
    return sorted(Path(top, name) for top, _dirs, names in os.walk(tree) for name in names)


def _signature(root: Path, trees: list[Path]) -> str:
    """Changes when any file of `trees` does (an upgraded wheel)."""
    digest = hashlib.sha256()
    for tree in trees:
        for path in _files(tree):
            info = path.lstat()
            digest.update(f"{path.relative_to(root)}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _link_or_copy(src: str, dst: str) -> None:
    """Hard-link `src` when everyone may already read (and, for a program, run) it, else copy it so."""
    mode = stat.S_IMODE(os.stat(src).st_mode)
    wanted = mode | 0o444 | (0o111 if mode & 0o100 else 0)
    if mode == wanted:
        with contextlib.suppress(OSError):  # another file system: copy
            os.link(src, dst)
            return
    shutil.copy2(src, dst)
    os.chmod(dst, wanted)


def _mirror(bin_dir: Path, target: Path) -> Path:
    """A copy of the PostgreSQL installation around `bin_dir` in `target`, made of hard links where it can
    be, with every directory open to everyone; returns the copy's bin directory. The copy is reused
    while the installation is unchanged."""
    stamp = target / "source.json"
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        recorded = json.loads(stamp.read_text())
        if recorded["bin_dir"] == str(bin_dir):
            root, trees = Path(recorded["root"]), [Path(t) for t in recorded["trees"]]
            if _signature(root, trees) == recorded["signature"]:
                return target / bin_dir.relative_to(root)
    # The installation prefix (bin, lib, share), plus the library directories its programs and modules
    # find relative to themselves.
    prefix = bin_dir.parent
    wanted = {prefix}
    for path in _files(prefix):
        wanted.update(d for d in _origin_dirs(path) if d.is_dir())
    trees = sorted(t for t in wanted if not any(o != t and t.is_relative_to(o) for o in wanted))
    root = Path(os.path.commonpath(trees))
    build = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        for tree in trees:
            shutil.copytree(tree, build / tree.relative_to(root), symlinks=True, copy_function=_link_or_copy)
        for top, _dirs, _names in os.walk(build):
            os.chmod(top, 0o755)
        record = {"bin_dir": str(bin_dir), "root": str(root), "trees": [str(t) for t in trees]}
        record["signature"] = _signature(root, trees)
        (build / stamp.name).write_text(json.dumps(record, indent=2) + "\n")
        if target.exists():
            stale = Path(tempfile.mkdtemp(prefix=target.name + ".stale.", dir=target.parent))
            target.rename(stale / "old")
            shutil.rmtree(stale, ignore_errors=True)
        build.rename(target)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    return target / bin_dir.relative_to(root)


def runnable_bin_dir(bin_dir: Path, user: pwd.struct_passwd, mirror: Path) -> Path:
    """`bin_dir`, or, when `user` cannot run the programs there, the bin directory of a copy in `mirror`
    (whose parent is then made traversable, as the data directory's is)."""
    problem = _unrunnable(bin_dir, user)
    if problem is None:
        return bin_dir
    source = bin_dir.resolve()
    if not all((source / name).is_file() for name in SERVER_PROGRAMS):
        return bin_dir  # nothing to copy: running it fails with the usual error
    log.info("user %s cannot run PostgreSQL from %s (%s): running a copy in %s", user.pw_name, source, problem, mirror)
    mirror.parent.mkdir(parents=True, exist_ok=True)
    _make_traversable(mirror.parent)
    copy = _mirror(source, mirror)
    still = _unrunnable(copy, user)
    if still is not None:
        raise RuntimeError(
            f"the PostgreSQL server runs as user {user.pw_name}, which cannot run the programs in {source}"
            f" ({problem}) nor a copy of them in {mirror} ({still}); make the directories above {source}"
            f" traversable (chmod o+x), set HUB_PG_BIN to binaries {user.pw_name} can run, or run the hub"
            " as an ordinary user"
        )
    return copy


@dataclass
class PostgresServer:
    """Owns one PostgreSQL cluster directory and the server process running it."""

    data_dir: Path
    port: int = 0
    durable: bool = True
    bin_dir: Path | None = None
    _runnable_bin_dir: Path | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()
        self.bin_dir = self.bin_dir or find_bin_dir()
        self.user = _service_user()
        self.password_file = self.data_dir.parent / (self.data_dir.name + ".password")

    @property
    def pgdata(self) -> Path:
        return self.data_dir

    def executables(self) -> Path:
        """The directory the server's programs run from: `bin_dir`, or when the service user cannot run
        them there, a copy next to the data directory (`<data_dir>.bin`)."""
        assert self.bin_dir is not None
        if self.user is None:
            return self.bin_dir
        if self._runnable_bin_dir is None:
            mirror = self.data_dir.parent / (self.data_dir.name + ".bin")
            self._runnable_bin_dir = runnable_bin_dir(self.bin_dir, self.user, mirror)
        return self._runnable_bin_dir

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.executables() / args[0]), *args[1:]]
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


def running_dsn(data_dir: Path, database: str) -> str | None:
    """The DSN of the server another process (an embedded hub) runs on `data_dir`, else None.

    A second server cannot start on a cluster directory that one already serves (`postmaster.pid`
    locks it), so the command line connects to the running one: its port is on the fourth line of
    that file, and its password in the file beside the directory.
    """
    data_dir = Path(data_dir).resolve()
    try:
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
        pid, port = int(lines[0]), int(lines[3])
        password = (data_dir.parent / (data_dir.name + ".password")).read_text().strip()
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None  # a stale lock of a server that crashed; starting one takes it over
    except PermissionError:
        pass  # alive, running as the service user
    return f"postgresql://postgres:{password}@127.0.0.1:{port}/{database}"


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
