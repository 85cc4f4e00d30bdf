"""Session-wide real services and per-test isolation.

- PostgreSQL: one server per session, one migrated template database, and a fresh database cloned
  from it for every test that asks for `database_url`.
- Redis: one server per session; each test gets its own key prefix.
- SeaweedFS (S3): one server per session, started on first use; each test gets its own bucket.

A test that needs a hub asks for `running` (url, HTTP client, app, hub) and chooses its settings with a
marker: `@pytest.mark.settings(stroke_rate=10_000)` (the keywords of `load_settings`; markers on the
module, class and test merge, the closest winning).
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from hub.config import Settings, load_settings
from storage.postgres.db import PostgresDatabase
from storage.postgres.migrate import migrate
from tests.support import services
from tests.support.realtime import Board, two_on_a_board
from tests.support.server import Running, serve

TEMPLATE_DB = "hub_template"


@pytest.fixture(scope="session")
def service_root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="hub-tests-"))
    root.chmod(0o755)
    yield root


@pytest.fixture(scope="session")
def pg_server(service_root: Path) -> Iterator[services.PostgresServer]:
    with services.postgres(service_root / "pg") as server:
        yield server


@pytest.fixture(scope="session")
async def pg_template(pg_server: services.PostgresServer) -> str:
    admin = await asyncpg.connect(pg_server.dsn())
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}"')
        await admin.execute(f'CREATE DATABASE "{TEMPLATE_DB}"')
    finally:
        await admin.close()
    await migrate(pg_server.dsn(TEMPLATE_DB))
    return TEMPLATE_DB


@pytest.fixture
async def database_url(pg_server: services.PostgresServer, pg_template: str) -> AsyncIterator[str]:
    name = "t_" + secrets.token_hex(6)
    admin = await asyncpg.connect(pg_server.dsn())
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}" STRATEGY FILE_COPY')
    finally:
        await admin.close()
    yield pg_server.dsn(name)
    admin = await asyncpg.connect(pg_server.dsn())
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def redis_service(service_root: Path) -> Iterator[services.RedisHandle]:
    with services.redis_server(service_root / "redis") as handle:
        yield handle


@pytest.fixture
def redis_prefix() -> str:
    return "t" + secrets.token_hex(5)


@pytest.fixture(scope="session")
def s3_service(service_root: Path) -> Iterator[services.S3Handle]:
    with services.seaweedfs(service_root / "seaweed") as handle:
        yield handle


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[PostgresDatabase]:
    """A pool on the test's own database, for tests of storage/postgres against a real server."""
    database = await PostgresDatabase.connect(database_url, max_size=20)
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
def make_settings(database_url: str, service_root: Path) -> Callable[..., Settings]:
    """Settings for a hub under test: a fresh database, memory backends unless asked otherwise."""

    def make(**overrides: Any) -> Settings:
        data_dir = service_root / ("data-" + secrets.token_hex(4))
        base: dict[str, Any] = {
            "env": "test",
            "database_url": database_url,
            "migrate_on_start": False,
            "data_dir": str(data_dir),
            "log_json": True,
            "log_level": "WARNING",
            "signing_key": "",
            "rate_limit": "100000/minute",
            "auth_rate_limit": "100000/minute",
            "connect_rate_limit": "100000/minute",
        }
        base.update(overrides)
        return load_settings(environ={}, **base)

    return make


def marked_settings(node: pytest.Item) -> dict[str, Any]:
    """The overrides of every `settings` marker on a test, the closest (test over class over module) winning."""
    overrides: dict[str, Any] = {}
    for marker in reversed(list(node.iter_markers("settings"))):
        overrides.update(marker.kwargs)
    return overrides


@pytest.fixture
async def running(request: pytest.FixtureRequest, make_settings: Callable[..., Settings]) -> AsyncIterator[Running]:
    """A hub serving this test, with the settings its `settings` markers choose."""
    async with serve(make_settings(**marked_settings(request.node))) as hub:
        yield hub


@pytest.fixture
async def board(running: Running) -> AsyncIterator[Board]:
    """Two sockets (Alice's and Bob's) on one space of the `running` hub, closed after the test."""
    async with two_on_a_board(running.url, running.http) as two:
        yield two


@pytest.fixture
def hub_url(running: Running) -> str:
    return running.url


@pytest.fixture
def client(running: Running) -> httpx.AsyncClient:
    return running.http


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "settings(**overrides): settings of the hub the `running` fixture starts")
    # Artifacts (screenshots, logs) of failing browser tests land here.
    Path("test-artifacts").mkdir(exist_ok=True)
    asyncio.set_event_loop_policy(asyncio.DefaultEventLoopPolicy())
