"""Settings: defaults < TOML file < environment; secrets only from the environment; clear errors."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from hub.config import ConfigError, load_settings
from storage.postgres.migrate import load_migrations, migrate


def test_precedence_defaults_file_environment(tmp_path: Path) -> None:
    cfg = tmp_path / "hub.toml"
    cfg.write_text('[hub]\nport = 9000\nrate_limit = "5/second"\ncors_origins = ["https://a.example"]\n')
    s = load_settings(environ={}, config_path=cfg)
    assert (s.port, s.rate_limit, s.cors_origins, s.host) == (9000, "5/second", ("https://a.example",), "127.0.0.1")
    s = load_settings(
        environ={"HUB_PORT": "9100", "HUB_CORS_ORIGINS": "https://b.example,https://c.example"}, config_path=cfg
    )
    assert s.port == 9100 and s.cors_origins == ("https://b.example", "https://c.example")
    s = load_settings(environ={"HUB_CONFIG": str(cfg), "DATABASE_URL": "postgresql://u:pw@db/hub"})
    assert s.port == 9000 and s.database_url == "postgresql://u:pw@db/hub"


def test_settings_are_frozen() -> None:
    s = load_settings(environ={})
    with pytest.raises(AttributeError):
        s.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"HUB_PORT": "eighty"}, "HUB_PORT: expected an integer"),
        ({"HUB_PORT": "70000"}, "HUB_PORT: must be between"),
        ({"HUB_LOG_JSON": "maybe"}, "HUB_LOG_JSON: expected true or false"),
        ({"HUB_ENV": "staging"}, "HUB_ENV: expected one of"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL: expected a postgres:// URL"),
        ({"HUB_CORS_ORIGINS": "null"}, "HUB_CORS_ORIGINS"),
        ({"HUB_ENV": "production", "HUB_CORS_ORIGINS": "*", "HUB_SIGNING_KEY": "A" * 43}, "HUB_CORS_ORIGINS"),
        ({"HUB_ARGON2_MEMORY_KIB": "1024"}, "OWASP"),
        ({"HUB_SIGNING_KEY": "short"}, "HUB_SIGNING_KEY"),
    ],
)
def test_invalid_values_name_the_setting(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(environ=environ)


def test_secret_in_file_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "hub.toml"
    cfg.write_text('database_url = "postgresql://u:pw@db/hub"\n')
    with pytest.raises(ConfigError, match="secret"):
        load_settings(environ={}, config_path=cfg)


def test_cli_prints_one_line_and_redacts(tmp_path: Path) -> None:
    hub = str(Path(sys.executable).parent / "hub")
    bad = subprocess.run([hub, "config"], env={"HUB_PORT": "abc", "PATH": "/usr/bin"}, capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == ["hub: configuration error: HUB_PORT: expected an integer, got 'abc'"]
    ok = subprocess.run(
        [hub, "config"],
        capture_output=True,
        text=True,
        env={
            "DATABASE_URL": "postgresql://u:hunter2@db/hub",
            "S3_SECRET_KEY": "s3cr3t",
            "HUB_SIGNING_KEY": "A" * 43,
            "PATH": "/usr/bin",
        },
    )
    assert ok.returncode == 0
    assert "hunter2" not in ok.stdout and "s3cr3t" not in ok.stdout and "A" * 43 not in ok.stdout
    assert "postgresql://u:***@db/hub" in ok.stdout


async def test_concurrent_migrations_apply_once(pg_server) -> None:  # type: ignore[no-untyped-def]
    admin = await asyncpg.connect(pg_server.dsn())
    await admin.execute('DROP DATABASE IF EXISTS "migrate_race"')
    await admin.execute('CREATE DATABASE "migrate_race"')
    await admin.close()
    dsn = pg_server.dsn("migrate_race")
    results = await asyncio.gather(*(migrate(dsn) for _ in range(4)))
    applied = sorted(v for r in results for v in r)
    assert applied == [m.version for m in load_migrations()]  # each version applied exactly once
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(load_migrations())
    finally:
        await conn.close()
