"""The ASGI request as python-engineio's environ, without a class defined per request.

python-engineio's ASGI `translate_request` defines its body reader, `AwaitablePayload`, inside the
function: a new class per request, ~2.7 KB per socket for as long as the session keeps its environ.
`translate_request` here lets the library build the environ, then puts one shared reader class in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engineio.async_drivers import asgi as eio_asgi


class _RequestBody:
    """python-engineio's `AwaitablePayload`, defined once instead of once per request."""

    __slots__ = ("event", "payload", "receive")

    def __init__(self, event: dict[str, Any], receive: Callable[[], Any]) -> None:
        self.event = event
        self.receive = receive
        self.payload: bytes | None = None

    async def read(self, length: int | None = None) -> bytes:
        if self.payload is None and self.event["type"] == "http.request":
            self.payload = self.event.get("body") or b""
            # Past `length` the rest is not read at all: a body that never ends must not keep the request.
            while self.event.get("more_body") and (length is None or len(self.payload) < length):
                self.event = await self.receive()
                if self.event["type"] == "http.request":
                    self.payload += self.event.get("body") or b""
        payload = self.payload or b""
        if length is None:
            self.payload = b""
            return payload
        self.payload = payload[length:]
        return payload[:length]


async def translate_request(
    scope: dict[str, Any],
    receive: Callable[[], Any] | None = None,
    send: Any = None,
) -> dict[str, Any]:
    if receive is None:
        # Already an environ: `realtime.engine.HubEngineServer` translates the request itself, then
        # hands the result to the library's router, which calls this again with it alone.
        return scope
    environ: dict[str, Any] = await eio_asgi.translate_request(scope, _NoEvent.receive, send)
    # The library built its environ from a dummy event; put the real body reader in.
    event = await receive()
    if event["type"] not in ("http.request", "websocket.connect"):
        return {}
    environ["wsgi.input"] = _RequestBody(event, receive)
    environ["asgi.receive"] = receive
    return environ


class _NoEvent:
    """Feeds python-engineio's `translate_request` an event so it only builds the environ."""

    @staticmethod
    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}
