"""Run the real ASGI app under uvicorn on a free port, inside the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import uvicorn

from hub.bootstrap.asgi import create_app
from hub.config import Settings
from realtime.fastpath import UVICORN_WS
from rest.protocol import JsonErrorHttpToolsProtocol
from storage.postgres.server import free_port


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Several servers share the test process; signals belong to pytest.
        yield


@contextlib.asynccontextmanager
async def running_hub(settings: Settings, port: int | None = None) -> AsyncIterator[tuple[str, Any]]:
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
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("server stopped during start-up")
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=15)
