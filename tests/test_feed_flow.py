"""The home feed over HTTP, with the cache in memory (one process) and in Redis (scaled out).

Contents (follows, visibility, blocks, mutes, follow requests), pages both ways while posts arrive,
deletes and graph changes taking effect at once, refresh, hot authors, live pushes, and the
database answering when the cache is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from hub.config import Settings
from hub.ports.feed import Window
from hub.runtime import Hub
from storage.redis.feed import RedisFeedCache
from tests.helpers import auth
from tests.support.realtime import User, connect
from tests.support.server import running_hub
from tests.support.services import RedisHandle
from tests.test_posts_flow import Account, account, call, publish, sql


@dataclass
class Feeds:
    url: str
    client: httpx.AsyncClient
    hub: Hub


def _open(settings: Settings) -> contextlib.AbstractAsyncContextManager[Feeds]:
    @contextlib.asynccontextmanager
    async def run() -> AsyncIterator[Feeds]:
        async with running_hub(settings) as (url, app), httpx.AsyncClient(base_url=url, timeout=10) as client:
            yield Feeds(url, client, app.other_asgi_app.ctx.hub)

    return run()


@pytest.fixture(params=["memory", "redis"])
async def feeds(
    request: pytest.FixtureRequest,
    make_settings: Callable[..., Settings],
    redis_service: RedisHandle,
    redis_prefix: str,
) -> AsyncIterator[Feeds]:
    overrides: dict[str, Any] = {"post_rate_limit": "100000/minute", "follow_rate_limit": "100000/minute"}
    if request.param == "redis":
        overrides |= {"redis_url": redis_service.url, "redis_prefix": redis_prefix}
    async with _open(make_settings(**overrides)) as running:
        yield running


async def feed(f: Feeds, who: Account, **params: Any) -> tuple[list[str], dict[str, Any], httpx.Response]:
    r = await f.client.get("/feed", params=params, headers=auth(who[0]))
    assert r.status_code == 200, r.text
    body = r.json()
    return [p["id"] for p in body["items"]], body, r


async def follow(f: Feeds, who: Account, other: Account, action: str = "follow") -> None:
    await call(f.client, who, "POST", f"/users/{other[1]}/{action}", 200)


async def test_contents_visibility_blocks_and_mutes(feeds: Feeds) -> None:
    c = feeds.client
    me, friend, stranger, muted, blocker, locked = [await account(c) for _ in range(6)]
    for other in (friend, muted, blocker):
        await follow(feeds, me, other)
    await call(c, locked, "PATCH", f"/users/{locked[1]}", 200, json={"locked": True})
    await follow(feeds, me, locked)  # a request, not yet an edge
    assert (await feed(feeds, me))[0] == []  # the cache now holds an empty feed

    mine = await publish(c, me, text="my own", visibility="followers")
    public = await publish(c, friend, text="public")
    unlisted = await publish(c, friend, text="unlisted", visibility="unlisted")
    followers_only = await publish(c, friend, text="followers", visibility="followers")
    theirs = await publish(c, stranger, text="not followed")
    await publish(c, muted, text="muted")
    await publish(c, blocker, text="blocker")
    await publish(c, locked, text="locked", visibility="followers")
    await call(c, me, "POST", f"/users/{muted[1]}/mute", 200)
    await call(c, blocker, "POST", f"/users/{me[1]}/block", 200)
    await feeds.hub.feed.drained()

    ids, body, r = await feed(feeds, me)
    assert ids == [followers_only["id"], unlisted["id"], public["id"], mine["id"]]
    assert body["items"][0] == await call(c, me, "GET", f"/posts/{followers_only['id']}", 200)  # the same shape
    assert 'rel="prev"' in r.headers["link"] and body["next_cursor"] is None

    # Accepting the request brings the locked account's followers-only posts in.
    requests = await call(c, locked, "GET", "/follow-requests", 200)
    await call(c, locked, "POST", f"/follow-requests/{requests['items'][0]['id']}/authorize", 200)
    assert len((await feed(feeds, me))[0]) == 5
    # Others see their own feeds only: the stranger follows nobody.
    assert (await feed(feeds, stranger))[0] == [theirs["id"]]


async def test_pages_have_no_gaps_or_duplicates_while_posts_arrive(feeds: Feeds) -> None:
    c = feeds.client
    me, a, b = [await account(c) for _ in range(3)]
    await follow(feeds, me, a)
    await follow(feeds, me, b)
    before = [(await publish(c, (a, b)[i % 2], text=f"old {i}"))["id"] for i in range(25)]

    async def write() -> list[str]:
        made = []
        for i in range(30):
            made.append((await publish(c, (a, b)[i % 2], text=f"new {i}"))["id"])
        return made

    writer = asyncio.create_task(write())
    ids, body, _ = await feed(feeds, me, limit=7)
    seen, top = list(ids), body["prev_cursor"]
    cursor = body["next_cursor"]
    while cursor:  # older pages, while new posts keep arriving above them
        ids, body, r = await feed(feeds, me, limit=7, cursor=cursor)
        seen += ids
        cursor = body["next_cursor"]
    newer: list[str] = []
    deadline = asyncio.get_running_loop().time() + 60
    while True:  # newer pages, polled while the writer runs and until they hold everything it wrote
        ids, body, r = await feed(feeds, me, limit=4, since=top)
        assert 'rel="prev"' in r.headers["link"]
        newer = ids + newer  # each page newest first
        top = body["prev_cursor"]
        if writer.done() and not ids and set(newer + seen) >= set(writer.result()):
            break
        # An empty page while posts are missing is the settled time holding them back, briefly.
        assert asyncio.get_running_loop().time() < deadline, "polling with since never caught up"
    made = await writer
    everything = newer + seen
    assert len(everything) == len(set(everything)), "a post came twice"
    assert set(everything) == set(before) | set(made), "a post was skipped"
    assert everything == (await feed(feeds, me, limit=100))[0][: len(everything)]


async def test_delete_and_graph_changes_take_effect_at_once(feeds: Feeds) -> None:
    c = feeds.client
    me, a, b = [await account(c) for _ in range(3)]
    await follow(feeds, me, a)
    await follow(feeds, me, b)
    pa, pb = await publish(c, a, text="by a"), await publish(c, b, text="by b")
    await feeds.hub.feed.drained()
    assert (await feed(feeds, me))[0] == [pb["id"], pa["id"]]

    await call(c, a, "DELETE", f"/posts/{pa['id']}", 204)
    assert (await feed(feeds, me))[0] == [pb["id"]]  # before the cache is told
    await feeds.hub.feed.drained()
    cached = await feeds.hub.feed_cache.read(me[1], Window(10))
    assert cached is not None and [e.post_id for e in cached.entries] == [pb["id"]]

    pa = await publish(c, a, text="again")
    await feeds.hub.feed.drained()
    await follow(feeds, me, b, "unfollow")
    assert (await feed(feeds, me))[0] == [pa["id"]]
    await follow(feeds, me, b)
    assert (await feed(feeds, me))[0] == [pa["id"], pb["id"]]
    await follow(feeds, me, b, "mute")
    assert (await feed(feeds, me))[0] == [pa["id"]]
    await follow(feeds, me, b, "unmute")
    assert (await feed(feeds, me))[0] == [pa["id"], pb["id"]]
    await follow(feeds, me, a, "block")
    assert (await feed(feeds, me))[0] == [pb["id"]]
    assert (await feed(feeds, a))[0] == [pa["id"]]  # its own posts only


async def test_refresh_rebuilds_and_older_pages_come_from_the_database(feeds: Feeds, database_url: str) -> None:
    c = feeds.client
    me, a = await account(c), await account(c)
    await follow(feeds, me, a)
    assert (await feed(feeds, me))[0] == []
    # Written behind the hub's back (no fan-out), older than the head every read takes from the database.
    rows = await sql(
        database_url,
        """INSERT INTO posts (author_id, text, visibility, created_at)
           VALUES ($1::uuid, 'imported', 'public', now() - interval '1 hour') RETURNING id::text""",
        a[1],
    )
    assert (await feed(feeds, me))[0] == []
    r = await c.post("/feed/refresh", headers=auth(me[0]))
    assert r.status_code == 204
    assert (await feed(feeds, me))[0] == [rows[0]["id"]]


async def test_more_pages_than_the_cache_holds(feeds: Feeds) -> None:
    c = feeds.client
    me, a = await account(c), await account(c)
    await follow(feeds, me, a)
    made = [(await publish(c, a, text=f"p{i}"))["id"] for i in range(12)]
    await feeds.hub.feed.drained()
    feeds.hub.feed.cache.capacity = 5  # a small cap: most pages continue in the database
    await c.post("/feed/refresh", headers=auth(me[0]))
    seen: list[str] = []
    cursor = None
    while True:
        ids, body, _ = await feed(feeds, me, limit=3, **({"cursor": cursor} if cursor else {}))
        seen += ids
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == made[::-1]


async def test_hot_authors_are_merged_on_read(
    make_settings: Callable[..., Settings], redis_service: RedisHandle, redis_prefix: str, database_url: str
) -> None:
    settings = make_settings(
        post_rate_limit="100000/minute", feed_hot_followers=1, redis_url=redis_service.url, redis_prefix=redis_prefix
    )
    async with _open(settings) as f:
        me, other, star = [await account(f.client) for _ in range(3)]
        await follow(f, me, star)
        await follow(f, other, star)  # two followers: hot
        assert (await feed(f, me))[0] == []
        post = await publish(f.client, star, text="to many")
        await f.hub.feed.drained()
        cached = await f.hub.feed_cache.read(me[1], Window(10))
        assert cached is not None and cached.entries == []  # not written to the followers' lists
        assert (await feed(f, me))[0] == [post["id"]]
        # Older than the newest seconds every read takes from the database: only the merge finds it.
        rows = await sql(
            database_url,
            """INSERT INTO posts (author_id, text, visibility, created_at)
               VALUES ($1::uuid, 'earlier', 'public', now() - interval '1 hour') RETURNING id::text""",
            star[1],
        )
        assert (await feed(f, me))[0] == [post["id"], rows[0]["id"]]


async def test_new_posts_are_pushed_to_followers_only(feeds: Feeds) -> None:
    c = feeds.client
    me, a, muted, blocker = [await account(c) for _ in range(4)]
    for other in (a, muted, blocker):
        await follow(feeds, me, other)
    await follow(feeds, me, muted, "mute")
    await call(c, blocker, "POST", f"/users/{me[1]}/block", 200)
    sock = await connect(feeds.url, User(me[0], me[1], me[2]))
    author = await connect(feeds.url, User(a[0], a[1], a[2]))
    try:
        await publish(c, muted, text="muted")
        await publish(c, blocker, text="blocked")
        await feeds.hub.feed.drained()
        post = await publish(c, a, text="for my followers", visibility="followers")
        assert await sock.wait_for("feed_post") == {"id": post["id"], "author": a[1]}
        await feeds.hub.feed.drained()
        assert sock.events["feed_post"] == [{"id": post["id"], "author": a[1]}]
        assert await author.wait_for("feed_post") == {"id": post["id"], "author": a[1]}  # its other tabs show it
    finally:
        await sock.close()
        await author.close()


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.mark.parametrize("feeds", ["redis"], indirect=True)
async def test_a_cache_outage_falls_back_to_the_database(feeds: Feeds) -> None:
    c = feeds.client
    me, a = await account(c), await account(c)
    await follow(feeds, me, a)
    first = await publish(c, a, text="before")
    await feeds.hub.feed.drained()
    assert (await feed(feeds, me))[0] == [first["id"]]
    dead = Redis.from_url(f"redis://127.0.0.1:{_dead_port()}/0", socket_connect_timeout=1)
    working, feeds.hub.feed.cache = feeds.hub.feed.cache, RedisFeedCache(dead, "x", 800, 60)
    try:
        second = await publish(c, a, text="during")
        await feeds.hub.feed.drained()
        assert (await feed(feeds, me))[0] == [second["id"], first["id"]]
        await follow(feeds, me, a, "unfollow")
        assert (await feed(feeds, me))[0] == []
        assert (await c.post("/feed/refresh", headers=auth(me[0]))).status_code == 204
    finally:
        feeds.hub.feed.cache = working
        await dead.aclose()
