"""Helpers for whiteboard tests: guests and spaces through REST, recording Socket.IO clients."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import socketio


@dataclass
class User:
    token: str
    user_id: str
    name: str


async def guest(client: httpx.AsyncClient, name: str | None = None) -> User:
    display = name or ("Guest " + secrets.token_hex(3))
    r = await client.post("/auth/guest", json={"display_name": display})
    assert r.status_code == 201, r.text
    body = r.json()
    return User(body["access_token"], body["user"]["id"], display)


async def space(client: httpx.AsyncClient, owner: User, *members: User, link_role: str = "editor") -> str:
    r = await client.post(
        "/spaces",
        json={"name": "Board", "visibility": "link", "link_role": link_role},
        headers={"Authorization": f"Bearer {owner.token}"},
    )
    assert r.status_code == 201, r.text
    space_id: str = r.json()["id"]
    for m in members:
        j = await client.post(f"/spaces/{space_id}/join", headers={"Authorization": f"Bearer {m.token}"})
        assert j.status_code in (200, 201), j.text
    return space_id


def stroke(space_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "space_id": space_id,
        "id": str(uuid.uuid4()),
        "tool": "pen",
        "color": "#112233",
        "width": 2.5,
        "points": [[0, 0, 0.5], [10.5, 20.25, 0.75], [30, 40]],
    }
    body.update(overrides)
    return body


class Sock:
    """A real Socket.IO client that records every server event for `wait_for`."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.events: dict[str, list[Any]] = defaultdict(list)
        self._changed = asyncio.Condition()
        self.disconnected = asyncio.Event()
        self.client.on("*", self._record)
        self.client.on("disconnect", self._on_disconnect)

    async def _record(self, event: str, data: Any = None) -> None:
        async with self._changed:
            self.events[event].append(data)
            self._changed.notify_all()

    async def _on_disconnect(self, reason: Any = None) -> None:
        self.disconnected.set()

    async def connect(self, url: str, token: str | None) -> Sock:
        auth = {"token": token} if token is not None else None
        await self.client.connect(url, auth=auth, transports=["websocket"], wait_timeout=5)
        return self

    async def call(self, event: str, data: Any, timeout: float = 5) -> Any:
        return await self.client.call(event, data, timeout=timeout)

    async def wait_for(self, event: str, match: Callable[[Any], bool] = lambda _: True, timeout: float = 5) -> Any:
        async def find() -> Any:
            async with self._changed:
                while True:
                    for item in self.events[event]:
                        if match(item):
                            return item
                    await self._changed.wait()

        return await asyncio.wait_for(find(), timeout)

    async def close(self) -> None:
        await self.client.disconnect()


async def connect(url: str, user: User) -> Sock:
    return await Sock().connect(url, user.token)


@dataclass(frozen=True)
class Board:
    """Alice and Bob, members (editors) of one link space, each with a connected socket that has not
    joined the space yet."""

    space_id: str
    alice: User
    bob: User
    a: Sock
    b: Sock


@contextlib.asynccontextmanager
async def two_on_a_board(url: str, client: httpx.AsyncClient, bob_url: str | None = None) -> AsyncIterator[Board]:
    """A `Board` on the hub at `url` (Bob's socket on `bob_url`, another instance, if given); both sockets
    are closed on the way out, whatever happened."""
    alice, bob = await guest(client, "Alice"), await guest(client, "Bob")
    space_id = await space(client, alice, bob)
    async with contextlib.AsyncExitStack() as stack:
        a = await connect(url, alice)
        stack.push_async_callback(a.close)
        b = await connect(bob_url or url, bob)
        stack.push_async_callback(b.close)
        yield Board(space_id, alice, bob, a, b)
