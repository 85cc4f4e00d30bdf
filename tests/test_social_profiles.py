"""Profiles: reading by id and handle, editing one's own, validation, and guests."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import httpx

from tests.helpers import auth, register


async def _guest(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.post("/auth/guest", json={"display_name": "Visitor"})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_profile_read_by_id_and_handle(client: httpx.AsyncClient) -> None:
    handle = "Ada" + secrets.token_hex(3)
    me = await register(client, handle)
    other = await register(client)
    token, uid = other["access_token"], me["user"]["id"]
    profile = (await client.get(f"/users/{uid}", headers=auth(token))).json()
    assert profile == {
        "id": uid,
        "handle": handle,
        "display_name": handle.title(),
        "bio": "",
        "avatar": None,
        "locked": False,
        "created_at": profile["created_at"],
        "followers_count": 0,
        "following_count": 0,
        "posts_count": 0,
    }
    # Handles are case-insensitive.
    by_handle = await client.get(f"/users/by-handle/{handle.upper()}", headers=auth(token))
    assert by_handle.status_code == 200 and by_handle.json() == profile


async def test_missing_malformed_and_guest_ids_are_the_same_404(client: httpx.AsyncClient) -> None:
    token = (await register(client))["access_token"]
    guest = await _guest(client)
    for user_id in (str(uuid.uuid4()), "not-a-uuid", "x" * 200, guest["user"]["id"]):
        r = await client.get(f"/users/{user_id}", headers=auth(token))
        assert r.status_code == 404, user_id
        assert r.json()["error"]["code"] == "user_not_found"
    r = await client.get("/users/by-handle/nobody-" + secrets.token_hex(4), headers=auth(token))
    assert r.status_code == 404 and r.json()["error"]["code"] == "user_not_found"
    assert (await client.get(f"/users/{uuid.uuid4()}")).status_code == 401


async def test_patch_own_profile(client: httpx.AsyncClient) -> None:
    me = await register(client)
    token, uid = me["access_token"], me["user"]["id"]
    patch = {"display_name": "  Ada L.  ", "bio": "Engines.\nNumbers.", "locked": True}
    r = await client.patch(f"/users/{uid}", json=patch, headers=auth(token))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["display_name"], body["bio"], body["locked"]) == ("Ada L.", "Engines.\nNumbers.", True)
    # Fields left out stay as they are.
    again = (await client.patch(f"/users/{uid}", json={"locked": False}, headers=auth(token))).json()
    assert (again["bio"], again["locked"]) == ("Engines.\nNumbers.", False)
    assert (await client.get(f"/users/{uid}", headers=auth(token))).json() == again


async def test_patch_validation_and_ownership(client: httpx.AsyncClient) -> None:
    me, other = await register(client), await register(client)
    token, uid = me["access_token"], me["user"]["id"]
    for patch, field in (
        ({"bio": "x" * 501}, "bio"),
        ({"bio": "evil\u202eoverride"}, "bio"),
        ({"display_name": ""}, "display_name"),
        ({"locked": "yes please"}, "locked"),
    ):
        r = await client.patch(f"/users/{uid}", json=patch, headers=auth(token))
        assert r.status_code == 422, (patch, r.text)
        assert field in r.json()["error"]["details"]["fields"], patch
    assert (await client.patch(f"/users/{uid}", json={"bio": "é" * 500}, headers=auth(token))).status_code == 200
    r = await client.patch(f"/users/{other['user']['id']}", json={"bio": "mine now"}, headers=auth(token))
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_your_profile"
    r = await client.patch(f"/users/{uuid.uuid4()}", json={"bio": "?"}, headers=auth(token))
    assert r.status_code == 404 and r.json()["error"]["code"] == "user_not_found"


async def test_guests_read_but_every_social_write_is_refused(client: httpx.AsyncClient) -> None:
    target = await register(client)
    guest = await _guest(client)
    token, tid = guest["access_token"], target["user"]["id"]
    assert (await client.get(f"/users/{tid}", headers=auth(token))).status_code == 200
    assert (await client.get(f"/users/{tid}/followers", headers=auth(token))).status_code == 200
    writes = [
        ("POST", f"/users/{tid}/{action}") for action in ("follow", "unfollow", "block", "unblock", "mute", "unmute")
    ]
    writes += [
        ("PATCH", f"/users/{guest['user']['id']}"),
        ("POST", f"/follow-requests/{uuid.uuid4()}/authorize"),
        ("POST", f"/follow-requests/{uuid.uuid4()}/reject"),
    ]
    for method, path in writes:
        r = await client.request(method, path, json={"bio": "hi"}, headers=auth(token))
        assert r.status_code == 403, (method, path, r.text)
        assert r.json()["error"]["code"] == "account_required", (method, path)
    # The refused follow left nothing behind.
    assert (await client.get(f"/users/{tid}", headers=auth(token))).json()["followers_count"] == 0
