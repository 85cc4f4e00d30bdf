"""Who sees which post: the visibility and block matrix on every post read path."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.helpers import auth
from tests.test_posts_flow import Account, account, call, publish


def _comparable(r: httpx.Response) -> tuple[int, dict[str, str], dict[str, Any]]:
    """A response without what differs on every request (its id and date)."""
    headers = {k: v for k, v in r.headers.items() if k not in ("x-request-id", "date")}
    body = r.json()
    body["error"].pop("request_id")
    return r.status_code, headers, body


async def _hidden_like_missing(client: httpx.AsyncClient, who: Account, method: str, path: str, post_id: str) -> None:
    """`who` gets for `post_id` byte for byte what it gets for an id that does not exist."""
    writes_text = method == "PATCH" or path.endswith("comment")
    kwargs: dict[str, Any] = {"json": {"text": "x"}} if writes_text else {}
    hidden = await client.request(method, path.format(post_id), headers=auth(who[0]), **kwargs)
    absent = await client.request(method, path.format(uuid.uuid4()), headers=auth(who[0]), **kwargs)
    assert hidden.status_code == 404, (method, path, hidden.text)
    assert _comparable(hidden) == _comparable(absent), (method, path)
    assert len(hidden.content) == len(absent.content)


POST_PATHS = (
    ("GET", "/posts/{}"),
    ("GET", "/posts/{}/likes"),
    ("GET", "/posts/{}/comments"),
    ("POST", "/posts/{}/like"),
    ("DELETE", "/posts/{}/like"),
    ("POST", "/posts/{}/comment"),
    ("PATCH", "/posts/{}"),
    ("DELETE", "/posts/{}"),
)


async def _visible_ids(client: httpx.AsyncClient, who: Account, author: Account) -> list[str]:
    page = await call(client, who, "GET", f"/users/{author[1]}/posts", 200, params={"limit": 100})
    return [p["id"] for p in page["items"]]


async def test_visibility_matrix(client: httpx.AsyncClient) -> None:
    author, follower, stranger = await account(client), await account(client), await account(client)
    await call(client, follower, "POST", f"/users/{author[1]}/follow", 200)
    posts = {v: await publish(client, author, visibility=v) for v in ("public", "unlisted", "followers")}
    everyone = [posts[v]["id"] for v in ("followers", "unlisted", "public")]
    for who, expected in ((author, everyone), (follower, everyone), (stranger, everyone[1:])):
        assert await _visible_ids(client, who, author) == expected
        for post in posts.values():
            if post["id"] in expected:
                assert (await call(client, who, "GET", f"/posts/{post['id']}", 200))["id"] == post["id"]
    # A followers-only post is, to a stranger, a post that does not exist, on every path.
    for method, path in POST_PATHS:
        await _hidden_like_missing(client, stranger, method, path, posts["followers"]["id"])
    # A pending request to a locked account is not a follow.
    locked, asking = await account(client), await account(client)
    await call(client, locked, "PATCH", f"/users/{locked[1]}", 200, json={"locked": True})
    await call(client, asking, "POST", f"/users/{locked[1]}/follow", 200)
    only = await publish(client, locked, visibility="followers")
    await _hidden_like_missing(client, asking, "GET", "/posts/{}", only["id"])
    # Unfollowing hides followers-only posts again.
    await call(client, follower, "POST", f"/users/{author[1]}/unfollow", 200)
    assert await _visible_ids(client, follower, author) == everyone[1:]


async def test_block_matrix(client: httpx.AsyncClient) -> None:
    a, b, c = await account(client), await account(client), await account(client)
    await call(client, b, "POST", f"/users/{a[1]}/follow", 200)
    post_a = await publish(client, a)
    post_b = await publish(client, b)
    post_c = await publish(client, c)
    for who in (a, b):
        await call(client, who, "POST", f"/posts/{post_c['id']}/like", 200)
        await call(client, who, "POST", f"/posts/{post_c['id']}/comment", 201, json={"text": f"from {who[2]}"})
    await call(client, a, "POST", f"/users/{b[1]}/block", 200)

    # The blocked account sees none of the blocker's posts: 404s identical to missing ids.
    for method, path in POST_PATHS:
        await _hidden_like_missing(client, b, method, path, post_a["id"])
    missing = await client.get(f"/users/{uuid.uuid4()}/posts", headers=auth(b[0]))
    assert _comparable(await client.get(f"/users/{a[1]}/posts", headers=auth(b[0]))) == _comparable(missing)
    assert (await publish(client, b, 404, reply_to=post_a["id"]))["error"]["code"] == "post_not_found"
    # The blocker still sees the blocked account's posts but cannot engage before unblocking.
    assert (await call(client, a, "GET", f"/posts/{post_b['id']}", 200))["id"] == post_b["id"]
    for method, path, body in (
        ("POST", "like", None),
        ("POST", "comment", {"text": "hi"}),
    ):
        r = await call(client, a, method, f"/posts/{post_b['id']}/{path}", 409, json=body)
        assert r["error"]["code"] == "unblock_first"
    assert (await publish(client, a, 409, reply_to=post_b["id"]))["error"]["code"] == "unblock_first"

    # On a third party's post, neither side sees the other's likes or comments; the third party sees both.
    def ids(page: dict[str, Any], key: str) -> list[str]:
        return [item["author"]["id"] if key == "author" else item["id"] for item in page["items"]]

    for who in (a, b):
        likes = await call(client, who, "GET", f"/posts/{post_c['id']}/likes", 200)
        assert ids(likes, "id") == [who[1]]
        comments = await call(client, who, "GET", f"/posts/{post_c['id']}/comments", 200)
        assert ids(comments, "author") == [who[1]]
    assert sorted(ids(await call(client, c, "GET", f"/posts/{post_c['id']}/likes", 200), "id")) == sorted([a[1], b[1]])
    assert ids(await call(client, c, "GET", f"/posts/{post_c['id']}/comments", 200), "author") == [a[1], b[1]]
    # A reply to a comment of the other side is a reply to a comment one cannot see.
    b_comment = (await call(client, c, "GET", f"/posts/{post_c['id']}/comments", 200))["items"][1]
    body = await call(
        client, a, "POST", f"/posts/{post_c['id']}/comment", 404, json={"text": "x", "reply_to": b_comment["id"]}
    )
    assert body["error"]["code"] == "comment_not_found"
    # Counters count everyone: they are the post's, not the viewer's.
    assert (await call(client, a, "GET", f"/posts/{post_c['id']}", 200))["likes_count"] == 2

    # The blocked cannot mention the blocker: the mention is not stored.
    mention = await publish(client, b, text=f"hey @{a[2]}")
    assert mention["mentions"] == []

    await call(client, a, "POST", f"/users/{b[1]}/unblock", 200)
    assert (await call(client, b, "GET", f"/posts/{post_a['id']}", 200))["id"] == post_a["id"]
