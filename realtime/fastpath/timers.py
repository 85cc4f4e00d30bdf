"""Many per-socket timeouts on one event-loop timer, and the deadline of one task's waits on it.

A `loop.call_at` handle (uvloop: a handle, a libuv timer and a bound method) costs ~550 B, and an
`asyncio.wait_for` a task, a future and a timer handle; every idle socket has a ping timer and two
bounded waits. Here they are heap entries of one `Timers` per Engine.IO server.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Expire = Callable[[Any, float], "float | None"]


class Timers:
    """Per-socket timeouts of one Engine.IO server on a single event-loop timer.

    A `loop.call_at` handle (uvloop: a handle, a libuv timer and a bound method) costs ~550 B; an
    entry here is one heap tuple. `push(due, expire, arg)` calls `expire(arg, now)` once `due` has
    passed; if it returns a later time the entry is pushed again for then (a deadline that moved
    is rechecked, never missed). All entries belong to the event loop of the first push; `usable()`
    says whether the current loop is that one (callers fall back to the library's path if not).
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Expire, Any]] = []
        self._count = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return len(self._heap)

    def usable(self) -> bool:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        return self._loop is None or self._loop is loop or not self._heap

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def push(self, due: float, expire: Expire, arg: Any) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop, self._timer = loop, None  # only when empty: see usable()
        self._count += 1
        heapq.heappush(self._heap, (due, self._count, expire, arg))
        if self._heap[0][1] == self._count:  # the new entry is the earliest
            if self._timer is not None:
                self._timer.cancel()
            self._timer = loop.call_at(due, self._fire)

    def _fire(self) -> None:
        self._timer = None
        loop = self._loop
        if loop is None:  # pragma: no cover - set before any timer exists
            return
        now = loop.time()
        heap = self._heap
        later: list[tuple[float, Expire, Any]] = []
        while heap and heap[0][0] <= now:
            _, _, expire, arg = heapq.heappop(heap)
            try:
                again = expire(arg, now)
            except Exception:  # one socket's trouble must not stop everyone's timers
                log.exception("socket timer failed")
                continue
            if again is not None:
                later.append((again, expire, arg))
        for again, expire, arg in later:  # after the loop: an entry is looked at once per firing
            self._count += 1
            heapq.heappush(heap, (max(again, now + 0.001), self._count, expire, arg))
        if heap:
            self._timer = loop.call_at(heap[0][0], self._fire)


class Deadline:
    """The deadline of one task's waits on `Timers`: past it, the task is cancelled, as `asyncio.timeout` would.

    A task that waits again and again (a socket's reader, its writer) keeps one `Deadline` and enters
    it around each wait, `with deadline: await ...`: the wait is bounded by `timeout` from when it
    starts. A `CancelledError` that leaves the wait because of the deadline has its cancellation
    consumed (`fired` is then true); one from outside is left as it is. Either way the error goes on
    to the caller. One heap entry per task, not a timer per wait: while the task is not waiting, the
    entry is looked at again every second, and after `finish()` it is dropped when it comes due.
    (While a wait lasts, the `with` holds the bound `__exit__`: 64 B per waiting task, what a
    `try`/`finally` around each wait would save at the price of repeating it.)
    """

    __slots__ = ("armed", "done", "due", "fired", "task", "timeout", "timers")

    def __init__(self, task: asyncio.Task[Any], timers: Timers, timeout: float) -> None:
        self.task: asyncio.Task[Any] | None = task
        self.timers = timers
        self.timeout = timeout
        self.due = 0.0
        self.armed = False  # the task is suspended in the bounded wait
        self.fired = False
        self.done = False

    @classmethod
    def start(cls, timers: Timers, timeout: float) -> Deadline:
        """A deadline for the current task's waits on `timers`, first due `timeout` from now."""
        task = asyncio.current_task()
        assert task is not None
        deadline = cls(task, timers, timeout)
        timers.push(timers.now() + timeout, cls.expire, deadline)
        return deadline

    def __enter__(self) -> Deadline:
        self.due = self.timers.now() + self.timeout
        self.armed = True
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        self.armed = False
        if exc_type is not None and issubclass(exc_type, asyncio.CancelledError):
            self.timed_out()

    @staticmethod
    def expire(deadline: Deadline, now: float) -> float | None:
        if deadline.done or deadline.task is None:
            return None
        if not deadline.armed:
            return now + 1.0  # not waiting now: look again (the next wait sets a later due)
        if deadline.due > now:
            return deadline.due
        deadline.fired = True
        deadline.task.cancel()
        return None

    def timed_out(self) -> bool:
        """After a `CancelledError`: was it this deadline? Then the cancellation is consumed."""
        if self.fired and self.task is not None:
            self.task.uncancel()
            return True
        return False

    def finish(self) -> None:
        """The bounded loop is over; the heap entry is dropped when it comes due (no task kept alive)."""
        self.done = True
        self.task = None
