"""Infrastructure ports shared by every capability."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, runtime_checkable

BusHandler = Callable[[str, dict[str, Any]], Awaitable[None]]


@runtime_checkable
class HealthCheck(Protocol):
    """Anything /readyz asks: answers quickly, raises when not ready."""

    name: str

    async def check(self) -> None: ...


class Database(Protocol):
    """The relational store as the core sees it: health and pool figures only.

    Queries live in repositories in `storage/postgres`; the core never sees a driver.
    """

    name: str

    async def check(self) -> None: ...

    def pool_stats(self) -> tuple[int, int]:
        """(size, idle) of the connection pool."""
        ...

    async def close(self) -> None: ...


class ExclusiveLock(Protocol):
    """A lock shared by every instance: `async with lock.hold(name) as held:` runs the body with `held`
    True in at most one process at a time, False (at once, without waiting) in the others."""

    def hold(self, name: str) -> AbstractAsyncContextManager[bool]: ...


class Bus(Protocol):
    """Publishes domain events to every hub instance (including this one), after commit.

    Topics and event types are named by ``hub.events`` (a space's, a whiteboard room's relay, a user's);
    events are JSON-able dicts with a ``type``. Delivery to local subscribers happens first and does not
    wait for the network.
    """

    name: str

    async def publish(self, topic: str, event: dict[str, Any]) -> None: ...

    async def publish_many(self, messages: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """`publish` each (topic, event) in order, in as few round trips as the backend allows (a fan-out
        to thousands of users' topics)."""
        ...

    def subscribe(self, handler: BusHandler) -> None: ...

    async def start(self) -> None: ...

    async def check(self) -> None: ...

    async def close(self) -> None: ...


class RateLimiter(Protocol):
    """A limiter over a sliding window. `hit` returns 0 when allowed, else seconds until a retry may succeed."""

    async def hit(self, limit: str, *keys: str) -> int: ...

    async def close(self) -> None: ...
