"""The browser-facing security policy both adapters apply: allowed origins, CSP, security headers, and
the client address a request is keyed by (rate limits, logs).

Written on plain values (settings, header strings, raw ASGI scopes) so that REST and Socket.IO share one
implementation without importing each other or a framework.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from hub.config import Settings

# With HUB_TRUST_FORWARDED the hub runs behind exactly one proxy, which appends the peer it saw.
TRUSTED_PROXIES = 1
FORWARDED_FOR = "x-forwarded-for"
_FORWARDED_FOR_RAW = FORWARDED_FOR.encode()
_IPV6 = re.compile(r"(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}")


def _normalize_address(address: str) -> str | None:
    """A forwarded address as Sanic normalizes it (`sanic.headers.fwd_normalize_address`), so a client
    is keyed alike whichever adapter it reaches: IPv6 bracketed, lower case, `unknown` omitted,
    obfuscated identifiers (`_hidden`, RFC 7239 section 6.3) kept as they are."""
    if address == "unknown":
        return None
    if address.startswith("_"):
        return address
    if _IPV6.fullmatch(address):
        address = f"[{address}]"
    return address.lower()


def forwarded_client(forwarded_for: Iterable[str], proxies: int = TRUSTED_PROXIES) -> str | None:
    """The client the trusted proxy recorded in X-Forwarded-For, or None when it recorded none.

    Every X-Forwarded-For line is joined and split on commas; the entry `proxies` from the end is the
    one the nearest trusted proxy appended (anything before it is the client's own say and could be
    forged). The RFC 7239 `Forwarded` header is not read: without a shared secret it is as forgeable
    as the client's own entries, and Sanic, which keys REST requests, ignores it too.
    """
    entries = [entry for entry in (part.strip() for line in forwarded_for for part in line.split(",")) if entry]
    if proxies < 1 or len(entries) < proxies:
        return None
    return _normalize_address(entries[-proxies])


def client_address(settings: Settings, forwarded_for: Iterable[str], peer: str | None) -> str:
    """The address a request is keyed by: the proxy's X-Forwarded-For entry when the proxy is trusted
    (HUB_TRUST_FORWARDED), else the TCP peer (which uvicorn itself rewrites from the same header when
    it trusts the proxy); "unknown" when there is neither."""
    if settings.trust_forwarded:
        forwarded = forwarded_client(forwarded_for)
        if forwarded:
            return forwarded
    return peer or "unknown"


def scope_client_address(settings: Settings, scope: Mapping[str, Any]) -> str:
    """`client_address` of a raw ASGI scope (a Socket.IO connect), so both adapters key one client alike."""
    forwarded_for: list[str] = []
    if settings.trust_forwarded:
        for name, value in scope.get("headers", ()):
            if name.lower() == _FORWARDED_FOR_RAW:
                # Decoded as Sanic's ASGI adapter decodes header values.
                forwarded_for.append(value.decode(errors="surrogateescape"))
    client = scope.get("client")
    peer = str(client[0]) if isinstance(client, tuple | list) and client and client[0] else None
    return client_address(settings, forwarded_for, peer)


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
