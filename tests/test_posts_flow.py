"""Posts over HTTP: create, read, edit, delete, idempotent retries, media, mentions, hashtags, events."""

from __future__ import annotations

import asyncio
import io
import secrets
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from PIL import Image

from hub.events import BusEvent
from tests.helpers import auth, bus_events, register
from tests.support.server import Running, running_hub
from tests.support.waiting import eventually

Account = tuple[str, str, str]  # (token, id, handle)


async def account(client: httpx.AsyncClient) -> Account:
    body = await register(client)
    return body["access_token"], body["user"]["id"], body["user"]["username"]


async def call(
    client: httpx.AsyncClient, who: Account | None, method: str, path: str, status: int, **kwargs: Any
) -> Any:
    headers = {**(auth(who[0]) if who else {}), **kwargs.pop("headers", {})}
    r = await client.request(method, path, headers=headers, **kwargs)
    assert r.status_code == status, (method, path, r.text)
    return r.json() if r.content else None


async def publish(client: httpx.AsyncClient, who: Account, status: int = 201, **fields: Any) -> Any:
    return await call(client, who, "POST", "/posts", status, json={"text": "hello", **fields})


async def add_media(client: httpx.AsyncClient, who: Account, *, complete: bool = True) -> str:
    """A real image upload of `who` through `/media` (the store enforces its type and size): completed,
    or only started (a pending upload)."""
    buf = io.BytesIO()
    Image.new("RGB", (12, 8), (200, 80, 20)).save(buf, "PNG")
    data = buf.getvalue()
    body = {"filename": "pic.png", "size": len(data), "content_type": "image/png"}
    created = await call(client, who, "POST", "/media/upload", 201, json=body)
    if complete:
        upload = created["upload"]
        sent = await client.post(upload["url"], data=upload["fields"], files={"file": ("b", data)})
        assert sent.status_code in (200, 201, 204), sent.text
        await call(client, who, "POST", f"/media/upload/{created['media_id']}/complete", 200)
    return str(created["media_id"])


def without_urls(post: dict[str, Any]) -> dict[str, Any]:
    """A post answer without its media's short-lived URLs (signed anew for every answer)."""
    return {**post, "media": [m["id"] for m in post["media"]]}


async def sql(database_url: str, query: str, *args: Any) -> Any:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def test_create_read_edit_delete(client: httpx.AsyncClient, database_url: str) -> None:
    a, b = await account(client), await account(client)
    post = await publish(client, a, text=f"  Hi @{b[2].upper()} and @nobody_here, #Python #python #rust  ")
    assert post["text"] == f"Hi @{b[2].upper()} and @nobody_here, #Python #python #rust"
    assert post["author"] == {"id": a[1], "handle": a[2], "display_name": a[2].title()}
    assert post["mentions"] == [{"id": b[1], "handle": b[2]}]  # only accounts that exist
    assert post["hashtags"] == ["python", "rust"]
    assert (post["visibility"], post["reply_to"], post["edited_at"]) == ("public", None, None)
    assert (post["likes_count"], post["comments_count"], post["liked"]) == (0, 0, False)
    assert await call(client, b, "GET", f"/posts/{post['id']}", 200) == post
    assert (await call(client, a, "GET", f"/users/{a[1]}", 200))["posts_count"] == 1

    edited = await call(client, a, "PATCH", f"/posts/{post['id']}", 200, json={"text": "second #go"})
    assert edited["text"] == "second #go" and edited["hashtags"] == ["go"] and edited["mentions"] == []
    assert edited["edited_at"] is not None and edited["created_at"] == post["created_at"]
    await call(client, a, "PATCH", f"/posts/{post['id']}", 200, json={"text": "third"})
    versions = await sql(
        database_url, "SELECT version, text FROM post_versions WHERE post_id = $1::uuid ORDER BY version", post["id"]
    )
    assert [(v["version"], v["text"]) for v in versions] == [(1, post["text"]), (2, "second #go")]
    body = await call(client, b, "PATCH", f"/posts/{post['id']}", 403, json={"text": "mine now"})
    assert body["error"]["code"] == "not_your_post"
    assert (await call(client, b, "DELETE", f"/posts/{post['id']}", 403))["error"]["code"] == "not_your_post"

    await call(client, a, "DELETE", f"/posts/{post['id']}", 204)
    for path in (f"/posts/{post['id']}", f"/posts/{uuid.uuid4()}", "/posts/not-a-uuid"):
        assert (await call(client, a, "GET", path, 404))["error"]["code"] == "post_not_found"
    await call(client, a, "DELETE", f"/posts/{post['id']}", 404)
    assert (await call(client, a, "GET", f"/users/{a[1]}", 200))["posts_count"] == 0


