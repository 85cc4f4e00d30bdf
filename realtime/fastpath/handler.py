"""The Engine.IO socket's tasks: its WebSocket handler, its writer and its pings, on the shared timers.

Replacements for parts of python-engineio's `AsyncSocket`, installed by `realtime.fastpath.install`:
- `lean_websocket_handler` for a socket that opens as a WebSocket: the ASGI task reads and one
  writer task writes, two tasks instead of five, their waits bounded on the shared `Timers`
  instead of a `wait_for` (a task, a future and a timer handle) per wait;
- `Pinger`: every socket's next PING on the same `Timers`, instead of a sleeping task per socket.

Each applies only where the library function it replaces is the one it was written against
(matched by identity); anything else keeps the library's path. The behaviour is the library's:
the same heartbeat and timeouts, the same ordering and close reasons (`tests/test_realtime_lean.py`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from engineio import async_socket as eio_async_socket
from engineio import exceptions as eio_exceptions
from engineio import packet as eio_packet
from engineio.async_drivers import asgi as eio_asgi

from realtime.fastpath.primitives import LeanQueue
from realtime.fastpath.timers import Deadline, Timers

log = logging.getLogger(__name__)

# The library functions the Engine.IO replacements below stand in for; matched by identity.
LIBRARY_HANDLER = getattr(eio_async_socket.AsyncSocket, "_websocket_handler", None)
LIBRARY_SEND_PING = getattr(eio_async_socket.AsyncSocket, "_send_ping", None)
LIBRARY_WAIT = getattr(eio_asgi.WebSocket, "wait", None)


async def lean_websocket_handler(socket: Any, timers: Timers, ws: Any) -> None:
    """python-engineio's `AsyncSocket._websocket_handler` for a socket that opened as a WebSocket.

    Besides the ASGI task that runs it, the library's version keeps, per idle socket, a reader task
    (`ensure_future(websocket_wait())`) under an `asyncio.wait_for`, a writer task whose `poll()`
    wraps every `queue.get()` in another `wait_for` (i.e. another task), and a ping task sleeping in
    `asyncio.sleep`: four more tasks, three timer handles, two waiter futures and two
    `functools.partial`s. Here the ASGI task itself reads, one writer task writes (the ping is on
    `Pinger`), and both waits are bounded by a `Deadline` on the server's `Timers`. The
    behaviour is the library's: the same timeout (ping interval + ping timeout) on the read and on
    the writer's wait, packets received in order, the writer draining the queue in batches until it
    sees `None`, the same close reasons. Only used for a socket that was not connected before (an
    upgrade from long-polling keeps the library's handler, with its probe exchange).
    """
    server = socket.server
    socket.connected = True
    socket.upgraded = True
    timeout = server.ping_interval + server.ping_timeout
    inline_wait = type(ws).wait is LIBRARY_WAIT and callable(getattr(ws, "asgi_receive", None))
    writer_task = asyncio.ensure_future(_lean_writer(socket, ws, timeout, timers))
    server.logger.info("%s: Upgrade to websocket successful", socket.sid)
    deadline = Deadline.start(timers, timeout)
    try:
        while True:
            try:
                with deadline:
                    # `ws.wait()`, inlined for the library's ASGI wrapper: one coroutine frame fewer per idle socket.
                    data = _message(await ws.asgi_receive()) if inline_wait else await ws.wait()
                if data and len(data) > server.max_http_buffer_size:
                    raise ValueError("packet is too large")
            except BaseException:  # as the library (a bare except): its timeout and a cancellation alike,
                break  # a closed socket, an oversized packet
            if data is None:
                break  # connection closed by the client
            pkt = client_packet(data)
            if pkt is None:
                # Not an Engine.IO packet a client sends: the library would log a traceback for every
                # such frame, forever, before any login. The first one ends the connection instead.
                log.debug("closing a websocket after an invalid frame", extra={"fields": {"sid": socket.sid}})
                break
            try:
                await socket.receive(pkt)
            except eio_exceptions.UnknownPacketError:
                pass
            except eio_exceptions.SocketIsClosedError:
                server.logger.info("Receive error -- socket is closed")
                break
            except Exception:
                server.logger.exception("Unknown receive error")
    finally:
        deadline.finish()
    await socket.queue.put(None)  # unlock the writer task so it can exit
    await writer_task
    await socket.close(wait=False, abort=True, reason=server.reason.TRANSPORT_CLOSE)


async def _lean_writer(socket: Any, ws: Any, timeout: float, timers: Timers) -> None:
    """The library's `writer()` with `poll()` inlined, its `wait_for` replaced by a `Deadline`."""
    queue = socket.queue
    deadline = Deadline.start(timers, timeout)
    try:
        while True:
            try:
                with deadline:
                    first = await queue.get()
            except asyncio.CancelledError:
                break  # poll() raises QueueEmpty on its timeout and on cancellation: the writer stops
            queue.task_done()
            if first is None:
                break  # connection closed
            packets = [first]
            # Drained without `QueueEmpty`: a traceback would give this coroutine a frame object
            # for the rest of its life (~250 B per socket).
            while queue.qsize():
                pkt = queue.get_nowait()
                queue.task_done()
                if pkt is None:
                    queue.put_nowait(None)
                    break
                packets.append(pkt)
            try:
                for pkt in packets:
                    await ws.send(pkt.encode())
            except BaseException:  # as the library's writer (a bare except): any send error ends it
                break
            del first, packets, pkt  # nothing already sent stays referenced while the writer waits
    finally:
        deadline.finish()
    await ws.close()


# The Engine.IO packets a client may send: CLOSE, PING (the upgrade probe), PONG, MESSAGE, UPGRADE, NOOP.
CLIENT_PACKET_TYPES = frozenset(range(eio_packet.CLOSE, eio_packet.NOOP + 1))


def client_packet(data: str | bytes) -> Any:
    """`data` decoded as an Engine.IO packet a client may send, or None.

    python-engineio decodes a frame with `int()` on its first character and indexes its list of packet
    names with the result; anything else (an empty frame, `hello`, type `9`, bad base64) raises.
    """
    try:
        pkt = eio_packet.Packet(encoded_packet=data)
    except (ValueError, TypeError):  # binascii.Error is a ValueError
        return None
    return pkt if pkt.packet_type in CLIENT_PACKET_TYPES else None


def lean_handler_for(handler: Any, timers: Timers) -> Callable[[Any], Awaitable[None]] | None:
    """`lean_websocket_handler` for the socket behind `handler`, if it is the expected library handler."""
    socket = getattr(handler, "__self__", None)
    if (
        getattr(handler, "__func__", None) is not LIBRARY_HANDLER
        or socket is None
        or socket.connected  # an upgrade from long-polling: the library's probe exchange
        or not isinstance(socket.queue, LeanQueue)
        or not timers.usable()
    ):
        return None

    # A partial, not a closure: calling it returns the handler's coroutine, no wrapper frame per socket.
    return functools.partial(lean_websocket_handler, socket, timers)


def _message(event: dict[str, Any]) -> Any:
    """The rest of python-engineio's ASGI `WebSocket.wait()` once its `asgi_receive()` returned `event`."""
    if event["type"] != "websocket.receive":
        raise OSError()
    if event.get("bytes") is not None:
        return event["bytes"]
    if event.get("text") is not None:
        return event["text"]
    raise OSError()


class Pinger:
    """Every socket's next Engine.IO PING on the server's `Timers`, instead of a sleeping task per socket.

    python-engineio's `schedule_ping()` starts `_send_ping` as a background task that sleeps for the
    ping interval (a task, its coroutine, a future and a timer handle per idle socket, ~1 KB). Here,
    `start_background_task(socket._send_ping)` pushes the socket on the timers instead, and when it is
    due does what `_send_ping` does after its sleep: if the socket is still open, stamp `last_ping`
    and queue a PING. Any other target, or another event loop, takes the library's path.
    """

    def __init__(self, start_background_task: Callable[..., Any], timers: Timers) -> None:
        self._library = start_background_task
        self.timers = timers

    def start_background_task(self, target: Any, *args: Any, **kwargs: Any) -> Any:
        socket = getattr(target, "__self__", None)
        if (
            args
            or kwargs
            or socket is None
            or getattr(target, "__func__", None) is not LIBRARY_SEND_PING
            or not self.timers.usable()
        ):
            return self._library(target, *args, **kwargs)
        self.timers.push(self.timers.now() + socket.server.ping_interval, Pinger._ping, socket)
        return None  # `schedule_ping()` ignores it

    @staticmethod
    def _ping(socket: Any, now: float) -> None:
        if socket.closing or socket.closed:
            return
        socket.last_ping = time.time()
        # What `await socket.send(PING)` does right after last_ping was stamped (its timeout check
        # passes): put the packet on the socket's unbounded queue.
        socket.queue.put_nowait(eio_packet.Packet(eio_packet.PING))
