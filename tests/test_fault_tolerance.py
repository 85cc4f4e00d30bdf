"""Dependency outages: Redis and PostgreSQL restarted under two live hubs.

Each test starts its own Redis (and PostgreSQL where it restarts it) on a fixed free port so it can stop
and start them where the hubs reconnect; the session's shared servers are never touched. Clients draw
the way the web client does: every stroke is retried with the same id until it is acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from limits.aio.storage import RedisStorage
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bench.procs import socket_inodes, socket_table
from hub.config import Settings, load_settings
from hub.errors import BusNotReady
from storage.errors import as_unavailable
from storage.postgres.migrate import migrate
from storage.postgres.server import PostgresServer, ensure_database, free_port
from storage.ratelimit import LimitsRateLimiter
from storage.redis.bus import RedisBus
from storage.redis.pool import connect as connect_redis
from storage.redis.pool import sweep_all
from tests.support.realtime import Sock, User, connect, guest, space, stroke
from tests.support.server import running_hub
from tests.support.services import redis_argv
from tests.support.waiting import eventually


class PrivateRedis:
    """A redis-server of this test alone, on a fixed port so it can be stopped and started again."""

    def __init__(self, base: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.base = base
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        self.proc = await asyncio.create_subprocess_exec(
            *redis_argv(self.port, self.base),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await eventually(self._answers, timeout=10, message="redis-server to answer")

    async def _answers(self) -> bool:
        assert self.proc is not None and self.proc.returncode is None, "redis-server exited"
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await asyncio.wait_for(self.proc.wait(), 10)
        self.proc = None


class CountingHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def count(self, level: int) -> int:
        return sum(1 for r in self.records if r.levelno == level)


@contextlib.contextmanager
def captured(name: str) -> Iterator[CountingHandler]:
    """Records of one logger (the hub replaces the root handlers, so caplog would miss them)."""
    logger = logging.getLogger(name)
    handler, level = CountingHandler(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[PrivateRedis]:
    redis = PrivateRedis(tmp_path / "redis")
    await redis.start()
    yield redis
    await redis.stop()


def assert_unavailable(r: httpx.Response, codes: tuple[str, ...] = ("unavailable",)) -> None:
    """A dependency outage as the API promises it: 503 with a stable code, Retry-After, a request id."""
    assert r.status_code == 503, (r.status_code, r.text)
    error = r.json()["error"]
    assert error["code"] in codes and error["request_id"] == r.headers["x-request-id"], r.text
    assert int(r.headers["retry-after"]) >= 1
    assert "Traceback" not in r.text and "Error" not in r.text


# -- rate limiting ------------------------------------------------------------------------------------


async def test_rate_limiter_counts_locally_while_redis_is_down(private_redis: PrivateRedis) -> None:
    limiter = LimitsRateLimiter.redis(private_redis.url, "rl-test")
    with captured("storage.ratelimit") as logs:
        try:
            assert await limiter.hit("3/minute", "ip", "a") == 0
            await private_redis.stop()
            # Never an exception: a local moving window takes over and still refuses a flood.
            assert [await limiter.hit("3/minute", "ip", "b") for _ in range(3)] == [0, 0, 0]
            assert await limiter.hit("3/minute", "ip", "b") > 0
            await private_redis.start()

            async def back() -> bool:
                await limiter.hit("1000/minute", "ip", "probe")
                return logs.count(logging.INFO) > 0

            await eventually(back, timeout=5, message="the limiter to probe Redis again", interval=0.1)
            # Counting in Redis again: what the local window counted is not carried over.
            assert [await limiter.hit("3/minute", "ip", "b") for _ in range(3)] == [0, 0, 0]
            assert await limiter.hit("3/minute", "ip", "b") > 0
        finally:
            await limiter.close()
    # One line per transition, not one per request.
    assert logs.count(logging.WARNING) == 1 and logs.count(logging.INFO) == 1, [r.msg for r in logs.records]


async def test_rate_limiter_holds_at_most_its_pool_of_redis_connections_under_a_burst(
    private_redis: PrivateRedis,
) -> None:
    limiter = LimitsRateLimiter.redis(private_redis.url, "rl-burst", max_connections=4)
    observer = Redis.from_url(private_redis.url)
    try:
        # 200 requests at once, each its own key: the unbounded default opened 100 connections here.
        waits = await asyncio.gather(*(limiter.hit("1000/minute", "ip", f"k{i}") for i in range(200)))
        assert waits == [0] * 200 and not limiter.degraded
        clients = [c for c in await observer.client_list() if c.get("name") == "rl-burst:ratelimit"]
        assert 1 <= len(clients) <= 4, len(clients)
    finally:
        await limiter.close()
        await observer.aclose()


def _dead_sockets() -> int:
    """This process's TCP connections that the peer has ended but whose fd is still open: in CLOSE_WAIT,
    or in none of the kernel's socket tables any more (reset, after a write to a closed peer)."""
    sockets = socket_table()
    entries = [sockets.get(inode) for inode in socket_inodes()]
    return sum(e is None or (e.kind == "tcp" and e.state == "08") for e in entries)


