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

from hub.errors import Conflict, SpaceNotFound
from hub.ports.whiteboard import (
    BoardChange,
    BoardHistory,
    BoardPosition,
    CommitResult,
    PendingStroke,
    Removal,
    StoredStroke,
    Stroke,
)
from storage.postgres.db import PostgresDatabase, translate_errors

# The columns `_stored` reads.
_STORED = "id, seq, author_id, tool, color, width, points"

# The board's position and its live strokes in seq order; one row with NULL stroke columns for a
# board without any.
_SNAPSHOT = f"""
SELECT w.seq AS board_seq, w.epoch, {", ".join("s." + c for c in _STORED.split(", "))}
FROM whiteboards w LEFT JOIN whiteboard_strokes s ON s.space_id = w.space_id AND s.removed_seq IS NULL
WHERE w.space_id = $1
ORDER BY s.seq
"""

# The board as of a seq: the strokes drawn by then that were not removed by then. One row with NULL
# stroke columns for a board with none; no row for a missing board.
_BOARD_AT = f"""
SELECT w.seq AS board_seq, w.epoch, {", ".join("s." + c for c in _STORED.split(", "))}
FROM whiteboards w LEFT JOIN whiteboard_strokes s
  ON s.space_id = w.space_id AND s.seq <= $2 AND (s.removed_seq IS NULL OR s.removed_seq > $2)
WHERE w.space_id = $1
ORDER BY s.seq
"""

# Every change of a board, newest first below a seq: each stroke drawn, and each removal (one erase,
# clear or undo, which may take several strokes under one seq). Seqs are gap-free, so the page of $3
# changes below $2 is exactly the seqs from $2 - $3 on: two index ranges, however long the history.
_CHANGES = """
WITH bounds AS (
    SELECT least($2::bigint, w.seq + 1) AS below FROM whiteboards w WHERE w.space_id = $1
)
SELECT * FROM (
    SELECT s.seq, 'stroke' AS kind, s.author_id, 1 AS strokes, s.created_at AS at
    FROM whiteboard_strokes s, bounds b
    WHERE s.space_id = $1 AND s.seq < b.below AND s.seq >= b.below - $3
    UNION ALL
    SELECT s.removed_seq, coalesce(min(s.removed_reason), 'erase'), (array_agg(s.removed_by))[1], count(*),
           max(s.removed_at)
    FROM whiteboard_strokes s, bounds b
    WHERE s.space_id = $1 AND s.removed_seq < b.below AND s.removed_seq >= b.below - $3
    GROUP BY s.removed_seq
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
    SELECT * FROM unnest($1::text[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::float8[], $7::text[])
        WITH ORDINALITY AS v(s, i, a, t, c, w, p, n)
),
b AS MATERIALIZED (
    SELECT space_id, seq FROM whiteboards WHERE space_id = ANY($8::text[]) ORDER BY space_id FOR UPDATE
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
    INSERT INTO whiteboard_strokes (space_id, id, seq, author_id, tool, color, width, points)
    SELECT s, i, q, a, t, c, w, p::jsonb FROM numbered
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
    INSERT INTO whiteboard_strokes (space_id, id, seq, author_id, tool, color, width, points)
    SELECT $1, $2, b.seq, $3, $4, $5, $6, $7::text::jsonb FROM b
)
SELECT 'n' AS kind, NULL::text AS space, 1::bigint AS n, seq, NULL::uuid AS author, NULL::boolean AS erased,
    NULL::boolean AS latest FROM b
UNION ALL SELECT 'o', NULL, 1, seq, author_id, erased, latest FROM ex
"""


def _columns(items: Sequence[PendingStroke]) -> list[list[Any]]:
    cols: list[list[Any]] = [[] for _ in range(7)]
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
            removals = await conn.fetch(
                "SELECT removed_seq, removed_reason, removed_by::text, array_agg(id::text ORDER BY seq) AS ids"
                " FROM whiteboard_strokes WHERE space_id = $1 AND removed_seq > $2 AND removed_seq <= $3"
                " GROUP BY removed_seq, removed_reason, removed_by",
                space_id,
                after,
                upto,
            )
        changes: list[StoredStroke | Removal] = [_stored(r) for r in strokes]
        changes += [
            Removal(int(r["removed_seq"]), list(r["ids"]), r["removed_reason"] or "erase", r["removed_by"])
            for r in removals
        ]
        changes.sort(key=lambda c: c.seq)
        return BoardHistory(BoardPosition(upto, str(board["epoch"])), changes)

    async def board_at(self, space_id: str, at: int) -> tuple[BoardPosition, list[StoredStroke]]:
        # Drawn at or before `at` and not yet removed then: the board as everyone saw it after `at`.
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

    async def _remove(self, space_id: str, reason: str, by: str, where: str, *args: Any) -> Removal | None:
        async with self._db.transaction() as conn:
            seq = await conn.fetchval("SELECT seq FROM whiteboards WHERE space_id = $1 FOR UPDATE", space_id)
            if seq is None:
                return None
            removed = await conn.fetch(
                "UPDATE whiteboard_strokes SET removed_seq = $2, removed_reason = $3, removed_by = $4,"
                f" removed_at = now() WHERE space_id = $1 AND removed_seq IS NULL AND {where} RETURNING id, seq",
                space_id,
                seq + 1,
                reason,
                uuid.UUID(by),
                *args,
            )
            if not removed:
                return None
            await conn.execute(
                "UPDATE whiteboards SET seq = $2, updated_at = now() WHERE space_id = $1", space_id, seq + 1
            )
        # In drawing order, as a replay from `history` lists them.
        ids = [str(r["id"]) for r in sorted(removed, key=lambda r: r["seq"])]
        return Removal(seq + 1, ids, reason, by)

    async def erase(self, space_id: str, ids: Sequence[str], by: str) -> Removal | None:
        return await self._remove(space_id, "erase", by, "id = ANY($5::uuid[])", [uuid.UUID(i) for i in ids])

    async def clear(self, space_id: str, by: str) -> Removal | None:
        return await self._remove(space_id, "clear", by, "true")

    async def undo(self, space_id: str, author_id: str) -> Removal | None:
        return await self._remove(
            space_id,
            "undo",
            author_id,
            "id = (SELECT id FROM whiteboard_strokes WHERE space_id = $1 AND author_id = $4"
            " AND removed_seq IS NULL ORDER BY seq DESC LIMIT 1)",
        )


def _stored(r: asyncpg.Record) -> StoredStroke:
    stroke = Stroke(str(r["id"]), r["tool"], r["color"], float(r["width"]), r["points"])
    return StoredStroke(stroke, int(r["seq"]), str(r["author_id"]) if r["author_id"] else None)
