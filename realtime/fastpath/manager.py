"""python-socketio's client manager with an index from each socket to its rooms.

The library finds the rooms of a socket that disconnects by walking every room of the namespace, and
every socket has a room of its own: with N sockets, one disconnect tests N rooms, and N disconnects
(a restart, a deploy) test N² of them. At 10,000 sockets that walk was 78 % of the hub's CPU during
shutdown and made it take 18 s (`python -m bench.run --only crowd`). Here each socket's rooms are
kept beside the library's tables, so a disconnect touches only its own.

Guarded as the rest of the fast path: the index is used only while the library keeps its room tables
where this class expects them (`rooms`, `callbacks`, `pending_connect`, `pending_disconnect`, and the
`basic_*` methods it extends); otherwise `IndexedManager` behaves exactly as `socketio.AsyncManager`,
and says so once.
"""

from __future__ import annotations

from typing import Any

import socketio

from realtime.fastpath.guards import warn_inactive

_METHODS = ("basic_disconnect", "basic_enter_room", "basic_leave_room", "get_rooms")
_TABLES = ("rooms", "callbacks", "pending_connect", "pending_disconnect")


def _matches(manager: Any) -> bool:
    return all(callable(getattr(socketio.AsyncManager, m, None)) for m in _METHODS) and all(
        isinstance(getattr(manager, t, None), dict) for t in _TABLES
    )


class IndexedManager(socketio.AsyncManager):  # type: ignore[misc]  # untyped library
    """`AsyncManager` whose disconnect and `get_rooms` cost the socket's own rooms, not all of them."""

    def __init__(self) -> None:
        super().__init__()
        self.indexed = _matches(self)
        if not self.indexed:
            warn_inactive(["room index: python-socketio's manager keeps its rooms in another shape"])
        # (namespace, sid) -> the rooms it is in, None (the namespace's room of all) included.
        self._rooms_of: dict[tuple[str, str], set[Any]] = {}

    def basic_enter_room(self, sid: str, namespace: str, room: Any, eio_sid: str | None = None) -> None:
        super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)
        if self.indexed:
            self._rooms_of.setdefault((namespace, sid), set()).add(room)

    def basic_leave_room(self, sid: str, namespace: str, room: Any) -> None:
        super().basic_leave_room(sid, namespace, room)
        if self.indexed:
            rooms = self._rooms_of.get((namespace, sid))
            if rooms is not None:
                rooms.discard(room)
                if not rooms:
                    del self._rooms_of[(namespace, sid)]

    def basic_disconnect(self, sid: str, namespace: str, **kwargs: Any) -> None:
        if not self.indexed:
            super().basic_disconnect(sid, namespace, **kwargs)
            return
        if namespace not in self.rooms:
            return
        # As the library, with the socket's rooms from the index instead of a walk over every room.
        for room in list(self._rooms_of.get((namespace, sid), ())):
            self.basic_leave_room(sid, namespace, room)
        self._rooms_of.pop((namespace, sid), None)
        if sid in self.callbacks:
            del self.callbacks[sid]
        for pending in (self.pending_connect, self.pending_disconnect):
            if namespace in pending and sid in pending[namespace]:
                pending[namespace].remove(sid)
                if not pending[namespace]:
                    del pending[namespace]

    def get_rooms(self, sid: str, namespace: str) -> list[Any]:
        if not self.indexed:
            return list(super().get_rooms(sid, namespace))
        return [room for room in self._rooms_of.get((namespace, sid), ()) if room is not None]
