"""The media library through the real ASGI stack, on both stores (local disk and S3 via SeaweedFS):
upload, the store's own refusals, ownership, the worker's variants, avatars, deletion and the sweeper.

No background sweeper runs (HUB_SWEEP_INTERVAL=0): tests run the sweep and the deletion drain
themselves, so what they check is what that one step did.
"""

from __future__ import annotations

import io
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from PIL import Image

from hub.config import Settings
from tests.helpers import auth, register
from tests.support.server import running_hub
from tests.test_files_flow import eventually, store_settings
from tests.test_social_graph import _comparable


def png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (20, 120, 200)).save(buf, "PNG")
    return buf.getvalue()


@dataclass
class Env:
    http: httpx.AsyncClient
    hub: Any
    token: str
    user_id: str


@pytest.fixture
def media_settings() -> dict[str, Any]:
    return {}


@pytest.fixture(params=["local", "s3"])
async def env(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings], media_settings: dict[str, Any]
) -> AsyncIterator[Env]:
    settings = make_settings(sweep_interval=0, **store_settings(request.param, request), **media_settings)
    async with running_hub(settings) as (url, app), httpx.AsyncClient(base_url=url, timeout=30) as http:
        me = await register(http)
        yield Env(http, app.other_asgi_app.ctx.hub, me["access_token"], me["user"]["id"])


async def start(env: Env, data: bytes, *, token: str | None = None, **fields: Any) -> httpx.Response:
    body = {"filename": "pic.png", "size": len(data), "content_type": "image/png", **fields}
    return await env.http.post("/media/upload", json=body, headers=auth(token or env.token))


async def send(env: Env, upload: dict[str, Any], data: bytes, **override: str) -> httpx.Response:
    assert upload["method"] == "POST"
    return await env.http.post(upload["url"], data={**upload["fields"], **override}, files={"file": ("b", data)})


async def upload_image(env: Env, data: bytes, *, token: str | None = None) -> dict[str, Any]:
    r = await start(env, data, token=token)
    assert r.status_code == 201, r.text
    assert (await send(env, r.json()["upload"], data)).status_code in (200, 201, 204)
    done = await env.http.post(f"/media/upload/{r.json()['media_id']}/complete", headers=auth(token or env.token))
    assert done.status_code == 200, done.text
    return done.json()  # type: ignore[no-any-return]


async def processed(env: Env, media_id: str, token: str | None = None) -> dict[str, Any]:
    """The media once the worker finished with it (done or failed)."""
    found: dict[str, Any] = {}

    async def finished() -> bool:
        r = await env.http.get(f"/media/upload/{media_id}/status", headers=auth(token or env.token))
        found.update(r.json())
        return r.json()["processing"] in ("done", "failed")

    await eventually(finished, timeout=30)
    return (await env.http.get(f"/media/{media_id}", headers=auth(token or env.token))).json()  # type: ignore[no-any-return]


async def object_keys(env: Env, media_id: str) -> list[str]:
    record = await env.hub.media_library.repo.get(media_id)
    return [record.object_key] + [str(v["key"]) for v in record.variants.values()]


async def blobs_gone(env: Env, keys: list[str]) -> bool:
    await env.hub.files.drain_deletions()
    return all([await env.hub.blobs.head(k) is None for k in keys])


async def test_upload_complete_variants_and_delete(env: Env) -> None:
    data = png(800, 600)
    r = await start(env, data)
    assert r.status_code == 201, r.text
    created = r.json()
    media_id = created["media_id"]
    assert created["media"]["status"] == "pending" and created["media"]["url"] is None
    fields = created["upload"]["fields"]
    assert fields["Content-Type"] == "image/png" and fields["key"] == f"media/{env.user_id}/{media_id}"
    early = await env.http.post(f"/media/upload/{media_id}/complete", headers=auth(env.token))
    assert early.status_code == 409 and early.json()["error"]["code"] == "upload_incomplete"

    assert (await send(env, created["upload"], data)).status_code in (200, 201, 204)
    done = await env.http.post(f"/media/upload/{media_id}/complete", headers=auth(env.token))
    assert done.status_code == 200 and done.json()["status"] == "ready"
    again = await env.http.post(f"/media/upload/{media_id}/complete", headers=auth(env.token))
    assert again.status_code == 200  # a retried completion is harmless

    media = await processed(env, media_id)
    assert media["processing"] == "done" and (media["width"], media["height"]) == (800, 600)
    assert set(media["variants"]) == {"thumb", "medium"} and media["urls_expire_at"]
    thumb = await env.http.get(media["variants"]["thumb"]["url"])
    with Image.open(io.BytesIO(thumb.content)) as img:
        assert img.format == "WEBP" and img.size == (256, 192)
    assert media["variants"]["thumb"]["width"] == 256
    original = await env.http.get(media["url"])
    assert original.status_code == 200 and original.content == data

    keys = await object_keys(env, media_id)
    assert len(keys) == 3 and all([await env.hub.blobs.head(k) is not None for k in keys])
    assert (await env.http.delete(f"/media/{media_id}", headers=auth(env.token))).status_code == 204
    assert (await env.http.get(f"/media/{media_id}", headers=auth(env.token))).status_code == 404
    await eventually(lambda: blobs_gone(env, keys))


