"""No IDOR: every endpoint that names another user's resource, replayed with a stranger's token,
reveals nothing and changes nothing: its answer is byte-identical to the one for ids that do not exist
(apart from the request id). A viewer's writes are refused with 403."""

from __future__ import annotations

import re
import secrets
import uuid
from typing import Any

import httpx

from tests.helpers import auth, make_space, register

HOSTILE_BODY = {
    "name": "pwned",
    "title": "pwned",
    "content": "pwned",
    "role": "owner",
    "version": 1,
    "token": "x",
    "visibility": "link",
    "filename": "pwned.txt",
    "size": 1,
    "content_type": "text/plain",
    "ids": ["x"],
}


async def _snapshot(client: httpx.AsyncClient, token: str, sid: str, bin_id: str) -> dict[str, Any]:
    h = auth(token)
    return {
        "space": (await client.get(f"/spaces/{sid}", headers=h)).json(),
        "bin": (await client.get(f"/spaces/{sid}/bins/{bin_id}", headers=h)).json(),
        "members": (await client.get(f"/spaces/{sid}/members", headers=h)).json(),
        "invites": (await client.get(f"/spaces/{sid}/invites", headers=h)).json(),
        "bins": (await client.get(f"/spaces/{sid}/bins", headers=h)).json(),
        "files": (await client.get(f"/spaces/{sid}/files", headers=h)).json(),
    }


async def _upload(client: httpx.AsyncClient, token: str, sid: str) -> str:
    body = {"filename": "secret.txt", "size": 14, "content_type": "text/plain"}
    created = (await client.post(f"/spaces/{sid}/files", json=body, headers=auth(token))).json()
    sent = await client.post(
        created["upload"]["url"], data=created["upload"]["fields"], files={"file": ("blob", b"alice's secret")}
    )
    assert sent.status_code in (200, 201, 204), sent.text
    done = await client.post(f"/files/{created['file_id']}/complete", headers=auth(token))
    assert done.status_code == 200, done.text
    return str(created["file_id"])


def _comparable(r: httpx.Response) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body apart from the request id (and Date, which follows the clock)."""
    request_id = r.headers.get("x-request-id", "")
    headers = {k: v for k, v in r.headers.items() if k not in ("x-request-id", "date")}
    return r.status_code, headers, r.content.replace(request_id.encode(), b"") if request_id else r.content


async def test_stranger_replay_of_every_endpoint(client: httpx.AsyncClient) -> None:
    alice = await register(client)
    a = alice["access_token"]
    space = await make_space(client, a)
    sid = space["id"]
    bin_ = (
        await client.post(f"/spaces/{sid}/bins", json={"title": "secret", "content": "alice's secret"}, headers=auth(a))
    ).json()
    invite = (await client.post(f"/spaces/{sid}/invites", json={"role": "viewer"}, headers=auth(a))).json()
    file_id = await _upload(client, a, sid)
    values = {
        "space_id": sid,
        "bin_id": bin_["id"],
        "user_id": alice["user"]["id"],
        "invite_id": invite["id"],
        "file_id": file_id,
        "version": "1",
    }
    before = await _snapshot(client, a, sid, bin_["id"])

    mallory = (await register(client))["access_token"]
    spec = (await client.get("/openapi.json")).json()
    tried = 0
    for path, item in spec["paths"].items():
        params = re.findall(r"\{(\w+)\}", path)
        if not params:
            continue
        url = path
        for name in params:
            url = url.replace("{" + name + "}", values.get(name, "unknown-id"))
        missing = path
        for name in params:
            # Ids of the same shape that name nothing (the version is not an id).
            fresh = {"version": "1", "user_id": str(uuid.uuid4())}.get(name) or secrets.token_urlsafe(16)
            missing = missing.replace("{" + name + "}", fresh)
        for method, op in item.items():
            if "social" in op.get("tags", []) or path == "/users/{user_id}/posts":
                # Profiles and their public posts are public by design; who may see them is the block
                # and visibility matrices' business (test_social_graph, test_posts_visibility).
                continue
            r = await client.request(method.upper(), url, headers=auth(mallory), json=HOSTILE_BODY)
            tried += 1
            assert r.status_code < 500, (method, path, r.status_code, r.text)
            if op.get("security"):  # public pages (the web client's shell) may answer, but leak nothing
                assert r.status_code >= 400, (method, path, r.status_code, r.text)
            assert "secret" not in r.text and alice["user"]["id"] not in r.text, (method, path, r.text)
            nothing = await client.request(method.upper(), missing, headers=auth(mallory), json=HOSTILE_BODY)
            assert _comparable(r) == _comparable(nothing), (method, path, r.text, nothing.text)
    assert tried >= 15

    after = await _snapshot(client, a, sid, bin_["id"])
    assert after == before


async def test_viewer_cannot_write(client: httpx.AsyncClient) -> None:
    owner = (await register(client))["access_token"]
    viewer = (await register(client))["access_token"]
    sid = (await make_space(client, owner))["id"]
    invite = (await client.post(f"/spaces/{sid}/invites", json={"role": "viewer"}, headers=auth(owner))).json()
    assert (await client.post("/spaces/join", json={"token": invite["token"]}, headers=auth(viewer))).status_code == 200
    bin_ = (await client.post(f"/spaces/{sid}/bins", json={"title": "t", "content": "c"}, headers=auth(owner))).json()

    writes = [
        ("POST", f"/spaces/{sid}/bins", {"title": "x", "content": "y"}),
        ("PATCH", f"/spaces/{sid}/bins/{bin_['id']}", {"content": "z", "version": 1}),
        ("DELETE", f"/spaces/{sid}/bins/{bin_['id']}", None),
        ("PATCH", f"/spaces/{sid}", {"name": "mine now"}),
        ("DELETE", f"/spaces/{sid}", None),
        ("POST", f"/spaces/{sid}/invites", {"role": "editor"}),
    ]
    for method, url, body in writes:
        r = await client.request(method, url, json=body, headers=auth(viewer))
        assert r.status_code == 403, (method, url, r.text)
        assert r.json()["error"]["code"] == "role_required"
    # Reads work for the viewer.
    assert (await client.get(f"/spaces/{sid}/bins/{bin_['id']}", headers=auth(viewer))).json()["content"] == "c"
