"""Media pipeline: job queues (memory and Redis Streams), the embedded worker, and `hub worker`."""

from __future__ import annotations

import asyncio
import io
import os
import secrets
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from PIL import Image
from redis.asyncio import Redis

from hub.config import Settings
from hub.errors import QueueUnavailable
from hub.ports.files import JobQueue
from storage.memory.jobs import MemoryJobQueue
from storage.redis.jobs import RedisJobQueue
from tests.helpers import auth, bus_events, make_space, next_event, register
from tests.support.server import running_hub
from tests.support.waiting import eventually


def image_bytes(width: int, height: int, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 90)).save(buf, fmt)
    return buf.getvalue()


@pytest.fixture(params=["memory", "redis"])
async def queue(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[JobQueue]:
    if request.param == "memory":
        yield MemoryJobQueue(max_attempts=3)
        return
    redis = Redis.from_url(request.getfixturevalue("redis_service").url)
    try:
        yield RedisJobQueue(redis, redis_prefix, max_attempts=3, visibility_timeout=60)
    finally:
        await redis.aclose()


async def test_queue_dedupes_retries_and_dead_letters(queue: JobQueue) -> None:
    assert await queue.enqueue("media:a", "media", {"file_id": "a"})
    assert not await queue.enqueue("media:a", "media", {"file_id": "a"})  # idempotent id
    assert await queue.depth() == 1
    job = await queue.receive("c1", timeout=1)
    assert job is not None and job.payload == {"file_id": "a"} and job.attempts == 0
    assert not await queue.fail(job, "boom")
    job = await queue.receive("c1", timeout=1)
    assert job is not None and job.attempts == 1
    assert not await queue.fail(job, "boom")
    job = await queue.receive("c1", timeout=1)
    assert job is not None and job.attempts == 2
    assert await queue.fail(job, "boom")  # third failure: dead-lettered
    assert await queue.receive("c1", timeout=0.1) is None
    assert [(j.id, j.attempts) for j in await queue.dead_letters()] == [("media:a", 3)]

    assert await queue.enqueue("media:b", "media", {"file_id": "b"})
    job = await queue.receive("c1", timeout=1)
    assert job is not None
    await queue.ack(job)
    assert await queue.depth() == 0


async def test_redis_reclaims_a_lost_consumers_job(redis_service: Any, redis_prefix: str) -> None:
    redis = Redis.from_url(redis_service.url)
    try:
        # Invisible for half a second: long enough that the look right after cannot race the timeout.
        q = RedisJobQueue(redis, redis_prefix, max_attempts=5, visibility_timeout=0.5)
        await q.enqueue("media:x", "media", {"file_id": "x"})
        lost = await q.receive("crashed-worker", timeout=1)
        assert lost is not None  # never acknowledged: that worker died
        assert await q.receive("other", timeout=0.05) is None  # not visible before the timeout
        got = None

        async def reclaimed() -> bool:
            nonlocal got
            got = await q.receive("other", timeout=0.05)
            return got is not None

        await eventually(reclaimed, timeout=5)
        assert got is not None and got.id == "media:x" and got.attempts == 1
        await q.ack(got)
        assert await q.depth() == 0
    finally:
        await redis.aclose()


async def _upload(http: httpx.AsyncClient, token: str, space: str, data: bytes, content_type: str) -> str:
    r = await http.post(
        f"/spaces/{space}/files",
        json={
            "filename": "pic",
            "size": len(data),
            "content_type": content_type,
        },
        headers=auth(token),
    )
    assert r.status_code == 201, r.text
    up = r.json()["upload"]
    sent = await http.post(up["url"], data=up["fields"], files={"file": ("pic", data)})
    assert sent.status_code in (200, 201, 204), sent.text
    done = await http.post(f"/files/{r.json()['file_id']}/complete", headers=auth(token))
    assert done.status_code == 200, done.text
    assert done.json()["processing"] == "queued"
    return str(r.json()["file_id"])


async def test_embedded_worker_makes_variants_and_refuses_bombs(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(sweep_interval=0.2, media_max_pixels=1_000_000)
    async with running_hub(settings) as (url, app), httpx.AsyncClient(base_url=url, timeout=30) as http:
        hub = app.other_asgi_app.ctx.hub
        events = bus_events(hub)
        token = (await register(http))["access_token"]
        space = (await make_space(http, token))["id"]
        fid = await _upload(http, token, space, image_bytes(800, 600), "image/png")
        event = await next_event(events, "file_processed")
        assert event["file"]["id"] == fid and event["space_id"] == space
        meta = (await http.get(f"/files/{fid}", headers=auth(token))).json()
        assert meta["processing"] == "done" and (meta["width"], meta["height"]) == (800, 600)
        assert meta["variants"]["thumb"]["width"] == 256 and meta["variants"]["thumb"]["height"] == 192
        assert "key" not in meta["variants"]["thumb"]
        r = await http.get(f"/files/{fid}/download?variant=thumb&redirect=false", headers=auth(token))
        thumb = await http.get(r.json()["url"])
        with Image.open(io.BytesIO(thumb.content)) as img:
            assert img.format == "WEBP" and img.size == (256, 192)
        assert hub.metrics.job_latency._sum.get() > 0

        # 1200x1200 = 1.44 Mpx, over the 1 Mpx limit: refused from the header, never decoded.
        bomb = await _upload(http, token, space, image_bytes(1200, 1200), "image/png")
        fake = await _upload(http, token, space, b"not an image at all", "image/jpeg")

        async def failed() -> bool:
            states = [(await http.get(f"/files/{f}", headers=auth(token))).json() for f in (bomb, fake)]
            return all(s["processing"] == "failed" and s["variants"] == {} for s in states)

        await eventually(failed, timeout=15)

        # Deleting an image deletes its variants too.
        record = await hub.files.repo.get(fid)
        keys = [record.object_key] + [v["key"] for v in record.variants.values()]
        assert all([await hub.blobs.head(k) is not None for k in keys])
        assert (await http.delete(f"/files/{fid}", headers=auth(token))).status_code == 204

        async def gone() -> bool:
            return all([await hub.blobs.head(k) is None for k in keys])

        await eventually(gone, timeout=15)


class FlakyQueue:
    """A job queue whose next `failures` enqueues fail as they do when Redis is down; the rest pass."""

    def __init__(self, inner: JobQueue, failures: int = 1) -> None:
        self.inner = inner
        self.failures = failures
        self.name = inner.name

    async def enqueue(self, job_id: str, kind: str, payload: dict[str, Any]) -> bool:
        if self.failures > 0:
            self.failures -= 1
            raise QueueUnavailable("The job queue is unavailable.")
        return await self.inner.enqueue(job_id, kind, payload)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_lost_media_job_is_enqueued_again(
    backend: str, make_settings: Callable[..., Settings], request: pytest.FixtureRequest
) -> None:
    scaled: dict[str, Any] = {}
    if backend == "redis":
        scaled = {
            "redis_url": request.getfixturevalue("redis_service").url,
            "redis_prefix": request.getfixturevalue("redis_prefix"),
        }
    # No background sweeper: the test runs the re-enqueue itself, when it wants it.
    settings = make_settings(sweep_interval=0, **scaled)
    async with running_hub(settings) as (url, app), httpx.AsyncClient(base_url=url, timeout=30) as http:
        hub = app.other_asgi_app.ctx.hub
        events = bus_events(hub)
        # The file service enqueues through the flaky queue; workers consume the real one.
        flaky = FlakyQueue(hub.jobs)
        hub.files.jobs = flaky
        token = (await register(http))["access_token"]
        space = (await make_space(http, token))["id"]
        fid = await _upload(http, token, space, image_bytes(400, 300), "image/png")  # completes all the same
        assert flaky.failures == 0 and await hub.jobs.depth() == 0  # the job is lost
        assert await hub.files.requeue_media() == 0  # still within the grace period

        # Several sweepers at once (other hubs, `hub worker`s) enqueue it once: the job id is per file.
        counts = await asyncio.gather(*(hub.files.requeue_media(grace=0) for _ in range(3)))
        assert sorted(counts) == [0, 0, 1]
        stop = asyncio.Event()
        worker = None
        if backend == "redis":
            assert await hub.jobs.depth() == 1
            worker = asyncio.create_task(hub.worker.run("test-worker", stop))  # what `hub worker` runs
        try:
            event = await next_event(events, "file_processed")
            assert event["file"]["id"] == fid
            meta = (await http.get(f"/files/{fid}", headers=auth(token))).json()
            assert meta["processing"] == "done" and meta["variants"]["thumb"]["width"] == 256
            r = await http.get(f"/files/{fid}/download?variant=thumb&redirect=false", headers=auth(token))
            thumb = await http.get(r.json()["url"])
            with Image.open(io.BytesIO(thumb.content)) as img:
                assert img.format == "WEBP" and img.size == (256, 192)
            assert await hub.files.requeue_media(grace=0) == 0  # done: nothing left to enqueue
        finally:
            stop.set()
            if worker is not None:
                await asyncio.wait_for(worker, timeout=10)


async def test_requeue_walks_the_whole_backlog(
    make_settings: Callable[..., Settings], redis_service: Any, redis_prefix: str
) -> None:
    settings = make_settings(sweep_interval=0, redis_url=redis_service.url, redis_prefix=redis_prefix)
    async with running_hub(settings) as (url, app), httpx.AsyncClient(base_url=url, timeout=30) as http:
        hub = app.other_asgi_app.ctx.hub
        token = (await register(http))["access_token"]
        space = (await make_space(http, token))["id"]
        waiting = await _upload(http, token, space, image_bytes(64, 64), "image/png")  # queued, no worker yet
        hub.files.jobs = FlakyQueue(hub.jobs)
        lost = await _upload(http, token, space, image_bytes(64, 64), "image/png")
        hub.files.jobs = hub.jobs
        # One file per scan: the lost job, behind an older one still waiting in the queue, is reached on the
        # second scan; the third finds the end and the fourth starts over.
        assert [await hub.files.requeue_media(grace=0, limit=1) for _ in range(4)] == [0, 1, 0, 0]
        ids = set()
        while (job := await hub.jobs.receive("test", timeout=0.1)) is not None:
            ids.add(job.payload["file_id"])
            await hub.jobs.ack(job)
        assert ids == {lost, waiting}


async def test_hub_worker_process_with_redis_and_s3(
    make_settings: Callable[..., Settings],
    redis_service: Any,
    redis_prefix: str,
    s3_service: Any,
    database_url: str,
) -> None:
    s3 = {
        "s3_endpoint": s3_service.endpoint,
        "s3_bucket": "w" + secrets.token_hex(8),
        "s3_access_key": s3_service.access_key,
        "s3_secret_key": s3_service.secret_key,
    }
    settings = make_settings(redis_url=redis_service.url, redis_prefix=redis_prefix, sweep_interval=0, **s3)
    async with running_hub(settings) as (url, app), httpx.AsyncClient(base_url=url, timeout=30) as http:
        hub = app.other_asgi_app.ctx.hub
        events = bus_events(hub)
        token = (await register(http))["access_token"]
        space = (await make_space(http, token))["id"]
        # Enqueued before any worker runs: the consumer group still delivers it.
        fid = await _upload(http, token, space, image_bytes(640, 480, "JPEG"), "image/jpeg")
        assert await hub.jobs.depth() == 1

        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "S3_"))},
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_service.url,
            "HUB_REDIS_PREFIX": redis_prefix,
            "S3_ENDPOINT": s3["s3_endpoint"],
            "S3_BUCKET": s3["s3_bucket"],
            "S3_ACCESS_KEY": s3["s3_access_key"],
            "S3_SECRET_KEY": s3["s3_secret_key"],
            "HUB_DATA_DIR": settings.data_dir + "-worker",
            "HUB_ENV": "test",
            "HUB_MIGRATE_ON_START": "false",
            "HUB_LOG_LEVEL": "WARNING",
            "HUB_SWEEP_INTERVAL": "0",
        }
        worker = await asyncio.create_subprocess_exec(sys.executable, "-m", "hub.bootstrap.cli", "worker", env=env)
        try:
            # The worker publishes on its own bus; this hub hears it through Redis.
            event = await next_event(events, "file_processed", timeout=60)
            assert event["file"]["id"] == fid
            assert set(event["file"]["variants"]) == {"thumb", "medium"}
            record = await hub.files.repo.get(fid)
            info = await hub.blobs.head(record.variants["medium"]["key"])
            assert info is not None and info.content_type == "image/webp"
            assert await hub.jobs.depth() == 0
        finally:
            worker.terminate()
            assert await asyncio.wait_for(worker.wait(), timeout=20) == 0
