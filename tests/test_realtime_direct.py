"""The direct write path of `realtime.direct`: frame bytes, the lean queue, and order on the wire."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from websockets.frames import Frame, Opcode

from realtime.direct import LeanQueue, text_frame
from tests.support.realtime import connect, guest, space, stroke
from tests.support.server import Running


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
