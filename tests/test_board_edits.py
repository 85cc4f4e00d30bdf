"""Board edits in PostgreSQL: text and notes, transforms, restores, and the board after any change.

The reference is a client: it starts from nothing, applies every event of the history in seq order
(as the web client applies live and replayed events) and must see, after each seq, exactly the board
that `board_at` answers, and at the end the snapshot a join gets.
"""

from __future__ import annotations

import math
import random
import uuid
from typing import Any

import pytest

from hub.errors import ChangeIdTaken, ValidationFailed
from hub.ports.whiteboard import Move, PendingStroke, Stroke
from hub.services.whiteboard import change_event, stroke_event
from storage.postgres.db import PostgresDatabase
from storage.postgres.strokes import PostgresStrokeStore
from tests.test_whiteboard_strokes import new_space


def element(space: str, author: str, tool: str = "pen", **fields: Any) -> PendingStroke:
    defaults: dict[str, Any] = {"color": "#112233", "width": 3.0, "points": [[1.0, 2.0], [5.0, 9.0]], "text": None}
    defaults |= fields
    return PendingStroke(space, author, Stroke(str(uuid.uuid4()), tool, **defaults))


class Model:
    """What a client holds: element id -> its stroke event, changed by events as the web client does."""

    def __init__(self) -> None:
        self.elements: dict[str, dict[str, Any]] = {}

    def apply(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "stroke":
            self.elements[event["id"]] = {k: v for k, v in event.items() if k != "type"}
        elif kind in ("erase", "clear"):
            for i in event["ids"]:
                self.elements.pop(i, None)
        elif kind == "transform":
            for i in event["ids"]:
                e = self.elements[i]
                e["points"] = [
                    [
                        event["ox"] + event["sx"] * (p[0] - event["ox"]) + event["dx"],
                        event["oy"] + event["sy"] * (p[1] - event["oy"]) + event["dy"],
                        *p[2:],
                    ]
                    for p in e["points"]
                ]
                if e["tool"] in ("text", "note"):
                    e["width"] *= event["sy"]
        elif kind == "restore":
            for i in event["removed"]:
                self.elements.pop(i, None)
            for s in event["strokes"]:
                self.elements[s["id"]] = {k: v for k, v in s.items() if k != "type"}
        else:
            raise AssertionError(kind)

    def board(self) -> dict[str, dict[str, Any]]:
        return self.elements


def same(model: dict[str, dict[str, Any]], strokes: list[dict[str, Any]]) -> None:
    """The model and a board answer hold the same elements, placed the same (to float rounding)."""
    board = {s["id"]: s for s in strokes}
    assert sorted(model) == sorted(board)
    for i, mine in model.items():
        theirs = board[i]
        for key in ("tool", "color", "text", "seq", "author"):
            assert mine[key] == theirs[key], (key, mine, theirs)
        assert math.isclose(mine["width"], theirs["width"], rel_tol=1e-9)
        for p, q in zip(mine["points"], theirs["points"], strict=True):
            assert all(math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6) for a, b in zip(p, q, strict=True)), (p, q)


async def test_text_and_notes_are_stored_with_their_text(db: PostgresDatabase) -> None:
    store = PostgresStrokeStore(db)
    space, user = await new_space(db)
    await store.position(space)
    label = element(space, user, "text", width=24.0, points=[[10.0, 20.0]], text="Hello <b>&\nworld")
    note = element(space, user, "note", color="#fde68a", width=16.0, points=[[0.0, 0.0], [200.0, 150.0]], text="")
    assert [r.seq for r in await store.commit_strokes([label])] == [1]
    assert [r.seq for r in await store.commit_strokes([note, element(space, user)])] == [2, 3]
    _position, strokes = await store.snapshot(space)
    assert [(s.stroke.tool, s.stroke.text) for s in strokes] == [
        ("text", "Hello <b>&\nworld"),
        ("note", ""),
        ("pen", None),
    ]
    assert stroke_event(space, 1, user, strokes[0].stroke)["text"] == "Hello <b>&\nworld"


