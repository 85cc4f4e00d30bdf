"""Ports of the realtime whiteboard: stroke storage, the replay buffer and presence.

Positions follow Centrifuge's StreamPosition: every board event gets the next `seq` of its space and
the board carries an `epoch` that changes when history is lost, so a client can always tell "I missed
nothing" from "reload the snapshot".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

# (local connection ids, event name, payload, volatile) -> the adapter sends it to those sockets.
# Volatile messages (cursors) may be dropped for a socket that is behind.
Deliver = Callable[[Collection[str], str, dict[str, Any], bool], Awaitable[None]]
# (connection id, error code, message) -> the adapter closes that socket.
Disconnect = Callable[[str, str, str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class BoardPosition:
    """Where a board's history stands: the last seq handed out and the history's epoch."""

    seq: int
    epoch: str


# Element kinds that carry text; their width is a font size, which scales with the element.
TEXT_TOOLS = frozenset({"text", "note"})


@dataclass(frozen=True, slots=True)
class Stroke:
    """A validated board element as drawn by a client (its `id` is the client's UUID): a stroke, a
    shape, a text label or a sticky note (`text` only for the last two)."""

    id: str
    tool: str
    color: str
    width: float
    points: list[list[float]]
    text: str | None = None

    def placed(self, p: Placement) -> Stroke:
        """The element where placement `p` puts it (text and notes grow with their height)."""
        if p == IDENTITY:
            return self
        points = [[p.sx * q[0] + p.tx, p.sy * q[1] + p.ty, *q[2:]] for q in self.points]
        width = self.width * p.sy if self.tool in TEXT_TOOLS else self.width
        return Stroke(self.id, self.tool, self.color, width, points, self.text)


@dataclass(frozen=True, slots=True)
class Placement:
    """Where an element's drawn points are now, per axis: x' = sx * x + tx, y' = sy * y + ty."""

    sx: float = 1.0
    sy: float = 1.0
    tx: float = 0.0
    ty: float = 0.0

    def then(self, m: Move) -> Placement:
        """This placement followed by the move `m`."""
        return Placement(
            m.sx * self.sx,
            m.sy * self.sy,
            m.ox + m.sx * (self.tx - m.ox) + m.dx,
            m.oy + m.sy * (self.ty - m.oy) + m.dy,
        )


IDENTITY = Placement()


@dataclass(frozen=True, slots=True)
class Move:
    """A validated `transform`: every point p of the elements `ids` goes to o + s * (p - o) + d."""

    change_id: str  # the client's UUID: a retry changes nothing twice
    ids: list[str]
    dx: float
    dy: float
    sx: float = 1.0
    sy: float = 1.0
    ox: float = 0.0
    oy: float = 0.0


@dataclass(frozen=True, slots=True)
class Transformed:
    """A committed `transform`: the elements of `move.ids` that were live, moved under `seq`."""

    seq: int
    move: Move
    ids: list[str]
    author_id: str | None
    duplicate: bool = False  # a retry of a change already committed: nothing was moved now


@dataclass(frozen=True, slots=True)
class Restored:
    """A committed `restore`: the elements made as they were right after change `at`, under `seq`.

    `ids` is every element it changed (in drawing order); of those, `removed` were taken off and
    `strokes` were brought back or put back where they were (placed as they are now). A duplicate
    (a retry) carries only `ids`.
    """

    seq: int
    change_id: str
    at: int
    ids: list[str]
    removed: list[str]
    strokes: list[StoredStroke]
    author_id: str | None
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class PendingStroke:
    space_id: str
    author_id: str
    stroke: Stroke


@dataclass(frozen=True, slots=True)
class CommitResult:
    """Outcome of one stroke in a group commit: committed now, already committed, or no board."""

    seq: int | None
    duplicate: bool = False
    missing: bool = False
    foreign: bool = False  # the id exists but belongs to another author
    removed: bool = False  # a duplicate of a stroke that was erased (or cleared, undone) since
    # A duplicate whose seq is still the board's last: if its first fan-out was lost, no later event
    # shows anyone the gap, so it is fanned out again (other lost fan-outs show as gaps, see `join`).
    latest: bool = False


@dataclass(frozen=True, slots=True)
class StoredStroke:
    stroke: Stroke
    seq: int
    author_id: str | None


@dataclass(frozen=True, slots=True)
class BoardChange:
    """One entry of a board's history: a stroke drawn (`kind` "stroke"), or an erase, clear or undo
    that took `strokes` elements off, or a transform or restore that changed them, under one `seq`;
    `at` is None for removals older than that record."""

    seq: int
    kind: str
    author_id: str | None
    strokes: int
    at: datetime | None


@dataclass(frozen=True, slots=True)
class Removal:
    """Strokes taken off the board by one erase, clear or undo, committed under `seq`.

    `ids` are in the order the strokes were drawn; `reason` is "erase", "clear" or "undo"; `author_id`
    is who removed them (None for removals older than that record, or a deleted account).
    """

    seq: int
    ids: list[str]
    reason: str = "erase"
    author_id: str | None = None


@dataclass(frozen=True, slots=True)
class BoardHistory:
    """Every change of a board after some seq, in seq order, as of `position` (one snapshot)."""

    position: BoardPosition
    changes: list[StoredStroke | Removal | Transformed | Restored]


class StrokeStore(Protocol):
    """Durable board state. Every method commits before it returns."""

    async def board_at(self, space_id: str, at: int) -> tuple[BoardPosition, list[StoredStroke]]:
        """The board as it was right after change `at` (its live strokes then, in seq order); the
        position is `at`, or the board's own when `at` is beyond it."""
        ...

    async def changes(self, space_id: str, before: int | None, limit: int) -> list[BoardChange]:
        """The board's changes, newest first, with a seq below `before` (None: from the newest)."""
        ...

    async def position(self, space_id: str) -> BoardPosition:
        """The board's position, creating the board (with a fresh epoch) on first use."""
        ...

    async def commit_strokes(self, items: Sequence[PendingStroke]) -> list[CommitResult]:
        """Commit many strokes (any spaces) in one transaction; results are in input order."""
        ...

    async def snapshot(self, space_id: str) -> tuple[BoardPosition, list[StoredStroke]]:
        """The live strokes and the position they are consistent with (one database snapshot)."""
        ...

    async def history(self, space_id: str, epoch: str, after: int, limit: int) -> BoardHistory | None:
        """The changes after seq `after`: each stroke committed since (erased later or not) and each removal.

        None when it cannot answer: no such board, another epoch, `after` ahead of the board, or more
        than `limit` seqs handed out since (a snapshot is then the smaller answer).
        """
        ...

    async def erase(self, space_id: str, ids: Sequence[str], by: str) -> Removal | None: ...

    async def clear(self, space_id: str, by: str) -> Removal | None: ...

    async def undo(self, space_id: str, author_id: str) -> Removal | None:
        """Remove the author's newest live stroke."""
        ...

    async def transform(self, space_id: str, move: Move, by: str) -> Transformed | None:
        """Move the live elements of `move.ids` under one new seq; None when none is live (or no board).
        A retried change id answers as committed the first time (`duplicate`)."""
        ...

    async def restore(
        self, space_id: str, change_id: str, at: int, ids: Sequence[str] | None, by: str
    ) -> Restored | None:
        """Make the elements `ids` (None: every element) as they were right after change `at`, under one
        new seq; None when nothing differs (or no board). Raises ValidationFailed when `at` is beyond the
        board. A retried change id answers as committed the first time (`duplicate`)."""
        ...


class ReplayBuffer(Protocol):
    """Bounded recent history per space (count and age), for resuming clients.

    Events are dicts with an integer "seq". `since` returns what it still holds after `seq`, in seq
    order; the caller checks the result is gap-free and falls back to a snapshot otherwise.
    """

    async def append(self, space_id: str, epoch: str, events: Sequence[dict[str, Any]]) -> None: ...

    async def since(self, space_id: str, epoch: str, seq: int) -> list[dict[str, Any]]: ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class PresenceEntry:
    """One connection's presence in a space (a user with three tabs has three entries)."""

    conn_id: str
    user_id: str
    display_name: str
    color: str
    cursor: tuple[float, float] | None = None


class Presence(Protocol):
    """Who is in a space, as heartbeat leases that expire when their process stops renewing them.

    Separate from the bus on purpose (Centrifuge's PresenceManager): membership state outlives any one
    message and must converge even when a process dies without saying goodbye.
    """

    async def put(self, space_id: str, entry: PresenceEntry, ttl: float) -> None:
        """Add or renew a lease (also updates the entry's fields)."""
        ...

    async def put_many(self, space_id: str, entries: Sequence[PresenceEntry], ttl: float) -> None:
        """`put` for many leases of one space at once (the heartbeat's renewal: one round trip)."""
        ...

    async def remove(self, space_id: str, conn_id: str) -> PresenceEntry | None:
        """Drop a lease; returns it if it was still held (so exactly one caller announces a leave)."""
        ...

    async def entries(self, space_id: str) -> list[PresenceEntry]:
        """Unexpired entries."""
        ...

    async def expire(self, space_id: str) -> list[PresenceEntry]:
        """Remove and return expired leases; each expired lease is returned to exactly one caller."""
        ...

    async def close(self) -> None: ...


__all__ = [
    "IDENTITY",
    "TEXT_TOOLS",
    "BoardPosition",
    "CommitResult",
    "Deliver",
    "Disconnect",
    "Move",
    "PendingStroke",
    "Placement",
    "Presence",
    "PresenceEntry",
    "Removal",
    "ReplayBuffer",
    "Restored",
    "StoredStroke",
    "Stroke",
    "StrokeStore",
    "Transformed",
]
