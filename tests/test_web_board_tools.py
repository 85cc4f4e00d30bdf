"""The whiteboard's tools in real headless Chromium, across two people: shapes, text and sticky notes;
select, move, resize and delete; pan and zoom (wheel, keys, hand, Space and middle-button drags, pinch),
zoom to fit, remote cursors through each one's camera; and the toolbar at phone width."""

from __future__ import annotations

import math
import re
from typing import Any

from playwright.async_api import Page, expect

from tests.support.browser import Browsing, browser_fixture, browsing_fixture, draw, web_hub_fixture
from tests.test_web_collab import shared_space

FIXTURES = (browser_fixture, web_hub_fixture, browsing_fixture)

WORLD_W = 1600  # world units across the canvas at zoom 1 (web/static/js/canvas.js)


# -- helpers shared with tests/test_web_board_undo.py ------------------------------------------------


async def camera(page: Page) -> tuple[float, float, float]:
    """(pan x, pan y, zoom) as the board element exposes them."""
    board = page.locator(".board")
    values = [await board.get_attribute(name) for name in ("data-pan-x", "data-pan-y", "data-zoom")]
    assert all(v is not None for v in values)
    x, y, zoom = (float(v) for v in values if v is not None)
    return x, y, zoom


async def screen_of(page: Page, wx: float, wy: float) -> tuple[float, float]:
    """The page coordinates of a world point, through the page's camera."""
    box = await page.locator(".board-canvas").bounding_box()
    assert box is not None
    x, y, zoom = await camera(page)
    scale = box["width"] / WORLD_W * zoom
    return box["x"] + (wx - x) * scale, box["y"] + (wy - y) * scale


async def drag_world(page: Page, start: tuple[float, float], end: tuple[float, float], *, steps: int = 8) -> None:
    """Press at world point `start`, move to `end` and release (primary button)."""
    sx, sy = await screen_of(page, *start)
    ex, ey = await screen_of(page, *end)
    await page.mouse.move(sx, sy)
    await page.mouse.down()
    await page.mouse.move(ex, ey, steps=steps)
    await page.mouse.up()


async def click_world(page: Page, wx: float, wy: float, *, shift: bool = False) -> None:
    x, y = await screen_of(page, wx, wy)
    if shift:
        await page.keyboard.down("Shift")
    await page.mouse.click(x, y)
    if shift:
        await page.keyboard.up("Shift")


async def wait_camera(
    page: Page, *, x: float | None = None, y: float | None = None, zoom: float | None = None, tolerance: float = 0.2
) -> None:
    """Until the page's camera is at the given pan (world units) and zoom (within `tolerance`)."""
    await page.wait_for_function(
        """([want, tol]) => {
             const d = document.querySelector(".board")?.dataset;
             if (!d) return false;
             const have = { x: Number(d.panX), y: Number(d.panY), zoom: Number(d.zoom) };
             return Object.entries(want).every(([k, v]) => v === null || Math.abs(have[k] - v) <= tol);
           }""",
        arg=[{"x": x, "y": y, "zoom": zoom}, tolerance],
    )


async def tool(page: Page, name: str) -> None:
    button = page.locator(".toolbar").get_by_role("button", name=name, exact=True)
    await button.click()
    await expect(button).to_have_attribute("aria-pressed", "true")


def rect_of(value: str | None) -> list[float]:
    assert value, "no box"
    return [float(v) for v in value.split(",")]


async def box_attr(page: Page, name: str) -> list[float]:
    return rect_of(await page.locator(".board").get_attribute(name))


async def wait_box(page: Page, name: str, want: list[float], tolerance: float = 3) -> None:
    """Until the board's box attribute `name` ("x0,y0,x1,y1") is within `tolerance` of `want`."""
    await page.wait_for_function(
        """([name, want, tol]) => {
             const v = document.querySelector(".board")?.getAttribute(name);
             if (!v) return false;
             return v.split(",").map(Number).every((x, i) => Math.abs(x - want[i]) <= tol);
           }""",
        arg=[name, want, tolerance],
    )


async def space_board(page: Page) -> dict[str, Any]:
    """The board as the hub stores it (`GET /spaces/{id}/board`), asked from the page with its session."""
    space_id = page.url.rsplit("/s/", 1)[1]
    result: dict[str, Any] = await page.evaluate(
        """async (id) => {
             const token = JSON.parse(localStorage.getItem("hub.session")).access_token;
             const r = await fetch(`/spaces/${id}/board`, { headers: { Authorization: `Bearer ${token}` } });
             return r.json();
           }""",
        space_id,
    )
    return result


