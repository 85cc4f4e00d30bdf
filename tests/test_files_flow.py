"""Files through the real ASGI stack, on both stores: the local disk (default) and S3 (SeaweedFS).

Waiting: background deletion is awaited as a condition (the object is gone), polled with a deadline.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import asyncpg
import httpx
import pytest

from hub.config import Settings
from hub.errors import HubError
from tests.helpers import auth, bus_events, make_space, next_event, register
from tests.support.server import running_hub
from tests.support.waiting import eventually

MIB = 1024 * 1024


@dataclass
class Env:
    http: httpx.AsyncClient
    hub: Any
    token: str
    space: str
    events: asyncio.Queue[dict[str, Any]]
    store_kind: str


def store_settings(kind: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    if kind == "local":
        return {}
    s3 = request.getfixturevalue("s3_service")
    return {
        "s3_endpoint": s3.endpoint,
        "s3_bucket": "f" + secrets.token_hex(8),
        "s3_access_key": s3.access_key,
        "s3_secret_key": s3.secret_key,
        "s3_path_style": True,
        "s3_region": s3.region,
    }


@pytest.fixture
def file_settings() -> dict[str, Any]:
    """Overridden by tests through indirect parametrization when they need other limits."""
    return {}


@pytest.fixture(params=["local", "s3"])
async def env(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings], file_settings: dict[str, Any]
) -> AsyncIterator[Env]:
    settings = make_settings(sweep_interval=0.2, **store_settings(request.param, request), **file_settings)
    async with running_hub(settings) as (url, app), httpx.AsyncClient(base_url=url, timeout=30) as http:
        hub = app.other_asgi_app.ctx.hub
        events = bus_events(hub)
        token = (await register(http))["access_token"]
        space = (await make_space(http, token))["id"]
        yield Env(http, hub, token, space, events, request.param)


async def create(
    env: Env, data: bytes, *, token: str | None = None, space: str | None = None, **fields: Any
) -> httpx.Response:
    body = {"filename": "notes.txt", "size": len(data), "content_type": "text/plain", **fields}
    return await env.http.post(f"/spaces/{space or env.space}/files", json=body, headers=auth(token or env.token))


async def send(env: Env, upload: dict[str, Any], data: bytes) -> httpx.Response:
    assert upload["method"] == "POST"
    return await env.http.post(upload["url"], data=upload["fields"], files={"file": ("blob", data)})


async def upload_file(env: Env, data: bytes, **fields: Any) -> dict[str, Any]:
    r = await create(env, data, **fields)
    assert r.status_code == 201, r.text
    created = r.json()
    sent = await send(env, created["upload"], data)
    assert sent.status_code in (200, 201, 204), sent.text
    done = await env.http.post(f"/files/{created['file_id']}/complete", headers=auth(env.token))
    assert done.status_code == 200, done.text
    return done.json()  # type: ignore[no-any-return]


async def object_key(env: Env, file_id: str) -> str:
    record = await env.hub.files.repo.get(file_id)
    return str(record.object_key)


async def test_upload_complete_download(env: Env) -> None:
    data = "héllo wörld\n".encode() * 100
    r = await create(env, data, sha256=hashlib.sha256(data).hexdigest(), filename="Résumé final.txt")
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["upload"]["method"] == "POST" and created["multipart"] is None
    assert created["file"]["status"] == "pending"
    key = await object_key(env, created["file_id"])
    assert key == f"spaces/{env.space}/{created['file_id']}"
    assert created["upload"]["fields"]["key"] == key
    assert created["upload"]["fields"]["Content-Type"] == "text/plain"

    assert (await send(env, created["upload"], data)).status_code in (200, 201, 204)
    done = await env.http.post(f"/files/{created['file_id']}/complete", headers=auth(env.token))
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "ready" and done.json()["size"] == len(data)
    event = await next_event(env.events, "file_uploaded")
    assert event["space_id"] == env.space and event["file"]["id"] == created["file_id"]
    again = await env.http.post(f"/files/{created['file_id']}/complete", headers=auth(env.token))
    assert again.status_code == 200  # idempotent

    listing = (await env.http.get(f"/spaces/{env.space}/files", headers=auth(env.token))).json()
    assert [f["id"] for f in listing["items"]] == [created["file_id"]]

    r = await env.http.get(f"/files/{created['file_id']}/download", headers=auth(env.token))
    assert r.status_code == 302
    location = r.headers["location"]
    got = await env.http.get(location)
    assert got.status_code == 200 and got.content == data
    disposition = got.headers["content-disposition"]
    assert disposition.startswith("attachment;")  # text/plain is not rendered inline
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == "Résumé final.txt"
    ready = (await env.http.get("/readyz")).json()
    assert (
        ready["checks"][env.hub.blobs.name] == "ok"
        and env.hub.blobs.name == {"local": "blobs", "s3": "s3"}[env.store_kind]
    )


async def test_inline_only_for_safe_types(env: Env) -> None:
    png = await upload_file(env, b"\x89PNG not really", filename="a.png", content_type="image/png")
    r = await env.http.get(f"/files/{png['id']}/download?redirect=false", headers=auth(env.token))
    got = await env.http.get(r.json()["url"])
    assert got.headers["content-disposition"].startswith("inline;")
    r = await env.http.get(f"/files/{png['id']}/download?redirect=false&attachment=true", headers=auth(env.token))
    assert (await env.http.get(r.json()["url"])).headers["content-disposition"].startswith("attachment;")
    bad = await create(env, b"<html>", content_type="text/html", filename="x.html")
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_failed"
    bad = await create(env, b"x", content_type="text/plain; charset=utf-8")
    assert bad.status_code == 422


@pytest.mark.parametrize("file_settings", [{"space_quota_bytes": 1000, "file_max_bytes": 600}])
async def test_size_limit_and_quota(env: Env) -> None:
    too_big = await create(env, b"x" * 700)
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "file_too_large"
    await upload_file(env, b"x" * 500)
    pending = await create(env, b"y" * 300)  # reserved while pending
    assert pending.status_code == 201
    over = await create(env, b"z" * 300)
    assert over.status_code == 413
    assert over.json()["error"] == {**over.json()["error"], "code": "quota_exceeded"}
    assert over.json()["error"]["details"]["quota_bytes"] == 1000
    # The store itself refuses bytes beyond the declared size.
    upload = pending.json()["upload"]
    refused = await send(env, upload, b"y" * 301)
    assert refused.status_code in (400, 413)


async def test_completion_mismatch_deletes_the_object(env: Env) -> None:
    data = b"exact bytes"
    r = await create(env, data, sha256=hashlib.sha256(b"other bytes").hexdigest())
    created = r.json()
    early = await env.http.post(f"/files/{created['file_id']}/complete", headers=auth(env.token))
    assert early.status_code == 409 and early.json()["error"]["code"] == "upload_incomplete"
    assert (await send(env, created["upload"], data)).status_code in (200, 201, 204)
    key = await object_key(env, created["file_id"])
    assert await env.hub.blobs.head(key) is not None
    done = await env.http.post(f"/files/{created['file_id']}/complete", headers=auth(env.token))
    assert done.status_code == 422
    assert done.json()["error"]["code"] == "upload_mismatch" and done.json()["error"]["details"]["reason"] == "sha256"
    assert await env.hub.blobs.head(key) is None
    assert (await env.http.get(f"/files/{created['file_id']}", headers=auth(env.token))).status_code == 404

    # An object of another size (written around the presigned policy) is caught at completion too.
    r = await create(env, b"12345")
    key = await object_key(env, r.json()["file_id"])
    await env.hub.blobs.put(key, b"1234567890", content_type="text/plain")
    done = await env.http.post(f"/files/{r.json()['file_id']}/complete", headers=auth(env.token))
    assert done.status_code == 422 and done.json()["error"]["details"]["reason"] == "size"
    assert await env.hub.blobs.head(key) is None


HOSTILE = [
    "../../etc/passwd",
    "..%2F..%2Fsecret",
    "a\u202etxt.exe",
    "CON",
    "con.txt",
    "x" * 300 + ".png",
    " ..hidden",
    'a/b\\c:d*e?f"g<h>i|j',
    "\u200b\u200b",
    "é" * 200 + ".txt",
]


async def test_hostile_names_are_stored_harmlessly(env: Env) -> None:
    for name in HOSTILE:
        r = await create(env, b"abc", filename=name)
        assert r.status_code == 201, (name, r.text)
        stored = r.json()["file"]["filename"]
        assert "/" not in stored and "\\" not in stored and ".." not in stored.split("/")[0][:2]
        assert "\u202e" not in stored and "\u200b" not in stored and "\x00" not in stored
        assert len(stored.encode()) <= 255 and stored
        assert stored.lower() not in {"con", "con.txt"}
        key = await object_key(env, r.json()["file_id"])
        assert key == f"spaces/{env.space}/{r.json()['file_id']}"  # names never reach the key
    long = (await create(env, b"abc", filename="x" * 300 + ".png")).json()["file"]["filename"]
    assert long.endswith(".png")
    nul = await create(env, b"abc", filename="a\x00b")
    assert nul.status_code == 400 and nul.json()["error"]["code"] == "nul_byte"
    # The Content-Disposition of a hostile name stays one safe header.
    done = await upload_file(env, b"abc", filename='evil\u202e"; filename=x.html')
    r = await env.http.get(f"/files/{done['id']}/download?redirect=false", headers=auth(env.token))
    disposition = (await env.http.get(r.json()["url"])).headers["content-disposition"]
    assert disposition.count("filename=") == 1 and "\u202e" not in disposition


async def test_roles_and_strangers(env: Env) -> None:
    done = await upload_file(env, b"members only")
    invite = await env.http.post(f"/spaces/{env.space}/invites", json={"role": "viewer"}, headers=auth(env.token))
    viewer = (await register(env.http))["access_token"]
    assert (
        await env.http.post("/spaces/join", json={"token": invite.json()["token"]}, headers=auth(viewer))
    ).status_code == 200
    stranger = (await register(env.http))["access_token"]
    fid = done["id"]

    assert (await env.http.get(f"/files/{fid}", headers=auth(viewer))).status_code == 200
    assert (await env.http.get(f"/files/{fid}/download", headers=auth(viewer))).status_code == 302
    for method, path in [("DELETE", f"/files/{fid}"), ("POST", f"/files/{fid}/complete")]:
        r = await env.http.request(method, path, headers=auth(viewer))
        assert r.status_code == 403 and r.json()["error"]["code"] == "role_required", path
    assert (await create(env, b"x", token=viewer)).status_code == 403

    for method, path in [
        ("GET", f"/files/{fid}"),
        ("GET", f"/files/{fid}/download"),
        ("DELETE", f"/files/{fid}"),
        ("GET", f"/spaces/{env.space}/files"),
        ("GET", "/files/nonexistent"),
    ]:
        r = await env.http.request(method, path, headers=auth(stranger))
        assert r.status_code == 404, path
    assert (await create(env, b"x", token=stranger)).status_code == 404
    assert (await env.http.get(f"/files/{fid}")).status_code == 401


async def test_pagination(env: Env) -> None:
    ids = [(await upload_file(env, b"p" * n))["id"] for n in (1, 2, 3)]
    first = (await env.http.get(f"/spaces/{env.space}/files?limit=2", headers=auth(env.token))).json()
    assert [f["id"] for f in first["items"]] == ids[::-1][:2] and first["next_cursor"]
    second = (
        await env.http.get(f"/spaces/{env.space}/files?limit=2&cursor={first['next_cursor']}", headers=auth(env.token))
    ).json()
    assert [f["id"] for f in second["items"]] == ids[:1] and second["next_cursor"] is None
    bad = await env.http.get(f"/spaces/{env.space}/files?cursor=!!garbage", headers=auth(env.token))
    assert bad.status_code == 400
    assert (await env.http.get(f"/spaces/{env.space}/files?limit=101", headers=auth(env.token))).status_code == 422


async def test_download_limits_and_file_expiry(env: Env, database_url: str) -> None:
    once = await upload_file(env, b"read me once", max_downloads=1)
    assert (await env.http.get(f"/files/{once['id']}/download", headers=auth(env.token))).status_code == 302
    second = await env.http.get(f"/files/{once['id']}/download", headers=auth(env.token))
    assert second.status_code == 410 and second.json()["error"]["code"] == "download_limit_reached"

    short = await upload_file(env, b"short lived", expires_in=3600)
    key = await object_key(env, short["id"])
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("UPDATE files SET expires_at = now() - interval '1 second' WHERE id = $1", short["id"])
    finally:
        await conn.close()
    r = await env.http.get(f"/files/{short['id']}/download", headers=auth(env.token))
    assert r.status_code in (404, 410)  # 410 until the sweeper removes it, then 404

    async def object_gone() -> bool:
        return await env.hub.blobs.head(key) is None

    await eventually(object_gone, timeout=15)
    assert (await env.http.get(f"/files/{short['id']}", headers=auth(env.token))).status_code == 404


async def test_delete_removes_objects(env: Env) -> None:
    done = await upload_file(env, b"delete me")
    key = await object_key(env, done["id"])
    r = await env.http.delete(f"/files/{done['id']}", headers=auth(env.token))
    assert r.status_code == 204
    event = await next_event(env.events, "file_deleted")
    assert event["file_id"] == done["id"]

    async def object_gone() -> bool:
        return await env.hub.blobs.head(key) is None

    await eventually(object_gone, timeout=15)
    assert (await env.http.get(f"/files/{done['id']}", headers=auth(env.token))).status_code == 404


async def test_space_expiry_deletes_objects(env: Env, database_url: str) -> None:
    keys = []
    for n in range(3):
        done = await upload_file(env, b"expiring " * (n + 1))
        keys.append(await object_key(env, done["id"]))
    pending = await create(env, b"never uploaded")
    keys.append(await object_key(env, pending.json()["file_id"]))
    conn = await asyncpg.connect(database_url)
    try:
        # The spaces sweeper deletes expired spaces; the files cascade and their objects are queued.
        await conn.execute("UPDATE spaces SET expires_at = now() - interval '1 second' WHERE id = $1", env.space)

        async def all_gone() -> bool:
            heads = [await env.hub.blobs.head(k) for k in keys]
            return all(h is None for h in heads) and await conn.fetchval("SELECT count(*) FROM blob_deletions") == 0

        await eventually(all_gone, timeout=30)
        assert await conn.fetchval("SELECT count(*) FROM files WHERE space_id = $1", env.space) == 0
    finally:
        await conn.close()


@pytest.mark.parametrize("file_settings", [{"multipart_threshold": MIB, "multipart_part_bytes": 5 * MIB}])
async def test_multipart_upload_resumes(env: Env, database_url: str) -> None:
    data = os.urandom(5 * MIB + 1000)
    r = await create(
        env, data, content_type="application/zip", filename="big.zip", sha256=hashlib.sha256(data).hexdigest()
    )
    assert r.status_code == 201, r.text
    created = r.json()
    fid = created["file_id"]
    assert created["upload"] is None and created["multipart"] == {"part_size": 5 * MIB, "part_count": 2}
    urls = (await env.http.post(f"/files/{fid}/parts", json={"part_numbers": [1]}, headers=auth(env.token))).json()
    part = urls["parts"][0]
    assert (await env.http.put(part["url"], content=data[: 5 * MIB], headers=part["headers"])).status_code == 200

    # Interrupted: the client comes back, asks what arrived, and sends the rest.
    early = await env.http.post(f"/files/{fid}/complete", headers=auth(env.token))
    assert early.status_code == 409 and early.json()["error"]["details"]["missing_parts"] == [2]
    listing = (await env.http.get(f"/files/{fid}/parts", headers=auth(env.token))).json()
    assert [(p["part_number"], p["size"]) for p in listing["parts"]] == [(1, 5 * MIB)]
    bad = await env.http.post(f"/files/{fid}/parts", json={"part_numbers": [3]}, headers=auth(env.token))
    assert bad.status_code == 422
    urls = (await env.http.post(f"/files/{fid}/parts", json={"part_numbers": [2]}, headers=auth(env.token))).json()
    part = urls["parts"][0]
    assert (await env.http.put(part["url"], content=data[5 * MIB :], headers=part["headers"])).status_code == 200
    done = await env.http.post(f"/files/{fid}/complete", headers=auth(env.token))
    assert done.status_code == 200, done.text
    r = await env.http.get(f"/files/{fid}/download?redirect=false", headers=auth(env.token))
    got = await env.http.get(r.json()["url"])
    assert hashlib.sha256(got.content).digest() == hashlib.sha256(data).digest()

    # An abandoned multipart upload is aborted by the sweeper.
    r = await create(env, data, content_type="application/zip")
    fid = r.json()["file_id"]
    urls = (await env.http.post(f"/files/{fid}/parts", json={"part_numbers": [1]}, headers=auth(env.token))).json()
    await env.http.put(urls["parts"][0]["url"], content=data[: 5 * MIB])
    record = await env.hub.files.repo.get(fid)
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("UPDATE files SET upload_expires_at = now() - interval '1 second' WHERE id = $1", fid)
    finally:
        await conn.close()

    async def aborted() -> bool:
        try:
            await env.hub.blobs.list_parts(record.object_key, record.multipart_upload_id)
        except Exception as exc:
            return getattr(exc, "code", "") in {"no_such_key", "no_such_upload"}
        return False

    await eventually(aborted, timeout=15)
    assert await env.hub.files.repo.get(fid) is None


@pytest.mark.parametrize(
    "file_settings",
    [
        {
            "multipart_threshold": MIB,
            "multipart_part_bytes": 5 * MIB,
            "file_max_bytes": 2**50,
            "space_quota_bytes": 2**51,
        }
    ],
)
async def test_multipart_part_numbers_and_sizes(env: Env) -> None:
    # Sizes no plan can fit are refused when the upload is created; very large files get larger parts.
    r = await create(env, b"", size=5 * 1024**4 + 1, content_type="application/zip")
    assert r.status_code == 413 and r.json()["error"]["code"] == "file_too_large"
    assert r.json()["error"]["details"] == {"max_bytes": 5 * 1024**4} and r.json()["error"]["request_id"]
    r = await create(env, b"", size=100 * 1024**3, content_type="application/zip")
    assert r.status_code == 201, r.text
    plan = r.json()["multipart"]
    assert plan == {"part_size": -(-100 * 1024**3 // 10_000), "part_count": 10_000}
    assert (await env.http.delete(f"/files/{r.json()['file_id']}", headers=auth(env.token))).status_code == 204

    data = os.urandom(5 * MIB + 1000)
    r = await create(env, data, content_type="application/zip")
    fid = r.json()["file_id"]
    assert r.json()["multipart"] == {"part_size": 5 * MIB, "part_count": 2}
    for numbers in ([0], [10_001], [-1], [1, 3]):
        bad = await env.http.post(f"/files/{fid}/parts", json={"part_numbers": numbers}, headers=auth(env.token))
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_failed", numbers

    # Each part URL admits exactly that part's size; the store refuses anything else when it is sent.
    urls = (await env.http.post(f"/files/{fid}/parts", json={"part_numbers": [1, 2]}, headers=auth(env.token))).json()[
        "parts"
    ]
    for body in (data[:MIB], data[: 5 * MIB + 1]):
        refused = await env.http.put(urls[0]["url"], content=body)
        assert refused.status_code in (400, 403, 413), refused.text
    assert (await env.http.put(urls[1]["url"], content=data[5 * MIB :])).status_code == 200

    # A part that reached the store some other way with the wrong size fails completion with a 422 naming
    # it, and the upload is deleted as on any mismatch.
    record = await env.hub.files.repo.get(fid)
    rogue = await env.hub.blobs.presign_part(record.object_key, record.multipart_upload_id, 1, ttl=60, size=MIB)
    assert (await env.http.put(rogue.url, content=data[:MIB])).status_code == 200
    done = await env.http.post(f"/files/{fid}/complete", headers=auth(env.token))
    assert done.status_code == 422, done.text
    error = done.json()["error"]
    assert error["code"] == "upload_mismatch" and error["request_id"] and "Part 1" in error["message"]
    assert error["details"] == {"reason": "part_size", "part_number": 1, "expected": 5 * MIB, "actual": MIB}
    with pytest.raises(HubError) as gone:
        await env.hub.blobs.list_parts(record.object_key, record.multipart_upload_id)
    assert gone.value.code in {"no_such_key", "no_such_upload"}
    assert (await env.http.get(f"/files/{fid}", headers=auth(env.token))).status_code == 404


async def test_my_uploads_in_progress_are_listed_for_resuming(env: Env) -> None:
    # Alice starts three uploads and finishes one; Bob, an editor of the same space, starts one.
    started = [(await create(env, b"x" * 10, filename=f"u{i}.txt")).json()["file_id"] for i in range(3)]
    finished = await upload_file(env, b"done")
    bob = (await register(env.http))["access_token"]
    invite = (
        await env.http.post(f"/spaces/{env.space}/invites", json={"role": "editor"}, headers=auth(env.token))
    ).json()
    assert (await env.http.post("/spaces/join", json={"token": invite["token"]}, headers=auth(bob))).status_code == 200
    bobs = (await create(env, b"y" * 10, token=bob)).json()["file_id"]

    seen: list[str] = []
    cursor = ""
    for _ in range(5):  # pages of two, newest first
        r = await env.http.get(f"/spaces/{env.space}/uploads?limit=2{cursor}", headers=auth(env.token))
        assert r.status_code == 200, r.text
        page = r.json()
        assert all(f["status"] == "pending" for f in page["items"])
        seen += [f["id"] for f in page["items"]]
        if not page["next_cursor"]:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert seen == started[::-1]  # only Alice's own, unfinished ones
    assert finished["id"] not in seen and bobs not in seen
    bob_sees = (await env.http.get(f"/spaces/{env.space}/uploads", headers=auth(bob))).json()
    assert [f["id"] for f in bob_sees["items"]] == [bobs]

    # A viewer cannot upload, so has nothing to resume; a stranger learns nothing.
    viewer = (await register(env.http))["access_token"]
    invite = (
        await env.http.post(f"/spaces/{env.space}/invites", json={"role": "viewer"}, headers=auth(env.token))
    ).json()
    await env.http.post("/spaces/join", json={"token": invite["token"]}, headers=auth(viewer))
    r = await env.http.get(f"/spaces/{env.space}/uploads", headers=auth(viewer))
    assert r.status_code == 403 and r.json()["error"]["code"] == "role_required"
    stranger = (await register(env.http))["access_token"]
    assert (await env.http.get(f"/spaces/{env.space}/uploads", headers=auth(stranger))).status_code == 404
