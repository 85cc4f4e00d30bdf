"""The platform through the real ASGI stack: health, errors, limits, headers, CORS, metrics."""

from __future__ import annotations

import re

import httpx
import pytest

from hub.config import load_settings
from hub.security import content_security_policy
from tests.support.server import running_hub


async def test_health_ready_metrics(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["postgres"] == "ok"
    metrics = await client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'hub_http_request_duration_seconds_bucket{le="0.001",method="GET",route="/healthz"' in metrics.text
    assert "hub_db_pool_size" in metrics.text


async def test_unknown_route_is_json_404_with_request_id(client: httpx.AsyncClient) -> None:
    r = await client.get("/definitely/not/here")
    assert r.status_code == 404
    body = r.json()["error"]
    assert body["code"] == "not_found"
    assert body["request_id"] == r.headers["x-request-id"]


async def test_incoming_request_id_is_kept_and_invalid_one_replaced(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz", headers={"X-Request-ID": "abc-123-def-456"})
    assert r.headers["x-request-id"] == "abc-123-def-456"
    r = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith junk"})
    assert r.headers["x-request-id"] != "bad id\twith junk"
    assert len(r.headers["x-request-id"]) == 24


async def test_method_not_allowed_is_json(client: httpx.AsyncClient) -> None:
    r = await client.delete("/healthz")
    assert r.status_code == 405
    assert r.json()["error"]["code"] == "method_not_allowed"
    assert "GET" in r.headers["allow"]


async def test_security_headers_everywhere(client: httpx.AsyncClient) -> None:
    for path in ("/healthz", "/nope"):
        r = await client.get(path)
        csp = r.headers["content-security-policy"]
        assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert "strict-transport-security" not in r.headers  # not in test/dev mode


@pytest.mark.parametrize(
    ("store", "expected", "absent"),
    [
        ({}, [], ["amazonaws"]),
        (
            {"s3_endpoint": "http://127.0.0.1:8333/", "s3_bucket": "b", "s3_path_style": True},
            ["http://127.0.0.1:8333"],
            ["b.127"],
        ),
        (
            {"s3_endpoint": "https://fly.storage.tigris.dev", "s3_bucket": "media", "s3_path_style": False},
            ["https://media.fly.storage.tigris.dev"],
            [],
        ),
        (
            {"s3_bucket": "media", "s3_region": "eu-west-1", "s3_path_style": False},
            ["https://media.s3.eu-west-1.amazonaws.com", "https://media.s3.amazonaws.com"],
            [],
        ),
    ],
)
def test_csp_lets_the_browser_reach_the_object_store_and_nothing_else(
    store: dict[str, object], expected: list[str], absent: list[str]
) -> None:
    # Presigned uploads and thumbnails go from the page straight to the store: connect-src and
    # img-src must name the exact origin the S3 client signs URLs for (path or virtual-host style).
    settings = load_settings(environ={}, env="test", **store)
    directives = dict(d.strip().split(" ", 1) for d in content_security_policy(settings).split(";"))
    for directive in ("connect-src", "img-src"):
        sources = directives[directive].split()
        assert "'self'" in sources
        assert all(o in sources for o in expected)
        assert not any(a in directives[directive] for a in absent)
    assert "*" not in directives["connect-src"].split()


async def test_hsts_in_production(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(env="production", signing_key="A" * 43, cors_origins=("https://app.example",))
    async with running_hub(settings) as (url, _), httpx.AsyncClient(base_url=url) as c:
        r = await c.get("/healthz")
        assert r.headers["strict-transport-security"].startswith("max-age=")


async def test_oversized_body_is_413_json(client: httpx.AsyncClient) -> None:
    r = await client.post("/healthz", content=b"x" * (2 * 1024 * 1024), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"


async def test_cors_allowlist(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(cors_origins=("https://good.example",))
    async with running_hub(settings) as (url, _), httpx.AsyncClient(base_url=url) as c:
        pre = {"Origin": "https://good.example", "Access-Control-Request-Method": "POST"}
        ok = await c.options("/healthz", headers=pre)
        assert ok.status_code == 204
        assert ok.headers["access-control-allow-origin"] == "https://good.example"
        bad = await c.options("/healthz", headers={**pre, "Origin": "https://evil.example"})
        assert bad.status_code == 403 and bad.json()["error"]["code"] == "origin_not_allowed"
        null = await c.options("/healthz", headers={**pre, "Origin": "null"})
        assert null.status_code == 403
        simple = await c.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in simple.headers


async def test_rate_limit_gives_429_with_integer_retry_after(make_settings) -> None:  # type: ignore[no-untyped-def]
    async with running_hub(make_settings(rate_limit="3/minute")) as (url, _), httpx.AsyncClient(base_url=url) as c:
        statuses = [(await c.get("/openapi.json")).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        r = await c.get("/openapi.json")
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) >= 1
        assert r.json()["error"]["code"] == "rate_limited"
        assert (await c.get("/healthz")).status_code == 200  # probes are never limited


@pytest.mark.parametrize("scaled", [True])
async def test_readyz_reports_redis(make_settings, redis_service, redis_prefix, scaled: bool) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(redis_url=redis_service.url, redis_prefix=redis_prefix)
    async with running_hub(settings) as (url, _), httpx.AsyncClient(base_url=url) as c:
        body = (await c.get("/readyz")).json()
        assert {"postgres", "redis", "redis-bus"} <= set(body["checks"])
        assert set(body["checks"].values()) == {"ok"}


async def test_openapi_and_docs(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert spec["openapi"] == "3.1.0"
    assert "/healthz" in spec["paths"]
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "/readyz" in docs.text  # the script-free table, for no JavaScript
    # Scripts only from the hub's own static files, never inline (the CSP allows nothing else).
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", docs.text, re.S)
    assert scripts and all(re.search(r"src=/static/", attrs) and not body.strip() for attrs, body in scripts)
    assert "https://" not in docs.text


async def test_unexpected_error_is_opaque_json_500(make_settings) -> None:  # type: ignore[no-untyped-def]
    async with running_hub(make_settings()) as (url, app), httpx.AsyncClient(base_url=url) as c:
        token = (await c.post("/auth/guest", json={"display_name": "x"})).json()["access_token"]
        hub = app.other_asgi_app.ctx.hub

        async def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("secret internal detail /etc/passwd")

        hub.spaces.mine = broken
        r = await c.get("/spaces", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 500
        body = r.json()["error"]
        assert body["code"] == "internal" and body["request_id"] == r.headers["x-request-id"]
        assert "secret" not in r.text and "Traceback" not in r.text
        # The failure stayed in that request.
        assert (await c.get("/healthz")).status_code == 200
