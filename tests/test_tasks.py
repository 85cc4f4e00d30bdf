"""Background tasks stop for sure at shutdown, even one whose cancellation got lost on the way.

`hub batch counters` once hung for ever (one run in twenty) because the metrics sampler's cancellation
was swallowed by Python 3.11's `asyncio.wait_for` (the readiness check finished in the same loop turn as
the cancel) and `Hub.close` awaited the sampler after a single `cancel()`.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

from hub.bootstrap.app import build_hub
from hub.config import Settings
from hub.tasks import stop_tasks

ROOT = Path(__file__).resolve().parent.parent


async def stubborn(started: asyncio.Event) -> None:
    """Survives its first cancellation, as a task does whose cancel was lost, then waits for ever."""
    started.set()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.Event().wait()
    await asyncio.Event().wait()


async def test_stop_tasks_stops_a_task_that_lost_its_first_cancellation() -> None:
    started = asyncio.Event()
    task = asyncio.create_task(stubborn(started))
    plain = asyncio.create_task(asyncio.sleep(3600))
    await started.wait()
    async with asyncio.timeout(10):
        await stop_tasks([task, plain], timeout=5.0)
    assert task.cancelled() and plain.cancelled()


async def test_stop_tasks_gives_up_at_its_deadline() -> None:
    async def immortal() -> None:
        while True:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.Event().wait()

    task = asyncio.create_task(immortal())
    await asyncio.sleep(0)
    async with asyncio.timeout(10):
        await stop_tasks([task], timeout=0.3)
    assert not task.done()
    task.get_coro().close()  # type: ignore[union-attr]


async def test_hub_close_stops_a_background_task_that_lost_its_cancellation(
    make_settings: Callable[..., Settings],
) -> None:
    hub = await build_hub(make_settings(sweep_interval=0))
    started = asyncio.Event()
    hub.spawn(stubborn(started), "stubborn")
    await started.wait()
    # `asyncio.wait` does not cancel what it waits for: a close that hangs stays hung and fails here.
    closing = asyncio.create_task(hub.close())
    done, _ = await asyncio.wait([closing], timeout=20)
    if not done:
        closing.cancel()
    assert done == {closing}


async def test_readiness_passes_a_cancellation_on_when_the_check_finishes_in_the_same_turn(
    make_settings: Callable[..., Settings],
) -> None:
    hub = await build_hub(make_settings(sweep_interval=0))
    try:
        release = asyncio.Event()

        class Slow:
            name = "slow"

            async def check(self) -> None:
                await release.wait()

        hub.health_checks = [Slow()]
        task = asyncio.create_task(hub.ready())
        await asyncio.sleep(0)
        # Both in one loop turn: the check's wake-up is queued before the cancellation.
        release.set()
        task.cancel()
        async with asyncio.timeout(10):
            outcome = await asyncio.gather(task, return_exceptions=True)
        assert isinstance(outcome[0], asyncio.CancelledError), outcome
    finally:
        await hub.close()


def test_no_module_uses_asyncio_wait_for() -> None:
    """`asyncio.timeout` passes every cancellation on; Python 3.11's `wait_for` can drop one."""
    offenders = []
    for package in ("hub", "rest", "realtime", "storage"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Attribute) and node.attr == "wait_for":
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
