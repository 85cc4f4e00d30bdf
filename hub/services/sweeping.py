"""The loop every periodic sweeper runs (expired spaces, bins, revocations)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def every(interval: float, step: Callable[[], Awaitable[object]], what: str) -> None:
    """Run `step` now and then every `interval` seconds, forever; a failed round is logged, not fatal."""
    while True:
        try:
            await step()
        except Exception:  # the sweeper must survive a database blip
            log.exception("%s sweep failed", what)
        await asyncio.sleep(interval)
