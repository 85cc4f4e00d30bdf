"""Likes, comments and the counters they keep; `hub batch counters` repairs every counter."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.test_batch_jobs import batch
from tests.test_posts_flow import account, call, publish, sql


async def test_likes_are_idempotent_counted_and_listed(client: httpx.AsyncClient) -> None:
    author = await account(client)
    fans = [await account(client) for _ in range(5)]
    post = await publish(client, author)
    for _ in range(2):
        liked = await call(client, fans[0], "POST", f"/posts/{post['id']}/like", 200)
        assert (liked["liked"], liked["likes_count"]) == (True, 1)
    for fan in fans[1:]:
        await call(client, fan, "POST", f"/posts/{post['id']}/like", 200)
    assert (await call(client, author, "GET", f"/posts/{post['id']}", 200))["liked"] is False
    # Newest like first, in pages with links both ways.
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        r = await client.get(
            f"/posts/{post['id']}/likes", params=params, headers={"Authorization": f"Bearer {author[0]}"}
        )
        page = r.json()
        assert 'rel="prev"' in r.headers["link"]
        seen += [p["id"] for p in page["items"]]
        if not page["next_cursor"]:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == [f[1] for f in reversed(fans)]
    for _ in range(2):
        unliked = await call(client, fans[0], "DELETE", f"/posts/{post['id']}/like", 200)
        assert (unliked["liked"], unliked["likes_count"]) == (False, 4)
    # Concurrent likes and unlikes keep the counter exact.
    await asyncio.gather(
        *(call(client, fan, "POST", f"/posts/{post['id']}/like", 200) for fan in fans),
        *(call(client, fan, "DELETE", f"/posts/{post['id']}/like", 200) for fan in fans[3:]),
    )
    listed = await call(client, author, "GET", f"/posts/{post['id']}/likes", 200, params={"limit": 100})
    assert (await call(client, author, "GET", f"/posts/{post['id']}", 200))["likes_count"] == len(listed["items"])


async def test_comments_oldest_first_with_replies_and_deletes(client: httpx.AsyncClient) -> None:
    author, b, c = await account(client), await account(client), await account(client)
    post = await publish(client, author)
    path = f"/posts/{post['id']}/comments"
    first = await call(client, b, "POST", f"/posts/{post['id']}/comment", 201, json={"text": " first "})
    assert first["text"] == "first" and first["post_id"] == post["id"] and first["author"]["id"] == b[1]
    reply = await call(
        client, c, "POST", f"/posts/{post['id']}/comment", 201, json={"text": "re", "reply_to": first["id"]}
    )
    assert reply["reply_to"] == first["id"]
    third = await call(client, author, "POST", f"/posts/{post['id']}/comment", 201, json={"text": "third"})
    assert (await call(client, b, "GET", f"/posts/{post['id']}", 200))["comments_count"] == 3

    page = await call(client, b, "GET", path, 200, params={"limit": 2})
    assert [x["id"] for x in page["items"]] == [first["id"], reply["id"]] and page["next_cursor"]
    rest = await call(client, b, "GET", path, 200, params={"limit": 2, "cursor": page["next_cursor"]})
    assert [x["id"] for x in rest["items"]] == [third["id"]] and rest["next_cursor"] is None
    # prev_cursor is where to poll for what arrives, also when nothing has.
    assert (await call(client, b, "GET", path, 200, params={"since": rest["prev_cursor"]}))["items"] == []
    late = await call(client, c, "POST", f"/posts/{post['id']}/comment", 201, json={"text": "late"})
    polled = await call(client, b, "GET", path, 200, params={"since": rest["prev_cursor"]})
    assert [x["id"] for x in polled["items"]] == [late["id"]]

    # A reply must name a comment of this post.
    other = await publish(client, author)
    body = await call(
        client, b, "POST", f"/posts/{other['id']}/comment", 404, json={"text": "x", "reply_to": first["id"]}
    )
    assert body["error"]["code"] == "comment_not_found"
    for text in ("", "x" * 2001):
        await call(client, b, "POST", f"/posts/{post['id']}/comment", 422, json={"text": text})

    # The comment's author or the post's author may delete it; nobody else.
    body = await call(client, c, "DELETE", f"{path}/{first['id']}", 403)
    assert body["error"]["code"] == "not_your_comment"
    await call(client, b, "DELETE", f"{path}/{first['id']}", 204)
    await call(client, author, "DELETE", f"{path}/{late['id']}", 204)
    for ident in (first["id"], str(uuid.uuid4()), "nope"):
        assert (await call(client, b, "DELETE", f"{path}/{ident}", 404))["error"]["code"] == "comment_not_found"
    left = await call(client, b, "GET", path, 200)
    assert [x["id"] for x in left["items"]] == [reply["id"], third["id"]] and left["items"][0]["reply_to"] is None
    assert (await call(client, b, "GET", f"/posts/{post['id']}", 200))["comments_count"] == 2


async def test_batch_counters_repairs_what_drifted(
    client: httpx.AsyncClient, database_url: str, tmp_path: Path
) -> None:
    a, b = await account(client), await account(client)
    await call(client, a, "POST", f"/users/{b[1]}/follow", 200)
    post = await publish(client, a)
    await call(client, b, "POST", f"/posts/{post['id']}/like", 200)
    await call(client, b, "POST", f"/posts/{post['id']}/comment", 201, json={"text": "x"})
    await sql(
        database_url,
        "UPDATE users SET posts_count = 7, followers_count = 3, following_count = 0 WHERE id = $1::uuid",
        a[1],
    )
    await sql(database_url, "UPDATE posts SET likes_count = 9, comments_count = 0 WHERE id = $1::uuid", post["id"])

    async def run() -> dict[str, Any]:
        report, _ = await batch("counters", database_url, tmp_path)
        return report

    report = await run()
    assert report["fixed"] == {
        "posts_count": 1,
        "followers_count": 1,
        "following_count": 1,
        "likes_count": 1,
        "comments_count": 1,
    }
    assert report["total"] == 5
    profile = await call(client, a, "GET", f"/users/{a[1]}", 200)
    assert (profile["posts_count"], profile["followers_count"], profile["following_count"]) == (1, 0, 1)
    after = await call(client, a, "GET", f"/posts/{post['id']}", 200)
    assert (after["likes_count"], after["comments_count"]) == (1, 1)
    assert (await run())["total"] == 0