async def test_a_transform_moves_live_elements_once_and_the_past_stays(db: PostgresDatabase) -> None:
    store = PostgresStrokeStore(db)
    space, user = await new_space(db)
    other = str(await db.fetchval("INSERT INTO users (display_name) VALUES ('o') RETURNING id"))
    await store.position(space)
    a, b, label = (
        element(space, user),
        element(space, user),
        element(space, user, "text", width=10.0, points=[[4.0, 4.0]], text="x"),
    )
    await store.commit_strokes([a, b, label])  # seq 1-3
    await store.erase(space, [b.stroke.id], user)  # seq 4
    move = Move(str(uuid.uuid4()), [a.stroke.id, b.stroke.id, label.stroke.id], dx=10, dy=-1, sx=2, sy=3, ox=1, oy=2)
    done = await store.transform(space, move, user)
    # The erased one is not moved; the change takes one seq.
    assert done is not None and done.seq == 5 and done.ids == [a.stroke.id, label.stroke.id] and not done.duplicate
    _position, now = await store.snapshot(space)
    placed = {s.stroke.id: s.stroke for s in now}
    # o + s * (p - o) + d, per axis; the label's font size grows with its height.
    assert placed[a.stroke.id].points == [[1 + 2 * 0 + 10, 2 + 3 * 0 - 1], [1 + 2 * 4 + 10, 2 + 3 * 7 - 1]]
    assert placed[label.stroke.id].width == 30.0 and placed[a.stroke.id].width == 3.0
    # A retry answers as the first time and moves nothing again.
    again = await store.transform(space, move, user)
    assert again is not None and (again.seq, again.ids, again.duplicate) == (5, done.ids, True)
    assert (await store.snapshot(space))[1] == now
    # Someone else's retry of that id (or a restore under it) is refused.
    with pytest.raises(ChangeIdTaken):
        await store.transform(space, move, other)
    with pytest.raises(ChangeIdTaken):
        await store.restore(space, move.change_id, 1, None, user)
    # Nothing live among the ids: no change, no seq.
    assert await store.transform(space, Move(str(uuid.uuid4()), [b.stroke.id], 1, 1), user) is None
    # The board before the move is as it was.
    _p, before = await store.board_at(space, 4)
    assert {s.stroke.id: s.stroke.points for s in before}[a.stroke.id] == [[1.0, 2.0], [5.0, 9.0]]
    # Moved again, composed: the second move applies to where the first put it.
    second = await store.transform(space, Move(str(uuid.uuid4()), [a.stroke.id], dx=1, dy=1), user)
    assert second is not None and second.seq == 6
    _p, later = await store.snapshot(space)
    assert {s.stroke.id: s.stroke.points for s in later}[a.stroke.id] == [[12.0, 2.0], [20.0, 23.0]]
    kinds = [(c.seq, c.kind, c.strokes) for c in await store.changes(space, None, 10)]
    assert kinds == [
        (6, "transform", 1),
        (5, "transform", 2),
        (4, "erase", 1),
        (3, "stroke", 1),
        (2, "stroke", 1),
        (1, "stroke", 1),
    ]


async def test_restore_undoes_an_erase_a_clear_a_move_and_restores_a_version(db: PostgresDatabase) -> None:
    store = PostgresStrokeStore(db)
    space, user = await new_space(db)
    await store.position(space)
    a, b, c = (element(space, user) for _ in range(3))
    await store.commit_strokes([a, b, c])  # 1-3
    erased = await store.erase(space, [b.stroke.id], user)  # 4
    assert erased is not None
    # Undo of the erase: the element as it was right before it.
    undo = await store.restore(space, str(uuid.uuid4()), erased.seq - 1, [b.stroke.id], user)  # 5
    assert undo is not None and undo.seq == 5 and undo.ids == [b.stroke.id] and undo.removed == []
    assert [s.stroke.id for s in undo.strokes] == [b.stroke.id] and undo.strokes[0].seq == 2
    moved = await store.transform(space, Move(str(uuid.uuid4()), [a.stroke.id, b.stroke.id], 100, 0), user)  # 6
    assert moved is not None
    cleared = await store.clear(space, user)  # 7
    assert cleared is not None and cleared.ids == [a.stroke.id, b.stroke.id, c.stroke.id]
    assert (await store.snapshot(space))[1] == []
    # Undo of the clear brings back all three, a and b where the move put them.
    back = await store.restore(space, str(uuid.uuid4()), cleared.seq - 1, cleared.ids, user)  # 8
    assert back is not None and back.removed == [] and [s.stroke.id for s in back.strokes] == cleared.ids
    _p, now = await store.snapshot(space)
    assert {s.stroke.id: s.stroke.points[0][0] for s in now} == {
        a.stroke.id: 101.0,
        b.stroke.id: 101.0,
        c.stroke.id: 1.0,
    }
    # Undo of the move (restore to before it): back where they were drawn, c untouched.
    unmoved = await store.restore(space, str(uuid.uuid4()), moved.seq - 1, moved.ids, user)  # 9
    assert unmoved is not None and unmoved.ids == moved.ids and unmoved.removed == []
    assert {s.stroke.points[0][0] for s in (await store.snapshot(space))[1]} == {1.0}
    d = element(space, user)
    await store.commit_strokes([d])  # 10
    # "Restore this version": the whole board as after change 3 (d goes, b's erase and the move are gone).
    version = await store.restore(space, str(uuid.uuid4()), 3, None, user)  # 11
    assert version is not None and version.removed == [d.stroke.id] and version.strokes == []
    assert [s.stroke.id for s in (await store.snapshot(space))[1]] == [a.stroke.id, b.stroke.id, c.stroke.id]
    # Nothing differs: no change. Beyond the board: refused.
    assert await store.restore(space, str(uuid.uuid4()), 3, None, user) is None
    with pytest.raises(ValidationFailed):
        await store.restore(space, str(uuid.uuid4()), 99, None, user)
    # Undo of the restore itself.
    redone = await store.restore(space, str(uuid.uuid4()), version.seq - 1, version.ids, user)  # 12
    assert redone is not None and [s.stroke.id for s in redone.strokes] == [d.stroke.id]
    assert [c.kind for c in await store.changes(space, None, 3)] == ["restore", "restore", "stroke"]