async def test_after_a_redis_restart_the_pools_keep_no_dead_sockets(private_redis: PrivateRedis) -> None:
    """Idle pooled connections die with the server; redis-py notices only when one is taken out again,
    and its pool hands out the most recent first, so the others kept their dead sockets open for good
    (16-20 per hub after `python -m bench.soak --faults redis`: the rate limiter's pool, which no request
    used after the restart). The hub sweeps every pool on a timer (`sweep_all`)."""
    settings = load_settings(environ={}, redis_url=private_redis.url, redis_prefix="dead-sockets")
    redis = connect_redis(settings)
    bus = RedisBus(redis, "dead-sockets", canary_interval=0.2)
    limiter = LimitsRateLimiter.redis(private_redis.url, "dead-sockets", max_connections=6)
    await bus.start()
    try:
        before = _dead_sockets()
        # Several connections in each pool, idle afterwards.
        await asyncio.gather(*(redis.ping() for _ in range(8)))
        await asyncio.gather(*(limiter.hit("1000/minute", "ip", f"k{i}") for i in range(12)))
        await private_redis.stop()
        await private_redis.start()

        async def bus_back() -> bool:
            try:
                await bus.check()
            except BusNotReady:
                return False
            return True

        await eventually(bus_back, timeout=15, interval=0.1, message="the bus back on Redis")
        # Traffic on the shared pool only; the limiter's pool sees none.
        await eventually(redis.ping, timeout=5, interval=0.2, ignore=(RedisError,), message="Redis answering")
        assert _dead_sockets() > before  # the limiter's idle connections, dead

        async def swept() -> bool:
            await sweep_all()  # what the hub's timer does
            return _dead_sockets() <= before

        await eventually(swept, timeout=10, interval=0.3, message="dead sockets left in the pools")
        assert await limiter.hit("1000/minute", "ip", "after") == 0 and not limiter.degraded
    finally:
        await limiter.close()
        await bus.close()
        await redis.aclose()


async def test_driver_error_outside_a_repository_is_503(make_settings: Callable[..., Settings]) -> None:
    """The last resort: a driver exception nothing translated (here the limiter without its fallback)."""
    dead = f"redis://127.0.0.1:{free_port()}/0"
    raw = LimitsRateLimiter(RedisStorage("async+" + dead, implementation="redispy", key_prefix="x"))
    async with running_hub(make_settings()) as (url, app), httpx.AsyncClient(base_url=url, timeout=20) as c:
        app.other_asgi_app.ctx.hub.rate_limiter = raw
        r = await c.get("/auth/me")
        assert_unavailable(r)
        assert (await c.get("/healthz")).status_code == 200  # unlimited paths never touch it


async def test_only_unreachable_dependencies_count_as_unavailable() -> None:
    dead = free_port()
    with pytest.raises(OSError) as refused:
        await asyncio.open_connection("127.0.0.1", dead)
    with pytest.raises(Exception) as pg:
        await asyncpg.connect(f"postgresql://u:p@127.0.0.1:{dead}/db", timeout=5)
    redis = Redis.from_url(f"redis://127.0.0.1:{dead}/0", retry=None)
    with pytest.raises(Exception) as rd:
        await redis.ping()
    await redis.aclose()
    for caught in (refused.value, pg.value, rd.value):
        mapped = as_unavailable(caught)
        assert mapped is not None and mapped.status == 503 and mapped.code == "unavailable", caught
    wrapped = RuntimeError("while talking to a store")
    wrapped.__cause__ = rd.value
    assert as_unavailable(wrapped) is not None
    # A missing file or a plain bug stays an internal error (a 500 someone has to look at).
    assert as_unavailable(FileNotFoundError(2, "No such file")) is None
    assert as_unavailable(KeyError("x")) is None