async def test_input_is_validated(client: httpx.AsyncClient) -> None:
    a = await account(client)
    for body, code in (
        ({"text": "x" * 5001}, "validation_failed"),
        ({"text": ""}, "validation_failed"),
        ({"text": "a\u202eb"}, "validation_failed"),
        ({"text": "hi", "visibility": "secret"}, "validation_failed"),
        ({"text": "hi", "media": ["a", "b", "c", "d", "e"]}, "validation_failed"),
        ({"text": "hi", "media": ["a", "a"]}, "validation_failed"),
        ({"text": "hi", "media": ["nope"]}, "media_not_usable"),
    ):
        assert (await call(client, a, "POST", "/posts", 422, json=body))["error"]["code"] == code, body
    assert (await publish(client, a, 404, reply_to=str(uuid.uuid4())))["error"]["code"] == "post_not_found"
    r = await client.post("/posts", json={"text": "hi"}, headers={**auth(a[0]), "Idempotency-Key": "has space"})
    assert r.status_code == 422


async def test_guests_read_but_cannot_write(client: httpx.AsyncClient) -> None:
    a = await account(client)
    guest = (await client.post("/auth/guest", json={"display_name": "Visitor"})).json()
    g: Account = (guest["access_token"], guest["user"]["id"], "")
    post = await publish(client, a)
    assert (await call(client, g, "GET", f"/posts/{post['id']}", 200))["id"] == post["id"]
    assert (await publish(client, g, 403))["error"]["code"] == "account_required"
    for method, path in (("POST", "like"), ("DELETE", "like")):
        body = await call(client, g, method, f"/posts/{post['id']}/{path}", 403)
        assert body["error"]["code"] == "account_required"


async def test_idempotency_key_returns_the_first_post(client: httpx.AsyncClient, database_url: str) -> None:
    a, b = await account(client), await account(client)
    key = {"Idempotency-Key": "retry-" + secrets.token_hex(4)}
    first = await client.post("/posts", json={"text": "once"}, headers={**auth(a[0]), **key})
    again = await client.post("/posts", json={"text": "once"}, headers={**auth(a[0]), **key})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    # The key is per account, and a reuse for another request is refused.
    other = await client.post("/posts", json={"text": "once"}, headers={**auth(b[0]), **key})
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    reused = await client.post("/posts", json={"text": "twice"}, headers={**auth(a[0]), **key})
    assert reused.status_code == 409 and reused.json()["error"]["code"] == "idempotency_key_reused"

    # Concurrent retries of one request make one post.
    key = {"Idempotency-Key": "burst-" + secrets.token_hex(4)}
    answers = await asyncio.gather(
        *(client.post("/posts", json={"text": "burst"}, headers={**auth(a[0]), **key}) for _ in range(6))
    )
    assert {r.status_code for r in answers} == {201}
    assert len({r.json()["id"] for r in answers}) == 1
    assert (await call(client, a, "GET", f"/users/{a[1]}", 200))["posts_count"] == 2

    # Past an hour the key is free again (an expired key is replaced, then swept).
    await sql(database_url, "UPDATE post_idempotency_keys SET created_at = now() - interval '61 minutes'")
    fresh = await client.post("/posts", json={"text": "burst"}, headers={**auth(a[0]), **key})
    assert fresh.status_code == 201 and fresh.json()["id"] != answers[0].json()["id"]


