"""The social graph: follows, follow requests, blocks, mutes, limits, counters and list pages."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx

from tests.helpers import auth, make_space, register
from tests.support.server import running_hub

Account = tuple[str, str]  # (token, id)


async def _account(client: httpx.AsyncClient) -> Account:
    body = await register(client)
    return body["access_token"], body["user"]["id"]


async def _post(client: httpx.AsyncClient, who: Account, path: str, status: int = 200) -> dict[str, Any]:
    r = await client.post(path, headers=auth(who[0]))
    assert r.status_code == status, (path, r.text)
    return r.json()  # type: ignore[no-any-return]


async def _get(client: httpx.AsyncClient, who: Account, path: str, **params: Any) -> dict[str, Any]:
    r = await client.get(path, params=params, headers=auth(who[0]))
    assert r.status_code == 200, (path, r.text)
    return r.json()  # type: ignore[no-any-return]


def _rel(**true: bool) -> dict[str, bool]:
    names = ("following", "followed_by", "requested", "blocking", "blocked_by", "muting")
    return {name: true.get(name, False) for name in names}


def _flags(body: dict[str, Any]) -> dict[str, bool]:
    return {k: v for k, v in body.items() if k != "id"}


async def _ids(client: httpx.AsyncClient, who: Account, path: str) -> list[str]:
    return [p["id"] for p in (await _get(client, who, path, limit=100))["items"]]


async def test_follow_and_unfollow_are_idempotent_and_counted(client: httpx.AsyncClient) -> None:
    a, b = await _account(client), await _account(client)
    for _ in range(2):
        rel = await _post(client, a, f"/users/{b[1]}/follow")
        assert rel["id"] == b[1] and _flags(rel) == _rel(following=True)
    assert _flags(await _get(client, b, f"/users/{a[1]}/relationship")) == _rel(followed_by=True)
    assert (await _get(client, a, f"/users/{a[1]}"))["following_count"] == 1
    assert (await _get(client, a, f"/users/{b[1]}"))["followers_count"] == 1
    assert await _ids(client, a, f"/users/{b[1]}/followers") == [a[1]]
    assert await _ids(client, b, f"/users/{a[1]}/following") == [b[1]]
    for _ in range(2):
        assert _flags(await _post(client, a, f"/users/{b[1]}/unfollow")) == _rel()
    assert (await _get(client, a, f"/users/{b[1]}"))["followers_count"] == 0
    assert (await _get(client, a, f"/users/{a[1]}"))["following_count"] == 0
    body = await _post(client, a, f"/users/{a[1]}/follow", status=400)
    assert body["error"]["code"] == "self_relationship"
    body = await _post(client, a, f"/users/{uuid.uuid4()}/follow", status=404)
    assert body["error"]["code"] == "user_not_found"


async def test_follow_requests_to_a_locked_account(client: httpx.AsyncClient) -> None:
    a, b, c = await _account(client), await _account(client), await _account(client)
    await client.patch(f"/users/{b[1]}", json={"locked": True}, headers=auth(b[0]))
    for _ in range(2):
        assert _flags(await _post(client, a, f"/users/{b[1]}/follow")) == _rel(requested=True)
    await _post(client, c, f"/users/{b[1]}/follow")
    pending = await _get(client, b, "/follow-requests")
    assert [r["account"]["id"] for r in pending["items"]] == [c[1], a[1]]  # newest first
    assert pending["items"][0]["account"]["handle"]
    request_of = {r["account"]["id"]: r["id"] for r in pending["items"]}
    assert (await _get(client, b, f"/users/{b[1]}"))["followers_count"] == 0
    # Only the target may answer a request.
    body = await _post(client, a, f"/follow-requests/{request_of[c[1]]}/authorize", status=404)
    assert body["error"]["code"] == "follow_request_not_found"
    assert (await _post(client, b, "/follow-requests/not-a-uuid/reject", status=404))["error"]["code"] == (
        "follow_request_not_found"
    )

    assert _flags(await _post(client, b, f"/follow-requests/{request_of[a[1]]}/authorize")) == _rel(followed_by=True)
    assert _flags(await _get(client, a, f"/users/{b[1]}/relationship")) == _rel(following=True)
    assert _flags(await _post(client, b, f"/follow-requests/{request_of[c[1]]}/reject")) == _rel()
    assert _flags(await _get(client, c, f"/users/{b[1]}/relationship")) == _rel()
    assert (await _get(client, b, "/follow-requests"))["items"] == []
    assert (await _get(client, b, f"/users/{b[1]}"))["followers_count"] == 1
    assert await _ids(client, b, f"/users/{b[1]}/followers") == [a[1]]
    # Answered requests are gone; unfollow withdraws a pending one.
    await _post(client, b, f"/follow-requests/{request_of[a[1]]}/authorize", status=404)
    await _post(client, c, f"/users/{b[1]}/follow")
    assert _flags(await _post(client, c, f"/users/{b[1]}/unfollow")) == _rel()
    assert (await _get(client, b, "/follow-requests"))["items"] == []


def _comparable(r: httpx.Response) -> tuple[int, dict[str, str], dict[str, Any]]:
    """A response without what differs on every request (its id and date)."""
    headers = {k: v for k, v in r.headers.items() if k not in ("x-request-id", "date")}
    body = r.json()
    body["error"].pop("request_id")
    return r.status_code, headers, body


async def test_block_matrix(client: httpx.AsyncClient) -> None:
    a, b, c = await _account(client), await _account(client), await _account(client)
    space = await make_space(client, a[0], visibility="link")
    await _post(client, b, f"/spaces/{space['id']}/join")
    await _post(client, a, f"/users/{b[1]}/follow")
    await _post(client, b, f"/users/{a[1]}/follow")
    for who in (a, b):
        await _post(client, who, f"/users/{c[1]}/follow")
    handle_a = (await _get(client, c, f"/users/{a[1]}"))["handle"]

    assert _flags(await _post(client, a, f"/users/{b[1]}/block")) == _rel(blocking=True)
    assert _flags(await _post(client, a, f"/users/{b[1]}/block")) == _rel(blocking=True)
    # The edges are gone both ways, with their counters.
    for profile in (await _get(client, a, f"/users/{a[1]}"), await _get(client, a, f"/users/{b[1]}")):
        assert (profile["followers_count"], profile["following_count"]) == (0, 1)

    # The blocked account sees the blocker as it sees an id that does not exist.
    missing = str(uuid.uuid4())
    for path in ("", "/relationship", "/followers", "/following"):
        hidden = await client.get(f"/users/{a[1]}{path}", headers=auth(b[0]))
        absent = await client.get(f"/users/{missing}{path}", headers=auth(b[0]))
        assert _comparable(hidden) == _comparable(absent), path
        assert len(hidden.content) == len(absent.content)
    assert (await client.get(f"/users/by-handle/{handle_a}", headers=auth(b[0]))).status_code == 404
    for action in ("follow", "mute", "block"):
        hidden = await client.post(f"/users/{a[1]}/{action}", headers=auth(b[0]))
        assert _comparable(hidden) == _comparable(await client.post(f"/users/{missing}/{action}", headers=auth(b[0])))
    # The blocker still sees the blocked profile, but cannot follow it before unblocking.
    assert (await _get(client, a, f"/users/{b[1]}"))["id"] == b[1]
    assert (await _post(client, a, f"/users/{b[1]}/follow", status=409))["error"]["code"] == "unblock_first"

    # Neither appears in lists the other reads; a third party sees both.
    assert await _ids(client, a, f"/users/{c[1]}/followers") == [a[1]]
    assert await _ids(client, b, f"/users/{c[1]}/followers") == [b[1]]
    assert sorted(await _ids(client, c, f"/users/{c[1]}/followers")) == sorted([a[1], b[1]])
    # Space membership is the space owner's business, not the block's.
    members = await _get(client, a, f"/spaces/{space['id']}/members")
    assert b[1] in [m["user_id"] for m in members["items"]]

    assert _flags(await _post(client, a, f"/users/{b[1]}/unblock")) == _rel()
    assert (await _get(client, b, f"/users/{a[1]}"))["id"] == a[1]
    assert _flags(await _post(client, b, f"/users/{a[1]}/follow")) == _rel(following=True)


async def test_block_removes_pending_requests_both_ways(client: httpx.AsyncClient) -> None:
    a, b = await _account(client), await _account(client)
    for who in (a, b):
        await client.patch(f"/users/{who[1]}", json={"locked": True}, headers=auth(who[0]))
    await _post(client, a, f"/users/{b[1]}/follow")
    await _post(client, b, f"/users/{a[1]}/follow")
    await _post(client, a, f"/users/{b[1]}/block")
    assert (await _get(client, a, "/follow-requests"))["items"] == []
    assert (await _get(client, b, "/follow-requests"))["items"] == []


async def test_mute_is_invisible_to_the_muted_account(client: httpx.AsyncClient) -> None:
    a, b = await _account(client), await _account(client)
    await _post(client, b, f"/users/{a[1]}/follow")
    before = await _get(client, b, f"/users/{a[1]}")
    for _ in range(2):
        assert _flags(await _post(client, a, f"/users/{b[1]}/mute")) == _rel(muting=True, followed_by=True)
    # What the muted account reads about the muter has not changed.
    assert await _get(client, b, f"/users/{a[1]}") == before
    assert _flags(await _get(client, b, f"/users/{a[1]}/relationship")) == _rel(following=True)
    assert await _ids(client, b, f"/users/{a[1]}/followers") == [b[1]]
    assert _flags(await _post(client, b, f"/users/{a[1]}/unfollow")) == _rel()
    assert _flags(await _post(client, b, f"/users/{a[1]}/follow")) == _rel(following=True)
    assert _flags(await _post(client, a, f"/users/{b[1]}/unmute")) == _rel(followed_by=True)


async def test_pages_without_gaps_or_duplicates_and_links(client: httpx.AsyncClient) -> None:
    target = await _account(client)
    fans = [await _account(client) for _ in range(7)]
    for fan in fans:
        await _post(client, fan, f"/users/{target[1]}/follow")
    newest_first = [f[1] for f in reversed(fans)]
    path = f"/users/{target[1]}/followers"
    seen: list[str] = []
    first: dict[str, Any] | None = None
    late: Account | None = None
    params: dict[str, Any] = {"limit": 3}
    while True:
        r = await client.get(path, params=params, headers=auth(target[0]))
        assert r.status_code == 200, r.text
        page = r.json()
        first = first or page
        seen += [p["id"] for p in page["items"]]
        links = r.headers["link"]
        assert f"since={page['prev_cursor']}" in links and 'rel="prev"' in links
        if late is None:
            # A follower arriving while pages are read appears neither twice nor in the middle.
            late = await _account(client)
            await _post(client, late, f"/users/{target[1]}/follow")
        if not page["next_cursor"]:
            assert 'rel="next"' not in links
            break
        assert f"cursor={page['next_cursor']}" in links and "limit=3" in links
        params = {"limit": 3, "cursor": page["next_cursor"]}
    assert seen == newest_first
    assert first is not None and late is not None
    # `since` the first page's newest item: just what arrived after, then nothing more.
    newer = await client.get(path, params={"limit": 3, "since": first["prev_cursor"]}, headers=auth(target[0]))
    assert [p["id"] for p in newer.json()["items"]] == [late[1]]
    # The prev link is a working reference, also on the empty page after it.
    prev = newer.headers["link"].split(", ")[-1]
    assert prev.endswith('rel="prev"')
    empty = await client.get(prev[1 : prev.index(">")], headers=auth(target[0]))
    assert empty.status_code == 200 and empty.json()["items"] == []
    assert 'rel="prev"' in empty.headers["link"]

    # A `since` page that cannot hold everything newer returns the oldest of them first, so a client
    # following prev links misses nothing.
    loner = await _account(client)
    origin = await client.get(f"/users/{loner[1]}/followers", headers=auth(loner[0]))
    assert origin.json()["items"] == [] and 'rel="prev"' in origin.headers["link"]
    for fan in fans[:5]:
        await _post(client, fan, f"/users/{loner[1]}/follow")
    collected: list[str] = []
    since = origin.json()["prev_cursor"]
    while True:
        page = await _get(client, loner, f"/users/{loner[1]}/followers", limit=2, since=since)
        if not page["items"]:
            break
        collected = [p["id"] for p in page["items"]] + collected
        since = page["prev_cursor"]
    assert collected == [f[1] for f in reversed(fans[:5])]


async def test_list_parameters_are_validated(client: httpx.AsyncClient) -> None:
    a = await _account(client)
    path = f"/users/{a[1]}/followers"
    for params, status, code in (
        ({"limit": 101}, 422, "validation_failed"),
        ({"limit": 0}, 422, "validation_failed"),
        ({"cursor": "garbage!"}, 400, "invalid_cursor"),
        ({"since": "WyIyMDI2LTAxLTAxVDAwOjAwOjAwKzAwOjAwIiwibm90LWEtdXVpZCJd"}, 400, "invalid_cursor"),
    ):
        r = await client.get(path, params=params, headers=auth(a[0]))
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), params


async def test_follow_limit(make_settings) -> None:  # type: ignore[no-untyped-def]
    async with running_hub(make_settings(max_following=2)) as (url, _), httpx.AsyncClient(base_url=url) as c:
        me = await _account(c)
        others = [await _account(c) for _ in range(4)]
        await c.patch(f"/users/{others[3][1]}", json={"locked": True}, headers=auth(others[3][0]))
        # A locked account's request, once accepted, counts like any follow.
        await _post(c, me, f"/users/{others[3][1]}/follow")
        request_id = (await _get(c, others[3], "/follow-requests"))["items"][0]["id"]
        await _post(c, me, f"/users/{others[0][1]}/follow")
        await _post(c, me, f"/users/{others[1][1]}/follow")
        body = await _post(c, me, f"/users/{others[2][1]}/follow", status=409)
        assert body["error"]["code"] == "follow_limit" and body["error"]["details"] == {"max_following": 2}
        # Still idempotent at the cap, for a follow and for a pending request alike.
        assert (await _post(c, me, f"/users/{others[0][1]}/follow"))["following"] is True
        assert (await _post(c, me, f"/users/{others[3][1]}/follow"))["requested"] is True
        body = await _post(c, others[3], f"/follow-requests/{request_id}/authorize", status=409)
        assert body["error"]["code"] == "follow_limit"
        assert len((await _get(c, others[3], "/follow-requests"))["items"]) == 1  # kept for later
        await _post(c, me, f"/users/{others[0][1]}/unfollow")
        await _post(c, others[3], f"/follow-requests/{request_id}/authorize")
        assert (await _get(c, me, f"/users/{me[1]}"))["following_count"] == 2


async def test_social_writes_are_rate_limited(make_settings) -> None:  # type: ignore[no-untyped-def]
    async with (
        running_hub(make_settings(follow_rate_limit="3/minute")) as (url, _),
        httpx.AsyncClient(base_url=url) as c,
    ):
        a, b = await _account(c), await _account(c)
        for action in ("follow", "unfollow", "mute"):
            await _post(c, a, f"/users/{b[1]}/{action}")
        r = await c.post(f"/users/{b[1]}/unmute", headers=auth(a[0]))
        assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
        assert int(r.headers["retry-after"]) >= 1
        # The budget is per account: another account is not held back, and reads are not writes.
        await _post(c, b, f"/users/{a[1]}/follow")
        await _get(c, a, f"/users/{b[1]}/relationship")


async def test_counters_stay_exact_under_concurrent_follows(client: httpx.AsyncClient, database_url: str) -> None:
    accounts = [await _account(client) for _ in range(8)]

    async def follow_all(who: Account) -> None:
        for other in accounts:
            if other is not who:
                await _post(client, who, f"/users/{other[1]}/follow")
        await _post(client, who, f"/users/{accounts[0][1]}/unfollow") if who is not accounts[0] else None

    # Every pair follows both ways at once: the pair locks must neither deadlock nor lose an update.
    await asyncio.gather(*(follow_all(who) for who in accounts))
    conn = await asyncpg.connect(database_url)
    try:
        drift = await conn.fetchval(
            """SELECT count(*) FROM users u WHERE
                 u.followers_count <> (SELECT count(*) FROM follows WHERE followee_id = u.id)
              OR u.following_count <> (SELECT count(*) FROM follows WHERE follower_id = u.id)"""
        )
        assert drift == 0
        assert await conn.fetchval("SELECT followers_count FROM users WHERE id = $1::uuid", accounts[0][1]) == 0
        assert await conn.fetchval("SELECT followers_count FROM users WHERE id = $1::uuid", accounts[1][1]) == 7
    finally:
        await conn.close()


async def test_a_block_can_be_lifted_where_the_other_side_blocks_back(
    client: httpx.AsyncClient, database_url: str
) -> None:
    a, b = await _account(client), await _account(client)
    await _post(client, a, f"/users/{b[1]}/block")
    # Two blocks made at the same moment from both sides (the API itself hides B from A afterwards).
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1::uuid, $2::uuid)", b[1], a[1])
    finally:
        await conn.close()
    assert (await client.get(f"/users/{b[1]}", headers=auth(a[0]))).status_code == 404
    assert _flags(await _post(client, a, f"/users/{b[1]}/unblock")) == _rel(blocked_by=True)
    assert _flags(await _post(client, b, f"/users/{a[1]}/unblock")) == _rel()
    assert (await _get(client, a, f"/users/{b[1]}"))["id"] == b[1]
