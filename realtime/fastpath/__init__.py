"""The realtime fast path: the one place that reaches into library internals, for speed and memory.

python-engineio, python-socketio and uvicorn are used through their public API everywhere else; here
their internals are replaced where measurement showed the cost (`docs/performance.md`):

- `direct`: fan-out frames built once and written straight to uvicorn's transport, coalesced per
  event-loop iteration, past the Engine.IO queue and writer task;
- `handler`: a WebSocket's Engine.IO reader and writer in two tasks instead of five, and every
  socket's PING on one shared timer (`Pinger`);
- `timers`: many per-socket timeouts on one event-loop timer, and `Deadline`, the bound of one
  task's repeated waits;
- `primitives`: `LeanQueue` and `LeanEvent`, what `asyncio.Queue` and `asyncio.Event` do here
  without their idle deques;
- `uvicorn_protocol`: uvicorn's sans-io WebSocket protocol with lean per-connection state
  (`UVICORN_WS`, passed to uvicorn by `hub serve` and the test server);
- `environ`: the ASGI request as python-engineio's environ without a class per request;
- `codec`: orjson for Socket.IO packets, and packets that never scan for binary attachments;
- `manager`: python-socketio's client manager with an index from each socket to its rooms, so a
  disconnect does not walk every room (N² at a restart with N sockets).

Each patch is guarded: it applies only where the library's class, function or code object is the
one it was written against (matched by identity), and otherwise the library's path is kept, so a
library change costs speed, not correctness. `install` logs one warning at start-up naming every
part that stands down (`inactive_parts`). The libraries are capped below their next minor release
in `pyproject.toml`; a new one is adopted after `tests/test_realtime_direct.py`,
`tests/test_realtime_lean.py` and `bench/` pass with it.
"""

from __future__ import annotations

from typing import Any

from realtime.fastpath import handler, uvicorn_protocol
from realtime.fastpath.codec import JsonPacket, OrjsonCodec
from realtime.fastpath.direct import DirectWebSocket, Writers, text_frame
from realtime.fastpath.environ import translate_request
from realtime.fastpath.guards import warn_inactive
from realtime.fastpath.handler import CLIENT_PACKET_TYPES, Pinger
from realtime.fastpath.manager import IndexedManager
from realtime.fastpath.primitives import LeanEvent, LeanQueue
from realtime.fastpath.timers import Deadline, Timers
from realtime.fastpath.uvicorn_protocol import UVICORN_WS

__all__ = [
    "CLIENT_PACKET_TYPES",
    "UVICORN_WS",
    "Deadline",
    "DirectWebSocket",
    "IndexedManager",
    "JsonPacket",
    "LeanEvent",
    "LeanQueue",
    "OrjsonCodec",
    "Timers",
    "Writers",
    "inactive_parts",
    "install",
    "text_frame",
]


def _driver_patchable(eio_server: Any) -> bool:
    driver = getattr(eio_server, "_async", None)
    return isinstance(driver, dict) and "websocket" in driver and "translate_request" in driver


def inactive_parts(eio_server: Any) -> list[str]:
    """The parts of the fast path that would take the library's path on `eio_server`, and why."""
    parts = []
    if uvicorn_protocol.WebSocketsSansIOProtocol is None:
        parts.append("lean uvicorn protocol and direct writes: uvicorn has no websockets-sansio protocol")
    if uvicorn_protocol.PARSE_CODES is None:
        parts.append("handshake release: websockets' parser functions are not where they were")
    if handler.LIBRARY_HANDLER is None:
        parts.append("lean WebSocket handler: python-engineio has no AsyncSocket._websocket_handler")
    if handler.LIBRARY_SEND_PING is None:
        parts.append("shared ping timer: python-engineio has no AsyncSocket._send_ping")
    if not _driver_patchable(eio_server):
        parts.append("direct writes and request translation: python-engineio's driver table has another shape")
    if not callable(getattr(eio_server, "create_queue", None)):
        parts.append("lean queues: python-engineio's server has no create_queue")
    if not callable(getattr(eio_server, "start_background_task", None)):
        parts.append("shared ping timer: python-engineio's server has no start_background_task")
    return parts


def install(eio_server: Any) -> Writers:
    """Make `eio_server` (an `engineio.AsyncServer` in asgi mode) build `DirectWebSocket`s and lean queues.

    Logs one warning if any part of the fast path is not active (`inactive_parts`).
    """
    writers = Writers()
    timers = Timers()
    warn_inactive(inactive_parts(eio_server))
    if _driver_patchable(eio_server):
        driver = dict(eio_server._async)  # a copy: the module-level driver table is shared by all servers

        def factory(socket_handler: Any, server: Any) -> DirectWebSocket:
            return DirectWebSocket(socket_handler, server, writers, timers)

        driver["websocket"] = factory
        driver["translate_request"] = translate_request
        eio_server._async = driver
    if callable(getattr(eio_server, "create_queue", None)):
        eio_server.create_queue = LeanQueue  # instance attribute: only this server
    # `realtime.engine.HubEngineServer` closes sockets and keeps connect deadlines with them.
    eio_server.writers, eio_server.timers = writers, timers
    if callable(getattr(eio_server, "start_background_task", None)):
        eio_server.start_background_task = Pinger(eio_server.start_background_task, timers).start_background_task
    return writers
