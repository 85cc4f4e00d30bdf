"""The web client survives the hub going away: a visible reconnecting banner, then the board
recovers with nothing lost, including a stroke drawn while the hub was down."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.async_api import expect

from tests.support.browser import Browsing, WebHub, browser_fixture, browsing_fixture, draw, web_hub_fixture

FIXTURES = (browser_fixture, web_hub_fixture, browsing_fixture)


async def test_hub_restart_shows_banner_and_loses_nothing(browsing: Browsing, web_hub: WebHub) -> None:
    async with browsing.recording():
        alice = await browsing.guest("Alice")
        await alice.page.get_by_label("Name").fill("Durable")
        await alice.page.get_by_label("Who can open it").select_option("link")
        await alice.page.get_by_role("button", name="Create space").click()
        await expect(alice.page.locator(".connection")).to_have_attribute("data-state", "joined")
        space_path = alice.page.url.removeprefix(browsing.base_url)
        assert space_path.startswith("/s/"), space_path
        bob = await browsing.guest("Bob", space_path)
        await expect(bob.page.locator(".connection")).to_have_attribute("data-state", "joined")

        await draw(alice.page, [(0.1, 0.1), (0.3, 0.2)])
        await expect(bob.page.locator(".board")).to_have_attribute("data-strokes", "1")
        banner = alice.page.locator("#banner")
        await expect(banner).to_be_hidden()

        await web_hub.stop()
        await expect(banner).to_be_visible()
        await expect(banner).to_contain_text("Reconnecting")
        await expect(banner).to_contain_text("attempt")
        await expect(bob.page.locator("#banner")).to_be_visible()

        # Drawn while the hub is down: shown at once, kept pending, not lost.
        await draw(alice.page, [(0.5, 0.5), (0.7, 0.6), (0.8, 0.8)])
        await expect(alice.page.locator(".board")).to_have_attribute("data-strokes", "2")
        await expect(alice.page.locator(".board")).to_have_attribute("data-pending", "1")

        await web_hub.start()
        for who in (alice, bob):
            await expect(who.page.locator("#banner")).to_be_hidden()
            await expect(who.page.locator(".connection")).to_have_attribute("data-state", "joined")
        # The pending stroke was resent with its id after the resume and reached Bob.
        await expect(alice.page.locator(".board")).to_have_attribute("data-pending", "0")
        await expect(alice.page.locator(".board")).to_have_attribute("data-strokes", "2")
        await expect(bob.page.locator(".board")).to_have_attribute("data-strokes", "2")
        await expect(bob.page.locator(".presence")).to_have_attribute("data-count", "2")

        # Both strokes are durable: a fresh page load gets them from the snapshot.
        await bob.page.reload()
        await expect(bob.page.locator(".connection")).to_have_attribute("data-state", "joined")
        await expect(bob.page.locator(".board")).to_have_attribute("data-strokes", "2")
        assert browsing.page_errors() == []


async def test_a_refused_stroke_is_removed_and_explained(
    browser: Any, make_settings: Callable[..., Any], request: pytest.FixtureRequest
) -> None:
    # One stroke of burst, refilled once a minute: the second stroke gets an error ack.
    async with WebHub(make_settings, stroke_rate=1 / 60, stroke_burst=1) as hub:
        browsing = Browsing(browser, hub.url, request.node.name)
        try:
            async with browsing.recording():
                alice = await browsing.guest("Alice")
                await alice.page.get_by_label("Name").fill("Limited")
                await alice.page.get_by_role("button", name="Create space").click()
                await expect(alice.page.locator(".connection")).to_have_attribute("data-state", "joined")
                board = alice.page.locator(".board")
                await draw(alice.page, [(0.1, 0.1), (0.2, 0.2)])
                await expect(board).to_have_attribute("data-strokes", "1")
                await expect(board).to_have_attribute("data-pending", "0")

                await draw(alice.page, [(0.5, 0.5), (0.6, 0.7)])
                error = alice.page.locator(".whiteboard .error-box")
                await expect(error).to_contain_text("Your stroke was not saved")
                await expect(board).to_have_attribute("data-strokes", "1")
                await expect(board).to_have_attribute("data-pending", "0")
                # Not silently resent later either: a reload shows only the accepted stroke.
                await alice.page.reload()
                await expect(alice.page.locator(".connection")).to_have_attribute("data-state", "joined")
                await expect(board).to_have_attribute("data-strokes", "1")
        finally:
            await browsing.close()


async def test_an_unrecoverable_gap_reloads_the_snapshot(
    browser: Any, make_settings: Callable[..., Any], request: pytest.FixtureRequest
) -> None:
    # A replay buffer of one event and resumes from the database of one: missing three is recovered: false.
    async with WebHub(make_settings, replay_max_events=1, resume_max_events=1) as hub:
        browsing = Browsing(browser, hub.url, request.node.name)
        try:
            async with browsing.recording():
                alice = await browsing.guest("Alice")
                await alice.page.get_by_label("Name").fill("Gappy")
                await alice.page.get_by_label("Who can open it").select_option("link")
                await alice.page.get_by_role("button", name="Create space").click()
                await expect(alice.page.locator(".connection")).to_have_attribute("data-state", "joined")
                bob = await browsing.guest("Bob", alice.page.url.removeprefix(browsing.base_url))
                await expect(bob.page.locator(".connection")).to_have_attribute("data-state", "joined")
                await draw(alice.page, [(0.1, 0.1), (0.2, 0.2)])
                await expect(bob.page.locator(".board")).to_have_attribute("data-strokes", "1")

                await bob.context.set_offline(True)
                await expect(bob.page.locator("#banner")).to_be_visible()
                for y in (0.3, 0.5, 0.7):
                    await draw(alice.page, [(0.1, y), (0.4, y)])
                await expect(alice.page.locator(".board")).to_have_attribute("data-pending", "0")
                await alice.page.get_by_role("button", name="Undo").click()
                await expect(alice.page.locator(".board")).to_have_attribute("data-strokes", "3")

                await bob.context.set_offline(False)
                await expect(bob.page.locator("#banner")).to_be_hidden()
                await expect(bob.page.get_by_text("the board was reloaded")).to_be_visible()
                await expect(bob.page.locator(".board")).to_have_attribute("data-strokes", "3")
        finally:
            await browsing.close()
