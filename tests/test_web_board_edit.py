"""Editing on the whiteboard in real headless Chromium, across two people: a text or a note edited in
place (double-click or Enter; Escape cancels, blur commits, emptied is deleted), a selection recoloured,
duplicated and copied, cut and pasted; every edit one undo step for everyone; viewers cannot edit; the
resize handle grows under a finger."""

from __future__ import annotations

import re

from playwright.async_api import Locator, Page, expect

from tests.support.browser import Browsing, browser_fixture, browsing_fixture, web_hub_fixture
from tests.test_web_board_tools import (
    WORLD_W,
    box_attr,
    camera,
    click_world,
    drag_world,
    place_text,
    screen_of,
    space_board,
    texts,
    tool,
    wait_box,
)
from tests.test_web_board_undo import text_at, wait_texts
from tests.test_web_collab import shared_space

FIXTURES = (browser_fixture, web_hub_fixture, browsing_fixture)

BLACK, RED, RED_NOTE, YELLOW_NOTE = "#1f2937", "#dc2626", "#fecaca", "#fef08a"


async def double_click_world(page: Page, wx: float, wy: float) -> None:
    x, y = await screen_of(page, wx, wy)
    await page.mouse.dblclick(x, y)


def editor(page: Page, name: str = "Text") -> Locator:
    return page.get_by_role("textbox", name=name, exact=True)


async def stored_texts(page: Page) -> list[tuple[str, str, list[int]]]:
    """(text, colour, rounded top-left) of every text and note the hub holds, sorted."""
    strokes = (await space_board(page))["strokes"]
    return sorted(
        (s["text"], s["color"], [round(v) for v in s["points"][0]]) for s in strokes if s["tool"] in ("text", "note")
    )


async def colour_of(page: Page, text: str, want: str) -> None:
    """Until the board lists exactly one element with `text`, in colour `want`."""
    await page.wait_for_function(
        """([text, want]) => {
             const items = [...document.querySelectorAll(".board-texts li")]
               .filter((li) => li.textContent.endsWith(`: ${text}`));
             return items.length === 1 && items[0].dataset.color === want;
           }""",
        arg=[text, want],
    )


async def selection_at(page: Page, x: float, y: float, tolerance: float = 2) -> None:
    """Until the selection's box has its top-left corner near world (x, y)."""
    await page.wait_for_function(
        """([x, y, tol]) => {
             const v = document.querySelector(".board")?.dataset.selectionBox;
             if (!v) return false;
             const [x0, y0] = v.split(",").map(Number);
             return Math.abs(x0 - x) <= tol && Math.abs(y0 - y) <= tol;
           }""",
        arg=[x, y, tolerance],
    )


async def positions(page: Page, text: str, want: list[tuple[int, int]], tolerance: float = 2) -> None:
    """Until the elements with `text` on the board are at exactly these top-left corners (any order)."""
    await page.wait_for_function(
        """([text, want, tol]) => {
             const have = [...document.querySelectorAll(".board-texts li")]
               .filter((li) => li.textContent.endsWith(`: ${text}`))
               .map((li) => [Number(li.dataset.x), Number(li.dataset.y)]);
             const left = [...want];
             for (const [x, y] of have) {
               const i = left.findIndex(([wx, wy]) => Math.abs(wx - x) <= tol && Math.abs(wy - y) <= tol);
               if (i < 0) return false;
               left.splice(i, 1);
             }
             return left.length === 0;
           }""",
        arg=[text, [list(p) for p in want], tolerance],
    )


async def ids_of(page: Page) -> set[str]:
    return {s["id"] for s in (await space_board(page))["strokes"]}


