"""Revocation outlives restarts: logout, logout-all and member removal hold after the hub, or Redis,
forgets everything it kept in memory, because PostgreSQL is the source of truth."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio
from redis.asyncio import Redis

from hub.config import Settings
from hub.errors import ServiceUnavailable
from hub.ports.identity import RevocationState
from hub.services.identity import RevocationCache
from storage.postgres.server import PostgresServer, ensure_database
from tests.helpers import auth, make_space
from tests.support.realtime import Sock
from tests.support.server import running_hub, serve
from tests.support.waiting import eventually

PASSWORD = "correct horse battery"


async def _register(c: httpx.AsyncClient) -> tuple[str, str]:
    """(username, access token) of a new account."""
    username = "u" + secrets.token_hex(5)
    r = await c.post("/auth/register", json={"username": username, "password": PASSWORD, "display_name": "U"})
    assert r.status_code == 201, r.text
    return username, str(r.json()["access_token"])


async def _login(c: httpx.AsyncClient, username: str) -> str:
    r = await c.post("/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


async def _status(c: httpx.AsyncClient, token: str) -> int:
    r = await c.get("/auth/me", headers=auth(token))
    if r.status_code == 401:
        assert r.json()["error"]["code"] == "token_revoked", r.text
    return r.status_code


async def _socket_refusal(url: str, token: str) -> str:
    """The connect_error a socket connect with `token` is refused with, as text."""
    refused, errors = Sock(), []

    async def on_error(data: Any = None) -> None:
        errors.append(data)

    refused.client.on("connect_error", on_error)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await refused.connect(url, token)
    assert errors, "no connect_error received"
    return str(errors[0])


def _embedded(make_settings: Callable[..., Settings]) -> Settings:
    # No DATABASE_URL: the hub runs its private PostgreSQL in the data directory (a fresh one under the
    # suite's service root, which the service user can reach), and these settings keep that directory.
    return make_settings(database_url="", migrate_on_start=True)


async def test_logout_survives_an_embedded_hub_restart(make_settings: Callable[..., Settings]) -> None:
    settings = _embedded(make_settings)
    async with running_hub(settings) as (url, _), httpx.AsyncClient(base_url=url, timeout=20) as c:
        username, gone = await _register(c)
        kept = await _login(c, username)
        assert await _status(c, gone) == 200  # this instance has seen the session alive
        assert (await c.post("/auth/logout", headers=auth(gone))).status_code == 204
        assert await _status(c, gone) == 401
    async with running_hub(settings) as (url, _), httpx.AsyncClient(base_url=url, timeout=20) as c:
        assert await _status(c, gone) == 401
        assert await _status(c, kept) == 200  # only that login was cut off
        assert "token_revoked" in await _socket_refusal(url, gone)
        await (await Sock().connect(url, kept)).close()


async def test_logout_all_survives_an_embedded_hub_restart(make_settings: Callable[..., Settings]) -> None:
    settings = _embedded(make_settings)
    async with running_hub(settings) as (url, _), httpx.AsyncClient(base_url=url, timeout=20) as c:
        username, first = await _register(c)
        second = await _login(c, username)
        assert (await c.post("/auth/logout-all", headers=auth(first))).status_code == 204
        assert await _status(c, second) == 401
    async with running_hub(settings) as (url, _), httpx.AsyncClient(base_url=url, timeout=20) as c:
        assert await _status(c, first) == 401
        assert await _status(c, second) == 401
        assert await _status(c, await _login(c, username)) == 200  # a new login works


async def _flush(redis_url: str, prefix: str) -> None:
    """What a Redis restart without persistence does to this hub's keys."""
    redis = Redis.from_url(redis_url)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


async def test_revocations_survive_a_redis_flush_and_restarts_of_every_instance(
    make_settings: Callable[..., Settings], redis_service: Any, redis_prefix: str
) -> None:
    settings = make_settings(redis_url=redis_service.url, redis_prefix=redis_prefix)
    async with serve(settings) as a, serve(settings) as b:
        ca, cb = a.http, b.http
        username, session = await _register(ca)
        everywhere = await _register(ca)
        assert (await ca.post("/auth/logout", headers=auth(session))).status_code == 204
        assert (await ca.post("/auth/logout-all", headers=auth(everywhere[1]))).status_code == 204
        await _flush(redis_service.url, redis_prefix)
        for c in (ca, cb):
            assert await _status(c, session) == 401
            assert await _status(c, everywhere[1]) == 401
        kept = await _login(ca, username)
    await _flush(redis_service.url, redis_prefix)
    async with serve(settings) as a, serve(settings) as b:
        ca, cb = a.http, b.http
        for c in (ca, cb):
            assert await _status(c, session) == 401
            assert await _status(c, everywhere[1]) == 401
            assert await _status(c, kept) == 200


