"""Refused Socket.IO connects tell the client why (a code it can act on), and connects are limited per IP.

The packets are read off a raw WebSocket, so the assertions are about the exact bytes a client gets:
`44{"message": <sentence>, "data": {"code", "message", "details"?}}`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio
import websockets.asyncio.client
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.config import Settings
from hub.security import scope_client_address
from hub.services.tokens import TokenSigner
from tests.support import services
from tests.support.realtime import User, guest
from tests.support.server import Running, running_hub

DEADLINE = 5.0


async def socketio_connect(
    url: str, auth: Any = None, headers: dict[str, str] | None = None, *, send_auth: bool = True
) -> str:
    """Open a WebSocket, send the Socket.IO CONNECT (with `auth` unless told not to), return the reply."""
    ws_url = url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
    async with websockets.asyncio.client.connect(ws_url, additional_headers=headers) as ws:
        opened = str(await asyncio.wait_for(ws.recv(), DEADLINE))
        assert opened.startswith("0{"), opened  # Engine.IO OPEN
        await ws.send("40" + json.dumps(auth) if send_auth else "40")
        return str(await asyncio.wait_for(ws.recv(), DEADLINE))


def refusal(packet: str) -> dict[str, Any]:
    assert packet.startswith("44"), packet  # Socket.IO CONNECT_ERROR on the default namespace
    body: dict[str, Any] = json.loads(packet[2:])
    return body


def accepted(packet: str) -> bool:
    return packet.startswith("40{")


# The hub signs with a key of the test's own, so that the test can mint a token the hub takes for one of
# its own (expired, here) without going through the API.
SIGNING_KEY = Ed25519PrivateKey.generate()
own_signing_key = pytest.mark.settings(
    signing_key=SIGNING_KEY.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
)


@own_signing_key
async def test_refused_connects_carry_code_and_message_as_data(running: Running) -> None:
    url, c = running.url, running.http
    alice = await guest(c, "Alice")
    expired, _ = TokenSigner(SIGNING_KEY, "collab-hub").issue(sub=alice.user_id, typ="access", ttl=-60, sid="s")
    leaving = await guest(c, "Leaving")
    r = await c.post("/auth/logout", headers={"Authorization": f"Bearer {leaving.token}"})
    assert r.status_code == 204, r.text

    cases: list[tuple[str, dict[str, Any] | None, str, str]] = [
        ("expired", {"token": expired}, "token_expired", "The token has expired."),
        ("invalid", {"token": "not-a-jwt"}, "token_invalid", "The token is malformed."),
        ("revoked", {"token": leaving.token}, "token_revoked", "The session was revoked."),
        ("missing", None, "token_invalid", "An access token is required."),
        ("not a string", {"token": 12345}, "token_invalid", "An access token is required."),
    ]
    for name, auth, code, message in cases:
        packet = await socketio_connect(url, auth, send_auth=auth is not None)
        assert refusal(packet) == {"message": message, "data": {"code": code, "message": message}}, name

    # The good token still connects.
    assert accepted(await socketio_connect(url, {"token": alice.token}))


async def test_python_socketio_client_sees_the_code(running: Running) -> None:
    url = running.url
    client = socketio.AsyncClient(reconnection=False)
    seen: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    @client.on("connect_error")  # type: ignore[untyped-decorator]
    async def on_error(data: Any) -> None:
        if not seen.done():
            seen.set_result(data)

    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(url, auth={"token": "not-a-jwt"}, transports=["websocket"], wait_timeout=DEADLINE)
    # python-socketio hands over the whole packet; browsers expose its `data` as `error.data`.
    assert await asyncio.wait_for(seen, DEADLINE) == {
        "message": "The token is malformed.",
        "data": {"code": "token_invalid", "message": "The token is malformed."},
    }


@pytest.mark.settings(connect_rate_limit="3/minute")
async def test_connects_are_limited_per_ip_and_refused_with_retry_after(running: Running) -> None:
    url, c = running.url, running.http
    user = await guest(c, "Eager")
    replies = [await socketio_connect(url, {"token": user.token}) for _ in range(4)]
    assert [accepted(p) for p in replies] == [True, True, True, False]
    body = refusal(replies[3])
    data = body["data"]
    assert data["code"] == "rate_limited"
    assert data["message"] == body["message"] == "Too many connection attempts; wait before reconnecting."
    assert set(data) == {"code", "message", "details"}
    retry_after = data["details"]["retry_after"]
    assert isinstance(retry_after, int) and 1 <= retry_after <= 60
    # A bad token is limited too: the limit comes before any token work.
    assert refusal(await socketio_connect(url, {"token": "x"}))["data"]["code"] == "rate_limited"
    # The REST budget is a separate one.
    assert (await c.get("/auth/me", headers={"Authorization": f"Bearer {user.token}"})).status_code == 200


async def _connect_from(url: str, user: User, address: str) -> bool:
    return accepted(await socketio_connect(url, {"token": user.token}, {"X-Forwarded-For": f"10.9.9.9, {address}"}))


async def test_the_limit_keys_the_forwarded_address_only_behind_a_trusted_proxy(
    make_settings: Callable[..., Settings],
) -> None:
    async with running_hub(make_settings(connect_rate_limit="1/minute", trust_forwarded=True)) as (url, _):
        async with httpx.AsyncClient(base_url=url) as c:
            user = await guest(c)
        assert await _connect_from(url, user, "203.0.113.7")
        assert not await _connect_from(url, user, "203.0.113.7")
        assert await _connect_from(url, user, "203.0.113.8")  # another client behind the same proxy

    async with running_hub(make_settings(connect_rate_limit="1/minute", trust_forwarded=False)) as (url, _):
        async with httpx.AsyncClient(base_url=url) as c:
            user = await guest(c)
        assert await _connect_from(url, user, "203.0.113.7")
        # Untrusted, the header is the client's own claim: the peer address is what counts.
        assert not await _connect_from(url, user, "203.0.113.8")


async def test_a_dead_limiter_store_still_lets_connects_through(
    make_settings: Callable[..., Settings], service_root: Path
) -> None:
    """Connects need neither Redis for the limit (counted locally meanwhile) nor for the token check."""
    with services.redis_server(service_root / "redis-doomed") as redis:
        settings = make_settings(redis_url=redis.url, redis_prefix="doomed", connect_rate_limit="3/minute")
        async with running_hub(settings) as (url, _), httpx.AsyncClient(base_url=url) as c:
            user = await guest(c)
            assert accepted(await socketio_connect(url, {"token": user.token}))
            redis.stop()
            assert accepted(await socketio_connect(url, {"token": user.token}))
            # The local window still refuses a flood.
            answers = [await socketio_connect(url, {"token": user.token}) for _ in range(3)]
            assert not all(accepted(a) for a in answers)
            assert refusal(answers[-1])["data"]["code"] == "rate_limited"


def _scope(client: Any, *headers: tuple[bytes, bytes]) -> dict[str, Any]:
    return {"type": "websocket", "client": client, "headers": list(headers)}


def test_scope_client_address_mirrors_sanic(make_settings: Callable[..., Settings]) -> None:
    trusted, direct = make_settings(trust_forwarded=True), make_settings(trust_forwarded=False)
    xff = (b"x-forwarded-for", b"198.51.100.1, 2001:DB8::1")
    # Sanic takes the entry the one trusted proxy added (the last), brackets and lower-cases IPv6.
    assert scope_client_address(trusted, _scope(("127.0.0.1", 5000), xff)) == "[2001:db8::1]"
    assert scope_client_address(direct, _scope(("127.0.0.1", 5000), xff)) == "127.0.0.1"
    # "unknown" is omitted by Sanic, which then falls back to the peer.
    unknown = (b"x-forwarded-for", b"unknown")
    assert scope_client_address(trusted, _scope(("192.0.2.4", 1), unknown)) == "192.0.2.4"
    assert scope_client_address(direct, _scope(None)) == "unknown"