# -- REST and joins during a Redis outage ---------------------------------------------------------------


@pytest.fixture
async def hubs_on_private_redis(
    make_settings: Callable[..., Settings], private_redis: PrivateRedis
) -> AsyncIterator[tuple[str, str, httpx.AsyncClient]]:
    settings = make_settings(redis_url=private_redis.url, redis_prefix="ft", presence_ttl=2)
    async with contextlib.AsyncExitStack() as stack:
        url_a, _ = await stack.enter_async_context(running_hub(settings))
        url_b, _ = await stack.enter_async_context(running_hub(settings))
        c = await stack.enter_async_context(httpx.AsyncClient(base_url=url_a, timeout=20))
        yield url_a, url_b, c


async def ready(client: httpx.AsyncClient, url: str) -> bool:
    try:
        return (await client.get(f"{url}/readyz")).status_code == 200
    except httpx.TransportError:
        return False


async def test_rest_answers_503_not_500_while_redis_is_down(
    hubs_on_private_redis: Any, private_redis: PrivateRedis
) -> None:
    url_a, url_b, c = hubs_on_private_redis
    alice = await guest(c, "Alice")
    me = {"Authorization": f"Bearer {alice.token}"}
    assert (await c.get("/auth/me", headers=me)).status_code == 200
    with captured("storage.ratelimit") as logs:
        await private_redis.stop()
        # Token checks read revocations from PostgreSQL (cached in process), and the rate limiter counts
        # locally: what needs only PostgreSQL keeps answering, never a 500.
        answers = await asyncio.gather(*(c.get("/auth/me", headers=me) for _ in range(5)))
        assert [r.status_code for r in answers] == [200] * 5, [r.text for r in answers]
        # What needs only PostgreSQL keeps working.
        assert (await c.post("/auth/guest", json={"display_name": "During"})).status_code == 201
        readiness = await c.get("/readyz")
        assert readiness.status_code == 503 and readiness.json()["checks"]["redis"] != "ok", readiness.text
        assert readiness.headers["retry-after"]

        await private_redis.start()

        async def me_ok() -> bool:
            r = await c.get("/auth/me", headers=me)
            assert r.status_code in (200, 503), r.text
            return r.status_code == 200

        await eventually(me_ok, timeout=10, message="/auth/me after Redis came back")
        for url in (url_a, url_b):
            await eventually(lambda url=url: ready(c, url), timeout=15, message=f"{url}/readyz")

        # The limiter probes Redis again within a second of traffic and goes back to the shared counts.
        async def recovered() -> bool:
            return await me_ok() and logs.count(logging.INFO) > 0

        await eventually(recovered, timeout=5, message="the limiter's recovery")
    assert logs.count(logging.WARNING) == 1 and logs.count(logging.INFO) == 1, [r.msg for r in logs.records]


