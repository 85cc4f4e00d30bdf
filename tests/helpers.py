"""Small helpers shared by REST tests."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import httpx


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def comparable(r: httpx.Response) -> tuple[int, dict[str, Any]]:
    """An error answer without its request id: what must be byte-identical between two cases."""
    body: dict[str, Any] = r.json()
    body["error"].pop("request_id", None)
    return r.status_code, body


async def register(client: httpx.AsyncClient, name: str | None = None) -> dict[str, Any]:
    username = name or ("u" + secrets.token_hex(5))
    r = await client.post(
        "/auth/register",
        json={
            "username": username,
            "password": "correct horse battery",
            "display_name": username.title(),
        },
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def make_space(client: httpx.AsyncClient, token: str, **fields: Any) -> dict[str, Any]:
    r = await client.post("/spaces", json={"name": "Space " + secrets.token_hex(3), **fields}, headers=auth(token))
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def bus_events(hub: Any) -> asyncio.Queue[dict[str, Any]]:
    """Every event the hub publishes on its bus from now on, in order."""
    events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def collect(topic: str, event: dict[str, Any]) -> None:
        events.put_nowait(event)

    hub.bus.subscribe(collect)
    return events


async def next_event(events: asyncio.Queue[dict[str, Any]], kind: str, timeout: float = 15.0) -> dict[str, Any]:
    """The next event of type `kind` from `bus_events` (the ones before it are dropped)."""
    async with asyncio.timeout(timeout):
        while True:
            event = await events.get()
            if event["type"] == kind:
                return event
