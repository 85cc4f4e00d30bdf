"""Headless Chromium (the system's, else Playwright's build; driven by Playwright's async API) against a hub.

`WebHub` runs the hub on a fixed port with `public_url` set to it: the Socket.IO Origin check and the
links the hub builds (invites, local blob-store URLs) must name the address the browser really uses,
and a fixed port lets a test stop the hub and start it again where the browser will reconnect.

`Browsing` opens one isolated browser context per simulated person and, when the test body fails,
saves a screenshot and the console log of every open page under test-artifacts/.
"""

from __future__ import annotations

import contextlib
import re
import traceback
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from hub.config import Settings
from storage.postgres.server import free_port
from tests.support.provision_browser import system_chromium
from tests.support.server import running_hub

# `make browser` (tests/support/provision_browser.py) made sure one of the two exists.
CHROMIUM = system_chromium()
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path("test-artifacts")
# Generous: two cores are shared by several suites; every wait returns as soon as its condition holds.
TIMEOUT_MS = 20_000

expect.set_options(timeout=TIMEOUT_MS)


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


class WebHub:
    """A hub on a fixed port that can be stopped and started again (same database and data dir)."""

    def __init__(self, make_settings: Any, **overrides: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings: Settings = make_settings(public_url=self.url, **overrides)
        self._running: contextlib.AbstractAsyncContextManager[Any] | None = None

    async def start(self) -> None:
        self._running = running_hub(self.settings, port=self.port)
        await self._running.__aenter__()

    async def stop(self) -> None:
        if self._running is not None:
            running, self._running = self._running, None
            await running.__aexit__(None, None, None)

    async def __aenter__(self) -> WebHub:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


@dataclass
class Person:
    name: str
    context: BrowserContext
    page: Page
    console: list[str] = field(default_factory=list)


class Browsing:
    """Browser contexts for one test; `async with browsing.recording():` keeps artifacts on failure."""

    def __init__(self, browser: Browser, base_url: str, test_name: str) -> None:
        self.browser = browser
        self.base_url = base_url
        self.test_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name)[:100]
        self.people: list[Person] = []

    async def person(self, name: str, *, width: int = 1280, height: int = 900) -> Person:
        context = await self.browser.new_context(
            base_url=self.base_url, viewport={"width": width, "height": height}, accept_downloads=True
        )
        context.set_default_timeout(TIMEOUT_MS)
        page = await context.new_page()
        who = Person(name, context, page)
        page.on("console", lambda m: who.console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: who.console.append(f"pageerror: {e}"))
        self.people.append(who)
        return who

    async def guest(self, name: str, path: str = "/", *, fake_clock: bool = False, **kwargs: Any) -> Person:
        """A person who opened `path` and continued as a guest called `name`; with `fake_clock`, the
        page's clock is Playwright's (it runs, and `page.clock.fast_forward` moves it on)."""
        who = await self.person(name, **kwargs)
        if fake_clock:
            await who.page.clock.install()
        await who.page.goto(path)
        await who.page.get_by_role("tab", name="Continue as guest").click()
        await who.page.get_by_label("Display name").fill(name)
        await who.page.get_by_role("button", name="Continue as guest").click()
        await expect(who.page.locator("#account")).to_contain_text(name)
        return who

    def page_errors(self) -> list[str]:
        """Uncaught exceptions and CSP violations (the client must run under the hub's strict CSP)."""
        return [
            line
            for p in self.people
            for line in p.console
            if line.startswith("pageerror") or "Content Security Policy" in line
        ]

    async def save_artifacts(self) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        for i, who in enumerate(self.people):
            stem = ARTIFACTS / f"{self.test_name}-{i}-{re.sub(r'[^A-Za-z0-9]+', '_', who.name)}"
            with contextlib.suppress(Exception):
                await who.page.screenshot(path=f"{stem}.png", full_page=True)
            stem.with_suffix(".console.txt").write_text("\n".join(who.console) + "\n")

    @contextlib.asynccontextmanager
    async def recording(self) -> AsyncIterator[Browsing]:
        """Wrap a test body: on failure, screenshots and console logs land in test-artifacts/."""
        try:
            yield self
        except BaseException:
            ARTIFACTS.mkdir(exist_ok=True)
            (ARTIFACTS / f"{self.test_name}.traceback.txt").write_text(traceback.format_exc())
            await self.save_artifacts()
            raise

    async def close(self) -> None:
        for who in self.people:
            with contextlib.suppress(Exception):
                await who.context.close()
        self.people.clear()


async def draw(page: Page, points: list[tuple[float, float]]) -> None:
    """Drag the mouse across the whiteboard through `points` (fractions of its width and height)."""
    canvas = page.locator(".board-canvas")
    box = await canvas.bounding_box()
    assert box is not None
    xs = [box["x"] + fx * box["width"] for fx, _ in points]
    ys = [box["y"] + fy * box["height"] for _, fy in points]
    await page.mouse.move(xs[0], ys[0])
    await page.mouse.down()
    for x, y in zip(xs[1:], ys[1:], strict=True):
        await page.mouse.move(x, y, steps=4)
    await page.mouse.up()


# Fixtures, registered under their `name` by importing the functions into a test module
# (`from tests.support.browser import browser_fixture, ...`); the distinct function names keep the
# test parameters from shadowing the imports.


@pytest.fixture(scope="session", name="browser")
async def browser_fixture() -> AsyncIterator[Browser]:
    """One Chromium for the session; every test gets fresh, isolated contexts."""
    async with chromium() as b:
        yield b


@pytest.fixture(name="web_hub")
async def web_hub_fixture(make_settings: Callable[..., Settings]) -> AsyncIterator[WebHub]:
    async with WebHub(make_settings) as hub:
        yield hub


@pytest.fixture(name="browsing")
async def browsing_fixture(
    browser: Browser, web_hub: WebHub, request: pytest.FixtureRequest
) -> AsyncIterator[Browsing]:
    web = Browsing(browser, web_hub.url, request.node.name)
    yield web
    await web.close()