async def test_a_text_and_a_note_are_edited_in_place_for_both_and_undone_as_one_step(browsing: Browsing) -> None:
    async with browsing.recording():
        alice, bob = await shared_space(browsing, "Edit")
        a, b = alice.page, bob.page
        board = a.locator(".board")
        await place_text(a, 200, 200, "hello")
        await text_at(b, "hello", 200, 200)
        before = await ids_of(a)

        # Double-click with the select tool: the editor opens on the label, through the camera, prefilled.
        await tool(a, "Select")
        await double_click_world(a, 215, 212)
        area = editor(a)
        await expect(area).to_be_focused()
        await expect(area).to_have_value("hello")
        await expect(board).to_have_attribute("data-editing", f"text:{next(iter(before))}")
        box = await area.bounding_box()
        assert box is not None
        want_x, want_y = await screen_of(a, 200, 200)
        assert abs(box["x"] - want_x) <= 2 and abs(box["y"] - want_y) <= 2, (box, want_x, want_y)

        # Enter commits: Bob has the new text and not the old; the hub has a new element instead.
        await area.fill("hello world")
        await area.press("Enter")
        await expect(area).to_have_count(0)
        for page in (a, b):
            await wait_texts(page, ["hello world"])
            await text_at(page, "hello world", 200, 200)
        await expect(board).to_have_attribute("data-selected", "1")  # the edited label stays selected
        assert [t[0] for t in await stored_texts(b)] == ["hello world"]
        assert not (await ids_of(b)) & before

        # One undo step brings the old text back for everyone; redo the new one again.
        await a.keyboard.press("Control+z")
        for page in (a, b):
            await wait_texts(page, ["hello"])
        assert await stored_texts(a) == [("hello", BLACK, [200, 200])]
        await a.keyboard.press("Control+Shift+z")
        for page in (a, b):
            await wait_texts(page, ["hello world"])
        assert [t[0] for t in await stored_texts(a)] == ["hello world"]

        # Escape cancels; the same text again changes nothing.
        await double_click_world(a, 215, 212)
        await area.fill("never mind")
        await area.press("Escape")
        await expect(area).to_have_count(0)
        await double_click_world(a, 215, 212)
        await expect(area).to_have_value("hello world")
        await area.press("Enter")
        await expect(area).to_have_count(0)
        await wait_texts(a, ["hello world"])
        await expect(a.locator(".board")).to_have_attribute("data-pending", "0")

        # A note: select it, Enter edits it (Shift+Enter a new line); leaving the editor commits too.
        await tool(a, "Sticky note")
        await click_world(a, 600, 150)
        note = editor(a, "Note text")
        await note.press_sequentially("todo")
        await note.press("Enter")
        await wait_texts(b, ["hello world", "todo"])
        await tool(a, "Select")
        await click_world(a, 700, 250)
        await expect(board).to_have_attribute("data-selected", "1")
        await a.keyboard.press("Enter")
        await expect(note).to_be_focused()
        await expect(note).to_have_value("todo")
        await note.press("End")
        await note.press("Shift+Enter")
        await note.press_sequentially("milk")
        await note.press("Enter")
        for page in (a, b):
            await wait_texts(page, ["hello world", "todo\nmilk"])
        await double_click_world(a, 700, 250)
        await note.fill("blurred")
        await a.get_by_role("button", name="Export SVG").focus()
        for page in (a, b):
            await wait_texts(page, ["hello world", "blurred"])
        stored = {t[0]: t for t in await stored_texts(b)}
        assert stored["blurred"][1:] == (YELLOW_NOTE, [600, 150])  # same place, same fill

        # Emptied, the label is deleted; undo brings it back.
        await double_click_world(a, 215, 212)
        await area.fill("")
        await area.press("Enter")
        for page in (a, b):
            await wait_texts(page, ["blurred"])
        await a.keyboard.press("Control+z")
        for page in (a, b):
            await wait_texts(page, ["hello world", "blurred"])
        assert browsing.page_errors() == []


async def test_a_selection_is_recoloured_where_it_now_is(browsing: Browsing) -> None:
    async with browsing.recording():
        alice, bob = await shared_space(browsing, "Recolour")
        a, b = alice.page, bob.page
        await tool(a, "Rectangle")
        await drag_world(a, (200, 400), (400, 500))
        await place_text(a, 600, 200, "label")
        await tool(a, "Sticky note")
        await click_world(a, 900, 200)
        await editor(a, "Note text").press_sequentially("note")
        await editor(a, "Note text").press("Enter")
        await expect(b.locator(".board")).to_have_attribute("data-strokes", "3")

        # Bob moved the rectangle 50 right and down: the recoloured one is where he put it.
        await tool(b, "Select")
        await drag_world(b, (300, 400), (350, 450))
        await wait_box(a, "data-bounds", [248, 200, 1120, 552], tolerance=4)

        # Alice selects everything and picks Red: the tool stays Select, the selection the new elements.
        await tool(a, "Select")
        await click_world(a, 1300, 800)
        await a.keyboard.press("Control+a")
        await expect(a.locator(".board")).to_have_attribute("data-selected", "3")
        old = await ids_of(a)
        await a.locator(".toolbar").get_by_role("button", name="Red", exact=True).click()
        await colour_of(b, "label", RED)
        await colour_of(b, "note", RED_NOTE)  # a note takes the colour's light tint as its fill
        await expect(a.locator(".board")).to_have_attribute("data-selected", "3")
        await expect(a.locator(".board")).to_have_attribute("data-tool", "select")
        strokes = (await space_board(b))["strokes"]
        assert not {s["id"] for s in strokes} & old
        rect = next(s for s in strokes if s["tool"] == "rect")
        assert rect["color"] == RED
        assert [[round(v) for v in p] for p in rect["points"]] == [[250, 450], [450, 550]]
        await expect(b.locator(".board")).to_have_attribute("data-strokes", "3")

        # One undo step: every element back in its old colour, for Bob too; redo.
        await a.keyboard.press("Control+z")
        await colour_of(b, "label", BLACK)
        await colour_of(b, "note", YELLOW_NOTE)
        assert {s["color"] for s in (await space_board(a))["strokes"]} == {BLACK, YELLOW_NOTE}
        await a.keyboard.press("Control+y")
        await colour_of(b, "label", RED)
        await colour_of(b, "note", RED_NOTE)
        assert {s["color"] for s in (await space_board(a))["strokes"]} == {RED, RED_NOTE}

        # With nothing selected a colour is only the pen's, as before.
        await a.keyboard.press("Escape")
        await a.locator(".toolbar").get_by_role("button", name="Blue", exact=True).click()
        await expect(a.locator(".board")).to_have_attribute("data-tool", "pen")
        await colour_of(b, "label", RED)
        assert browsing.page_errors() == []


