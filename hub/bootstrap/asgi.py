"""The ASGI application: Socket.IO at /socket.io, everything else served by Sanic.

Sanic's start/stop listeners run through the ASGI lifespan (ASGIApp forwards lifespan events to the
other app when it has no `on_startup` of its own), so the hub is built once per process.
"""

from __future__ import annotations

import gc
from typing import Any

import socketio

from hub.bootstrap.app import build_hub
from hub.config import Settings, load_settings
from hub.logs import configure_logging
from hub.metrics import Metrics
from hub.runtime import Hub


def create_app(settings: Settings | None = None) -> Any:
    settings = settings or load_settings()
    metrics = Metrics()

    async def start() -> Hub:
        hub = await build_hub(settings, metrics)
        # Everything built so far (modules, the app, pools, services) lives as long as the process.
        # Frozen, the collector never traverses it again: full collections measured 72 ms each
        # during the steady whiteboard benchmark, a pause every socket's latency includes.
        gc.collect()
        gc.freeze()
        return hub

    async def stop(hub: Hub) -> None:
        await hub.close()
        gc.unfreeze()  # an app stopped inside a longer-lived process (tests) leaves nothing pinned

    from realtime.server import create_socketio
    from rest.app import create_sanic_app
    from rest.context import app_context

    sanic_app = create_sanic_app(settings, metrics, start, stop)
    ctx = app_context(sanic_app)
    sio = create_socketio(settings, lambda: ctx.hub)
    ctx.sio = sio
    return socketio.ASGIApp(sio, other_asgi_app=sanic_app, socketio_path="socket.io")


def factory() -> Any:
    """Entry point for `uvicorn --factory hub.bootstrap.asgi:factory` (used by multi-worker serving)."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_json)
    return create_app(settings)
