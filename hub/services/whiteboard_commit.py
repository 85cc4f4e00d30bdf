"""Group commit for strokes, pipelined: N busy sockets cost one INSERT and one COMMIT instead of N,
and the next batch's transaction runs while the previous batch is fanned out.

Rules, and why:
- At most one transaction per space is in flight. Seq numbers are handed out under the board's row
  lock, so two in-flight batches of one space would only queue on that lock in PostgreSQL, and their
  COMMITs could come back to us in either order.
- Up to `max_inflight` transactions run at once for disjoint sets of spaces: a busy room does not
  hold back a quiet one.
- As soon as a batch's COMMIT returns, its spaces are free and the next batch starts (its BEGIN goes
  out before this batch's fan-out runs). The post-commit work (`after_commit`: replay append, fan-out)
  of a batch waits for that of the previous batch of the same spaces, so broadcasts leave in seq order.
- Callers are released (and acked) only after their batch's COMMIT and `after_commit` finished.
- The window (a few ms of patience that turns a burst into one COMMIT) is waited only when nothing is
  in flight yet; items that queued behind a running commit already waited long enough.
- While the oldest queued item has waited `max_wait` or longer, new items are refused (`Overloaded`)
  instead of queued: under more load than the database keeps up with, the queue would otherwise grow
  until every ack comes after its client gave up, and every resend queues again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hub.errors import Overloaded, ShuttingDown
from hub.ports.whiteboard import CommitResult, PendingStroke, StrokeStore
from hub.tasks import stop_tasks

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Committed:
    """One submitted stroke after its COMMIT: the item, its result and the submitter's tag."""

    item: PendingStroke
    result: CommitResult
    origin: Any


@dataclass(frozen=True, slots=True)
class CommitObserver:
    """Where the group committer reports its figures (Prometheus histograms in the hub).

    `size`: strokes per transaction; `commit`: seconds a transaction took (its round trip and the
    COMMIT's WAL flush); `ack`: seconds from `submit` to the caller's release, per stroke: the
    window, waiting for a busy space, the transaction and the post-commit fan-out.
    """

    size: Callable[[int], None] | None = None
    commit: Callable[[float], None] | None = None
    ack: Callable[[float], None] | None = None


# Called with every committed batch, in per-space commit order, before its callers are released.
AfterCommit = Callable[[Sequence[Committed]], Awaitable[None]]
# (item, origin, the caller's future, when it was queued by the loop's clock)
_Entry = tuple[PendingStroke, Any, "asyncio.Future[CommitResult]", float]


class GroupCommitter:
    """Batches `submit` calls into `StrokeStore.commit_strokes` transactions (see the module docstring)."""

    def __init__(
        self,
        store: StrokeStore,
        *,
        window: float,
        max_batch: int = 256,
        max_inflight: int = 2,
        after_commit: AfterCommit | None = None,
        observe: CommitObserver | None = None,
        max_wait: float = 0.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._store = store
        self._max_wait = max_wait  # 0: never refuse
        self._clock = clock  # None: the running loop's clock
        self._window = window
        self._max_batch = max_batch
        self._max_inflight = max(1, max_inflight)
        self._after_commit = after_commit
        self._observe = observe or CommitObserver()
        self._queue: list[_Entry] = []
        self._busy: set[str] = set()  # spaces with a transaction in flight
        # space -> the post-commit "done" future of the latest batch that touched it.
        self._tail: dict[str, asyncio.Future[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()  # every batch not finished yet
        self._inflight = 0  # batches whose transaction has not returned yet
        self._timer: asyncio.TimerHandle | asyncio.Handle | None = None
        self._closed = False

    @property
    def queued(self) -> int:
        """Strokes waiting for a transaction (not counting those in one)."""
        return len(self._queue)

    async def submit(self, item: PendingStroke, origin: Any = None) -> CommitResult:
        if self._closed:
            raise ShuttingDown()
        loop = asyncio.get_running_loop()
        clock = self._clock or loop.time
        now = clock()
        if self._max_wait and self._queue and now - self._queue[0][3] >= self._max_wait:
            raise Overloaded()
        future: asyncio.Future[CommitResult] = loop.create_future()
        self._queue.append((item, origin, future, now))
        if item.space_id not in self._busy and self._timer is None:
            if self._window > 0 and not self._inflight:
                self._timer = loop.call_later(self._window, self._fire)
            else:
                self._timer = loop.call_soon(self._fire)
        if self._observe.ack is None:
            return await future
        try:
            return await future
        finally:
            self._observe.ack(clock() - now)

    def _fire(self) -> None:
        self._timer = None
        self._pump()

    def _pump(self) -> None:
        """Start transactions for queued items of free spaces, up to `max_inflight` at once."""
        while self._queue and self._inflight < self._max_inflight and not self._closed:
            batch: list[_Entry] = []
            rest: list[_Entry] = []
            spaces: set[str] = set()
            for entry in self._queue:
                space = entry[0].space_id
                if entry[2].done():
                    continue  # the caller went away before its stroke was sent
                if len(batch) < self._max_batch and space not in self._busy:
                    batch.append(entry)
                    spaces.add(space)
                else:
                    rest.append(entry)
            self._queue = rest
            if not batch:
                return
            self._busy |= spaces
            self._inflight += 1
            previous = [self._tail[s] for s in spaces if s in self._tail]
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            for s in spaces:
                self._tail[s] = done
            task = asyncio.create_task(self._commit(batch, spaces, previous, done), name="stroke-group-commit")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _commit(
        self,
        batch: list[_Entry],
        spaces: set[str],
        previous: list[asyncio.Future[None]],
        done: asyncio.Future[None],
    ) -> None:
        items = [item for item, *_ in batch]
        loop = asyncio.get_running_loop()
        try:
            try:
                started = loop.time()
                results = await self._store.commit_strokes(items)
                if self._observe.commit is not None:
                    self._observe.commit(loop.time() - started)
            except Exception as exc:
                self._release(spaces)
                for _, _, fut, _ in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                return
            # Free the spaces first: the next batch's transaction overlaps with this batch's fan-out.
            self._release(spaces)
            if self._observe.size is not None:
                self._observe.size(len(items))
            for prev in previous:
                await asyncio.shield(prev)  # the earlier batch's broadcasts go out first
            if self._after_commit is not None:
                try:
                    pairs = zip(batch, results, strict=True)
                    await self._after_commit([Committed(e[0], result, e[1]) for e, result in pairs])
                except Exception:
                    # Committed is committed: a replay or fan-out hiccup must not turn into a failed ack.
                    log.exception("after-commit hook failed")
            for (_, _, fut, _), result in zip(batch, results, strict=True):
                if not fut.done():
                    fut.set_result(result)
        finally:
            # Cancelled at shutdown: whether the transaction committed is unknown, and a resend with the
            # same stroke id is idempotent, so the senders are told to resend.
            for _, _, fut, _ in batch:
                if not fut.done():
                    fut.set_exception(ShuttingDown())
            if not done.done():
                done.set_result(None)
            for s in spaces:
                if self._tail.get(s) is done:
                    del self._tail[s]
            self._pump()

    def _release(self, spaces: set[str]) -> None:
        self._busy -= spaces
        self._inflight -= 1
        self._pump()

    async def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await stop_tasks(self._tasks)
        # Strokes still queued were never committed: their senders get a code to resend on, not a crash.
        for _, _, fut, _ in self._queue:
            if not fut.done():
                fut.set_exception(ShuttingDown())
        self._queue.clear()
