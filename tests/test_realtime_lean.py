"""The lean per-connection structures of `realtime.fastpath`: same behaviour, less state per idle socket."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter
from typing import Any

import bidict
import engineio.packet
import pytest
import socketio
import websockets
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.frames import Frame, Opcode
from websockets.protocol import Protocol
from websockets.server import ServerProtocol

from realtime.fastpath import Deadline, IndexedManager, LeanEvent, LeanQueue, Timers
from realtime.fastpath.uvicorn_protocol import LeanWebSocketProtocol, release_handshake_parser
from tests.support.realtime import Sock, connect, guest, space, stroke
from tests.support.server import Running
from tests.support.waiting import eventually


async def test_lean_event_behaves_like_asyncio_event() -> None:
    e = LeanEvent()
    assert not e.is_set()
    waiters = [asyncio.create_task(e.wait()) for _ in range(3)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    e.set()
    assert await asyncio.wait_for(asyncio.gather(*waiters), 1) == [True, True, True]
    assert await e.wait() is True  # set: returns at once
    e.clear()
    assert not e.is_set()
    # A cancelled waiter leaves no trace; a later set() still wakes the others.
    cancelled, kept = asyncio.create_task(e.wait()), asyncio.create_task(e.wait())
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    e.set()
    assert await asyncio.wait_for(kept, 1) is True


async def test_lean_queue_wakes_several_consumers_in_order() -> None:
    q = LeanQueue()
    first, second, third = (asyncio.create_task(q.get()) for _ in range(3))
    await asyncio.sleep(0)
    assert q.waiting()
    first.cancel()  # a consumer that gives up is skipped, not woken
    with pytest.raises(asyncio.CancelledError):
        await first
    q.put_nowait("a")
    q.put_nowait("b")
    assert await asyncio.wait_for(asyncio.gather(second, third), 1) == ["a", "b"]
    assert not q.waiting() and q.empty()


# Engine.IO pings every second, so the heartbeat is observable within a test.
heartbeat_every_second = pytest.mark.settings(ws_ping_interval=1, ws_ping_timeout=1)


def _server_tasks() -> Counter[str]:
    return Counter(t.get_coro().__qualname__ for t in asyncio.all_tasks())  # type: ignore[union-attr]


@heartbeat_every_second
def _settled(grown: Counter[str]) -> Counter[str] | None:
    """`grown` once it is the steady state of three idle sockets (two tasks each), else None."""
    per_wait = (
        "AsyncSocket._send_ping",
        "AsyncSocket._websocket_handler.<locals>.websocket_wait",
        "AsyncSocket._websocket_handler.<locals>.writer",
        "LeanQueue.get",
    )
    steady = grown["_lean_writer"] == 3 and grown["WebSocketsSansIOProtocol.run_asgi"] == 3
    return grown if steady and not any(grown[name] for name in per_wait) else None


@heartbeat_every_second
async def test_idle_websocket_keeps_lean_state_and_two_tasks(running: Running) -> None:
    url, app, c = running.url, running.app, running.http
    sio = app.other_asgi_app.ctx.sio
    users = [await guest(c) for _ in range(3)]
    sid = await space(c, users[0], *users[1:])
    before = _server_tasks()
    socks = [await connect(url, u) for u in users]
    try:
        for s in socks:
            assert (await s.call("join", {"space_id": sid}))["ok"]
        # The joins are acked; the connects' short-lived tasks may still be finishing.
        grown = await eventually(lambda: _settled(_server_tasks() - before), timeout=5)
        # Per socket: uvicorn's ASGI task (which also reads) and the Engine.IO writer; no reader task,
        # no per-wait `wait_for` task, no sleeping ping task.
        assert grown["_lean_writer"] == 3
        assert grown["WebSocketsSansIOProtocol.run_asgi"] == 3
        for name in (
            "AsyncSocket._send_ping",
            "AsyncSocket._websocket_handler.<locals>.websocket_wait",
            "AsyncSocket._websocket_handler.<locals>.writer",
            "LeanQueue.get",
        ):
            assert grown[name] == 0, name
        # Every socket's next ping and its two bounded waits share one event-loop timer.
        assert len(sio.eio.start_background_task.__self__.timers) >= 3 * 3
        assert len(sio.writers.by_sid) == 3
        for eio_sid, ws in sio.writers.by_sid.items():
            proto = ws.proto
            assert isinstance(proto, LeanWebSocketProtocol)
            assert isinstance(proto.queue, LeanQueue) and isinstance(proto.writable, LeanEvent)
            # The handshake is let go of: no request or response, a parser without the request in it,
            # and the headers only in the WSGI environ python-socketio keeps.
            assert not hasattr(proto, "request") and not hasattr(proto, "response")
            assert len(vars(proto)) <= 30  # small enough for a key-sharing instance dict
            assert proto.conn.parser.gi_code is Protocol.parse.__code__
            assert proto.scope["headers"] == []
            assert sio.eio.sockets[eio_sid].closed is False
            assert ws.socket.sid == eio_sid
        for sock in socks:
            environ = sio.get_environ(sock.client.get_sid("/"))
            assert environ["HTTP_UPGRADE"].lower() == "websocket"
        # Still fully working: a stroke reaches the others.
        ack = await socks[0].call("stroke", stroke(sid))
        assert ack["ok"]
        for s in socks[1:]:
            await s.wait_for("stroke", lambda e: e["seq"] == ack["seq"])
    finally:
        for s in socks:
            await s.close()


async def _recv(ws: Any, timeout: float) -> str:
    message = await asyncio.wait_for(ws.recv(), timeout)
    assert isinstance(message, str)
    return message


@heartbeat_every_second
async def test_engineio_heartbeat_pings_on_time_and_drops_a_silent_client(running: Running) -> None:
    url = running.url
    ws_url = url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
    async with websockets.connect(ws_url) as ws:
        opened = await _recv(ws, 2)
        assert opened.startswith("0") and json.loads(opened[1:])["pingInterval"] == 1000
        # Answered pings keep coming, one interval apart.
        stamps = []
        for _ in range(3):
            assert await _recv(ws, 3) == "2"
            stamps.append(time.monotonic())
            await ws.send("3")
        gaps = [b - a for a, b in itertools.pairwise(stamps)]
        assert all(0.7 < g < 2.0 for g in gaps), gaps
        # A client that stops answering is dropped after the ping timeout.
        assert await _recv(ws, 3) == "2"
        silent = time.monotonic()
        with pytest.raises(websockets.ConnectionClosed):
            while True:
                await _recv(ws, 10)  # a CLOSE packet ("1") may come first
        assert time.monotonic() - silent < 6


@heartbeat_every_second
async def test_polling_then_upgrade_keeps_the_library_path(running: Running) -> None:
    url, c = running.url, running.http
    alice, bob = await guest(c), await guest(c)
    sid = await space(c, alice, bob)
    polled = Sock()
    pongs = 0
    send_packet = polled.client.eio._send_packet

    async def counting_pongs(pkt: Any) -> None:  # the client answers every PING it gets with a PONG
        nonlocal pongs
        pongs += pkt.packet_type == engineio.packet.PONG
        await send_packet(pkt)

    polled.client.eio._send_packet = counting_pongs
    await polled.client.connect(url, auth={"token": bob.token}, transports=["polling", "websocket"], wait_timeout=5)
    sender = await connect(url, alice)
    try:
        assert (await polled.call("join", {"space_id": sid}))["ok"]
        assert (await sender.call("join", {"space_id": sid}))["ok"]
        ack = await sender.call("stroke", stroke(sid))
        await polled.wait_for("stroke", lambda e: e["seq"] == ack["seq"])
        # Past a few ping intervals (two pings answered), the upgraded socket is alive and still delivering.
        answered = pongs
        await eventually(lambda: pongs >= answered + 2, timeout=10, interval=0.1, message="the hub did not ping twice")
        ack = await sender.call("stroke", stroke(sid))
        await polled.wait_for("stroke", lambda e: e["seq"] == ack["seq"])
        assert polled.client.connected and polled.client.transport() == "websocket"
    finally:
        await polled.close()
        await sender.close()


def _handshake() -> bytes:
    return (
        b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        b"User-Agent: test\r\n\r\n"
    )


def _client_frame(text: str) -> bytes:
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=True, extensions=[])


def _accepted() -> ServerProtocol:
    conn = ServerProtocol()
    conn.receive_data(_handshake())
    [request] = conn.events_received()
    conn.send_response(conn.accept(request))
    conn.data_to_send()
    return conn


def test_handshake_parser_is_released_only_between_frames_and_parsing_goes_on() -> None:
    conn = _accepted()
    frame = _client_frame('42["stroke",{}]')
    conn.receive_data(frame[:3])  # a partial frame: the parser is inside Frame.parse
    assert not release_handshake_parser(conn)
    conn.receive_data(frame[3:])
    assert [e.data for e in conn.events_received()] == [b'42["stroke",{}]']
    old = conn.parser
    assert release_handshake_parser(conn)
    assert conn.parser is not old and conn.parser.gi_code is Protocol.parse.__code__
    assert not release_handshake_parser(conn)  # already released: not the handshake parser any more
    # Frames whole, split byte by byte and several in one read all still parse, in order.
    conn.receive_data(_client_frame("3"))
    for byte in _client_frame("2probe"):
        conn.receive_data(bytes([byte]))
    conn.receive_data(_client_frame("a") + _client_frame("b" * 300))
    assert [e.data for e in conn.events_received()] == [b"3", b"2probe", b"a", b"b" * 300]
    # The closing handshake is unchanged.
    conn.receive_data(Frame(Opcode.CLOSE, b"\x03\xe8").serialize(mask=True, extensions=[]))
    assert conn.close_rcvd is not None and conn.close_rcvd.code == 1000
    assert conn.data_to_send()  # the close reply


async def test_timers_bound_a_wait_like_asyncio_timeout() -> None:
    timers = Timers()
    gate = asyncio.Event()

    async def waiter(timeout: float, kicks: int) -> str:
        deadline = Deadline.start(timers, timeout)
        try:
            while True:
                try:
                    with deadline:
                        await gate.wait()
                except asyncio.CancelledError:
                    return "timed out" if deadline.fired else "cancelled"
                gate.clear()
                kicks -= 1
                if kicks < 0:
                    return "woken"
        finally:
            deadline.finish()

    # Deadlines and kicks are a few tenths of a second apart: a busy machine's scheduling jitter is not.
    started = time.monotonic()
    assert await waiter(0.5, 0) == "timed out"
    assert 0.4 < time.monotonic() - started < 2
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]
    # Activity moves the deadline: woken three times 0.3 s apart, each wait bounded at 0.5 s.
    kicked = asyncio.create_task(waiter(0.5, 2))
    for _ in range(3):
        await asyncio.sleep(0.3)
        gate.set()
    assert await kicked == "woken"
    # Cancellation from outside is told apart from the deadline.
    outer = asyncio.create_task(waiter(5, 0))
    await asyncio.sleep(0.01)
    outer.cancel()
    assert await outer == "cancelled"
    # Many entries, one timer: each fires at its own time.
    fired: list[int] = []
    now = timers.now()
    for n in (3, 1, 2):
        timers.push(now + n / 100, lambda arg, _now: fired.append(arg), n)
    await eventually(lambda: len(fired) == 3, timeout=2, interval=0.01)
    assert fired == [1, 2, 3]


# --- the room index ---------------------------------------------------------------------------------

_room_ops = st.lists(
    st.tuples(
        st.sampled_from(["connect", "enter", "leave", "disconnect", "close"]),
        st.integers(0, 5),  # which socket
        st.sampled_from(["a", "b", "c"]),  # which room
    ),
    max_size=60,
)


def _pre_connect(manager: Any, sid: str) -> str:
    """What `pre_connect` does, with a chosen sid (the library draws it from its Engine.IO server)."""
    manager.basic_enter_room(sid, "/", None, eio_sid=f"e-{sid}")
    manager.basic_enter_room(sid, "/", sid, eio_sid=f"e-{sid}")
    manager.pending_connect.setdefault("/", []).append(sid)
    return sid


@settings(max_examples=200, deadline=None)
@given(ops=_room_ops)
def test_indexed_manager_keeps_the_rooms_the_library_keeps(ops: list[tuple[str, int, str]]) -> None:
    """Any sequence of connects, joins, leaves, disconnects and room closes leaves the indexed manager
    with exactly the library's room tables, and `get_rooms` answers the same."""
    ours, theirs = IndexedManager(), socketio.AsyncManager()
    assert ours.indexed
    sids: dict[int, tuple[str, str]] = {}
    for op, n, room in ops:
        if op == "connect" and n not in sids:
            sids[n] = (_pre_connect(ours, f"s{n}"), _pre_connect(theirs, f"s{n}"))
        elif n in sids:
            sid = sids[n][0]
            if op == "enter":
                ours.basic_enter_room(sid, "/", room)
                theirs.basic_enter_room(sid, "/", room)
            elif op == "leave":
                ours.basic_leave_room(sid, "/", room)
                theirs.basic_leave_room(sid, "/", room)
            elif op == "disconnect":
                ours.basic_disconnect(sid, "/")
                theirs.basic_disconnect(sid, "/")
                del sids[n]
            elif op == "close":
                ours.basic_close_room(room, "/")
                theirs.basic_close_room(room, "/")
        assert ours.rooms == theirs.rooms and ours.pending_connect == theirs.pending_connect
        for sid, _ in sids.values():
            assert sorted(map(str, ours.get_rooms(sid, "/"))) == sorted(map(str, theirs.get_rooms(sid, "/")))


def test_a_disconnect_looks_at_its_own_rooms_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """With 2,000 sockets, one disconnect tests its own few rooms, not every socket's (the library
    tests all 2,000 sid rooms, and a restart with N sockets N² of them)."""
    manager = IndexedManager()
    sids = [_pre_connect(manager, f"s{i}") for i in range(2000)]
    manager.basic_enter_room(sids[0], "/", "a-room")
    tested = 0
    contains = bidict.BidictBase.__contains__

    def counting(self: Any, key: Any) -> bool:
        nonlocal tested
        tested += 1
        return bool(contains(self, key))

    monkeypatch.setattr(bidict.BidictBase, "__contains__", counting)
    manager.basic_disconnect(sids[0], "/")
    assert tested < 10
    assert manager.get_rooms(sids[1], "/") == [sids[1]] and sids[0] not in manager.rooms["/"][None]
    monkeypatch.setattr(bidict.BidictBase, "__contains__", contains)
    library = socketio.AsyncManager()
    others = [_pre_connect(library, f"s{i}") for i in range(2000)]
    monkeypatch.setattr(bidict.BidictBase, "__contains__", counting)
    tested = 0
    library.basic_disconnect(others[0], "/")
    assert tested >= 2000  # what the index saves
