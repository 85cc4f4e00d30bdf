"""Whiteboard strokes in PostgreSQL.

Sequence numbers are handed out under the board row's lock, in the same transaction that stores the
strokes, so seq order is commit order on every instance and a retried stroke id is recognised even
when the retry lands on another instance.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
import orjson

from hub.errors import NotFound
from hub.ports.whiteboard import (
    BoardPosition,
    CommitResult,
    PendingStroke,
    Removal,
    StoredStroke,
    Stroke,
)
from storage.postgres.db import PostgresDatabase

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

_INSERT = """
INSERT INTO whiteboard_strokes (space_id, id, seq, author_id, tool, color, width, points)
SELECT s, i, q, a, t, c, w, p::jsonb
FROM unnest($1::text[], $2::uuid[], $3::bigint[], $4::uuid[], $5::text[], $6::text[], $7::float8[],
            $8::text[]) AS v(s, i, q, a, t, c, w, p)
"""


def new_epoch() -> str:
    return secrets.token_urlsafe(8)


class PostgresStrokeStore:
    """Implements `hub.ports.whiteboard.StrokeStore`."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def position(self, space_id: str) -> BoardPosition:
        row = await self._db.fetchrow(_POSITION, space_id, new_epoch())
        if row is None:
            # A concurrent first join inserted the board after this statement's snapshot was taken:
            # our INSERT did nothing and our SELECT could not see theirs. A second statement can.
            row = await self._db.fetchrow(_POSITION, space_id, new_epoch())
        if row is None:
            raise NotFound("No such space.")
        return BoardPosition(int(row["seq"]), str(row["epoch"]))

    async def commit_strokes(self, items: Sequence[PendingStroke]) -> list[CommitResult]:
        results: list[CommitResult | None] = [None] * len(items)
        spaces = sorted({it.space_id for it in items})
        async with self._db.transaction() as conn:
            # Sorted locking keeps concurrent group commits on several instances deadlock-free.
            boards = {
                r["space_id"]: int(r["seq"])
                for r in await conn.fetch(
                    "SELECT space_id, seq FROM whiteboards WHERE space_id = ANY($1::text[])"
                    " ORDER BY space_id FOR UPDATE",
                    spaces,
                )
            }
            existing = {
                (r["space_id"], str(r["id"])): (int(r["seq"]), str(r["author_id"]) if r["author_id"] else None)
                for r in await conn.fetch(
                    "SELECT w.space_id, w.id, w.seq, w.author_id FROM whiteboard_strokes w"
                    " JOIN unnest($1::text[], $2::uuid[]) AS k(s, i) ON w.space_id = k.s AND w.id = k.i",
                    [it.space_id for it in items], [it.stroke.id for it in items],
                )
            }
            cols: list[list[Any]] = [[] for _ in range(8)]
            for n, it in enumerate(items):
                key = (it.space_id, it.stroke.id)
                if it.space_id not in boards:
                    results[n] = CommitResult(None, missing=True)
                elif key in existing:
                    seq, author = existing[key]
                    results[n] = CommitResult(seq, duplicate=True, foreign=author != it.author_id)
                else:
                    seq = boards[it.space_id] = boards[it.space_id] + 1
                    existing[key] = (seq, it.author_id)  # a second copy in the same batch is a duplicate
                    s = it.stroke
                    for col, value in zip(
                        cols,
                        (it.space_id, uuid.UUID(s.id), seq, uuid.UUID(it.author_id), s.tool, s.color,
                         s.width, orjson.dumps(s.points).decode()),
                        strict=True,
                    ):
                        col.append(value)
                    results[n] = CommitResult(seq)
            if cols[0]:
                await conn.execute(_INSERT, *cols)
                touched = sorted({s for s in cols[0]})
                await conn.execute(
                    "UPDATE whiteboards w SET seq = v.q, updated_at = now()"
                    " FROM unnest($1::text[], $2::bigint[]) AS v(s, q) WHERE w.space_id = v.s",
                    touched, [boards[s] for s in touched],
                )
        return [r if r is not None else CommitResult(None, missing=True) for r in results]

    async def snapshot(self, space_id: str) -> tuple[BoardPosition, list[StoredStroke]]:
        await self.position(space_id)  # creates the board on first use
        async with self._db.connection() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            board = await conn.fetchrow("SELECT seq, epoch FROM whiteboards WHERE space_id = $1", space_id)
            rows = await conn.fetch(
                "SELECT id, seq, author_id, tool, color, width, points FROM whiteboard_strokes"
                " WHERE space_id = $1 AND removed_seq IS NULL ORDER BY seq",
                space_id,
            )
        if board is None:
            raise NotFound("No such space.")
        return BoardPosition(int(board["seq"]), str(board["epoch"])), [_stored(r) for r in rows]

    async def _remove(self, space_id: str, where: str, *args: Any) -> Removal | None:
        async with self._db.transaction() as conn:
            seq = await conn.fetchval("SELECT seq FROM whiteboards WHERE space_id = $1 FOR UPDATE", space_id)
            if seq is None:
                return None
            removed = await conn.fetch(
                f"UPDATE whiteboard_strokes SET removed_seq = $2 WHERE space_id = $1 AND removed_seq IS NULL"
                f" AND {where} RETURNING id",
                space_id, seq + 1, *args,
            )
            if not removed:
                return None
            await conn.execute(
                "UPDATE whiteboards SET seq = $2, updated_at = now() WHERE space_id = $1", space_id, seq + 1
            )
        return Removal(seq + 1, [str(r["id"]) for r in removed])

    async def erase(self, space_id: str, ids: Sequence[str]) -> Removal | None:
        return await self._remove(space_id, "id = ANY($3::uuid[])", [uuid.UUID(i) for i in ids])

    async def clear(self, space_id: str) -> Removal | None:
        return await self._remove(space_id, "true")

    async def undo(self, space_id: str, author_id: str) -> Removal | None:
        return await self._remove(
            space_id,
            "id = (SELECT id FROM whiteboard_strokes WHERE space_id = $1 AND author_id = $3"
            " AND removed_seq IS NULL ORDER BY seq DESC LIMIT 1)",
            uuid.UUID(author_id),
        )


def _stored(r: asyncpg.Record) -> StoredStroke:
    stroke = Stroke(str(r["id"]), r["tool"], r["color"], float(r["width"]), r["points"])
    return StoredStroke(stroke, int(r["seq"]), str(r["author_id"]) if r["author_id"] else None)
