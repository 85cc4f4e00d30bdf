"""Direct, coalesced WebSocket writes for the fan-out hot path.

Why this exists: python-engineio sends every packet through a per-socket queue, a writer task
(`asyncio.wait_for` on every wake-up), an ASGI `websocket.send` dict, uvicorn's `send()` (an
`Event.wait`, state checks, a websockets frame serialised in Python) and one `transport.write`
syscall. Measured, that is 60-80 us of CPU per delivery. A server-to-client text frame is unmasked,
so when permessage-deflate is off its bytes are the same for every recipient: the frame is built
once per broadcast and appended to each recipient's buffer, and one `call_soon` callback per event
loop iteration writes each socket's buffer with one `transport.write`. Several strokes committed in
one batch then cost one syscall per recipient instead of one per stroke.

The library internals used here:
- `engineio.AsyncServer._async["websocket"]` (the ASGI driver's WebSocket wrapper class) is replaced
  by `DirectWebSocket` (`realtime.fastpath.install`), a subclass that remembers the uvicorn protocol
  object behind `asgi.send`; it also empties the ASGI scope's raw header list once python-engineio
  has copied the headers into its environ;
- uvicorn's `WebSocketsSansIOProtocol` attributes (`transport`, `conn`, `writable`, `close_sent`,
  `disconnected`, `handshake_complete`) are read to decide whether a direct write is safe.
Anything else (another ASGI server, the wsproto implementation, a negotiated compression extension,
a socket that is paused by flow control or has packets queued) takes the library's normal path, so
the worst case of a library change is the old speed, not a broken socket; a WebSocket served by
anything but uvicorn's sans-io protocol is logged once. `tests/test_realtime_direct.py` checks the
frame bytes against websockets, the ordering rules, and that fan-out does take this path.

Ordering: a packet goes direct only while the socket's Engine.IO writer task is idle (nothing queued,
nothing taken from the queue but not yet written); the writer's own sends land in the same buffer.
So every socket sees packets in the order they were sent, whichever path each one took.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from typing import Any

from engineio.async_drivers import asgi as eio_asgi

from realtime.fastpath.guards import warn_inactive
from realtime.fastpath.handler import client_packet, lean_handler_for
from realtime.fastpath.primitives import LeanQueue
from realtime.fastpath.timers import Timers
from realtime.fastpath.uvicorn_protocol import WebSocketsSansIOProtocol


def text_frame(payload: bytes) -> bytes:
    """One final, unmasked WebSocket text frame (RFC 6455 section 5.2), as a server sends it."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return struct.pack("!BBH", 0x81, 126, n) + payload
    return struct.pack("!BBQ", 0x81, 127, n) + payload


class Writers:
    """The direct-capable sockets of one Engine.IO server, by Engine.IO sid, plus the write coalescer."""

    def __init__(self) -> None:
        self.by_sid: dict[str, DirectWebSocket] = {}
        # Frames written by the direct path (`DirectWebSocket.write_frame`), not by a writer task:
        # what shows that fan-out, acks and `emit(to=...)` bypass the Engine.IO queue.
        self.direct_frames = 0
        self._dirty: list[DirectWebSocket] = []
        self._scheduled = False
        self._warned = False

    def not_direct(self, why: str) -> None:
        """A WebSocket that cannot take the direct path for a reason every other one shares: say so once."""
        if not self._warned:
            self._warned = True
            warn_inactive([f"direct writes: {why}"])

    def get(self, eio_sid: str) -> DirectWebSocket | None:
        return self.by_sid.get(eio_sid)

    def append(self, ws: DirectWebSocket, frame: bytes) -> None:
        """Queue `frame` on `ws`; all buffers are written at the end of this event-loop iteration."""
        if not ws.pending:
            self._dirty.append(ws)
        ws.pending.append(frame)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self._scheduled = False
        dirty, self._dirty = self._dirty, []
        for ws in dirty:
            ws.flush()


