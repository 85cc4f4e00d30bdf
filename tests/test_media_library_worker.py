"""Media library jobs on the shared Redis queue: a lost enqueue is made good by the sweeper, and a
worker (what `hub worker` runs) renders the image; a file that is no image fails for good."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from hub.config import Settings
from tests.helpers import auth, register
from tests.support.server import running_hub
from tests.test_files_flow import eventually
from tests.test_files_media import FlakyQueue
from tests.test_media_library_flow import png


async def _upload(http: httpx.AsyncClient, token: str, data: bytes) -> str:
    r = await http.post(
        "/media/upload", json={"filename": "p.png", "size": len(data), "content_type": "image/png"}, headers=auth(token)
    )
    assert r.status_code == 201, r.text
    up = r.json()["upload"]
    assert (await http.post(up["url"], data=up["fields"], files={"file": ("p", data)})).status_code in (200, 201, 204)
    done = await http.post(f"/media/upload/{r.json()['media_id']}/complete", headers=auth(token))
    assert done.status_code == 200 and done.json()["processing"] == "queued", done.text
    return str(r.json()["media_id"])


async def test_lost_library_job_is_requeued_and_rendered(
    make_settings: Callable[..., Settings], redis_service: Any, redis_prefix: str
) -> None:
    settings = make_settings(sweep_interval=0, redis_url=redis_service.url, redis_prefix=redis_prefix)
    async with running_hub(settings) as (url, app), httpx.AsyncClient(base_url=url, timeout=30) as http:
        hub = app.other_asgi_app.ctx.hub
        lib = hub.media_library
        token = (await register(http))["access_token"]
        lib.jobs = FlakyQueue(hub.jobs)
        lost = await _upload(http, token, png(500, 250))  # completes though its job was not enqueued
        lib.jobs = hub.jobs
        fake = await _upload(http, token, b"\x89PNG but not really an image")
        assert await hub.jobs.depth() == 1
        assert await lib.requeue() == 0  # within the grace period
        counts = await asyncio.gather(*(lib.requeue(grace=0) for _ in range(3)))
        assert sorted(counts) == [0, 0, 1]  # one job per media row, however many sweepers
        assert await hub.jobs.depth() == 2

        stop = asyncio.Event()
        worker = asyncio.create_task(hub.worker.run("test-worker", stop))
        try:

            async def finished() -> bool:
                states = [(await lib.repo.get(m)).processing for m in (lost, fake)]
                return states == ["done", "failed"]

            await eventually(finished, timeout=30)
        finally:
            stop.set()
            await asyncio.wait_for(worker, timeout=10)
        media = (await http.get(f"/media/{lost}", headers=auth(token))).json()
        assert media["variants"]["thumb"]["width"] == 256 and media["variants"]["thumb"]["height"] == 128
        assert (await http.get(f"/media/{fake}", headers=auth(token))).json()["variants"] == {}
        assert await hub.jobs.depth() == 0 and await lib.requeue(grace=0) == 0
        # A failed image is no usable avatar, and others never see it.
        me = (await http.get("/auth/me", headers=auth(token))).json()["id"]
        r = await http.patch(f"/users/{me}", json={"avatar": fake}, headers=auth(token))
        assert r.status_code == 422
        assert set(await lib.views([lost, fake])) == {lost}