@pytest.mark.parametrize("media_settings", [{"media_upload_max_bytes": 5000}])
async def test_types_and_sizes_are_refused(env: Env) -> None:
    # Only images of the allow-list are accepted; the declared size is capped.
    for content_type in ("text/html", "image/svg+xml", "application/pdf", "image/png; charset=x"):
        r = await start(env, b"x" * 10, content_type=content_type)
        assert r.status_code == 422 and r.json()["error"]["code"] == "validation_failed", content_type
    r = await start(env, b"x" * 5001)
    assert r.status_code == 413 and r.json()["error"]["code"] == "media_too_large"
    assert r.json()["error"]["details"] == {"max_bytes": 5000}

    # The store itself refuses another Content-Type than the signed one, and other sizes.
    data = png(10, 10)
    created = (await start(env, data)).json()
    refused = await send(env, created["upload"], data, **{"Content-Type": "text/html"})
    assert refused.status_code == 403, refused.text
    for body in (data + b"x", data[:-1]):
        refused = await send(env, created["upload"], body)
        assert refused.status_code in (400, 403, 413), refused.text
    record = await env.hub.media_library.repo.get(created["media_id"])
    assert await env.hub.blobs.head(record.object_key) is None

    # An object written around the policy is caught at completion and deleted with its row.
    await env.hub.blobs.put(record.object_key, data, content_type="image/jpeg")
    done = await env.http.post(f"/media/upload/{created['media_id']}/complete", headers=auth(env.token))
    assert done.status_code == 422 and done.json()["error"]["details"]["reason"] == "content_type"
    assert await env.hub.media_library.repo.get(created["media_id"]) is None


async def test_a_strangers_media_is_a_missing_one(env: Env) -> None:
    media = await upload_image(env, png(20, 20))
    stranger = (await register(env.http))["access_token"]
    missing = secrets.token_urlsafe(16)
    for method, path in (
        ("GET", "/media/{}"),
        ("DELETE", "/media/{}"),
        ("GET", "/media/upload/{}/status"),
        ("POST", "/media/upload/{}/complete"),
    ):
        theirs = await env.http.request(method, path.format(media["id"]), headers=auth(stranger))
        nothing = await env.http.request(method, path.format(missing), headers=auth(stranger))
        assert theirs.status_code == 404 and theirs.json()["error"]["code"] == "media_not_found", path
        assert _comparable(theirs) == _comparable(nothing), path
    assert (await env.http.get(f"/media/{media['id']}", headers=auth(env.token))).status_code == 200

    # Guests have no media library.
    guest = (await env.http.post("/auth/guest", json={"display_name": "G"})).json()["access_token"]
    r = await start(env, b"x" * 10, token=guest)
    assert r.status_code == 403 and r.json()["error"]["code"] == "account_required"