async def _refused_within(c: httpx.AsyncClient, token: str, seconds: float) -> None:
    async def refused() -> bool:
        return await _status(c, token) == 401

    await eventually(
        refused, timeout=seconds, interval=0.01, message="the other instance still accepts the revoked token"
    )


async def test_a_revocation_on_one_instance_reaches_the_others_cache_over_the_bus(
    make_settings: Callable[..., Settings], redis_service: Any, redis_prefix: str
) -> None:
    # A cache that would trust its answer for five minutes: only the bus event can make B refuse in time.
    settings = make_settings(redis_url=redis_service.url, redis_prefix=redis_prefix, revocation_cache_ttl=300.0)
    async with serve(settings) as a, serve(settings) as b:
        ca, cb = a.http, b.http
        username, session = await _register(ca)
        others = await _login(ca, username)
        cold = await _login(ca, username)
        for token in (session, others):
            assert await _status(cb, token) == 200  # B caches both logins as alive
        assert (await ca.post("/auth/logout", headers=auth(session))).status_code == 204
        await _refused_within(cb, session, 5.0)
        assert await _status(cb, others) == 200
        assert (await ca.post("/auth/logout-all", headers=auth(others))).status_code == 204
        await _refused_within(cb, others, 5.0)
        assert await _status(cb, cold) == 401  # never seen by B: B asks the database


async def test_refresh_token_reuse_also_cuts_off_the_logins_access_tokens(
    make_settings: Callable[..., Settings],
) -> None:
    async with running_hub(make_settings()) as (url, _), httpx.AsyncClient(base_url=url, timeout=20) as c:
        r = await c.post("/auth/guest", json={"display_name": "g"})
        stolen = r.json()["refresh_token"]
        rotated = (await c.post("/auth/refresh", json={"refresh_token": stolen})).json()
        assert await _status(c, rotated["access_token"]) == 200
        reuse = await c.post("/auth/refresh", json={"refresh_token": stolen})
        assert reuse.status_code == 401 and reuse.json()["error"]["code"] == "token_reused"
        assert await _status(c, rotated["access_token"]) == 401
        assert await _status(c, r.json()["access_token"]) == 401


async def test_member_removal_holds_at_once_on_every_instance_and_after_restarts(
    make_settings: Callable[..., Settings], redis_service: Any, redis_prefix: str
) -> None:
    settings = make_settings(redis_url=redis_service.url, redis_prefix=redis_prefix)
    async with serve(settings) as a, serve(settings) as b:
        ca, cb = a.http, b.http
        _, owner = await _register(ca)
        member_name, member = await _register(ca)
        space = await make_space(ca, owner)
        invite = (await ca.post(f"/spaces/{space['id']}/invites", json={"role": "editor"}, headers=auth(owner))).json()
        assert (await cb.post("/spaces/join", json={"token": invite["token"]}, headers=auth(member))).status_code == 200
        me = (await cb.get("/auth/me", headers=auth(member))).json()
        for c in (ca, cb):
            assert (await c.get(f"/spaces/{space['id']}", headers=auth(member))).status_code == 200
        removed = await ca.delete(f"/spaces/{space['id']}/members/{me['id']}", headers=auth(owner))
        assert removed.status_code == 204, removed.text
        stranger = await cb.get("/spaces/" + "x" * 22, headers=auth(member))
        for c in (ca, cb):
            r = await c.get(f"/spaces/{space['id']}", headers=auth(member))
            assert r.status_code == 404 and r.json()["error"]["code"] == "space_not_found"
            assert r.json()["error"]["message"] == stranger.json()["error"]["message"]
    await _flush(redis_service.url, redis_prefix)
    async with running_hub(settings) as (a, _), httpx.AsyncClient(base_url=a, timeout=20) as ca:
        fresh = await _login(ca, member_name)
        for token in (member, fresh):
            r = await ca.get(f"/spaces/{space['id']}", headers=auth(token))
            assert r.status_code == 404 and r.json()["error"]["code"] == "space_not_found"


