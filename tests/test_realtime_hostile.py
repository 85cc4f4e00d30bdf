"""Hostile sockets: bad payloads, floods, oversized frames and revoked credentials.

Each test keeps a well-behaved socket beside the hostile one and proves it is unaffected.
"""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import pytest
import websockets.asyncio.client

from tests.support.realtime import Board, Sock, connect, guest, space, stroke
from tests.support.server import Running

# Small limits, so that a test can exceed them cheaply.
small_limits = pytest.mark.settings(stroke_max_points=50, ws_max_message_bytes=16_384)


async def healthy(sock: Sock, space_id: str) -> None:
    """The bystander can still draw and gets a real ack."""
    ack = await sock.call("stroke", stroke(space_id))
    assert ack["ok"] is True and isinstance(ack["seq"], int)


BAD_STROKES: list[tuple[dict[str, Any], str]] = [
    ({"tool": 7}, "tool"),
    ({"tool": "pen\x00"}, "tool"),
    ({"color": "red"}, "color"),
    ({"color": "#fff\x00"}, "color"),
    ({"width": True}, "width"),
    ({"width": 1e308}, "width"),
    ({"width": "2"}, "width"),
    ({"id": "not-a-uuid"}, "id"),
    ({"id": "\x00" * 36}, "id"),
    ({"points": []}, "points"),
    ({"points": "0,0"}, "points"),
    ({"points": [[1]]}, "points"),
    ({"points": [[1, 2, 3, 4]]}, "points"),
    ({"points": [[1e300, 0]]}, "points"),
    ({"points": [[0, 0, 2]]}, "points"),
    ({"points": [[None, 0]]}, "points"),
    ({"points": [[0, 0]] * 51}, "points"),  # over stroke_max_points
    ({"space_id": "../../etc"}, "space_id"),
    ({"space_id": None}, "space_id"),
]


@small_limits
async def test_bad_payloads_get_validation_errors_and_hurt_nobody(board: Board) -> None:
    bad, good, sid = board.a, board.b, board.space_id
    await bad.call("join", {"space_id": sid})
    await good.call("join", {"space_id": sid})
    for overrides, field in BAD_STROKES:
        ack = await bad.call("stroke", {**stroke(sid), **overrides})
        assert ack["ok"] is False, overrides
        assert ack["error"]["code"] in ("validation_failed", "not_joined"), ack
        if ack["error"]["code"] == "validation_failed":
            assert field in ack["error"]["details"]["fields"], ack
    for payload in (None, 5, "x", [1, 2], {"space_id": sid, "since": {"seq": -1, "epoch": "e"}}):
        ack = await bad.call("join", payload)
        assert ack["ok"] is False and ack["error"]["code"] in ("validation_failed", "bad_payload"), payload
    ack = await bad.call("erase", {"space_id": sid, "ids": ["x"] * 2000})
    assert ack["error"]["code"] == "validation_failed"
    ack = await bad.call("definitely_not_an_event", {"space_id": sid})
    assert ack["error"]["code"] == "unknown_event"
    ack = await bad.client.call("join", ({"space_id": sid}, 2), timeout=5)
    assert ack["error"]["code"] == "bad_payload"
    # A valid stroke after all of them is the barrier: once it has arrived, anything broadcast before it
    # would have arrived too, so the only stroke seen is the valid one.
    barrier = stroke(sid)
    assert (await bad.call("stroke", barrier))["ok"] is True
    await good.wait_for("stroke", lambda s: s["id"] == barrier["id"])
    assert [s["id"] for s in good.events["stroke"]] == [barrier["id"]]  # nothing invalid was broadcast
    await healthy(good, sid)


@small_limits
@pytest.mark.parametrize(
    "raw",
    [
        '42["stroke",{"space_id":"x","width":1e999}]',  # out of double range
        '42["stroke",{"width":NaN}]',
        '421["cursor",{"x":123456789012345678901234567890}]',
        '42{"not":"a list"}',
        "42[]",
        "42[7,{}]",
        '42["x"',
        "4\x00\x00",
        "49999999999999999999999999",
    ],
)
async def test_malformed_packets_drop_only_the_sender(board: Board, raw: str) -> None:
    bad, good, sid = board.a, board.b, board.space_id
    await good.call("join", {"space_id": sid})
    await bad.client.eio.send(raw)
    # Either the sender is dropped or the packet was harmless; the server answers the bystander.
    await healthy(good, sid)
    if not bad.disconnected.is_set():
        ack = await bad.call("join", {"space_id": sid})
        assert ack["ok"] is True


@small_limits
async def test_oversized_frame_closes_only_that_socket(board: Board) -> None:
    bad, good, sid = board.a, board.b, board.space_id
    await good.call("join", {"space_id": sid})
    await bad.client.emit("stroke", stroke(sid, points=[[1.123456789, 2.123456789]] * 4000))
    await asyncio.wait_for(bad.disconnected.wait(), 5)
    await healthy(good, sid)