async def test_avatar_on_profiles(env: Env) -> None:
    media = await upload_image(env, png(400, 400))
    await processed(env, media["id"])
    patched = await env.http.patch(
        f"/users/{env.user_id}", json={"avatar": media["id"], "bio": "hi"}, headers=auth(env.token)
    )
    assert patched.status_code == 200, patched.text
    avatar = patched.json()["avatar"]
    assert avatar["id"] == media["id"] and set(avatar["variants"]) == {"thumb", "medium"}
    assert "filename" not in avatar

    # Others see it on the profile and in lists, with URLs that work.
    other = await register(env.http)
    seen = (await env.http.get(f"/users/{env.user_id}", headers=auth(other["access_token"]))).json()
    assert seen["avatar"]["id"] == media["id"]
    thumb = await env.http.get(seen["avatar"]["variants"]["thumb"]["url"])
    with Image.open(io.BytesIO(thumb.content)) as img:
        assert img.size == (256, 256)
    await env.http.post(f"/users/{env.user_id}/follow", headers=auth(env.token))
    await env.http.post(f"/users/{other['user']['id']}/follow", headers=auth(env.token))
    listed = (await env.http.get(f"/users/{other['user']['id']}/followers", headers=auth(env.token))).json()
    assert [p["avatar"]["id"] for p in listed["items"]] == [media["id"]]

    # Only one's own ready images: someone else's, a pending one or a missing id changes nothing.
    theirs = await upload_image(env, png(30, 30), token=other["access_token"])
    pending = (await start(env, png(5, 5))).json()["media_id"]
    for bad in (theirs["id"], pending, "nope", str(uuid.uuid4())):
        r = await env.http.patch(
            f"/users/{env.user_id}", json={"avatar": bad, "bio": "changed"}, headers=auth(env.token)
        )
        assert r.status_code == 422 and r.json()["error"]["code"] == "validation_failed", bad
    profile = (await env.http.get(f"/users/{env.user_id}", headers=auth(env.token))).json()
    assert profile["bio"] == "hi" and profile["avatar"]["id"] == media["id"]

    # Deleting the image removes the avatar; null removes it too.
    assert (await env.http.delete(f"/media/{media['id']}", headers=auth(env.token))).status_code == 204
    assert (await env.http.get(f"/users/{env.user_id}", headers=auth(env.token))).json()["avatar"] is None
    again = await upload_image(env, png(40, 40))
    await env.http.patch(f"/users/{env.user_id}", json={"avatar": again["id"]}, headers=auth(env.token))
    cleared = await env.http.patch(f"/users/{env.user_id}", json={"avatar": None}, headers=auth(env.token))
    assert cleared.status_code == 200 and cleared.json()["avatar"] is None


async def text_post(env: Env) -> str:
    r = await env.http.post("/posts", json={"text": "a post"}, headers=auth(env.token))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def test_sweeper_deletes_unattached_media_only(env: Env) -> None:
    lib = env.hub.media_library
    stray = await upload_image(env, png(16, 16))
    avatar = await upload_image(env, png(16, 16))
    posted = await upload_image(env, png(16, 16))
    pending = (await start(env, png(16, 16))).json()["media_id"]
    fresh = await upload_image(env, png(16, 16))
    for m in (stray, avatar, posted, fresh):
        await processed(env, m["id"])
    await env.http.patch(f"/users/{env.user_id}", json={"avatar": avatar["id"]}, headers=auth(env.token))
    post_id, another_post, other_post = [await text_post(env) for _ in range(3)]
    claimed = await lib.repo.claim_for_post(env.user_id, [posted["id"], pending, "nope"], post_id)
    assert [m.id for m in claimed] == [posted["id"]] and claimed[0].post_id == post_id
    # Not the author's, or already another post's: not claimed.
    stranger = (await register(env.http))["user"]["id"]
    assert await lib.repo.claim_for_post(stranger, [stray["id"]], post_id) == []
    assert await lib.repo.claim_for_post(env.user_id, [posted["id"]], another_post) == []

    old = [stray["id"], avatar["id"], posted["id"], pending]
    await env.hub.db.execute(
        "UPDATE media SET created_at = now() - interval '2 days', unattached_since = now() - interval '2 days'"
        " WHERE id = ANY($1::text[])",
        old,
    )
    keys = await object_keys(env, stray["id"])
    assert len(keys) == 3 and all([await env.hub.blobs.head(k) is not None for k in keys])
    assert await lib.sweep_once() == 2  # the stray image and the abandoned upload
    await eventually(lambda: blobs_gone(env, keys))
    left = {m.id for m in await lib.repo.get_many([*old, fresh["id"]])}
    assert left == {avatar["id"], posted["id"], fresh["id"]}
    assert (await env.http.get(f"/users/{env.user_id}", headers=auth(env.token))).json()["avatar"]["id"] == avatar["id"]

    # Released media (a post edited to drop them) are unattached from now: the delay starts again.
    assert await lib.repo.release_post(post_id) == 1
    assert await lib.sweep_once() == 0
    await env.hub.db.execute(
        "UPDATE media SET unattached_since = now() - interval '2 days' WHERE id = $1", posted["id"]
    )
    assert await lib.sweep_once() == 1
    assert await lib.repo.get(posted["id"]) is None

    # A deleted post's media go at once, objects included; one that is also the avatar stays.
    both = [await upload_image(env, png(8, 8)) for _ in range(2)]
    assert len(await lib.repo.claim_for_post(env.user_id, [m["id"] for m in both], other_post)) == 2
    await env.http.patch(f"/users/{env.user_id}", json={"avatar": both[1]["id"]}, headers=auth(env.token))
    keys = await object_keys(env, both[0]["id"])
    assert await lib.post_deleted(other_post) == 1
    await eventually(lambda: blobs_gone(env, keys))
    kept = await lib.repo.get(both[1]["id"])
    assert await lib.repo.get(both[0]["id"]) is None and kept is not None and kept.post_id is None
