"""`GET /invites/{token}`: what an invite link offers, before signing in, and why it no longer works."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from tests.helpers import auth, comparable, make_space, register
from tests.test_posts_flow import sql


async def _invite(client: httpx.AsyncClient, owner: str, space_id: str, **fields: Any) -> dict[str, Any]:
    r = await client.post(f"/spaces/{space_id}/invites", json=fields, headers=auth(owner))
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def _error(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["error"]["code"]


async def test_the_landing_names_the_space_and_role_and_nothing_else(client: httpx.AsyncClient) -> None:
    owner = (await register(client))["access_token"]
    space = await make_space(client, owner, name="Team board")
    invite = await _invite(client, owner, space["id"], role="editor", max_uses=3)
    r = await client.get(f"/invites/{invite['token']}")  # no account
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"space_name", "role", "expires_at"}
    assert body["space_name"] == "Team board" and body["role"] == "editor"
    # No expiry of its own: the link works as long as the space lives.
    assert datetime.fromisoformat(body["expires_at"]) == datetime.fromisoformat(space["expires_at"])

    timed = await _invite(client, owner, space["id"], expires_in=3600)
    shown = (await client.get(f"/invites/{timed['token']}")).json()
    assert shown["role"] == "viewer"
    assert datetime.fromisoformat(shown["expires_at"]) == datetime.fromisoformat(timed["expires_at"])


async def test_used_up_and_expired_invites_say_so(client: httpx.AsyncClient, database_url: str) -> None:
    owner = (await register(client))["access_token"]
    joiner = (await register(client))["access_token"]
    space = await make_space(client, owner)
    once = await _invite(client, owner, space["id"], max_uses=1)
    assert (await client.post("/spaces/join", json={"token": once["token"]}, headers=auth(joiner))).status_code == 200
    assert _error(await client.get(f"/invites/{once['token']}")) == (410, "invite_used_up")

    late = await _invite(client, owner, space["id"], expires_in=3600)
    await sql(
        database_url, "UPDATE space_invites SET expires_at = now() - interval '1 second' WHERE id = $1", late["id"]
    )
    assert _error(await client.get(f"/invites/{late['token']}")) == (410, "invite_expired")

    # An invite into a space whose own time is over has expired with it.
    fresh = await _invite(client, owner, space["id"])
    await sql(database_url, "UPDATE spaces SET expires_at = now() - interval '1 second' WHERE id = $1", space["id"])
    assert _error(await client.get(f"/invites/{fresh['token']}")) == (410, "invite_expired")


async def test_revoked_unknown_and_hostile_tokens_are_the_same_404(
    client: httpx.AsyncClient, database_url: str
) -> None:
    owner = (await register(client))["access_token"]
    space = await make_space(client, owner)
    revoked = await _invite(client, owner, space["id"])
    r = await client.delete(f"/spaces/{space['id']}/invites/{revoked['id']}", headers=auth(owner))
    assert r.status_code == 204, r.text
    taken_down = await make_space(client, owner)
    hidden = await _invite(client, owner, taken_down["id"])
    await sql(database_url, "UPDATE spaces SET removed_at = now() WHERE id = $1", taken_down["id"])

    unknown = comparable(await client.get("/invites/never-issued-token"))
    assert unknown[0] == 404 and unknown[1]["error"]["code"] == "invite_not_found"
    for token in (revoked["token"], hidden["token"], "x" * 201, "%00", "..%2F..%2Fetc", "ñ" * 10, "a%20b"):
        assert comparable(await client.get(f"/invites/{token}")) == unknown, token
