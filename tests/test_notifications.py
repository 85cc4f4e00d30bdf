"""Notifications: made by the job worker from committed writes, grouped, filtered, read, pushed live."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from hub.config import Settings
from tests.support.realtime import User, connect
from tests.support.server import running_hub
from tests.support.services import RedisHandle
from tests.support.waiting import eventually
from tests.test_posts_flow import Account, account, call, publish, sql

ROOT = Path(__file__).resolve().parent.parent


async def listed(client: httpx.AsyncClient, who: Account, **params: Any) -> list[dict[str, Any]]:
    page = await call(client, who, "GET", "/notifications", 200, params={"limit": 100, **params})
    return list(page["items"])


async def arrives(client: httpx.AsyncClient, who: Account, count: int = 1, **params: Any) -> list[dict[str, Any]]:
    """`who`'s notifications once there are `count` of them (the worker runs after the request)."""

    async def enough() -> list[dict[str, Any]] | None:
        items = await listed(client, who, **params)
        return items if len(items) >= count else None

    items = await eventually(enough, message=f"{count} notifications")
    assert len(items) == count, items
    return items


async def unread(client: httpx.AsyncClient, who: Account) -> int:
    return int((await call(client, who, "GET", "/notifications/unread_count", 200))["unread_count"])


def accounts(n: dict[str, Any]) -> list[str]:
    return [a["id"] for a in n["accounts"]]


async def test_every_social_type_reaches_whom_it_concerns(client: httpx.AsyncClient) -> None:
    ann, bob, cat, dan = [await account(client) for _ in range(4)]
    await call(client, bob, "POST", f"/users/{ann[1]}/follow", 200)
    post = await publish(client, ann, text=f"hello @{cat[2]}")
    await call(client, bob, "POST", f"/posts/{post['id']}/like", 200)
    comment = await call(client, bob, "POST", f"/posts/{post['id']}/comment", 201, json={"text": "nice"})
    reply = await call(
        client,
        cat,
        "POST",
        f"/posts/{post['id']}/comment",
        201,
        json={"text": f"yes @{dan[2]} @{ann[2]}", "reply_to": comment["id"]},
    )
    answer = await publish(client, bob, text="a reply post", reply_to=post["id"])

    mine = await arrives(client, ann, 5)
    assert sorted(n["type"] for n in mine) == ["comment", "comment", "follow", "like", "reply"]
    by_type = {n["type"]: n for n in mine}
    assert accounts(by_type["follow"]) == [bob[1]] and by_type["follow"]["post_id"] is None
    assert (by_type["like"]["post_id"], by_type["like"]["count"]) == (post["id"], 1)
    assert (by_type["reply"]["post_id"], accounts(by_type["reply"])) == (answer["id"], [bob[1]])
    # Comments on her post, Bob's and Cat's; Cat's also mentions Ann, who is told once, of the comment.
    comments = {n["comment_id"]: accounts(n) for n in mine if n["type"] == "comment"}
    assert comments == {comment["id"]: [bob[1]], reply["id"]: [cat[1]]}
    assert all(n["read"] is False for n in mine) and await unread(client, ann) == 5
    # Newest activity first.
    assert [n["updated_at"] for n in mine] == sorted((n["updated_at"] for n in mine), reverse=True)

    [cats] = await arrives(client, cat, 1)
    assert (cats["type"], cats["post_id"], cats["comment_id"], accounts(cats)) == (
        "mention",
        post["id"],
        None,
        [ann[1]],
    )
    [bobs] = await arrives(client, bob, 1)
    assert (bobs["type"], bobs["comment_id"], accounts(bobs)) == ("reply", reply["id"], [cat[1]])
    [dans] = await arrives(client, dan, 1)
    assert (dans["type"], dans["post_id"], dans["comment_id"]) == ("mention", post["id"], reply["id"])
    # Nobody is told of their own doing: Ann's like and comment on her own post notify nobody.
    await call(client, ann, "POST", f"/posts/{post['id']}/like", 200)
    await call(client, ann, "POST", f"/posts/{post['id']}/comment", 201, json={"text": "mine"})
    await call(client, cat, "POST", f"/posts/{post['id']}/like", 200)  # a marker: after Ann's own
    likes = await eventually(lambda: _liked_by(client, ann, post["id"], 2))
    assert accounts(likes) == [cat[1], bob[1]]
    assert len(await listed(client, ann)) == 5


