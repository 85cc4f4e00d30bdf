"""The hub as a real process: start-up, graceful shutdown with open long-polls, and a database outage
reported as 503 with Retry-After instead of a stack trace."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx
import orjson

from storage.postgres.server import PostgresServer, ensure_database, free_port
from tests.support.server import running_hub, wait_ready


async def test_serve_and_graceful_shutdown_with_open_long_poll(database_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "HUB_PORT": str(port),
        "HUB_DATA_DIR": str(tmp_path),
        "HUB_LOG_LEVEL": "WARNING",
        "HUB_GRACEFUL_SHUTDOWN_SECONDS": "2",
    }
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "hub"),
        "serve",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(url, proc)
        async with httpx.AsyncClient(base_url=url, timeout=60) as c:
            hs = await c.get("/socket.io/", params={"EIO": "4", "transport": "polling"})
            assert hs.status_code == 200
            sid = orjson.loads(hs.text[1:])["sid"]
        # This poll blocks server-side until the next ping (25 s) unless shutdown cuts it short. It is
        # written on a raw connection so the whole request is on the wire before the signal.
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        await writer.drain()
        loop = asyncio.get_running_loop()
        started = loop.time()
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), timeout=10)
        elapsed = loop.time() - started
        writer.close()
        # uvicorn re-raises the signal after a clean shutdown, so "killed by SIGTERM" is the normal exit.
        assert proc.returncode in (0, -signal.SIGTERM), proc.returncode
        assert elapsed < 6, f"shutdown took {elapsed:.1f}s"
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_database_outage_is_503_with_retry_after(make_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tmp_path.chmod(0o755)
    server = PostgresServer(tmp_path / "pg", durable=False)
    admin = await asyncio.to_thread(server.start)
    await ensure_database(admin, "hub")
    settings = make_settings(database_url=server.dsn("hub"), migrate_on_start=True, db_command_timeout=2.0)
    try:
        async with running_hub(settings) as (url, _), httpx.AsyncClient(base_url=url, timeout=20) as c:
            ok = await c.post("/auth/guest", json={"display_name": "before"})
            assert ok.status_code == 201
            await asyncio.to_thread(server.stop)
            down = await c.post("/auth/guest", json={"display_name": "during"})
            assert down.status_code == 503, down.text
            assert down.json()["error"]["code"] == "db_unavailable"
            assert int(down.headers["retry-after"]) >= 1
            assert "asyncpg" not in down.text and "Traceback" not in down.text
            ready = await c.get("/readyz")
            assert ready.status_code == 503 and ready.json()["checks"]["postgres"] != "ok"
            await asyncio.to_thread(server.start)
            again = await c.post("/auth/guest", json={"display_name": "after"})
            assert again.status_code == 201
    finally:
        await asyncio.to_thread(server.stop)
