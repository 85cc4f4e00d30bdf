"""PostgresStrokeStore against a real PostgreSQL: first-join race, one-statement group commit."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from hub.errors import ServiceUnavailable, SpaceNotFound
from hub.ports.whiteboard import PendingStroke, Removal, StoredStroke, Stroke
from storage.postgres.db import PostgresDatabase
from storage.postgres.strokes import PostgresStrokeStore


async def new_space(db: PostgresDatabase) -> tuple[str, str]:
    user = str(await db.fetchval("INSERT INTO users (display_name) VALUES ('u') RETURNING id"))
    space = uuid.uuid4().hex
    await db.execute(
        "INSERT INTO spaces (id, name, owner_id, expires_at) VALUES ($1, 's', $2, now() + interval '1 day')",
        space,
        uuid.UUID(user),
    )
    return space, user


async def test_many_concurrent_first_joins_of_a_new_board_all_succeed(db: PostgresDatabase) -> None:
    store = PostgresStrokeStore(db)
    for _ in range(5):  # the race needs the INSERTs to overlap; several fresh boards make that likely
        space, _user = await new_space(db)
        positions = await asyncio.gather(*(store.position(space) for _ in range(20)))
        assert {p.epoch for p in positions} == {positions[0].epoch}
        assert {p.seq for p in positions} == {0}
        assert await db.fetchval("SELECT count(*) FROM whiteboards WHERE space_id = $1", space) == 1


async def test_a_missing_space_is_space_not_found_as_on_rest(db: PostgresDatabase) -> None:
    # The whiteboard answered a missing space with the generic `not_found` where REST says
    # `space_not_found`; one condition has one code.
    store = PostgresStrokeStore(db)
    with pytest.raises(SpaceNotFound) as position:
        await store.position(uuid.uuid4().hex)
    with pytest.raises(SpaceNotFound) as snapshot:
        await store.snapshot(uuid.uuid4().hex)
    assert position.value.code == snapshot.value.code == "space_not_found"


def pending(space: str, author: str, stroke_id: str | None = None) -> PendingStroke:
    return PendingStroke(space, author, Stroke(stroke_id or str(uuid.uuid4()), "pen", "#000000", 2.0, [[1.0, 2.0]]))


async def test_group_commit_numbers_dedups_and_reports_missing_boards(db: PostgresDatabase) -> None:
    store = PostgresStrokeStore(db)
    a, user = await new_space(db)
    b, _ = await new_space(db)
    await store.position(a)
    await store.position(b)
    other = str(await db.fetchval("INSERT INTO users (display_name) VALUES ('o') RETURNING id"))
    first = pending(a, user)
    results = await store.commit_strokes(
        [
            first,
            pending(b, user),
            first,
            pending(a, other, first.stroke.id),
            pending("no-such-board", user),
            pending(a, user),
        ]
    )
    assert [(r.seq, r.duplicate, r.foreign, r.missing) for r in results] == [
        (1, False, False, False),
        (1, False, False, False),
        (1, True, False, False),
        (1, True, True, False),
        (None, False, False, True),
        (2, False, False, False),
    ]
    retry = await store.commit_strokes([first, pending(a, user)])
    assert [(r.seq, r.duplicate) for r in retry] == [(1, True), (3, False)]
    position, strokes = await store.snapshot(a)
    assert position.seq == 3 and [s.seq for s in strokes] == [1, 2, 3]


async def test_held_commit_connection_lost_is_replaced_and_returned_on_close(
    db: PostgresDatabase, database_url: str
) -> None:
    commit_db = await PostgresDatabase.connect(database_url, min_size=1, max_size=2)
    store = PostgresStrokeStore(db, commit_db=commit_db)
    try:
        space, user = await new_space(db)
        await store.position(space)
        assert (await store.commit_strokes([pending(space, user)]))[0].seq == 1
        pids = {
            int(r["pid"])
            for r in await db.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        }
        held = await commit_db.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])", list(pids))
        assert held >= 1
        # The server drops every other connection, the held commit connection among them.
        await db.execute("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid", list(pids))
        # The next commit either notices the closed connection first or fails with a retryable 503
        # (never another error); the broken connection goes back to the pool, which opens a fresh
        # one, and strokes commit again with contiguous seqs.
        seq = 1
        try:
            seq = (await store.commit_strokes([pending(space, user)]))[0].seq or 0
        except ServiceUnavailable:
            pass
        assert seq in (1, 2)
        assert (await store.commit_strokes([pending(space, user)]))[0].seq == seq + 1
        assert (await store.commit_strokes([pending(space, user)]))[0].seq == seq + 2
    finally:
        await store.close()
        # Nothing is still held: the pool closes at once instead of waiting for a release.
        await asyncio.wait_for(commit_db.close(), timeout=5)


@pytest.mark.parametrize("held", [False, True], ids=["pool", "held-connection"])
async def test_a_single_stroke_commit_answers_as_a_batch_does(
    db: PostgresDatabase, database_url: str, held: bool
) -> None:
    """One stroke per commit (the small-room case) takes a statement of its own; its answers are the
    batch statement's: numbered in turn with batches in between, a retry is the same seq, another
    author's copy is foreign, an erased one says so (and takes no new seq), a missing board is missing."""
    commit_db = await PostgresDatabase.connect(database_url, max_size=2) if held else None
    store = PostgresStrokeStore(db, commit_db=commit_db)
    try:
        space, user = await new_space(db)
        await store.position(space)
        other = str(await db.fetchval("INSERT INTO users (display_name) VALUES ('o') RETURNING id"))

        def seen(results: list[Any]) -> list[tuple[int | None, bool, bool, bool, bool]]:
            return [(r.seq, r.duplicate, r.foreign, r.removed, r.missing) for r in results]

        first = pending(space, user)
        assert seen(await store.commit_strokes([first])) == [(1, False, False, False, False)]
        assert seen(await store.commit_strokes([pending(space, user), pending(space, user)])) == [
            (2, False, False, False, False),
            (3, False, False, False, False),
        ]
        assert seen(await store.commit_strokes([first])) == [(1, True, False, False, False)]
        assert seen(await store.commit_strokes([pending(space, other, first.stroke.id)])) == [
            (1, True, True, False, False)
        ]
        assert seen(await store.commit_strokes([pending(space, user)])) == [(4, False, False, False, False)]
        removal = await store.erase(space, [first.stroke.id], user)
        assert removal is not None and removal.seq == 5
        assert seen(await store.commit_strokes([first])) == [(1, True, False, True, False)]
        assert seen(await store.commit_strokes([pending("no-such-board", user)])) == [(None, False, False, False, True)]
        position, strokes = await store.snapshot(space)
        assert position.seq == 5 and [s.seq for s in strokes] == [2, 3, 4]
        # Stored as drawn, whichever statement stored it (the first batch of two, then one alone).
        assert [s.stroke.points for s in strokes] == [[[1.0, 2.0]]] * 3
        assert all(s.stroke.tool == "pen" and s.stroke.width == 2.0 for s in strokes)
    finally:
        await store.close()
        if commit_db is not None:
            await commit_db.close()


