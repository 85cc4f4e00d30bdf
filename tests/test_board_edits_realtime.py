"""Transforms, restores, text and notes over Socket.IO: acked once committed, seen live by the room,
replayed to a client that was away, refused clearly when malformed or from a viewer."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.support.realtime import Board, connect, guest, space, stroke


async def _joined(board: Board) -> dict[str, Any]:
    ack: dict[str, Any] = await board.a.call("join", {"space_id": board.space_id})
    assert ack["ok"], ack
    assert (await board.b.call("join", {"space_id": board.space_id}))["ok"]
    return ack


async def test_a_move_by_one_is_seen_by_the_other_and_a_retry_moves_nothing_twice(board: Board) -> None:
    await _joined(board)
    mine = stroke(board.space_id, points=[[0, 0], [10, 10]])
    label = stroke(board.space_id, tool="text", width=12, points=[[5, 5]], text="Hi")
    for body in (mine, label):
        assert (await board.a.call("stroke", body))["ok"]
    await board.b.wait_for("stroke", lambda e: e["id"] == label["id"])
    move = {
        "space_id": board.space_id, "id": str(uuid.uuid4()), "ids": [mine["id"], label["id"]],
        "dx": 5, "dy": -5, "scale": [2, 3], "origin": [1, 1],
    }  # fmt: skip
    ack = await board.b.call("transform", move)
    assert ack == {"ok": True, "seq": 3, "ids": [mine["id"], label["id"]]}
    seen = await board.a.wait_for("transform", lambda e: e["seq"] == 3)
    assert seen == {
        "type": "transform", "space_id": board.space_id, "seq": 3, "id": move["id"], "ids": ack["ids"],
        "dx": 5.0, "dy": -5.0, "sx": 2.0, "sy": 3.0, "ox": 1.0, "oy": 1.0, "author": board.bob.user_id,
    }  # fmt: skip
    # The retry gets the same ack and takes no seq: the next change is 4.
    assert await board.b.call("transform", move) == ack
    assert (await board.a.call("stroke", stroke(board.space_id)))["seq"] == 4
    assert [e["seq"] for e in board.a.events["transform"]] == [3]
    # A join's snapshot has them where they are now (o + s * (p - o) + d; a label's font size grows).
    again = await board.a.call("join", {"space_id": board.space_id})
    placed = {s["id"]: s for s in again["snapshot"]["strokes"]}
    assert placed[mine["id"]]["points"] == [[1 + 2 * -1 + 5, 1 + 3 * -1 - 5], [1 + 2 * 9 + 5, 1 + 3 * 9 - 5]]
    assert placed[label["id"]]["width"] == 36 and placed[label["id"]]["text"] == "Hi"


async def test_undo_of_a_clear_by_someone_else_and_resume_after_being_away(board: Board) -> None:
    first = await _joined(board)
    drawn = [stroke(board.space_id) for _ in range(3)]
    for body in drawn:
        assert (await board.a.call("stroke", body))["ok"]
    cleared = await board.a.call("clear", {"space_id": board.space_id})
    assert cleared["ok"] and cleared["seq"] == 4
    seen = await board.b.wait_for("clear")
    assert seen["author"] == board.alice.user_id and seen["ids"] == [d["id"] for d in drawn]
    # Alice leaves; Bob undoes her clear (everything as it was right before it) and moves one.
    assert (await board.a.call("leave", {"space_id": board.space_id}))["ok"]
    undo = {"space_id": board.space_id, "id": str(uuid.uuid4()), "at": seen["seq"] - 1, "ids": seen["ids"]}
    ack = await board.b.call("restore", undo)
    assert ack["ok"] and ack["seq"] == 5 and ack["ids"] == seen["ids"] and ack["removed"] == []
    assert [s["id"] for s in ack["strokes"]] == seen["ids"]  # what the author must put back
    assert await board.b.call("restore", undo) == {"ok": True, "seq": 5, "ids": seen["ids"]}  # a retry
    move = {"space_id": board.space_id, "id": str(uuid.uuid4()), "ids": [drawn[0]["id"]], "dx": 1, "dy": 2}
    assert (await board.b.call("transform", move))["seq"] == 6
    # Alice comes back from seq 4 and gets exactly what she missed, in order.
    back = await board.a.call("join", {"space_id": board.space_id, "since": {"seq": 4, "epoch": first["epoch"]}})
    assert back["recovered"] and [(e["type"], e["seq"]) for e in back["events"]] == [("restore", 5), ("transform", 6)]
    restored = back["events"][0]
    assert restored["removed"] == [] and [s["id"] for s in restored["strokes"]] == [d["id"] for d in drawn]
    assert restored["strokes"][0]["points"] == drawn[0]["points"] and restored["author"] == board.bob.user_id
    # "Restore this version": the whole board as after change 1, seen live by Alice.
    version = {"space_id": board.space_id, "id": str(uuid.uuid4()), "at": 1}
    ack = await board.b.call("restore", version)
    assert ack["ok"] and ack["seq"] == 7 and ack["ids"] == [d["id"] for d in drawn]
    live = await board.a.wait_for("restore", lambda e: e["seq"] == 7)
    assert live["removed"] == [drawn[1]["id"], drawn[2]["id"]] and [s["id"] for s in live["strokes"]] == [
        drawn[0]["id"]
    ]
    assert live["strokes"][0]["points"] == drawn[0]["points"]  # put back where it was drawn


async def test_bad_edits_are_refused_clearly_and_viewers_cannot_edit(board: Board, client: httpx.AsyncClient) -> None:
    await _joined(board)
    sid = board.space_id
    body = stroke(sid)
    assert (await board.a.call("stroke", body))["ok"]
    change = str(uuid.uuid4())
    bad: list[tuple[str, dict[str, Any], str]] = [
        ("transform", {"id": change, "ids": [body["id"]], "dx": 1, "dy": 1, "scale": 0}, "scale"),
        ("transform", {"id": change, "ids": [body["id"]], "dx": 1, "dy": 1, "scale": [1]}, "scale"),
        ("transform", {"id": change, "ids": [body["id"]], "dx": 1e308, "dy": 1}, "dx"),
        ("transform", {"id": change, "ids": [], "dx": 1, "dy": 1}, "ids"),
        ("transform", {"id": "nope", "ids": [body["id"]], "dx": 1, "dy": 1}, "id"),
        ("transform", {"id": change, "ids": [body["id"]], "dx": 1, "dy": 1, "origin": [1, "x"]}, "origin"),
        ("restore", {"id": change, "at": -1}, "at"),
        ("restore", {"id": change, "at": True}, "at"),
        ("restore", {"id": change, "at": 0, "ids": "all"}, "ids"),
        ("restore", {"id": change, "at": 99}, "at"),
        ("stroke", stroke(sid, tool="text", points=[[1, 1]], width=12), "text"),
        ("stroke", stroke(sid, tool="text", points=[[1, 1]], width=12, text="a\x00b"), "text"),
        ("stroke", stroke(sid, tool="text", points=[[1, 1]], width=12, text="x" * 2001), "text"),
        ("stroke", stroke(sid, tool="text", points=[[1, 1], [2, 2]], width=12, text="x"), "points"),
        ("stroke", stroke(sid, tool="text", points=[[1, 1]], width=1, text="x"), "width"),
        ("stroke", stroke(sid, tool="note", points=[[1, 1]], width=12, text="x"), "points"),
        ("stroke", stroke(sid, tool="pen", text="x"), "text"),
    ]
    for event, payload, field in bad:
        ack = await board.a.call(event, {"space_id": sid, **payload})
        assert ack["ok"] is False and ack["error"]["code"] == "validation_failed", (event, payload, ack)
        assert field in ack["error"]["details"]["fields"], (event, payload, ack)
    # Someone else's change id is not theirs to retry.
    move = {"space_id": sid, "id": change, "ids": [body["id"]], "dx": 1, "dy": 1}
    assert (await board.a.call("transform", move))["ok"]
    taken = await board.b.call("transform", move)
    assert taken["ok"] is False and taken["error"]["code"] == "change_id_taken"
    # A viewer may not make them.
    viewer = await guest(client, "Vera")
    view_space = await space(client, board.alice, viewer, link_role="viewer")
    v = await connect(board.b.client.connection_url, viewer)
    try:
        assert (await v.call("join", {"space_id": view_space}))["role"] == "viewer"
        for event, payload in (
            ("transform", {"id": str(uuid.uuid4()), "ids": [body["id"]], "dx": 1, "dy": 1}),
            ("restore", {"id": str(uuid.uuid4()), "at": 0}),
        ):
            ack = await v.call(event, {"space_id": view_space, **payload})
            assert ack["ok"] is False and ack["error"]["code"] == "role_required", ack
    finally:
        await v.close()