async def test_duplicate_copy_cut_and_paste_offset_each_copy_and_undo_removes_them(browsing: Browsing) -> None:
    async with browsing.recording():
        alice, bob = await shared_space(browsing, "Copies")
        a, b = alice.page, bob.page
        board = a.locator(".board")
        await place_text(a, 200, 200, "copy me")
        await text_at(b, "copy me", 200, 200)
        await tool(a, "Select")
        await click_world(a, 215, 212)
        await expect(board).to_have_attribute("data-selected", "1")

        # Ctrl+D: a copy 20 right and down, selected; again: one more 20 further.
        await a.keyboard.press("Control+d")
        for page in (a, b):
            await positions(page, "copy me", [(200, 200), (220, 220)])
        await selection_at(a, 220, 220)
        await a.keyboard.press("Control+d")
        for page in (a, b):
            await positions(page, "copy me", [(200, 200), (220, 220), (240, 240)])
        await selection_at(a, 240, 240)
        assert len(await ids_of(b)) == 3

        # Each duplicate is one undo step.
        await a.keyboard.press("Control+z")
        for page in (a, b):
            await positions(page, "copy me", [(200, 200), (220, 220)])
        await a.keyboard.press("Control+z")
        for page in (a, b):
            await positions(page, "copy me", [(200, 200)])

        # Copy, then paste twice: +20, then +40; a paste switches to the select tool.
        await click_world(a, 215, 212)
        await expect(board).to_have_attribute("data-selected", "1")
        await a.keyboard.press("Control+c")
        await tool(a, "Pen")
        await a.locator(".board-canvas").focus()
        await a.keyboard.press("Control+v")
        for page in (a, b):
            await positions(page, "copy me", [(200, 200), (220, 220)])
        await expect(board).to_have_attribute("data-tool", "select")
        await selection_at(a, 220, 220)
        await a.keyboard.press("Control+v")
        for page in (a, b):
            await positions(page, "copy me", [(200, 200), (220, 220), (240, 240)])
        await a.keyboard.press("Control+z")
        await positions(a, "copy me", [(200, 200), (220, 220)])
        await a.keyboard.press("Control+z")
        for page in (a, b):
            await positions(page, "copy me", [(200, 200)])
        assert len(await ids_of(a)) == 1

        # Cut takes it off the board; paste puts a copy back 20 along; undo the paste, then the cut.
        await click_world(a, 215, 212)
        await expect(board).to_have_attribute("data-selected", "1")
        await a.keyboard.press("Control+x")
        for page in (a, b):
            await expect(texts(page)).to_have_count(0)
        await a.keyboard.press("Control+v")
        for page in (a, b):
            await positions(page, "copy me", [(220, 220)])
        await a.keyboard.press("Control+z")
        for page in (a, b):
            await expect(texts(page)).to_have_count(0)
        await a.keyboard.press("Control+z")
        for page in (a, b):
            await positions(page, "copy me", [(200, 200)])
        assert [t[2] for t in await stored_texts(b)] == [[200, 200]]

        # A shape is copied with its geometry; the copy is Bob's to see at the offset too.
        await tool(a, "Rectangle")
        await drag_world(a, (500, 500), (600, 560))
        await tool(a, "Select")
        await click_world(a, 550, 500)
        await a.keyboard.press("Control+d")
        await expect(b.locator(".board")).to_have_attribute("data-strokes", "3")
        strokes = (await space_board(b))["strokes"]
        rects = sorted([[round(v) for v in p] for p in s["points"]] for s in strokes if s["tool"] == "rect")
        assert rects == [[[500, 500], [600, 560]], [[520, 520], [620, 580]]]

        # Elements another tab put on the system clipboard (its JSON) paste too, from the paste event.
        await b.locator(".board-canvas").focus()
        await b.evaluate(
            """() => {
                 const data = new DataTransfer();
                 data.setData("text/plain", JSON.stringify({ type: "collab-hub/board-elements", elements: [
                   { tool: "line", color: "#2563eb", width: 4, points: [[100, 700], [300, 800]] }] }));
                 document.querySelector(".board-canvas").dispatchEvent(
                   new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
               }"""
        )
        await expect(a.locator(".board")).to_have_attribute("data-strokes", "4")
        line = next(s for s in (await space_board(a))["strokes"] if s["tool"] == "line")
        assert line["color"] == "#2563eb" and line["points"] == [[120, 720], [320, 820]]
        assert browsing.page_errors() == []


