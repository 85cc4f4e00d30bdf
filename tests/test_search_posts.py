"""GET /search/posts: what matches, who finds it, hashtags, pages, and what is refused."""

from __future__ import annotations

import secrets
from typing import Any

import asyncpg
import httpx

from tests.helpers import auth
from tests.test_openapi import _validator
from tests.test_posts_flow import Account, account, call, publish


async def _search(client: httpx.AsyncClient, who: Account, q: str, **params: Any) -> dict[str, Any]:
    page: dict[str, Any] = await call(client, who, "GET", "/search/posts", 200, params={"q": q, **params})
    return page


async def _found(client: httpx.AsyncClient, who: Account, q: str) -> list[str]:
    return [p["id"] for p in (await _search(client, who, q, limit=100))["items"]]


async def test_text_matches_anywhere_closest_first_in_the_post_shape(client: httpx.AsyncClient) -> None:
    tag = secrets.token_hex(3)
    author, reader = await account(client), await account(client)
    close = await publish(client, author, text=f"zeb{tag}")
    far = await publish(client, author, text=f"a much longer text that mentions ZEB{tag.upper()} somewhere in it")
    await publish(client, author, text="nothing to see")
    page = await _search(client, reader, f"zeb{tag}")
    assert [p["id"] for p in page["items"]] == [close["id"], far["id"]]
    assert page["next_cursor"] is None
    # The item is what GET /posts/{id} answers.
    assert page["items"][0] == await call(client, reader, "GET", f"/posts/{close['id']}", 200)


async def test_visibility_and_block_matrix(client: httpx.AsyncClient) -> None:
    word = "vis" + secrets.token_hex(3)
    author, follower, stranger, blocked, blocker = [await account(client) for _ in range(5)]
    for who in (follower, blocked, blocker):
        await call(client, who, "POST", f"/users/{author[1]}/follow", 200)
    posts = {v: (await publish(client, author, text=f"{word} {v}", visibility=v))["id"] for v in VISIBILITIES}
    await call(client, author, "POST", f"/users/{blocked[1]}/block", 200)  # the author blocks a follower
    await call(client, blocker, "POST", f"/users/{author[1]}/block", 200)  # a follower blocks the author
    public, followers = posts["public"], posts["followers"]
    # Never unlisted, not even to the author; followers-only to the author and accepted followers.
    assert set(await _found(client, author, word)) == {public, followers}
    assert set(await _found(client, follower, word)) == {public, followers}
    assert await _found(client, stranger, word) == [public]
    assert await _found(client, blocked, word) == []
    assert await _found(client, blocker, word) == []
    # A guest finds what anyone may.
    r = await client.post("/auth/guest", json={"display_name": "g"})
    guest = (r.json()["access_token"], "", "")
    assert await _found(client, guest, word) == [public]
    # Unblocking brings the public post back, not the followers-only one: the block removed the follow.
    await call(client, blocker, "POST", f"/users/{author[1]}/unblock", 200)
    assert await _found(client, blocker, word) == [public]


VISIBILITIES = ("public", "unlisted", "followers")


async def test_a_locked_account_s_followers_posts_need_an_accepted_request(client: httpx.AsyncClient) -> None:
    word = "lck" + secrets.token_hex(3)
    author, asker = await account(client), await account(client)
    await call(client, author, "PATCH", f"/users/{author[1]}", 200, json={"locked": True})
    post = await publish(client, author, text=f"{word} inner circle", visibility="followers")
    await call(client, asker, "POST", f"/users/{author[1]}/follow", 200)  # a request, not a follow yet
    assert await _found(client, asker, word) == []
    requests = await call(client, author, "GET", "/follow-requests", 200)
    await call(client, author, "POST", f"/follow-requests/{requests['items'][0]['id']}/authorize", 200)
    assert await _found(client, asker, word) == [post["id"]]
    await call(client, asker, "POST", f"/users/{author[1]}/unfollow", 200)
    assert await _found(client, asker, word) == []


async def test_hashtags_match_exactly_newest_first(client: httpx.AsyncClient) -> None:
    tag = "t" + secrets.token_hex(3)
    author, reader = await account(client), await account(client)
    older = await publish(client, author, text=f"first #{tag}")
    newer = await publish(client, author, text=f"second #{tag.upper()} and #other")
    longer = await publish(client, author, text=f"longer #{tag}x is another tag")
    await publish(client, author, text=f"hidden #{tag}", visibility="unlisted")
    plain = await publish(client, author, text=f"no tag, only the word {tag}")
    assert await _found(client, reader, f"#{tag.upper()}") == [newer["id"], older["id"]]
    assert await _found(client, reader, f"#{tag}x") == [longer["id"]]
    # Plain text finds the word wherever it is written, in a hashtag or not.
    assert set(await _found(client, reader, tag)) == {older["id"], newer["id"], longer["id"], plain["id"]}
    # A short tag is found too, whatever its length; a short plain query finds no posts.
    short = await publish(client, author, text="#ok" + " " + secrets.token_hex(2))
    assert short["id"] in await _found(client, reader, "#ok")
    assert await _found(client, reader, "ok") == []
    # Plain text finds the tag as it is written, with the rest of the text.
    assert {older["id"], newer["id"]} <= set(
        await _found(client, reader, f"#{tag}x") + await _found(client, reader, tag)
    )


async def test_deleted_and_edited_posts_are_searched_as_they_are_now(client: httpx.AsyncClient) -> None:
    word = "del" + secrets.token_hex(3)
    author, reader = await account(client), await account(client)
    post = await publish(client, author, text=f"{word} #{word}")
    assert await _found(client, reader, word) == [post["id"]]
    await call(client, author, "PATCH", f"/posts/{post['id']}", 200, json={"text": "changed"})
    assert await _found(client, reader, word) == []
    assert await _found(client, reader, f"#{word}") == []
    await call(client, author, "PATCH", f"/posts/{post['id']}", 200, json={"text": f"{word} again"})
    assert await _found(client, reader, word) == [post["id"]]
    await call(client, author, "DELETE", f"/posts/{post['id']}", 204)
    assert await _found(client, reader, word) == []


