"""One contract for every `Presence` implementation: memory and Redis behave the same."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from hub.ports.whiteboard import Presence, PresenceEntry
from storage.memory.presence import MemoryPresence
from storage.redis.presence import RedisPresence
from tests.support.services import RedisHandle
from tests.support.waiting import eventually


@pytest.fixture(params=["memory", "redis"])
async def presence(
    request: pytest.FixtureRequest, redis_service: RedisHandle, redis_prefix: str
) -> AsyncIterator[Presence]:
    if request.param == "memory":
        yield MemoryPresence()
        return
    redis = Redis.from_url(redis_service.url)
    try:
        yield RedisPresence(redis, redis_prefix)
    finally:
        await redis.aclose()


def entry(conn: str, user: str = "u1", cursor: tuple[float, float] | None = None) -> PresenceEntry:
    return PresenceEntry(conn, user, f"Name {user}", "#123456", cursor)


async def wait_expired(presence: Presence, space: str, timeout: float = 5) -> list[PresenceEntry]:
    return await eventually(lambda: presence.expire(space), timeout=timeout)


async def test_put_list_update_and_remove_once(presence: Presence) -> None:
    await presence.put("s1", entry("c1"), 30)
    await presence.put("s1", entry("c2"), 30)  # a second tab of the same user
    await presence.put("s1", entry("c3", "u2"), 30)
    await presence.put("s2", entry("c9", "u9"), 30)
    assert sorted(e.conn_id for e in await presence.entries("s1")) == ["c1", "c2", "c3"]

    await presence.put("s1", entry("c1", cursor=(1.5, -2.0)), 30)
    by_conn = {e.conn_id: e for e in await presence.entries("s1")}
    assert by_conn["c1"].cursor == (1.5, -2.0) and by_conn["c1"].display_name == "Name u1"

    removed = await presence.remove("s1", "c1")
    assert removed is not None and removed.user_id == "u1"
    assert await presence.remove("s1", "c1") is None  # exactly one caller announces the leave
    assert sorted(e.conn_id for e in await presence.entries("s1")) == ["c2", "c3"]
    assert [e.conn_id for e in await presence.entries("s2")] == ["c9"]


async def test_lease_expires_and_is_reaped_exactly_once(presence: Presence) -> None:
    await presence.put("s1", entry("dead"), 0.3)
    await presence.put("s1", entry("alive", "u2"), 30)
    gone = await wait_expired(presence, "s1")
    assert [e.conn_id for e in gone] == ["dead"]
    assert await presence.expire("s1") == []
    assert await presence.remove("s1", "dead") is None
    assert [e.conn_id for e in await presence.entries("s1")] == ["alive"]


async def test_renewal_keeps_a_lease_alive(presence: Presence) -> None:
    await presence.put("s1", entry("c1"), 0.3)
    await presence.put("s1", entry("c1"), 30)  # the heartbeat
    await presence.put("s1", entry("probe", "u2"), 0.3)
    gone = await wait_expired(presence, "s1")
    assert [e.conn_id for e in gone] == ["probe"]
    assert [e.conn_id for e in await presence.entries("s1")] == ["c1"]


async def test_expired_lease_is_not_listed(presence: Presence) -> None:
    await presence.put("s1", entry("c1"), 0.2)
    await presence.put("s1", entry("marker", "u2"), 0.2)

    async def unlisted() -> bool:
        return not await presence.entries("s1")

    await eventually(unlisted, timeout=5)
    assert sorted(e.conn_id for e in await presence.expire("s1")) == ["c1", "marker"]


async def test_many_leases_of_a_space_are_put_or_renewed_at_once(presence: Presence) -> None:
    await presence.put_many("s1", [], 30)  # nothing to renew: nothing happens
    assert await presence.entries("s1") == []
    await presence.put_many("s1", [entry("c1"), entry("c2", "u2"), entry("short", "u3")], 0.3)
    # The heartbeat renews two of them (and updates an entry's fields) in one call; the third expires.
    await presence.put_many("s1", [entry("c1", cursor=(3.0, 4.0)), entry("c2", "u2")], 30)
    gone = await wait_expired(presence, "s1")
    assert [e.conn_id for e in gone] == ["short"]
    by_conn = {e.conn_id: e for e in await presence.entries("s1")}
    assert sorted(by_conn) == ["c1", "c2"] and by_conn["c1"].cursor == (3.0, 4.0)
