"""Export in the web client: the board as SVG (drawn by the hub from the stored strokes) and as PNG
(from the page's canvas), for anyone who sees the board."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import expect

from tests.support.browser import Browsing, browser_fixture, browsing_fixture, draw, web_hub_fixture
from tests.test_web_collab import shared_space

FIXTURES = (browser_fixture, web_hub_fixture, browsing_fixture)


async def test_the_board_exports_as_svg_and_png(browsing: Browsing, tmp_path: Path) -> None:
    async with browsing.recording():
        alice, bob = await shared_space(browsing, "Export")
        await draw(alice.page, [(0.2, 0.2), (0.4, 0.3), (0.5, 0.5)])
        await expect(bob.page.locator(".board")).to_have_attribute("data-strokes", "1")
        for person in (alice, bob):
            async with person.page.expect_download() as pending:
                await person.page.get_by_role("button", name="Export SVG").click()
            svg = await pending.value
            assert svg.suggested_filename == "board.svg"
            saved = tmp_path / f"{person.name}.svg"
            await svg.save_as(saved)
            text = saved.read_text()
            assert text.startswith("<svg") and text.count("<polyline") == 1 and "<script" not in text
        async with bob.page.expect_download() as pending:
            await bob.page.get_by_role("button", name="Export PNG").click()
        png = await pending.value
        saved = tmp_path / "board.png"
        await png.save_as(saved)
        assert png.suggested_filename == "board.png" and saved.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert browsing.page_errors() == []
