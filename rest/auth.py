"""Bearer-token authentication for REST handlers."""

from __future__ import annotations

from sanic import Request

from hub.errors import RateLimited, Unauthorized
from hub.models import Principal
from rest.middleware import client_address


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def authenticate(request: Request) -> Principal:
    """The verified caller, or 401 with a distinct code (missing, invalid, expired, revoked...)."""
    cached = getattr(request.ctx, "principal", None)
    if isinstance(cached, Principal):
        return cached
    token = bearer_token(request)
    if token is None:
        raise Unauthorized("A bearer token is required.", code="token_missing")
    principal: Principal = await request.app.ctx.hub.identity.authenticate(token)
    request.ctx.principal = principal
    return principal


async def optional_principal(request: Request) -> Principal | None:
    return await authenticate(request) if bearer_token(request) is not None else None


async def limit_auth(request: Request) -> None:
    """The stricter per-IP limit of credential endpoints (slows password guessing)."""
    hub = request.app.ctx.hub
    retry = await hub.rate_limiter.hit(hub.settings.auth_rate_limit, "auth", client_address(request))
    if retry:
        raise RateLimited(retry)