async def place_text(page: Page, wx: float, wy: float, text: str) -> None:
    """With the Text tool: click at a world point, type, Enter."""
    await tool(page, "Text")
    await click_world(page, wx, wy)
    editor = page.get_by_role("textbox", name="Text", exact=True)
    await expect(editor).to_be_focused()
    await editor.press_sequentially(text)
    await editor.press("Enter")
    await expect(editor).to_have_count(0)


def texts(page: Page) -> Any:
    return page.locator(".board-texts li")


# -- tests -----------------------------------------------------------------------------------------------


async def test_shapes_text_and_notes_are_drawn_for_both(browsing: Browsing) -> None:
    async with browsing.recording():
        alice, bob = await shared_space(browsing, "Shapes")
        a, b = alice.page, bob.page

        # Each shape is dragged out: two points, its start and end corners.
        shapes = {
            "Rectangle": ((100, 100), (300, 250)),
            "Ellipse": ((400, 100), (600, 250)),
            "Line": ((100, 400), (300, 500)),
            "Arrow": ((400, 400), (600, 500)),
        }
        for count, (name, (start, end)) in enumerate(shapes.items(), start=1):
            await tool(a, name)
            await drag_world(a, start, end)
            await expect(b.locator(".board")).to_have_attribute("data-strokes", str(count))
        # A click with a shape tool draws nothing.
        await click_world(a, 800, 800)
        await expect(a.locator(".board")).to_have_attribute("data-pending", "0")
        await expect(a.locator(".board")).to_have_attribute("data-strokes", "4")

        stored = {s["tool"]: s for s in (await space_board(a))["strokes"]}
        assert set(stored) == {"rect", "ellipse", "line", "arrow"}
        for name, tool_name in (("Rectangle", "rect"), ("Ellipse", "ellipse"), ("Line", "line"), ("Arrow", "arrow")):
            (x0, y0), (x1, y1) = shapes[name]
            points = stored[tool_name]["points"]
            assert len(points) == 2 and stored[tool_name]["text"] is None
            assert math.isclose(points[0][0], x0, abs_tol=2) and math.isclose(points[0][1], y0, abs_tol=2)
            assert math.isclose(points[1][0], x1, abs_tol=2) and math.isclose(points[1][1], y1, abs_tol=2)

        # Text: click, type (Shift+Enter for a new line), Enter places it; Bob has it at that spot.
        await tool(a, "Text")
        await click_world(a, 700, 120)
        editor = a.get_by_role("textbox", name="Text", exact=True)
        await expect(editor).to_be_focused()
        await editor.press_sequentially("Hello")
        await editor.press("Shift+Enter")
        await editor.press_sequentially("board")
        await editor.press("Enter")
        label = texts(b).filter(has_text="Hello")
        await expect(label).to_have_text(re.compile(r"^Text: Hello\s+board$"))
        assert abs(float(await label.get_attribute("data-x") or "nan") - 700) <= 2
        assert abs(float(await label.get_attribute("data-y") or "nan") - 120) <= 2

        # Escape cancels: nothing is placed.
        await click_world(a, 700, 300)
        await expect(editor).to_be_focused()
        await editor.press_sequentially("never mind")
        await editor.press("Escape")
        await expect(editor).to_have_count(0)
        await expect(a.locator(".board")).to_have_attribute("data-strokes", "5")

        # A sticky note from a click (its default size) and one dragged out; blur commits too.
        await tool(a, "Sticky note")
        await click_world(a, 900, 100)
        note = a.get_by_role("textbox", name="Note text")
        await expect(note).to_be_focused()
        await note.press_sequentially("Buy milk")
        await note.press("Enter")
        await expect(texts(b).filter(has_text="Buy milk")).to_have_attribute("data-w", "220")
        await drag_world(a, (1200, 100), (1500, 300))
        await expect(note).to_be_focused()
        await note.press_sequentially("A longer note that has to wrap inside its box")
        await a.get_by_role("button", name="Export SVG").focus()  # leaving the note places it
        dragged = texts(b).filter(has_text="A longer note")
        await expect(dragged).to_have_count(1)
        assert abs(float(await dragged.get_attribute("data-w") or "nan") - 300) <= 2
        assert abs(float(await dragged.get_attribute("data-h") or "nan") - 200) <= 2
        await expect(b.locator(".board")).to_have_attribute("data-strokes", "7")

        stored = {s["text"]: s for s in (await space_board(b))["strokes"] if s["tool"] in ("text", "note")}
        assert stored["Hello\nboard"]["tool"] == "text" and len(stored["Hello\nboard"]["points"]) == 1
        assert stored["Hello\nboard"]["width"] == 24  # the Medium size's font
        assert stored["Buy milk"]["tool"] == "note" and stored["Buy milk"]["color"] == "#fef08a"

        # Bob's canvas really paints the note: its fill under the middle of the note.
        x, y = await screen_of(b, 1000, 250)
        box = await b.locator(".board-canvas").bounding_box()
        assert box is not None
        pixel = await b.evaluate(
            """([x, y]) => {
                 const c = document.querySelector(".board-canvas");
                 const r = c.width / c.clientWidth;
                 return [...c.getContext("2d").getImageData(Math.round(x * r), Math.round(y * r), 1, 1).data];
               }""",
            [x - box["x"], y - box["y"]],
        )
        assert pixel[:3] == [0xFE, 0xF0, 0x8A], pixel
        assert browsing.page_errors() == []


