"""The identity/spaces/bins flow end to end through the real ASGI stack and PostgreSQL."""

from __future__ import annotations

import httpx

from tests.helpers import auth, make_space, register


async def test_full_flow(client: httpx.AsyncClient) -> None:
    alice = await register(client, "alice")
    bob = await register(client, "bob")
    a, b = alice["access_token"], bob["access_token"]

    space = await make_space(client, a)
    sid = space["id"]
    assert space["role"] == "owner" and len(sid) >= 22

    # Bob cannot see the private space: 404, not 403.
    r = await client.get(f"/spaces/{sid}", headers=auth(b))
    assert r.status_code == 404 and r.json()["error"]["code"] == "space_not_found"

    invite = (
        await client.post(f"/spaces/{sid}/invites", json={"role": "editor", "max_uses": 1}, headers=auth(a))
    ).json()
    joined = await client.post("/spaces/join", json={"token": invite["token"]}, headers=auth(b))
    assert joined.status_code == 200 and joined.json()["role"] == "editor"
    # The invite is used up.
    carol = await register(client, "carol")
    r = await client.post("/spaces/join", json={"token": invite["token"]}, headers=auth(carol["access_token"]))
    assert r.status_code == 410 and r.json()["error"]["code"] == "invite_used_up"

    # Bins with revisions, raw view and a 409 on a stale edit.
    created = await client.post(
        f"/spaces/{sid}/bins", json={"title": "notes", "content": "v1", "language": "markdown"}, headers=auth(b)
    )
    assert created.status_code == 201
    bin_id, etag = created.json()["id"], created.headers["etag"]
    r1 = await client.patch(
        f"/spaces/{sid}/bins/{bin_id}", json={"content": "v2 by alice"}, headers={**auth(a), "If-Match": etag}
    )
    assert r1.status_code == 200 and r1.json()["version"] == 2
    stale = await client.patch(
        f"/spaces/{sid}/bins/{bin_id}", json={"content": "v2 by bob"}, headers={**auth(b), "If-Match": etag}
    )
    assert stale.status_code == 409
    assert stale.json()["error"]["details"]["current_version"] == 2
    raw = await client.get(f"/spaces/{sid}/bins/{bin_id}/raw", headers=auth(b))
    assert raw.text == "v2 by alice"
    assert raw.headers["content-type"] == "text/plain; charset=utf-8"
    assert raw.headers["x-content-type-options"] == "nosniff"
    revs = (await client.get(f"/spaces/{sid}/bins/{bin_id}/revisions", headers=auth(b))).json()
    assert [r["version"] for r in revs["items"]] == [2, 1]
    first = (await client.get(f"/spaces/{sid}/bins/{bin_id}/revisions/1", headers=auth(b))).json()
    assert first["content"] == "v1"

    # Refresh rotation and reuse detection.
    rt = alice["refresh_token"]
    rotated = await client.post("/auth/refresh", json={"refresh_token": rt})
    assert rotated.status_code == 200
    reuse = await client.post("/auth/refresh", json={"refresh_token": rt})
    assert reuse.status_code == 401 and reuse.json()["error"]["code"] == "token_reused"
    # Reuse revoked the whole family: the rotated token is dead too.
    after = await client.post("/auth/refresh", json={"refresh_token": rotated.json()["refresh_token"]})
    assert after.status_code == 401

    # Logout gives 401 for that session's token.
    assert (await client.post("/auth/logout", headers=auth(b))).status_code == 204
    r = await client.get("/auth/me", headers=auth(b))
    assert r.status_code == 401 and r.json()["error"]["code"] == "token_revoked"


async def test_guest_can_register_and_keep_spaces(client: httpx.AsyncClient) -> None:
    g = await client.post("/auth/guest", json={"display_name": "Visitor"})
    assert g.status_code == 201
    token = g.json()["access_token"]
    space = await make_space(client, token)
    up = await client.post(
        "/auth/register",
        json={"username": "visitor1", "password": "pass-word-123", "display_name": "Visitor"},
        headers=auth(token),
    )
    assert up.status_code == 201
    assert up.json()["user"]["id"] == g.json()["user"]["id"]
    assert up.json()["user"]["is_guest"] is False
    mine = (await client.get("/spaces", headers=auth(up.json()["access_token"]))).json()
    assert [s["id"] for s in mine["items"]] == [space["id"]]