async def _liked_by(client: httpx.AsyncClient, who: Account, post_id: str, count: int) -> dict[str, Any] | None:
    for n in await listed(client, who, **{"types[]": "like"}):
        if n["post_id"] == post_id and n["count"] >= count:
            return n
    return None


async def test_follow_request_to_a_locked_account(client: httpx.AsyncClient) -> None:
    ann, bob = await account(client), await account(client)
    await call(client, ann, "PATCH", f"/users/{ann[1]}", 200, json={"locked": True})
    await call(client, bob, "POST", f"/users/{ann[1]}/follow", 200)
    [request] = await arrives(client, ann, 1)
    assert (request["type"], accounts(request), request["group_key"]) == (
        "follow_request",
        [bob[1]],
        request["group_key"],
    )


async def test_likes_group_by_post_and_count_distinct_accounts(client: httpx.AsyncClient) -> None:
    ann = await account(client)
    fans = [await account(client) for _ in range(5)]
    post, other = await publish(client, ann), await publish(client, ann)
    for fan in fans:
        await call(client, fan, "POST", f"/posts/{post['id']}/like", 200)
    group = await eventually(lambda: _liked_by(client, ann, post["id"], 5))
    assert group["count"] == 5 and group["group_key"].startswith(f"like:{post['id']}:")
    assert accounts(group) == [f[1] for f in reversed(fans[-3:])]  # the latest three, newest first
    # like -> unlike -> like by one account is still one account of one group.
    for _ in range(2):
        await call(client, fans[0], "DELETE", f"/posts/{post['id']}/like", 200)
        await call(client, fans[0], "POST", f"/posts/{post['id']}/like", 200)
    await call(client, fans[1], "POST", f"/posts/{other['id']}/like", 200)  # a marker after those
    await eventually(lambda: _liked_by(client, ann, other["id"], 1))
    likes = await listed(client, ann, **{"types[]": "like"})
    assert [n["count"] for n in likes] == [1, 5]
    assert await unread(client, ann) == 2

    # Read, then a new account joins the group: it is unread again and back at the top.
    read = await call(client, ann, "POST", f"/notifications/{group['id']}/read", 200)
    assert read == {"unread_count": 1}
    assert (await call(client, ann, "POST", f"/notifications/{group['id']}/read", 200)) == {"unread_count": 1}
    late = await account(client)
    await call(client, late, "POST", f"/posts/{post['id']}/like", 200)
    again = await eventually(lambda: _liked_by(client, ann, post["id"], 6))
    assert again["id"] == group["id"] and again["read"] is False and accounts(again)[0] == late[1]
    assert (await listed(client, ann))[0]["id"] == group["id"]
    assert await unread(client, ann) == 2
    assert await call(client, ann, "POST", "/notifications/read-all", 200) == {"unread_count": 0}
    assert all(n["read"] for n in await listed(client, ann))


async def test_blocks_and_mutes_silence_and_a_block_removes_the_past(
    client: httpx.AsyncClient, database_url: str
) -> None:
    ann, bob, cat, dan = [await account(client) for _ in range(4)]
    post = await publish(client, ann)
    await call(client, bob, "POST", f"/posts/{post['id']}/like", 200)
    await call(client, cat, "POST", f"/posts/{post['id']}/like", 200)
    await call(client, bob, "POST", f"/posts/{post['id']}/comment", 201, json={"text": "hi"})
    await eventually(lambda: _liked_by(client, ann, post["id"], 2))
    await arrives(client, ann, 2)

    # Ann blocks Bob: at once his like and comment are gone from her list, and then from the database.
    await call(client, ann, "POST", f"/users/{bob[1]}/block", 200)
    [likes] = await listed(client, ann)
    assert (likes["count"], accounts(likes)) == (1, [cat[1]])
    assert await unread(client, ann) == 1

    async def bob_forgotten() -> bool:
        rows = await sql(
            database_url, "SELECT count(*) AS n FROM notification_actors WHERE actor_id = $1::uuid", bob[1]
        )
        return bool(rows[0]["n"] == 0)

    await eventually(bob_forgotten, message="the blocked account's notifications deleted")
    assert (await sql(database_url, "SELECT count(*) AS n FROM notifications WHERE type = 'comment'"))[0]["n"] == 0

    # A muted account causes none; Dan's follow afterwards is the marker that the worker got that far.
    await call(client, ann, "POST", f"/users/{cat[1]}/mute", 200)
    await call(client, cat, "POST", f"/users/{ann[1]}/follow", 200)
    await call(client, dan, "POST", f"/users/{ann[1]}/follow", 200)
    follows = await arrives(client, ann, 1, **{"types[]": "follow"})
    assert accounts(follows[0]) == [dan[1]]
    # And what the muted account caused before is hidden while the mute stands.
    assert [n["type"] for n in await listed(client, ann)] == ["follow"]
    await call(client, ann, "POST", f"/users/{cat[1]}/unmute", 200)
    assert sorted(n["type"] for n in await listed(client, ann)) == ["follow", "like"]


