"""Encode-once delivery to local sockets.

`AsyncServer.emit(room=...)` in python-socketio 5.x already encodes a room message once, but then
creates one asyncio task per recipient and awaits them all; on the stroke fan-out that task churn is
most of the cost. Here the Socket.IO packet, its Engine.IO text and its WebSocket frame are built
once per broadcast. A recipient whose socket can take a direct write (see `realtime.fastpath.direct`)
gets the frame appended to its write buffer (one `transport.write` per socket per event-loop
iteration); any other socket gets the very same pre-encoded Engine.IO packet on its queue (its writer
sends `pkt.encode()`, which returns the cached string). No task, no re-encoding, no per-recipient await.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from typing import Any

import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from hub.logs import log_event
from hub.metrics import Metrics
from realtime.fastpath import DirectWebSocket, Writers, text_frame

log = logging.getLogger(__name__)

# A socket this far behind is not shown cursor moves; strokes (not volatile) are always queued.
VOLATILE_BACKLOG = 64


class Encoded:
    """One broadcast, encoded once: Engine.IO packets for the queue path, frames for the direct path."""

    __slots__ = ("frames", "packets", "size")

    def __init__(self, packets: list[eio_packet.Packet]) -> None:
        self.packets = packets
        texts = [p.encode() for p in packets]  # also fills each packet's encode cache
        self.size = sum(len(t) for t in texts)
        # Binary attachments never take the direct path (the fan-out only sends JSON).
        self.frames = [text_frame(t.encode()) for t in texts] if all(isinstance(t, str) for t in texts) else None


class LocalFanout:
    """Implements `hub.ports.whiteboard.Deliver` on one Socket.IO server."""

    def __init__(
        self,
        sio: socketio.AsyncServer,
        eio_sids: dict[str, str],
        metrics: Metrics | None,
        writers: Writers | None = None,
        max_backlog_bytes: int = 4 * 1024 * 1024,
    ) -> None:
        self._sio = sio
        self._eio_sids = eio_sids  # hub connection id -> Engine.IO session id
        self._metrics = metrics
        self._writers = writers
        self._max_backlog = max_backlog_bytes
        self._dropping: set[str] = set()
        self._closing: set[asyncio.Future[None]] = set()

    def encode(self, event: str, payload: dict[str, Any]) -> Encoded:
        pkt = self._sio.packet_class(sio_packet.EVENT, namespace="/", data=[event, payload])
        encoded = pkt.encode()
        parts = encoded if isinstance(encoded, list) else [encoded]
        return Encoded([eio_packet.Packet(eio_packet.MESSAGE, part) for part in parts])

    async def __call__(self, conn_ids: Collection[str], event: str, payload: dict[str, Any], volatile: bool) -> None:
        self.deliver(conn_ids, self.encode(event, payload), volatile)

    def deliver(self, conn_ids: Collection[str], encoded: Encoded, volatile: bool) -> int:
        """Synchronous: everything is buffered or queued before this returns (callers rely on the order)."""
        sockets = self._sio.eio.sockets
        writers = self._writers
        frames = encoded.frames
        delivered = 0
        for conn_id in conn_ids:
            eio_sid = self._eio_sids.get(conn_id, "")
            socket = sockets.get(eio_sid)
            if socket is None or socket.closed:
                continue
            ws = writers.get(eio_sid) if writers is not None and frames is not None else None
            direct = ws if ws is not None and ws.can_write_now() else None
            # The backlog is only worth measuring for a socket that is not keeping up: one with packets
            # queued (not direct) or whose transport is over its high-water mark (paused).
            if (direct is None or direct.paused()) and self._behind(socket, ws, encoded.size):
                self._drop(eio_sid, socket, ws)
                continue
            if direct is not None:
                for frame in frames:  # type: ignore[union-attr]  # frames is set when ws is
                    direct.write_frame(frame)
            else:
                if volatile and (socket.queue.qsize() > VOLATILE_BACKLOG or (ws is not None and ws.paused())):
                    continue  # a slow reader: cursor moves are not worth a growing backlog
                for p in encoded.packets:
                    socket.queue.put_nowait(p)
            delivered += 1
        if self._metrics is not None and delivered:
            self._metrics.deliveries.inc(delivered)
        return delivered

    def _behind(self, socket: Any, ws: DirectWebSocket | None, size: int) -> bool:
        """More unsent data than `max_backlog_bytes`: in the transport's buffer or the Engine.IO queue
        (whose packets are counted at this message's size)."""
        backlog: int = socket.queue.qsize() * size + (ws.buffered() if ws is not None else 0)
        return backlog + size > self._max_backlog

    def _drop(self, eio_sid: str, socket: Any, ws: DirectWebSocket | None) -> None:
        """A reader this far behind would hold memory for ever: disconnect it. Its client reconnects
        and resumes with `since` (or reloads the board), so it loses nothing acknowledged."""
        if eio_sid in self._dropping:
            return
        self._dropping.add(eio_sid)
        log_event(
            "slow_consumer_dropped",
            sid=eio_sid,
            queued=socket.queue.qsize(),
            buffered=ws.buffered() if ws is not None else 0,
        )
        if self._metrics is not None:
            self._metrics.slow_consumers_dropped.inc()
        if ws is not None:
            ws.abort()  # frees the transport's buffer now, not after a close handshake that cannot drain

        async def close() -> None:
            try:
                await socket.close(wait=False, abort=True)
            except Exception:  # already closing: nothing left to free
                log.debug("slow consumer close", exc_info=True)
            finally:
                self._dropping.discard(eio_sid)

        task = asyncio.ensure_future(close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
