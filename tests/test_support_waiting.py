"""The suite's one polling helper: it returns what the condition returned, and it always ends."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.waiting import eventually


async def test_returns_the_first_truthy_value_of_a_plain_or_an_async_condition() -> None:
    calls = 0

    def third_time() -> int:
        nonlocal calls
        calls += 1
        return calls if calls >= 3 else 0

    assert await eventually(third_time, interval=0) == 3

    async def ready() -> str:
        await asyncio.sleep(0)
        return "ready"

    assert await eventually(ready) == "ready"


async def test_fails_at_its_deadline_with_the_message() -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(AssertionError, match=r"timed out after 0\.2 s: never"):
        await eventually(lambda: False, timeout=0.2, interval=0.01, message="never")
    assert loop.time() - started >= 0.2


async def test_ignored_exceptions_mean_not_yet_and_others_fail_at_once() -> None:
    attempts = 0

    def refuses_twice() -> bool:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise ConnectionRefusedError
        return True

    assert await eventually(refuses_twice, interval=0, ignore=(ConnectionRefusedError,)) is True
    with pytest.raises(ZeroDivisionError):
        await eventually(lambda: 1 / 0, timeout=5)