async def test_expired_keys_are_swept(make_settings, database_url: str) -> None:  # type: ignore[no-untyped-def]
    async with running_hub(make_settings()) as (url, app), httpx.AsyncClient(base_url=url) as c:
        hub = app.other_asgi_app.ctx.hub
        assert "idempotency-sweeper" in {t.get_name() for t in hub._tasks}  # the sweeper runs this step
        a = await account(c)
        for key in ("old", "new"):
            r = await c.post("/posts", json={"text": key}, headers={**auth(a[0]), "Idempotency-Key": key})
            assert r.status_code == 201
        await sql(
            database_url, "UPDATE post_idempotency_keys SET created_at = now() - interval '2 hours' WHERE key = 'old'"
        )
        assert await hub.posts.purge_idempotency_keys() == 1
        assert [r["key"] for r in await sql(database_url, "SELECT key FROM post_idempotency_keys")] == ["new"]


async def test_media_are_claimed_from_the_authors_completed_uploads(
    client: httpx.AsyncClient, database_url: str
) -> None:
    a, b = await account(client), await account(client)
    ready = [await add_media(client, a) for _ in range(3)]
    pending = await add_media(client, a, complete=False)
    theirs = await add_media(client, b)
    for media in ([pending], [theirs], [ready[0], "missing"]):
        body = await publish(client, a, 422, media=media)
        assert body["error"]["code"] == "media_not_usable", media
    key = {"Idempotency-Key": "with-media"}
    with_media = {"text": "", "media": [ready[1], ready[0]]}
    post = await call(client, a, "POST", "/posts", 201, json=with_media, headers=key)
    assert [m["id"] for m in post["media"]] == [ready[1], ready[0]]
    # A retry is answered with the first post, although its media are attached by now.
    again = await call(client, a, "POST", "/posts", 201, json=with_media, headers=key)
    assert without_urls(again) == without_urls(post)
    # A medium belongs to one post.
    assert (await publish(client, a, 422, media=[ready[0]]))["error"]["code"] == "media_not_usable"
    attached = await sql(database_url, "SELECT id, post_id::text FROM media WHERE post_id IS NOT NULL ORDER BY id")
    assert {r["id"]: r["post_id"] for r in attached} == {ready[0]: post["id"], ready[1]: post["id"]}

    # An edit replaces the list: released media are free again, kept ones stay.
    edited = await call(client, a, "PATCH", f"/posts/{post['id']}", 200, json={"media": [ready[2], ready[1]]})
    assert [m["id"] for m in edited["media"]] == [ready[2], ready[1]]
    free = await sql(database_url, "SELECT post_id FROM media WHERE id = $1", ready[0])
    assert free[0]["post_id"] is None
    body = await call(client, a, "PATCH", f"/posts/{post['id']}", 422, json={"media": []})
    assert body["error"]["code"] == "validation_failed"  # no text and no media left
    # Deleting the post deletes its media (tests/test_posts_media.py follows their objects).
    await call(client, a, "DELETE", f"/posts/{post['id']}", 204)
    left = await sql(database_url, "SELECT id FROM media WHERE id = ANY($1::text[])", [*ready, pending, theirs])
    assert {r["id"] for r in left} == {ready[0], pending, theirs}


async def test_a_deleted_posts_images_leave_the_store_at_once(running: Running) -> None:
    a = await account(running.http)
    media = await add_media(running.http, a)
    post = await publish(running.http, a, media=[media])
    key = (await running.hub.media_library.repo.get(media)).object_key
    assert await running.hub.blobs.head(key) is not None
    await call(running.http, a, "DELETE", f"/posts/{post['id']}", 204)

    async def gone() -> bool:
        return await running.hub.blobs.head(key) is None

    # The deletion drain is woken by the delete: its next regular run (HUB_SWEEP_INTERVAL) is later.
    assert running.hub.settings.sweep_interval > 10
    await eventually(gone, timeout=10)


