"""Bearer-token authentication for REST handlers."""

from __future__ import annotations

import re

from sanic import Request

from hub.errors import RateLimited, Unauthorized
from hub.models import Principal
from rest.context import hub
from rest.middleware import client_address

# RFC 6750's b64token. Header bytes that are not UTF-8 reach here as lone surrogates, which nothing
# downstream can encode; refusing everything outside the grammar keeps them away from the verifier.
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def bearer_token(request: Request) -> str | None:
    """The bearer token, None when there is none, or 401 token_invalid when it is not a token at all."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip(" \t")
    if scheme.lower() != "bearer" or not token:
        return None
    if not _B64TOKEN.fullmatch(token):
        raise Unauthorized("The token is malformed.", code="token_invalid")
    return token


async def authenticate(request: Request) -> Principal:
    """The verified caller, or 401 with a distinct code (missing, invalid, expired, revoked...)."""
    cached = getattr(request.ctx, "principal", None)
    if isinstance(cached, Principal):
        return cached
    token = bearer_token(request)
    if token is None:
        raise Unauthorized("A bearer token is required.", code="token_missing")
    principal = await hub(request).identity.authenticate(token)
    request.ctx.principal = principal
    return principal


async def optional_principal(request: Request) -> Principal | None:
    return await authenticate(request) if bearer_token(request) is not None else None


async def limit_auth(request: Request) -> None:
    """The stricter per-IP limit of credential endpoints (slows password guessing)."""
    running = hub(request)
    retry = await running.rate_limiter.hit(running.settings.auth_rate_limit, "auth", client_address(request))
    if retry:
        raise RateLimited(retry)