async def test_same_stroke_from_two_instances_at_once_is_stored_once(db: PostgresDatabase, database_url: str) -> None:
    # Two instances (two pools) commit the same stroke id at the same moment: the one that waited for the
    # board lock cannot see the other's row in its snapshot, fails on the primary key and redoes the
    # batch lock-first, where it finds the stroke and answers it as a duplicate with the same seq.
    other = await PostgresDatabase.connect(database_url, max_size=2)
    a, b = PostgresStrokeStore(db), PostgresStrokeStore(other)
    try:
        space, user = await new_space(db)
        await a.position(space)
        for n in range(1, 21):
            stroke = pending(space, user)
            first, second = await asyncio.gather(a.commit_strokes([stroke]), b.commit_strokes([stroke]))
            assert first[0].seq == second[0].seq == n
            assert sorted([first[0].duplicate, second[0].duplicate]) == [False, True]
        assert await db.fetchval("SELECT count(*) FROM whiteboard_strokes WHERE space_id = $1", space) == 20
    finally:
        await other.close()


async def test_history_lists_every_change_after_a_seq_or_declines(db: PostgresDatabase) -> None:
    store = PostgresStrokeStore(db)
    try:
        space, user = await new_space(db)
        epoch = (await store.position(space)).epoch
        drawn = [pending(space, user) for _ in range(3)]
        await store.commit_strokes(drawn)
        removal = await store.erase(space, [drawn[2].stroke.id, drawn[0].stroke.id], user)
        assert removal is not None and removal.ids == [drawn[0].stroke.id, drawn[2].stroke.id]

        history = await store.history(space, epoch, 0, 10)
        assert history is not None and history.position.seq == 4 and history.position.epoch == epoch
        strokes, (last,) = history.changes[:3], history.changes[3:]
        assert [(c.seq, c.stroke.id) for c in strokes if isinstance(c, StoredStroke)] == [
            (i + 1, d.stroke.id) for i, d in enumerate(drawn)
        ]
        assert last == Removal(4, removal.ids, "erase", user)
        assert (await store.history(space, epoch, 4, 10)) == type(history)(history.position, [])
        # Declined: more changes than the limit, another epoch, ahead of the board, no board.
        assert await store.history(space, epoch, 0, 3) is None
        assert await store.history(space, "other", 0, 10) is None
        assert await store.history(space, epoch, 5, 10) is None
        assert await store.history("no-such-board", epoch, 0, 10) is None
    finally:
        await store.close()
