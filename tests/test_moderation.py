"""Moderation: roles, reports, takedowns and suspensions with their effect on every read path, the
append-only audit log, and `hub admin` beside a running embedded hub."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from hub.config import Settings
from storage.postgres.server import free_port
from tests.helpers import make_space
from tests.support.realtime import User, connect
from tests.support.server import running_hub, wait_ready
from tests.support.services import RedisHandle
from tests.support.waiting import eventually
from tests.test_notifications import arrives, listed
from tests.test_posts_flow import Account, account, call, publish, sql

ROOT = Path(__file__).resolve().parent.parent
HUB = str(Path(sys.executable).parent / "hub")


async def staff(client: httpx.AsyncClient, database_url: str, role: str = "moderator") -> Account:
    """A new account made `role` directly in the database (what `hub admin grant` does)."""
    who = await account(client)
    await sql(database_url, "UPDATE users SET role = $2 WHERE id = $1::uuid", who[1], role)
    return who


def error(body: Any) -> dict[str, Any]:
    """An error answer without its request id (which differs for every request)."""
    return {k: v for k, v in body["error"].items() if k != "request_id"}


async def test_roles_apply_at_once_to_issued_tokens(client: httpx.AsyncClient, database_url: str) -> None:
    ann, bob = await account(client), await account(client)
    refused = await call(client, ann, "GET", "/moderation/reports", 403)
    assert refused["error"]["code"] == "moderator_required"
    assert await call(client, ann, "GET", "/me/role", 200) == {"id": ann[1], "role": "user"}
    admin = await staff(client, database_url, "admin")
    # An admin makes Ann a moderator: her token, issued before, works for moderation now.
    assert await call(client, admin, "POST", f"/admin/users/{ann[1]}/role", 200, json={"role": "moderator"}) == {
        "id": ann[1],
        "role": "moderator",
    }
    assert (await call(client, ann, "GET", "/moderation/reports", 200))["items"] == []
    # A moderator is no admin.
    denied = await call(client, ann, "POST", f"/admin/users/{bob[1]}/role", 403, json={"role": "admin"})
    assert denied["error"]["code"] == "admin_required"
    await call(client, admin, "POST", f"/admin/users/{ann[1]}/role", 200, json={"role": "user"})
    assert (await call(client, ann, "GET", "/moderation/reports", 403))["error"]["code"] == "moderator_required"
    await call(client, admin, "POST", "/admin/users/not-an-id/role", 404, json={"role": "user"})
    await call(client, admin, "POST", f"/admin/users/{ann[1]}/role", 422, json={"role": "root"})
    audit = await call(client, admin, "GET", "/moderation/audit", 200, params={"target": ann[1]})
    assert [(a["action"], a["actor_id"], a["details"]) for a in audit["items"]] == [
        ("role_revoked", admin[1], {"from": "moderator", "to": "user"}),
        ("role_granted", admin[1], {"from": "user", "to": "moderator"}),
    ]


async def test_reports_are_deduplicated_checked_and_reach_moderators(
    client: httpx.AsyncClient, database_url: str
) -> None:
    mod = await staff(client, database_url)
    ann, bob = await account(client), await account(client)
    post = await publish(client, ann, text="buy cheap stuff")
    body = {"target_type": "post", "target_id": post["id"], "category": "spam", "comment": "ads"}
    first = await call(client, bob, "POST", "/reports", 201, json=body)
    assert (first["status"], first["category"], first["target_id"]) == ("open", "spam", post["id"])
    assert "reporter_id" not in first
    again = await call(client, bob, "POST", "/reports", 200, json={**body, "category": "abuse"})
    assert again == first
    # Moderators are told; the author is not told anything, let alone by whom.
    [note] = await arrives(client, mod, 1, **{"types[]": "report"})
    assert [a["id"] for a in note["accounts"]] == [bob[1]]
    queue = await call(client, mod, "GET", "/moderation/reports", 200, params={"status": "open"})
    assert [(r["id"], r["reporter_id"], r["target_owner_id"]) for r in queue["items"]] == [
        (first["id"], bob[1], ann[1])
    ]
    assert (queue["items"][0]["target_preview"], queue["items"][0]["target_removed"]) == ("buy cheap stuff", False)
    await call(client, ann, "POST", f"/users/{bob[1]}/follow", 200)  # a marker for Ann's notifications
    await arrives(client, bob, 1)
    assert await listed(client, ann) == []

    # What one may not see cannot be reported: the same 404 as a missing target.
    hidden = await publish(client, ann, visibility="followers")
    missing = {"target_type": "post", "target_id": "00000000-0000-0000-0000-000000000000", "category": "spam"}
    a = await call(client, bob, "POST", "/reports", 404, json={**missing, "target_id": hidden["id"]})
    b = await call(client, bob, "POST", "/reports", 404, json=missing)
    assert error(a) == error(b) and a["error"]["code"] == "post_not_found"
    assert (await call(client, bob, "POST", "/reports", 404, json={**missing, "target_type": "space"}))["error"][
        "code"
    ] == "space_not_found"
    await call(client, bob, "POST", "/reports", 422, json={**body, "category": "boring"})
    await call(client, bob, "POST", "/reports", 422, json={**body, "comment": "x" * 1001})
    guest = (await client.post("/auth/guest", json={"display_name": "G"})).json()["access_token"]
    r = await client.post("/reports", json=body, headers={"Authorization": f"Bearer {guest}"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "account_required"
    profile = await call(
        client, bob, "POST", "/reports", 201, json={"target_type": "user", "target_id": ann[1], "category": "abuse"}
    )
    assert profile["target_type"] == "user"


@pytest.mark.settings(report_rate_limit="2/minute")
async def test_reports_are_rate_limited(client: httpx.AsyncClient) -> None:
    bob = await account(client)
    targets = [await account(client) for _ in range(3)]
    for t in targets[:2]:
        await call(
            client, bob, "POST", "/reports", 201, json={"target_type": "user", "target_id": t[1], "category": "spam"}
        )
    r = await client.post(
        "/reports",
        json={"target_type": "user", "target_id": targets[2][1], "category": "spam"},
        headers={"Authorization": f"Bearer {bob[0]}"},
    )
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0


async def test_a_takedown_hides_the_post_everywhere_but_from_its_author(
    client: httpx.AsyncClient, database_url: str
) -> None:
    mod = await staff(client, database_url)
    ann, bob = await account(client), await account(client)
    await call(client, bob, "POST", f"/users/{ann[1]}/follow", 200)
    post = await publish(client, ann, text="zyxwvut forbidden words")
    await call(client, ann, "POST", f"/posts/{post['id']}/like", 200)
    await call(client, mod, "POST", f"/posts/{post['id']}/like", 200)
    await arrives(client, ann, 2)  # Bob's follow, the moderator's like
    assert [p["id"] for p in (await call(client, bob, "GET", "/feed", 200))["items"]] == [post["id"]]
    report = await call(
        client, bob, "POST", "/reports", 201, json={"target_type": "post", "target_id": post["id"], "category": "abuse"}
    )
    assigned = await call(client, mod, "POST", f"/moderation/reports/{report['id']}/assign", 200)
    assert assigned["assignee_id"] == mod[1]
    resolved = await call(
        client,
        mod,
        "POST",
        f"/moderation/reports/{report['id']}/resolve",
        200,
        json={"action": "takedown", "note": "hate speech"},
    )
    assert (resolved["status"], resolved["resolution_action"], resolved["resolution_note"]) == (
        "resolved",
        "takedown",
        "hate speech",
    )
    assert resolved["target_removed"] is True and resolved["target_preview"] == "zyxwvut forbidden words"

    gone = await call(client, bob, "GET", f"/posts/{post['id']}", 404)
    never = await call(client, bob, "GET", "/posts/00000000-0000-0000-0000-000000000000", 404)
    assert error(gone) == error(never)
    assert (await call(client, bob, "GET", "/feed", 200))["items"] == []
    assert (await call(client, bob, "GET", f"/users/{ann[1]}/posts", 200))["items"] == []
    assert (await call(client, bob, "GET", "/search/posts", 200, params={"q": "zyxwvut"}))["items"] == []
    # The author sees it, marked removed with the reason; her notifications about it are gone.
    mine = await call(client, ann, "GET", f"/posts/{post['id']}", 200)
    assert (mine["removed"], mine["removed_reason"]) == (True, "hate speech")
    assert [n["type"] for n in await listed(client, ann)] == ["follow"]
    await call(client, bob, "POST", f"/posts/{post['id']}/like", 404)

    # Restored: back everywhere, the cached feed included.
    await call(client, mod, "POST", f"/moderation/posts/{post['id']}/restore", 200, json={"reason": "appeal"})
    assert (await call(client, bob, "GET", f"/posts/{post['id']}", 200))["removed"] is False
    assert [p["id"] for p in (await call(client, bob, "GET", "/feed", 200))["items"]] == [post["id"]]
    reopened = await call(
        client, mod, "POST", f"/moderation/reports/{report['id']}/reopen", 200, json={"note": "again"}
    )
    assert (reopened["status"], reopened["resolution_action"]) == ("open", None)

    audit = await call(client, mod, "GET", "/moderation/audit", 200, params={"actor": mod[1]})
    assert [a["action"] for a in audit["items"]] == [
        "report_reopened",
        "post_restored",
        "report_resolved",
        "post_taken_down",
        "report_assigned",
    ]
    assert audit["items"][3]["reason"] == "hate speech" and audit["items"][3]["target_id"] == post["id"]
    only = await call(client, mod, "GET", "/moderation/audit", 200, params={"action": "post_taken_down"})
    assert [a["target_id"] for a in only["items"]] == [post["id"]]
    await call(client, bob, "GET", "/moderation/audit", 403)
    await call(client, mod, "POST", f"/moderation/posts/{post['id']}/takedown", 422, json={"reason": ""})
    await call(client, mod, "POST", "/moderation/posts/nope/takedown", 404, json={"reason": "x"})
    await call(client, mod, "POST", "/moderation/reports/nope/resolve", 404, json={"action": "dismiss"})


async def test_a_comment_takedown(client: httpx.AsyncClient, database_url: str) -> None:
    mod = await staff(client, database_url)
    ann, bob = await account(client), await account(client)
    post = await publish(client, ann)
    comment = await call(client, bob, "POST", f"/posts/{post['id']}/comment", 201, json={"text": "rude"})
    await arrives(client, ann, 1)
    await call(client, mod, "POST", f"/moderation/comments/{comment['id']}/takedown", 200, json={"reason": "rude"})
    assert (await call(client, ann, "GET", f"/posts/{post['id']}/comments", 200))["items"] == []
    assert await listed(client, ann) == []
    [own] = (await call(client, bob, "GET", f"/posts/{post['id']}/comments", 200))["items"]
    assert (own["id"], own["removed"], own["removed_reason"]) == (comment["id"], True, "rude")
    await call(client, mod, "POST", f"/moderation/comments/{comment['id']}/restore", 200)
    assert len((await call(client, ann, "GET", f"/posts/{post['id']}/comments", 200))["items"]) == 1


async def test_a_warning_is_a_notification_without_its_sender(client: httpx.AsyncClient, database_url: str) -> None:
    mod = await staff(client, database_url)
    ann = await account(client)
    await call(client, mod, "POST", f"/moderation/users/{ann[1]}/warn", 200, json={"reason": "mind the rules"})
    [warning] = await arrives(client, ann, 1)
    assert (warning["type"], warning["note"], warning["accounts"], warning["count"]) == (
        "moderation_warning",
        "mind the rules",
        [],
        0,
    )
    await call(client, mod, "POST", f"/moderation/users/{ann[1]}/flag", 200, json={"reason": "watch"})
    flagged = await sql(database_url, "SELECT flagged_at FROM users WHERE id = $1::uuid", ann[1])
    assert flagged[0]["flagged_at"] is not None


@pytest.fixture
async def pair(
    make_settings: Callable[..., Settings], redis_service: RedisHandle, redis_prefix: str
) -> AsyncIterator[list[tuple[str, Any]]]:
    """Two hub instances sharing PostgreSQL and Redis."""
    settings = make_settings(redis_url=redis_service.url, redis_prefix=redis_prefix)
    async with contextlib.AsyncExitStack() as stack:
        yield [await stack.enter_async_context(running_hub(settings)) for _ in range(2)]


async def test_a_suspension_ends_sessions_everywhere_and_hides_the_account(
    pair: list[tuple[str, Any]], database_url: str
) -> None:
    (url_1, _), (url_2, _) = pair
    async with httpx.AsyncClient(base_url=url_1, timeout=10) as c1, httpx.AsyncClient(base_url=url_2) as c2:
        mod = await staff(c1, database_url)
        ann, bob = await account(c1), await account(c1)
        post = await publish(c1, ann, text="qwertzuiop spam")
        await call(c1, bob, "POST", f"/users/{ann[1]}/follow", 200)
        sock = await connect(url_2, User(ann[0], ann[1], ann[2]))  # on the other instance
        try:
            loop = asyncio.get_running_loop()
            started = loop.time()
            past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
            await call(c1, mod, "POST", f"/moderation/users/{ann[1]}/suspend", 422, json={"reason": "x", "until": past})
            await call(c1, mod, "POST", f"/moderation/users/{mod[1]}/suspend", 422, json={"reason": "x"})
            await call(c1, mod, "POST", f"/moderation/users/{ann[1]}/suspend", 200, json={"reason": "spam"})
            await asyncio.wait_for(sock.disconnected.wait(), 2)
            assert loop.time() - started < 2
        finally:
            await sock.close()
        assert (await call(c2, ann, "GET", "/auth/me", 401))["error"]["code"] == "token_revoked"
        login = await c2.post("/auth/login", json={"username": ann[2], "password": "correct horse battery"})
        assert login.status_code == 403 and login.json()["error"]["code"] == "account_suspended"
        assert login.json()["error"]["details"]["until"] is None
        wrong = await c2.post("/auth/login", json={"username": ann[2], "password": "wrong password!"})
        assert wrong.status_code == 401  # the suspension is told only to whoever knows the password
        # Hidden: profile, posts, followers lists, search.
        for path in (f"/users/{ann[1]}", f"/posts/{post['id']}"):
            await call(c2, bob, "GET", path, 404)
        assert (await call(c2, bob, "GET", f"/users/{bob[1]}/following", 200))["items"] == []
        assert (await call(c2, bob, "GET", "/search/posts", 200, params={"q": "qwertzuiop"}))["items"] == []
        assert (await call(c2, bob, "GET", "/feed", 200))["items"] == []
        # Moderators may not suspend an admin.
        admin = await staff(c1, database_url, "admin")
        assert (await call(c1, mod, "POST", f"/moderation/users/{admin[1]}/suspend", 403, json={"reason": "x"}))[
            "error"
        ]["code"] == "admin_required"

        # A suspension past its `until` has ended by itself.
        await sql(
            database_url, "UPDATE users SET suspended_until = now() - interval '1 second' WHERE id = $1::uuid", ann[1]
        )
        again = await c2.post("/auth/login", json={"username": ann[2], "password": "correct horse battery"})
        assert again.status_code == 200, again.text
        assert (await call(c2, bob, "GET", f"/posts/{post['id']}", 200))["id"] == post["id"]
        await call(c1, mod, "POST", f"/moderation/users/{ann[1]}/suspend", 200, json={"reason": "again"})
        await call(c1, mod, "POST", f"/moderation/users/{ann[1]}/unsuspend", 200)
        assert (
            await c2.post("/auth/login", json={"username": ann[2], "password": "correct horse battery"})
        ).status_code == 200


async def test_a_space_takedown_kicks_its_sockets(running: Any, database_url: str) -> None:
    client = running.http
    mod = await staff(client, database_url)
    ann = await account(client)
    space = await make_space(client, ann[0])
    sock = await connect(running.url, User(ann[0], ann[1], ann[2]))
    try:
        joined = await sock.call("join", {"space_id": space["id"]})
        assert "error" not in joined, joined
        await call(client, mod, "POST", f"/moderation/spaces/{space['id']}/takedown", 200, json={"reason": "illegal"})
        kicked = await sock.wait_for("kicked")
        assert kicked["code"] == "space_taken_down"
    finally:
        await sock.close()
    assert (await call(client, ann, "GET", f"/spaces/{space['id']}", 404))["error"]["code"] == "space_not_found"
    await call(client, mod, "POST", f"/moderation/spaces/{space['id']}/restore", 200)
    await call(client, ann, "GET", f"/spaces/{space['id']}", 200)


async def test_the_audit_log_is_append_only_in_the_database(client: httpx.AsyncClient, database_url: str) -> None:
    mod = await staff(client, database_url)
    ann = await account(client)
    await call(client, mod, "POST", f"/moderation/users/{ann[1]}/flag", 200, json={"reason": "r"})
    conn = await asyncpg.connect(database_url)
    try:
        for statement in (
            "UPDATE moderation_audit SET reason = 'rewritten'",
            "DELETE FROM moderation_audit",
            "TRUNCATE moderation_audit",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                await conn.execute(statement)
        assert await conn.fetchval("SELECT reason FROM moderation_audit") == "r"
    finally:
        await conn.close()


async def _hub(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        HUB, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    async with asyncio.timeout(120):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_hub_admin_grants_beside_a_running_embedded_hub_and_with_it_stopped(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update({"HUB_DATA_DIR": str(tmp_path / "data"), "HUB_PORT": str(port), "HUB_LOG_LEVEL": "WARNING"})
    url = f"http://127.0.0.1:{port}"
    proc = await asyncio.create_subprocess_exec(
        HUB, "serve", env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    try:
        await wait_ready(url, proc)
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            ann = await account(client)
            code, out, err = await _hub("admin", "grant", ann[2].upper(), "admin", env=env)
            assert code == 0, err
            assert json.loads(out) == {"id": ann[1], "handle": ann[2], "role": "admin"}
            # At once, for the token Ann already holds.
            assert (await call(client, ann, "GET", "/me/role", 200))["role"] == "admin"
            audit = await call(client, ann, "GET", "/moderation/audit", 200)
            assert [(a["action"], a["actor"], a["actor_id"]) for a in audit["items"]] == [
                ("role_granted", "hub admin", None)
            ]
            code, _out, err = await _hub("admin", "grant", "nobody_at_all", "moderator", env=env)
            assert code == 2 and "nobody_at_all" in err
    finally:
        proc.terminate()
        async with asyncio.timeout(30):
            await proc.wait()
    # With the hub stopped, the command starts the data directory's PostgreSQL for itself.
    code, out, err = await _hub("admin", "revoke", ann[2], env=env)
    assert code == 0, err
    assert json.loads(out)["role"] == "user"
    code, out, err = await _hub("migrate", env=env)
    assert code == 0 and json.loads(out) == {"applied": []}, err
    await eventually(lambda: not (tmp_path / "data" / "postgres" / "postmaster.pid").exists())
