"""The REST fast paths change no answer. Sanic's lifecycle signals still reach their handlers when the
hub skips the ones nobody listens to, and a missing event is answered as Sanic answers it: None for a
built-in one, NotFound for one of ours. Header values are sanitised exactly as Sanic's own sanitiser
does."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from hypothesis import given
from hypothesis import strategies as st
from sanic import Request, Sanic
from sanic.response import HTTPResponse, text
from sanic_routing.exceptions import NotFound

from rest.signals import skip_unhandled_signals
from storage.postgres.server import free_port
from tests.support.waiting import eventually

_names = itertools.count()


def _app_with_middleware() -> Sanic:
    """A bare Sanic app with one request and one response middleware: each of their runs dispatches
    `http.middleware.*` with a condition (`attach_to`)."""
    app = Sanic(f"signals{next(_names)}", configure_logging=False)
    app.config.TOUCHUP = False

    @app.on_request
    async def before(request: Request) -> None:
        return None

    @app.on_response
    async def after(request: Request, response: HTTPResponse) -> None:
        return None

    return app


@contextlib.asynccontextmanager
async def _serving(app: Sanic) -> AsyncIterator[httpx.AsyncClient]:
    """`app` served by uvicorn on a free loopback port, with a client bound to it."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    server.capture_signals = _no_signals  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: bool(server.started), timeout=20, interval=0.01, message="server did not start")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            yield http
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=15)


async def test_handled_signals_run_and_unhandled_ones_are_not_routed_again() -> None:
    # The middleware's `http.middleware.*` dispatches, with no handler, are not routed again either.
    app = _app_with_middleware()
    seen: list[str] = []

    @app.signal("http.lifecycle.request")
    async def on_request(request: Request) -> None:
        seen.append(request.path)

    @app.get("/x")
    async def handler(request: Request) -> HTTPResponse:
        # A non-built-in event nobody handles still fails, as Sanic fails it.
        with pytest.raises(NotFound):
            await request.app.dispatch("hub.custom.missing", inline=True)
        assert await request.app.dispatch("hub.custom.missing", inline=True, fail_not_found=False) is None
        return text("ok")

    skip_unhandled_signals(app)
    looked_up: list[str] = []
    get = app.signal_router.get

    def counting_get(event: str, condition: dict[str, str] | None = None) -> Any:
        looked_up.append(f"{event}/{condition['attach_to']}" if condition else event)
        return get(event, condition=condition)

    app.signal_router.get = counting_get  # type: ignore[method-assign]

    async with _serving(app) as http:
        assert (await http.get("/x")).text == "ok"
        first = list(looked_up)
        looked_up.clear()
        assert (await http.get("/x")).text == "ok"
        second = list(looked_up)  # before the server's own shutdown signals
    assert seen == ["/x", "/x"]  # the handled event ran on both requests
    # The first request asked about each built-in event once. Sanic routes signals by group
    # (`http.lifecycle.<trigger>`), so the group with a handler keeps going through Sanic; the
    # second request routes only that group and the custom event (not quiet: Sanic answers it).
    assert {"http.routing.before", "http.handler.before", "http.lifecycle.request"} <= set(first), first
    assert {"http.middleware.before/request", "http.middleware.after/response"} <= set(first), first
    assert {e for e in second if not e.startswith("http.lifecycle.")} == {"hub.custom.missing"}, second
    assert "http.lifecycle.request" in second


async def test_a_middleware_signal_handled_for_one_condition_runs_for_that_one_only() -> None:
    app = _app_with_middleware()
    seen: list[str] = []

    @app.signal("http.middleware.before", condition={"attach_to": "response"})
    async def on_response_middleware(request: Request, response: HTTPResponse | None) -> None:
        seen.append(request.path)

    @app.get("/y")
    async def handler(request: Request) -> HTTPResponse:
        return text("ok")

    skip_unhandled_signals(app)
    async with _serving(app) as http:
        for _ in range(2):
            assert (await http.get("/y")).text == "ok"
    assert seen == ["/y", "/y"]  # once per request: before the response middleware, not the request's


class _NoSignals:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _no_signals() -> _NoSignals:
    return _NoSignals()


@given(st.text(alphabet=st.sampled_from(["a", "é", " ", "\r", "\n", "\x00", "\t", ";", "\u2028"]), max_size=40))
def test_header_values_are_sanitised_exactly_as_sanic_does(value: str) -> None:
    from sanic.response.types import HEADER_TRANSLATION_TABLE

    from rest.headers import sanitize_header_value

    assert sanitize_header_value(value) == value.translate(HEADER_TRANSLATION_TABLE)


async def test_a_response_header_cannot_carry_a_line_break(running: Any) -> None:
    """Installed in the hub: answers carry their headers, and a header set with a line break loses it, as
    with Sanic's own sanitiser (no header injection)."""
    from sanic.response.types import BaseHTTPResponse

    from rest.headers import sanitize_header_value

    assert BaseHTTPResponse._sanitize_header_value is sanitize_header_value
    r = await running.http.get("/healthz", headers={"X-Request-ID": "abcdefgh12"})
    assert r.status_code == 200 and r.headers["x-request-id"] == "abcdefgh12"
    from sanic.response import empty

    response = empty(headers={"X-Test": "a\r\nSet-Cookie: x=1"})
    assert list(response.processed_headers) == [(b"X-Test", b"aSet-Cookie: x=1")]


def test_request_ids_are_unique_and_keep_their_shape() -> None:
    from hub.logs import new_request_id

    ids = [new_request_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[0-9a-f]{24}", i) for i in ids), ids[:3]


async def test_the_latency_histogram_counts_every_answer_by_route_and_status(running: Any) -> None:
    """The labelled histograms are remembered between requests: each answer is still counted once."""

    def count(text: str, status: str) -> float:
        for line in text.splitlines():
            if line.startswith("hub_http_request_duration_seconds_count{") and 'route="/healthz"' in line:
                if f'status="{status}"' in line:
                    return float(line.rsplit(" ", 1)[1])
        return 0.0

    before = count((await running.http.get("/metrics")).text, "200")
    for _ in range(3):
        assert (await running.http.get("/healthz")).status_code == 200
    after = count((await running.http.get("/metrics")).text, "200")
    assert after - before == 3, (before, after)