async def test_join_during_redis_outage_is_served_from_postgres(
    hubs_on_private_redis: Any, private_redis: PrivateRedis
) -> None:
    url_a, url_b, c = hubs_on_private_redis
    alice, bob, carol = await guest(c, "Alice"), await guest(c, "Bob"), await guest(c, "Carol")
    sid = await space(c, alice, bob, carol)
    a, b = await connect(url_a, alice), await connect(url_b, bob)
    late = await connect(url_a, carol)  # connected before the outage, joins during it
    socks = [a, b, late]
    try:
        assert (await b.call("join", {"space_id": sid}))["ok"]
        joined = await a.call("join", {"space_id": sid})
        drawn = [stroke(sid) for _ in range(2)]
        acks = [await a.call("stroke", s) for s in drawn]
        assert all(ack["ok"] for ack in acks), acks

        await private_redis.stop()
        ack = await late.call("join", {"space_id": sid}, timeout=15)
        assert ack["ok"], ack
        assert ack["recovered"] is False and ack["degraded"] == ["presence"]
        assert [s["id"] for s in ack["snapshot"]["strokes"]] == [s["id"] for s in drawn]
        # Presence as this instance knows it; nothing from the unreachable shared store.
        assert {u["user_id"] for u in ack["presence"]} == {alice.user_id, carol.user_id}

        # The replay buffer is in Redis; a resume is answered from PostgreSQL's history instead.
        resumed = await b.call(
            "join", {"space_id": sid, "since": {"seq": joined["seq"], "epoch": joined["epoch"]}}, timeout=15
        )
        assert resumed["ok"] and resumed["recovered"] is True, resumed
        assert [e["id"] for e in resumed["events"]] == [s["id"] for s in drawn]
        assert [e["seq"] for e in resumed["events"]] == [x["seq"] for x in acks]

        await private_redis.start()
        # Carol's join is announced once presence is back, on the other instance too.
        await b.wait_for(
            "presence", lambda e: e["user"]["user_id"] == carol.user_id and e["action"] == "join", timeout=15
        )
        fresh = await connect(url_b, alice)
        socks.append(fresh)

        async def converged() -> bool:
            ack = await fresh.call("join", {"space_id": sid})
            return "degraded" not in ack and {u["user_id"] for u in ack["presence"]} == {
                alice.user_id,
                bob.user_id,
                carol.user_id,
            }

        await eventually(converged, timeout=6, message="presence to converge", interval=0.2)
    finally:
        for sock in socks:
            await sock.close()


# -- drawing through a dependency restart ---------------------------------------------------------------


@dataclass
class Drawer:
    """A client that draws until told to stop, each stroke retried with the same id until acknowledged."""

    sock: Sock
    user: User
    space_id: str
    acked: list[tuple[str, int]] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def draw(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.stop.is_set():
            body = stroke(self.space_id)
            while True:
                assert loop.time() < deadline, f"stroke not acknowledged in {timeout}s: {self.refusals[-3:]}"
                try:
                    ack = await self.sock.call("stroke", body, timeout=10)
                except TimeoutError:
                    continue  # a lost ack: the retry with the same id answers it
                if ack["ok"]:
                    self.acked.append((body["id"], ack["seq"]))
                    break
                code = ack["error"]["code"]
                assert code in ("unavailable", "db_unavailable", "db_timeout", "db_busy", "rate_limited"), ack
                self.refusals.append(code)
                # A client's retry pace, not synchronisation.
                await asyncio.sleep(ack["error"].get("details", {}).get("retry_after", 0.1))


@dataclass
class Cluster:
    url_a: str
    url_b: str
    http: httpx.AsyncClient
    stop: Callable[[], Awaitable[None]]
    start: Callable[[], Awaitable[None]]
    kind: str  # the dependency that is restarted


@contextlib.asynccontextmanager
async def private_postgres(base: Path) -> AsyncIterator[PostgresServer]:
    """A migrated PostgreSQL of this test alone (the session's serves every other test)."""
    base.chmod(0o755)
    server = PostgresServer(base / "pg", durable=False)
    admin = await asyncio.to_thread(server.start)
    try:
        await ensure_database(admin, "hub")
        await migrate(server.dsn("hub"))
        yield server
    finally:
        await asyncio.to_thread(server.stop)


@pytest.fixture(params=["redis", "postgres"])
async def cluster(
    request: pytest.FixtureRequest,
    make_settings: Callable[..., Settings],
    private_redis: PrivateRedis,
    tmp_path: Path,
) -> AsyncIterator[Cluster]:
    stack = contextlib.AsyncExitStack()
    if request.param == "redis":
        settings = make_settings(
            redis_url=private_redis.url, redis_prefix="ft", presence_ttl=2, stroke_rate=1000, stroke_burst=1000
        )
        stop, start = private_redis.stop, private_redis.start
    else:
        pg = await stack.enter_async_context(private_postgres(tmp_path))
        settings = make_settings(
            database_url=pg.dsn("hub"),
            redis_url=private_redis.url,
            redis_prefix="ft",
            presence_ttl=2,
            db_command_timeout=2.0,
            stroke_rate=1000,
            stroke_burst=1000,
        )

        async def stop() -> None:
            await asyncio.to_thread(pg.stop)

        async def start() -> None:
            await asyncio.to_thread(pg.start)

    async with stack:
        url_a, _ = await stack.enter_async_context(running_hub(settings))
        url_b, _ = await stack.enter_async_context(running_hub(settings))
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=20))
        yield Cluster(url_a, url_b, http, stop, start, request.param)


