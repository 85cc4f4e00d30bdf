"""The whiteboard over real Socket.IO clients against the running ASGI app (memory backends)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
import socketio

from hub.config import Settings
from tests.support.realtime import Board, Sock, connect, guest, space, stroke
from tests.support.server import Running, running_hub


async def test_stroke_is_acked_after_commit_and_broadcast_to_others(running: Running, board: Board) -> None:
    a, b, sid, alice, bob = board.a, board.b, board.space_id, board.alice, board.bob
    ja = await a.call("join", {"space_id": sid})
    assert ja["ok"] and ja["recovered"] is False and ja["snapshot"] == {"strokes": []}
    jb = await b.call("join", {"space_id": sid})
    assert jb["ok"] and {u["user_id"] for u in jb["presence"]} == {alice.user_id, bob.user_id}
    await a.wait_for("presence", lambda p: p["action"] == "join" and p["user"]["user_id"] == bob.user_id)

    body = stroke(sid)
    ack = await a.call("stroke", body)
    assert ack == {"ok": True, "seq": ja["seq"] + 1}
    seen = await b.wait_for("stroke", lambda e: e["id"] == body["id"])
    assert seen["seq"] == ack["seq"] and seen["author"] == alice.user_id
    assert seen["points"] == body["points"]
    assert "stroke" not in a.events  # not echoed to the author

    # A late joiner gets it in the snapshot, straight from PostgreSQL.
    late = await connect(running.url, alice)
    snap = await late.call("join", {"space_id": sid})
    assert [s["id"] for s in snap["snapshot"]["strokes"]] == [body["id"]]
    assert snap["seq"] == ack["seq"]
    await late.close()


async def test_retry_after_a_dropped_ack_gets_the_same_ack_and_the_same_seq(board: Board) -> None:
    a, b, sid = board.a, board.b, board.space_id
    await a.call("join", {"space_id": sid})
    await b.call("join", {"space_id": sid})
    body = stroke(sid)
    await a.client.emit("stroke", body)  # the ack of this one is "lost": no callback asked
    first = await b.wait_for("stroke", lambda e: e["id"] == body["id"])
    retry = await a.call("stroke", body)
    assert retry == {"ok": True, "seq": first["seq"]}
    marker = stroke(sid)
    marker_ack = await a.call("stroke", marker)
    assert marker_ack["seq"] == first["seq"] + 1  # the retry took no seq
    await b.wait_for("stroke", lambda e: e["id"] == marker["id"])
    # The retry of the board's last event is fanned out again (its first fan-out may have been lost,
    # and nothing later would show the gap), under the same seq.
    got = [(e["id"], e["seq"]) for e in b.events["stroke"]]
    assert got == [(body["id"], first["seq"]), (body["id"], first["seq"]), (marker["id"], marker_ack["seq"])]
    # With a later event on the board, a retry is only acknowledged: whoever missed its first fan-out
    # sees the gap before the later event and resumes, which replays it.
    assert (await a.call("stroke", body)) == retry
    assert (await a.call("stroke", marker)) == marker_ack  # the last again: fanned out again
    await b.wait_for("stroke", lambda e: e["id"] == marker["id"] and len(b.events["stroke"]) == 4)
    assert [e["id"] for e in b.events["stroke"]] == [body["id"], body["id"], marker["id"], marker["id"]]

    # A late retry of a stroke erased meanwhile is acknowledged but never brings it back to others.
    await a.call("erase", {"space_id": sid, "ids": [body["id"]]})
    await b.wait_for("erase")
    assert (await a.call("stroke", body)) == retry
    last = stroke(sid)
    await a.call("stroke", last)
    await b.wait_for("stroke", lambda e: e["id"] == last["id"])
    assert [e["id"] for e in b.events["stroke"][4:]] == [last["id"]]


async def test_resume_replays_missed_events_in_order(running: Running, board: Board) -> None:
    a, b, sid, bob = board.a, board.b, board.space_id, board.bob
    await a.call("join", {"space_id": sid})
    joined = await b.call("join", {"space_id": sid})
    kept = await a.call("stroke", stroke(sid))
    await b.wait_for("stroke")
    position = {"seq": kept["seq"], "epoch": joined["epoch"]}
    await b.close()

    missed = [stroke(sid) for _ in range(3)]
    seqs = [(await a.call("stroke", m))["seq"] for m in missed]
    erased = await a.call("erase", {"space_id": sid, "ids": [missed[0]["id"]]})
    assert erased == {"ok": True, "seq": seqs[-1] + 1, "ids": [missed[0]["id"]]}

    b2 = await connect(running.url, bob)
    resumed = await b2.call("join", {"space_id": sid, "since": position})
    assert resumed["recovered"] is True and "snapshot" not in resumed
    assert [e["seq"] for e in resumed["events"]] == [*seqs, erased["seq"]]
    assert [e.get("id") for e in resumed["events"][:3]] == [m["id"] for m in missed]
    assert resumed["events"][-1]["type"] == "erase" and resumed["seq"] == erased["seq"]

    # Already up to date: recovered with nothing to replay.
    again = await b2.call("join", {"space_id": sid, "since": {"seq": resumed["seq"], "epoch": joined["epoch"]}})
    assert again["recovered"] is True and again["events"] == []
    await b2.close()


@pytest.mark.settings(replay_max_events=2)
async def test_history_the_replay_buffer_lost_is_replayed_from_postgres_as_it_was_seen_live(
    running: Running, board: Board
) -> None:
    """A resume past what the replay buffer holds (Redis restarted, history aged out) is answered from
    the database with exactly the events a member who stayed saw live: strokes (erased since or not),
    erase, undo and clear with their author and reason, in seq order."""
    a, b, sid, bob = board.a, board.b, board.space_id, board.bob
    await a.call("join", {"space_id": sid})
    joined = await b.call("join", {"space_id": sid})
    watcher = await connect(running.url, bob)  # stays joined and records what the room saw
    await watcher.call("join", {"space_id": sid})
    position = {"seq": joined["seq"], "epoch": joined["epoch"]}
    await b.close()

    bodies = [stroke(sid) for _ in range(4)]
    seqs = [(await a.call("stroke", body))["seq"] for body in bodies]
    erased = await a.call("erase", {"space_id": sid, "ids": [bodies[2]["id"], bodies[0]["id"]]})
    undone = await a.call("undo", {"space_id": sid})
    after = stroke(sid)
    await a.call("stroke", after)
    cleared = await a.call("clear", {"space_id": sid})
    assert erased["ids"] == [bodies[0]["id"], bodies[2]["id"]]  # in drawing order
    assert undone["ids"] == [bodies[3]["id"]] and cleared["ids"] == [bodies[1]["id"], after["id"]]
    await watcher.wait_for("clear")
    live = sorted(
        [*watcher.events["stroke"], *watcher.events["erase"], *watcher.events["clear"]], key=lambda e: e["seq"]
    )
    assert [e["seq"] for e in live] == list(range(seqs[0], cleared["seq"] + 1))

    b2 = await connect(running.url, bob)
    try:
        resumed = await b2.call("join", {"space_id": sid, "since": position})
        assert resumed["recovered"] is True and "snapshot" not in resumed, resumed
        assert resumed["events"] == live
        assert resumed["seq"] == cleared["seq"] and resumed["epoch"] == joined["epoch"]
        # From the middle of the history too.
        middle = await b2.call("join", {"space_id": sid, "since": {"seq": erased["seq"], "epoch": joined["epoch"]}})
        assert middle["recovered"] is True and middle["events"] == live[5:]
    finally:
        await b2.close()
        await watcher.close()


@pytest.mark.settings(replay_max_events=2, resume_max_events=4)
async def test_pruned_history_or_other_epoch_gives_an_explicit_snapshot(running: Running) -> None:
    url, c = running.url, running.http
    alice = await guest(c)
    sid = await space(c, alice)
    a = await connect(url, alice)
    try:
        joined = await a.call("join", {"space_id": sid})
        bodies = [stroke(sid) for _ in range(5)]
        for body in bodies:
            assert (await a.call("stroke", body))["ok"]
        erase = await a.call("erase", {"space_id": sid, "ids": [bodies[1]["id"]]})

        # Six events missed: more than the replay buffer holds and more than a resume reads from the database.
        pruned = await a.call("join", {"space_id": sid, "since": {"seq": joined["seq"], "epoch": joined["epoch"]}})
        assert pruned["recovered"] is False and "events" not in pruned
        assert pruned["seq"] == erase["seq"] and pruned["epoch"] == joined["epoch"]
        live = [b["id"] for i, b in enumerate(bodies) if i != 1]
        assert [s["id"] for s in pruned["snapshot"]["strokes"]] == live

        # Four missed: beyond the buffer, within the database limit.
        four = await a.call("join", {"space_id": sid, "since": {"seq": erase["seq"] - 4, "epoch": joined["epoch"]}})
        assert four["recovered"] is True and [e["seq"] for e in four["events"]] == list(
            range(erase["seq"] - 3, erase["seq"] + 1)
        )

        wrong = await a.call("join", {"space_id": sid, "since": {"seq": erase["seq"], "epoch": "other"}})
        assert wrong["recovered"] is False and len(wrong["snapshot"]["strokes"]) == 4

        ahead = await a.call("join", {"space_id": sid, "since": {"seq": 10_000, "epoch": joined["epoch"]}})
        assert ahead["recovered"] is False
    finally:
        await a.close()


async def test_acknowledged_strokes_survive_a_restart(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    async with running_hub(settings) as (url, _), httpx.AsyncClient(base_url=url) as c:
        alice = await guest(c)
        sid = await space(c, alice)
        a = await connect(url, alice)
        joined = await a.call("join", {"space_id": sid})
        acked = [(await a.call("stroke", stroke(sid)))["seq"] for _ in range(3)]
        await a.close()
    async with running_hub(settings) as (url, _):
        a = await connect(url, alice)
        try:
            resumed = await a.call("join", {"space_id": sid, "since": {"seq": joined["seq"], "epoch": joined["epoch"]}})
            # The in-memory history died with the process; the database still has every change.
            assert resumed["recovered"] is True
            assert [e["seq"] for e in resumed["events"]] == acked
        finally:
            await a.close()


async def test_roles_erase_clear_and_undo(running: Running) -> None:
    url, c = running.url, running.http
    owner, editor, viewer = await guest(c), await guest(c), await guest(c)
    sid = await space(c, owner, editor)
    view_space = await space(c, owner, viewer, link_role="viewer")
    o, e, v = await connect(url, owner), await connect(url, editor), await connect(url, viewer)
    try:
        for sock, space_id in ((o, sid), (e, sid), (v, view_space)):
            assert (await sock.call("join", {"space_id": space_id}))["ok"]
        denied = await v.call("stroke", stroke(view_space))
        # The same code as REST's access checks (it used to be the generic `forbidden`).
        assert denied["ok"] is False and denied["error"]["code"] == "role_required"
        not_joined = await v.call("stroke", stroke(sid))
        assert not_joined["error"]["code"] == "not_joined"
        outsider = await v.call("join", {"space_id": sid})
        assert outsider["error"]["code"] == "space_not_found"

        mine, theirs = stroke(sid), stroke(sid)
        await e.call("stroke", mine)
        await o.call("stroke", theirs)
        undone = await e.call("undo", {"space_id": sid})
        assert undone["ids"] == [mine["id"]]
        assert (await e.call("undo", {"space_id": sid}))["ids"] == []  # only own strokes
        removal = await o.wait_for("erase", lambda ev: ev["reason"] == "undo")
        assert removal["ids"] == [mine["id"]] and removal["seq"] == undone["seq"]

        cleared = await e.call("clear", {"space_id": sid})
        assert cleared["ids"] == [theirs["id"]]
        await o.wait_for("clear", lambda ev: ev["seq"] == cleared["seq"])
        snap = await o.call("join", {"space_id": sid})
        assert snap["snapshot"]["strokes"] == []
    finally:
        for sock in (o, e, v):
            await sock.close()


async def test_unauthenticated_connections_are_refused(running: Running) -> None:
    url = running.url
    for token in (None, "", "not-a-jwt", 12345):
        sock = Sock()
        with pytest.raises(socketio.exceptions.ConnectionError):
            await sock.client.connect(
                url, auth={"token": token} if token is not None else None, transports=["websocket"], wait_timeout=5
            )


async def test_cursor_is_volatile_and_presence_counts_tabs(running: Running, board: Board) -> None:
    a1, b, sid, alice = board.a, board.b, board.space_id, board.alice
    await a1.call("join", {"space_id": sid})
    await b.call("join", {"space_id": sid})
    a2 = await connect(running.url, alice)
    await a2.call("join", {"space_id": sid})
    tabs = await b.wait_for("presence", lambda p: p["action"] == "update" and p["user"]["connections"] == 2)
    assert tabs["user"]["user_id"] == alice.user_id
    assert (await a1.call("cursor", {"space_id": sid, "x": 5, "y": -7.5})) == {"ok": True}
    moved = await b.wait_for("cursor")
    assert (moved["user_id"], moved["x"], moved["y"]) == (alice.user_id, 5, -7.5)
    await a2.close()
    one = await b.wait_for("presence", lambda p: p["action"] == "update" and p["user"]["connections"] == 1)
    assert one["user"]["user_id"] == alice.user_id
    await a1.close()
    left = await b.wait_for("presence", lambda p: p["action"] == "leave")
    assert left["user"]["user_id"] == alice.user_id


async def test_the_heartbeat_writes_each_new_cursor_into_presence(running: Running, board: Board) -> None:
    """The heartbeat reuses a socket's presence entry until its cursor (or principal) changes: each
    move is in the lease after the next renewal, so a socket joining later sees where the others are."""
    a, sid, alice = board.a, board.space_id, board.alice
    await a.call("join", {"space_id": sid})
    for x, y in ((5.0, -7.5), (9.0, 9.0)):
        assert (await a.call("cursor", {"space_id": sid, "x": x, "y": y})) == {"ok": True}
        await running.hub.whiteboard.heartbeat()
        late = await connect(running.url, board.bob)
        try:
            ack = await late.call("join", {"space_id": sid})
        finally:
            await late.close()
        seen = {u["user_id"]: u for u in ack["presence"]}
        assert seen[alice.user_id]["cursor"] == [x, y], ack["presence"]


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not exported")


async def test_concurrent_strokes_share_group_commits(running: Running) -> None:
    url, c = running.url, running.http
    users = [await guest(c) for _ in range(4)]
    sid = await space(c, users[0], *users[1:])
    socks = [await connect(url, u) for u in users]
    try:
        for s in socks:
            await s.call("join", {"space_id": sid})
        before = await c.get("/metrics")
        commits_before = _metric(before.text, "hub_stroke_group_commit_size_count")
        acks = await asyncio.gather(*(s.call("stroke", stroke(sid)) for s in socks for _ in range(10)))
        seqs = sorted(a["seq"] for a in acks)
        assert seqs == list(range(seqs[0], seqs[0] + 40))  # every stroke its own seq, no gaps
        after = (await c.get("/metrics")).text
        commits = _metric(after, "hub_stroke_group_commit_size_count") - commits_before
        assert _metric(after, "hub_stroke_group_commit_size_sum") >= 40
        assert 1 <= commits < 40  # 40 strokes, fewer transactions

        # The latency split is exported: one transaction timing per commit, one ack timing per stroke.
        def grew(name: str) -> float:
            return _metric(after, name) - _metric(before.text, name)

        assert grew("hub_stroke_commit_seconds_count") == commits
        assert grew("hub_stroke_ack_seconds_count") == 40
        assert grew("hub_stroke_ack_seconds_sum") > 0
    finally:
        for s in socks:
            await s.close()
