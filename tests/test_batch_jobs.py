"""Batch jobs: `hub batch tokens|notifications|feeds` each fix a drift they are given; one instance at a
time runs a scheduled job (the advisory lock); each run is measured."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.ports.feed import Window
from tests.support.waiting import eventually
from tests.test_notifications import arrives
from tests.test_posts_flow import account, call, publish, sql

ROOT = Path(__file__).resolve().parent.parent


async def batch(job: str, database_url: str, tmp_path: Path) -> tuple[dict[str, Any], str]:
    """Run `hub batch <job>` as a process (not on a terminal): its JSON report and its standard error."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": database_url,
        "HUB_ENV": "test",
        "HUB_MIGRATE_ON_START": "false",
        "HUB_DATA_DIR": str(tmp_path),
        "HUB_LOG_LEVEL": "WARNING",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hub.bootstrap.cli",
        "batch",
        job,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(120):
        out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()[-2000:]
    return json.loads(out.decode().strip().splitlines()[-1]), err.decode()


async def test_tokens_deletes_expired_refresh_tokens_and_keeps_live_ones(
    client: httpx.AsyncClient, database_url: str, tmp_path: Path
) -> None:
    old, live = await account(client), await account(client)
    await sql(
        database_url, "UPDATE refresh_tokens SET expires_at = now() - interval '1 day' WHERE user_id = $1::uuid", old[1]
    )
    report, err = await batch("tokens", database_url, tmp_path)
    assert report["job"] == "tokens" and report["done"]["refresh_tokens"] == 1
    assert "tokens: 1" in err  # not a terminal: plain progress lines, ending with the final figure
    left = await sql(database_url, "SELECT user_id::text AS id FROM refresh_tokens ORDER BY user_id")
    assert [r["id"] for r in left] == [live[1]]
    again, _ = await batch("tokens", database_url, tmp_path)
    assert again["total"] == 0


async def test_notifications_prunes_old_read_ones_only(
    client: httpx.AsyncClient, database_url: str, tmp_path: Path
) -> None:
    ann = await account(client)
    fans = [await account(client) for _ in range(3)]
    for fan in fans:
        await call(client, fan, "POST", f"/users/{ann[1]}/follow", 200)
        await call(client, fan, "POST", f"/posts/{(await publish(client, ann))['id']}/like", 200)
    items = await arrives(client, ann, 4)  # one group of follows, three of likes
    for n in items[:2]:
        await call(client, ann, "POST", f"/notifications/{n['id']}/read", 200)
    await sql(
        database_url,
        "UPDATE notifications SET read_at = now() - interval '100 days' WHERE id = $1::uuid",
        items[0]["id"],
    )
    report, _ = await batch("notifications", database_url, tmp_path)
    assert report["done"] == {"notifications": 1}
    left = await call(client, ann, "GET", "/notifications", 200)
    assert [n["id"] for n in left["items"]] == [n["id"] for n in items[1:]]


async def test_feeds_rebuilds_the_cached_feeds_of_active_accounts(running: Any) -> None:
    client, hub = running.http, running.hub
    ann, bob = await account(client), await account(client)
    await call(client, bob, "POST", f"/users/{ann[1]}/follow", 200)
    post = await publish(client, ann)
    assert [p["id"] for p in (await call(client, bob, "GET", "/feed", 200))["items"]] == [post["id"]]
    await hub.feed_cache.forget(bob[1])  # the drift: a cache lost (an eviction, a Redis restart)
    assert await hub.feed_cache.read(bob[1], Window(10)) is None
    result = await hub.batch.run("feeds")
    assert result["feeds"] >= 2  # both accounts logged in just now
    cached = await hub.feed_cache.read(bob[1], Window(10))
    assert cached is not None and [e.post_id for e in cached.entries] == [post["id"]]
    assert hub.metrics.batch_job_seconds.labels(job="feeds")._sum.get() > 0
    assert hub.metrics.batch_job_items.labels(job="feeds")._value.get() == result["feeds"]


async def test_one_instance_at_a_time_runs_a_scheduled_job(running: Any) -> None:
    hub = running.hub
    async with hub.batch._lock.hold("batch:tokens") as held:
        assert held
        # Another instance (another connection) finds the job taken and skips it.
        assert await hub.batch.run_exclusive("tokens") is None
        async with hub.batch._lock.hold("batch:counters") as other:
            assert other  # one lock per job
    assert await hub.batch.run_exclusive("tokens") == {"refresh_tokens": 0, "revoked_sessions": 0}


@pytest.mark.settings(batch_interval=1, sweep_interval=1)
async def test_the_maintenance_schedule_runs_every_job(running: Any) -> None:
    hub = running.hub
    for job in ("counters", "tokens", "notifications", "feeds"):
        child = hub.metrics.batch_job_seconds.labels(job=job)
        await eventually(lambda c=child: c._sum.get() > 0, message=f"{job} ran", timeout=20)
