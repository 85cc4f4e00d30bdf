"""The Socket.IO server mounted beside the REST app in one ASGI application."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import socketio

from hub.config import Settings
from rest.middleware import origin_allowed


def create_socketio(settings: Settings, get_hub: Callable[[], Any]) -> socketio.AsyncServer:
    sio = socketio.AsyncServer(
        async_mode="asgi",
        cors_allowed_origins=lambda origin, environ=None: origin_allowed(settings, origin or ""),
        cors_credentials=False,
        max_http_buffer_size=settings.ws_max_message_bytes,
        ping_interval=settings.ws_ping_interval,
        ping_timeout=settings.ws_ping_timeout,
        # Engine.IO's default of 16 packets per long-poll payload stalls bursts.
        max_decode_packets=settings.ws_max_decode_packets,
        transports=["websocket", "polling"],
        logger=False,
        engineio_logger=False,
    )

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> bool:
        # Identity arrives with the identity capability; until then nobody may connect.
        return False

    return sio