async def test_a_mention_the_recipient_may_not_see_tells_nothing(client: httpx.AsyncClient) -> None:
    ann, bob, fan = await account(client), await account(client), await account(client)
    await call(client, fan, "POST", f"/users/{ann[1]}/follow", 200)
    await publish(client, ann, text=f"secret @{bob[2]} @{fan[2]}", visibility="followers")
    [mention] = await arrives(client, fan, 1, **{"types[]": "mention"})
    assert accounts(mention) == [ann[1]]
    await call(client, ann, "POST", f"/users/{bob[1]}/follow", 200)  # a marker for Bob
    await arrives(client, bob, 1)
    assert [n["type"] for n in await listed(client, bob)] == ["follow"]


async def test_deleted_content_takes_its_notifications(client: httpx.AsyncClient) -> None:
    ann, bob = await account(client), await account(client)
    post, kept = await publish(client, ann), await publish(client, ann)
    comment = await call(client, bob, "POST", f"/posts/{kept['id']}/comment", 201, json={"text": "x"})
    await call(client, bob, "POST", f"/posts/{post['id']}/like", 200)
    await arrives(client, ann, 2)
    await call(client, ann, "DELETE", f"/posts/{post['id']}", 204)
    assert [n["type"] for n in await listed(client, ann)] == ["comment"]
    await call(client, bob, "DELETE", f"/posts/{kept['id']}/comments/{comment['id']}", 204)
    assert await listed(client, ann) == [] and await unread(client, ann) == 0