class DirectWebSocket(eio_asgi.WebSocket):  # type: ignore[misc]  # untyped library
    """Engine.IO's ASGI WebSocket wrapper with a direct, ordered write path (see the module docstring)."""

    def __init__(self, handler: Callable[..., Any], server: Any, writers: Writers, timers: Timers) -> None:
        # The handler is the Engine.IO socket's bound `_websocket_handler`: it tells us the socket.
        self.socket: Any = getattr(handler, "__self__", None)
        super().__init__(lean_handler_for(handler, timers) or handler, server)
        self.writers = writers
        self.proto: Any = None
        self.pending: list[bytes] = []

    async def __call__(self, environ: dict[str, Any]) -> Any:
        send = environ.get("asgi.send")
        proto = getattr(send, "__self__", None)
        sid = getattr(self.socket, "sid", None)
        if WebSocketsSansIOProtocol is not None and isinstance(proto, WebSocketsSansIOProtocol) and sid:
            self.proto = proto
            self.writers.by_sid[sid] = self
        elif WebSocketsSansIOProtocol is not None:  # (without it, `install` has said so at start-up)
            self.writers.not_direct(
                f"the WebSocket is served by {type(proto).__qualname__}, not uvicorn's websockets-sansio protocol"
                if sid
                else "python-engineio's WebSocket handler is not a bound method of its socket"
            )
        scope = environ.get("asgi.scope")
        if isinstance(scope, dict) and scope.get("type") == "websocket" and isinstance(scope.get("headers"), list):
            # python-engineio has copied every header into `environ` (HTTP_*), which python-socketio
            # keeps for the session; the scope's raw copy is never read again (~1 KB per socket).
            scope["headers"] = []
        try:
            return await super().__call__(environ)
        finally:
            if sid and self.writers.by_sid.get(sid) is self:
                del self.writers.by_sid[sid]
            self.pending.clear()

    def open(self) -> bool:
        """True while frames written now reach the peer in order, uncompressed."""
        p = self.proto
        return (
            p is not None
            and p.handshake_complete
            and not p.close_sent
            and not p.disconnected
            and p.initial_response is None
            and not p.conn.extensions
        )

    def can_write_now(self) -> bool:
        """A direct write keeps order only while the Engine.IO writer task is idle.

        Idle means: upgraded (not still probing from long-polling), nothing queued, and the writer
        blocked in `queue.get()` -- a packet it has already taken but not yet written (its
        `wait_for` wrapper resumes one loop iteration later) would otherwise be overtaken.
        """
        s = self.socket
        if self.proto is None or s is None or not s.upgraded or s.upgrading or s.closing or s.closed:
            return False
        queue = s.queue
        if queue.qsize() or not _writer_waiting(queue):
            return False
        return self.open()

    def buffered(self) -> int:
        """Bytes written to this socket that have not reached the kernel yet."""
        transport = self.proto.transport if self.proto is not None else None
        pending = sum(len(f) for f in self.pending)
        return pending + (transport.get_write_buffer_size() if transport is not None else 0)

    def abort(self) -> None:
        """Drop the connection at once, unsent bytes included (the peer sees a reset)."""
        self.pending = []
        if self.proto is not None and not self.proto.transport.is_closing():
            self.proto.transport.abort()

    def paused(self) -> bool:
        """uvicorn's flow control says the transport's buffer is over its high-water mark."""
        return self.proto is not None and not self.proto.writable.is_set()

    def write_frame(self, frame: bytes) -> None:
        """The direct path: `frame` goes out at the end of this event-loop iteration, past the queue."""
        self.writers.direct_frames += 1
        self.writers.append(self, frame)

    def flush(self) -> None:
        if not self.pending:
            return
        data = self.pending[0] if len(self.pending) == 1 else b"".join(self.pending)
        self.pending = []
        if self.open() and not self.proto.transport.is_closing():
            self.proto.transport.write(data)

    async def wait(self) -> Any:
        # The library's handler (a socket upgraded from long-polling) reads here; the lean one checks
        # its frames itself. An invalid frame ends the connection like a closed one, quietly: the
        # library would log a traceback for each (or let the decode error escape the handler).
        data = await super().wait()
        if not valid_frame(data):
            raise OSError("invalid Engine.IO packet")
        return data

    async def send(self, message: str | bytes) -> None:
        # The writer task's path. Text goes into the same ordered buffer as direct writes.
        if isinstance(message, bytes) or not self.open():
            self.flush()
            await super().send(message)
            return
        p = self.proto
        if not p.writable.is_set():
            await p.writable.wait()  # uvicorn's flow control: the transport buffer is full
            if not self.open():
                raise ConnectionError("websocket closed")  # the writer task stops on any error
        self.writers.append(self, text_frame(message.encode()))

    async def close(self) -> None:
        self.flush()  # the close frame must follow everything already sent
        await super().close()


def valid_frame(data: Any) -> bool:
    """Whether a WebSocket frame is an Engine.IO packet a client may send (see `handler.client_packet`)."""
    if isinstance(data, bytes):
        return True  # a binary MESSAGE: Socket.IO decides
    if not isinstance(data, str) or not data:
        return False
    if data[0] == "b":
        return client_packet(data) is not None
    return "1" <= data[0] <= "6"


def _writer_waiting(queue: Any) -> bool:
    if isinstance(queue, LeanQueue):
        return queue.waiting()
    return any(not getter.done() for getter in queue._getters)  # a plain asyncio.Queue
