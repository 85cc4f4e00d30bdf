"""Whiteboard strokes in PostgreSQL.

Sequence numbers are handed out under the board row's lock, in the same transaction that stores the
strokes, so seq order is commit order on every instance and a retried stroke id is recognised even
when the retry lands on another instance.
"""

from __future__ import annotations

import contextlib
import secrets
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
import orjson

from hub.errors import ChangeIdTaken, Conflict, SpaceNotFound, ValidationFailed
from hub.ports.whiteboard import (
    IDENTITY,
    BoardChange,
    BoardHistory,
    BoardPosition,
    CommitResult,
    Move,
    PendingStroke,
    Placement,
    Removal,
    Restored,
    StoredStroke,
    Stroke,
    Transformed,
)
from storage.postgres.db import PostgresDatabase, translate_errors

# The columns `_stored` reads, of a stroke row `s`, and the placement of the life it is read in.
_STORED = "id, seq, author_id, tool, color, width, points, text"
_S = ", ".join("s." + c for c in _STORED.split(", "))
_FIRST = "1::float8 AS sx, 1::float8 AS sy, 0::float8 AS tx, 0::float8 AS ty"


def _lives(*, at: bool, ids: bool) -> str:
    """The elements live now (`at` False), or right after change $2 (`at` True), each in the one life
    that covers that point: its first (the stroke row, as drawn) or a later one (`whiteboard_lives`,
    with its placement). `ids`: only the elements of the next parameter, a uuid array (else all)."""
    if at:
        # [start, end) covers $2; the GiST indexes of migration 0020 answer exactly this form.
        first = "int8range(s.seq, s.removed_seq) @> $2::bigint"
        later = "int8range(l.from_seq, l.to_seq) @> $2::bigint"
    else:
        first, later = "s.removed_seq IS NULL", "l.to_seq IS NULL"
    param = "$3" if at else "$2"
    only_s = f" AND s.id = ANY({param}::uuid[])" if ids else ""
    only_l = f" AND l.id = ANY({param}::uuid[])" if ids else ""
    return f"""
SELECT {_S}, true AS first, {_FIRST} FROM whiteboard_strokes s
WHERE s.space_id = $1 AND {first}{only_s}
UNION ALL
SELECT {_S}, false, l.sx, l.sy, l.tx, l.ty FROM whiteboard_lives l
JOIN whiteboard_strokes s ON s.space_id = l.space_id AND s.id = l.id
WHERE l.space_id = $1 AND {later}{only_l}
"""


# The board's position and its live elements in seq order; one row with NULL element columns for a
# board without any.
_SNAPSHOT = f"""
SELECT w.seq AS board_seq, w.epoch, e.* FROM whiteboards w
LEFT JOIN LATERAL ({_lives(at=False, ids=False)}) e ON true
WHERE w.space_id = $1
ORDER BY e.seq
"""

# The board as of a seq ($2): the elements live right after it, placed as they were then. One row
# with NULL element columns for a board with none; no row for a missing board.
_BOARD_AT = f"""
SELECT w.seq AS board_seq, w.epoch, e.* FROM whiteboards w
LEFT JOIN LATERAL ({_lives(at=True, ids=False)}) e ON true
WHERE w.space_id = $1
ORDER BY e.seq
"""

# Every change of a board, newest first below a seq: each stroke drawn, and each edit (an erase,
# clear or undo, which may take several elements under one seq, or a transform or a restore). Seqs
# are gap-free, so the page of $3 changes below $2 is exactly the seqs from $2 - $3 on: two index
# ranges, however long the history.
_CHANGES = """
WITH bounds AS (
    SELECT least($2::bigint, w.seq + 1) AS below FROM whiteboards w WHERE w.space_id = $1
)
SELECT * FROM (
    SELECT s.seq, 'stroke' AS kind, s.author_id, 1 AS strokes, s.created_at AS at
    FROM whiteboard_strokes s, bounds b
    WHERE s.space_id = $1 AND s.seq < b.below AND s.seq >= b.below - $3
    UNION ALL
    SELECT e.seq, e.kind, e.author_id, cardinality(e.ids), e.at
    FROM whiteboard_edits e, bounds b
    WHERE e.space_id = $1 AND e.seq < b.below AND e.seq >= b.below - $3
) c ORDER BY seq DESC LIMIT $3
"""
_NO_LIMIT = 2**62

