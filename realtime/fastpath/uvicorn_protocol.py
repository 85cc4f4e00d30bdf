"""uvicorn's sans-io WebSocket protocol with lean per-connection state.

Passed to uvicorn as `UVICORN_WS` by `hub serve` and the test server:
- `LeanQueue` for its receive queue and `LeanEvent` for its `writable` flow-control event;
- the handshake `Request` and `Response` are dropped once the handshake is done, including the
  request that websockets' parser generator keeps alive (`release_handshake_parser`);
- a dozen of its 37 attributes live in slots, so the instance dict stays key-shared.

Each piece applies only where the library's shape is the one it was written against (a class or a
code object matched by identity); anything else keeps the library's path.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from websockets import protocol as ws_protocol
from websockets import server as ws_server
from websockets import streams as ws_streams

from realtime.fastpath.primitives import LeanEvent, LeanQueue

try:  # re-exported: the direct write path needs the same class, and `install` reports its absence
    from uvicorn.protocols.websockets.websockets_sansio_impl import (
        WebSocketsSansIOProtocol as WebSocketsSansIOProtocol,
    )
except ImportError:  # pragma: no cover - uvicorn is a dependency, but the fast path must not require it
    WebSocketsSansIOProtocol = None  # type: ignore[assignment,misc]


def release_handshake_parser(conn: Any) -> bool:
    """Let go of the handshake request that websockets' parser keeps for the life of the connection.

    `ServerProtocol.parse()` parses the HTTP request into a local variable and then runs
    `yield from super().parse()`, the frame loop, for as long as the connection lives: its
    suspended frame keeps the `Request` (path and every header, ~2.5 KB) alive. When that frame
    loop is at the top of an iteration (suspended in `reader.at_eof()`, nothing buffered, no partial
    frame), a fresh `Protocol.parse()` generator stepped to the same point is indistinguishable
    from it, and replaces it; closing the old one raises `GeneratorExit` where it waits, which
    neither generator catches. In any other state (or another websockets version's shape) nothing
    is changed. Returns whether the parser was replaced.
    """
    outer = getattr(conn, "parser", None)
    inner = getattr(outer, "gi_yieldfrom", None)
    innermost = getattr(inner, "gi_yieldfrom", None)
    reader = getattr(conn, "reader", None)
    if (
        PARSE_CODES is None
        or getattr(outer, "gi_code", None) is not PARSE_CODES[0]
        or getattr(inner, "gi_code", None) is not PARSE_CODES[1]
        or getattr(innermost, "gi_code", None) is not PARSE_CODES[2]
        or getattr(innermost, "gi_yieldfrom", True) is not None
        or getattr(reader, "buffer", True)
        or getattr(reader, "eof", True)
    ):
        return False
    fresh = ws_protocol.Protocol.parse(conn)
    next(fresh)  # runs to `yield` in reader.at_eof(): the buffer is empty
    conn.parser = fresh
    outer.close()  # type: ignore[union-attr]
    return True


try:  # the code objects of the generators `release_handshake_parser` expects, by identity
    PARSE_CODES: tuple[Any, Any, Any] | None = (
        ws_server.ServerProtocol.parse.__code__,
        ws_protocol.Protocol.parse.__code__,
        ws_streams.StreamReader.at_eof.__code__,
    )
except AttributeError:  # pragma: no cover - another websockets layout: keep the parser as it is
    PARSE_CODES = None


if WebSocketsSansIOProtocol is not None:

    class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
        """uvicorn's sans-io WebSocket protocol with lean per-connection structures (module docstring)."""

        # uvicorn sets 37 attributes per connection; past 30, an instance dict stops sharing its keys
        # with the class and costs ~1.6 KB instead of ~0.3 KB. These live in slots instead.
        __slots__ = (
            "app",
            "app_state",
            "asgi_version",
            "config",
            "connections",
            "default_headers",
            "logger",
            "loop",
            "request",
            "response",
            "root_path",
            "tasks",
        )

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # Only swapped when the attributes are the ones this was written against.
            if isinstance(self.queue, asyncio.Queue) and self.queue.empty():
                self.queue = LeanQueue()  # type: ignore[assignment]
            if isinstance(self.writable, asyncio.Event) and self.writable.is_set():
                writable = LeanEvent()
                writable.set()
                self.writable = writable  # type: ignore[assignment]

        async def send(self, message: Any) -> None:
            await super().send(message)
            if message["type"] == "websocket.accept" and self.handshake_complete:
                # The handshake is over: uvicorn never reads its request or response again.
                with contextlib.suppress(AttributeError):
                    del self.request, self.response
                release_handshake_parser(self.conn)

    UVICORN_WS: Any = LeanWebSocketProtocol
else:  # pragma: no cover
    UVICORN_WS = "websockets-sansio"
