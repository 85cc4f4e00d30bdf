"""Posts with images from the media library, on both stores (local disk and S3 via SeaweedFS): what
others see of a post's images, one media lookup per page, and the images' lifecycle (an edit releases
them for the sweeper, a deleted post deletes them, objects included, unless one is an avatar).

As in tests/test_media_library_flow.py no background sweeper runs: tests run the sweep and the
deletion drain themselves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import pytest

from hub.config import Settings
from hub.ports.media_library import MediaRecord
from tests.helpers import auth, register
from tests.support.server import running_hub
from tests.test_files_flow import eventually
from tests.test_media_library_flow import (  # noqa: F401  # env and media_settings are fixtures
    Env,
    blobs_gone,
    env,
    media_settings,
    object_keys,
    png,
    processed,
    upload_image,
)


@pytest.fixture
def ctx(env: Env) -> Env:  # noqa: F811  # the media library's hub, on each store
    return env


async def request(ctx: Env, method: str, path: str, status: int, token: str | None = None, **kw: Any) -> Any:
    r = await ctx.http.request(method, path, headers=auth(token or ctx.token), **kw)
    assert r.status_code == status, (method, path, r.text)
    return r.json() if r.content else None


async def blobs_there(ctx: Env, keys: list[str]) -> bool:
    await ctx.hub.files.drain_deletions()
    return all([await ctx.hub.blobs.head(k) is not None for k in keys])


async def test_others_see_a_posts_images_in_order(ctx: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    sizes = [(640, 480), (300, 600), (100, 100)]
    images = [await upload_image(ctx, png(w, h)) for w, h in sizes]
    for m in images:
        await processed(ctx, m["id"])
    first = await request(
        ctx, "POST", "/posts", 201, json={"text": "look", "media": [images[1]["id"], images[0]["id"]]}
    )
    second = await request(ctx, "POST", "/posts", 201, json={"media": [images[2]["id"]]})
    other = (await register(ctx.http))["access_token"]

    seen = await request(ctx, "GET", f"/posts/{first['id']}", 200, other)
    assert [m["id"] for m in seen["media"]] == [images[1]["id"], images[0]["id"]]
    shown = seen["media"][0]
    assert (shown["content_type"], shown["width"], shown["height"]) == ("image/png", 300, 600)
    assert set(shown["variants"]) == {"thumb", "medium"} and shown["urls_expire_at"]
    assert "filename" not in shown and "post_id" not in shown
    original = await ctx.http.get(shown["url"])
    assert original.status_code == 200 and original.content == png(300, 600)
    thumb = await ctx.http.get(shown["variants"]["thumb"]["url"])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/webp"

    # A page of posts resolves all their media with one lookup.
    lookups: list[Sequence[str]] = []
    get_many = ctx.hub.media_library.repo.get_many

    async def counted(ids: Sequence[str]) -> list[MediaRecord]:
        lookups.append(ids)
        return await get_many(ids)  # type: ignore[no-any-return]

    monkeypatch.setattr(ctx.hub.media_library.repo, "get_many", counted)
    page = await request(ctx, "GET", f"/users/{ctx.user_id}/posts", 200, other)
    assert [[m["id"] for m in p["media"]] for p in page["items"]] == [
        [images[2]["id"]],
        [images[1]["id"], images[0]["id"]],
    ]
    assert len(lookups) == 1 and sorted(lookups[0]) == sorted(m["id"] for m in images)

    # An image deleted from the library leaves the post (a post using it loses it).
    await request(ctx, "DELETE", f"/media/{images[0]['id']}", 204)
    assert [m["id"] for m in (await request(ctx, "GET", f"/posts/{first['id']}", 200, other))["media"]] == [
        images[1]["id"]
    ]
    assert (await request(ctx, "GET", f"/posts/{second['id']}", 200, other))["media"][0]["id"] == images[2]["id"]


async def test_an_edit_releases_dropped_images_for_the_sweeper(ctx: Env) -> None:
    kept, dropped = [await upload_image(ctx, png(32, 32)) for _ in range(2)]
    for m in (kept, dropped):
        await processed(ctx, m["id"])
    post = await request(ctx, "POST", "/posts", 201, json={"text": "two", "media": [kept["id"], dropped["id"]]})
    # Uploaded long ago: the sweeper's delay counts from the edit that drops it, not from the upload.
    await ctx.hub.db.execute("UPDATE media SET created_at = now() - interval '2 days' WHERE id = $1", dropped["id"])
    keys = await object_keys(ctx, dropped["id"])

    edited = await request(ctx, "PATCH", f"/posts/{post['id']}", 200, json={"media": [kept["id"]]})
    assert [m["id"] for m in edited["media"]] == [kept["id"]]
    assert (await request(ctx, "GET", f"/media/{dropped['id']}", 200))["post_id"] is None
    lib = ctx.hub.media_library
    assert await lib.sweep_once() == 0
    assert await blobs_there(ctx, keys)
    # Another post may still take it meanwhile.
    assert (await request(ctx, "GET", f"/media/{kept['id']}", 200))["post_id"] == post["id"]

    ttl = ctx.hub.settings.media_unattached_ttl
    await ctx.hub.db.execute(
        "UPDATE media SET unattached_since = now() - make_interval(secs => $2) WHERE id = $1", dropped["id"], ttl + 1
    )
    assert await lib.sweep_once() == 1
    await eventually(lambda: blobs_gone(ctx, keys))
    await request(ctx, "GET", f"/media/{dropped['id']}", 404)
    assert (await request(ctx, "GET", f"/media/{kept['id']}", 200))["post_id"] == post["id"]


async def test_deleting_a_post_deletes_its_images_unless_one_is_an_avatar(ctx: Env) -> None:
    plain, avatar = [await upload_image(ctx, png(24, 24)) for _ in range(2)]
    for m in (plain, avatar):
        await processed(ctx, m["id"])
    await request(ctx, "PATCH", f"/users/{ctx.user_id}", 200, json={"avatar": avatar["id"]})
    post = await request(ctx, "POST", "/posts", 201, json={"media": [plain["id"], avatar["id"]]})
    plain_keys, avatar_keys = await object_keys(ctx, plain["id"]), await object_keys(ctx, avatar["id"])
    assert await blobs_there(ctx, plain_keys + avatar_keys)

    await request(ctx, "DELETE", f"/posts/{post['id']}", 204)
    await request(ctx, "GET", f"/media/{plain['id']}", 404)
    await eventually(lambda: blobs_gone(ctx, plain_keys))
    # The avatar stays, unattached, its objects with it.
    assert (await request(ctx, "GET", f"/media/{avatar['id']}", 200))["post_id"] is None
    assert await blobs_there(ctx, avatar_keys)
    assert (await request(ctx, "GET", f"/users/{ctx.user_id}", 200))["avatar"]["id"] == avatar["id"]


async def test_images_still_processing_are_shown_as_their_original(
    make_settings: Callable[..., Settings], redis_service: Any, redis_prefix: str
) -> None:
    # Scaled mode with no `hub worker` running: the uploads wait, queued, until this test runs one.
    settings = make_settings(sweep_interval=0, redis_url=redis_service.url, redis_prefix=redis_prefix)
    async with running_hub(settings) as (url, app), httpx.AsyncClient(base_url=url, timeout=30) as http:
        hub = app.other_asgi_app.ctx.hub
        me = await register(http)
        ctx = Env(http, hub, me["access_token"], me["user"]["id"])
        good = (await upload_image(ctx, png(500, 250)))["id"]
        fake = (await upload_image(ctx, b"\x89PNG but not really an image"))["id"]
        assert (await request(ctx, "GET", f"/media/{good}", 200))["processing"] == "queued"

        # Accepted while processing: others see the original, and no variants yet.
        post = await request(ctx, "POST", "/posts", 201, json={"text": "new", "media": [good, fake]})
        other = (await register(http))["access_token"]
        seen = await request(ctx, "GET", f"/posts/{post['id']}", 200, other)
        assert [(m["id"], m["variants"]) for m in seen["media"]] == [(good, {}), (fake, {})]
        assert (await http.get(seen["media"][0]["url"])).content == png(500, 250)

        stop = asyncio.Event()
        worker = asyncio.create_task(hub.worker.run("test-worker", stop))
        try:

            async def finished() -> bool:
                states = [(await hub.media_library.repo.get(m)).processing for m in (good, fake)]
                return states == ["done", "failed"]

            await eventually(finished, timeout=30)
        finally:
            stop.set()
            await asyncio.wait_for(worker, timeout=10)

        # Done: the variants appear. Failed (no image at all): never shown, and refused on a new post.
        seen = await request(ctx, "GET", f"/posts/{post['id']}", 200, other)
        assert [m["id"] for m in seen["media"]] == [good]
        assert seen["media"][0]["variants"]["thumb"]["width"] == 256
        edited = await request(ctx, "PATCH", f"/posts/{post['id']}", 422, json={"media": [good, fake]})
        assert edited["error"]["code"] == "media_not_usable"
        await request(ctx, "PATCH", f"/posts/{post['id']}", 200, json={"media": [good]})
        refused = await request(ctx, "POST", "/posts", 422, json={"text": "again", "media": [fake]})
        assert refused["error"]["code"] == "media_not_usable"