async def test_like_wildcards_are_literal(client: httpx.AsyncClient) -> None:
    tag = secrets.token_hex(3)
    author, reader = await account(client), await account(client)
    literal = await publish(client, author, text=f"50%_{tag}")
    await publish(client, author, text=f"50xx{tag}")
    assert await _found(client, reader, f"%_{tag}") == [literal["id"]]
    assert await _found(client, reader, "\\\\\\") == []


async def test_pages_have_no_gaps_or_duplicates(client: httpx.AsyncClient, database_url: str) -> None:
    reader = await account(client)
    author = await account(client)
    word = "pg" + secrets.token_hex(3)
    # Equal texts share a rank: the id is the tie-breaker the pages rely on.
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            """INSERT INTO posts (author_id, text, visibility)
               SELECT $1::uuid, $2 || ' ' || (i % 5), CASE WHEN i % 4 = 0 THEN 'unlisted' ELSE 'public' END
               FROM generate_series(1, 240) i""",
            author[1],
            word,
        )
    finally:
        await conn.close()
    for q in (word, f"#{word}"):
        if q.startswith("#"):
            await _tag_all(database_url, word)
        seen: list[str] = []
        cursor: str | None = None
        link = ""
        for _ in range(100):
            params: dict[str, Any] = {"q": q, "limit": 17, **({"cursor": cursor} if cursor else {})}
            r = await client.get("/search/posts", params=params, headers=auth(reader[0]))
            assert r.status_code == 200, r.text
            seen += [item["id"] for item in r.json()["items"]]
            cursor, link = r.json()["next_cursor"], r.headers.get("link", "")
            if cursor is None:
                break
            assert 'rel="next"' in link and "limit=17" in link
        assert cursor is None and "next" not in link
        assert len(seen) == len(set(seen)) == 180, q


async def _tag_all(database_url: str, word: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "INSERT INTO post_hashtags (post_id, tag, position) SELECT id, $1, 0 FROM posts WHERE text LIKE $1 || ' %'",
            word,
        )
    finally:
        await conn.close()


async def test_bad_queries_and_cursors_are_refused(client: httpx.AsyncClient) -> None:
    me = await account(client)
    bad: list[dict[str, Any]] = [
        {},
        {"q": ""},
        {"q": "  "},
        {"q": "x" * 101},
        {"q": "abc", "limit": 101},
        {"q": "abc", "limit": 0},
        {"q": "#"},
        {"q": "#two words"},
        {"q": "#123"},
        {"q": "#a-b"},
        {"q": "#" + "x" * 65},
    ]
    for params in bad:
        r = await client.get("/search/posts", params=params, headers=auth(me[0]))
        assert r.status_code == 422, (params, r.text)
        assert r.json()["error"]["code"] == "validation_failed"
    for cursor in ("!!", "bm90IGpzb24", "WzEsMl0", "WyJ4IiwiYSJd"):
        r = await client.get("/search/posts", params={"q": "abc", "cursor": cursor}, headers=auth(me[0]))
        assert r.status_code == 400, (cursor, r.text)
        assert r.json()["error"]["code"] == "invalid_cursor"
    assert (await client.get("/search/posts", params={"q": "abc"})).status_code == 401


async def test_answers_match_the_document(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    me = await account(client)
    await publish(client, me, text="documented #doc")
    ok = await client.get("/search/posts", params={"q": "#doc", "limit": 1}, headers=auth(me[0]))
    bad = await client.get("/search/posts", params={"q": ""}, headers=auth(me[0]))
    assert ok.json()["items"]
    for status, r in ((200, ok), (422, bad)):
        _validator(spec, "/search/posts", "get", status).validate(r.json())
    assert "Link" in spec["paths"]["/search/posts"]["get"]["responses"]["200"]["headers"]
    assert {"q", "limit", "cursor"} <= {p["name"] for p in spec["paths"]["/search/posts"]["get"]["parameters"]}


async def test_hostile_queries_get_answers_not_errors(client: httpx.AsyncClient) -> None:
    me = await account(client)
    for raw in ("%ED%A0%80abc", "%FFabc", "%23%C3%A9t%C3%A9", "%F0%9D%94%B8" * 100, "a%00b", "%23%E2%80%AEx"):
        r = await client.get(f"/search/posts?q={raw}", headers=auth(me[0]))
        assert r.status_code in (200, 400, 422), (raw, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/json"), raw


async def test_pages_walk_down_with_cursor_and_back_up_with_since(client: httpx.AsyncClient) -> None:
    author, reader = await account(client), await account(client)
    tag = secrets.token_hex(3)
    for n in range(7):
        await publish(client, author, text=f"#walk{tag} number {n}")
    for q in (f"#walk{tag}", f"walk{tag}"):  # by hashtag (newest first) and by text (closest first)
        down: list[list[str]] = []
        page = await _search(client, reader, q, limit=3)
        down.append([p["id"] for p in page["items"]])
        while page["next_cursor"]:
            page = await _search(client, reader, q, limit=3, cursor=page["next_cursor"])
            down.append([p["id"] for p in page["items"]])
        assert [len(ids) for ids in down] == [3, 3, 1]
        up = [[p["id"] for p in page["items"]]]
        while True:
            page = await _search(client, reader, q, limit=3, since=page["prev_cursor"])
            if not page["items"]:
                break
            up.insert(0, [p["id"] for p in page["items"]])
        assert up == down
