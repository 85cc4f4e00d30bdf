"""Lean per-connection state: what every open, idle Socket.IO WebSocket keeps while nothing happens.

Why this exists: an idle, joined socket cost the hub ~33 KB of resident memory, most of it in library
structures sized for traffic an idle socket never sees, or kept after their last use. Measured with
`python -m bench.memory` (tracemalloc over 1,000 joined sockets; the table is in
`docs/performance.md`, "Memory per connection"). Each piece below replaces one of them with a
smaller equivalent, and only where the library's shape is the one it was written against (a
class, a function or a code object matched by identity); anything else keeps the library's path.

uvicorn (websockets sans-io), in `LeanWebSocketProtocol`, passed to uvicorn as `UVICORN_WS` by
`hub serve` and the test server:
- `LeanQueue` for its receive queue and `LeanEvent` for its `writable` flow-control event (an
  `asyncio.Queue` is four deques, ~3 KB, before it holds anything; an `asyncio.Event` one deque);
- the handshake `Request` and `Response` are dropped once the handshake is done, including the
  request that websockets' parser generator keeps alive (`release_handshake_parser`);
- a dozen of its 37 attributes live in slots, so the instance dict stays key-shared.

python-engineio, installed by `realtime.direct.install`:
- `LeanQueue` for every socket's packet queue (`create_queue`);
- `lean_websocket_handler` for a socket that opens as a WebSocket: the ASGI task reads and one
  writer task writes, two tasks instead of five, their waits bounded on the shared `Timers`
  instead of a `wait_for` (a task, a future and a timer handle) per wait;
- `Pinger`: every socket's next PING on the same `Timers`, instead of a sleeping task per socket.

The behaviour is the libraries': the same heartbeat and timeouts, the same ordering and close
reasons (`tests/test_realtime_lean.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from engineio import async_socket as eio_async_socket
from engineio import exceptions as eio_exceptions
from engineio import packet as eio_packet
from engineio.async_drivers import asgi as eio_asgi
from websockets import protocol as ws_protocol
from websockets import server as ws_server
from websockets import streams as ws_streams

try:
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
except ImportError:  # pragma: no cover - uvicorn is a dependency, but the adapter must not require it
    WebSocketsSansIOProtocol = None  # type: ignore[assignment,misc]


class LeanQueue:
    """The part of `asyncio.Queue` (unbounded) that python-engineio and uvicorn use, without four idle deques.

    One consumer (the socket's writer task, or uvicorn's `receive`) is all either ever has, so a lone
    waiting getter is kept as is, not in a list; a second consumer still works, the getters are
    woken in order. The item list gives its buffer back whenever it runs empty.
    """

    __slots__ = ("_finished", "_getters", "_items", "_unfinished")

    def __init__(self) -> None:
        self._items: list[Any] = []
        # None, the one waiting getter, or a list of them in arrival order.
        self._getters: asyncio.Future[None] | list[asyncio.Future[None]] | None = None
        self._unfinished = 0
        self._finished: asyncio.Event | None = None

    def qsize(self) -> int:
        return len(self._items)

    def empty(self) -> bool:
        return not self._items

    def waiting(self) -> bool:
        """A consumer is blocked in `get()` (so it holds nothing it has not handled yet)."""
        return self._getters is not None

    def _wake(self) -> None:
        while (getters := self._getters) is not None:
            if isinstance(getters, list):
                getter = getters.pop(0)
                if not getters:
                    self._getters = None
            else:
                getter, self._getters = getters, None
            if not getter.done():
                getter.set_result(None)
                return

    def _add_getter(self, getter: asyncio.Future[None]) -> None:
        getters = self._getters
        if getters is None:
            self._getters = getter
        elif isinstance(getters, list):
            getters.append(getter)
        else:
            self._getters = [getters, getter]

    def _remove_getter(self, getter: asyncio.Future[None]) -> None:
        getters = self._getters
        if getters is getter:
            self._getters = None
        elif isinstance(getters, list):
            with contextlib.suppress(ValueError):
                getters.remove(getter)
            if not getters:
                self._getters = None

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        self._unfinished += 1
        if self._finished is not None:
            self._finished.clear()
        self._wake()

    async def put(self, item: Any) -> None:
        self.put_nowait(item)

    def _pop(self) -> Any:
        items = self._items
        item = items.pop(0)
        if not items:
            items.clear()  # frees the buffer an emptied list keeps
        return item

    def get_nowait(self) -> Any:
        if not self._items:
            raise asyncio.QueueEmpty
        return self._pop()

    async def get(self) -> Any:
        while not self._items:
            getter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._add_getter(getter)
            try:
                await getter
            except BaseException:  # cancelled, e.g. by a timeout
                getter.cancel()
                self._remove_getter(getter)
                if self._items:
                    self._wake()  # a wake-up meant for us goes to the next consumer
                raise
        return self._pop()

    def task_done(self) -> None:
        if self._unfinished <= 0:
            raise ValueError("task_done() called too many times")
        self._unfinished -= 1
        if self._unfinished == 0 and self._finished is not None:
            self._finished.set()

    async def join(self) -> None:
        if self._unfinished:
            if self._finished is None:
                self._finished = asyncio.Event()
            await self._finished.wait()


class LeanEvent:
    """`asyncio.Event` (set, clear, is_set, wait) whose waiter list exists only while someone waits."""

    __slots__ = ("_value", "_waiters")

    def __init__(self) -> None:
        self._value = False
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._value

    def set(self) -> None:
        if self._value:
            return
        self._value = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._value = False

    async def wait(self) -> bool:
        if self._value:
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if self._waiters is not None:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
                if not self._waiters:
                    self._waiters = None
        return True


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
        _PARSE_CODES is None
        or getattr(outer, "gi_code", None) is not _PARSE_CODES[0]
        or getattr(inner, "gi_code", None) is not _PARSE_CODES[1]
        or getattr(innermost, "gi_code", None) is not _PARSE_CODES[2]
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
    _PARSE_CODES: tuple[Any, Any, Any] | None = (
        ws_server.ServerProtocol.parse.__code__,
        ws_protocol.Protocol.parse.__code__,
        ws_streams.StreamReader.at_eof.__code__,
    )
except AttributeError:  # pragma: no cover - another websockets layout: keep the parser as it is
    _PARSE_CODES = None


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

log = logging.getLogger(__name__)


# The library functions the Engine.IO replacements below stand in for; matched by identity.
_LIBRARY_HANDLER = getattr(eio_async_socket.AsyncSocket, "_websocket_handler", None)
_LIBRARY_SEND_PING = getattr(eio_async_socket.AsyncSocket, "_send_ping", None)
_LIBRARY_WAIT = getattr(eio_asgi.WebSocket, "wait", None)


# -- many per-socket timers on one event-loop timer -------------------------------------------------

Expire = Callable[[Any, float], "float | None"]


class Timers:
    """Per-socket timeouts of one Engine.IO server on a single event-loop timer.

    A `loop.call_at` handle (uvloop: a handle, a libuv timer and a bound method) costs ~550 B; an
    entry here is one heap tuple. `push(due, expire, arg)` calls `expire(arg, now)` once `due` has
    passed; if it returns a later time the entry is pushed again for then (a deadline that moved
    is rechecked, never missed). All entries belong to the event loop of the first push; `usable()`
    says whether the current loop is that one (callers fall back to the library's path if not).
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Expire, Any]] = []
        self._count = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return len(self._heap)

    def usable(self) -> bool:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        return self._loop is None or self._loop is loop or not self._heap

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def push(self, due: float, expire: Expire, arg: Any) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop, self._timer = loop, None  # only when empty: see usable()
        self._count += 1
        heapq.heappush(self._heap, (due, self._count, expire, arg))
        if self._heap[0][1] == self._count:  # the new entry is the earliest
            if self._timer is not None:
                self._timer.cancel()
            self._timer = loop.call_at(due, self._fire)

    def _fire(self) -> None:
        self._timer = None
        loop = self._loop
        if loop is None:  # pragma: no cover - set before any timer exists
            return
        now = loop.time()
        heap = self._heap
        later: list[tuple[float, Expire, Any]] = []
        while heap and heap[0][0] <= now:
            _, _, expire, arg = heapq.heappop(heap)
            try:
                again = expire(arg, now)
            except Exception:  # one socket's trouble must not stop everyone's timers
                log.exception("socket timer failed")
                continue
            if again is not None:
                later.append((again, expire, arg))
        for again, expire, arg in later:  # after the loop: an entry is looked at once per firing
            self._count += 1
            heapq.heappush(heap, (max(again, now + 0.001), self._count, expire, arg))
        if heap:
            self._timer = loop.call_at(heap[0][0], self._fire)