async def test_dependency_restart_loses_no_acknowledged_stroke(cluster: Cluster) -> None:
    c = cluster
    http = httpx.AsyncClient(base_url=c.url_a, timeout=20)
    async with http:
        alice, bob = await guest(http, "Alice"), await guest(http, "Bob")
        sid = await space(http, alice, bob)
    a, b = await connect(c.url_a, alice), await connect(c.url_b, bob)
    drawing: list[asyncio.Task[None]] = []
    try:
        for sock in (a, b):
            assert (await sock.call("join", {"space_id": sid}))["ok"]
        drawers = [Drawer(a, alice, sid), Drawer(b, bob, sid)]
        drawing = [asyncio.create_task(d.draw(timeout=45)) for d in drawers]
        await eventually(lambda: _drew(drawers, 5), timeout=10, message="strokes before the outage")

        await c.stop()
        statuses: list[int] = []

        async def refused() -> bool:
            r = await c.http.get(f"{c.url_b}/spaces", headers={"Authorization": f"Bearer {bob.token}"})
            statuses.append(r.status_code)
            if r.status_code == 200:
                return False
            assert_unavailable(r, ("unavailable", "db_unavailable"))
            return True

        if c.kind == "postgres":
            await eventually(refused, timeout=15, message="REST to report the outage")
        else:
            # Listing spaces needs only PostgreSQL: it keeps answering while Redis is down.
            for _ in range(5):
                r = await c.http.get(f"{c.url_b}/spaces", headers={"Authorization": f"Bearer {bob.token}"})
                assert r.status_code == 200, r.text
        during = [len(d.acked) for d in drawers]
        await c.start()
        for url in (c.url_a, c.url_b):
            await eventually(lambda url=url: ready(c.http, url), timeout=15, message=f"{url}/readyz")

        async def answering() -> bool:
            r = await c.http.get(f"{c.url_b}/spaces", headers={"Authorization": f"Bearer {bob.token}"})
            statuses.append(r.status_code)
            return r.status_code == 200

        await eventually(answering, timeout=5, message="REST to answer again")
        assert 500 not in statuses
        # Drawing goes on after the restart on both instances.
        await eventually(lambda: _drew(drawers, max(during) + 5), timeout=15, message="strokes after the restart")
        for d in drawers:
            d.stop.set()
        await asyncio.wait_for(asyncio.gather(*drawing), timeout=15)

        # Presence converged within the lease: both users, seen from either instance.
        late = await connect(c.url_b, alice)

        async def converged() -> bool:
            ack = await late.call("join", {"space_id": sid}, timeout=10)
            return "degraded" not in ack and {u["user_id"] for u in ack["presence"]} == {alice.user_id, bob.user_id}

        await eventually(converged, timeout=3 * 2, message="presence to converge", interval=0.2)
        await late.close()

        acked = sorted((seq, sid_) for d in drawers for sid_, seq in d.acked)
        assert len({i for _, i in acked}) == len(acked)  # every stroke acknowledged once
        # Zero acknowledged strokes lost or duplicated, one order: every client's board is the same.
        for sock in (a, b, await connect(c.url_a, bob), await connect(c.url_b, alice)):
            snap = await sock.call("join", {"space_id": sid}, timeout=10)
            assert [(s["seq"], s["id"]) for s in snap["snapshot"]["strokes"]] == acked
            # What arrived live is in that order, each stroke at most once.
            live = [(e["seq"], e["id"]) for e in sock.events["stroke"]]
            assert live == sorted(set(live)) and set(live) <= set(acked)
            if sock not in (a, b):
                await sock.close()
    finally:
        for task in drawing:
            task.cancel()
        await asyncio.gather(*drawing, return_exceptions=True)
        await a.close()
        await b.close()


async def _drew(drawers: list[Drawer], n: int) -> bool:
    return all(len(d.acked) >= n for d in drawers)
