"""Spaces and bins behaviour: expiry, pagination, burn-after-reading, preconditions, roles."""

from __future__ import annotations

import asyncpg
import httpx

from tests.helpers import auth, make_space, register
from tests.support.server import running_hub
from tests.support.waiting import eventually


async def test_expired_space_is_gone_then_purged(make_settings, database_url: str) -> None:  # type: ignore[no-untyped-def]
    async with running_hub(make_settings(sweep_interval=0.1)) as (url, _), httpx.AsyncClient(base_url=url) as c:
        token = (await register(c))["access_token"]
        sid = (await make_space(c, token))["id"]
        await c.post(f"/spaces/{sid}/bins", json={"title": "t", "content": "c"}, headers=auth(token))
        conn = await asyncpg.connect(database_url)
        try:
            # Expire it "now" and check the 410 before the sweeper can get to it, inside one transaction
            # that holds the row lock (the sweeper skips locked rows).
            async with conn.transaction():
                await conn.execute("UPDATE spaces SET expires_at = now() - interval '1 second' WHERE id = $1", sid)
            r = await c.get(f"/spaces/{sid}", headers=auth(token))
            assert r.status_code in (410, 404)
            if r.status_code == 410:
                assert r.json()["error"]["code"] == "space_expired"

            async def purged() -> bool:
                return await conn.fetchval("SELECT count(*) FROM spaces WHERE id = $1", sid) == 0

            await eventually(purged, timeout=10)
            assert await conn.fetchval("SELECT count(*) FROM bins WHERE space_id = $1", sid) == 0
            assert (await c.get(f"/spaces/{sid}", headers=auth(token))).status_code == 404
        finally:
            await conn.close()


async def test_expired_space_answers_410_on_every_endpoint(make_settings, database_url: str) -> None:  # type: ignore[no-untyped-def]
    async with running_hub(make_settings(sweep_interval=0)) as (url, _), httpx.AsyncClient(base_url=url) as c:
        token = (await register(c))["access_token"]
        sid = (await make_space(c, token))["id"]
        made = await c.post(f"/spaces/{sid}/bins", json={"title": "t", "content": "c"}, headers=auth(token))
        bid = made.json()["id"]
        conn = await asyncpg.connect(database_url)
        await conn.execute("UPDATE spaces SET expires_at = now() - interval '1 second' WHERE id = $1", sid)
        await conn.close()
        for method, path in [
            ("GET", f"/spaces/{sid}"),
            ("GET", f"/spaces/{sid}/bins"),
            ("GET", f"/spaces/{sid}/bins/{bid}"),
            ("PATCH", f"/spaces/{sid}"),
            ("GET", f"/spaces/{sid}/members"),
        ]:
            r = await c.request(method, path, headers=auth(token), json={"name": "x"})
            assert r.status_code == 410, (method, path, r.status_code)
        assert (await c.get("/spaces", headers=auth(token))).json()["items"] == []


async def test_ttl_limits_and_extension(client: httpx.AsyncClient) -> None:
    token = (await register(client))["access_token"]
    r = await client.post("/spaces", json={"name": "x", "ttl_seconds": 10**8}, headers=auth(token))
    assert r.status_code == 422 and "ttl_seconds" in r.json()["error"]["details"]["fields"]
    space = await make_space(client, token, ttl_seconds=3600)
    extended = await client.patch(f"/spaces/{space['id']}", json={"ttl_seconds": 86_400}, headers=auth(token))
    assert extended.json()["expires_at"] > space["expires_at"]


async def test_pagination_is_stable_under_concurrent_inserts(client: httpx.AsyncClient) -> None:
    token = (await register(client))["access_token"]
    sid = (await make_space(client, token))["id"]
    for i in range(7):
        await client.post(f"/spaces/{sid}/bins", json={"title": f"b{i}", "content": ""}, headers=auth(token))
    seen: list[str] = []
    cursor = None
    inserted = False
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"/spaces/{sid}/bins", params=params, headers=auth(token))).json()
        seen += [b["title"] for b in page["items"]]
        if not inserted:
            await client.post(f"/spaces/{sid}/bins", json={"title": "late", "content": ""}, headers=auth(token))
            inserted = True
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"b{i}" for i in range(7)] + ["late"]
    assert len(set(seen)) == len(seen)