async def test_a_database_outage_during_authenticate_is_503_never_allow(
    make_settings: Callable[..., Settings], service_root: Path
) -> None:
    server = PostgresServer(service_root / ("pg-" + secrets.token_hex(4)), durable=False)
    admin = await asyncio.to_thread(server.start)
    await ensure_database(admin, "hub")
    settings = make_settings(database_url=server.dsn("hub"), migrate_on_start=True, db_command_timeout=2.0)
    try:
        async with running_hub(settings) as (url, app), httpx.AsyncClient(base_url=url, timeout=20) as c:
            hub = app.other_asgi_app.ctx.hub
            r = await c.post("/auth/guest", json={"display_name": "g"})
            cold = r.json()["access_token"]  # issued, never authenticated: not in any cache
            await asyncio.to_thread(server.stop)
            with pytest.raises(ServiceUnavailable):
                await hub.db.check()  # the database is really gone
            with pytest.raises(ServiceUnavailable):
                await hub.identity.authenticate(cold)
            down = await c.post("/auth/logout", headers=auth(cold))
            assert down.status_code == 503, down.text
            assert int(down.headers["retry-after"]) >= 1
            assert down.json()["error"]["code"] in {"unavailable", "db_unavailable"}
            assert "Traceback" not in down.text and "asyncpg" not in down.text
            await asyncio.to_thread(server.start)
            assert await _status(c, cold) == 200
    finally:
        await asyncio.to_thread(server.stop)


async def test_the_sweeper_forgets_revoked_logins_once_their_tokens_have_expired(
    make_settings: Callable[..., Settings],
) -> None:
    async with (
        running_hub(make_settings(sweep_interval=0)) as (url, app),
        httpx.AsyncClient(base_url=url, timeout=20) as c,
    ):
        hub = app.other_asgi_app.ctx.hub
        guest = (await c.post("/auth/guest", json={"display_name": "g"})).json()
        user_id = guest["user"]["id"]
        now = datetime.now(UTC)
        for sid, until in (
            ("old-1", now - timedelta(seconds=1)),
            ("old-2", now - timedelta(days=1)),
            ("live", now + timedelta(seconds=60)),
        ):
            await hub.identity.refresh_tokens.revoke_family(sid, user_id=user_id, access_expires_at=until)
        assert (await c.post("/auth/logout", headers=auth(guest["access_token"]))).status_code == 204
        assert await hub.identity.purge_expired(batch=1) == 2  # in batches until none is left
        rows = await hub.db.fetch("SELECT session_id FROM revoked_sessions ORDER BY session_id")
        assert sorted(r["session_id"] for r in rows) == sorted(
            ["live", hub.identity.signer.verify(guest["access_token"], "access").sid]
        )
        assert await _status(c, guest["access_token"]) == 401


def test_the_cache_is_bounded_in_time_and_size() -> None:
    clock = [0.0]
    cache = RevocationCache(ttl=5.0, max_entries=3, clock=lambda: clock[0])
    alive = RevocationState(user_exists=True, not_before_ms=0, session_revoked=False)
    for i in range(5):
        cache.put(f"u{i}", f"s{i}", alive, cache.generation)
    assert len(cache) == 6  # three sessions and three users: the two oldest of each were dropped
    assert cache.get("u0", "s0") is None and cache.get("u4", "s4") == alive
    clock[0] = 5.0
    assert cache.get("u4", "s4") is None  # stale: the database is asked again


def test_the_cache_never_stores_an_answer_older_than_a_revocation() -> None:
    cache = RevocationCache(ttl=5.0)
    alive = RevocationState(user_exists=True, not_before_ms=0, session_revoked=False)
    started = cache.generation  # a lookup starts...
    cache.session_revoked("s")  # ...the logout commits and its event arrives...
    cache.put("u", "s", alive, started)  # ...then the lookup's older answer comes back
    state = cache.get("u", "s")
    assert state is None or state.session_revoked
    cache.put("u", "s", alive, cache.generation)
    started = cache.generation
    cache.user_revoked("u")
    cache.put("u", "s", alive, started)
    assert cache.get("u", "s") is None  # the user's new cut-off is read from the database


def test_no_cache_means_the_database_on_every_request() -> None:
    cache = RevocationCache(ttl=0)
    cache.put("u", "s", RevocationState(user_exists=True, not_before_ms=0, session_revoked=False), 0)
    cache.session_revoked("s")
    assert cache.get("u", "s") is None and len(cache) == 0
