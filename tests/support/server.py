"""Run the real ASGI app under uvicorn on a free port, inside the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from hub.bootstrap.asgi import create_app
from hub.config import Settings
from realtime.fastpath import UVICORN_WS
from rest.protocol import JsonErrorHttpToolsProtocol
from storage.postgres.server import free_port
from tests.support.waiting import eventually


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Several servers share the test process; signals belong to pytest.
        yield


@dataclass(frozen=True)
class Running:
    """A hub serving on a loopback port: its base URL, an HTTP client bound to it, the ASGI app and the
    hub the app built at start-up (its services, bus and stores, for a test that looks behind the API)."""

    url: str
    http: httpx.AsyncClient
    app: Any
    hub: Any


def hub_of(app: Any) -> Any:
    """The hub a started app built (Sanic's context, behind the Socket.IO ASGI wrapper)."""
    return app.other_asgi_app.ctx.hub


@contextlib.asynccontextmanager
async def running_hub(
    settings: Settings, port: int | None = None, start_timeout: float = 30
) -> AsyncIterator[tuple[str, Any]]:
    """Yields (base_url, asgi_app) while a uvicorn server serves the hub (on `port`, or a free one).

    A fixed port lets a test stop a hub and start it again where its clients will reconnect.
    """
    port = port or free_port()
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="on",
        log_config=None,
        access_log=False,
        http=JsonErrorHttpToolsProtocol,
        ws=UVICORN_WS,
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=2,
        proxy_headers=settings.trust_forwarded,  # as `hub serve` configures it
        loop="none",
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve())

    def started() -> bool:
        if task.done():
            task.result()
            raise RuntimeError("server stopped during start-up")
        return bool(server.started)

    try:
        await eventually(started, timeout=start_timeout, interval=0.01, message=f"hub did not start on port {port}")
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=15)


@contextlib.asynccontextmanager
async def serve(settings: Settings, port: int | None = None) -> AsyncIterator[Running]:
    """`running_hub` with an HTTP client: what the `running` fixture yields, for a test that starts
    a hub of its own (a second one, or one it stops and starts again)."""
    async with running_hub(settings, port) as (url, app), httpx.AsyncClient(base_url=url, timeout=10) as http:
        yield Running(url, http, app, hub_of(app))


async def wait_ready(url: str, proc: asyncio.subprocess.Process | None = None, *, timeout: float = 30) -> None:
    """Wait until the hub at `url` answers /readyz with 200; fail at once if its process `proc` exits."""
    async with httpx.AsyncClient() as client:

        async def ready() -> bool:
            assert proc is None or proc.returncode is None, "hub exited during start-up"
            return (await client.get(f"{url}/readyz")).status_code == 200

        await eventually(ready, timeout=timeout, ignore=(httpx.TransportError,), message=f"{url} did not become ready")
