"""Two hub instances sharing PostgreSQL and Redis: strokes, presence, replay and revocation cross over."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from hub.config import Settings
from hub.ports.whiteboard import PresenceEntry
from storage.redis.presence import RedisPresence
from tests.support.realtime import Board, connect, guest, space, stroke, two_on_a_board
from tests.support.server import running_hub
from tests.support.services import RedisHandle


@pytest.fixture
async def pair(
    make_settings: Callable[..., Settings], redis_service: RedisHandle, redis_prefix: str
) -> AsyncIterator[tuple[str, str, httpx.AsyncClient]]:
    settings = make_settings(redis_url=redis_service.url, redis_prefix=redis_prefix, presence_ttl=1)
    async with contextlib.AsyncExitStack() as stack:
        url_a, _ = await stack.enter_async_context(running_hub(settings))
        url_b, _ = await stack.enter_async_context(running_hub(settings))
        c = await stack.enter_async_context(httpx.AsyncClient(base_url=url_a, timeout=10))
        yield url_a, url_b, c


@pytest.fixture
async def across(pair: Any) -> AsyncIterator[Board]:
    """Alice's socket on instance A, Bob's on instance B, both on one space."""
    url_a, url_b, c = pair
    async with two_on_a_board(url_a, c, bob_url=url_b) as board:
        yield board


async def test_strokes_and_presence_cross_instances(pair: Any, across: Board) -> None:
    url_a = pair[0]
    a, b, sid, alice, bob = across.a, across.b, across.space_id, across.alice, across.bob
    await a.call("join", {"space_id": sid})
    jb = await b.call("join", {"space_id": sid})
    assert {u["user_id"] for u in jb["presence"]} == {alice.user_id, bob.user_id}
    await a.wait_for("presence", lambda p: p["action"] == "join" and p["user"]["user_id"] == bob.user_id)

    sent = [stroke(sid) for _ in range(5)]
    acks = await asyncio.gather(*(a.call("stroke", s) for s in sent[:3]), *(b.call("stroke", s) for s in sent[3:]))
    seqs = sorted(ack["seq"] for ack in acks)
    assert seqs == list(range(jb["seq"] + 1, jb["seq"] + 6))  # one gap-free order across instances
    for s in sent[:3]:
        await b.wait_for("stroke", lambda e, s=s: e["id"] == s["id"])
    for s in sent[3:]:
        await a.wait_for("stroke", lambda e, s=s: e["id"] == s["id"])
    assert len(a.events["stroke"]) == 2 and len(b.events["stroke"]) == 3  # no echo, no duplicates

    await a.call("cursor", {"space_id": sid, "x": 1, "y": 2})
    assert (await b.wait_for("cursor"))["user_id"] == alice.user_id

    # Resume on the other instance from the shared Redis Stream.
    await b.close()
    missed = await a.call("stroke", stroke(sid))
    b2 = await connect(url_a, bob)
    resumed = await b2.call("join", {"space_id": sid, "since": {"seq": seqs[-1], "epoch": jb["epoch"]}})
    assert resumed["recovered"] is True and [e["seq"] for e in resumed["events"]] == [missed["seq"]]
    await b2.close()
    left = await a.wait_for("presence", lambda p: p["action"] == "leave")
    assert left["user"]["user_id"] == bob.user_id


async def test_dead_instance_presence_expires_everywhere(
    pair: Any, redis_service: RedisHandle, redis_prefix: str
) -> None:
    url_a, _url_b, c = pair
    alice = await guest(c)
    sid = await space(c, alice)
    a = await connect(url_a, alice)
    redis = Redis.from_url(redis_service.url)
    try:
        await a.call("join", {"space_id": sid})
        # A lease exactly as a hub process writes it, whose process then died (nobody renews it).
        ghost = PresenceEntry("ghost-conn", "ghost-user", "Ghost", "#000000")
        await RedisPresence(redis, redis_prefix).put(sid, ghost, 1)
        listed = await a.call("join", {"space_id": sid})
        assert "ghost-user" in {u["user_id"] for u in listed["presence"]}
        # (The heartbeat may first tell the room about the unannounced lease; what matters is the leave.)
        gone = await a.wait_for(
            "presence", lambda p: p["user"]["user_id"] == "ghost-user" and p["action"] == "leave", timeout=4
        )
        assert gone["user"]["connections"] == 0
        assert alice.user_id in {e.user_id for e in await RedisPresence(redis, redis_prefix).entries(sid)}
    finally:
        await a.close()
        await redis.aclose()


async def test_removal_disconnects_sockets_on_the_other_instance(pair: Any) -> None:
    _url_a, url_b, c = pair  # the REST call goes to instance A, the socket lives on B
    owner, member = await guest(c), await guest(c)
    sid = await space(c, owner, member)
    m = await connect(url_b, member)
    try:
        await m.call("join", {"space_id": sid})
        r = await c.delete(
            f"/spaces/{sid}/members/{member.user_id}", headers={"Authorization": f"Bearer {owner.token}"}
        )
        assert r.status_code == 204
        await asyncio.wait_for(m.disconnected.wait(), 2)
        assert m.events["kicked"][0]["code"] == "member_removed"
    finally:
        await m.close()


async def test_a_retried_stroke_whose_fan_out_was_lost_reaches_the_other_instance(
    make_settings: Callable[..., Settings], redis_service: RedisHandle, redis_prefix: str
) -> None:
    """The commit happened, the publish to Redis did not (Redis unreachable at that moment): the author's
    retry of the same id is answered as a duplicate and must still fan the stroke out."""
    settings = make_settings(redis_url=redis_service.url, redis_prefix=redis_prefix)
    async with contextlib.AsyncExitStack() as stack:
        url_a, app_a = await stack.enter_async_context(running_hub(settings))
        url_b, _ = await stack.enter_async_context(running_hub(settings))
        c = await stack.enter_async_context(httpx.AsyncClient(base_url=url_a, timeout=10))
        alice, bob = await guest(c, "Alice"), await guest(c, "Bob")
        sid = await space(c, alice, bob)
        a, b = await connect(url_a, alice), await connect(url_b, bob)
        stack.push_async_callback(a.close)
        stack.push_async_callback(b.close)
        await a.call("join", {"space_id": sid})
        await b.call("join", {"space_id": sid})

        body = stroke(sid)
        redis = app_a.other_asgi_app.ctx.hub.bus._redis
        publish = redis.publish
        failed: list[bytes] = []

        async def publish_failing_once(channel: Any, data: bytes) -> Any:
            if body["id"].encode() in data and not failed:
                failed.append(data)
                raise RedisConnectionError("Connection refused.")
            return await publish(channel, data)

        redis.publish = publish_failing_once
        try:
            first = await a.call("stroke", body)
        finally:
            redis.publish = publish
        assert first["ok"] is True and len(failed) == 1  # committed, and its fan-out lost

        retry = await a.call("stroke", body)  # as the web client does when an ack is in doubt
        assert retry == first
        seen = await b.wait_for("stroke", lambda e: e["id"] == body["id"])
        assert seen["seq"] == first["seq"]
