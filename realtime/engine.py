"""The Engine.IO server, hardened against clients that never become Socket.IO clients.

python-engineio is written for cooperative clients. Before any login, a hostile one could:
- hang a request forever and leak its body: a long-polling POST over the size limit makes the library
  close the session with `close(wait=True)`, which waits on `queue.join()` for a GET that never comes
  (`python -m bench.abuse`: 1,000 such POSTs, none answered, left the hub 84 MB larger; now all
  get 413 at once and the hub's RSS stays within about 1 MB);
- fill the log: the library logs a client's bad session id, transport or method at ERROR or WARNING
  level, and a long-polling POST it cannot decode with a traceback;
- keep a session open without ever sending a Socket.IO CONNECT, or after being disconnected: a
  Socket.IO DISCONNECT leaves the Engine.IO connection open until the client closes it.

`HubEngineServer` answers all of these at once and quietly. Long-polling POSTs are handled here,
not by the library: the body is read up to the limit, decoded strictly, and anything wrong ends that
session only (413 or 400). Every other request still goes through the library's router; its errors
become the hub's JSON errors (`{"error": {"code", "message", "details", "request_id"}}`) and every
HTTP response carries the hub's security headers. Closing a session never waits for the client:
packets already queued go out with the writer or the next poll, then the socket is dropped.
Invalid WebSocket frames are refused in `realtime.fastpath.handler` (lean handler) and
`realtime.fastpath.direct` (the library's handler, after an upgrade from long-polling).

This module is part of the adapter, not of `realtime.fastpath`, although it overrides private methods
of the library's server: it exists for what clients see (which requests are refused, with which code
and headers, and when a session ends), not for speed, and that must hold whether or not the fast path
is active. It only uses the fast path where it is there: the direct writers to abort a socket whose
peer stopped reading, the shared timers for connect deadlines (none without them), and the lean queue
to answer waiting polls of a closed session at once (with the library's queue they wait out their
timeout).
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from collections.abc import Callable
from typing import Any

import engineio
import orjson
from engineio import exceptions as eio_exceptions
from engineio import packet as eio_packet
from engineio import payload as eio_payload

from hub.errors import (
    BadPayload,
    BadRequest,
    BadTransport,
    HubError,
    MethodNotAllowed,
    OriginNotAllowed,
    PayloadTooLarge,
    SessionNotFound,
    UnsupportedProtocol,
)
from hub.logs import new_request_id
from realtime.fastpath import CLIENT_PACKET_TYPES, LeanQueue, Timers, Writers

log = logging.getLogger(__name__)

_STATUS_LINES = {
    400: "400 BAD REQUEST",
    403: "403 FORBIDDEN",
    405: "405 METHOD NOT ALLOWED",
    413: "413 PAYLOAD TOO LARGE",
}

# The library's `_bad_request` messages, by prefix, as the hub's error codes. A session that exists
# but cannot take this request answers exactly like one that does not exist.
_LIBRARY_ERRORS: tuple[tuple[str, Callable[[], HubError]], ...] = (
    ("Invalid session", SessionNotFound),
    ("Not connected", SessionNotFound),
    ("Unexpected HTTP request", SessionNotFound),
    ("The client is using an unsupported version", UnsupportedProtocol),
    ("Invalid transport", BadTransport),
    ("Invalid websocket upgrade", lambda: BadTransport("A WebSocket transport needs a WebSocket upgrade.")),
)


def error_response(err: HubError) -> dict[str, Any]:
    """A response dict as python-engineio's router builds them, with the hub's JSON error body."""
    request_id = new_request_id()
    body = {"error": {**err.to_dict(), "request_id": request_id}}
    return {
        "status": _STATUS_LINES.get(err.status, f"{err.status} ERROR"),
        "headers": [("Content-Type", "application/json")],
        "response": orjson.dumps(body),
        "request_id": request_id,  # read by `_make_response`; the library ignores unknown keys
        "code": err.code,
    }


class HubEngineServer(engineio.AsyncServer):  # type: ignore[misc]  # untyped library
    """`engineio.AsyncServer` that never waits for, echoes or loudly logs a misbehaving client."""

    # Set by `realtime.fastpath.install`: the direct-write sockets and the shared per-socket timers.
    writers: Writers | None = None
    timers: Timers | None = None
    # After the server ends a long-polling session (a kick), its client has this long to collect the
    # queued packets (the Socket.IO DISCONNECT saying why) with its next GET. A live client has a GET
    # open or sends the next one as soon as the previous one returns.
    drain_seconds = 2.0

    def __init__(
        self,
        *args: Any,
        connect_timeout: float = 5.0,
        response_headers: dict[str, str] | None = None,
        max_decode_packets: int = 16,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.connect_timeout = connect_timeout
        self.response_headers = list((response_headers or {}).items())
        self.max_decode_packets = max_decode_packets
        self._closing: set[asyncio.Task[None]] = set()

    # -- HTTP -------------------------------------------------------------------------------------

    async def handle_request(self, *args: Any, **kwargs: Any) -> Any:
        environ = await self._async["translate_request"](*args, **kwargs)
        if not environ:
            return None  # the client left before its request arrived: nobody to answer
        method = environ.get("REQUEST_METHOD")
        if method not in ("GET", "POST", "OPTIONS"):
            # The library answers 405 too, but logs a warning for every such request.
            return await self._make_response(
                error_response(MethodNotAllowed()),
                environ,
            )
        scope = environ.get("asgi.scope")
        if (
            isinstance(scope, dict)
            and scope.get("type") == "http"
            and "transport=websocket" in environ.get("QUERY_STRING", "")
        ):
            # `Upgrade: websocket` with `Connection: close` reaches us as plain HTTP; the library would
            # try to accept a WebSocket on it and the server would answer 500.
            return await self._make_response(
                error_response(BadTransport("A WebSocket transport needs a WebSocket upgrade.")),
                environ,
            )
        if method == "POST":
            answer = await self._handle_post(environ)
            if answer is not None:
                return await self._make_response(answer, environ)
        # `translate_request` passes an environ it built itself through (`realtime.fastpath.environ`).
        return await super().handle_request(environ)

    async def _handle_post(self, environ: dict[str, Any]) -> dict[str, Any] | None:
        """A long-polling POST to an open session, or None for the library to route (and refuse)."""
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        sid = query.get("sid", [""])[0]
        socket = self.sockets.get(sid)
        if socket is None or not socket.connected or socket.upgraded or socket.closed or "j" in query:
            return None  # a missing, unready or upgraded session, or JSONP: the library's errors
        if query.get("transport", ["polling"])[0] != "polling" or not self._origin_allowed(environ):
            return None
        limit = self.max_http_buffer_size
        length = environ.get("CONTENT_LENGTH")
        if length is not None and not (length.isascii() and length.isdigit()):  # "³".isdigit() is true
            await self._drop(socket, self.reason.TRANSPORT_ERROR)
            return error_response(BadRequest("Content-Length is not a number."))
        too_large = error_response(
            PayloadTooLarge("The payload is over the message limit.", details={"limit_bytes": limit})
        )
        if length is not None and int(length) > limit:
            # Refused before reading a byte of it; the session cannot continue without its packets.
            await self._drop(socket, self.reason.TRANSPORT_ERROR)
            return too_large
        body = await environ["wsgi.input"].read(int(length) if length is not None else limit + 1)
        if len(body) > limit:
            await self._drop(socket, self.reason.TRANSPORT_ERROR)
            return too_large
        packets = self._decode(body)
        if packets is None:
            log.debug("dropping a long-polling session after an undecodable payload")
            await self._drop(socket, self.reason.TRANSPORT_ERROR)
            return error_response(BadPayload("The payload is not a valid Engine.IO payload."))
        try:
            for pkt in packets:
                if pkt.packet_type != eio_packet.NOOP:
                    await socket.receive(pkt)
        except eio_exceptions.EngineIOError:
            await self._drop(socket, self.reason.TRANSPORT_ERROR)
            return error_response(BadPayload("The payload is not a valid Engine.IO payload."))
        if socket.closed:  # it sent CLOSE
            self._release_polls(socket)
            if self.sockets.get(sid) is socket:
                del self.sockets[sid]
        return self._ok()  # type: ignore[no-any-return]

    def _decode(self, body: bytes) -> list[Any] | None:
        """The packets of a long-polling payload, or None if any part of it is invalid."""
        try:
            payload = eio_payload.Payload()
            payload.max_decode_packets = self.max_decode_packets
            payload.decode(body.decode("utf-8"))
        except Exception:  # whatever fails in decoding the client's bytes is the client's problem
            return None
        packets: list[Any] = payload.packets
        if not packets or any(p.packet_type not in CLIENT_PACKET_TYPES for p in packets):
            return None
        return packets

    def _origin_allowed(self, environ: dict[str, Any]) -> bool:
        """The library's Origin check, which its router runs before anything else."""
        origin = environ.get("HTTP_ORIGIN")
        if self.cors_allowed_origins == [] or not origin:
            return True
        allowed = self._cors_allowed_origins(environ)
        return allowed is None or origin in allowed

    def _bad_request(self, message: str | None = None) -> dict[str, Any]:
        for prefix, error in _LIBRARY_ERRORS:
            if message and message.startswith(prefix):
                return error_response(error())
        if message and message.endswith("is not an accepted origin."):
            return error_response(OriginNotAllowed())
        return error_response(BadRequest())

    def _method_not_found(self) -> dict[str, Any]:
        return error_response(MethodNotAllowed())

    async def _make_response(self, response_dict: dict[str, Any], environ: dict[str, Any]) -> Any:
        scope = environ.get("asgi.scope")
        if isinstance(scope, dict) and scope.get("type") == "websocket":
            if not response_dict["status"].startswith("200 "):
                # A refused WebSocket handshake: the close reason is the error code (a WebSocket
                # close reason holds at most 123 bytes; the JSON body would not fit).
                response_dict = {**response_dict, "response": str(response_dict.get("code", BadRequest.code)).encode()}
            return await super()._make_response(response_dict, environ)
        request_id = response_dict.get("request_id") or new_request_id()
        headers = [*response_dict["headers"], *self.response_headers, ("X-Request-ID", request_id)]
        return await super()._make_response({**response_dict, "headers": headers}, environ)

    def _log_error_once(self, message: str, message_key: str) -> None:
        # Every one of these is a client's mistake (bad sid, transport, version, origin), not the server's.
        log.debug("engine.io request refused", extra={"fields": {"reason": message_key, "detail": message[:120]}})

    # -- closing sessions -------------------------------------------------------------------------

    async def disconnect(self, sid: str | None = None) -> None:
        """Close session `sid` now (or all of them), without waiting for its client."""
        if sid is None:
            for socket in list(self.sockets.values()):
                await self._drop(socket, self.reason.SERVER_DISCONNECT)
            return
        socket = self.sockets.get(sid)
        if socket is not None:
            await self._drop(socket, self.reason.SERVER_DISCONNECT)

    async def _drop(self, socket: Any, reason: str) -> None:
        """Close `socket`, give what it has queued to whoever can still send it, and forget it.

        The library's `close(wait=True)` waits for a long-polling client to collect its CLOSE, which a
        client that is not polling never does. Here: a GET that is waiting gets the CLOSE; a WebSocket's
        writer sends everything queued, the CLOSE included, and then closes the WebSocket itself (a
        client that ignores CLOSE does not keep it open); one whose peer stopped reading is aborted.
        """
        await socket.close(wait=False, reason=reason)
        self._release_polls(socket)
        if socket.upgraded or socket.upgrading:
            ws = self.writers.get(socket.sid) if self.writers is not None else None
            if ws is not None and ws.paused():
                ws.abort()
            socket.queue.put_nowait(None)  # the writer's end-of-stream: it sends the rest, then closes
        if self.sockets.get(socket.sid) is socket:
            del self.sockets[socket.sid]

    @staticmethod
    def _release_polls(socket: Any) -> None:
        """Answer every GET still waiting on a closed long-polling session (with an empty payload).

        Otherwise each would wait out the poll timeout (ping interval + ping timeout), and hold up a
        shutdown; the first of them has already been given the CLOSE, if one was sent.
        """
        queue = socket.queue
        if socket.upgraded or socket.upgrading or not isinstance(queue, LeanQueue):
            return
        while queue.waiting():
            queue.put_nowait(None)  # `poll()` returns no packets for it

    def close_after_delivery(self, sid: str, reason: str | None = None) -> None:
        """End session `sid` in the background once its queued packets are sent (bounded for polling)."""
        socket = self.sockets.get(sid)
        if socket is None or socket.closing or socket.closed:
            return
        task = asyncio.ensure_future(self._close_after_delivery(socket, reason or self.reason.SERVER_DISCONNECT))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close_after_delivery(self, socket: Any, reason: str) -> None:
        if not (socket.upgraded or socket.upgrading):
            # Long-polling: a closed session refuses the next GET, so let that GET collect what is queued.
            try:
                async with asyncio.timeout(self.drain_seconds):
                    await socket.queue.join()
            except TimeoutError:
                pass
        if not (socket.closing or socket.closed):
            await self._drop(socket, reason)
        elif self.sockets.get(socket.sid) is socket and socket.closed:
            del self.sockets[socket.sid]

    def expect_connect(self, sid: str, connected: Callable[[str], bool]) -> None:
        """Close session `sid` unless `connected(sid)` within `connect_timeout` (a Socket.IO CONNECT)."""
        timers = self.timers
        if timers is None or not timers.usable():
            return
        timers.push(timers.now() + self.connect_timeout, self._connect_due, (sid, connected))

    def _connect_due(self, entry: tuple[str, Callable[[str], bool]], now: float) -> None:
        sid, connected = entry
        if sid in self.sockets and not connected(sid):
            log.debug("closing a realtime connection that never connected", extra={"fields": {"sid": sid}})
            self.close_after_delivery(sid, self.reason.SERVER_DISCONNECT)
