"""/metrics as operators use it: every series the dashboard and the alerts query exists on a hub that
served real traffic (REST, a whiteboard stroke, a file upload), the bearer token, the separate listener,
the sampled gauges, and the start-up warning about a locally generated signing key."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import re
import secrets
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from hub.bootstrap.app import build_hub
from hub.config import Settings
from storage.postgres.server import free_port
from tests.helpers import auth, make_space, register
from tests.support import services
from tests.support.realtime import connect, guest, space, stroke
from tests.support.server import running_hub
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parent.parent
MONITORING = ROOT / "deploy" / "monitoring"
# Series Prometheus makes itself, not the hub.
SYNTHETIC = {"up"}
METRIC_NAME = re.compile(r"\b((?:hub_[a-z0-9_]+)|up)\b")


def queried_metrics() -> set[str]:
    """Every series name used by a dashboard panel or an alert rule."""
    exprs: list[str] = []
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    for panel in dashboard["panels"]:
        exprs += [t["expr"] for t in panel["targets"]]
    rules = yaml.safe_load((MONITORING / "alerts.yml").read_text())
    exprs += [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    names = {m for expr in exprs for m in METRIC_NAME.findall(expr)}
    assert len(names) > 15, names
    return names


def exported(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def s3_settings(s3: services.S3Handle) -> dict[str, Any]:
    return {
        "s3_endpoint": s3.endpoint,
        "s3_bucket": "m" + secrets.token_hex(8),
        "s3_access_key": s3.access_key,
        "s3_secret_key": s3.secret_key,
        "s3_path_style": True,
        "s3_region": s3.region,
    }


async def test_every_dashboard_and_alert_series_exists_after_real_traffic(
    make_settings: Callable[..., Settings],
    redis_service: services.RedisHandle,
    redis_prefix: str,
    s3_service: services.S3Handle,
) -> None:
    settings = make_settings(redis_url=redis_service.url, redis_prefix=redis_prefix, **s3_settings(s3_service))
    async with running_hub(settings) as (url, _app), httpx.AsyncClient(base_url=url, timeout=30) as http:
        token = (await register(http))["access_token"]
        space_id = (await make_space(http, token))["id"]
        assert (await http.get(f"/spaces/{space_id}/bins", headers=auth(token))).status_code == 200
        assert (await http.get("/spaces/00000000-0000-0000-0000-000000000000", headers=auth(token))).status_code == 404

        data = b"hello, metrics"
        created = await http.post(
            f"/spaces/{space_id}/files",
            headers=auth(token),
            json={
                "filename": "notes.txt",
                "size": len(data),
                "content_type": "text/plain",
            },
        )
        assert created.status_code == 201, created.text
        upload = created.json()["upload"]
        sent = await http.post(upload["url"], data=upload["fields"], files={"file": ("blob", data)})
        assert sent.status_code in (200, 201, 204), sent.text
        done = await http.post(f"/files/{created.json()['file_id']}/complete", headers=auth(token))
        assert done.status_code == 200, done.text

        drawer = await guest(http)
        board = await space(http, drawer)
        sock = await connect(url, drawer)
        try:
            assert (await sock.call("join", {"space_id": board}))["ok"]
            assert (await sock.call("stroke", stroke(board)))["ok"]
        finally:
            await sock.close()

        text = (await http.get("/metrics")).text

    samples = exported(text)
    names = set(samples)
    missing = sorted(n for n in queried_metrics() - SYNTHETIC if n not in names)
    assert missing == [], f"queried by deploy/monitoring but not exported: {missing}"
    assert not [n for n in names if n.endswith("_created")]

    def value(name: str, **labels: str) -> float:
        return next(v for lbl, v in samples[name] if all(lbl.get(k) == x for k, x in labels.items()))

    assert value("hub_ready") == 1
    assert value("hub_readiness_check", check="redis-bus") == 1
    assert value("hub_redis_bus_connected") == 1
    assert value("hub_db_pool_max") == settings.db_pool_max
    assert value("hub_stroke_ack_seconds_count") >= 1
    assert value("hub_errors_total", code="space_not_found") >= 1
    assert value("hub_uploads_created_total") == 1


async def test_embedded_bus_exports_no_redis_gauge(hub_url: str) -> None:
    async with httpx.AsyncClient(base_url=hub_url, timeout=10) as http:
        names = set(exported((await http.get("/metrics")).text))
    # Absent, not 0: the alert on `hub_redis_bus_connected == 0` must not fire without Redis.
    assert "hub_redis_bus_connected" not in names
    assert "hub_ready" in names and "hub_jobs_dead_letters" in names


async def test_metrics_token(make_settings: Callable[..., Settings]) -> None:
    metrics_token = secrets.token_urlsafe(24)
    async with (
        running_hub(make_settings(metrics_token=metrics_token)) as (url, _app),
        httpx.AsyncClient(base_url=url, timeout=10) as http,
    ):
        for headers in (
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": f"Basic {metrics_token}"},
            {"Authorization": f"Bearer {metrics_token}x"},
        ):
            r = await http.get("/metrics", headers=headers)
            assert r.status_code == 401, (headers, r.text)
            assert r.headers["www-authenticate"] == "Bearer"
            error = r.json()["error"]
            assert error["code"] == "metrics_token_invalid"
            assert error["request_id"] == r.headers["x-request-id"]
            assert "hub_" not in r.text
        ok = await http.get("/metrics", headers={"Authorization": f"Bearer {metrics_token}"})
        assert ok.status_code == 200
        assert "hub_http_request_duration_seconds_bucket" in ok.text
        # The probes stay open: orchestrators call them without credentials.
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/readyz")).status_code == 200


async def test_separate_metrics_listener(make_settings: Callable[..., Settings]) -> None:
    port = free_port()
    settings = make_settings(metrics_listen=f"127.0.0.1:{port}")
    async with running_hub(settings) as (url, _app), httpx.AsyncClient(base_url=url, timeout=10) as http:
        main = await http.get("/metrics")
        unknown = await http.get("/no-such-path")
        assert main.status_code == unknown.status_code == 404

        def scrub(r: httpx.Response) -> dict[str, Any]:
            body: dict[str, Any] = r.json()
            body["error"].pop("request_id")
            return body

        assert scrub(main) == scrub(unknown)
        private = await http.get(f"http://127.0.0.1:{port}/metrics")
        assert private.status_code == 200
        assert "hub_http_request_duration_seconds_bucket" in private.text
        assert "hub_ready 1.0" in private.text
    # Closing the hub closes its listener.
    async with httpx.AsyncClient(timeout=5) as http:
        with pytest.raises(httpx.ConnectError):  # the metrics listener does not outlive the hub
            await http.get(f"http://127.0.0.1:{port}/metrics")


async def test_sampled_gauges_follow_a_failing_check(make_settings: Callable[..., Settings]) -> None:
    hub = await build_hub(make_settings(sweep_interval=0))
    try:

        class Broken:
            name = "broken"

            async def check(self) -> None:
                raise OSError("down")

        registry = hub.metrics.registry
        await hub.sample_metrics()
        assert registry.get_sample_value("hub_ready") == 1
        hub.health_checks.append(Broken())
        await hub.sample_metrics()
        assert registry.get_sample_value("hub_ready") == 0
        assert registry.get_sample_value("hub_readiness_check", {"check": "broken"}) == 0
        assert registry.get_sample_value("hub_readiness_check", {"check": "postgres"}) == 1
        assert registry.get_sample_value("hub_jobs_dead_letters", {"kind": "media"}) == 0
        size = registry.get_sample_value("hub_db_pool_size")
        assert size is not None and size >= 1
    finally:
        await hub.close()


def seed() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


async def test_warning_when_an_external_database_meets_a_generated_key(
    make_settings: Callable[..., Settings], caplog: Any
) -> None:
    def warnings() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.levelno == logging.WARNING and "HUB_SIGNING_KEY" in r.getMessage()]

    caplog.set_level(logging.WARNING, logger="hub.bootstrap.app")
    hub = await build_hub(make_settings(sweep_interval=0, signing_key=""))
    await hub.close()
    assert len(warnings()) == 1
    assert warnings()[0].__dict__["fields"]["event"] == "signing_key_generated_locally"

    caplog.clear()
    hub = await build_hub(make_settings(sweep_interval=0, signing_key=seed()))
    await hub.close()
    assert warnings() == []


def test_one_metrics_address_cannot_serve_several_worker_processes(monkeypatch: Any, capsys: Any) -> None:
    from hub.bootstrap.cli import main

    for name, value in {
        "DATABASE_URL": "postgresql://h/db",
        "REDIS_URL": "redis://r",
        "HUB_METRICS_LISTEN": "127.0.0.1:9100",
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["serve", "--workers", "2"]) == 2
    assert "HUB_METRICS_LISTEN" in capsys.readouterr().err


async def test_dead_letter_count_on_both_queues(redis_service: services.RedisHandle, redis_prefix: str) -> None:
    """The gauge behind the dead-letter alert reads `dead_letter_count`, which both queues must answer."""
    from redis.asyncio import Redis

    from storage.memory.jobs import MemoryJobQueue
    from storage.redis.jobs import RedisJobQueue

    redis = Redis.from_url(redis_service.url)
    try:
        for queue in (
            MemoryJobQueue(max_attempts=1),
            RedisJobQueue(redis, redis_prefix, max_attempts=1, visibility_timeout=60),
        ):
            assert await queue.dead_letter_count() == 0
            for n in range(2):
                assert await queue.enqueue(f"media:{n}", "media", {"file_id": str(n)})
                job = await queue.receive("c1", timeout=1)
                assert job is not None and await queue.fail(job, "boom")
            assert await queue.dead_letter_count() == 2 == len(await queue.dead_letters())
    finally:
        await redis.aclose()


async def test_queue_depth_and_dead_letters_by_kind_on_both_queues(
    redis_service: services.RedisHandle, redis_prefix: str
) -> None:
    """The per-kind gauges read `depths` and `dead_letter_counts`: a job counts from its enqueue until it
    is settled (acked or dead-lettered; a retry stays counted), under its own kind. On Redis, a job
    settled twice (a slow consumer finishing after another reclaimed it) counts once and is not retried.
    """
    from redis.asyncio import Redis

    from hub.metrics import Metrics
    from storage.memory.jobs import MemoryJobQueue
    from storage.redis.jobs import RedisJobQueue

    redis = Redis.from_url(redis_service.url)
    try:
        for queue in (
            MemoryJobQueue(max_attempts=2),
            RedisJobQueue(redis, redis_prefix, max_attempts=2, visibility_timeout=60),
        ):
            assert await queue.depths() == {} and await queue.dead_letter_counts() == {}
            for job_id, kind in (("m:1", "media"), ("n:1", "notify"), ("n:2", "notify"), ("n:3", "notify")):
                assert await queue.enqueue(job_id, kind, {})
            assert not await queue.enqueue("n:1", "notify", {})  # a duplicate counts nothing
            assert await queue.depths() == {"media": 1, "notify": 3}
            settled = []
            for _ in range(4):
                job = await queue.receive("c1", timeout=1)
                assert job is not None
                settled.append(job)
                if job.id == "n:1":
                    assert not await queue.fail(job, "boom")  # retried: still waiting
                else:
                    await queue.ack(job)
            assert await queue.depths() == {"notify": 1} and await queue.depth() == 1
            retried = await queue.receive("c1", timeout=1)
            assert retried is not None and (retried.id, retried.attempts) == ("n:1", 1)
            assert await queue.fail(retried, "boom")  # second failure: dead-lettered
            assert await queue.depths() == {} and await queue.depth() == 0
            assert await queue.dead_letter_counts() == {"notify": 1} and await queue.dead_letter_count() == 1
            if isinstance(queue, RedisJobQueue):
                # Settling a delivery again changes nothing: no negative depth, no second retry.
                again = settled[-1]
                await queue.ack(again)
                assert not await queue.fail(again, "late")
                assert await queue.depths() == {} and await queue.depth() == 0
                assert await queue.receive("c1", timeout=0.05) is None

            metrics = Metrics()
            metrics.record_jobs(["media", "notify"], await queue.depths(), await queue.dead_letter_counts())
            assert metrics.registry.get_sample_value("hub_jobs_queue_depth", {"kind": "media"}) == 0
            assert metrics.registry.get_sample_value("hub_jobs_dead_letters", {"kind": "notify"}) == 1
            assert metrics.registry.get_sample_value("hub_jobs_dead_letters", {"kind": "media"}) == 0
    finally:
        await redis.aclose()


async def test_worker_process_serves_metrics_on_its_listener(
    database_url: str, redis_service: services.RedisHandle, redis_prefix: str, tmp_path: Path
) -> None:
    """`hub worker` has no HTTP port: orchestrators probe and scrape it on HUB_METRICS_LISTEN."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_service.url,
        "HUB_REDIS_PREFIX": redis_prefix,
        "HUB_METRICS_LISTEN": f"127.0.0.1:{port}",
        "HUB_DATA_DIR": str(tmp_path),
        "HUB_SIGNING_KEY": seed(),
        "HUB_MIGRATE_ON_START": "false",
        "HUB_LOG_LEVEL": "WARNING",
    }
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "hub"),
        "worker",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient(timeout=5) as http:

            async def scraped() -> str:
                assert proc.returncode is None, "hub worker exited during start-up"
                r = await http.get(f"http://127.0.0.1:{port}/metrics")
                return r.text if r.status_code == 200 else ""

            text = await eventually(
                scraped,
                timeout=30,
                interval=0.1,
                ignore=(httpx.TransportError,),
                message="the worker's metrics listener did not answer",
            )
        samples = exported(text)
        assert samples["hub_redis_bus_connected"][0][1] == 1
        depths = {labels["kind"]: value for labels, value in samples["hub_jobs_queue_depth"]}
        assert depths == {"media": 0, "library_media": 0, "notify": 0}, depths
        assert "hub_job_duration_seconds_count" in samples
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), timeout=15)
        assert proc.returncode == 0, (await proc.stderr.read()).decode()[-2000:] if proc.stderr else ""
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_metrics_listen_setting() -> None:
    from hub.config import ConfigError, load_settings

    assert load_settings(environ={}).metrics_address is None
    assert load_settings(environ={"HUB_METRICS_LISTEN": "127.0.0.1:9100"}).metrics_address == ("127.0.0.1", 9100)
    assert load_settings(environ={"HUB_METRICS_LISTEN": ":9100"}).metrics_address == ("0.0.0.0", 9100)
    assert load_settings(environ={"HUB_METRICS_LISTEN": "[::]:9100"}).metrics_address == ("::", 9100)
    for bad in ("9100", "host:", "h:99999", ":0", "h:x", "127.0.0.1:8000"):
        with pytest.raises(ConfigError) as refused:
            load_settings(environ={"HUB_METRICS_LISTEN": bad})
        assert str(refused.value).startswith("HUB_METRICS_LISTEN: "), refused.value
    # A secret: refused in a config file, redacted by `hub config`.
    assert load_settings(environ={"HUB_METRICS_TOKEN": "t0ken"}).redacted()["metrics_token"] == "***"
