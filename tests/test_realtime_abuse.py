"""Engine.IO-level abuse: what an unauthenticated client can do before it ever speaks Socket.IO.

Every test talks to the real hub over raw HTTP or a raw WebSocket, the way a hostile client would,
and checks that the hub answers at once, forgets the session, and writes nothing alarming to its log.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import orjson
import pytest
import websockets.asyncio.client
from websockets.exceptions import ConnectionClosed

from hub.config import Settings
from tests.support.realtime import guest
from tests.support.server import Running, running_hub
from tests.support.waiting import eventually

EIO = "/socket.io/?EIO=4&transport=polling"


def engine(app: Any) -> Any:
    """The hub's Engine.IO server (its `sockets` table is the session table)."""
    return app.engineio_server.eio


async def open_polling(c: httpx.AsyncClient) -> str:
    r = await c.get(EIO)
    assert r.status_code == 200, r.text
    assert r.text.startswith("0")
    sid: str = orjson.loads(r.text[1:])["sid"]
    return sid


async def closed_by_server(ws: Any, deadline: float) -> list[str]:
    """Every frame until the server closes the WebSocket; fails if that takes longer than `deadline`."""
    frames: list[str] = []
    async with asyncio.timeout(deadline):
        try:
            while True:
                frames.append(str(await ws.recv()))
        except ConnectionClosed:
            return frames


async def forgotten(app: Any, *sids: str, timeout: float = 2) -> None:
    """Wait (bounded) until the hub's session table holds none of `sids` (none at all if no sid is given)."""

    def present() -> bool:
        sockets = engine(app).sockets
        return bool(sockets) if not sids else any(sid in sockets for sid in sids)

    # The table is a plain dict; nothing signals a change to it.
    await eventually(lambda: not present(), timeout=timeout, interval=0.01, message=f"sessions {sids} still open")


def loud(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [f"{r.levelname} {r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.WARNING]


async def test_an_oversized_polling_post_gets_413_at_once_and_the_session_is_gone(
    running: Running,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app, c = running.app, running.http
    sid = await open_polling(c)
    assert sid in engine(app).sockets
    r = await asyncio.wait_for(c.post(f"{EIO}&sid={sid}", content=b"4" + b"x" * 70_000), 5)
    assert r.status_code == 413
    body = r.json()["error"]
    assert body["code"] == "payload_too_large" and body["request_id"] == r.headers["x-request-id"]
    assert body["details"]["limit_bytes"] == engine(app).max_http_buffer_size
    assert sid not in engine(app).sockets
    r = await c.get(f"{EIO}&sid={sid}")  # the session really is over
    assert r.status_code == 400 and r.json()["error"]["code"] == "session_not_found"
    assert loud(caplog) == []


async def test_many_oversized_polling_posts_leave_nothing_behind(running: Running) -> None:
    app, c = running.app, running.http
    for _ in range(50):
        sid = await open_polling(c)
        r = await asyncio.wait_for(c.post(f"{EIO}&sid={sid}", content=b"4" + b"x" * 70_000), 5)
        assert r.status_code == 413
    assert engine(app).sockets == {}
    assert app.engineio_server.environ == {}


async def test_an_oversized_chunked_polling_post_is_refused_once_over_the_limit(running: Running) -> None:
    app, c = running.app, running.http
    sid = await open_polling(c)

    async def body() -> AsyncIterator[bytes]:  # no Content-Length: the hub must count for itself
        yield b"4"
        for _ in range(20):
            yield b"x" * 10_000

    r = await asyncio.wait_for(c.post(f"{EIO}&sid={sid}", content=body()), 5)
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    assert sid not in engine(app).sockets


async def test_polls_waiting_on_a_session_that_closes_are_answered_at_once(running: Running) -> None:
    app, c = running.app, running.http
    for ending in (b"1", b"9"):  # the client's own CLOSE, or a payload that gets the session dropped
        sid = await open_polling(c)
        polls = [asyncio.create_task(c.get(f"{EIO}&sid={sid}")) for _ in range(2)]
        await eventually(engine(app).sockets[sid].queue.waiting, timeout=2, interval=0.01)  # both GETs are parked
        await c.post(f"{EIO}&sid={sid}", content=ending)
        answered = await asyncio.wait_for(asyncio.gather(*polls), 2)
        assert [r.status_code for r in answered] == [200, 200]
        assert sid not in engine(app).sockets


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe not utf-8",
        b"9",
        b"hello",
        b"",
        b"b!!!not base64",
        b"4x\x1e\x1e4y",
        b"d=%zz",
        "\x1e".join(["6"] * 300).encode(),  # more packets than ws_max_decode_packets
    ],
)
async def test_a_bad_polling_payload_gets_a_json_400_and_closes_only_that_session(
    running: Running,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
) -> None:
    app, c = running.app, running.http
    bystander, sid = await open_polling(c), await open_polling(c)
    r = await asyncio.wait_for(c.post(f"{EIO}&sid={sid}", content=body), 5)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "bad_payload"
    assert sid not in engine(app).sockets and bystander in engine(app).sockets
    assert loud(caplog) == []


@pytest.mark.parametrize("headers", [{"content-length": "abc"}, {"content-length": "-5"}])
async def test_a_bad_content_length_is_refused_quietly(
    running: Running,
    caplog: pytest.LogCaptureFixture,
    headers: dict[str, str],
) -> None:
    url, c = running.url, running.http
    sid = await open_polling(c)
    port = int(url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = f"POST {EIO}&sid={sid} HTTP/1.1\r\nhost: x\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write(head.encode() + b"\r\n4x")
        status = await asyncio.wait_for(reader.readline(), 5)
    finally:
        writer.close()
    # uvicorn's parser refuses it before the hub sees it (with one WARNING line of its own, no traceback).
    assert status.split()[1] in (b"400", b"413"), status
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("/socket.io/?EIO=3&transport=polling", "unsupported_protocol"),
        ("/socket.io/?transport=polling", "unsupported_protocol"),
        ("/socket.io/?EIO=4&transport=carrier-pigeon", "bad_transport"),
        ("/socket.io/?EIO=4&transport=polling&sid=nope", "session_not_found"),
        ("/socket.io/?EIO=4&transport=polling&sid=" + "A" * 6000, "session_not_found"),
        ("/socket.io/?EIO=4&transport=polling&j=x", "bad_request"),
        ("/socket.io/?EIO=4&transport=websocket", "bad_transport"),  # a websocket GET without the upgrade
    ],
)
async def test_bad_engineio_requests_get_json_errors_without_echoing_input(
    running: Running,
    caplog: pytest.LogCaptureFixture,
    query: str,
    code: str,
) -> None:
    c = running.http
    for method in ("GET", "POST"):
        if method == "POST" and "sid=" not in query:
            continue
        r = await c.request(method, query, content=b"4x")
        assert r.status_code == 400, r.text
        error = r.json()["error"]
        assert error["code"] == code and error["request_id"] == r.headers["x-request-id"]
        assert "A" * 100 not in r.text  # the input is not reflected
    assert loud(caplog) == []


