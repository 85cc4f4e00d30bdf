"""Per-person undo and redo on the whiteboard, in real headless Chromium across two people: undoing
and redoing a draw, a move and an erase of each other's work; a clear undone from the other browser;
the history slider showing an old version read-only, and restoring it, seen live by the other."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from tests.support.browser import Browsing, browser_fixture, browsing_fixture, draw, web_hub_fixture
from tests.test_web_board_tools import click_world, drag_world, place_text, space_board, texts, tool
from tests.test_web_collab import shared_space

FIXTURES = (browser_fixture, web_hub_fixture, browsing_fixture)


async def text_at(page: Page, text: str, x: float, y: float, tolerance: float = 2) -> None:
    """Until the board shows exactly one element with `text`, its top-left near world (x, y)."""
    await page.wait_for_function(
        """([text, x, y, tol]) => {
             const items = [...document.querySelectorAll(".board-texts li")]
               .filter((li) => li.textContent.endsWith(`: ${text}`));
             return items.length === 1 && Math.abs(items[0].dataset.x - x) <= tol
               && Math.abs(items[0].dataset.y - y) <= tol;
           }""",
        arg=[text, x, y, tolerance],
    )


async def wait_texts(page: Page, want: list[str]) -> None:
    await page.wait_for_function(
        """(want) => JSON.stringify([...document.querySelectorAll(".board-texts li")]
             .map((li) => li.textContent.split(": ").slice(1).join(": ")).sort()) === JSON.stringify(want)""",
        arg=sorted(want),
    )


async def test_undo_and_redo_a_draw_a_move_and_an_erase_of_each_others_work(browsing: Browsing) -> None:
    async with browsing.recording():
        alice, bob = await shared_space(browsing, "Undo")
        a, b = alice.page, bob.page
        toolbar_a = a.locator(".toolbar")
        undo_a = toolbar_a.get_by_role("button", name="Undo", exact=True)
        redo_a = toolbar_a.get_by_role("button", name="Redo", exact=True)
        await expect(undo_a).to_be_disabled()
        await expect(redo_a).to_be_disabled()

        # Alice writes "alpha"; Bob drags it 300 right and 100 down.
        await place_text(a, 200, 200, "alpha")
        await expect(undo_a).to_be_enabled()
        await text_at(b, "alpha", 200, 200)
        await tool(b, "Select")
        await click_world(b, 215, 212)
        await expect(b.locator(".board")).to_have_attribute("data-selected", "1")
        await drag_world(b, (215, 212), (515, 312))
        for page in (a, b):
            await text_at(page, "alpha", 500, 300)

        # Alice undoes her draw (Ctrl+Z): gone for both, though Bob moved it since. Redo (the button)
        # brings it back where it was when she undid it: where Bob had put it.
        await a.keyboard.press("Control+z")
        for page in (a, b):
            await expect(texts(page)).to_have_count(0)
        await expect(undo_a).to_be_disabled()
        await expect(redo_a).to_be_enabled()
        await redo_a.click()
        for page in (a, b):
            await text_at(page, "alpha", 500, 300)
        await expect(redo_a).to_be_disabled()

        # Bob undoes his move (Ctrl+Z), redoes it (Ctrl+Y), undoes and redoes again (Ctrl+Shift+Z).
        await b.locator(".board-canvas").focus()
        await b.keyboard.press("Control+z")
        for page in (a, b):
            await text_at(page, "alpha", 200, 200)
        await b.keyboard.press("Control+y")
        for page in (a, b):
            await text_at(page, "alpha", 500, 300)
        await b.keyboard.press("Control+z")
        await text_at(a, "alpha", 200, 200)
        await b.keyboard.press("Control+Shift+z")
        await text_at(a, "alpha", 500, 300)

        # Bob erases Alice's text; his undo brings it back in place for both, redo erases it again.
        await click_world(b, 515, 312)
        await expect(b.locator(".board")).to_have_attribute("data-selected", "1")
        await b.keyboard.press("Delete")
        for page in (a, b):
            await expect(texts(page)).to_have_count(0)
        redo_b = b.locator(".toolbar").get_by_role("button", name="Redo", exact=True)
        await expect(redo_b).to_be_disabled()  # a new change of his ends what he could redo
        await b.locator(".toolbar").get_by_role("button", name="Undo", exact=True).click()
        for page in (a, b):
            await text_at(page, "alpha", 500, 300)
        await redo_b.click()
        for page in (a, b):
            await expect(texts(page)).to_have_count(0)
        await b.keyboard.press("Control+z")
        await text_at(a, "alpha", 500, 300)

        # The hub holds the same: one text, where both see it.
        stored = (await space_board(a))["strokes"]
        assert [(s["text"], [round(v) for v in s["points"][0]]) for s in stored] == [("alpha", [500, 300])]
        assert browsing.page_errors() == []


async def test_a_clear_is_undone_from_the_other_browser(browsing: Browsing) -> None:
    async with browsing.recording():
        alice, bob = await shared_space(browsing, "Clear")
        a, b = alice.page, bob.page
        await draw(a, [(0.1, 0.1), (0.3, 0.2)])
        await draw(a, [(0.1, 0.5), (0.3, 0.6)])
        await place_text(a, 900, 500, "keep me")
        await expect(b.locator(".board")).to_have_attribute("data-strokes", "3")

        await a.locator(".toolbar").get_by_role("button", name="Clear").click()
        dialog = a.get_by_role("dialog")
        await expect(dialog).to_contain_text("can undo it")
        await dialog.get_by_role("button", name="Clear").click()
        for page in (a, b):
            await expect(page.locator(".board")).to_have_attribute("data-strokes", "0")
        await expect(a.locator(".toast", has_text="You cleared the board")).to_be_visible()
        offer = b.locator(".toast", has_text="Alice cleared the board")
        await expect(offer).to_be_visible()

        # Bob takes the offer: everything is back for both, as it was.
        await offer.get_by_role("button", name="Undo").click()
        for page in (a, b):
            await expect(page.locator(".board")).to_have_attribute("data-strokes", "3")
            await text_at(page, "keep me", 900, 500)
        assert len((await space_board(b))["strokes"]) == 3

        # That restore is Bob's change, undoable like any other: his Ctrl+Z clears again; Alice's own
        # undo of her clear then brings the board back once more.
        await b.locator(".board-canvas").focus()
        await b.keyboard.press("Control+z")
        for page in (a, b):
            await expect(page.locator(".board")).to_have_attribute("data-strokes", "0")
        await a.locator(".toolbar").get_by_role("button", name="Undo", exact=True).click()
        for page in (a, b):
            await expect(page.locator(".board")).to_have_attribute("data-strokes", "3")
        assert len((await space_board(a))["strokes"]) == 3
        assert browsing.page_errors() == []


async def test_history_shows_an_old_version_and_restores_it_for_everyone(browsing: Browsing) -> None:
    async with browsing.recording():
        alice, bob = await shared_space(browsing, "History")
        a, b = alice.page, bob.page
        for i, word in enumerate(("one", "two", "three")):  # changes 1, 2, 3
            await place_text(a, 200 + 300 * i, 200, word)
        await wait_texts(b, ["one", "two", "three"])
        await tool(a, "Select")
        await click_world(a, 812, 212)
        await a.keyboard.press("Delete")  # change 4: "three" erased
        await place_text(b, 300, 600, "bob")  # change 5
        await wait_texts(a, ["one", "two", "bob"])

        await a.locator(".toolbar").get_by_role("button", name="History").click()
        slider = a.get_by_role("slider", name="Version")
        await expect(slider).to_be_focused()
        await expect(slider).to_have_attribute("max", "5")
        board = a.locator(".board")

        # Change 3: "one", "two" and "three", read-only; the live board goes on underneath.
        await slider.fill("3")
        await expect(board).to_have_attribute("data-viewing", "3")
        await wait_texts(a, ["one", "two", "three"])
        banner = a.locator(".history-banner")
        await expect(banner).to_contain_text("Viewing the board as of change 3")
        await expect(a.locator(".toolbar").get_by_role("button", name="Pen", exact=True)).to_be_disabled()
        await expect(board).to_have_attribute("data-strokes", "3")  # live: one, two, bob
        await expect(board).to_have_attribute("data-tool", "hand")  # a drag pans, draws nothing
        await slider.press("ArrowLeft")
        await expect(board).to_have_attribute("data-viewing", "2")
        await wait_texts(a, ["one", "two"])
        await slider.press("ArrowRight")
        await expect(board).to_have_attribute("data-viewing", "3")
        await wait_texts(a, ["one", "two", "three"])
        await wait_texts(b, ["one", "two", "bob"])  # Bob is still live

        # The recent changes list them, newest first.
        await a.locator(".history-changes summary").click()
        recent = a.locator(".history-recent li")
        await expect(recent.first).to_contain_text(re.compile(r"^5\. Bob drew"))
        await expect(recent.nth(1)).to_contain_text(re.compile(r"^4\. You erased 1"))

        # Restore it: Bob sees that version live; Alice is back on the live board, which is it.
        await banner.get_by_role("button", name="Restore this version").click()
        await wait_texts(b, ["one", "two", "three"])
        await expect(board).not_to_have_attribute("data-viewing", re.compile(".*"))
        await wait_texts(a, ["one", "two", "three"])
        await expect(a.locator(".toolbar").get_by_role("button", name="Pen", exact=True)).to_be_enabled()
        assert sorted(s["text"] for s in (await space_board(b))["strokes"]) == ["one", "three", "two"]

        # Like any change of hers, Alice can undo the restore (and redo it).
        await a.locator(".board-canvas").focus()
        await a.keyboard.press("Control+z")
        for page in (a, b):
            await wait_texts(page, ["one", "two", "bob"])
        await text_at(b, "bob", 300, 600)
        await a.keyboard.press("Control+Shift+z")
        for page in (a, b):
            await wait_texts(page, ["one", "two", "three"])
        assert sorted(s["text"] for s in (await space_board(a))["strokes"]) == ["one", "three", "two"]

        # Back to live from a version without restoring it changes nothing.
        await slider.fill("1")
        await expect(board).to_have_attribute("data-viewing", "1")
        await wait_texts(a, ["one"])
        await banner.get_by_role("button", name="Back to live").click()
        await expect(board).not_to_have_attribute("data-viewing", re.compile(".*"))
        await wait_texts(a, ["one", "two", "three"])
        await wait_texts(b, ["one", "two", "three"])
        assert browsing.page_errors() == []