async def test_filters_pages_and_errors(client: httpx.AsyncClient) -> None:
    ann = await account(client)
    fans = [await account(client) for _ in range(3)]
    post = await publish(client, ann)
    for fan in fans:
        await call(client, fan, "POST", f"/users/{ann[1]}/follow", 200)
        await call(client, fan, "POST", f"/posts/{post['id']}/comment", 201, json={"text": "c"})
    await arrives(client, ann, 4)  # one group of follows, three comments
    assert [n["type"] for n in await listed(client, ann, **{"types[]": "follow"})] == ["follow"]
    r = await client.get(
        "/notifications",
        params=[("exclude_types[]", "follow"), ("exclude_types[]", "like")],
        headers={"Authorization": f"Bearer {ann[0]}"},
    )
    assert [n["type"] for n in r.json()["items"]] == ["comment"] * 3
    assert len(await listed(client, ann, types="comment,follow")) == 4
    # Pages, newest first, with links both ways.
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 3}
    while True:
        r = await client.get("/notifications", params=params, headers={"Authorization": f"Bearer {ann[0]}"})
        page = r.json()
        assert 'rel="prev"' in r.headers["link"]
        seen += [n["id"] for n in page["items"]]
        if not page["next_cursor"]:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == [n["id"] for n in await listed(client, ann)]

    bad = await client.get("/notifications", params={"types[]": "likes"}, headers={"Authorization": f"Bearer {ann[0]}"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_failed"
    # Another account's notification and a missing one are the same 404.
    mine = (await listed(client, ann))[0]["id"]
    other = await call(client, fans[0], "POST", f"/notifications/{mine}/read", 404)
    missing = await call(client, fans[0], "POST", "/notifications/00000000-0000-0000-0000-000000000000/read", 404)
    junk = await call(client, fans[0], "POST", "/notifications/not-an-id/read", 404)
    assert other["error"]["code"] == missing["error"]["code"] == junk["error"]["code"] == "notification_not_found"
    assert {k: v for k, v in other["error"].items() if k != "request_id"} == {
        k: v for k, v in missing["error"].items() if k != "request_id"
    }
    assert (await listed(client, ann))[0]["read"] is False
    # Guests have no notifications.
    guest = (await client.post("/auth/guest", json={"display_name": "G"})).json()["access_token"]
    r = await client.get("/notifications", headers={"Authorization": f"Bearer {guest}"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "account_required"


async def test_a_new_notification_is_pushed_with_the_unread_count(running: Any) -> None:
    client = running.http
    ann, bob = await account(client), await account(client)
    sock = await connect(running.url, User(ann[0], ann[1], ann[2]))
    try:
        post = await publish(client, ann)
        await call(client, bob, "POST", f"/posts/{post['id']}/like", 200)
        pushed = await sock.wait_for("notification")
        assert pushed["unread_count"] == 1
        assert pushed["notification"] == (await listed(client, ann))[0]
        await call(client, bob, "POST", f"/posts/{post['id']}/comment", 201, json={"text": "x"})
        second = await sock.wait_for("notification", lambda e: e["notification"]["type"] == "comment")
        assert second["unread_count"] == 2
        # A like by an account already counted pushes nothing new; the next news comes through alone.
        await call(client, bob, "DELETE", f"/posts/{post['id']}/like", 200)
        await call(client, bob, "POST", f"/posts/{post['id']}/like", 200)
        await call(client, bob, "POST", f"/users/{ann[1]}/follow", 200)
        await sock.wait_for("notification", lambda e: e["notification"]["type"] == "follow")
        assert [e["notification"]["type"] for e in sock.events["notification"]] == ["like", "comment", "follow"]
    finally:
        await sock.close()
    assert running.hub.metrics.notification_delivery._sum.get() > 0


async def test_a_hub_worker_process_makes_them_in_the_scaled_mode(
    make_settings: Callable[..., Settings], redis_service: RedisHandle, redis_prefix: str, database_url: str
) -> None:
    settings = make_settings(redis_url=redis_service.url, redis_prefix=redis_prefix)
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url or database_url,
        "REDIS_URL": redis_service.url,
        "HUB_REDIS_PREFIX": redis_prefix,
        "HUB_DATA_DIR": str(settings.data_path),
        "PYTHONPATH": str(ROOT),
    }
    async with running_hub(settings) as (url, app):
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            ann, bob = await account(client), await account(client)
            post = await publish(client, ann)
            await call(client, bob, "POST", f"/posts/{post['id']}/like", 200)
            # No worker yet: the jobs wait in the shared stream; the hub serving requests does not consume them.
            assert await app.other_asgi_app.ctx.hub.jobs.depth() == 2  # the post and the like
            assert await listed(client, ann) == []
            worker = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "hub.bootstrap.cli",
                "worker",
                env=env,
                cwd=ROOT,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            try:
                [like] = await arrives(client, ann, 1)
                assert (like["type"], accounts(like)) == ("like", [bob[1]])
            finally:
                worker.terminate()
                try:
                    async with asyncio.timeout(10):
                        _, err = await worker.communicate()
                except TimeoutError:
                    worker.kill()
                    _, err = await worker.communicate()
                log = err.decode()
            assert worker.returncode == 0, log
            assert "Traceback" not in log, log


async def test_a_graph_write_does_not_wait_for_a_notification_naming_the_account(
    client: httpx.AsyncClient, database_url: str
) -> None:
    # The worker's insert of a notification holds KEY SHARE locks on the accounts it names (foreign
    # keys). A follow that locked both accounts FOR UPDATE waited for them, and deadlocked with a
    # worker that had locked one of the two; FOR NO KEY UPDATE leaves them alone.
    ann, bob = await account(client), await account(client)
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            await conn.execute("SELECT 1 FROM users WHERE id = ANY($1::uuid[]) FOR KEY SHARE", [ann[1], bob[1]])
            async with asyncio.timeout(5):
                followed = await call(client, bob, "POST", f"/users/{ann[1]}/follow", 200)
            assert followed["following"] is True
    finally:
        await conn.close()
