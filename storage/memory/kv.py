"""In-process key/value with expiry (the embedded mode's `hub.ports.KeyValueTTL`)."""

from __future__ import annotations

import time


class MemoryKV:
    """Implements `hub.ports.KeyValueTTL`; expired keys are dropped lazily and on a size sweep."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[str, float]] = {}

    def _sweep(self) -> None:
        now = time.monotonic()
        for key in [k for k, (_, exp) in self._data.items() if exp <= now]:
            del self._data[key]

    async def set(self, key: str, value: str, ttl_seconds: int) -> None:
        if len(self._data) > 10_000:
            self._sweep()
        self._data[key] = (value, time.monotonic() + max(1, ttl_seconds))

    async def get(self, key: str) -> str | None:
        item = self._data.get(key)
        if item is None:
            return None
        if item[1] <= time.monotonic():
            del self._data[key]
            return None
        return item[0]

    async def set_if_absent(self, key: str, value: str, ttl_seconds: int) -> bool:
        if await self.get(key) is not None:
            return False
        await self.set(key, value, ttl_seconds)
        return True

    async def close(self) -> None:
        self._data.clear()
