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
from tests.support.browser import Browsing, WebHub, browser_fixture, browsing_fixture, draw, web_hub_fixture
from tests.support.waiting import eventually
from tests.test_fault_tolerance import PrivateRedis

FIXTURES = (browser_fixture, browsing_fixture, web_hub_fixture)


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


# The client's gap handling on its own, in the page, under Playwright's fake clock: a Realtime that is
# joined, whose `join` only counts. `window.gap` drives it from the test.
_GAP_HARNESS = """async () => {
  const { Realtime } = await import("/static/js/realtime.js");
  const rt = new Realtime("space", { unacked: () => window.gap.unacked });
  rt.joined = true;
  window.gap = { rt, joins: 0, unacked: 0 };
  rt.join = () => { window.gap.joins += 1; };
}"""


async def test_gap_rejoins_are_damped_while_events_arrive_late_or_acks_are_pending(browsing: Browsing) -> None:
    """A seq missing for the grace brings a rejoin; the grace doubles with each recent rejoin; a gap that
    late events are filling, or that our own unacknowledged strokes explain, waits instead."""
    async with browsing.recording():
        who = await browsing.person("Gap")
        page = who.page
        await page.clock.install()
        await page.goto("/")
        await page.evaluate(_GAP_HARNESS)

        async def joins() -> int:
            return int(await page.evaluate("window.gap.joins"))

        await page.evaluate("[1, 3].forEach((s) => window.gap.rt.note(s))")  # 2 is missing
        await page.clock.run_for(1_400)
        assert await joins() == 0
        await page.clock.run_for(200)
        assert await joins() == 1  # 1.5 s

        await page.evaluate("window.gap.rt.note(5)")  # 2 and 4 still missing: the grace is now 3 s
        await page.clock.run_for(2_900)
        assert await joins() == 1
        await page.clock.run_for(200)
        assert await joins() == 2

        # 6 s now. Late events fill the first gap before the grace ends: the mark moved, so no rejoin.
        await page.evaluate("window.gap.rt.note(7)")
        await page.clock.run_for(5_000)
        await page.evaluate("window.gap.rt.note(2)")
        await page.clock.run_for(1_100)
        assert await joins() == 2 and await page.evaluate("window.gap.rt.mark") == 3
        # Two seqs missing (4, 6), two of our own strokes unacknowledged: they may be ours; wait.
        await page.evaluate("window.gap.unacked = 2")
        await page.clock.run_for(13_000)
        assert await joins() == 2
        # At 23.8 s our strokes' acks came, one of them with seq 4: nothing pending, 6 unexplained.
        # The timer armed at 22.7 s sees the mark moved at 28.7 s and waits one more grace (6 s: two
        # rejoins in the last 30 s), then rejoins at 34.7 s.
        await page.evaluate("window.gap.unacked = 0; window.gap.rt.note(4)")
        await page.clock.run_for(10_800)
        assert await joins() == 2
        await page.clock.run_for(200)
        assert await joins() == 3
        assert browsing.page_errors() == []