async def test_replies(client: httpx.AsyncClient) -> None:
    a, b = await account(client), await account(client)
    root = await publish(client, a)
    reply = await publish(client, b, reply_to=root["id"])
    assert reply["reply_to"] == root["id"]
    hidden = await publish(client, a, visibility="followers")
    assert (await publish(client, b, 404, reply_to=hidden["id"]))["error"]["code"] == "post_not_found"
    await call(client, a, "DELETE", f"/posts/{root['id']}", 204)
    assert (await call(client, b, "GET", f"/posts/{reply['id']}", 200))["reply_to"] is None


async def test_events_after_commit_on_the_authors_topic(make_settings) -> None:  # type: ignore[no-untyped-def]
    async with running_hub(make_settings()) as (url, app), httpx.AsyncClient(base_url=url) as c:
        events = bus_events(app.other_asgi_app.ctx.hub)
        a = await account(c)
        post = await publish(c, a, visibility="unlisted")
        await call(c, a, "PATCH", f"/posts/{post['id']}", 200, json={"text": "changed"})
        await call(c, a, "DELETE", f"/posts/{post['id']}", 204)
        seen = []
        async with asyncio.timeout(5):
            while len(seen) < 3:
                event = await events.get()
                if str(event.get("type", "")).startswith("post_"):
                    seen.append(event)
        assert [e["type"] for e in seen] == [BusEvent.POST_CREATED, BusEvent.POST_UPDATED, BusEvent.POST_DELETED]
        assert seen[0]["post_id"] == post["id"] and seen[0]["author_id"] == a[1]
        assert seen[0]["visibility"] == "unlisted" and seen[0]["created_at"]
        assert seen[2] == {"type": BusEvent.POST_DELETED, "post_id": post["id"], "author_id": a[1]}


async def test_post_writes_are_rate_limited(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(post_rate_limit="2/minute", like_rate_limit="1/minute", comment_rate_limit="1/minute")
    async with running_hub(settings) as (url, _), httpx.AsyncClient(base_url=url) as c:
        a, b = await account(c), await account(c)
        post = await publish(c, a)
        await publish(c, a)
        for path, body in (("/posts", {"text": "x"}), (f"/posts/{post['id']}/comment", {"text": "x"})):
            if path != "/posts":
                await call(c, b, "POST", path, 201, json=body)
                who = b
            else:
                who = a
            r = await c.post(path, json=body, headers=auth(who[0]))
            assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited", path
            assert int(r.headers["retry-after"]) >= 1
        await call(c, b, "POST", f"/posts/{post['id']}/like", 200)
        r = await c.delete(f"/posts/{post['id']}/like", headers=auth(b[0]))
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        # Reads are not writes.
        await call(c, a, "GET", f"/posts/{post['id']}", 200)


@pytest.mark.parametrize("visibility", ["public", "unlisted", "followers"])
async def test_user_posts_pages(client: httpx.AsyncClient, visibility: str) -> None:
    a, b = await account(client), await account(client)
    made = [(await publish(client, a, text=f"n{i}", visibility=visibility))["id"] for i in range(5)]
    newest_first = list(reversed(made))
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    first: dict[str, Any] | None = None
    while True:
        r = await client.get(f"/users/{a[1]}/posts", params=params, headers=auth(a[0]))
        page = r.json()
        first = first or page
        assert 'rel="prev"' in r.headers["link"]
        seen += [p["id"] for p in page["items"]]
        if not page["next_cursor"]:
            break
        params = {"limit": 2, "cursor": page["next_cursor"]}
    assert seen == newest_first
    late = await publish(client, a, visibility=visibility)
    assert first is not None
    newer = await call(client, a, "GET", f"/users/{a[1]}/posts", 200, params={"since": first["prev_cursor"]})
    assert [p["id"] for p in newer["items"]] == [late["id"]]
    # What a stranger sees depends on the visibility.
    theirs = await call(client, b, "GET", f"/users/{a[1]}/posts", 200, params={"limit": 100})
    expected = [] if visibility == "followers" else [late["id"], *newest_first]
    assert [p["id"] for p in theirs["items"]] == expected
