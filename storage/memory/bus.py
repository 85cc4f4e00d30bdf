"""In-process event bus: publish calls every subscriber directly."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from hub.ports.infra import BusHandler

log = logging.getLogger(__name__)


class MemoryBus:
    """Implements `hub.ports.Bus` for a single process."""

    name = "memory-bus"

    def __init__(self) -> None:
        self._handlers: list[BusHandler] = []

    def subscribe(self, handler: BusHandler) -> None:
        self._handlers.append(handler)

    async def publish(self, topic: str, event: dict[str, Any]) -> None:
        for handler in self._handlers:
            try:
                await handler(topic, event)
            except Exception:  # one bad subscriber must not break the publisher
                log.exception("bus handler failed", extra={"fields": {"topic": topic}})

    async def publish_many(self, messages: Sequence[tuple[str, dict[str, Any]]]) -> None:
        for topic, event in messages:
            await self.publish(topic, event)

    async def start(self) -> None:
        return None

    async def check(self) -> None:
        return None

    async def close(self) -> None:
        self._handlers.clear()