async def test_a_viewer_cannot_edit_and_the_handle_grows_under_a_finger(browsing: Browsing) -> None:
    async with browsing.recording():
        alice, bob = await shared_space(browsing, "Viewer")
        a = alice.page
        await place_text(a, 200, 200, "read only")

        # The space link now makes viewers: Carol opens it.
        await a.get_by_role("button", name="Share").click()
        dialog = a.get_by_role("dialog")
        async with a.expect_response(lambda r: r.request.method == "PATCH" and r.ok):
            await dialog.get_by_label("People with the space link").select_option("viewer")
        await dialog.get_by_role("button", name="Done").click()
        carol = await browsing.guest("Carol", a.url.removeprefix(browsing.base_url))
        c = carol.page
        await expect(c.locator(".space-head .badge")).to_have_text("viewer")
        await text_at(c, "read only", 200, 200)

        # Double-click, Enter, duplicate and paste do nothing for her.
        await double_click_world(c, 215, 212)
        await c.locator(".board-canvas").focus()
        for key in ("Enter", "Control+d", "Control+c", "Control+v"):
            await c.keyboard.press(key)
        await expect(c.locator(".board")).not_to_have_attribute("data-editing", re.compile(".*"))
        await expect(c.locator(".board-editor")).to_have_count(0)
        await expect(c.locator(".board")).to_have_attribute("data-selected", "0")
        # Bob's label, drawn after her keys, is the next thing she sees: nothing of hers came before it.
        await place_text(bob.page, 600, 600, "after")
        await wait_texts(c, ["read only", "after"])
        assert len((await space_board(a))["strokes"]) == 2

        # Alice's handle: 12 px for a mouse, 24 px once a finger touches the board; a touch 18 px off
        # its centre (outside the mouse's reach) still grabs it and resizes.
        await tool(a, "Select")
        await click_world(a, 215, 212)
        board = a.locator(".board")
        await expect(board).to_have_attribute("data-selected", "1")
        await expect(board).to_have_attribute("data-handle-size", "12")
        x0, _, x1, y1 = await box_attr(a, "data-selection-box")
        box = await a.locator(".board-canvas").bounding_box()
        assert box is not None
        zoom = (await camera(a))[2]
        pad = 4 / (box["width"] / WORLD_W * zoom)
        hx, hy = await screen_of(a, x1 + pad, y1 + pad)
        await touch_drag(a, (hx + 18, hy + 18), (hx + 118, hy + 68))
        await expect(board).to_have_attribute("data-handle-size", "24")
        await a.wait_for_function(
            "(w) => { const [x0, , x1] = document.querySelector('.board').dataset.selectionBox.split(',').map(Number);"
            " return x1 - x0 > w * 1.5; }",
            arg=x1 - x0,
        )
        await click_world(a, 1300, 800)  # a mouse again
        await expect(board).to_have_attribute("data-handle-size", "12")
        assert browsing.page_errors() == []


async def touch_drag(page: Page, start: tuple[float, float], end: tuple[float, float]) -> None:
    """One finger pressed at page point `start`, moved to `end` in ten steps and lifted."""
    await page.evaluate(
        """([[sx, sy], [ex, ey]]) => {
             const c = document.querySelector(".board-canvas");
             const at = (type, x, y) => c.dispatchEvent(new PointerEvent(type, {
               pointerId: 21, pointerType: "touch", isPrimary: true, clientX: x, clientY: y,
               bubbles: true, cancelable: true, button: type === "pointermove" ? -1 : 0, buttons: 1 }));
             at("pointerdown", sx, sy);
             for (let i = 1; i <= 10; i += 1) at("pointermove", sx + (ex - sx) * i / 10, sy + (ey - sy) * i / 10);
             at("pointerup", ex, ey);
           }""",
        [list(start), list(end)],
    )
