"""Liveness, readiness, metrics, the OpenAPI document and its HTML reference."""

from __future__ import annotations

import hmac
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sanic import Blueprint, HTTPResponse, Request
from sanic.response import html, raw

import hub
from hub.errors import MetricsTokenInvalid, NotFound, NotReady
from rest import context
from rest.jsonutil import json
from rest.openapi import build_openapi, endpoint, render_docs

bp = Blueprint("health")


class Alive(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]


@endpoint(bp, "GET", "/healthz", summary="Liveness: the process answers.", response=Alive, auth=False)
async def healthz(request: Request) -> HTTPResponse:
    return json({"status": "ok"})


@endpoint(
    bp,
    "GET",
    "/readyz",
    summary="Readiness: database (and Redis, S3 when configured) reachable.",
    response=Readiness,
    auth=False,
    errors=(503,),
)
async def readyz(request: Request) -> HTTPResponse:
    checks = await context.hub(request).ready()
    ok = all(v == "ok" for v in checks.values())
    body = {"status": "ok" if ok else "unavailable", "checks": checks}
    if ok:
        return json(body)
    rid = request.ctx.request_id
    err = NotReady(details=checks)
    return json({**body, "error": {**err.to_dict(), "request_id": rid}}, status=err.status, headers=err.headers)


@endpoint(
    bp,
    "GET",
    "/metrics",
    summary="Prometheus metrics (bearer HUB_METRICS_TOKEN when set).",
    auth=False,
    content="text",
    errors=(401, 404),
)
async def metrics(request: Request) -> HTTPResponse:
    settings = context.settings(request)
    if settings.metrics_address is not None:
        raise NotFound()  # served on HUB_METRICS_LISTEN only; indistinguishable from an unknown path
    if settings.metrics_token:
        scheme, _, presented = (request.headers.get("authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            presented.strip().encode(), settings.metrics_token.encode()
        ):
            raise MetricsTokenInvalid("A valid metrics token is required.")
    m = context.metrics(request)
    size, idle = context.hub(request).db.pool_stats()
    m.db_pool_size.set(size)
    m.db_pool_idle.set(idle)
    return raw(generate_latest(m.registry), content_type=CONTENT_TYPE_LATEST)


def _spec(request: Request) -> dict[str, Any]:
    """Built on first use: it describes the routes registered by then (all of them)."""
    ctx = context.app_context(request.app)
    if ctx.openapi is None:
        ctx.openapi = build_openapi(
            request.app,
            title="Collab Hub",
            version=hub.__version__,
            server_url=ctx.settings.base_url,
            settings=ctx.settings,
        )
    return ctx.openapi


@endpoint(bp, "GET", "/openapi.json", summary="This API's OpenAPI 3.1 document.", auth=False)
async def openapi(request: Request) -> HTTPResponse:
    return json(_spec(request))


@endpoint(bp, "GET", "/docs", summary="Human-readable API reference.", auth=False, content="html")
async def docs(request: Request) -> HTTPResponse:
    return html(render_docs(_spec(request)))
