"""asyncpg pool with driver errors translated at the boundary.

Services never see asyncpg exceptions: a unique violation becomes `Conflict`, a lost or refused
connection becomes `ServiceUnavailable` (503 with Retry-After).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any, TypeVar

import asyncpg
import orjson

from hub.errors import (
    Conflict,
    DbBusy,
    DbTimeout,
    DbUnavailable,
    HubError,
    InvalidValue,
)

log = logging.getLogger(__name__)

_UNAVAILABLE = (
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.InterfaceError,
    # The protocol in a state it cannot leave, e.g. a connection the server terminated while idle.
    asyncpg.exceptions.InternalClientError,
    ConnectionError,
    OSError,
    TimeoutError,
)


R = TypeVar("R")


def from_row(cls: type[R], row: Mapping[str, Any]) -> R:
    """A record dataclass from the row's columns of the same names (a statement selects them so)."""
    return cls(**{name: row[name] for name in _field_names(cls)})  # type: ignore[arg-type]  # a class is hashable


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


@contextlib.contextmanager
def translate_errors() -> Any:
    """Re-raise driver exceptions as hub errors (`raise ... from exc` keeps the cause for logs)."""
    try:
        yield
    except HubError:
        raise
    except asyncpg.exceptions.UniqueViolationError as exc:
        raise Conflict("That already exists.", details={"constraint": exc.constraint_name or ""}) from exc
    except asyncpg.exceptions.ForeignKeyViolationError as exc:
        raise Conflict("A referenced item does not exist.") from exc
    except (asyncpg.exceptions.DataError, asyncpg.exceptions.CharacterNotInRepertoireError) as exc:
        raise InvalidValue("A value is out of range or malformed.") from exc
    except asyncpg.exceptions.QueryCanceledError as exc:
        raise DbTimeout("The database took too long to answer.") from exc
    except asyncpg.exceptions.SerializationError as exc:
        raise DbBusy("Concurrent update; retry.") from exc
    except _UNAVAILABLE as exc:
        raise DbUnavailable("The database is unavailable.") from exc


async def _init_connection(conn: asyncpg.Connection) -> None:
    # JSON columns decode with orjson; timestamps stay timezone-aware.
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(
            typename, encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads, schema="pg_catalog"
        )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release a connection to the pool without asyncpg's default reset query.

    The default (`pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`) is one more round
    trip and a little PostgreSQL CPU on every pooled query; on the stroke path that is every group
    commit. Pooled connections never hold session state: no LISTEN, no SET, no session advisory lock
    (only `pg_advisory_xact_lock`), no cursor outside a transaction; the migrator, which takes a
    session lock, uses its own connection. An open transaction is still rolled back by the pool
    before this is called.
    """


class PostgresDatabase:
    """The pool plus helpers used by repositories."""

    name = "postgres"

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @classmethod
    async def connect(
        cls,
        dsn: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        command_timeout: float = 10.0,
        server_settings: dict[str, str] | None = None,
    ) -> PostgresDatabase:
        with translate_errors():
            pool = await asyncpg.create_pool(
                dsn,
                min_size=min_size,
                max_size=max_size,
                command_timeout=command_timeout,
                init=_init_connection,
                reset=_keep_session,
                server_settings=server_settings,
                # Server-side statement cache breaks behind PgBouncer in transaction mode; keep it small.
                statement_cache_size=256,
            )
        assert pool is not None
        return cls(pool)

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        with translate_errors():
            async with self.pool.acquire() as conn:
                yield conn

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        with translate_errors():
            async with self.pool.acquire() as conn, conn.transaction():
                yield conn

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        with translate_errors():
            rows: list[asyncpg.Record] = await self.pool.fetch(sql, *args)
            return rows

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        with translate_errors():
            return await self.pool.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        with translate_errors():
            return await self.pool.fetchval(sql, *args)

    async def execute(self, sql: str, *args: Any) -> str:
        with translate_errors():
            status: str = await self.pool.execute(sql, *args)
            return status

    async def check(self) -> None:
        await self.fetchval("SELECT 1")

    def pool_stats(self) -> tuple[int, int]:
        return self.pool.get_size(), self.pool.get_idle_size()

    async def close(self, timeout: float = 5.0) -> None:
        # `Pool.close` waits for every acquired connection to come back; a query stuck on a dead or
        # restarted server would hold the shutdown (and the process) forever. Past the timeout the
        # remaining connections are dropped.
        try:
            async with asyncio.timeout(timeout):
                await self.pool.close()
        except TimeoutError:
            log.warning("database pool did not close in time; terminating its connections")
            self.pool.terminate()
