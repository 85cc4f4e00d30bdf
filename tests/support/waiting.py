"""Waiting on a condition, never on a fixed time: the one polling helper of the suite."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")


@overload
async def eventually(
    condition: Callable[[], Awaitable[T]],
    *,
    timeout: float = ...,
    interval: float = ...,
    ignore: tuple[type[BaseException], ...] = ...,
    message: str = ...,
) -> T: ...


@overload
async def eventually(
    condition: Callable[[], T],
    *,
    timeout: float = ...,
    interval: float = ...,
    ignore: tuple[type[BaseException], ...] = ...,
    message: str = ...,
) -> T: ...


async def eventually(
    condition: Callable[[], Any],
    *,
    timeout: float = 10.0,
    interval: float = 0.05,
    ignore: tuple[type[BaseException], ...] = (),
    message: str = "condition not reached",
) -> Any:
    """Poll `condition` (a plain or an async callable) until it returns something truthy, and return that.

    Fails with an AssertionError after `timeout` seconds. Exceptions of the `ignore` types count as "not
    yet" (a server that is still starting refuses connections); any other exception fails at once. Use it
    where nothing can signal the condition (rows written by a sweeper, a process becoming ready); where
    an event can be awaited, await the event instead.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            result = condition()
            if inspect.isawaitable(result):
                result = await result
        except ignore:
            result = None
        if result:
            return result
        if loop.time() >= deadline:
            raise AssertionError(f"timed out after {timeout} s: {message}")
        await asyncio.sleep(interval)
