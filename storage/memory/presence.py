"""In-process presence leases (single-process mode)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from hub.ports.whiteboard import PresenceEntry


class MemoryPresence:
    """Implements `hub.ports.whiteboard.Presence` with a dict of leases per space."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._spaces: dict[str, dict[str, tuple[float, PresenceEntry]]] = {}

    async def put(self, space_id: str, entry: PresenceEntry, ttl: float) -> None:
        self._spaces.setdefault(space_id, {})[entry.conn_id] = (self._clock() + ttl, entry)

    async def put_many(self, space_id: str, entries: Sequence[PresenceEntry], ttl: float) -> None:
        if entries:
            leases, deadline = self._spaces.setdefault(space_id, {}), self._clock() + ttl
            for entry in entries:
                leases[entry.conn_id] = (deadline, entry)

    async def remove(self, space_id: str, conn_id: str) -> PresenceEntry | None:
        leases = self._spaces.get(space_id, {})
        held = leases.pop(conn_id, None)
        if not leases:
            self._spaces.pop(space_id, None)
        # Whoever takes the lease out announces the leave, expired or not: never zero or two callers.
        return None if held is None else held[1]

    async def entries(self, space_id: str) -> list[PresenceEntry]:
        now = self._clock()
        return [entry for deadline, entry in self._spaces.get(space_id, {}).values() if deadline > now]

    async def expire(self, space_id: str) -> list[PresenceEntry]:
        leases = self._spaces.get(space_id, {})
        now = self._clock()
        gone = [conn for conn, (deadline, _) in leases.items() if deadline <= now]
        expired = [leases.pop(conn)[1] for conn in gone]
        if not leases:
            self._spaces.pop(space_id, None)
        return expired

    async def close(self) -> None:
        self._spaces.clear()
