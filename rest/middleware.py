"""Request/response middleware: request ids, limits, CORS, security headers, access log, metrics."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from sanic import HTTPResponse, Request, Sanic
from sanic.response import BaseHTTPResponse, empty

from hub import security
from hub.errors import OriginNotAllowed, PayloadTooLarge, RateLimited
from hub.logs import new_request_id
from hub.security import origin_allowed, security_headers
from rest import context
from rest.errors import error_response

log = logging.getLogger("hub.access")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
_UNLIMITED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_CORS_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
_CORS_HEADERS = "Authorization, Content-Type, If-Match, If-None-Match, X-Request-ID"


def client_address(request: Request) -> str:
    settings = context.settings(request)
    return security.client_address(settings, request.headers.getall(security.FORWARDED_FOR, []), request.ip)


def keep_private(request: Request, response: BaseHTTPResponse) -> None:
    """Nothing answered to a caller's credentials is stored by a browser or a proxy: the answer is the
    caller's own (their account, their spaces, what their role lets them see, errors about them).
    A route that chose its own rule keeps it (bins: `private, no-cache` to revalidate by ETag)."""
    if "authorization" in request.headers and "cache-control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"


def install_middleware(app: Sanic) -> None:
    ctx = context.app_context(app)
    settings, metrics = ctx.settings, ctx.metrics
    static_headers = security_headers(settings)
    # prometheus-client's `labels()` joins and looks up its label values on every call (2 % of `/healthz`).
    latencies: dict[tuple[str, str, int], Any] = {}

    async def start(request: Request) -> HTTPResponse | None:
        incoming = request.headers.get("x-request-id", "")
        request.ctx.request_id = incoming if _REQUEST_ID.match(incoming) else new_request_id()
        request.ctx.started = time.perf_counter()
        request.ctx.counted = True
        metrics.http_in_flight.inc()

        length = request.headers.get("content-length")
        # Streaming handlers (the local blob store's upload routes) enforce their own signed limits.
        streamed = request.route is not None and hasattr(request.route.handler, "is_stream")
        too_large = length is not None and (not length.isdigit() or int(length) > settings.body_limit_bytes)
        if too_large and not streamed:
            return error_response(request, PayloadTooLarge(details={"limit_bytes": settings.body_limit_bytes}))

        origin = request.headers.get("origin")
        if request.method == "OPTIONS" and request.headers.get("access-control-request-method"):
            if not origin or not origin_allowed(settings, origin):
                return error_response(request, OriginNotAllowed("Origin not allowed."))
            return empty(
                status=204,
                headers={
                    "Access-Control-Allow-Origin": origin,
                    "Access-Control-Allow-Methods": _CORS_METHODS,
                    "Access-Control-Allow-Headers": _CORS_HEADERS,
                    "Access-Control-Max-Age": "600",
                    "Vary": "Origin",
                },
            )

        if request.path not in _UNLIMITED_PATHS and not request.path.startswith("/static/"):
            retry_after = await context.hub(request).rate_limiter.hit(
                settings.rate_limit, "ip", client_address(request)
            )
            if retry_after:
                return error_response(request, RateLimited(retry_after))
        return None

    async def finish(request: Request, response: BaseHTTPResponse) -> None:
        request_id = getattr(request.ctx, "request_id", None) or new_request_id()
        response.headers["X-Request-ID"] = request_id
        for name, value in static_headers.items():
            response.headers.setdefault(name, value)
        keep_private(request, response)
        origin = request.headers.get("origin")
        if origin and origin_allowed(settings, origin):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = "ETag, X-Request-ID, Retry-After, Location"
            response.headers["Vary"] = "Origin"

        started = getattr(request.ctx, "started", None)
        if started is None:
            return
        if getattr(request.ctx, "counted", False):
            request.ctx.counted = False
            metrics.http_in_flight.dec()
        latency = time.perf_counter() - started
        route = f"/{request.route.path}" if request.route else "unmatched"
        key = (request.method, route, response.status)
        histogram = latencies.get(key)
        if histogram is None:
            histogram = metrics.http_latency.labels(request.method, route, str(response.status))
            if len(latencies) < 4_096:  # methods are the client's to choose: keep the memory bounded
                latencies[key] = histogram
        histogram.observe(latency)
        if not log.isEnabledFor(logging.INFO):
            return
        log.info(
            "request",
            extra={
                "fields": {
                    "method": request.method,
                    "route": route,
                    "status": response.status,
                    "latency_ms": round(latency * 1000, 2),
                    "request_id": request_id,
                    "client": client_address(request),
                }
            },
        )

    app.register_middleware(start, "request", priority=100)
    app.register_middleware(finish, "response", priority=100)
