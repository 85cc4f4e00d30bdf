"""GET /search/users: what matches, in which order, for whom, in pages, and what is refused."""

from __future__ import annotations

import secrets
from typing import Any

import asyncpg
import httpx

from tests.helpers import auth, register
from tests.test_openapi import _validator

Account = tuple[str, str]  # (token, id)


async def _account(client: httpx.AsyncClient, name: str | None = None) -> Account:
    body = await register(client, name)
    return body["access_token"], body["user"]["id"]


async def _search(client: httpx.AsyncClient, token: str, q: str, **params: Any) -> dict[str, Any]:
    r = await client.get("/search/users", params={"q": q, **params}, headers=auth(token))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def _handles(page: dict[str, Any]) -> list[str]:
    return [item["handle"] for item in page["items"]]


async def test_matches_handles_and_display_names_best_first(client: httpx.AsyncClient) -> None:
    tag = secrets.token_hex(2)  # keeps this test's accounts apart from any other's
    exact = f"ada{tag}"
    await _account(client, exact)
    await _account(client, f"{exact}_lovelace")
    await _account(client, f"the_{exact}")
    named_token, _ = await _account(client, f"zz{tag}")
    me, _ = await _account(client)
    # A display name matches anywhere too.
    r = await client.patch(
        f"/users/{(await client.get('/auth/me', headers=auth(named_token))).json()['id']}",
        json={"display_name": f"Countess ADA{tag.upper()} of Lovelace"},
        headers=auth(named_token),
    )
    assert r.status_code == 200, r.text

    page = await _search(client, me, exact.upper())
    handles = _handles(page)
    # The exact handle, then the handle that starts with it, then the rest by similarity.
    assert handles[:2] == [exact, f"{exact}_lovelace"]
    assert set(handles) == {exact, f"{exact}_lovelace", f"the_{exact}", f"zz{tag}"}
    assert page["next_cursor"] is None
    assert set(page["items"][0]) >= {"id", "handle", "display_name", "bio", "locked", "followers_count"}


async def test_short_queries_match_handle_prefixes_only(client: httpx.AsyncClient) -> None:
    await _account(client, "qx" + secrets.token_hex(3))
    await _account(client, "a_qx" + secrets.token_hex(3))  # "qx" inside, not at the start
    me, _ = await _account(client)
    assert [h[:2] for h in _handles(await _search(client, me, "QX"))] == ["qx"]
    assert _handles(await _search(client, me, "q")) == _handles(await _search(client, me, "qx"))


async def test_like_wildcards_in_the_query_are_literal(client: httpx.AsyncClient) -> None:
    tag = secrets.token_hex(3)
    await _account(client, f"under_{tag}")
    await _account(client, f"underx{tag}")
    me, _ = await _account(client)
    assert _handles(await _search(client, me, f"r_{tag}")) == [f"under_{tag}"]
    assert _handles(await _search(client, me, "%%%")) == []
    assert _handles(await _search(client, me, "u_")) == []  # a prefix query escapes too
    assert _handles(await _search(client, me, "\\\\\\")) == []


async def test_guests_search_but_are_never_found(client: httpx.AsyncClient) -> None:
    name = "guestly" + secrets.token_hex(3)
    r = await client.post("/auth/guest", json={"display_name": name})
    assert r.status_code == 201, r.text
    guest = r.json()["access_token"]
    await _account(client, name)
    # The guest's display name matches the query, but guests have no profile to find.
    assert _handles(await _search(client, guest, name)) == [name]
    assert (await client.get("/search/users", params={"q": name})).status_code == 401


async def test_blocks_hide_both_sides(client: httpx.AsyncClient) -> None:
    tag = "blk" + secrets.token_hex(3)
    blocker, _ = await _account(client, f"{tag}_a")
    blocked, blocked_id = await _account(client, f"{tag}_b")
    bystander, _ = await _account(client)
    r = await client.post(f"/users/{blocked_id}/block", headers=auth(blocker))
    assert r.status_code == 200, r.text
    assert _handles(await _search(client, blocker, tag)) == [f"{tag}_a"]
    assert _handles(await _search(client, blocked, tag)) == [f"{tag}_b"]
    assert set(_handles(await _search(client, bystander, tag))) == {f"{tag}_a", f"{tag}_b"}
    await client.post(f"/users/{blocked_id}/unblock", headers=auth(blocker))
    assert set(_handles(await _search(client, blocked, tag))) == {f"{tag}_a", f"{tag}_b"}


