"""Group commit for strokes: everything that arrives while a commit is in flight (or within a short
window) goes into the next single transaction, so N busy sockets cost one INSERT and one COMMIT
instead of N. Each caller still gets its own result, and only after the COMMIT returned.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from hub.ports.whiteboard import CommitResult, PendingStroke, StrokeStore

log = logging.getLogger(__name__)

# Called with every committed batch before callers are released (replay append, broadcast).
AfterCommit = Callable[[Sequence[PendingStroke], Sequence[CommitResult]], Awaitable[None]]


class GroupCommitter:
    """Batches `submit` calls into `StrokeStore.commit_strokes` transactions, one at a time."""

    def __init__(
        self,
        store: StrokeStore,
        *,
        window: float,
        max_batch: int = 256,
        after_commit: AfterCommit | None = None,
        observe_size: Callable[[int], None] | None = None,
    ) -> None:
        self._store = store
        self._window = window
        self._max_batch = max_batch
        self._after_commit = after_commit
        self._observe = observe_size
        self._queue: list[tuple[PendingStroke, asyncio.Future[CommitResult]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def submit(self, item: PendingStroke) -> CommitResult:
        if self._closed:
            raise RuntimeError("group committer is closed")
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="stroke-group-commit")
        future: asyncio.Future[CommitResult] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        self._wake.set()
        return await future

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            if self._window > 0:
                # A few milliseconds of patience turns a burst from many sockets into one COMMIT.
                await asyncio.sleep(self._window)
            batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
            if not self._queue:
                self._wake.clear()
            batch = [(item, fut) for item, fut in batch if not fut.done()]
            if batch:
                await self._commit(batch)

    async def _commit(self, batch: list[tuple[PendingStroke, asyncio.Future[CommitResult]]]) -> None:
        items = [item for item, _ in batch]
        try:
            results = await self._store.commit_strokes(items)
        except Exception as exc:
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            return
        if self._observe:
            self._observe(len(items))
        if self._after_commit is not None:
            try:
                await self._after_commit(items, results)
            except Exception:
                # Committed is committed: a replay or fan-out hiccup must not turn into a failed ack.
                log.exception("after-commit hook failed")
        for (_, fut), result in zip(batch, results, strict=True):
            if not fut.done():
                fut.set_result(result)

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for _, fut in self._queue:
            if not fut.done():
                fut.cancel()
        self._queue.clear()
