"""Encode-once delivery to local sockets.

`AsyncServer.emit(room=...)` in python-socketio 5.x already encodes a room message once, but then
creates one asyncio task per recipient and awaits them all; on the stroke fan-out that task churn is
most of the cost. Here the Socket.IO packet and its Engine.IO wrapper are built once, the Engine.IO
packet's encode cache is filled once, and the very same packet object is queued on every recipient's
Engine.IO socket (its writer sends `pkt.encode()`, which returns the cached string). No task, no
re-encoding, no per-recipient await.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from hub.metrics import Metrics

log = logging.getLogger(__name__)

# A socket this far behind is not shown cursor moves; strokes (not volatile) are always queued.
VOLATILE_BACKLOG = 64


class LocalFanout:
    """Implements `hub.ports.whiteboard.Deliver` on one Socket.IO server."""

    def __init__(self, sio: socketio.AsyncServer, eio_sids: dict[str, str], metrics: Metrics | None) -> None:
        self._sio = sio
        self._eio_sids = eio_sids  # hub connection id -> Engine.IO session id
        self._metrics = metrics

    def encode(self, event: str, payload: dict[str, Any]) -> list[eio_packet.Packet]:
        pkt = self._sio.packet_class(sio_packet.EVENT, namespace="/", data=[event, payload])
        encoded = pkt.encode()
        parts = encoded if isinstance(encoded, list) else [encoded]
        packets = [eio_packet.Packet(eio_packet.MESSAGE, part) for part in parts]
        for p in packets:
            p.encode()  # fills the packet's encode cache once for every recipient
        return packets

    async def __call__(
        self, conn_ids: Collection[str], event: str, payload: dict[str, Any], volatile: bool
    ) -> None:
        packets = self.encode(event, payload)
        sockets = self._sio.eio.sockets
        delivered = 0
        for conn_id in conn_ids:
            socket = sockets.get(self._eio_sids.get(conn_id, ""))
            if socket is None or socket.closed:
                continue
            if volatile and socket.queue.qsize() > VOLATILE_BACKLOG:
                continue
            for p in packets:
                socket.queue.put_nowait(p)
            delivered += 1
        if self._metrics is not None and delivered:
            self._metrics.deliveries.inc(delivered)
