"""The web client acts on why the hub refused its socket: an access token that expired while the hub
was away is refreshed and the board rejoined by itself; a session revoked meanwhile signs out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, Route, expect
from prometheus_client.parser import text_string_to_metric_families

from tests.support.browser import TIMEOUT_MS, Browsing, Person, WebHub, browser_fixture, draw
from tests.support.server import running_hub

FIXTURES = (browser_fixture,)
# Longer than the client's 5 s minimum refresh delay, so the token stays fresh while the hub is up
# and only expires during the outage.
TOKEN_TTL = 8
# The hub accepts a token this long past its expiry (clock skew; `leeway` in hub/services/tokens.py),
# plus a second for the whole-second `exp`.
EXPIRED_AFTER_MS = (5 + 1) * 1000


async def refused_connects(hub: WebHub, code: str) -> float:
    async with httpx.AsyncClient(base_url=hub.url) as c:
        text = (await c.get("/metrics")).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "hub_realtime_events_total" and sample.labels == {"event": "connect", "outcome": code}:
                return sample.value
    return 0.0


async def stored_session(page: Page) -> Any:
    return await page.evaluate("JSON.parse(localStorage.getItem('hub.session') || 'null')")


async def open_board(browsing: Browsing) -> tuple[Person, Person]:
    alice = await browsing.guest("Alice")
    await alice.page.get_by_label("Name").fill("Outage")
    await alice.page.get_by_label("Who can open it").select_option("link")
    await alice.page.get_by_role("button", name="Create space").click()
    await expect(alice.page.locator(".connection")).to_have_attribute("data-state", "joined")
    bob = await browsing.guest("Bob", alice.page.url.removeprefix(browsing.base_url))
    await expect(bob.page.locator(".connection")).to_have_attribute("data-state", "joined")
    return alice, bob


async def test_a_token_that_expired_during_an_outage_is_refreshed_and_the_board_rejoined(
    browser: Any, make_settings: Callable[..., Any], request: pytest.FixtureRequest
) -> None:
    async with WebHub(make_settings, access_token_ttl=TOKEN_TTL) as hub:
        browsing = Browsing(browser, hub.url, request.node.name)
        try:
            async with browsing.recording():
                alice, bob = await open_board(browsing)
                await draw(alice.page, [(0.1, 0.1), (0.3, 0.2)])
                await expect(bob.page.locator(".board")).to_have_attribute("data-strokes", "1")

                await hub.stop()
                await expect(alice.page.locator("#banner")).to_be_visible()
                await draw(alice.page, [(0.5, 0.5), (0.7, 0.6), (0.8, 0.8)])
                await expect(alice.page.locator(".board")).to_have_attribute("data-pending", "1")
                stale = {}
                for who in (alice, bob):
                    stale[who.name] = (await stored_session(who.page))["access_token"]
                    # The hub is down, so the client cannot refresh: wait until its token has expired.
                    await who.page.wait_for_function(
                        "(grace) => JSON.parse(localStorage.getItem('hub.session')).expires_at + grace < Date.now()",
                        arg=EXPIRED_AFTER_MS,
                    )

                # Alice's first refresh after the outage fails in the network: she must try again.
                aborted: list[str] = []

                async def fail_once(route: Route) -> None:
                    if aborted:
                        await route.continue_()
                    else:
                        aborted.append(route.request.url)
                        await route.abort()

                await alice.page.route("**/auth/refresh", fail_once)
                await hub.start()
                for who in (alice, bob):
                    # Two backoffs at their 10 s cap can stand between the restart and the rejoin: the
                    # manager's reconnect, then the retry after Alice's failed refresh.
                    await expect(who.page.locator("#banner")).to_be_hidden(timeout=2 * TIMEOUT_MS)
                    await expect(who.page.locator(".connection")).to_have_attribute("data-state", "joined")
                    fresh = await stored_session(who.page)
                    assert fresh["access_token"] != stale[who.name]
                # The socket's first try was refused for the expired token, which made the client refresh.
                assert await refused_connects(hub, "token_expired") >= 1
                assert len(aborted) == 1
                # The stroke drawn during the outage was sent after the rejoin and reached Bob once.
                await expect(alice.page.locator(".board")).to_have_attribute("data-pending", "0")
                await expect(alice.page.locator(".board")).to_have_attribute("data-strokes", "2")
                await expect(bob.page.locator(".board")).to_have_attribute("data-strokes", "2")
                await bob.page.reload()
                await expect(bob.page.locator(".connection")).to_have_attribute("data-state", "joined")
                await expect(bob.page.locator(".board")).to_have_attribute("data-strokes", "2")
                assert browsing.page_errors() == []
        finally:
            await browsing.close()


async def test_a_session_revoked_during_an_outage_signs_out_instead_of_retrying(
    browser: Any,
    make_settings: Callable[..., Any],
    request: pytest.FixtureRequest,
    redis_service: Any,
    redis_prefix: str,
) -> None:
    # Revocations live in the shared key-value store (Redis), so they outlast a hub restart.
    async with WebHub(make_settings, redis_url=redis_service.url, redis_prefix=redis_prefix) as hub:
        browsing = Browsing(browser, hub.url, request.node.name)
        try:
            async with browsing.recording():
                alice, bob = await open_board(browsing)
                await hub.stop()
                await expect(alice.page.locator("#banner")).to_be_visible()

                # Alice signs out from another device while this tab's hub is away.
                token = (await stored_session(alice.page))["access_token"]
                async with running_hub(hub.settings) as (other_url, _app), httpx.AsyncClient(base_url=other_url) as c:
                    r = await c.post("/auth/logout", headers={"Authorization": f"Bearer {token}"})
                    assert r.status_code == 204, r.text

                await hub.start()
                await expect(alice.page.get_by_role("tab", name="Continue as guest")).to_be_visible()
                await expect(alice.page.get_by_text("You are signed out.")).to_be_visible()
                assert await stored_session(alice.page) is None
                await expect(alice.page.locator(".connection")).to_have_count(0)
                # Bob's session is untouched and his board comes back.
                await expect(bob.page.locator(".connection")).to_have_attribute("data-state", "joined")
                # One refused connect, then the client stopped: it did not keep knocking.
                assert await refused_connects(hub, "token_revoked") == 1
                assert browsing.page_errors() == []
        finally:
            await browsing.close()


async def test_a_rate_limited_connect_waits_the_time_the_hub_asked_for(
    browser: Any, make_settings: Callable[..., Any], request: pytest.FixtureRequest
) -> None:
    # One connect per 10 s per address: a reload right after the first connect is refused.
    async with WebHub(make_settings, connect_rate_limit="1/10 seconds") as hub:
        browsing = Browsing(browser, hub.url, request.node.name)
        try:
            async with browsing.recording():
                alice = await browsing.guest("Alice")
                await alice.page.get_by_label("Name").fill("Throttled")
                await alice.page.get_by_role("button", name="Create space").click()
                await expect(alice.page.locator(".connection")).to_have_attribute("data-state", "joined")
                await draw(alice.page, [(0.1, 0.1), (0.3, 0.2)])
                await expect(alice.page.locator(".board")).to_have_attribute("data-pending", "0")

                await alice.page.reload()
                await expect(alice.page.locator("#banner")).to_contain_text("Reconnecting")
                await expect(alice.page.locator(".connection")).to_have_attribute("data-state", "joined")
                await expect(alice.page.locator(".board")).to_have_attribute("data-strokes", "1")
                # Refused once, then it waited `retry_after` instead of knocking again on its own backoff.
                assert await refused_connects(hub, "rate_limited") == 1
                assert browsing.page_errors() == []
        finally:
            await browsing.close()
