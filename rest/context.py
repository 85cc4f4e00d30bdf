"""Typed access to what the REST adapter runs on: the running hub, its settings and metrics.

Routes and middleware reach the hub through `hub(request)`, never through `request.app.ctx` (which
Sanic types as `Any`), so a renamed service or attribute is a type error rather than a 500.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sanic import Request, Sanic

from hub.config import Settings
from hub.errors import ServiceUnavailable
from hub.metrics import Metrics
from hub.runtime import Hub


@dataclass
class AppContext:
    """The Sanic app's `ctx`: settings and metrics from creation, the hub once the server started."""

    settings: Settings
    metrics: Metrics
    hub: Hub | None = None
    # The Socket.IO server mounted beside this app (set by the composition root, read by tests).
    sio: Any = None
    # The OpenAPI document, built on first request (it needs the registered routes).
    openapi: dict[str, Any] | None = None


def app_context(app: Sanic) -> AppContext:
    ctx = app.ctx
    assert isinstance(ctx, AppContext), "a Sanic app made by rest.app.create_sanic_app"
    return ctx


def hub(request: Request) -> Hub:
    """The running hub. Requests are served between start and stop, when there always is one."""
    running = app_context(request.app).hub
    if running is None:
        raise ServiceUnavailable("The hub is starting.", code="starting")
    return running


def settings(request: Request) -> Settings:
    return app_context(request.app).settings


def metrics(request: Request) -> Metrics:
    return app_context(request.app).metrics