class _Wait:
    """A deadline on one task's wait: past it, the task is cancelled, as `asyncio.timeout` would."""

    __slots__ = ("armed", "done", "due", "fired", "task")

    def __init__(self, task: asyncio.Task[Any]) -> None:
        self.task: asyncio.Task[Any] | None = task
        self.due = 0.0
        self.armed = False  # the task is suspended in the bounded wait
        self.fired = False
        self.done = False

    @classmethod
    def start(cls, timers: Timers, timeout: float) -> _Wait:
        """A deadline for the current task's waits on `timers`, first due `timeout` from now."""
        task = asyncio.current_task()
        assert task is not None
        bound = cls(task)
        timers.push(timers.now() + timeout, cls.expire, bound)
        return bound

    @staticmethod
    def expire(wait: _Wait, now: float) -> float | None:
        if wait.done or wait.task is None:
            return None
        if not wait.armed:
            return now + 1.0  # not waiting now: look again (the next wait sets a later due)
        if wait.due > now:
            return wait.due
        wait.fired = True
        wait.task.cancel()
        return None

    def timed_out(self) -> bool:
        """After a `CancelledError`: was it this deadline? Then the cancellation is consumed."""
        if self.fired and self.task is not None:
            self.task.uncancel()
            return True
        return False

    def finish(self) -> None:
        """The bounded loop is over; the heap entry is dropped when it comes due (no task kept alive)."""
        self.done = True
        self.task = None