async def test_every_board_after_every_change_is_what_a_client_replaying_the_history_sees(db: PostgresDatabase) -> None:
    rng = random.Random(20261203)
    store = PostgresStrokeStore(db)
    space, user = await new_space(db)
    epoch = (await store.position(space)).epoch
    seq = 0
    for _ in range(120):
        _p, live = await store.snapshot(space)
        ids = [s.stroke.id for s in live]
        pick = rng.random()
        some = rng.sample(ids, k=min(len(ids), rng.randint(1, 4))) if ids else []
        if pick < 0.35 or not ids:
            tool = rng.choice(["pen", "rect", "text", "note"])
            fields: dict[str, Any] = {"width": 12.0}
            if tool == "text":
                fields |= {"points": [[rng.uniform(-50, 50), rng.uniform(-50, 50)]], "text": "t"}
            elif tool == "note":
                fields |= {"text": "n"}
            result = await store.commit_strokes([element(space, user, tool, **fields)])
            changed: Any = result[0].seq
        elif pick < 0.55:
            move = Move(str(uuid.uuid4()), some, rng.uniform(-20, 20), rng.uniform(-20, 20),
                        rng.uniform(0.5, 2), rng.uniform(0.5, 2), rng.uniform(-5, 5), rng.uniform(-5, 5))  # fmt: skip
            changed = await store.transform(space, move, user)
        elif pick < 0.7:
            changed = await store.erase(space, some, user)
        elif pick < 0.75:
            changed = await store.clear(space, user)
        elif pick < 0.9:
            everything = [s.stroke.id for s in (await store.board_at(space, max(0, seq - 1)))[1]] + some
            target = rng.sample(everything, k=min(len(everything), 3)) if rng.random() < 0.6 and everything else None
            changed = await store.restore(space, str(uuid.uuid4()), rng.randint(0, seq), target, user)
        else:
            changed = await store.undo(space, user)
        if changed is not None:
            seq += 1
    assert seq > 80
    history = await store.history(space, epoch, 0, 10_000)
    assert history is not None and history.position.seq == seq
    events = [change_event(space, c) for c in history.changes]
    assert [e["seq"] for e in events] == list(range(1, seq + 1))
    model = Model()
    for event in events:
        model.apply(event)
        _p, board = await store.board_at(space, event["seq"])
        same(model.board(), [stroke_event(space, s.seq, s.author_id, s.stroke) for s in board])
    _p, now = await store.snapshot(space)
    same(model.board(), [stroke_event(space, s.seq, s.author_id, s.stroke) for s in now])
    # A client resuming from halfway gets the rest and lands on the same board.
    half = seq // 2
    rest = await store.history(space, epoch, half, 10_000)
    assert rest is not None
    resumed = Model()
    for s in (await store.board_at(space, half))[1]:
        resumed.apply(stroke_event(space, s.seq, s.author_id, s.stroke))
    for c in rest.changes:
        resumed.apply(change_event(space, c))
    same(resumed.board(), [stroke_event(space, s.seq, s.author_id, s.stroke) for s in now])
