"""Background tasks: the loop every periodic sweeper runs, and stopping tasks for sure at shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

log = logging.getLogger(__name__)


# Seconds a closing component gives its own tasks to finish after they are cancelled.
STOP_TIMEOUT = 5.0


async def every(interval: float, step: Callable[[], Awaitable[object]], what: str) -> None:
    """Run `step` now and then every `interval` seconds, forever; a failed round is logged, not fatal.

    `what` names the work in that log line ("space sweep", "metrics sample")."""
    while True:
        try:
            await step()
        except Exception:  # the loop must survive a database blip
            log.exception("%s failed", what)
        await asyncio.sleep(interval)


async def stop_tasks(tasks: Iterable[asyncio.Task[Any]], timeout: float = STOP_TIMEOUT) -> None:
    """Cancel the tasks and wait until they are done, for at most `timeout` seconds.

    One `cancel()` is not enough: a cancellation can be lost on its way through a task (Python 3.11's
    `asyncio.wait_for` returns the inner result when both finish in the same loop turn, and a library
    may catch `CancelledError`), and the task then goes on waiting forever. So the tasks still running
    are cancelled again every half second (time enough for a task's own cleanup) until they are done
    or the time is up.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    started = list(tasks)
    pending = {task for task in started if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        left = deadline - loop.time()
        if left <= 0:
            names = sorted(task.get_name() for task in pending)
            log.warning("background tasks did not stop in time", extra={"fields": {"tasks": names}})
            return
        _, pending = await asyncio.wait(pending, timeout=min(left, 0.5))
    for task in started:
        if not task.cancelled() and task.exception() is not None:
            error = repr(task.exception())
            log.warning(
                "a background task ended with an error", extra={"fields": {"task": task.get_name(), "error": error}}
            )
