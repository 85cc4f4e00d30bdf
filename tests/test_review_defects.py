"""Defects a code review found: repeated queries, RFC 9110 `If-Match: *`, unbounded in-process state."""

from __future__ import annotations

from typing import Any

import httpx

from storage.memory.replay import MemoryReplayBuffer
from tests.helpers import auth, make_space, register
from tests.support.server import running_hub


async def test_space_get_runs_the_membership_query_once(make_settings) -> None:  # type: ignore[no-untyped-def]
    async with running_hub(make_settings()) as (url, app), httpx.AsyncClient(base_url=url) as c:
        token = (await register(c))["access_token"]
        space_id = (await make_space(c, token))["id"]
        repo = app.other_asgi_app.ctx.hub.spaces.repo
        calls: list[str] = []
        original = repo.for_member

        async def counting(space: str, user: str) -> Any:
            calls.append(space)
            return await original(space, user)

        repo.for_member = counting
        try:
            r = await c.get(f"/spaces/{space_id}", headers=auth(token))
        finally:
            repo.for_member = original
        assert r.status_code == 200, r.text
        assert calls == [space_id]


async def test_if_match_star_updates_any_current_version(client: httpx.AsyncClient) -> None:
    token = (await register(client))["access_token"]
    space_id = (await make_space(client, token))["id"]
    r = await client.post(f"/spaces/{space_id}/bins", json={"title": "t", "content": "one"}, headers=auth(token))
    bin_id = r.json()["id"]
    await client.patch(
        f"/spaces/{space_id}/bins/{bin_id}", json={"content": "two"}, headers={**auth(token), "If-Match": '"v1"'}
    )
    r = await client.patch(
        f"/spaces/{space_id}/bins/{bin_id}", json={"content": "three"}, headers={**auth(token), "If-Match": "*"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 3 and r.json()["content"] == "three"
    assert r.headers["etag"] == '"v3"'
    # "*" on a bin that does not exist is still a 404, and garbage is still refused.
    r = await client.patch(
        f"/spaces/{space_id}/bins/{'0' * 26}", json={"content": "x"}, headers={**auth(token), "If-Match": "*"}
    )
    assert r.status_code == 404
    r = await client.patch(
        f"/spaces/{space_id}/bins/{bin_id}", json={"content": "x"}, headers={**auth(token), "If-Match": "v3"}
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_if_match"


async def test_memory_replay_drops_rings_of_idle_spaces() -> None:
    now = [1000.0]
    buffer = MemoryReplayBuffer(100, 60.0, clock=lambda: now[0])
    for index in range(50):
        await buffer.append(f"space-{index}", "e1", [{"seq": 1, "type": "stroke"}])
    assert len(buffer) == 50
    # Long after the last event of those spaces, one active space is all that remains.
    now[0] += 120.0
    await buffer.append("active", "e1", [{"seq": 1, "type": "stroke"}])
    assert len(buffer) == 1
    assert await buffer.since("active", "e1", 0) == [{"seq": 1, "type": "stroke"}]
    assert await buffer.since("space-3", "e1", 0) == []


async def test_a_trailing_newline_is_not_a_valid_username_or_language(client: httpx.AsyncClient) -> None:
    # `re.match` with `$` accepts "name\n": these checks must match the whole value.
    r = await client.post(
        "/auth/register",
        json={"username": "alice\n", "password": "correct horse battery", "display_name": "Alice"},
    )
    assert r.status_code == 422 and "username" in r.json()["error"]["details"]["fields"], r.text
    token = (await register(client))["access_token"]
    space_id = (await make_space(client, token))["id"]
    r = await client.post(
        f"/spaces/{space_id}/bins", json={"title": "t", "content": "c", "language": "python\n"}, headers=auth(token)
    )
    assert r.status_code == 422 and "language" in r.json()["error"]["details"]["fields"], r.text


async def test_the_whiteboard_forgets_a_spaces_epoch_when_its_room_empties(make_settings) -> None:  # type: ignore[no-untyped-def]
    from tests.support.realtime import connect, guest, space

    async with running_hub(make_settings()) as (url, app), httpx.AsyncClient(base_url=url) as c:
        service = app.other_asgi_app.ctx.hub.whiteboard
        alice = await guest(c, "Alice")
        rooms = [await space(c, alice) for _ in range(3)]
        sock = await connect(url, alice)
        try:
            for sid in rooms:
                assert (await sock.call("join", {"space_id": sid}))["ok"]
            assert set(rooms) <= set(service._epochs)
            for sid in rooms:
                assert (await sock.call("leave", {"space_id": sid}))["ok"]
            assert not set(rooms) & set(service._epochs)
        finally:
            await sock.close()
