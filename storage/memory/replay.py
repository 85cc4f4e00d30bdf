"""In-process replay buffer: a bounded ring per space (single-process mode).

Events are kept encoded (orjson bytes): a ring of 2,000 stroke events as dicts and lists is some
25,000 objects the garbage collector walks on every full collection, which stops the event loop
(measured 28-72 ms per full collection during the steady whiteboard benchmark); bytes are not
tracked by the collector at all. Appends are the hot path and cost one `orjson.dumps`; replays are
rare and decode only what they return.
"""

from __future__ import annotations

import bisect
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import orjson


class MemoryReplayBuffer:
    """Implements `hub.ports.whiteboard.ReplayBuffer` with a deque per (space, epoch)."""

    def __init__(self, max_events: int, max_age: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._max_events = max_events
        self._max_age = max_age
        self._clock = clock
        # space_id -> (epoch, ring of (seq, appended_at, encoded event)) kept sorted by seq.
        self._rings: dict[str, tuple[str, deque[tuple[int, float, bytes]]]] = {}
        # Rings of spaces nobody draws in any more (idle, deleted, expired) would otherwise stay until
        # restart; every so often the rings whose newest event has aged out are dropped whole.
        self._sweep_every = max(1.0, max_age / 4)
        self._next_sweep = clock() + self._sweep_every

    async def append(self, space_id: str, epoch: str, events: Sequence[dict[str, Any]]) -> None:
        current = self._rings.get(space_id)
        if current is None or current[0] != epoch:
            current = (epoch, deque(maxlen=self._max_events))
            self._rings[space_id] = current
        ring = current[1]
        now = self._clock()
        for event in events:
            seq = int(event["seq"])
            if not ring or ring[-1][0] < seq:
                ring.append((seq, now, orjson.dumps(event)))
            else:
                # Commits finishing out of order (an erase racing a stroke batch): keep seq order.
                items = list(ring)
                pos = bisect.bisect_left([s for s, _, _ in items], seq)
                if pos < len(items) and items[pos][0] == seq:
                    continue
                items.insert(pos, (seq, now, orjson.dumps(event)))
                ring.clear()
                ring.extend(items[-self._max_events :])
        self._prune(ring, now)
        if now >= self._next_sweep:
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + self._sweep_every
        stale = [space for space, (_, ring) in self._rings.items() if not ring or now - ring[-1][1] > self._max_age]
        for space in stale:
            del self._rings[space]

    def __len__(self) -> int:
        """How many spaces have a ring (for tests and memory accounting)."""
        return len(self._rings)

    def _prune(self, ring: deque[tuple[int, float, bytes]], now: float) -> None:
        while ring and now - ring[0][1] > self._max_age:
            ring.popleft()

    async def since(self, space_id: str, epoch: str, seq: int) -> list[dict[str, Any]]:
        current = self._rings.get(space_id)
        if current is None or current[0] != epoch:
            return []
        ring = current[1]
        self._prune(ring, self._clock())
        return [orjson.loads(event) for s, _, event in ring if s > seq]

    async def close(self) -> None:
        self._rings.clear()
