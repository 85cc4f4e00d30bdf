"""The Socket.IO server mounted beside the REST app in one ASGI application.

A thin adapter: it authenticates the connection, turns every client event into one call on the
whiteboard service and turns the outcome into an ack (`{"ok": true, ...}` or
`{"ok": false, "error": {"code", "message"}}`). Protocol violations (undecodable packets, events that
are not `[name, payload]`) drop only the offending socket, quietly.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import socketio
from engineio import packet as eio_packet

from hub.config import Settings
from hub.errors import (
    BadPayload,
    HubError,
    InternalError,
    NotConnected,
    RateLimited,
    ServiceUnavailable,
    Starting,
    UnknownEvent,
)
from hub.events import ClientEvent, ServerEvent, user_room
from hub.runtime import Hub
from hub.security import origin_allowed, scope_client_address, security_headers
from hub.services.whiteboard import WhiteboardService
from realtime.engine import HubEngineServer
from realtime.fanout import LocalFanout
from realtime.fastpath import IndexedManager, JsonPacket, OrjsonCodec, Writers, install, text_frame

log = logging.getLogger(__name__)

Handler = Callable[[str, Any], Awaitable[dict[str, Any]]]


def handlers(wb: WhiteboardService) -> dict[str, Handler]:
    """Where each client event is handled: (connection id, payload) -> ack."""
    return {
        ClientEvent.JOIN: wb.join,
        ClientEvent.LEAVE: wb.leave,
        ClientEvent.STROKE: wb.stroke,
        ClientEvent.ERASE: wb.erase,
        ClientEvent.CLEAR: wb.clear,
        ClientEvent.UNDO: wb.undo,
        ClientEvent.TRANSFORM: wb.transform,
        ClientEvent.RESTORE: wb.restore,
        ClientEvent.CURSOR: wb.cursor,
        ClientEvent.AUTH: wb.reauthenticate,
    }


_KNOWN = frozenset(ClientEvent)


# The hub is built by the ASGI lifespan after this server exists: None until then and after shutdown.
HubGetter = Callable[[], Hub | None]


class HubSocketServer(socketio.AsyncServer):  # type: ignore[misc]  # untyped library
    """`AsyncServer` that treats a malformed packet as the sender's problem, not a server error.

    Its own packets (acks, connect replies) take the direct write path of `realtime.fastpath` when the
    socket allows it, in order with everything else sent to that socket.
    """

    writers: Writers | None = None

    def _engineio_server_class(self) -> type[HubEngineServer]:
        return HubEngineServer

    async def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> None:
        await super()._handle_eio_connect(eio_sid, environ)
        self.eio.expect_connect(eio_sid, self._connected)

    def _connected(self, eio_sid: str) -> bool:
        return self.manager.sid_from_eio_sid(eio_sid, "/") is not None

    async def disconnect(self, sid: str, namespace: str | None = None, ignore_queue: bool = False) -> None:
        eio_sid = self.manager.eio_sid_from_sid(sid, namespace or "/")
        await super().disconnect(sid, namespace=namespace, ignore_queue=ignore_queue)
        if eio_sid is not None and not self._connected(eio_sid):
            # The hub has one namespace: once it is disconnected the connection is over too, and a
            # client that ignores the DISCONNECT must not keep its WebSocket (or polling session).
            self.eio.close_after_delivery(eio_sid)

    async def _send_packet(self, eio_sid: str, pkt: Any) -> None:
        ws = self.writers.get(eio_sid) if self.writers is not None else None
        if ws is not None and ws.can_write_now():
            encoded = pkt.encode()
            if isinstance(encoded, str):
                ws.write_frame(text_frame(b"4" + encoded.encode()))  # "4": Engine.IO MESSAGE
                return
        await super()._send_packet(eio_sid, pkt)

    async def _send_eio_packet(self, eio_sid: str, eio_pkt: Any) -> None:
        # `emit(to=...)` and room emits arrive here with an already encoded Engine.IO packet.
        ws = self.writers.get(eio_sid) if self.writers is not None else None
        if ws is not None and eio_pkt.packet_type == eio_packet.MESSAGE and ws.can_write_now():
            encoded = eio_pkt.encode()
            if isinstance(encoded, str):
                ws.write_frame(text_frame(encoded.encode()))
                return
        await super()._send_eio_packet(eio_sid, eio_pkt)

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        try:
            await super()._handle_eio_message(eio_sid, data)
        except Exception as exc:  # a decode error of one client's packet
            log.info("dropping socket after a malformed packet", extra={"fields": {"error": type(exc).__name__}})
            self._binary_packet.pop(eio_sid, None)
            await self.eio.disconnect(eio_sid)

    async def _handle_event(self, eio_sid: str, namespace: str | None, id: int | None, data: Any) -> None:
        # python-socketio indexes data[0] unchecked; anything but [name, ...] is a protocol violation.
        if not isinstance(data, list) or not data or not isinstance(data[0], str) or len(data[0]) > 64:
            raise ValueError("malformed event packet")
        await super()._handle_event(eio_sid, namespace, id, data)


def _error(exc: HubError) -> dict[str, Any]:
    error: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if exc.details:
        error["details"] = exc.details
    return {"ok": False, "error": error}


def _refusal(exc: HubError) -> socketio.exceptions.ConnectionRefusedError:
    # Two arguments: python-socketio sends the first as the packet's `message` and the second as its
    # `data`, which Socket.IO clients expose as `connect_error`'s `error.data`. One argument would be
    # stringified into `message` and the code lost.
    data: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if exc.details:
        data["details"] = exc.details
    return socketio.exceptions.ConnectionRefusedError(exc.message, data)


class RealtimeAdapter:
    """Maps Socket.IO sessions to whiteboard connections, both ways."""

    def __init__(self, sio: socketio.AsyncServer, get_hub: HubGetter) -> None:
        self._sio = sio
        self._get_hub = get_hub
        self._conn_by_sid: dict[str, str] = {}
        self._sid_by_conn: dict[str, str] = {}
        self._eio_by_conn: dict[str, str] = {}
        self._bound: WhiteboardService | None = None
        self._handlers: dict[str, Handler] = {}

    def _running(self) -> Hub:
        hub = self._get_hub()
        if hub is None:
            raise Starting("The hub is starting.")
        return hub

    def _service(self) -> WhiteboardService:
        hub = self._running()
        service = hub.whiteboard
        if self._bound is not service:
            # The hub is built by the ASGI lifespan after this server exists; bind on first use.
            writers = getattr(self._sio, "writers", None)
            service.add_deliverer(
                LocalFanout(
                    self._sio,
                    self._eio_by_conn,
                    hub.metrics,
                    writers,
                    hub.settings.ws_max_backlog_bytes,
                )
            )
            service.add_disconnector(self._kick)
            hub.personal.add_deliverer(self._to_users)
            self._handlers = handlers(service)
            self._bound = service
        return service

    def _count(self, event: str, outcome: str) -> None:
        hub = self._get_hub()
        if hub is not None:
            hub.metrics.realtime_events.labels(event, outcome).inc()

    async def _limit_connects(self, environ: dict[str, Any]) -> None:
        """The per-IP connect limit, keyed by the address REST would see for this client."""
        hub = self._running()
        address = scope_client_address(hub.settings, environ.get("asgi.scope") or {})
        try:
            retry_after = await hub.rate_limiter.hit(hub.settings.connect_rate_limit, "connect", address)
        except Exception as exc:  # the limiter's store (Redis) is down: refuse as transient, not a bug
            log.warning("connect limiter unavailable", extra={"fields": {"error": type(exc).__name__}})
            raise ServiceUnavailable() from None
        if retry_after:
            raise RateLimited(retry_after, "Too many connection attempts; wait before reconnecting.")

    async def connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            service = self._service()
            await self._limit_connects(environ)
            conn = await service.connect(token)
        except HubError as exc:
            self._count("connect", exc.code)
            raise _refusal(exc) from None
        except Exception:
            log.exception("realtime connect failed")
            self._count("connect", InternalError.code)
            raise _refusal(InternalError()) from None
        if not conn.principal.is_guest:
            # The personal room (hub.services.personal); left with every other room on disconnect.
            await self._sio.enter_room(sid, user_room(conn.principal.user_id))
        eio_sid = self._sio.manager.eio_sid_from_sid(sid, "/")
        self._conn_by_sid[sid] = conn.conn_id
        self._sid_by_conn[conn.conn_id] = sid
        self._eio_by_conn[conn.conn_id] = eio_sid
        self._running().metrics.sockets_connected.inc()
        self._count("connect", "ok")
        return True

    async def disconnect(self, sid: str, reason: Any = None) -> None:
        conn_id = self._conn_by_sid.pop(sid, None)
        if conn_id is None:
            return
        self._sid_by_conn.pop(conn_id, None)
        self._eio_by_conn.pop(conn_id, None)
        hub = self._get_hub()
        if hub is not None:
            hub.metrics.sockets_connected.dec()
            await hub.whiteboard.disconnect(conn_id)

    async def _kick(self, conn_id: str, code: str, message: str) -> None:
        sid = self._sid_by_conn.get(conn_id)
        if sid is None:
            return
        # Tell the client why before closing, so it does not blindly reconnect with a dead token.
        await self._sio.emit(ServerEvent.KICKED, {"code": code, "message": message}, to=sid)
        await self._sio.disconnect(sid)

    async def _to_users(self, user_ids: list[str], event: str, payload: dict[str, Any]) -> None:
        # One emit for all of them: the packet is encoded once, and the rooms of users without a
        # socket here are skipped by the manager's lookup.
        await self._sio.emit(event, payload, room=[user_room(u) for u in user_ids])

    async def dispatch(self, event: str, sid: str, *args: Any) -> dict[str, Any]:
        name = event if event in _KNOWN else "unknown"
        conn_id = self._conn_by_sid.get(sid)
        try:
            if conn_id is None:
                raise NotConnected("The connection is not ready.")
            if name == "unknown":
                raise UnknownEvent("Unknown event.")
            if len(args) != 1:
                raise BadPayload("An event carries exactly one payload object.")
            self._service()  # binds `_handlers` to the hub's whiteboard on first use
            ack = await self._handlers[name](conn_id, args[0])
        except HubError as exc:
            self._count(name, exc.code)
            return _error(exc)
        except Exception:
            log.exception("realtime handler failed", extra={"fields": {"event": name}})
            self._count(name, InternalError.code)
            return _error(InternalError())
        self._count(name, "ok")
        return ack


def create_socketio(settings: Settings, get_hub: HubGetter) -> socketio.AsyncServer:
    sio = HubSocketServer(
        async_mode="asgi",
        cors_allowed_origins=lambda origin, environ=None: origin_allowed(settings, origin or ""),
        cors_credentials=False,
        max_http_buffer_size=settings.ws_max_message_bytes,
        ping_interval=settings.ws_ping_interval,
        ping_timeout=settings.ws_ping_timeout,
        # Engine.IO's default of 16 packets per long-poll payload stalls bursts.
        max_decode_packets=settings.ws_max_decode_packets,
        connect_timeout=settings.ws_connect_timeout,
        response_headers=security_headers(settings),
        transports=["websocket", "polling"],
        serializer=JsonPacket,
        json=OrjsonCodec,
        client_manager=IndexedManager(),
        logger=False,
        engineio_logger=False,
    )
    sio.writers = install(sio.eio)
    adapter = RealtimeAdapter(sio, get_hub)
    sio.on("connect", adapter.connect)
    sio.on("disconnect", adapter.disconnect)
    sio.on("*", adapter.dispatch)
    return sio