@pytest.mark.settings(stroke_rate=0.5, stroke_burst=3, cursor_rate=0.5, cursor_burst=2)
async def test_stroke_and_cursor_floods_are_rate_limited_per_socket(board: Board) -> None:
    flood, calm, sid = board.a, board.b, board.space_id
    await flood.call("join", {"space_id": sid})
    await calm.call("join", {"space_id": sid})
    acks = [await flood.call("stroke", stroke(sid)) for _ in range(6)]
    assert [a["ok"] for a in acks[:3]] == [True, True, True]
    limited = [a for a in acks if not a["ok"]]
    assert limited and all(a["error"]["code"] == "rate_limited" for a in limited)
    assert limited[0]["error"]["details"]["retry_after"] >= 1
    cursors = [await flood.call("cursor", {"space_id": sid, "x": i, "y": i}) for i in range(5)]
    assert cursors[0] == {"ok": True}
    assert any(not a["ok"] and a["error"]["code"] == "rate_limited" for a in cursors)
    await healthy(calm, sid)  # buckets are per socket


@small_limits
async def test_revoked_sessions_and_removed_members_are_disconnected(running: Running) -> None:
    url, c = running.url, running.http
    owner, member, other = await guest(c), await guest(c), await guest(c)
    sid = await space(c, owner, member, other)
    o, m, x = await connect(url, owner), await connect(url, member), await connect(url, other)
    try:
        for sock in (o, m, x):
            await sock.call("join", {"space_id": sid})
        r = await c.delete(
            f"/spaces/{sid}/members/{member.user_id}", headers={"Authorization": f"Bearer {owner.token}"}
        )
        assert r.status_code == 204, r.text
        await asyncio.wait_for(m.disconnected.wait(), 2)
        assert m.events["kicked"][0]["code"] == "member_removed"
        left = await o.wait_for("presence", lambda p: p["action"] == "leave")
        assert left["user"]["user_id"] == member.user_id

        r = await c.post("/auth/logout-all", headers={"Authorization": f"Bearer {other.token}"})
        assert r.status_code == 204, r.text
        await asyncio.wait_for(x.disconnected.wait(), 2)
        assert x.events["kicked"][0]["code"] == "token_revoked"
        refused = Sock()
        with pytest.raises(Exception):  # noqa: B017 - socketio raises its ConnectionError
            await refused.connect(url, other.token)
        await healthy(o, sid)
    finally:
        for sock in (o, m, x):
            await sock.close()


@pytest.mark.settings(ws_max_backlog_bytes=262_144, stroke_rate=100_000, stroke_burst=100_000)
async def test_a_reader_too_far_behind_is_disconnected_and_nobody_else_loses_anything(running: Running) -> None:
    url, c = running.url, running.http
    writer, reader, stalled = await guest(c, "Writer"), await guest(c, "Reader"), await guest(c, "Stalled")
    sid = await space(c, writer, reader, stalled)
    w, r = await connect(url, writer), await connect(url, reader)
    # The stalled client speaks Engine.IO/Socket.IO by hand, joins, then never reads again: a
    # small receive buffer and a one-frame queue make the kernel stop taking data for it soon.
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", int(url.rsplit(":", 1)[1])))
    ws = await websockets.asyncio.client.connect(
        url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket",
        sock=raw,
        max_queue=1,
    )
    try:
        assert str(await ws.recv()).startswith("0")  # Engine.IO OPEN
        await ws.send("40" + json.dumps({"token": stalled.token}))
        assert str(await ws.recv()).startswith("40")  # Socket.IO CONNECT
        await ws.send("421" + json.dumps(["join", {"space_id": sid}]))
        while not str(await ws.recv()).startswith("431"):  # the join ack
            pass
        for sock in (w, r):
            await sock.call("join", {"space_id": sid})
        metrics = running.hub.metrics

        # ~20 KB strokes until the hub gives up on the stalled reader (bounded: 16 MB at most).
        big = [[float(i), float(i % 97), 0.5] for i in range(1500)]
        sent = 0
        while metrics.slow_consumers_dropped._value.get() == 0:
            assert sent < 800, "the stalled reader was never disconnected"
            ack = await w.call("stroke", stroke(sid, points=big))
            assert ack["ok"] is True
            sent += 1
        # Its presence ends; the healthy reader got every stroke, in order.
        await r.wait_for("presence", lambda e: e["action"] == "leave" and e["user"]["user_id"] == stalled.user_id)
        await r.wait_for("stroke", lambda _: len(r.events["stroke"]) >= sent, timeout=15)
        seqs = [e["seq"] for e in r.events["stroke"]]
        assert seqs == sorted(seqs) and len(set(seqs)) == sent
        await healthy(w, sid)
    finally:
        await ws.close()
        await w.close()
        await r.close()