async def test_select_move_resize_and_delete_across_two_browsers(browsing: Browsing) -> None:
    async with browsing.recording():
        alice, bob = await shared_space(browsing, "Select")
        a, b = alice.page, bob.page
        sent: list[str] = []
        b.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(str(payload))))
        await b.reload()  # the listener sees Bob's socket from its start
        await expect(b.locator(".connection")).to_have_attribute("data-state", "joined")

        await tool(a, "Rectangle")
        await drag_world(a, (200, 200), (400, 300))
        await expect(b.locator(".board")).to_have_attribute("data-strokes", "1")
        await wait_box(b, "data-bounds", [198, 198, 402, 302])

        # Bob clicks the rectangle's edge: selected. Its inside is hollow; empty space deselects.
        await tool(b, "Select")
        await click_world(b, 300, 200)
        await expect(b.locator(".board")).to_have_attribute("data-selected", "1")
        await click_world(b, 800, 800)
        await expect(b.locator(".board")).to_have_attribute("data-selected", "0")

        # Dragging it moves it, drawn live, and sends one transform when released.
        await click_world(b, 300, 200)
        await drag_world(b, (300, 200), (500, 300), steps=10)
        await wait_box(a, "data-bounds", [398, 298, 602, 402])
        assert sum('"transform"' in frame for frame in sent) == 1, sent
        stored = (await space_board(a))["strokes"][0]["points"]
        assert [[round(v) for v in p] for p in stored] == [[400, 300], [600, 400]]

        # The handle on the selection's bottom-right corner resizes about its top-left corner.
        x0, y0, x1, y1 = await box_attr(b, "data-selection-box")
        assert max(abs(v - w) for v, w in zip((x0, y0, x1, y1), (398, 298, 602, 402), strict=True)) <= 2
        zoom = (await camera(b))[2]
        box = await b.locator(".board-canvas").bounding_box()
        assert box is not None
        pad = 4 / (box["width"] / WORLD_W * zoom)  # the outline sits 4 px outside the box
        await drag_world(b, (x1 + pad, y1 + pad), (x1 + pad + 204, y1 + pad + 104))
        await wait_box(a, "data-bounds", [400, 300, 804, 504])
        assert sum('"transform"' in frame for frame in sent) == 2

        # Alice adds a stroke; Bob box-selects both, Shift+click takes one out, Delete erases the other.
        await draw(a, [(0.1, 0.7), (0.2, 0.8)])
        await expect(b.locator(".board")).to_have_attribute("data-strokes", "2")
        await drag_world(b, (100, 100), (1000, 1000))
        await expect(b.locator(".board")).to_have_attribute("data-selected", "2")
        await click_world(b, 600, 300, shift=True)  # the rectangle's top edge
        await expect(b.locator(".board")).to_have_attribute("data-selected", "1")
        await b.keyboard.press("Delete")
        for page in (a, b):
            await expect(page.locator(".board")).to_have_attribute("data-strokes", "1")
        await wait_box(a, "data-bounds", [400, 300, 804, 504])  # the rectangle stayed

        # A stroke not yet acknowledged (Bob offline) cannot be selected; once saved it can.
        await b.context.set_offline(True)
        await tool(b, "Pen")
        await draw(b, [(0.8, 0.1), (0.9, 0.1)])
        await expect(b.locator(".board")).to_have_attribute("data-pending", "1")
        await tool(b, "Select")
        await click_world(b, 0.85 * WORLD_W, 100)
        await expect(b.locator(".board")).to_have_attribute("data-selected", "0")
        await b.context.set_offline(False)
        await expect(b.locator(".board")).to_have_attribute("data-pending", "0")
        await click_world(b, 0.85 * WORLD_W, 100)
        await expect(b.locator(".board")).to_have_attribute("data-selected", "1")
        assert browsing.page_errors() == []