async def test_pages_have_no_gaps_or_duplicates(client: httpx.AsyncClient, database_url: str) -> None:
    me, _ = await _account(client)
    # Many equal ranks (same shape of handle) make the id the tie-breaker the pages rely on.
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            """INSERT INTO users (username, display_name)
               SELECT 'pager' || lpad(i::text, 3, '0'), 'Pager ' || (i % 7) FROM generate_series(1, 230) i"""
        )
    finally:
        await conn.close()
    whole = await _search(client, me, "pager", limit=100)
    assert len(whole["items"]) == 100 and whole["next_cursor"]
    seen: list[str] = []
    cursor: str | None = None
    link = ""
    for _ in range(100):
        params: dict[str, Any] = {"q": "pager", "limit": 17}
        if cursor:
            params["cursor"] = cursor
        r = await client.get("/search/users", params=params, headers=auth(me))
        assert r.status_code == 200, r.text
        page = r.json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        link = r.headers.get("link", "")
        if cursor is None:
            break
        assert 'rel="next"' in link and "q=pager" in link and "limit=17" in link
    assert cursor is None and "next" not in link
    assert len(seen) == len(set(seen)) == 230
    assert seen[:100] == [item["id"] for item in whole["items"]]

    # And back up from the last page with `since=<prev_cursor>`: the same pages, in reverse.
    back: list[str] = []
    since = page["prev_cursor"]
    back = [item["id"] for item in page["items"]]
    for _ in range(100):
        r = await client.get("/search/users", params={"q": "pager", "limit": 17, "since": since}, headers=auth(me))
        assert r.status_code == 200, r.text
        up = r.json()
        assert len(up["items"]) <= 17
        back = [item["id"] for item in up["items"]] + back
        if not up["items"] or up["prev_cursor"] is None:
            break
        assert 'rel="prev"' in r.headers["link"] and 'rel="next"' in r.headers["link"]
        since = up["prev_cursor"]
    assert back == seen
    # Above the best item there is nothing; the empty page points back down.
    top = await client.get(
        "/search/users", params={"q": "pager", "limit": 17, "since": whole["prev_cursor"]}, headers=auth(me)
    )
    assert top.json()["items"] == [] and top.json()["prev_cursor"] is None and top.json()["next_cursor"]


async def test_bad_queries_and_cursors_are_refused(client: httpx.AsyncClient) -> None:
    me, _ = await _account(client)
    for params in ({}, {"q": ""}, {"q": "   "}, {"q": "x" * 101}, {"q": "abc", "limit": 101}, {"q": "abc", "limit": 0}):
        r = await client.get("/search/users", params=params, headers=auth(me))
        assert r.status_code == 422, (params, r.text)
        assert r.json()["error"]["code"] == "validation_failed"
    for cursor in (
        "!!",
        "bm90IGpzb24",
        "WzEsMl0",
        "WyJ4IiwiYSJd",
        "W3RydWUsIjAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMCJd",
    ):
        r = await client.get("/search/users", params={"q": "abc", "cursor": cursor}, headers=auth(me))
        assert r.status_code == 400, (cursor, r.text)
        assert r.json()["error"]["code"] == "invalid_cursor"


async def test_answers_match_the_document(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    me, _ = await _account(client)
    await _account(client, "doc" + secrets.token_hex(3))
    ok = await client.get("/search/users", params={"q": "doc", "limit": 1}, headers=auth(me))
    bad = await client.get("/search/users", params={"q": ""}, headers=auth(me))
    for status, r in ((200, ok), (422, bad)):
        _validator(spec, "/search/users", "get", status).validate(r.json())
    assert "Link" in spec["paths"]["/search/users"]["get"]["responses"]["200"]["headers"]
    params = {p["name"] for p in spec["paths"]["/search/users"]["get"]["parameters"]}
    assert {"q", "limit", "cursor"} <= params


async def test_hostile_queries_get_answers_not_errors(client: httpx.AsyncClient) -> None:
    me, _ = await _account(client)
    for raw in ("%ED%A0%80abc", "%FFabc", "%C3%A9t%C3%A9", "%F0%9D%94%B8" * 100, "a%00b", "%E2%80%AE%E2%80%AEx"):
        r = await client.get(f"/search/users?q={raw}", headers=auth(me))
        assert r.status_code in (200, 400, 422), (raw, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/json"), raw
