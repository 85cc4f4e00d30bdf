"""The realtime whiteboard: joins with replay, strokes with group commit, presence, fan-out.

Transport-agnostic: the Socket.IO adapter hands in decoded payloads and a connection id, gets back
ack dicts, and registers a `Deliver` callback that sends to local sockets. Delivery is local first;
one bus message then reaches the other instances, which ignore their own echo (python-socketio's
pub/sub manager and `storage/redis/bus.py` do the same).

Ordering guarantees: an ack with a seq is sent only after the COMMIT, the replay append and the
fan-out to local sockets; so a client that saw seq N can always resume from N. Strokes are fanned out
by the group committer's post-commit hook, batch by batch in seq order per space, so the sockets of
one room receive a committed batch in one go (and one bus message carries it to other instances).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from hub.config import Settings
from hub.errors import (
    Gone,
    HubError,
    NotConnected,
    NotFound,
    NotJoined,
    RoleRequired,
    ServiceUnavailable,
    SpaceNotFound,
    StrokeIdTaken,
    TokenExpired,
    TokenInvalid,
    TokenRevoked,
    Unauthorized,
    UserMismatch,
)
from hub.events import RELAYED, BusEvent, ServerEvent, board_of, board_topic, space_of
from hub.models import Principal, Role, SpaceAccess
from hub.ports.infra import Bus
from hub.ports.whiteboard import (
    Deliver,
    Disconnect,
    PendingStroke,
    Presence,
    PresenceEntry,
    Removal,
    ReplayBuffer,
    Restored,
    StoredStroke,
    StrokeStore,
    Transformed,
)
from hub.services import whiteboard_input as parse
from hub.services.whiteboard_commit import CommitObserver, Committed, GroupCommitter
from hub.services.whiteboard_input import TokenBucket

log = logging.getLogger(__name__)

_PALETTE = (
    "#e6194b",
    "#3cb44b",
    "#4363d8",
    "#f58231",
    "#911eb4",
    "#42d4f4",
    "#f032e6",
    "#9a6324",
    "#469990",
    "#800000",
    "#808000",
    "#000075",
)


class AccessCheck(Protocol):
    async def access(self, principal: Principal, space_id: str, need: Role) -> SpaceAccess: ...


Authenticate = Callable[[str], Awaitable[Principal]]
# A reaction to a bus event, given its space id ("" when it names none: no room has that id) and the event.
_BusHandler = Callable[[str, dict[str, Any]], Awaitable[None]]


# The ack of a change that changed nothing (no seq was taken).
_NOTHING: dict[str, Any] = {"ok": True, "seq": None, "ids": []}


def color_for(user_id: str) -> str:
    """A stable colour per user on every instance (crc32, not the salted built-in hash)."""
    return _PALETTE[zlib.crc32(user_id.encode()) % len(_PALETTE)]


@dataclass(slots=True)
class _Joined:
    access: SpaceAccess
    checked_at: float
    cursor: tuple[float, float] | None = None
    # The presence entry last built for this socket in this space, with the principal and cursor it
    # was built from: the heartbeat renews every lease every few seconds, and building 10,000 entries
    # (a crc32 colour each) was the largest share of an idle hub's CPU.
    entry: tuple[Principal, tuple[float, float] | None, PresenceEntry] | None = None


@dataclass(slots=True)
class Connection:
    """One socket's state: who it is, which spaces it joined, its rate-limit buckets."""

    conn_id: str
    principal: Principal
    token: str
    strokes: TokenBucket
    cursors: TokenBucket
    spaces: dict[str, _Joined] = field(default_factory=dict)


def stroke_event(space_id: str, seq: int, author: str | None, s: Any) -> dict[str, Any]:
    return {
        "type": ServerEvent.STROKE,
        "space_id": space_id,
        "seq": seq,
        "id": s.id,
        "tool": s.tool,
        "color": s.color,
        "width": s.width,
        "points": s.points,
        "text": s.text,
        "author": author,
    }


def contiguous(events: Sequence[dict[str, Any]], after: int, upto: int) -> bool:
    """True when `events` are exactly seq after+1, after+2, ... and reach at least `upto`."""
    expected = after
    for event in events:
        expected += 1
        if event.get("seq") != expected:
            return False
    return expected >= upto


