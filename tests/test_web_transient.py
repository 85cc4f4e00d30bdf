"""The web client resends a stroke the hub refused for a passing reason while the socket stayed up."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable

import asyncpg
import httpx
import pytest
from playwright.async_api import expect

from hub.config import Settings
from tests.support.browser import Browsing, WebHub, browser_fixture, browsing_fixture, draw
from tests.support.waiting import eventually

FIXTURES = (browser_fixture, browsing_fixture)


@pytest.fixture(name="web_hub")
async def slow_database_hub(make_settings: Callable[..., Settings]) -> AsyncIterator[WebHub]:
    # A stroke blocked by a lock times out after a second (`db_timeout` or `db_unavailable`) instead of the default ten.
    async with WebHub(make_settings, db_command_timeout=1.0) as hub:
        yield hub


async def refusals(url: str) -> float:
    """Strokes the hub refused because its database could not commit them (timeout or unavailable)."""
    async with httpx.AsyncClient(base_url=url) as c:
        text = (await c.get("/metrics")).text
    pattern = r'hub_realtime_events_total{event="stroke",outcome="db_\w+"} (\S+)'
    return sum(float(value) for value in re.findall(pattern, text))


async def test_a_stroke_refused_by_a_busy_database_is_sent_again(browsing: Browsing, web_hub: WebHub) -> None:
    """Connected, but the hub cannot commit (the strokes table is locked): the client keeps the stroke
    pending and sends it again by itself, without waiting for a reconnect that never comes."""
    async with browsing.recording():
        alice = await browsing.guest("Alice")
        await alice.page.get_by_label("Name").fill("Busy")
        await alice.page.get_by_role("button", name="Create space").click()
        await expect(alice.page.locator(".connection")).to_have_attribute("data-state", "joined")
        board = alice.page.locator(".board")
        db = await asyncpg.connect(web_hub.settings.database_url)
        try:
            lock = db.transaction()
            await lock.start()
            await db.execute("LOCK TABLE whiteboard_strokes IN ACCESS EXCLUSIVE MODE")
            await draw(alice.page, [(0.2, 0.2), (0.6, 0.5)])
            await expect(board).to_have_attribute("data-pending", "1")

            # Refused twice (sent, then sent again by the client itself) while the lock is held.
            async def refused_twice() -> bool:
                return await refusals(web_hub.url) >= 2

            await eventually(
                refused_twice, timeout=20, interval=0.1, message="the client did not send the refused stroke again"
            )
            await expect(board).to_have_attribute("data-pending", "1")
            await lock.rollback()
            await expect(board).to_have_attribute("data-pending", "0", timeout=20_000)
            await expect(board).to_have_attribute("data-strokes", "1")
            assert await db.fetchval("SELECT count(*) FROM whiteboard_strokes") == 1
        finally:
            await db.close()
        await expect(alice.page.locator(".connection")).to_have_attribute("data-state", "joined")
        assert browsing.page_errors() == []
