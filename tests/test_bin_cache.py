"""A member's bin read answered from the instance's memory (`BinReadCache`): the same answers as
PostgreSQL's, dropped on every change to the space, here at once and on other instances when the bus
event arrives, bounded in time, entries and characters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from hub.config import Settings
from hub.ports.spaces import BinRecord, SpaceRecord
from hub.services import bins as bins_service
from hub.services.bins import BinReadCache
from tests.helpers import auth, comparable, make_space, register
from tests.support.server import running_hub, serve
from tests.support.waiting import eventually

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def _space(space_id: str = "s1") -> SpaceRecord:
    return SpaceRecord(space_id, "S", "owner", "private", "viewer", T0, T0, T0 + timedelta(days=1), "editor")


def _bin(bin_id: str = "b1", space_id: str = "s1", content: str = "hello", burn: bool = False) -> BinRecord:
    return BinRecord(bin_id, space_id, "T", content, "text", 1, "owner", "owner", T0, T0, burn, None)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_answer_is_kept_for_its_ttl_and_per_member() -> None:
    clock = Clock()
    cache = BinReadCache(5.0, clock=clock)
    cache.put("u1", _space(), _bin(), cache.generation)
    assert cache.get("s1", "b1", "u1") == (_space(), _bin())
    assert cache.get("s1", "b1", "u2") is None  # another member's read is that member's own
    assert cache.get("s1", "b2", "u1") is None
    clock.now += 4.9
    assert cache.get("s1", "b1", "u1") is not None
    clock.now += 0.2
    assert cache.get("s1", "b1", "u1") is None and len(cache) == 0


def test_a_space_event_drops_that_space_only_and_an_older_read_is_not_stored_after_it() -> None:
    cache = BinReadCache(5.0)
    started = cache.generation  # a read of s1 that began before the eviction below
    cache.put("u1", _space("s2"), _bin("b2", "s2"), cache.generation)
    cache.put("u1", _space(), _bin(), cache.generation)
    cache.evict_space("s1")
    assert cache.get("s1", "b1", "u1") is None
    assert cache.get("s2", "b2", "u1") is not None
    cache.put("u1", _space(), _bin(content="before the change"), started)
    assert cache.get("s1", "b1", "u1") is None


def test_burn_after_reading_and_a_ttl_of_zero_are_never_kept() -> None:
    cache = BinReadCache(5.0)
    cache.put("u1", _space(), _bin(burn=True), cache.generation)
    assert cache.get("s1", "b1", "u1") is None
    off = BinReadCache(0.0)
    off.put("u1", _space(), _bin(), off.generation)
    assert off.get("s1", "b1", "u1") is None


def test_entries_and_characters_are_bounded_oldest_first() -> None:
    cache = BinReadCache(5.0, max_entries=3, max_chars=1_600)
    for i in range(5):
        cache.put("u1", _space(), _bin(f"b{i}"), cache.generation)
    assert len(cache) == 3 and [cache.get("s1", f"b{i}", "u1") is not None for i in range(5)] == [
        False,
        False,
        True,
        True,
        True,
    ]
    cache.put("u1", _space(), _bin("big", content="x" * 101), cache.generation)  # over max_chars / 16
    assert cache.get("s1", "big", "u1") is None
    for i in range(3):
        cache.put("u2", _space(), _bin(f"c{i}", content="y" * 100), cache.generation)
    assert len(cache) == 3 and all(cache.get("s1", f"c{i}", "u2") is not None for i in range(3))
    cache.evict_space("s1")
    assert len(cache) == 0
    # The character count went back to zero with the entries: a full set fits again.
    for i in range(3):
        cache.put("u3", _space(), _bin(f"d{i}", content="z" * 100), cache.generation)
    assert len(cache) == 3


def test_a_re_put_replaces_the_answer() -> None:
    cache = BinReadCache(5.0)
    cache.put("u1", _space(), _bin(), cache.generation)
    newer = replace(_bin(), version=2, content="newer")
    cache.put("u1", _space(), newer, cache.generation)
    assert cache.get("s1", "b1", "u1") == (_space(), newer) and len(cache) == 1


# -- through the hub -----------------------------------------------------------------------------------


async def _register(c: httpx.AsyncClient) -> tuple[str, str]:
    """(user id, access token) of a new account."""
    body = await register(c)
    return str(body["user"]["id"]), str(body["access_token"])


async def _bin_in(c: httpx.AsyncClient, owner: str, member: str) -> tuple[str, str]:
    """(space id, bin id): a space of `owner` with `member` as an editor, and a bin in it."""
    space = await make_space(c, owner)
    invite = (await c.post(f"/spaces/{space['id']}/invites", json={"role": "editor"}, headers=auth(owner))).json()
    assert (await c.post("/spaces/join", json={"token": invite["token"]}, headers=auth(member))).status_code == 200
    r = await c.post(
        f"/spaces/{space['id']}/bins", json={"title": "T", "content": "one", "language": "text"}, headers=auth(owner)
    )
    assert r.status_code == 201, r.text
    return str(space["id"]), str(r.json()["id"])


async def _content(c: httpx.AsyncClient, token: str, space_id: str, bin_id: str) -> str:
    r = await c.get(f"/spaces/{space_id}/bins/{bin_id}", headers=auth(token))
    assert r.status_code == 200, r.text
    return str(r.json()["content"])


async def test_a_change_made_here_is_read_at_once(make_settings: Callable[..., Settings], database_url: str) -> None:
    # Five minutes of trust: only the eviction on the change's own bus event can make the reads fresh.
    async with (
        running_hub(make_settings(bin_cache_ttl=300.0)) as (url, _),
        httpx.AsyncClient(base_url=url, timeout=20) as c,
    ):
        (_, owner), (member_id, member) = await _register(c), await _register(c)
        space_id, bin_id = await _bin_in(c, owner, member)
        assert await _content(c, member, space_id, bin_id) == "one"
        # Written behind the hub's back, no event: the member's next read is the remembered answer, so
        # the reads below that see each change owe it to the change's eviction.
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute("UPDATE bins SET content = 'behind' WHERE id = $1", bin_id)
        finally:
            await conn.close()
        assert await _content(c, member, space_id, bin_id) == "one"

        r = await c.patch(
            f"/spaces/{space_id}/bins/{bin_id}",
            json={"content": "two"},
            headers={
                **auth(owner),
                "If-Match": (await c.get(f"/spaces/{space_id}/bins/{bin_id}", headers=auth(owner))).headers["etag"],
            },
        )
        assert r.status_code == 200, r.text
        assert await _content(c, member, space_id, bin_id) == "two"

        stranger = await c.get(f"/spaces/{space_id}/bins/" + "x" * 22, headers=auth(member))
        assert (await c.delete(f"/spaces/{space_id}/members/{member_id}", headers=auth(owner))).status_code == 204
        r = await c.get(f"/spaces/{space_id}/bins/{bin_id}", headers=auth(member))
        missing = await c.get("/spaces/" + "y" * 22 + "/bins/" + bin_id, headers=auth(member))
        assert comparable(r) == comparable(missing) and r.status_code == 404, r.text
        assert stranger.status_code == 404


async def test_a_change_on_another_instance_reaches_this_ones_cache_over_the_bus(
    make_settings: Callable[..., Settings], redis_service: Any, redis_prefix: str
) -> None:
    settings = make_settings(redis_url=redis_service.url, redis_prefix=redis_prefix, bin_cache_ttl=300.0)
    async with serve(settings) as a, serve(settings) as b:
        ca, cb = a.http, b.http
        (_, owner), (member_id, member) = await _register(ca), await _register(ca)
        space_id, bin_id = await _bin_in(ca, owner, member)
        assert await _content(cb, member, space_id, bin_id) == "one"  # B remembers it for five minutes
        etag = (await ca.get(f"/spaces/{space_id}/bins/{bin_id}", headers=auth(owner))).headers["etag"]
        r = await ca.patch(
            f"/spaces/{space_id}/bins/{bin_id}", json={"content": "two"}, headers={**auth(owner), "If-Match": etag}
        )
        assert r.status_code == 200, r.text

        async def fresh() -> bool:
            return await _content(cb, member, space_id, bin_id) == "two"

        await eventually(fresh, timeout=5.0, interval=0.01, message="B still answers the bin as it was")

        assert (await ca.delete(f"/spaces/{space_id}/members/{member_id}", headers=auth(owner))).status_code == 204

        async def refused() -> bool:
            r = await cb.get(f"/spaces/{space_id}/bins/{bin_id}", headers=auth(member))
            return r.status_code == 404 and r.json()["error"]["code"] == "space_not_found"

        await eventually(refused, timeout=5.0, interval=0.01, message="B still lets a removed member read the bin")

        # The owner's read is cached on B too; deleting the space on A ends it there.
        assert await _content(cb, owner, space_id, bin_id) == "two"
        assert (await ca.delete(f"/spaces/{space_id}", headers=auth(owner))).status_code == 204

        async def gone() -> bool:
            return (await cb.get(f"/spaces/{space_id}/bins/{bin_id}", headers=auth(owner))).status_code == 404

        await eventually(gone, timeout=5.0, interval=0.01, message="B still answers a deleted space's bin")


async def test_an_expiry_is_checked_on_every_cached_read(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with (
        running_hub(make_settings(bin_cache_ttl=300.0)) as (url, _),
        httpx.AsyncClient(base_url=url, timeout=20) as c,
    ):
        (_, owner), (_, member) = await _register(c), await _register(c)
        space_id, _ = await _bin_in(c, owner, member)
        r = await c.post(
            f"/spaces/{space_id}/bins",
            json={"title": "T", "content": "soon gone", "language": "text", "expires_in": 60},
            headers=auth(owner),
        )
        assert r.status_code == 201, r.text
        bin_id = r.json()["id"]
        assert await _content(c, member, space_id, bin_id) == "soon gone"  # now remembered for five minutes
        # A minute later by the bin service's clock: the remembered record's own expiry answers.
        monkeypatch.setattr(bins_service, "now", lambda: datetime.now(UTC) + timedelta(seconds=61))
        r = await c.get(f"/spaces/{space_id}/bins/{bin_id}", headers=auth(member))
        assert r.status_code == 410 and r.json()["error"]["code"] == "bin_expired", r.text
