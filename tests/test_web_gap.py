"""A stroke the hub committed but could not fan out (Redis down between two instances) still reaches
the other instance's clients: the next event shows a gap in `seq`, and the client joins again from its
mark, which replays or reloads what it missed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, expect

from hub.config import Settings
from tests.support.browser import Browsing, WebHub, browser_fixture, draw
from tests.support.waiting import eventually
from tests.test_fault_tolerance import PrivateRedis

FIXTURES = (browser_fixture,)


@pytest.fixture
async def redis(tmp_path: Path) -> AsyncIterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "redis")
    await server.start()
    yield server
    await server.stop()


async def ready(url: str) -> bool:
    async with httpx.AsyncClient() as c:
        try:
            return (await c.get(f"{url}/readyz")).status_code == 200
        except httpx.TransportError:
            return False


async def until_ready(*urls: str, timeout: float = 20) -> None:
    for url in urls:
        await eventually(lambda url=url: ready(url), timeout=timeout, interval=0.1, message=f"{url} not ready")


async def test_a_stroke_missed_during_a_redis_outage_arrives_after_the_gap_shows(
    browser: Browser, make_settings: Callable[..., Settings], redis: PrivateRedis, request: pytest.FixtureRequest
) -> None:
    shared = {"redis_url": redis.url, "redis_prefix": "gap", "signing_key": "G" * 43}
    async with WebHub(make_settings, **shared) as hub_a, WebHub(make_settings, **shared) as hub_b:
        on_a = Browsing(browser, hub_a.url, request.node.name + "-a")
        on_b = Browsing(browser, hub_b.url, request.node.name + "-b")
        try:
            async with on_a.recording(), on_b.recording():
                alice = await on_a.guest("Alice")
                await alice.page.get_by_label("Name").fill("Gaps")
                await alice.page.get_by_label("Who can open it").select_option("link")
                await alice.page.get_by_role("button", name="Create space").click()
                await expect(alice.page.locator(".connection")).to_have_attribute("data-state", "joined")
                space_path = alice.page.url.removeprefix(hub_a.url)
                bob = await on_b.guest("Bob", space_path)
                await expect(bob.page.locator(".connection")).to_have_attribute("data-state", "joined")
                await draw(alice.page, [(0.1, 0.1), (0.3, 0.2)])
                await expect(bob.page.locator(".board")).to_have_attribute("data-strokes", "1")

                # Committed on hub A while the bus is down: acknowledged to Alice, never sent to hub B.
                await redis.stop()
                await draw(alice.page, [(0.4, 0.4), (0.6, 0.5)])
                await expect(alice.page.locator(".board")).to_have_attribute("data-pending", "0")
                await redis.start()
                await until_ready(hub_a.url, hub_b.url)
                await expect(bob.page.locator(".board")).to_have_attribute("data-strokes", "1")

                # The next stroke crosses again and shows Bob a gap: he catches up without reconnecting.
                await draw(alice.page, [(0.7, 0.7), (0.9, 0.8)])
                await expect(bob.page.locator(".board")).to_have_attribute("data-strokes", "3")
                await expect(bob.page.locator(".connection")).to_have_attribute("data-state", "joined")
                assert on_a.page_errors() == [] and on_b.page_errors() == []
        finally:
            await on_a.close()
            await on_b.close()