async def test_burn_after_reading(client: httpx.AsyncClient) -> None:
    owner = (await register(client))["access_token"]
    reader = (await register(client))["access_token"]
    space = await make_space(client, owner)
    sid = space["id"]
    inv = (await client.post(f"/spaces/{sid}/invites", json={"role": "viewer"}, headers=auth(owner))).json()
    await client.post("/spaces/join", json={"token": inv["token"]}, headers=auth(reader))
    once = {"title": "once", "content": "secret", "burn_after_reading": True}
    bid = (await client.post(f"/spaces/{sid}/bins", json=once, headers=auth(owner))).json()["id"]
    assert (await client.get(f"/spaces/{sid}/bins/{bid}", headers=auth(owner))).json()["burned"] is False
    first = await client.get(f"/spaces/{sid}/bins/{bid}", headers=auth(reader))
    assert first.json()["content"] == "secret" and first.json()["burned"] is True
    assert (await client.get(f"/spaces/{sid}/bins/{bid}", headers=auth(reader))).status_code == 404


async def test_preconditions_and_conditional_get(client: httpx.AsyncClient) -> None:
    token = (await register(client))["access_token"]
    sid = (await make_space(client, token))["id"]
    created = await client.post(f"/spaces/{sid}/bins", json={"title": "t", "content": "c"}, headers=auth(token))
    bid, etag = created.json()["id"], created.headers["etag"]
    r = await client.patch(f"/spaces/{sid}/bins/{bid}", json={"content": "x"}, headers=auth(token))
    assert r.status_code == 428 and r.json()["error"]["code"] == "precondition_required"
    junk = {**auth(token), "If-Match": "junk"}
    r = await client.patch(f"/spaces/{sid}/bins/{bid}", json={"content": "x"}, headers=junk)
    assert r.status_code == 400
    r = await client.patch(f"/spaces/{sid}/bins/{bid}", json={"content": "x", "version": 1}, headers=auth(token))
    assert r.status_code == 200 and r.headers["etag"] == '"v2"'
    r = await client.get(f"/spaces/{sid}/bins/{bid}", headers={**auth(token), "If-None-Match": '"v2"'})
    assert r.status_code == 304
    r = await client.get(f"/spaces/{sid}/bins/{bid}", headers={**auth(token), "If-None-Match": etag})
    assert r.status_code == 200 and r.json()["content"] == "x"


async def test_link_visibility_roles_and_last_owner(client: httpx.AsyncClient) -> None:
    owner = await register(client)
    other = await register(client)
    o, b = owner["access_token"], other["access_token"]
    private = await make_space(client, o)
    assert (await client.post(f"/spaces/{private['id']}/join", headers=auth(b))).status_code == 404
    link = await make_space(client, o, visibility="link", link_role="editor")
    joined = await client.post(f"/spaces/{link['id']}/join", headers=auth(b))
    assert joined.status_code == 200 and joined.json()["role"] == "editor"

    sid = link["id"]
    r = await client.delete(f"/spaces/{sid}/members/{owner['user']['id']}", headers=auth(o))
    assert r.status_code == 409 and r.json()["error"]["code"] == "last_owner"
    assert (
        await client.patch(f"/spaces/{sid}/members/{other['user']['id']}", json={"role": "owner"}, headers=auth(o))
    ).status_code == 204
    # Now the first owner may leave.
    assert (await client.post(f"/spaces/{sid}/leave", headers=auth(o))).status_code == 204
    assert (await client.get(f"/spaces/{sid}", headers=auth(o))).status_code == 404
    members = (await client.get(f"/spaces/{sid}/members", headers=auth(b))).json()["items"]
    assert [m["user_id"] for m in members] == [other["user"]["id"]]
