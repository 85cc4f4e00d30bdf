"""The one place where errors become HTTP responses: `{"error": {code, message, details, request_id}}`."""

from __future__ import annotations

import logging

from sanic import HTTPResponse, Request, Sanic
from sanic import exceptions as sanic_exc
from sanic.response import json as json_response

from hub.errors import (
    BadRequest,
    HubError,
    InternalError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServiceUnavailable,
    UnsupportedMediaType,
)
from rest.context import app_context
from rest.jsonutil import dumps

log = logging.getLogger("hub.http")


def _from_sanic(exc: sanic_exc.SanicException) -> HubError:
    """Framework exceptions (routing, size limits, malformed HTTP) in our vocabulary."""
    if isinstance(exc, sanic_exc.NotFound):
        return NotFound()
    if isinstance(exc, sanic_exc.MethodNotAllowed):
        allowed = getattr(exc, "allowed_methods", None) or []
        err = MethodNotAllowed(details={"allowed": sorted(allowed)})
        if allowed:
            err.headers["Allow"] = ", ".join(sorted(allowed))
        return err
    if isinstance(exc, sanic_exc.PayloadTooLarge):
        return PayloadTooLarge()
    if isinstance(exc, sanic_exc.HeaderExpectationFailed | sanic_exc.BadRequest):
        return BadRequest("The request is malformed.", code="malformed_request")
    if isinstance(exc, sanic_exc.ServiceUnavailable):
        return ServiceUnavailable()
    if exc.status_code == 415:
        return UnsupportedMediaType()
    if exc.status_code == 429:
        return RateLimited(1)
    if 400 <= exc.status_code < 500:
        generic = BadRequest("The request could not be processed.", code="bad_request")
        generic.status = exc.status_code  # type: ignore[misc]
        return generic
    return InternalError()


def error_response(request: Request, err: HubError) -> HTTPResponse:
    request_id = getattr(request.ctx, "request_id", "")
    body = {"error": {**err.to_dict(), "request_id": request_id}}
    app_context(request.app).metrics.errors.labels(err.code).inc()
    return json_response(body, status=err.status, headers=dict(err.headers), dumps=dumps)


def install_error_handlers(app: Sanic) -> None:
    settings = app_context(app).settings
    show_internal = bool(settings.debug_errors and not settings.production)

    @app.exception(HubError)
    async def on_hub_error(request: Request, exc: HubError) -> HTTPResponse:
        if exc.status >= 500:
            cause = exc.__cause__
            fields = {"code": exc.code, "request_id": getattr(request.ctx, "request_id", "")}
            if isinstance(exc, ServiceUnavailable) and cause is not None:
                # An outage answers many requests alike: its cause in one line each, not a traceback.
                fields["cause"] = f"{type(cause).__name__}: {str(cause)[:200]}"
                log.warning("service error", extra={"fields": fields})
            else:
                log.warning("service error", extra={"fields": fields}, exc_info=cause is not None)
        return error_response(request, exc)

    @app.exception(sanic_exc.SanicException)
    async def on_sanic_error(request: Request, exc: sanic_exc.SanicException) -> HTTPResponse:
        return error_response(request, _from_sanic(exc))

    @app.exception(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> HTTPResponse:
        hub = app_context(request.app).hub
        unavailable = hub.unavailable(exc) if hub is not None else None
        if unavailable is not None:
            # A dependency went away under a call no repository translated: transient, not a bug.
            log.warning(
                "dependency unavailable",
                extra={
                    "fields": {
                        "request_id": getattr(request.ctx, "request_id", ""),
                        "path": request.path,
                        "error": type(exc).__name__,
                    }
                },
            )
            return error_response(request, unavailable)
        log.error(
            "unhandled error",
            extra={"fields": {"request_id": getattr(request.ctx, "request_id", ""), "path": request.path}},
            exc_info=exc,
        )
        err = InternalError()
        if show_internal:
            err.details = {"exception": type(exc).__name__, "text": str(exc)[:500]}
        return error_response(request, err)