@pytest.mark.parametrize("connection", ["close", "keep-alive"])
async def test_an_upgrade_header_on_a_plain_request_is_a_json_400(
    running: Running,
    caplog: pytest.LogCaptureFixture,
    connection: str,
) -> None:
    """`Upgrade: websocket` without a real upgrade (here `Connection: close`) arrives as plain HTTP."""
    c = running.http
    r = await c.get("/socket.io/?EIO=4&transport=websocket", headers={"Upgrade": "websocket", "Connection": connection})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "bad_transport"
    assert loud(caplog) == []


async def test_a_huge_query_string_is_refused_without_a_traceback(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    c = running.http
    # As large as uvicorn's parser lets through to the hub (beyond that, uvicorn answers 400 itself).
    r = await c.get(f"{EIO}&sid={'A' * 30_000}&" + "&".join(f"k{i}=v" for i in range(3_000)))
    assert r.status_code == 400 and r.json()["error"]["code"] == "session_not_found"
    assert len(r.content) < 1000  # nothing of the input is reflected
    assert loud(caplog) == []


async def test_an_unsupported_method_is_405_and_not_logged(running: Running, caplog: pytest.LogCaptureFixture) -> None:
    c = running.http
    for _ in range(20):
        r = await c.put(EIO, content=b"x")
        assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
    assert loud(caplog) == []


async def test_every_engineio_http_response_has_the_security_headers(running: Running) -> None:
    c = running.http
    sid = await open_polling(c)
    responses = [
        await c.get(f"{EIO}&sid=nope"),
        await c.post(f"{EIO}&sid={sid}", content=b"4x" * 40_000),
        await c.get(EIO),
        await c.put(EIO),
        await c.options(EIO),
    ]
    for r in responses:
        assert r.headers["x-content-type-options"] == "nosniff", (r.status_code, r.headers)
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["cross-origin-resource-policy"] == "same-origin"
        assert "content-security-policy" in r.headers
        assert r.headers["x-request-id"]


@pytest.mark.parametrize("frame", ["9", "hello", "", "b!!!", "0{}", b"\x00\xff garbage", "7"])
async def test_an_invalid_frame_before_connect_closes_the_websocket_quietly(
    running: Running,
    caplog: pytest.LogCaptureFixture,
    frame: str | bytes,
) -> None:
    url, app = running.url, running.app
    async with websockets.asyncio.client.connect(
        url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket",
    ) as ws:
        assert str(await ws.recv()).startswith("0")  # Engine.IO OPEN
        for _ in range(200):
            try:
                await ws.send(frame)
            except ConnectionClosed:
                break
        await closed_by_server(ws, 2)
    await forgotten(app)  # the socket's close runs right after its WebSocket is gone
    assert loud(caplog) == []


@pytest.mark.parametrize("frame", ["hello", "9", ""])
async def test_an_invalid_frame_during_an_upgrade_from_polling_closes_quietly(
    running: Running,
    caplog: pytest.LogCaptureFixture,
    frame: str,
) -> None:
    url, app, c = running.url, running.app, running.http
    sid = await open_polling(c)
    async with websockets.asyncio.client.connect(
        url.replace("http", "ws") + f"/socket.io/?EIO=4&transport=websocket&sid={sid}",
    ) as ws:
        await ws.send("2probe")
        assert await ws.recv() == "3probe"
        await ws.send(frame)  # instead of "5" (UPGRADE)
        await closed_by_server(ws, 2)
    # And the same once upgraded: the library's handler reads the frames of an upgraded socket.
    sid = await open_polling(c)
    async with websockets.asyncio.client.connect(
        url.replace("http", "ws") + f"/socket.io/?EIO=4&transport=websocket&sid={sid}",
    ) as ws:
        await ws.send("2probe")
        assert await ws.recv() == "3probe"
        await ws.send("5")
        await ws.send(frame)
        await closed_by_server(ws, 2)
    await forgotten(app, sid)
    assert loud(caplog) == []


async def test_a_websocket_that_never_sends_connect_is_closed_after_the_deadline(
    make_settings: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A signing key of its own: the hub warns at start-up about a generated one beside a shared database.
    settings = make_settings(ws_connect_timeout=0.5, signing_key="B" * 43)
    async with (
        running_hub(settings) as (url, app),
        websockets.asyncio.client.connect(
            url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket",
        ) as ws,
    ):
        assert str(await ws.recv()).startswith("0")
        loop = asyncio.get_running_loop()
        started = loop.time()
        await closed_by_server(ws, 3)
        assert loop.time() - started >= 0.4  # not before its deadline
        assert engine(app).sockets == {}
    assert loud(caplog) == []


@pytest.mark.settings(ws_connect_timeout=0.5)
async def test_a_refused_connect_does_not_keep_the_websocket_past_the_deadline(running: Running) -> None:
    async with websockets.asyncio.client.connect(
        running.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket",
    ) as ws:
        assert str(await ws.recv()).startswith("0")
        await ws.send("40" + json.dumps({"token": "not-a-token"}))
        assert str(await ws.recv()).startswith("44")  # CONNECT_ERROR
        await closed_by_server(ws, 3)


@pytest.mark.settings(ws_connect_timeout=0.3, ws_ping_interval=1)
async def test_a_connected_socket_outlives_the_connect_deadline(running: Running) -> None:
    url, c = running.url, running.http
    user = await guest(c)
    async with websockets.asyncio.client.connect(
        url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket",
    ) as ws:
        assert str(await ws.recv()).startswith("0")
        await ws.send("40" + json.dumps({"token": user.token}))
        assert str(await ws.recv()).startswith("40")
        # The first PING comes a second in, well past the connect deadline; the socket still answers.
        assert await asyncio.wait_for(ws.recv(), 5) == "2"
        await ws.send("3")
        await ws.send('421["nope",{}]')
        assert str(await ws.recv()).startswith("431")


async def test_a_kicked_websocket_is_closed_by_the_server_promptly(running: Running) -> None:
    url, app, c = running.url, running.app, running.http
    user = await guest(c)
    async with websockets.asyncio.client.connect(
        url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket",
    ) as ws:
        assert str(await ws.recv()).startswith("0")
        await ws.send("40" + json.dumps({"token": user.token}))
        assert str(await ws.recv()).startswith("40")
        r = await c.post("/auth/logout", headers={"Authorization": f"Bearer {user.token}"})
        assert r.status_code == 204, r.text
        # This client ignores the DISCONNECT packet; the server must close the WebSocket itself.
        frames = await closed_by_server(ws, 2)
    assert any(f.startswith('42["kicked"') for f in frames), frames
    assert "41" in frames, frames
    await forgotten(app)


async def test_a_kicked_polling_session_is_told_why_then_forgotten_even_if_it_never_polls(running: Running) -> None:
    app, c = running.app, running.http
    user = await guest(c)
    polling, silent = await open_polling(c), await open_polling(c)
    for sid in (polling, silent):
        r = await c.post(f"{EIO}&sid={sid}", content=("40" + json.dumps({"token": user.token})).encode())
        assert r.status_code == 200
        r = await c.get(f"{EIO}&sid={sid}")
        assert r.text.startswith("40")
    r = await c.post("/auth/logout", headers={"Authorization": f"Bearer {user.token}"})
    assert r.status_code == 204
    # The client that polls again collects why it was disconnected.
    r = await c.get(f"{EIO}&sid={polling}")
    packets = r.text.split("\x1e")
    assert any(p.startswith('42["kicked"') for p in packets) and "41" in packets, packets
    # The hub does not wait for the one that never polls again: both sessions are soon gone.
    await forgotten(app, polling, silent, timeout=4)  # a polling client has 2 s to come back for them
    r = await c.get(f"{EIO}&sid={silent}")
    assert r.status_code == 400 and r.json()["error"]["code"] == "session_not_found"
