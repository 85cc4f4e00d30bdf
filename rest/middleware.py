"""Request/response middleware: request ids, limits, CORS, security headers, access log, metrics."""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

from sanic import HTTPResponse, Request, Sanic
from sanic.compat import Header
from sanic.headers import parse_xforwarded
from sanic.response import BaseHTTPResponse, empty

from hub.config import Settings
from hub.errors import OriginNotAllowed, PayloadTooLarge, RateLimited
from rest.errors import error_response

log = logging.getLogger("hub.access")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
_UNLIMITED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_CORS_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
_CORS_HEADERS = "Authorization, Content-Type, If-Match, If-None-Match, X-Request-ID"


# The proxy settings rest/app.py gives Sanic when HUB_TRUST_FORWARDED is on (the rest are Sanic's defaults).
_TRUSTED_PROXY = SimpleNamespace(REAL_IP_HEADER=None, PROXIES_COUNT=1, FORWARDED_FOR_HEADER="X-Forwarded-For")


def client_address(request: Request) -> str:
    return request.remote_addr or request.ip or "unknown"


def scope_client_address(settings: Settings, scope: Mapping[str, Any]) -> str:
    """`client_address` for a raw ASGI scope (a Socket.IO connect), so both sides key one client alike.

    Mirrors Sanic: the proxy's X-Forwarded-For entry only when the proxy is trusted, else the peer
    in the scope (which uvicorn itself rewrites from the same header when it trusts the proxy).
    """
    if settings.trust_forwarded:
        try:
            headers = Header(
                (key.decode("ascii"), value.decode(errors="surrogateescape")) for key, value in scope.get("headers", ())
            )
        except UnicodeDecodeError:
            headers = Header()
        forwarded = parse_xforwarded(headers, _TRUSTED_PROXY)
        if forwarded and forwarded.get("for"):
            return str(forwarded["for"])
    client = scope.get("client")
    if isinstance(client, tuple | list) and client and client[0]:
        return str(client[0])
    return "unknown"


def store_origins(settings: Settings) -> list[str]:
    """The origins presigned URLs point at, as the S3 client builds them (path or virtual-host style)."""
    if not settings.uses_s3:
        return []  # the local store's URLs are the hub's own ('self')
    bucket = settings.s3_bucket
    if settings.s3_endpoint:
        parts = urlsplit(settings.s3_endpoint)
        host = parts.netloc
        if not settings.s3_path_style and bucket:
            host = f"{bucket}.{host}"
        return [f"{parts.scheme}://{host}"]
    # AWS itself: regional and global endpoints (presigned POSTs in us-east-1 use the global one).
    region = settings.s3_region or "us-east-1"
    if settings.s3_path_style:
        return [f"https://s3.{region}.amazonaws.com", "https://s3.amazonaws.com"]
    return [f"https://{bucket}.s3.{region}.amazonaws.com", f"https://{bucket}.s3.amazonaws.com"]


def own_origins(settings: Settings) -> list[str]:
    """The hub's public origin and the WebSocket form of it (ws: for http, wss: for https).

    'self' already covers the page's own origin, and CSP Level 3 browsers extend it to ws:/wss: on the
    same host; naming the public origin also covers a page reached under another name (a proxy) and
    browsers that do not extend 'self' to WebSockets.
    """
    if not settings.public_url and settings.host in ("0.0.0.0", "::", ""):
        return []  # a wildcard bind address is no origin a page is loaded from; 'self' covers the page
    parts = urlsplit(settings.base_url)
    scheme, host = parts.scheme.lower(), parts.netloc.rpartition("@")[2].lower()
    if scheme not in ("http", "https") or not host:
        return []
    return [f"{scheme}://{host}", f"{'wss' if scheme == 'https' else 'ws'}://{host}"]


def content_security_policy(settings: Settings) -> str:
    # Exact origins only: a bare `ws:`/`wss:` would let an injected script open a socket to any host.
    # Direct uploads/downloads talk to the object store, so the browser must be allowed to reach it.
    store = store_origins(settings)
    connect = " ".join(dict.fromkeys(["'self'", *own_origins(settings), *store]))
    img = " ".join(["'self'", "data:", "blob:", *store])
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src {img}; connect-src {connect}; font-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


# The headers every answer carries whatever the settings (also the server's own answer to a request
# that is not HTTP, which knows no settings: rest.protocol).
BASE_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
# For an answer that is only a JSON error: it loads nothing, so it may allow nothing.
ERROR_ONLY_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"


def security_headers(settings: Settings) -> dict[str, str]:
    headers = {"Content-Security-Policy": content_security_policy(settings), **BASE_SECURITY_HEADERS}
    if settings.production:
        headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    return headers


def keep_private(request: Request, response: BaseHTTPResponse) -> None:
    """Nothing answered to a caller's credentials is stored by a browser or a proxy: the answer is the
    caller's own (their account, their spaces, what their role lets them see, errors about them).
    A route that chose its own rule keeps it (bins: `private, no-cache` to revalidate by ETag)."""
    if "authorization" in request.headers and "cache-control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"


def origin_allowed(settings: Settings, origin: str) -> bool:
    """Allowlist check shared by CORS and the Socket.IO Origin check. `null` is always refused."""
    if not origin or origin == "null":
        return False
    if origin in settings.cors_origins:
        return True
    if "*" in settings.cors_origins and not settings.production:
        return True
    # The hub's own pages are same-origin.
    return origin == settings.base_url


def install_middleware(app: Sanic) -> None:
    settings: Settings = app.ctx.settings
    static_headers = security_headers(settings)

    async def start(request: Request) -> HTTPResponse | None:
        incoming = request.headers.get("x-request-id", "")
        request.ctx.request_id = incoming if _REQUEST_ID.match(incoming) else secrets.token_hex(12)
        request.ctx.started = time.perf_counter()
        request.ctx.counted = True
        app.ctx.metrics.http_in_flight.inc()

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
            hub = app.ctx.hub
            retry_after = await hub.rate_limiter.hit(settings.rate_limit, "ip", client_address(request))
            if retry_after:
                return error_response(request, RateLimited(retry_after))
        return None

    async def finish(request: Request, response: BaseHTTPResponse) -> None:
        request_id = getattr(request.ctx, "request_id", None) or secrets.token_hex(12)
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
            app.ctx.metrics.http_in_flight.dec()
        latency = time.perf_counter() - started
        route = f"/{request.route.path}" if request.route else "unmatched"
        app.ctx.metrics.http_latency.labels(request.method, route, str(response.status)).observe(latency)
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
