"""The direct write path of `realtime.fastpath`: frame bytes, the lean queue, order on the wire, and its use."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

import engineio
import httpx
import pytest
from websockets.frames import Frame, Opcode

from hub.config import Settings
from realtime.fastpath import LeanQueue, direct, handler, inactive_parts, install, text_frame
from tests.support.realtime import connect, guest, space, stroke
from tests.support.server import Running, running_hub


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70000])
def test_text_frame_matches_websockets_serialisation(size: int) -> None:
    payload = ("é" * size).encode()[:size]
    expected = Frame(Opcode.TEXT, payload).serialize(mask=False, extensions=[])
    assert text_frame(payload) == expected


async def test_lean_queue_behaves_like_the_asyncio_queue_engineio_uses() -> None:
    q = LeanQueue()
    assert q.empty() and not q.waiting()
    getter = asyncio.create_task(q.get())
    await asyncio.sleep(0)  # let the getter block
    assert q.waiting()
    await q.put("a")
    q.put_nowait("b")
    assert await asyncio.wait_for(getter, 1) == "a"
    assert not q.waiting() and q.qsize() == 1
    assert q.get_nowait() == "b"
    with pytest.raises(asyncio.QueueEmpty):
        q.get_nowait()
    # A getter cancelled by a timeout leaves no trace, and the next one still gets the item.
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(q.get(), 0.01)
    assert not q.waiting()
    q.put_nowait("c")
    assert await asyncio.wait_for(q.get(), 1) == "c"
    # join() returns once every item was marked done.
    joined = asyncio.create_task(q.join())
    await asyncio.sleep(0)
    assert not joined.done()
    q.task_done()
    q.task_done()
    await asyncio.sleep(0)
    assert not joined.done()  # "c" is not done yet
    q.task_done()
    await asyncio.wait_for(joined, 1)
    with pytest.raises(ValueError):
        q.task_done()


@pytest.mark.settings(stroke_rate=10_000, stroke_burst=10_000)
async def test_concurrent_senders_are_delivered_complete_in_seq_order_and_acked_after(running: Running) -> None:
    """Many strokes from several sockets at once: batches are pipelined and written directly, yet
    every receiver sees every other sender's stroke once, in seq order, and each ack's seq matches."""
    url, c = running.url, running.http
    users = [await guest(c, f"U{i}") for i in range(4)]
    sid = await space(c, users[0], *users[1:])
    socks = [await connect(url, u) for u in users]
    try:
        joins = [await s.call("join", {"space_id": sid}) for s in socks]
        start = joins[-1]["seq"]
        bodies: list[list[dict[str, Any]]] = [[stroke(sid) for _ in range(40)] for _ in socks]
        acks = await asyncio.gather(*(s.call("stroke", b) for s, sent in zip(socks, bodies, strict=True) for b in sent))
        assert all(a["ok"] for a in acks)
        seq_of = {b["id"]: a["seq"] for b, a in zip([b for sent in bodies for b in sent], acks, strict=True)}
        assert sorted(seq_of.values()) == list(range(start + 1, start + 1 + 160))
        for n, s in enumerate(socks):
            others = {b["id"] for m, sent in enumerate(bodies) if m != n for b in sent}

            def complete(_event: Any, s: Any = s, want: int = len(others)) -> bool:
                return len(s.events.get("stroke", [])) >= want

            await s.wait_for("stroke", complete)
            got = s.events["stroke"]
            assert {e["id"] for e in got} == others and len(got) == len(others)
            seqs = [e["seq"] for e in got]
            assert seqs == sorted(seqs)
            assert all(e["seq"] == seq_of[e["id"]] for e in got)
    finally:
        for s in socks:
            await s.close()


@contextlib.contextmanager
def fastpath_warnings() -> Iterator[list[logging.LogRecord]]:
    """The fast path's warnings (on its own logger: a running hub replaces the root handlers)."""
    records: list[logging.LogRecord] = []
    sink = logging.Handler(logging.WARNING)
    sink.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("realtime.fastpath")
    level = logger.level
    logger.addHandler(sink)
    logger.setLevel(logging.WARNING)
    try:
        yield records
    finally:
        logger.removeHandler(sink)
        logger.setLevel(level)


def test_install_warns_once_naming_every_part_that_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    with fastpath_warnings() as records:
        install(engineio.AsyncServer(async_mode="asgi"))
    assert records == []  # the libraries are the ones the fast path was written against
    # A python-engineio without the functions the lean handler and the shared ping timer stand in for.
    monkeypatch.setattr(handler, "LIBRARY_HANDLER", None)
    monkeypatch.setattr(handler, "LIBRARY_SEND_PING", None)
    with fastpath_warnings() as records:
        install(engineio.AsyncServer(async_mode="asgi"))
    [record] = records
    message = record.getMessage()
    assert "lean WebSocket handler" in message and "shared ping timer" in message
    assert record.fields["inactive"] == inactive_parts(engineio.AsyncServer(async_mode="asgi"))  # type: ignore[attr-defined]


@pytest.mark.parametrize("guard_holds", [True, False], ids=["direct", "guard-fails"])
async def test_fan_out_and_acks_take_the_direct_write_path(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch, guard_holds: bool
) -> None:
    """Counted through the direct writer: every stroke's event to the other socket and its ack to the
    sender go past the Engine.IO queue. When a guard falls back (here: the ASGI server's WebSocket is
    not the uvicorn protocol the direct path checks for) strokes still arrive, by the library's path,
    nothing is counted, and one warning says which part stood down."""
    if not guard_holds:
        monkeypatch.setattr(direct, "WebSocketsSansIOProtocol", type("OtherProtocol", (), {}))
    strokes = 5
    with fastpath_warnings() as warnings:
        async with running_hub(make_settings()) as (url, app), httpx.AsyncClient(base_url=url, timeout=10) as c:
            sio = app.other_asgi_app.ctx.sio
            assert inactive_parts(sio.eio) == []
            alice, bob = await guest(c), await guest(c)
            sid = await space(c, alice, bob)
            sender, receiver = await connect(url, alice), await connect(url, bob)
            try:
                for sock in (sender, receiver):
                    assert (await sock.call("join", {"space_id": sid}))["ok"]
                before = sio.writers.direct_frames
                for _ in range(strokes):
                    ack = await sender.call("stroke", stroke(sid))
                    assert ack["ok"]
                    await receiver.wait_for("stroke", lambda e, seq=ack["seq"]: e["seq"] == seq)
                direct_frames = sio.writers.direct_frames - before
            finally:
                await sender.close()
                await receiver.close()
    if guard_holds:
        assert direct_frames >= 2 * strokes
        assert warnings == []
    else:
        assert direct_frames == 0
        [warning] = warnings
        assert "direct writes" in warning.getMessage()