_POSITION = """
WITH ins AS (
    INSERT INTO whiteboards (space_id, epoch)
    SELECT $1, $2 WHERE EXISTS (SELECT 1 FROM spaces WHERE id = $1)
    ON CONFLICT (space_id) DO NOTHING
    RETURNING seq, epoch
)
SELECT seq, epoch FROM ins
UNION ALL
SELECT seq, epoch FROM whiteboards WHERE space_id = $1
LIMIT 1
"""

# A whole group commit in one statement. Rows out: ("b", space) for every board that exists,
# ("n", n, seq) for every stored stroke (n = 1-based position in the batch), ("o", n, seq, author,
# erased, latest) for every stroke id that was already stored (erased: removed since; latest: its seq
# is still the board's last). Later copies of an id within the batch are neither: the caller answers
# them from the first copy.
_COMMIT = """
WITH v AS (
    SELECT * FROM unnest(
        $1::text[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::float8[], $7::text[], $8::text[]
    ) WITH ORDINALITY AS v(s, i, a, t, c, w, p, x, n)
),
b AS MATERIALIZED (
    SELECT space_id, seq FROM whiteboards WHERE space_id = ANY($9::text[]) ORDER BY space_id FOR UPDATE
),
ex AS MATERIALIZED (
    SELECT v.n, w.seq, w.author_id, w.removed_seq IS NOT NULL AS erased,
        w.seq = (SELECT b.seq FROM b WHERE b.space_id = v.s) AS latest
    FROM v JOIN whiteboard_strokes w ON w.space_id = v.s AND w.id = v.i
),
firsts AS (
    SELECT DISTINCT ON (v.s, v.i) v.* FROM v
    WHERE EXISTS (SELECT 1 FROM b WHERE b.space_id = v.s) AND NOT EXISTS (SELECT 1 FROM ex WHERE ex.n = v.n)
    ORDER BY v.s, v.i, v.n
),
numbered AS MATERIALIZED (
    SELECT f.*, b.seq + row_number() OVER (PARTITION BY f.s ORDER BY f.n) AS q
    FROM firsts f JOIN b ON b.space_id = f.s
),
ins AS (
    INSERT INTO whiteboard_strokes (space_id, id, seq, author_id, tool, color, width, points, text)
    SELECT s, i, q, a, t, c, w, p::jsonb, x FROM numbered
),
upd AS (
    UPDATE whiteboards w SET seq = m.q, updated_at = now()
    FROM (SELECT s, max(q) AS q FROM numbered GROUP BY s) m WHERE w.space_id = m.s
)
SELECT 'b' AS kind, space_id AS space, NULL::bigint AS n, NULL::bigint AS seq, NULL::uuid AS author,
    NULL::boolean AS erased, NULL::boolean AS latest FROM b
UNION ALL SELECT 'n', NULL, n, q, NULL, NULL, NULL FROM numbered
UNION ALL SELECT 'o', NULL, n, seq, author_id, erased, latest FROM ex
"""


# The common case of a small room, one stroke in the batch, as one UPDATE and one INSERT: `_COMMIT`'s
# general plan (unnest, the batch's own duplicates, numbering per board) cost about three times the
# PostgreSQL CPU of this. The UPDATE takes the board's row lock (and, waiting for it, reads the latest
# seq), and nothing is numbered or inserted when the id is already stored. Rows out as `_COMMIT`'s.
# The points arrive as JSON text (as in `_COMMIT`'s text array): `$7::text` keeps the jsonb codec from
# encoding that text a second time, into a JSON string.
_COMMIT_ONE = """
WITH ex AS MATERIALIZED (
    SELECT seq, author_id, removed_seq IS NOT NULL AS erased,
        seq = (SELECT w.seq FROM whiteboards w WHERE w.space_id = $1) AS latest
    FROM whiteboard_strokes WHERE space_id = $1 AND id = $2
),
b AS MATERIALIZED (
    UPDATE whiteboards SET seq = seq + 1, updated_at = now()
    WHERE space_id = $1 AND NOT EXISTS (SELECT 1 FROM ex)
    RETURNING seq
),
ins AS (
    INSERT INTO whiteboard_strokes (space_id, id, seq, author_id, tool, color, width, points, text)
    SELECT $1, $2, b.seq, $3, $4, $5, $6, $7::text::jsonb, $8 FROM b
)
SELECT 'n' AS kind, NULL::text AS space, 1::bigint AS n, seq, NULL::uuid AS author, NULL::boolean AS erased,
    NULL::boolean AS latest FROM b
UNION ALL SELECT 'o', NULL, 1, seq, author_id, erased, latest FROM ex
"""


