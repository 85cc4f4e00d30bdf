"""The personal room: a feed event reaches its recipients' sockets on every instance, and only theirs."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from hub.config import Settings
from hub.events import BusEvent, people_topic, user_room
from hub.runtime import Hub
from hub.services.personal import RECIPIENTS_PER_EVENT
from tests.helpers import auth, register
from tests.support.realtime import User, connect, guest
from tests.support.server import running_hub
from tests.support.services import RedisHandle


@pytest.fixture
async def pair(
    make_settings: Callable[..., Settings], redis_service: RedisHandle, redis_prefix: str
) -> AsyncIterator[list[tuple[str, Any]]]:
    """Two hub instances sharing PostgreSQL and Redis: [(base url, asgi app), ...]."""
    settings = make_settings(redis_url=redis_service.url, redis_prefix=redis_prefix)
    async with contextlib.AsyncExitStack() as stack:
        yield [await stack.enter_async_context(running_hub(settings)) for _ in range(2)]


def hub_of(app: Any) -> Hub:
    return app.other_asgi_app.ctx.hub  # type: ignore[no-any-return]


def in_room(app: Any, user_id: str) -> list[str]:
    """The sids of this instance's sockets in the user's personal room."""
    return [sid for sid, _ in app.other_asgi_app.ctx.sio.manager.get_participants("/", user_room(user_id))]


async def account(client: httpx.AsyncClient) -> User:
    """A registered account; `name` is its username."""
    body = await register(client)
    return User(body["access_token"], body["user"]["id"], body["user"]["username"])


async def test_feed_post_reaches_the_user_on_every_instance_and_nobody_else(pair: list[tuple[str, Any]]) -> None:
    (url_1, app_1), (url_2, app_2) = pair
    async with httpx.AsyncClient(base_url=url_1, timeout=10) as c:
        ann, bob, visitor = await account(c), await account(c), await guest(c)
        ann_1, ann_2, bob_2, guest_1 = (
            await connect(url_1, ann),
            await connect(url_2, ann),
            await connect(url_2, bob),
            await connect(url_1, visitor),
        )
        sockets = (ann_1, ann_2, bob_2, guest_1)
        try:
            assert len(in_room(app_1, ann.user_id)) == len(in_room(app_2, ann.user_id)) == 1
            assert in_room(app_1, visitor.user_id) == []  # guests get no feed, so no personal room

            post_id = str(uuid.uuid4())
            await hub_of(app_1).personal.feed_post([ann.user_id], post_id, bob.user_id)
            for sock in (ann_1, ann_2):  # the local socket and, through Redis, the other instance's
                assert await sock.wait_for("feed_post") == {"id": post_id, "author": bob.user_id}

            # Bob's own push comes after Ann's on the same bus; his socket has nothing else.
            mine = str(uuid.uuid4())
            await hub_of(app_1).personal.feed_post([bob.user_id, visitor.user_id], mine, ann.user_id)
            await bob_2.wait_for("feed_post")
            assert bob_2.events["feed_post"] == [{"id": mine, "author": ann.user_id}]
            assert len(ann_1.events["feed_post"]) == len(ann_2.events["feed_post"]) == 1
            assert "feed_post" not in guest_1.events

            # Logging out closes Ann's sockets everywhere, and with them her room.
            assert (await c.post("/auth/logout", headers=auth(ann.token))).status_code == 204
            await asyncio.wait_for(ann_1.disconnected.wait(), 5)
            await asyncio.wait_for(ann_2.disconnected.wait(), 5)
            assert ann_1.events["kicked"][0]["code"] == ann_2.events["kicked"][0]["code"] == "token_revoked"
            await _until(lambda: not in_room(app_1, ann.user_id) and not in_room(app_2, ann.user_id))
            assert len(in_room(app_2, bob.user_id)) == 1
        finally:
            for sock in sockets:
                await sock.close()


async def test_revocations_on_the_user_topic_still_close_only_that_session(pair: list[tuple[str, Any]]) -> None:
    (url_1, _app_1), (url_2, app_2) = pair
    async with httpx.AsyncClient(base_url=url_1, timeout=10) as c:
        ann = await account(c)
        r = await c.post("/auth/login", json={"username": ann.name, "password": "correct horse battery"})
        assert r.status_code == 200, r.text
        other_session = User(r.json()["access_token"], ann.user_id, ann.name)
        kept, closed = await connect(url_2, other_session), await connect(url_2, ann)
        try:
            assert (await c.post("/auth/logout", headers=auth(ann.token))).status_code == 204
            await asyncio.wait_for(closed.disconnected.wait(), 5)
            post_id = str(uuid.uuid4())
            await hub_of(app_2).personal.feed_post([ann.user_id], post_id, ann.user_id)
            assert await kept.wait_for("feed_post") == {"id": post_id, "author": ann.user_id}
            assert "feed_post" not in closed.events
        finally:
            await kept.close()
            await closed.close()


async def test_a_post_to_thousands_is_a_few_bus_events_that_reach_each_connected_follower_once(
    pair: list[tuple[str, Any]],
) -> None:
    (url_1, app_1), (url_2, app_2) = pair
    async with httpx.AsyncClient(base_url=url_1, timeout=10) as c:
        ann, bob = await account(c), await account(c)
        ann_2, bob_1 = await connect(url_2, ann), await connect(url_1, bob)
        seen: list[str] = []

        async def count(topic: str, event: dict[str, Any]) -> None:
            if event.get("type") == BusEvent.FEED_POST:
                seen.append(topic)

        hub_of(app_2).bus.subscribe(count)
        try:
            # 2,500 recipients: Bob in the first batch, Ann in the third, the rest with no socket.
            others = [str(uuid.uuid4()) for _ in range(2_498)]
            recipients = [*others[:10], bob.user_id, *others[10:2_000], ann.user_id, *others[2_000:]]
            post_id = str(uuid.uuid4())
            await hub_of(app_1).personal.feed_post(recipients, post_id, bob.user_id)
            for sock in (ann_2, bob_1):
                assert await sock.wait_for("feed_post") == {"id": post_id, "author": bob.user_id}
            await _until(lambda: len(seen) == -(-len(recipients) // RECIPIENTS_PER_EVENT))
            assert set(seen) == {people_topic()}
            # A marker after the batches: had a batch delivered twice, it would show before it.
            marker = str(uuid.uuid4())
            await hub_of(app_1).personal.feed_post([ann.user_id, bob.user_id], marker, ann.user_id)
            for sock in (ann_2, bob_1):
                await sock.wait_for("feed_post", lambda e: e["id"] == marker)
                assert [e["id"] for e in sock.events["feed_post"]] == [post_id, marker]
        finally:
            await ann_2.close()
            await bob_1.close()


async def _until(condition: Callable[[], bool], timeout: float = 5) -> None:
    """Wait for server-side state the client cannot observe (room membership after a disconnect)."""

    async def poll() -> None:
        while True:
            if condition():
                return
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)
