"""PostgreSQL advisory locks (`hub.ports.infra.ExclusiveLock`): one instance at a time runs a batch job."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from storage.postgres.db import PostgresDatabase

# Advisory lock keys live in one space per database; the prefix keeps the hub's apart from others'.
_PREFIX = "collab-hub:"


class PostgresAdvisoryLock:
    """Session-level `pg_try_advisory_lock` on a connection held for the body: a process that dies
    releases its locks with its connection, so a crashed instance never blocks the others."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    @contextlib.asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[bool]:
        key = _PREFIX + name
        async with self._db.connection() as conn:
            held = bool(await conn.fetchval("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", key))
            try:
                yield held
            finally:
                if held:
                    await conn.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", key)