def _columns(items: Sequence[PendingStroke]) -> list[list[Any]]:
    cols: list[list[Any]] = [[] for _ in range(8)]
    for it in items:
        s = it.stroke
        row = (
            it.space_id,
            uuid.UUID(s.id),
            uuid.UUID(it.author_id),
            s.tool,
            s.color,
            s.width,
            orjson.dumps(s.points).decode(),
            s.text,
        )
        for col, value in zip(cols, row, strict=True):
            col.append(value)
    return cols


def _results(
    items: Sequence[PendingStroke],
    boards: set[str],
    new: dict[int, int],
    old: dict[int, tuple[int, str | None, bool, bool]],
) -> list[CommitResult]:
    results: list[CommitResult] = []
    first: dict[tuple[str, str], tuple[int, str | None]] = {}
    for n, it in enumerate(items):
        key = (it.space_id, it.stroke.id)
        if n in old:
            seq, author, gone, latest = old[n]
            foreign = author != it.author_id
            results.append(CommitResult(seq, duplicate=True, foreign=foreign, removed=gone, latest=latest))
        elif n in new:
            first[key] = (new[n], it.author_id)
            results.append(CommitResult(new[n]))
        elif key in first:  # a second copy in the same batch
            seq, author = first[key]
            # Its first copy is fanned out with this batch: nothing of it can have been lost yet.
            results.append(CommitResult(seq, duplicate=True, foreign=author != it.author_id))
        else:
            results.append(CommitResult(None, missing=True))
    return results


def _parse_commit(items: Sequence[PendingStroke], rows: Sequence[asyncpg.Record]) -> list[CommitResult]:
    """The results of `_COMMIT`'s rows (see there) for the batch `items`."""
    boards: set[str] = set()
    new: dict[int, int] = {}
    old: dict[int, tuple[int, str | None, bool, bool]] = {}
    for r in rows:
        if r["kind"] == "b":
            boards.add(r["space"])
        elif r["kind"] == "n":
            new[int(r["n"]) - 1] = int(r["seq"])
        else:
            author = str(r["author"]) if r["author"] else None
            old[int(r["n"]) - 1] = (int(r["seq"]), author, bool(r["erased"]), bool(r["latest"]))
    return _results(items, boards, new, old)


def _usable(conn: asyncpg.Connection) -> bool:
    try:
        return not conn.is_closed()
    except asyncpg.InterfaceError:  # the pool already took back a connection that was lost
        return False


def new_epoch() -> str:
    return secrets.token_urlsafe(8)


