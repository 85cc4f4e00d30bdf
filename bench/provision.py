"""Users, spaces and memberships for a benchmark: real ones through the hub's REST API, made-up ones
for the reference server (which accepts any token and creates rooms on first join)."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import httpx

from bench.procs import BenchError

Rooms = list[dict[str, Any]]  # [{"space_id": str, "tokens": [str, ...]}], the load generator's layout


def reference_rooms(rooms: int, clients: int, tag: str) -> Rooms:
    run = secrets.token_hex(4)
    return [{"space_id": f"{tag}-{run}-{r}", "tokens": [f"user-{r}-{i}" for i in range(clients)]} for r in range(rooms)]


async def _post(client: httpx.AsyncClient, path: str, body: dict[str, Any], token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post(path, json=body, headers=headers)
    if response.status_code >= 300:
        raise BenchError(f"POST {path} -> {response.status_code}: {response.text[:300]}")
    return response.json()


async def _hub_rooms(url: str, rooms: int, clients: int, tag: str, concurrency: int) -> Rooms:
    gate = asyncio.Semaphore(concurrency)
    # Idle connections are dropped well before the hub's 5 s keep-alive timeout: a connection reused
    # just as the server closes it fails with a ReadError (seen once on a loaded machine, 10,000 guests).
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency, keepalive_expiry=1.0)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:

        async def guest(name: str) -> str:
            async with gate:
                body = await _post(client, "/auth/guest", {"display_name": name})
            return str(body["access_token"])

        async def member(name: str, invite: str) -> str:
            token = await guest(name)
            async with gate:
                await _post(client, "/spaces/join", {"token": invite}, token)
            return token

        async def room(r: int) -> dict[str, Any]:
            owner = await guest(f"{tag}-{r}-owner")
            async with gate:
                space = await _post(client, "/spaces", {"name": f"bench {tag} {r}"}, owner)
                invite = await _post(client, f"/spaces/{space['id']}/invites", {"role": "editor"}, owner)
            others = await asyncio.gather(*(member(f"{tag}-{r}-{i}", invite["token"]) for i in range(1, clients)))
            return {"space_id": space["id"], "tokens": [owner, *others]}

        return list(await asyncio.gather(*(room(r) for r in range(rooms))))


def hub_rooms(url: str, rooms: int, clients: int, tag: str, concurrency: int = 16) -> Rooms:
    """Guests, one space per room (owned by its first client) and editor memberships for the rest."""
    return asyncio.run(_hub_rooms(url, rooms, clients, tag, concurrency))
