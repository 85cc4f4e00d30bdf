"""Queue and event primitives: what `asyncio.Queue` and `asyncio.Event` do here, without their idle deques.

An `asyncio.Queue` is four deques, ~3 KB, before it holds anything, and an `asyncio.Event` one deque;
every open socket has a queue in python-engineio and a queue and an event in uvicorn. These keep only
what a waiting consumer needs, and only while it waits (`docs/performance.md`, "Memory per connection").
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


class LeanQueue:
    """The part of `asyncio.Queue` (unbounded) that python-engineio and uvicorn use, without four idle deques.

    One consumer (the socket's writer task, or uvicorn's `receive`) is all either ever has, so a lone
    waiting getter is kept as is, not in a list; a second consumer still works, the getters are
    woken in order. The item list gives its buffer back whenever it runs empty.
    """

    __slots__ = ("_finished", "_getters", "_items", "_unfinished")

    def __init__(self) -> None:
        self._items: list[Any] = []
        # None, the one waiting getter, or a list of them in arrival order.
        self._getters: asyncio.Future[None] | list[asyncio.Future[None]] | None = None
        self._unfinished = 0
        self._finished: asyncio.Event | None = None

    def qsize(self) -> int:
        return len(self._items)

    def empty(self) -> bool:
        return not self._items

    def waiting(self) -> bool:
        """A consumer is blocked in `get()` (so it holds nothing it has not handled yet)."""
        return self._getters is not None

    def _wake(self) -> None:
        while (getters := self._getters) is not None:
            if isinstance(getters, list):
                getter = getters.pop(0)
                if not getters:
                    self._getters = None
            else:
                getter, self._getters = getters, None
            if not getter.done():
                getter.set_result(None)
                return

    def _add_getter(self, getter: asyncio.Future[None]) -> None:
        getters = self._getters
        if getters is None:
            self._getters = getter
        elif isinstance(getters, list):
            getters.append(getter)
        else:
            self._getters = [getters, getter]

    def _remove_getter(self, getter: asyncio.Future[None]) -> None:
        getters = self._getters
        if getters is getter:
            self._getters = None
        elif isinstance(getters, list):
            with contextlib.suppress(ValueError):
                getters.remove(getter)
            if not getters:
                self._getters = None

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        self._unfinished += 1
        if self._finished is not None:
            self._finished.clear()
        self._wake()

    async def put(self, item: Any) -> None:
        self.put_nowait(item)

    def _pop(self) -> Any:
        items = self._items
        item = items.pop(0)
        if not items:
            items.clear()  # frees the buffer an emptied list keeps
        return item

    def get_nowait(self) -> Any:
        if not self._items:
            raise asyncio.QueueEmpty
        return self._pop()

    async def get(self) -> Any:
        while not self._items:
            getter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._add_getter(getter)
            try:
                await getter
            except BaseException:  # cancelled, e.g. by a timeout
                getter.cancel()
                self._remove_getter(getter)
                if self._items:
                    self._wake()  # a wake-up meant for us goes to the next consumer
                raise
        return self._pop()

    def task_done(self) -> None:
        if self._unfinished <= 0:
            raise ValueError("task_done() called too many times")
        self._unfinished -= 1
        if self._unfinished == 0 and self._finished is not None:
            self._finished.set()

    async def join(self) -> None:
        if self._unfinished:
            if self._finished is None:
                self._finished = asyncio.Event()
            await self._finished.wait()


class LeanEvent:
    """`asyncio.Event` (set, clear, is_set, wait) whose waiter list exists only while someone waits."""

    __slots__ = ("_value", "_waiters")

    def __init__(self) -> None:
        self._value = False
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._value

    def set(self) -> None:
        if self._value:
            return
        self._value = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._value = False

    async def wait(self) -> bool:
        if self._value:
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if self._waiters is not None:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
                if not self._waiters:
                    self._waiters = None
        return True