class PostgresStrokeStore:
    """Implements `hub.ports.whiteboard.StrokeStore`."""

    def __init__(self, db: PostgresDatabase, *, commit_db: PostgresDatabase | None = None) -> None:
        """`commit_db`: a pool of its own for the group commit (see `hub.bootstrap.wiring.wire_whiteboard`),
        whose connections the store then holds between commits; `close()` gives them back."""
        self._db = db
        self._commit_db = commit_db
        # Held, not acquired per commit: a pool round (acquire, release through a shielded task)
        # measured 130 us of CPU per commit, more than the statement itself (80 us).
        self._held: list[asyncpg.Connection] = []
        self._closed = False

    async def _commit_statement(self, statement: str, *args: Any) -> list[asyncpg.Record]:
        if self._commit_db is None:
            return await self._db.fetch(statement, *args)
        pool = self._commit_db.pool
        conn = None
        while self._held and conn is None:
            conn = self._held.pop()
            if not _usable(conn):  # the server went away since the last commit
                with contextlib.suppress(Exception):
                    await pool.release(conn)
                conn = None
        if conn is None:
            with translate_errors():
                conn = await pool.acquire()
        healthy = False
        try:
            with translate_errors():
                rows: list[asyncpg.Record] = await conn.fetch(statement, *args)
            healthy = True
            return rows
        except Conflict:
            healthy = True  # a racing duplicate id: the statement failed, the connection answered
            raise
        finally:
            if healthy and not self._closed:
                self._held.append(conn)
            else:
                # Lost, cancelled mid-statement or shutting down: the pool resets or replaces it.
                with contextlib.suppress(Exception):
                    await pool.release(conn)

    async def close(self) -> None:
        """Give the held commit connections back (before their pool closes)."""
        self._closed = True
        held, self._held = self._held, []
        for conn in held:
            assert self._commit_db is not None
            with contextlib.suppress(Exception):
                await self._commit_db.pool.release(conn)

    async def position(self, space_id: str) -> BoardPosition:
        row = await self._db.fetchrow(_POSITION, space_id, new_epoch())
        if row is None:
            # A concurrent first join inserted the board after this statement's snapshot was taken:
            # our INSERT did nothing and our SELECT could not see theirs. A second statement can.
            row = await self._db.fetchrow(_POSITION, space_id, new_epoch())
        if row is None:
            raise SpaceNotFound("No such space.")
        return BoardPosition(int(row["seq"]), str(row["epoch"]))

    async def commit_strokes(self, items: Sequence[PendingStroke]) -> list[CommitResult]:
        # One statement, so one round trip: it runs in its own implicit transaction. The board rows
        # are locked (sorted, FOR UPDATE) before seqs are read from them, as the multi-statement
        # version did. Its snapshot predates the lock, so a stroke id committed by another instance
        # while we waited is not seen as existing: the INSERT then fails on the primary key, and the
        # batch is retried the careful way, where that id is found and answered as a duplicate.
        cols = _columns(items)
        spaces = sorted({it.space_id for it in items})
        try:
            if len(items) == 1:
                rows = await self._commit_statement(_COMMIT_ONE, *(col[0] for col in cols))
            else:
                rows = await self._commit_statement(_COMMIT, *cols, spaces)
        except Conflict:
            rows = await self._commit_locked(cols, spaces)
        return _parse_commit(items, rows)

    async def _commit_locked(self, cols: list[list[Any]], spaces: list[str]) -> list[asyncpg.Record]:
        """The multi-statement commit: lock first, then read existing ids with a fresh snapshot."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "SELECT 1 FROM whiteboards WHERE space_id = ANY($1::text[]) ORDER BY space_id FOR UPDATE",
                spaces,
            )
            rows: list[asyncpg.Record] = await conn.fetch(_COMMIT, *cols, spaces)
        return rows

    async def snapshot(self, space_id: str) -> tuple[BoardPosition, list[StoredStroke]]:
        # One statement, so one database snapshot and one round trip (a join's snapshot used to take
        # five: the board's position, BEGIN, two SELECTs, COMMIT).
        rows = await self._db.fetch(_SNAPSHOT, space_id)
        if not rows:
            await self.position(space_id)  # creates the board on first use, or raises SpaceNotFound
            rows = await self._db.fetch(_SNAPSHOT, space_id)
        if not rows:
            raise SpaceNotFound("No such space.")
        board = rows[0]
        strokes = [_stored(r) for r in rows if r["id"] is not None]
        return BoardPosition(int(board["board_seq"]), str(board["epoch"])), strokes

    async def history(self, space_id: str, epoch: str, after: int, limit: int) -> BoardHistory | None:
        async with self._db.connection() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            board = await conn.fetchrow("SELECT seq, epoch FROM whiteboards WHERE space_id = $1", space_id)
            if board is None or board["epoch"] != epoch or not 0 <= board["seq"] - after <= limit:
                return None
            upto = int(board["seq"])
            strokes = await conn.fetch(
                f"SELECT {_STORED} FROM whiteboard_strokes WHERE space_id = $1 AND seq > $2 AND seq <= $3",
                space_id,
                after,
                upto,
            )
            edits = await conn.fetch(
                "SELECT seq, kind, author_id::text, ids::text[], params, client_id::text FROM whiteboard_edits"
                " WHERE space_id = $1 AND seq > $2 AND seq <= $3",
                space_id,
                after,
                upto,
            )
            # What each restore brought back, placed as it brought it (the lives it opened).
            restores = [int(e["seq"]) for e in edits if e["kind"] == "restore"]
            opened = (
                await conn.fetch(
                    f"SELECT l.from_seq, {_S}, l.sx, l.sy, l.tx, l.ty FROM whiteboard_lives l"
                    " JOIN whiteboard_strokes s ON s.space_id = l.space_id AND s.id = l.id"
                    " WHERE l.space_id = $1 AND l.from_seq = ANY($2::bigint[])",
                    space_id,
                    restores,
                )
                if restores
                else []
            )
        brought: dict[int, list[StoredStroke]] = {}
        for r in opened:
            brought.setdefault(int(r["from_seq"]), []).append(_stored(r))
        changes: list[StoredStroke | Removal | Transformed | Restored] = [_stored(r) for r in strokes]
        changes += [_edit(e, brought.get(int(e["seq"]), [])) for e in edits]
        changes.sort(key=lambda c: c.seq)
        return BoardHistory(BoardPosition(upto, str(board["epoch"])), changes)

    async def board_at(self, space_id: str, at: int) -> tuple[BoardPosition, list[StoredStroke]]:
        # Every life that covers `at`: the board as everyone saw it right after that change.
        rows = await self._db.fetch(_BOARD_AT, space_id, at)
        if not rows:
            raise SpaceNotFound("No such space.")
        board = rows[0]
        strokes = [_stored(r) for r in rows if r["id"] is not None]
        return BoardPosition(min(at, int(board["board_seq"])), str(board["epoch"])), strokes

    async def changes(self, space_id: str, before: int | None, limit: int) -> list[BoardChange]:
        rows = await self._db.fetch(_CHANGES, space_id, before if before is not None else _NO_LIMIT, limit)
        return [
            BoardChange(
                seq=int(r["seq"]),
                kind=r["kind"],
                author_id=str(r["author_id"]) if r["author_id"] else None,
                strokes=int(r["strokes"]),
                at=r["at"],
            )
            for r in rows
        ]

    # -- edits: every change but a drawing, each under the board's row lock -----------------------

    async def _end_lives(
        self, conn: asyncpg.Connection, space_id: str, seq: int, reason: str, by: str, live: Sequence[asyncpg.Record]
    ) -> None:
        """End the open life of each element of `live` (rows of `_lives`) at `seq`."""
        first = [r["id"] for r in live if r["first"]]
        later = [r["id"] for r in live if not r["first"]]
        if first:
            await conn.execute(
                "UPDATE whiteboard_strokes SET removed_seq = $2, removed_reason = $3, removed_by = $4,"
                " removed_at = now() WHERE space_id = $1 AND id = ANY($5::uuid[]) AND removed_seq IS NULL",
                space_id,
                seq,
                reason,
                uuid.UUID(by),
                first,
            )
        if later:
            await conn.execute(
                "UPDATE whiteboard_lives SET to_seq = $2"
                " WHERE space_id = $1 AND id = ANY($3::uuid[]) AND to_seq IS NULL",
                space_id,
                seq,
                later,
            )

    @staticmethod
    async def _open_lives(
        conn: asyncpg.Connection, space_id: str, seq: int, placed: Sequence[tuple[Any, Placement]]
    ) -> None:
        if placed:
            await conn.execute(
                "INSERT INTO whiteboard_lives (space_id, id, from_seq, sx, sy, tx, ty)"
                " SELECT $1, i, $2, sx, sy, tx, ty"
                " FROM unnest($3::uuid[], $4::float8[], $5::float8[], $6::float8[], $7::float8[])"
                " AS v(i, sx, sy, tx, ty)",
                space_id,
                seq,
                [i for i, _ in placed],
                [p.sx for _, p in placed],
                [p.sy for _, p in placed],
                [p.tx for _, p in placed],
                [p.ty for _, p in placed],
            )

    @staticmethod
    async def _record(
        conn: asyncpg.Connection,
        space_id: str,
        seq: int,
        kind: str,
        by: str,
        ids: Sequence[Any],
        params: Sequence[float] | None = None,
        client_id: str | None = None,
    ) -> None:
        await conn.execute(
            "INSERT INTO whiteboard_edits (space_id, seq, kind, author_id, at, ids, params, client_id)"
            " VALUES ($1, $2, $3, $4, now(), $5::uuid[], $6::float8[], $7::uuid)",
            space_id,
            seq,
            kind,
            uuid.UUID(by),
            list(ids),
            list(params) if params is not None else None,
            uuid.UUID(client_id) if client_id else None,
        )
        await conn.execute("UPDATE whiteboards SET seq = $2, updated_at = now() WHERE space_id = $1", space_id, seq)

    @staticmethod
    async def _retried(
        conn: asyncpg.Connection, space_id: str, change_id: str, kind: str, by: str
    ) -> asyncpg.Record | None:
        """The edit a client's change id already committed, if any (the board's row is locked)."""
        row: asyncpg.Record | None = await conn.fetchrow(
            "SELECT seq, kind, author_id::text, ids::text[], params FROM whiteboard_edits"
            " WHERE space_id = $1 AND client_id = $2",
            space_id,
            uuid.UUID(change_id),
        )
        if row is not None and (row["kind"] != kind or row["author_id"] != by):
            raise ChangeIdTaken("That change id is already used.")
        return row

    async def _remove(self, space_id: str, reason: str, by: str, ids: Sequence[str] | None) -> Removal | None:
        async with self._db.transaction() as conn:
            seq = await conn.fetchval("SELECT seq FROM whiteboards WHERE space_id = $1 FOR UPDATE", space_id)
            if seq is None:
                return None
            if reason == "undo":
                newest = await conn.fetchval(_NEWEST_OF, space_id, uuid.UUID(by))
                if newest is None:
                    return None
                ids = [str(newest)]
            live = await self._live(conn, space_id, ids)
            if not live:
                return None
            await self._end_lives(conn, space_id, seq + 1, reason, by, live)
            # In drawing order, as a replay from `history` lists them.
            ordered = [r["id"] for r in sorted(live, key=lambda r: r["seq"])]
            await self._record(conn, space_id, seq + 1, reason, by, ordered)
        return Removal(seq + 1, [str(i) for i in ordered], reason, by)

    @staticmethod
    async def _live(conn: asyncpg.Connection, space_id: str, ids: Sequence[str] | None) -> list[asyncpg.Record]:
        if ids is None:
            return list(await conn.fetch(_LIVE_ALL, space_id))
        return list(await conn.fetch(_LIVE_IDS, space_id, [uuid.UUID(i) for i in ids]))

    async def erase(self, space_id: str, ids: Sequence[str], by: str) -> Removal | None:
        return await self._remove(space_id, "erase", by, ids)

    async def clear(self, space_id: str, by: str) -> Removal | None:
        return await self._remove(space_id, "clear", by, None)

    async def undo(self, space_id: str, author_id: str) -> Removal | None:
        return await self._remove(space_id, "undo", author_id, ())

    async def transform(self, space_id: str, move: Move, by: str) -> Transformed | None:
        async with self._db.transaction() as conn:
            seq = await conn.fetchval("SELECT seq FROM whiteboards WHERE space_id = $1 FOR UPDATE", space_id)
            if seq is None:
                return None
            done = await self._retried(conn, space_id, move.change_id, "transform", by)
            if done is not None:
                return Transformed(int(done["seq"]), move, list(done["ids"]), by, duplicate=True)
            live = sorted(await self._live(conn, space_id, move.ids), key=lambda r: r["seq"])
            # An element pushed beyond the bounds stays where it is (its numbers stay finite).
            moved = [(r, _placement(r).then(move)) for r in live]
            moved = [(r, p) for r, p in moved if _bounded(p)]
            if not moved:
                return None
            seq += 1
            await self._end_lives(conn, space_id, seq, "transform", by, [r for r, _ in moved])
            await self._open_lives(conn, space_id, seq, [(r["id"], p) for r, p in moved])
            params = (move.dx, move.dy, move.sx, move.sy, move.ox, move.oy)
            await self._record(
                conn, space_id, seq, "transform", by, [r["id"] for r, _ in moved], params, move.change_id
            )
        return Transformed(seq, move, [str(r["id"]) for r, _ in moved], by)

    async def restore(
        self, space_id: str, change_id: str, at: int, ids: Sequence[str] | None, by: str
    ) -> Restored | None:
        async with self._db.transaction() as conn:
            seq = await conn.fetchval("SELECT seq FROM whiteboards WHERE space_id = $1 FOR UPDATE", space_id)
            if seq is None:
                return None
            done = await self._retried(conn, space_id, change_id, "restore", by)
            if done is not None:
                return Restored(int(done["seq"]), change_id, at, list(done["ids"]), [], [], by, duplicate=True)
            if at > seq:
                raise ValidationFailed({"at": f"the board's last change is {seq}"})
            now = {r["id"]: r for r in await self._live(conn, space_id, ids)}
            if ids is None:
                then_rows = await conn.fetch(_LIVE_AT_ALL, space_id, at)
            else:
                then_rows = await conn.fetch(_LIVE_AT_IDS, space_id, at, [uuid.UUID(i) for i in ids])
            then = {r["id"]: r for r in then_rows}
            gone = [r for i, r in now.items() if i not in then]
            # Brought back, or put back where it was then (a life of its own since).
            back = [r for i, r in then.items() if i not in now or _placement(now[i]) != _placement(r)]
            if not gone and not back:
                return None
            seq += 1
            await self._end_lives(
                conn, space_id, seq, "restore", by, gone + [now[r["id"]] for r in back if r["id"] in now]
            )
            await self._open_lives(conn, space_id, seq, [(r["id"], _placement(r)) for r in back])
            touched = sorted(gone + back, key=lambda r: r["seq"])
            await self._record(conn, space_id, seq, "restore", by, [r["id"] for r in touched], (float(at),), change_id)
        return Restored(
            seq,
            change_id,
            at,
            [str(r["id"]) for r in touched],
            [str(r["id"]) for r in sorted(gone, key=lambda r: r["seq"])],
            [_stored(r) for r in sorted(back, key=lambda r: r["seq"])],
            by,
        )


_LIVE_ALL = _lives(at=False, ids=False)
_LIVE_IDS = _lives(at=False, ids=True)
_LIVE_AT_ALL = _lives(at=True, ids=False)
_LIVE_AT_IDS = _lives(at=True, ids=True)

# The author's newest live element (for `undo`): the newest drawn that is live in either kind of life.
_NEWEST_OF = """
SELECT s.id FROM whiteboard_strokes s
WHERE s.space_id = $1 AND s.author_id = $2 AND (
    s.removed_seq IS NULL
    OR EXISTS (SELECT 1 FROM whiteboard_lives l WHERE l.space_id = s.space_id AND l.id = s.id AND l.to_seq IS NULL)
)
ORDER BY s.seq DESC LIMIT 1
"""

# A placement's bounds: a scale whose numbers stay readable and finite, and a board within reach.
_MAX_SCALE = 1e6
_MAX_SHIFT = 1e12


def _bounded(p: Placement) -> bool:
    return all(1 / _MAX_SCALE <= v <= _MAX_SCALE for v in (p.sx, p.sy)) and all(
        abs(v) <= _MAX_SHIFT for v in (p.tx, p.ty)
    )


def _placement(r: asyncpg.Record) -> Placement:
    try:
        return Placement(float(r["sx"]), float(r["sy"]), float(r["tx"]), float(r["ty"]))
    except KeyError:
        return IDENTITY


def _stored(r: asyncpg.Record) -> StoredStroke:
    stroke = Stroke(str(r["id"]), r["tool"], r["color"], float(r["width"]), r["points"], r["text"])
    return StoredStroke(stroke.placed(_placement(r)), int(r["seq"]), str(r["author_id"]) if r["author_id"] else None)


def _edit(e: asyncpg.Record, brought: list[StoredStroke]) -> Removal | Transformed | Restored:
    """A change of `whiteboard_edits` as the event a live client saw (`brought`: what a restore brought)."""
    seq, kind, by, ids, params = int(e["seq"]), str(e["kind"]), e["author_id"], list(e["ids"]), e["params"]
    if kind == "transform":
        dx, dy, sx, sy, ox, oy = params
        return Transformed(seq, Move(str(e["client_id"]), ids, dx, dy, sx, sy, ox, oy), ids, by)
    if kind == "restore":
        back = {s.stroke.id for s in brought}
        removed = [i for i in ids if i not in back]
        return Restored(
            seq, str(e["client_id"]), int(params[0]), ids, removed, sorted(brought, key=lambda s: s.seq), by
        )
    return Removal(seq, ids, kind, by)