class WhiteboardService:
    """Owns the whiteboard's realtime state for one hub process."""

    def __init__(
        self,
        settings: Settings,
        *,
        strokes: StrokeStore,
        replay: ReplayBuffer,
        presence: Presence,
        bus: Bus,
        spaces: AccessCheck,
        authenticate: Authenticate,
        cross_instance: bool,
        observe_commit: CommitObserver | None = None,
        recheck_interval: float = 5.0,
    ) -> None:
        self._settings = settings
        self._strokes = strokes
        self._replay = replay
        self._presence = presence
        self._bus = bus
        self._spaces = spaces
        self._authenticate = authenticate
        self._cross_instance = cross_instance
        self._recheck = recheck_interval
        self.instance_id = secrets.token_hex(8)
        self._committer = GroupCommitter(
            strokes,
            window=settings.group_commit_ms / 1000,
            after_commit=self._after_commit,
            max_inflight=2,  # measured: more concurrent transactions cost PostgreSQL CPU, not latency
            observe=observe_commit,
            max_wait=settings.stroke_queue_max_wait_ms / 1000,
        )
        self._conns: dict[str, Connection] = {}
        self._rooms: dict[str, set[str]] = {}
        self._epochs: dict[str, str] = {}
        self._deliver: list[Deliver] = []
        self._disconnect: list[Disconnect] = []
        # Per local room, the users its sockets were last told about (by the join ack or a presence
        # event). The heartbeat compares it with the shared presence and tells the room what it missed:
        # announcements lost with the bus or never made while presence was unreachable.
        self._shown: dict[str, dict[str, dict[str, Any]]] = {}
        # Leases whose removal failed while presence was unreachable, (space, conn) -> user; retried.
        self._unremoved: dict[tuple[str, str], str] = {}
        self._presence_down = False
        # What a bus event does here beyond reaching the room (`RELAYED`), by its type.
        self._bus_handlers: dict[str, _BusHandler] = {
            BusEvent.SPACE_EXPIRED: self._on_space_gone,
            BusEvent.SPACE_DELETED: self._on_space_gone,
            BusEvent.SPACE_TAKEN_DOWN: self._on_space_gone,
            BusEvent.MEMBER_REMOVED: self._on_member_removed,
            BusEvent.USER_REVOKED: self._on_revoked,
            BusEvent.SESSION_REVOKED: self._on_revoked,
            BusEvent.SPACE_UPDATED: self._on_access_changed,
            BusEvent.MEMBER_ROLE_CHANGED: self._on_access_changed,
        }
        bus.subscribe(self._on_bus)

    # -- wiring -----------------------------------------------------------------------------------

    def add_deliverer(self, deliver: Deliver) -> None:
        self._deliver.append(deliver)

    def add_disconnector(self, disconnect: Disconnect) -> None:
        self._disconnect.append(disconnect)

    async def close(self) -> None:
        await self._committer.close()

    # -- connections ------------------------------------------------------------------------------

    async def connect(self, token: Any) -> Connection:
        if not isinstance(token, str) or not token or len(token) > 4096:
            raise TokenInvalid("An access token is required.")
        principal = await self._authenticate(token)
        s = self._settings
        conn = Connection(
            conn_id=secrets.token_urlsafe(9),
            principal=principal,
            token=token,
            strokes=TokenBucket(s.stroke_rate, s.stroke_burst),
            cursors=TokenBucket(s.cursor_rate, s.cursor_burst),
        )
        self._conns[conn.conn_id] = conn
        return conn

    async def disconnect(self, conn_id: str) -> None:
        conn = self._conns.pop(conn_id, None)
        if conn is None:
            return
        for space_id in list(conn.spaces):
            await self._leave(conn, space_id)

    async def reauthenticate(self, conn_id: str, raw: Any) -> dict[str, Any]:
        """Swap in a fresh access token for the same user so a long session outlives its token."""
        conn = self._conn(conn_id)
        token = parse.payload(raw).get("token")
        if not isinstance(token, str) or not token or len(token) > 4096:
            raise TokenInvalid("An access token is required.")
        principal = await self._authenticate(token)
        if principal.user_id != conn.principal.user_id:
            raise UserMismatch("The token belongs to another user.")
        conn.principal, conn.token = principal, token
        return {"ok": True, "expires_at": principal.expires_at}

    def _conn(self, conn_id: str) -> Connection:
        conn = self._conns.get(conn_id)
        if conn is None:
            raise NotConnected("The connection is not authenticated.")
        if conn.principal.expires_at <= time.time():
            raise TokenExpired("The access token has expired.")
        return conn

    async def _authorize(self, conn: Connection, space_id: str, need: Role) -> _Joined:
        joined = conn.spaces.get(space_id)
        if joined is None:
            raise NotJoined("Join the space first.")
        if time.monotonic() - joined.checked_at > self._recheck:
            try:
                conn.principal = await self._authenticate(conn.token)
                joined.access = await self._spaces.access(conn.principal, space_id, Role.VIEWER)
            except (NotFound, Gone, Unauthorized):
                await self._leave(conn, space_id)
                raise
            joined.checked_at = time.monotonic()
        if not joined.access.role.allows(need):
            raise RoleRequired(f"This needs the {need.value} role.")
        return joined

    # -- join / leave -----------------------------------------------------------------------------

    async def join(self, conn_id: str, raw: Any) -> dict[str, Any]:
        """Join a space: position, then replay or a snapshot, and presence.

        Only PostgreSQL is essential. Without the replay buffer the answer is a snapshot; without
        presence it lists this process's own connections and says `degraded: ["presence"]`; the
        heartbeat writes the lease and brings every room up to date once presence is reachable again.
        """
        conn = self._conn(conn_id)
        data = parse.payload(raw)
        space_id = parse.space_id(data)
        since = parse.since(data)
        access = await self._spaces.access(conn.principal, space_id, Role.VIEWER)
        fresh = space_id not in conn.spaces
        conn.spaces[space_id] = _Joined(access, time.monotonic())
        # In the room before reading the position: nothing committed after this point is missed.
        new_room = space_id not in self._rooms
        self._rooms.setdefault(space_id, set()).add(conn_id)
        degraded: list[str] = []
        if fresh:
            try:
                await self._presence.put(space_id, self._entry(conn, space_id), self._settings.presence_ttl)
                await self._announce(space_id, conn.principal.user_id, conn_id)
            except ServiceUnavailable:
                self._presence_unreachable()
                degraded.append("presence")

        ack: dict[str, Any] = {"ok": True, "space_id": space_id, "role": access.role.value}
        # A first join needs only the snapshot, which carries the position: one query, not two.
        recovered = since is not None and await self._resume(ack, space_id, since)
        if not recovered:
            snap_position, strokes = await self._strokes.snapshot(space_id)
            self._epochs[space_id] = snap_position.epoch
            ack.update(
                seq=snap_position.seq,
                epoch=snap_position.epoch,
                recovered=False,
                snapshot={"strokes": [_snapshot_stroke(space_id, s) for s in strokes]},
            )
        try:
            entries = await self._presence.entries(space_id)
        except ServiceUnavailable:
            self._presence_unreachable()
            entries = self._local_entries(space_id)
            if not degraded:
                degraded.append("presence")
        ack["presence"] = _group(entries)
        if new_room or space_id not in self._shown:
            self._shown[space_id] = {u["user_id"]: u for u in ack["presence"]}
        if degraded:
            ack["degraded"] = degraded
        return ack

    async def _resume(self, ack: dict[str, Any], space_id: str, since: tuple[int, str]) -> bool:
        """Fill `ack` with exactly the events after `since`, from the replay buffer or else PostgreSQL;
        False when only a snapshot can answer (another epoch, `since` ahead of the board, too much missed)."""
        position = await self._strokes.position(space_id)
        self._epochs[space_id] = position.epoch
        if since[1] != position.epoch or since[0] > position.seq:
            return False
        try:
            events = await self._replay.since(space_id, position.epoch, since[0])
        except ServiceUnavailable:
            events = None  # PostgreSQL's history (or a snapshot) is a complete answer
        if events is not None and contiguous(events, since[0], position.seq):
            last = events[-1]["seq"] if events else since[0]
            ack.update(seq=max(position.seq, last), epoch=position.epoch, recovered=True, events=events)
            return True
        return await self._resume_from_history(ack, space_id, since)

    async def _resume_from_history(self, ack: dict[str, Any], space_id: str, since: tuple[int, str]) -> bool:
        """Answer a resume the replay buffer could not (Redis restarted or down, history aged out) from
        PostgreSQL, with the same events the room saw live; False when a snapshot is the better answer.

        After a Redis restart every member of every room resumes at once; a snapshot each (the whole
        board) is what exhausted the database pools in the soak benchmark.
        """
        limit = self._settings.resume_max_events
        if limit <= 0:
            return False
        history = await self._strokes.history(space_id, since[1], since[0], limit)
        if history is None:
            return False
        events = [change_event(space_id, c) for c in history.changes]
        if not contiguous(events, since[0], history.position.seq):
            return False  # a seq with no trace (a history the database no longer holds whole)
        ack.update(seq=history.position.seq, epoch=history.position.epoch, recovered=True, events=events)
        return True

    def _local_entries(self, space_id: str) -> list[PresenceEntry]:
        """Presence as this process alone knows it: its own connections in the room."""
        return [
            self._entry(self._conns[c], space_id) for c in sorted(self._rooms.get(space_id, ())) if c in self._conns
        ]

    def _presence_unreachable(self) -> None:
        if not self._presence_down:
            self._presence_down = True
            log.warning("presence unreachable: joins and leaves are announced once it is back")

    async def leave(self, conn_id: str, raw: Any) -> dict[str, Any]:
        conn = self._conn(conn_id)
        space_id = parse.space_id(parse.payload(raw))
        if space_id not in conn.spaces:
            raise NotJoined("Join the space first.")
        await self._leave(conn, space_id)
        return {"ok": True}

    async def _leave(self, conn: Connection, space_id: str) -> None:
        conn.spaces.pop(space_id, None)
        room = self._rooms.get(space_id)
        if room is not None:
            room.discard(conn.conn_id)
            if not room:
                del self._rooms[space_id]
                self._shown.pop(space_id, None)
                self._epochs.pop(space_id, None)  # read again from the database on the next join
        try:
            entry = await self._presence.remove(space_id, conn.conn_id)
            if entry is not None:
                await self._announce(space_id, entry.user_id, None)
        except HubError:
            # Retried by the heartbeat (and the lease expires on its own if this process dies).
            self._presence_unreachable()
            self._unremoved[(space_id, conn.conn_id)] = conn.principal.user_id

    def _entry(self, conn: Connection, space_id: str) -> PresenceEntry:
        joined = conn.spaces.get(space_id)
        p, cursor = conn.principal, joined.cursor if joined else None
        if joined is not None and (made := joined.entry) is not None and made[0] is p and made[1] is cursor:
            return made[2]
        entry = PresenceEntry(conn.conn_id, p.user_id, p.display_name, color_for(p.user_id), cursor)
        if joined is not None:
            joined.entry = (p, cursor, entry)
        return entry

    async def _announce(self, space_id: str, user_id: str, joined_conn: str | None) -> None:
        """Tell the room how a user's presence changed: first tab joins, last tab leaves, else update."""
        mine = [e for e in await self._presence.entries(space_id) if e.user_id == user_id]
        if mine:
            action = "join" if joined_conn is not None and len(mine) == 1 else "update"
            user = _group(mine)[0]
        else:
            action, user = "leave", {"user_id": user_id, "connections": 0}
        payload = {"type": ServerEvent.PRESENCE, "space_id": space_id, "action": action, "user": user}
        await self._broadcast(space_id, ServerEvent.PRESENCE, payload, exclude=joined_conn)

    # -- drawing ----------------------------------------------------------------------------------

    async def _editor_action(self, conn_id: str, raw: Any) -> tuple[Connection, str, dict[str, Any]]:
        """The checks of every action that changes the board, in this order: a live connection, a valid
        payload and space id, a joined space where the caller is an editor, then one token of the stroke
        bucket (an action refused by an earlier check spends none). Returns (connection, space id, payload)."""
        conn = self._conn(conn_id)
        data = parse.payload(raw)
        space_id = parse.space_id(data)
        await self._authorize(conn, space_id, Role.EDITOR)
        conn.strokes.take()
        return conn, space_id, data

    async def stroke(self, conn_id: str, raw: Any) -> dict[str, Any]:
        conn, space_id, data = await self._editor_action(conn_id, raw)
        stroke = parse.stroke(data, self._settings.stroke_max_points)
        # Broadcast by `_after_commit` (the origin is excluded from it) before this returns.
        result = await self._committer.submit(PendingStroke(space_id, conn.principal.user_id, stroke), conn_id)
        if result.missing or result.seq is None:
            raise SpaceNotFound("No such space.")
        if result.foreign:
            raise StrokeIdTaken("That stroke id is already used.")
        return {"ok": True, "seq": result.seq}

    async def _after_commit(self, batch: Sequence[Committed]) -> None:
        per_space: dict[str, list[tuple[dict[str, Any], str | None]]] = {}
        again: dict[str, list[tuple[dict[str, Any], str | None]]] = {}
        for c in batch:
            r = c.result
            if r.seq is None or r.missing or r.foreign or r.removed or (r.duplicate and not r.latest):
                # A retry of a stroke with later events after it: if its first fan-out was lost (Redis
                # down at publish time, an instance that died between commit and fan-out), members see
                # the gap those later events leave and resume, which replays it.
                continue
            event = stroke_event(c.item.space_id, r.seq, c.item.author_id, c.item.stroke)
            # A retry of the board's last event is fanned out again: nothing later would show a lost
            # first fan-out. Receivers keep strokes by id, so a second copy changes nothing; it is not
            # replayed twice.
            (again if r.duplicate else per_space).setdefault(c.item.space_id, []).append((event, c.origin))
        for space_id in per_space | again:
            events = per_space.get(space_id, [])
            try:
                if events:
                    await self._replay.append(space_id, await self._epoch(space_id), [e for e, _ in events])
            except HubError:
                # The stroke is committed; a resuming client falls back to a snapshot (gap check).
                log.warning("replay append failed", extra={"fields": {"space_id": space_id}})
            events = events + again.get(space_id, [])
            for event, origin in events:
                await self._deliver_local(space_id, ServerEvent.STROKE, event, origin, False)
            if self._cross_instance:
                await self._bus.publish(
                    board_topic(space_id),
                    {
                        "type": BusEvent.BOARD_RELAY,
                        "origin": self.instance_id,
                        "event": ServerEvent.STROKE,
                        "batch": [[e, o] for e, o in events],
                        "volatile": False,
                    },
                )

    async def _epoch(self, space_id: str) -> str:
        epoch = self._epochs.get(space_id)
        if epoch is None:
            epoch = self._epochs[space_id] = (await self._strokes.position(space_id)).epoch
        return epoch

    async def erase(self, conn_id: str, raw: Any) -> dict[str, Any]:
        conn, space_id, data = await self._editor_action(conn_id, raw)
        removal = await self._strokes.erase(space_id, parse.stroke_ids(data), conn.principal.user_id)
        return await self._removed(conn, space_id, removal)

    async def clear(self, conn_id: str, raw: Any) -> dict[str, Any]:
        conn, space_id, _ = await self._editor_action(conn_id, raw)
        return await self._removed(conn, space_id, await self._strokes.clear(space_id, conn.principal.user_id))

    async def undo(self, conn_id: str, raw: Any) -> dict[str, Any]:
        conn, space_id, _ = await self._editor_action(conn_id, raw)
        return await self._removed(conn, space_id, await self._strokes.undo(space_id, conn.principal.user_id))

    async def transform(self, conn_id: str, raw: Any) -> dict[str, Any]:
        """Move or resize elements: one durable change, acked with its seq once everyone here has it."""
        conn, space_id, data = await self._editor_action(conn_id, raw)
        done = await self._strokes.transform(space_id, parse.move(data), conn.principal.user_id)
        if done is None:
            return _NOTHING.copy()
        if not done.duplicate:
            await self._changed(conn, space_id, transform_event(space_id, done))
        return {"ok": True, "seq": done.seq, "ids": done.ids}

    async def restore(self, conn_id: str, raw: Any) -> dict[str, Any]:
        """Make elements (or the whole board) as they were after an earlier change: undo, redo, the undo
        of a clear and "restore this version" are all this one change."""
        conn, space_id, data = await self._editor_action(conn_id, raw)
        change_id, at, ids = parse.restore(data)
        done = await self._strokes.restore(space_id, change_id, at, ids, conn.principal.user_id)
        if done is None:
            return _NOTHING.copy()
        if done.duplicate:
            return {"ok": True, "seq": done.seq, "ids": done.ids}
        event = restore_event(space_id, done)
        await self._changed(conn, space_id, event)
        # The author gets what the others got (it is not echoed to it): what to take off, what to put back.
        return {"ok": True, "seq": done.seq, "ids": done.ids, "removed": event["removed"], "strokes": event["strokes"]}

    async def _removed(self, conn: Connection, space_id: str, removal: Removal | None) -> dict[str, Any]:
        if removal is None:
            return _NOTHING.copy()
        await self._changed(conn, space_id, removal_event(space_id, removal))
        return {"ok": True, "seq": removal.seq, "ids": removal.ids}

    async def _changed(self, conn: Connection, space_id: str, event: dict[str, Any]) -> None:
        """A committed edit: into the replay buffer, then to everyone in the room but its author."""
        try:
            await self._replay.append(space_id, await self._epoch(space_id), [event])
        except ServiceUnavailable:
            # Committed already, so the ack must say so; a resuming client falls back to a snapshot.
            log.warning("replay append failed", extra={"fields": {"space_id": space_id}})
        await self._broadcast(space_id, event["type"], event, exclude=conn.conn_id)

    async def cursor(self, conn_id: str, raw: Any) -> dict[str, Any]:
        conn = self._conn(conn_id)
        data = parse.payload(raw)
        space_id = parse.space_id(data)
        joined = await self._authorize(conn, space_id, Role.VIEWER)
        conn.cursors.take()
        joined.cursor = parse.cursor(data)
        # Volatile: never stored per move; the heartbeat writes the last position into presence.
        payload = {
            "type": ServerEvent.CURSOR,
            "space_id": space_id,
            "user_id": conn.principal.user_id,
            "conn": conn_id,
            "x": joined.cursor[0],
            "y": joined.cursor[1],
        }
        await self._broadcast(space_id, ServerEvent.CURSOR, payload, exclude=conn_id, volatile=True)
        return {"ok": True}

    # -- fan-out ----------------------------------------------------------------------------------

    async def _deliver_local(
        self, space_id: str, event: str, payload: dict[str, Any], exclude: str | None, volatile: bool
    ) -> None:
        if event == ServerEvent.PRESENCE:
            self._track(space_id, payload)
        room = self._rooms.get(space_id)
        if not room:
            return
        recipients = room - {exclude} if exclude in room else room
        if not recipients:
            return
        for deliver in self._deliver:
            try:
                await deliver(tuple(recipients), event, payload, volatile)
            except Exception:
                log.exception("local delivery failed", extra={"fields": {"event": event}})

    async def _broadcast(
        self,
        space_id: str,
        event: str,
        payload: dict[str, Any],
        *,
        exclude: str | None = None,
        volatile: bool = False,
    ) -> None:
        await self._deliver_local(space_id, event, payload, exclude, volatile)
        if self._cross_instance:
            await self._bus.publish(
                board_topic(space_id),
                {
                    "type": BusEvent.BOARD_RELAY,
                    "origin": self.instance_id,
                    "event": event,
                    "data": payload,
                    "exclude": exclude,
                    "volatile": volatile,
                },
            )

    async def _on_bus(self, topic: str, event: dict[str, Any]) -> None:
        board = board_of(topic)
        if board is not None:
            await self._on_relay(board, event)
            return
        kind = event.get("type")
        space_id = str(event.get("space_id") or space_of(topic) or "")
        if kind in RELAYED and space_id:
            await self._deliver_local(space_id, str(kind), event, None, False)
        handler = self._bus_handlers.get(kind) if isinstance(kind, str) else None
        if handler is not None:
            await handler(space_id, event)

    async def _on_relay(self, space_id: str, event: dict[str, Any]) -> None:
        """Another instance's live board events, for this instance's sockets in the room."""
        if event.get("origin") == self.instance_id:
            return
        name, volatile = str(event.get("event")), bool(event.get("volatile"))
        if isinstance(event.get("data"), dict):
            await self._deliver_local(space_id, name, event["data"], event.get("exclude"), volatile)
        batch = event.get("batch")
        for entry in batch if isinstance(batch, list) else ():
            if isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], dict):
                await self._deliver_local(space_id, name, entry[0], entry[1], volatile)

    async def _on_space_gone(self, space_id: str, event: dict[str, Any]) -> None:
        # The kick code is the event's type: `space_expired`, `space_deleted` or `space_taken_down`.
        for conn_id in list(self._rooms.get(space_id, ())):
            await self._kick(conn_id, str(event["type"]), "The space is gone.", space_id=space_id)

    async def _on_member_removed(self, space_id: str, event: dict[str, Any]) -> None:
        user_id = str(event.get("user_id", ""))
        for conn in list(self._conns.values()):
            if conn.principal.user_id == user_id and space_id in conn.spaces:
                await self._kick(conn.conn_id, BusEvent.MEMBER_REMOVED, "You were removed from the space.")

    async def _on_revoked(self, _space_id: str, event: dict[str, Any]) -> None:
        user_id, session = str(event.get("user_id", "")), event.get("session_id")
        every_session = event["type"] == BusEvent.USER_REVOKED
        for conn in list(self._conns.values()):
            p = conn.principal
            if p.user_id == user_id and (every_session or p.session_id == session):
                await self._kick(conn.conn_id, TokenRevoked.code, "Your session was revoked.")

    async def _on_access_changed(self, space_id: str, _event: dict[str, Any]) -> None:
        # The cached authorization of every socket in the room is checked again before its next action.
        for conn in self._conns.values():
            if space_id in conn.spaces:
                conn.spaces[space_id].checked_at = -1e18

    async def _kick(self, conn_id: str, code: str, message: str, *, space_id: str | None = None) -> None:
        conn = self._conns.get(conn_id)
        if conn is None:
            return
        if space_id is not None and len(conn.spaces) > 1:
            # Only that space is gone; the socket may stay for the others.
            await self._leave(conn, space_id)
            return
        for disconnect in self._disconnect:
            try:
                await disconnect(conn_id, code, message)
            except Exception:
                log.exception("disconnect failed")
        await self.disconnect(conn_id)

    # -- heartbeat --------------------------------------------------------------------------------

    async def run_heartbeat(self) -> None:
        interval = max(0.1, self._settings.presence_ttl / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.heartbeat()
            except Exception:
                log.exception("whiteboard heartbeat failed")

    def _is_in(self, conn_id: str, space_id: str) -> bool:
        """Whether this hub's socket `conn_id` is connected and still in the space."""
        conn = self._conns.get(conn_id)
        return conn is not None and space_id in conn.spaces

    async def heartbeat(self) -> None:
        """Renew this process's leases, drop expired tokens and reap leases of dead processes."""
        ttl = self._settings.presence_ttl
        now = time.time()
        try:
            # Per space, one renewal of every local lease: at 10,000 sockets one call per socket was
            # 1,000 calls a second (Redis round trips in the scaled mode) for nothing but keeping them.
            leases: dict[str, list[PresenceEntry]] = {}
            for conn in list(self._conns.values()):
                if conn.principal.expires_at <= now:
                    await self._kick(conn.conn_id, TokenExpired.code, "The access token has expired.")
                    continue
                for space_id in conn.spaces:
                    leases.setdefault(space_id, []).append(self._entry(conn, space_id))
            for space_id, entries in leases.items():
                # Only those still there: a socket that left meanwhile has given its lease back.
                still = [e for e in entries if self._is_in(e.conn_id, space_id)]
                await self._presence.put_many(space_id, still, ttl)
            await self._remove_pending()
            for space_id in list(self._rooms):
                for entry in await self._presence.expire(space_id):
                    if entry.conn_id in self._rooms.get(space_id, ()):
                        # Our own socket, reaped after a stall: it is alive, so take the lease back.
                        mine = self._conns.get(entry.conn_id)
                        if mine is not None:
                            await self._presence.put(space_id, self._entry(mine, space_id), ttl)
                        continue
                    await self._announce(space_id, entry.user_id, None)
            for space_id in list(self._rooms):
                await self._reconcile(space_id)
        except ServiceUnavailable:
            self._presence_unreachable()
            return
        if self._presence_down:
            self._presence_down = False
            log.info("presence reachable again")

    async def _remove_pending(self) -> None:
        """Remove the leases of connections that left while presence was unreachable, and say so."""
        for key, user_id in list(self._unremoved.items()):
            space_id, conn_id = key
            await self._presence.remove(space_id, conn_id)
            del self._unremoved[key]
            await self._announce(space_id, user_id, None)

    def _track(self, space_id: str, payload: dict[str, Any]) -> None:
        shown = self._shown.get(space_id)
        user = payload.get("user")
        if shown is None or not isinstance(user, dict) or not isinstance(user.get("user_id"), str):
            return
        if payload.get("action") == "leave":
            shown.pop(user["user_id"], None)
        else:
            shown[user["user_id"]] = user

    async def _reconcile(self, space_id: str) -> None:
        """Tell a local room about presence changes it missed (lost bus messages, an outage).

        Local only: every instance brings its own sockets up to date, so nothing depends on the bus.
        """
        current = {u["user_id"]: u for u in _group(await self._presence.entries(space_id))}
        shown = self._shown.setdefault(space_id, {})
        changes: list[tuple[str, dict[str, Any]]] = []
        for user_id, user in current.items():
            before = shown.get(user_id)
            if before is None:
                changes.append(("join", user))
            elif before.get("connections") != user["connections"]:
                changes.append(("update", user))
        changes += [("leave", {"user_id": u, "connections": 0}) for u in shown if u not in current]
        for action, user in changes:
            payload = {"type": ServerEvent.PRESENCE, "space_id": space_id, "action": action, "user": user}
            await self._deliver_local(space_id, ServerEvent.PRESENCE, payload, None, False)


def removal_event(space_id: str, r: Removal) -> dict[str, Any]:
    """The `erase` or `clear` event of a removal, live or replayed from the database."""
    return {
        "type": ServerEvent.CLEAR if r.reason == "clear" else ServerEvent.ERASE,
        "space_id": space_id,
        "seq": r.seq,
        "ids": r.ids,
        "author": r.author_id,
        "reason": r.reason,
    }


def transform_event(space_id: str, t: Transformed) -> dict[str, Any]:
    """The `transform` event of a committed move, live or replayed from the database."""
    m = t.move
    return {
        "type": ServerEvent.TRANSFORM,
        "space_id": space_id,
        "seq": t.seq,
        "id": m.change_id,
        "ids": t.ids,
        "dx": m.dx,
        "dy": m.dy,
        "sx": m.sx,
        "sy": m.sy,
        "ox": m.ox,
        "oy": m.oy,
        "author": t.author_id,
    }


def restore_event(space_id: str, r: Restored) -> dict[str, Any]:
    """The `restore` event of a committed restore: what it took off and what it brought back (whole)."""
    return {
        "type": ServerEvent.RESTORE,
        "space_id": space_id,
        "seq": r.seq,
        "id": r.change_id,
        "at": r.at,
        "author": r.author_id,
        "removed": r.removed,
        "strokes": [_snapshot_stroke(space_id, s) for s in r.strokes],
    }


def change_event(space_id: str, c: StoredStroke | Removal | Transformed | Restored) -> dict[str, Any]:
    """The live event of any board change read back from the database."""
    if isinstance(c, StoredStroke):
        return _snapshot_stroke(space_id, c)
    if isinstance(c, Transformed):
        return transform_event(space_id, c)
    if isinstance(c, Restored):
        return restore_event(space_id, c)
    return removal_event(space_id, c)


def _snapshot_stroke(space_id: str, s: StoredStroke) -> dict[str, Any]:
    return stroke_event(space_id, s.seq, s.author_id, s.stroke)


def _group(entries: Sequence[PresenceEntry]) -> list[dict[str, Any]]:
    """One presence record per user, however many tabs they have open."""
    users: dict[str, dict[str, Any]] = {}
    for e in entries:
        user = users.setdefault(
            e.user_id,
            {"user_id": e.user_id, "display_name": e.display_name, "color": e.color, "cursor": None, "connections": 0},
        )
        user["connections"] += 1
        if e.cursor is not None:
            user["cursor"] = list(e.cursor)
    return list(users.values())