async def test_pan_zoom_and_zoom_to_fit(browsing: Browsing) -> None:
    async with browsing.recording():
        alice, bob = await shared_space(browsing, "Camera")
        a, b = alice.page, bob.page
        board = a.locator(".board")
        await expect(board).to_have_attribute("data-zoom", "1")
        canvas = a.locator(".board-canvas")
        box = await canvas.bounding_box()
        assert box is not None
        px, py = box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.25

        # Ctrl+wheel zooms about the pointer: the world point under it stays under it.
        await a.mouse.move(px, py)
        await a.keyboard.down("Control")
        await a.mouse.wheel(0, -200)
        await a.keyboard.up("Control")
        await a.wait_for_function("() => Number(document.querySelector('.board').dataset.zoom) > 1.5")
        x, y, zoom = await camera(a)
        scale = box["width"] / WORLD_W * zoom
        assert math.isclose(x + (px - box["x"]) / scale, 400, abs_tol=1)
        assert math.isclose(y + (py - box["y"]) / scale, (py - box["y"]) * WORLD_W / box["width"], abs_tol=1)

        # The plain wheel pans (by screen pixels); keys zoom, reset and pan.
        await a.mouse.wheel(0, 120)
        await wait_camera(a, x=x, y=y + 120 / scale, zoom=zoom, tolerance=0.1)
        await canvas.focus()
        await a.keyboard.press("0")
        await expect(board).to_have_attribute("data-zoom", "1")
        await expect(board).to_have_attribute("data-pan-x", "0")
        await a.keyboard.press("=")
        await expect(board).to_have_attribute("data-zoom", "1.25")
        await a.keyboard.press("-")
        await expect(board).to_have_attribute("data-zoom", "1")
        await a.keyboard.press("ArrowRight")
        await wait_camera(a, x=60 * WORLD_W / box["width"], y=0)
        await a.keyboard.press("0")

        # The hand tool, Space+drag and the middle button drag the view; none of them draws.
        unit = WORLD_W / box["width"]
        await tool(a, "Hand")
        await a.mouse.move(px + 100, py + 50)
        await a.mouse.down()
        await a.mouse.move(px, py, steps=5)
        await a.mouse.up()
        await wait_camera(a, x=100 * unit, y=50 * unit, zoom=1)
        await tool(a, "Pen")
        await canvas.focus()
        await a.keyboard.down("Space")
        await a.mouse.move(px, py)
        await a.mouse.down()
        await a.mouse.move(px + 100, py + 50, steps=5)
        await a.mouse.up()
        await a.keyboard.up("Space")
        await wait_camera(a, x=0, y=0)
        await a.mouse.move(px, py)
        await a.mouse.down(button="middle")
        await a.mouse.move(px - 40, py, steps=3)
        await a.mouse.up(button="middle")
        await wait_camera(a, x=40 * unit, y=0)
        await expect(board).to_have_attribute("data-strokes", "0")

        # Two fingers pinch apart: zoom by the ratio of their spread; the first finger's stroke is dropped.
        await a.evaluate(
            """([x, y]) => {
                 const c = document.querySelector(".board-canvas");
                 const at = (type, id, cx) => c.dispatchEvent(new PointerEvent(type, {
                   pointerId: id, pointerType: "touch", isPrimary: id === 11, clientX: cx, clientY: y,
                   bubbles: true, cancelable: true, button: type === "pointermove" ? -1 : 0, buttons: 1 }));
                 at("pointerdown", 11, x - 50);
                 at("pointerdown", 12, x + 50);
                 for (let i = 1; i <= 10; i += 1) {
                   at("pointermove", 11, x - 50 - 5 * i);
                   at("pointermove", 12, x + 50 + 5 * i);
                 }
                 at("pointerup", 11, x - 100);
                 at("pointerup", 12, x + 100);
               }""",
            [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
        )
        await expect(board).to_have_attribute("data-zoom", "2")
        await expect(board).to_have_attribute("data-strokes", "0")

        # Drawn at zoom 2, a stroke lands at the world point under the pointer.
        vx0, vy0, vx1, vy1 = await box_attr(a, "data-view")
        cx, cy = round((vx0 + vx1) / 2), round((vy0 + vy1) / 2)
        await tool(a, "Line")
        await drag_world(a, (cx - 30, cy - 20), (cx + 20, cy + 10))
        await expect(b.locator(".board")).to_have_attribute("data-strokes", "1")
        (p0, p1) = (await space_board(a))["strokes"][0]["points"]
        assert math.isclose(p0[0], cx - 30, abs_tol=1) and math.isclose(p1[1], cy + 10, abs_tol=1)

        # Zoom to fit: from far away and zoomed out, everything on the board fills the view.
        await draw(b, [(0.9, 0.9), (0.95, 0.95)])
        await expect(board).to_have_attribute("data-strokes", "2")
        await canvas.focus()
        for _ in range(8):
            await a.keyboard.press("-")
        await a.keyboard.press("Shift+ArrowDown")
        await a.locator(".toolbar").get_by_role("button", name="Zoom to fit").click()
        bounds = await box_attr(a, "data-bounds")
        await a.wait_for_function(
            """(b) => {
                 const v = document.querySelector(".board").dataset.view.split(",").map(Number);
                 const inside = v[0] <= b[0] && v[1] <= b[1] && v[2] >= b[2] && v[3] >= b[3];
                 const fill = Math.max((b[2] - b[0]) / (v[2] - v[0]), (b[3] - b[1]) / (v[3] - v[1]));
                 return inside && fill > 0.85;
               }""",
            arg=bounds,
        )
        assert browsing.page_errors() == []


async def test_remote_cursors_follow_the_camera_and_my_own_tabs_are_not_drawn(browsing: Browsing) -> None:
    async with browsing.recording():
        alice, bob = await shared_space(browsing, "Cursors")
        a, b = alice.page, bob.page
        await b.locator(".board-canvas").focus()
        for _ in range(3):
            await b.keyboard.press("=")  # zoom 1.953 about the centre
        await b.keyboard.press("ArrowLeft")

        # Alice points at world (500, 400): on Bob's board the cursor is where (500, 400) is for him.
        ax, ay = await screen_of(a, 500, 400)
        await a.mouse.move(ax - 30, ay - 30)
        await a.mouse.move(ax, ay, steps=3)
        cursor = b.locator(".cursor-layer .cursor")
        await expect(cursor).to_have_text("Alice")
        await expect(cursor).to_have_attribute("data-x", "500")
        await expect(cursor).to_have_attribute("data-y", "400")
        box = await b.locator(".board-canvas").bounding_box()
        assert box is not None
        want_x, want_y = await screen_of(b, 500, 400)
        left, top = await cursor.evaluate("(el) => [parseFloat(el.style.left), parseFloat(el.style.top)]")
        assert abs(box["x"] + left - want_x) <= 2 and abs(box["y"] + top - want_y) <= 2

        # Alice's second tab moves its pointer: Bob sees her there, Alice's first tab draws no cursor of
        # her own (Bob's, sent after, does arrive there).
        second = await alice.context.new_page()
        await second.goto(a.url)
        await expect(second.locator(".connection")).to_have_attribute("data-state", "joined")
        sx, sy = await screen_of(second, 900, 600)
        await second.mouse.move(sx - 20, sy)
        await second.mouse.move(sx, sy, steps=3)
        await expect(cursor).to_have_attribute("data-x", "900")
        bx, by = await screen_of(b, 700, 500)
        await b.mouse.move(bx - 10, by)
        await b.mouse.move(bx, by, steps=2)
        mine = a.locator(".cursor-layer .cursor")
        await expect(mine).to_have_text("Bob")
        await expect(mine).to_have_count(1)
        await expect(second.locator(".cursor-layer .cursor")).to_have_text("Bob")
        await second.close()
        assert browsing.page_errors() == []


_OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


async def test_the_toolbar_fits_a_phone(browsing: Browsing) -> None:
    async with browsing.recording():
        carol = await browsing.guest("Carol", width=375, height=740)
        page = carol.page
        await page.get_by_label("Name").fill("Pocket board")
        await page.get_by_role("button", name="Create space").click()
        await expect(page.locator(".connection")).to_have_attribute("data-state", "joined")
        toolbar = page.locator(".toolbar")
        assert await page.evaluate(_OVERFLOW) <= 0
        # The toolbar scrolls sideways within its box, which stays inside the page.
        box = await toolbar.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375
        assert await toolbar.evaluate("(el) => el.scrollWidth > el.clientWidth")
        # Every control can be reached: the last one scrolls into view and works.
        export = toolbar.get_by_role("button", name="Export PNG")
        await export.scroll_into_view_if_needed()
        await expect(export).to_be_in_viewport()
        async with page.expect_download() as pending:
            await export.click()
        assert (await pending.value).suggested_filename == "board.png"
        assert await page.evaluate(_OVERFLOW) <= 0
        # The icon tools carry their names for assistive technology.
        for name in ("Select", "Hand", "Pen", "Rectangle", "Sticky note", "Eraser", "Undo", "Redo", "Zoom to fit"):
            await expect(toolbar.get_by_role("button", name=name, exact=True)).to_have_count(1)
        assert browsing.page_errors() == []