# -- Engine.IO: two tasks per idle WebSocket instead of five ----------------------------------------


async def lean_websocket_handler(socket: Any, timers: Timers, ws: Any) -> None:
    """python-engineio's `AsyncSocket._websocket_handler` for a socket that opened as a WebSocket.

    Besides the ASGI task that runs it, the library's version keeps, per idle socket, a reader task
    (`ensure_future(websocket_wait())`) under an `asyncio.wait_for`, a writer task whose `poll()`
    wraps every `queue.get()` in another `wait_for` (i.e. another task), and a ping task sleeping in
    `asyncio.sleep`: four more tasks, three timer handles, two waiter futures and two
    `functools.partial`s. Here the ASGI task itself reads, one writer task writes (the ping is on
    `Pinger`), and both waits are bounded by a `_Wait` on the server's `Timers`. The
    behaviour is the library's: the same timeout (ping interval + ping timeout) on the read and on
    the writer's wait, packets received in order, the writer draining the queue in batches until it
    sees `None`, the same close reasons. Only used for a socket that was not connected before (an
    upgrade from long-polling keeps the library's handler, with its probe exchange).
    """
    server = socket.server
    socket.connected = True
    socket.upgraded = True
    timeout = server.ping_interval + server.ping_timeout
    inline_wait = type(ws).wait is _LIBRARY_WAIT and callable(getattr(ws, "asgi_receive", None))
    writer_task = asyncio.ensure_future(_lean_writer(socket, ws, timeout, timers))
    server.logger.info("%s: Upgrade to websocket successful", socket.sid)
    bound = _Wait.start(timers, timeout)
    try:
        while True:
            bound.due = timers.now() + timeout
            bound.armed = True
            try:
                # `ws.wait()`, inlined for the library's ASGI wrapper: one coroutine frame fewer per idle socket.
                data = _message(await ws.asgi_receive()) if inline_wait else await ws.wait()
                if data and len(data) > server.max_http_buffer_size:
                    raise ValueError("packet is too large")
            except asyncio.CancelledError:
                bound.timed_out()
                break  # the library breaks on its timeout and on cancellation alike
            except BaseException:  # as the library (a bare except): a closed socket, an oversized packet
                break
            finally:
                bound.armed = False
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
        bound.finish()
    await socket.queue.put(None)  # unlock the writer task so it can exit
    await writer_task
    await socket.close(wait=False, abort=True, reason=server.reason.TRANSPORT_CLOSE)


async def _lean_writer(socket: Any, ws: Any, timeout: float, timers: Timers) -> None:
    """The library's `writer()` with `poll()` inlined, its `wait_for` replaced by a `_Wait`."""
    queue = socket.queue
    bound = _Wait.start(timers, timeout)
    try:
        while True:
            bound.due = timers.now() + timeout
            bound.armed = True
            try:
                first = await queue.get()
            except asyncio.CancelledError:
                bound.timed_out()
                break  # poll() raises QueueEmpty on its timeout and on cancellation: the writer stops
            finally:
                bound.armed = False
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
        bound.finish()
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
        getattr(handler, "__func__", None) is not _LIBRARY_HANDLER
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
            or getattr(target, "__func__", None) is not _LIBRARY_SEND_PING
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
