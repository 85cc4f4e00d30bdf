"""`POST /spaces/join` says why an invite no longer works (410 `invite_expired` / `invite_used_up`, the
codes `GET /invites/{token}` answers), keeps one 404 for tokens that never worked, and stays race-free:
two redeemers of a last use never both get in."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx

from tests.helpers import auth, comparable, make_space, register
from tests.support.waiting import eventually
from tests.test_posts_flow import sql


async def _invite(client: httpx.AsyncClient, owner: str, space_id: str, **fields: Any) -> dict[str, Any]:
    r = await client.post(f"/spaces/{space_id}/invites", json=fields, headers=auth(owner))
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def _join(client: httpx.AsyncClient, token: str, who: str) -> httpx.Response:
    return await client.post("/spaces/join", json={"token": token}, headers=auth(who))


def _error(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["error"]["code"]


async def _uses(database_url: str, invite_id: str) -> int:
    rows = await sql(database_url, "SELECT uses FROM space_invites WHERE id = $1", invite_id)
    return int(rows[0]["uses"])


async def _is_member(client: httpx.AsyncClient, space_id: str, who: str) -> bool:
    return (await client.get(f"/spaces/{space_id}", headers=auth(who))).status_code == 200


async def test_a_used_up_invite_says_so_and_consumes_nothing(client: httpx.AsyncClient, database_url: str) -> None:
    owner = (await register(client))["access_token"]
    first, late = (await register(client))["access_token"], (await register(client))["access_token"]
    space = await make_space(client, owner)
    once = await _invite(client, owner, space["id"], max_uses=1, role="editor")
    assert (await _join(client, once["token"], first)).status_code == 200

    r = await _join(client, once["token"], late)
    assert _error(r) == (410, "invite_used_up")
    # The same answer as the landing page's, message included.
    assert r.json()["error"]["message"] == (await client.get(f"/invites/{once['token']}")).json()["error"]["message"]
    assert await _uses(database_url, once["id"]) == 1
    assert not await _is_member(client, space["id"], late)
    # A member who redeems again is refused like anyone else (the invite has no use left).
    assert _error(await _join(client, once["token"], first)) == (410, "invite_used_up")


async def test_an_expired_invite_or_space_says_so(client: httpx.AsyncClient, database_url: str) -> None:
    owner = (await register(client))["access_token"]
    joiner = (await register(client))["access_token"]
    space = await make_space(client, owner)
    late = await _invite(client, owner, space["id"], expires_in=3600, max_uses=5)
    await sql(
        database_url, "UPDATE space_invites SET expires_at = now() - interval '1 second' WHERE id = $1", late["id"]
    )
    assert _error(await _join(client, late["token"], joiner)) == (410, "invite_expired")
    assert await _uses(database_url, late["id"]) == 0

    # Expired and used up: expired is what the landing says too, so the join says the same.
    used = await _invite(client, owner, space["id"], max_uses=1)
    assert (await _join(client, used["token"], (await register(client))["access_token"])).status_code == 200
    await sql(
        database_url, "UPDATE space_invites SET expires_at = now() - interval '1 second' WHERE id = $1", used["id"]
    )
    assert _error(await client.get(f"/invites/{used['token']}")) == (410, "invite_expired")
    assert _error(await _join(client, used["token"], joiner)) == (410, "invite_expired")

    # An invite into a space whose own time is over has expired with it.
    fresh = await _invite(client, owner, space["id"])
    await sql(database_url, "UPDATE spaces SET expires_at = now() - interval '1 second' WHERE id = $1", space["id"])
    assert _error(await _join(client, fresh["token"], joiner)) == (410, "invite_expired")
    assert await _uses(database_url, fresh["id"]) == 0


async def test_revoked_unknown_and_hostile_tokens_are_the_same_404(
    client: httpx.AsyncClient, database_url: str
) -> None:
    owner = (await register(client))["access_token"]
    joiner = (await register(client))["access_token"]
    space = await make_space(client, owner)
    revoked = await _invite(client, owner, space["id"], max_uses=1)
    r = await client.delete(f"/spaces/{space['id']}/invites/{revoked['id']}", headers=auth(owner))
    assert r.status_code == 204, r.text
    # Revoked after it expired: still the revoked answer, nothing about why it would not have worked.
    await sql(
        database_url, "UPDATE space_invites SET expires_at = now() - interval '1 second' WHERE id = $1", revoked["id"]
    )
    taken_down = await make_space(client, owner)
    hidden = await _invite(client, owner, taken_down["id"])
    await sql(database_url, "UPDATE spaces SET removed_at = now() WHERE id = $1", taken_down["id"])

    unknown = comparable(await _join(client, "never-issued-token", joiner))
    assert unknown[0] == 404 and unknown[1]["error"]["code"] == "invite_not_found"
    for token in (revoked["token"], hidden["token"], "x" * 200, "%00", "../../etc/passwd", "ñ" * 10, "a b"):
        assert comparable(await _join(client, token, joiner)) == unknown, token
    assert not await _is_member(client, space["id"], joiner)


async def test_two_redeemers_of_a_last_use_one_joins_the_other_is_told_it_is_used_up(
    client: httpx.AsyncClient, database_url: str
) -> None:
    owner = (await register(client))["access_token"]
    space = await make_space(client, owner)
    racers = [(await register(client))["access_token"] for _ in range(4)]
    for _round in range(5):
        invite = await _invite(client, owner, space["id"], max_uses=2)
        answers = await asyncio.gather(*(_join(client, invite["token"], who) for who in racers))
        statuses = sorted(r.status_code for r in answers)
        assert statuses == [200, 200, 410, 410], [r.text for r in answers]
        assert {_error(r) for r in answers if r.status_code != 200} == {(410, "invite_used_up")}
        assert await _uses(database_url, invite["id"]) == 2


async def test_a_redeemer_waiting_on_a_concurrent_last_use_reads_the_outcome(
    client: httpx.AsyncClient, database_url: str
) -> None:
    """Another transaction holds the invite's last use, uncommitted; the join waits for it and then
    answers by what it did: used up once it commits, joined once it rolls back."""
    owner = (await register(client))["access_token"]
    space = await make_space(client, owner)
    conn = await asyncpg.connect(database_url)
    holder = conn.get_server_pid()

    async def waiting_on_holder() -> bool:
        rows = await sql(
            database_url,
            "SELECT count(*) AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
            holder,
        )
        return int(rows[0]["n"]) > 0

    try:
        for commit, expected in ((True, 410), (False, 200)):
            invite = await _invite(client, owner, space["id"], max_uses=1)
            joiner = (await register(client))["access_token"]
            tx = conn.transaction()
            await tx.start()
            await conn.execute("UPDATE space_invites SET uses = uses + 1 WHERE id = $1", invite["id"])
            join = asyncio.create_task(_join(client, invite["token"], joiner))
            await eventually(waiting_on_holder, message="the join never waited for the invite's row lock")
            assert not join.done()
            await (tx.commit() if commit else tx.rollback())
            r = await asyncio.wait_for(join, timeout=15)
            assert r.status_code == expected, r.text
            if commit:
                assert _error(r) == (410, "invite_used_up")
                assert not await _is_member(client, space["id"], joiner)
            else:
                assert await _is_member(client, space["id"], joiner)
            assert await _uses(database_url, invite["id"]) == 1
    finally:
        await conn.close()


async def test_the_openapi_document_lists_the_410(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    join = spec["paths"]["/spaces/join"]["post"]
    assert {"404", "410"} <= set(join["responses"])
    assert "invite_used_up" in join["summary"] and "invite_expired" in join["summary"]
