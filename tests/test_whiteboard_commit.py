"""GroupCommitter: pipelined group commit with per-space order (a scripted store, no database)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import pytest

from hub.errors import Overloaded, ShuttingDown
from hub.ports.whiteboard import BoardHistory, BoardPosition, CommitResult, PendingStroke, Removal, StoredStroke, Stroke
from hub.services.whiteboard_commit import Committed, GroupCommitter
from tests.support.waiting import eventually


class ScriptedStore:
    """A StrokeStore whose commits finish only when the test releases them, in any order."""

    def __init__(self) -> None:
        self.seq: dict[str, int] = {}
        self.started: list[list[str]] = []  # space ids of each commit, in start order
        self.gates: list[asyncio.Event] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.changed = asyncio.Condition()

    async def commit_strokes(self, items: Sequence[PendingStroke]) -> list[CommitResult]:
        gate = asyncio.Event()
        async with self.changed:
            self.started.append([it.space_id for it in items])
            self.gates.append(gate)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.changed.notify_all()
        await gate.wait()
        self.in_flight -= 1
        results = []
        for it in items:
            self.seq[it.space_id] = self.seq.get(it.space_id, 0) + 1
            results.append(CommitResult(self.seq[it.space_id]))
        return results

    async def wait_started(self, n: int) -> None:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(lambda: len(self.started) >= n), 2)

    async def position(self, space_id: str) -> BoardPosition:
        return BoardPosition(self.seq.get(space_id, 0), "e")

    async def snapshot(self, space_id: str) -> tuple[BoardPosition, list[StoredStroke]]:
        return await self.position(space_id), []

    async def history(self, space_id: str, epoch: str, after: int, limit: int) -> BoardHistory | None:
        return None

    async def erase(self, space_id: str, ids: Sequence[str], by: str) -> Removal | None:
        return None

    async def clear(self, space_id: str, by: str) -> Removal | None:
        return None

    async def undo(self, space_id: str, author_id: str) -> Removal | None:
        return None


def pending(space_id: str) -> PendingStroke:
    return PendingStroke(space_id, str(uuid.uuid4()), Stroke(str(uuid.uuid4()), "pen", "#000000", 1.0, [[0, 0]]))


async def test_next_batch_commits_while_the_previous_fans_out_and_order_is_kept() -> None:
    store = ScriptedStore()
    fanned: list[int] = []
    hold_first = asyncio.Event()

    async def after_commit(batch: Sequence[Committed]) -> None:
        if batch[0].item.space_id != "a":
            return  # the barrier's space (below)
        if batch[0].result.seq == 1:
            await hold_first.wait()  # the first batch's fan-out is slow
        fanned.extend(c.result.seq for c in batch if c.result.seq is not None)

    committer = GroupCommitter(store, window=0, after_commit=after_commit)
    first = asyncio.create_task(committer.submit(pending("a"), "conn-1"))
    await store.wait_started(1)
    second = asyncio.create_task(committer.submit(pending("a"), "conn-2"))
    await asyncio.sleep(0)
    assert len(store.started) == 1  # one transaction per space at a time
    store.gates[0].set()
    await store.wait_started(2)  # the second batch's transaction started during the first's fan-out
    store.gates[1].set()
    # A barrier: a stroke of another space, submitted after the second COMMIT was released, is acked;
    # by then the second batch had its chance to fan out and ack, and must not have taken it.
    barrier = asyncio.create_task(committer.submit(pending("b")))
    await store.wait_started(3)
    store.gates[2].set()
    await asyncio.wait_for(barrier, 2)
    assert fanned == [] and not first.done() and not second.done()  # no ack before its fan-out
    hold_first.set()
    assert (await first).seq == 1 and (await second).seq == 2
    assert fanned == [1, 2]  # seq order, though the second COMMIT returned first
    await committer.close()


async def test_spaces_commit_concurrently_up_to_the_limit_and_queued_items_batch() -> None:
    store = ScriptedStore()
    committer = GroupCommitter(store, window=0, max_inflight=2)
    tasks = [asyncio.create_task(committer.submit(pending(s))) for s in ("a", "b", "c")]
    await store.wait_started(1)
    assert store.started[0] == ["a", "b", "c"]  # submitted in one loop turn: one batch
    more = [asyncio.create_task(committer.submit(pending(s))) for s in ("a", "a", "d")]
    await store.wait_started(2)
    assert store.started[1] == ["d"]  # a is busy; d may commit beside it
    # No wait for "nothing else started": the next transaction to start (below) must be a's.
    assert len(store.started) == 2 and store.max_in_flight == 2
    store.gates[0].set()
    await store.wait_started(3)
    assert store.started[2] == ["a", "a"]  # both queued strokes of a in the next batch
    for gate in store.gates:
        gate.set()
    results = await asyncio.gather(*tasks, *more)
    assert [r.seq for r in results] == [1, 1, 1, 2, 3, 1]
    await committer.close()


async def test_a_failed_commit_fails_its_callers_and_frees_the_space() -> None:
    class Failing(ScriptedStore):
        async def commit_strokes(self, items: Sequence[PendingStroke]) -> list[CommitResult]:
            if not self.started:
                self.started.append([])
                raise RuntimeError("database down")
            return await super().commit_strokes(items)

    store = Failing()
    committer = GroupCommitter(store, window=0)
    with pytest.raises(RuntimeError) as failed:
        await committer.submit(pending("a"))
    assert str(failed.value) == "database down"
    task = asyncio.create_task(committer.submit(pending("a")))
    await store.wait_started(2)
    store.gates[0].set()
    assert (await task).seq == 1
    await committer.close()


async def test_strokes_left_at_close_and_after_it_get_shutting_down() -> None:
    store = ScriptedStore()
    committer = GroupCommitter(store, window=0)
    in_flight = asyncio.create_task(committer.submit(pending("a")))
    await store.wait_started(1)
    queued = asyncio.create_task(committer.submit(pending("a")))  # a is busy: it waits in the queue
    await asyncio.sleep(0)
    await asyncio.wait_for(committer.close(), 10)
    for task in (in_flight, queued):
        with pytest.raises(ShuttingDown):
            await asyncio.wait_for(task, 2)
    with pytest.raises(ShuttingDown):
        await committer.submit(pending("b"))


async def test_strokes_are_refused_while_the_oldest_queued_one_waited_too_long() -> None:
    store = ScriptedStore()
    now = [100.0]
    committer = GroupCommitter(store, window=0, max_wait=2.0, clock=lambda: now[0])
    first = asyncio.create_task(committer.submit(pending("a")))
    await store.wait_started(1)  # a's transaction hangs: what follows for a queues behind it
    queued = asyncio.create_task(committer.submit(pending("a")))
    await eventually(lambda: committer.queued == 1, timeout=2)
    now[0] += 1.9
    still = asyncio.create_task(committer.submit(pending("b")))  # b is free: committed beside a
    await store.wait_started(2)
    now[0] += 0.1  # the oldest queued stroke has now waited 2 s
    with pytest.raises(Overloaded) as refused:
        await committer.submit(pending("c"))
    assert refused.value.retry_after == 1 and refused.value.details == {"retry_after": 1}
    for gate in store.gates:
        gate.set()
    await store.wait_started(3)  # the queued stroke of a, once a is free
    for gate in store.gates:
        gate.set()
    assert [r.seq for r in await asyncio.gather(first, queued, still)] == [1, 2, 1]
    # The queue drained: strokes are taken again.
    again = asyncio.create_task(committer.submit(pending("c")))
    await store.wait_started(4)
    store.gates[-1].set()
    assert (await again).seq == 1
    await committer.close()
