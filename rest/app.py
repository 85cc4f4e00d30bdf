"""The Sanic application: configuration, middleware, error mapping, blueprints and static files."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Any

from sanic import Sanic
from sanic.config import Config

from hub.config import Settings
from hub.metrics import Metrics
from hub.runtime import Hub
from rest.context import AppContext
from rest.errors import install_error_handlers
from rest.headers import install_header_fast_path
from rest.jsonutil import dumps
from rest.middleware import install_middleware
from rest.signals import skip_unhandled_signals

_app_ids = itertools.count(1)


def blueprints() -> list[Any]:
    from rest.routes import (
        auth,
        bins,
        blobs,
        board,
        feed,
        files,
        health,
        media,
        moderation,
        notifications,
        posts,
        search,
        social,
        spaces,
        web,
    )

    return [
        health.bp,
        auth.bp,
        spaces.bp,
        bins.bp,
        board.bp,
        files.bp,
        blobs.bp,
        media.bp,
        social.bp,
        posts.bp,
        search.bp,
        feed.bp,
        notifications.bp,
        moderation.bp,
        web.bp,
    ]


def create_sanic_app(
    settings: Settings,
    metrics: Metrics,
    start: Callable[[], Awaitable[Hub]],
    stop: Callable[[Hub], Awaitable[None]],
) -> Sanic:
    """`start()` builds the hub when the server starts; `stop(hub)` closes it on shutdown."""
    config = Config()
    config.REQUEST_MAX_SIZE = settings.body_limit_bytes
    config.FALLBACK_ERROR_FORMAT = "json"
    config.NOISY_EXCEPTIONS = False
    config.ACCESS_LOG = False
    config.KEEP_ALIVE_TIMEOUT = 75
    config.MOTD = False
    # Touch-up rewrites methods on the shared Sanic class at start-up, so two apps in one process
    # (tests, embedded tools) would corrupt each other; the speed it buys is negligible here.
    config.TOUCHUP = False
    if settings.trust_forwarded:
        config.PROXIES_COUNT = 1
    # Sanic keeps a registry of app names; tests build many apps in one process.
    ctx = AppContext(settings=settings, metrics=metrics)
    app = Sanic(f"hub{next(_app_ids)}", config=config, ctx=ctx, dumps=dumps, configure_logging=False)

    @app.before_server_start
    async def _start(app: Sanic) -> None:
        ctx.hub = await start()

    @app.after_server_stop
    async def _stop(app: Sanic) -> None:
        if ctx.hub is not None:
            await stop(ctx.hub)
            ctx.hub = None

    skip_unhandled_signals(app)
    install_header_fast_path()
    install_error_handlers(app)
    install_middleware(app)
    for bp in blueprints():
        app.blueprint(bp)
    # The web client (index.html and /static with content ETags) is served by rest.routes.web.
    return app
