"""Client defects found by trying the web client as new users would, each in real headless Chromium:
Delete buttons after a reload, remote cursors that stop short, and relative times that never move."""

from __future__ import annotations

import re

from playwright.async_api import FilePayload, expect

from tests.support.browser import Browsing, browser_fixture, browsing_fixture, web_hub_fixture
from tests.test_web_collab import _png, editor, shared_space

FIXTURES = (browser_fixture, web_hub_fixture, browsing_fixture)

# The board's world size (web/static/js/canvas.js).
WORLD_W, WORLD_H = 1600, 1000


async def test_after_a_reload_editors_still_get_delete_buttons(browsing: Browsing) -> None:
    """The files list was drawn before the role arrived over the socket and never drawn again."""
    async with browsing.recording():
        alice, bob = await shared_space(browsing, "Files after reload")
        await alice.page.get_by_label("Upload files").set_input_files(
            files=[FilePayload(name="picture.png", mimeType="image/png", buffer=_png())]
        )
        item = alice.page.locator(".file-item", has_text="picture.png")
        await expect(item.get_by_role("button", name="Delete picture.png")).to_be_visible()
        for page in (alice.page, bob.page):
            await page.reload()
            await expect(page.locator(".connection")).to_have_attribute("data-state", "joined")
        await expect(item.get_by_role("button", name="Download picture.png")).to_be_visible()
        await expect(item.get_by_role("button", name="Delete picture.png")).to_be_visible()
        assert browsing.page_errors() == []


async def test_a_remote_cursor_ends_where_the_pointer_stopped(browsing: Browsing) -> None:
    """Moves inside the 50 ms throttle window were dropped, the last one with them."""
    async with browsing.recording():
        alice, bob = await shared_space(browsing, "Cursors")
        box = await alice.page.locator(".board-canvas").bounding_box()
        assert box is not None
        cursor = bob.page.locator(".cursor-layer .cursor")
        await alice.page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.2)
        await expect(cursor).to_have_text("Alice")
        # A quick sweep: its ten moves take a few milliseconds, far less than one throttle window.
        end_x, end_y = round(box["x"] + box["width"] * 0.7), round(box["y"] + box["height"] * 0.6)
        await alice.page.mouse.move(end_x, end_y, steps=10)
        want = [(end_x - box["x"]) / box["width"] * WORLD_W, (end_y - box["y"]) / box["height"] * WORLD_H]
        await bob.page.wait_for_function(
            """([x, y]) => {
                 const el = document.querySelector(".cursor-layer .cursor");
                 return el && Math.abs(el.dataset.x - x) <= 2 && Math.abs(el.dataset.y - y) <= 2;
               }""",
            arg=want,
        )
        assert browsing.page_errors() == []


async def test_relative_times_move_on_and_an_overwrite_is_saved_now(browsing: Browsing) -> None:
    """ "now" stayed "now" for good, and right after "Overwrite with mine" the editor said "saved 18
    seconds ago" (the time of the version it had opened)."""
    async with browsing.recording():
        alice, bob = await shared_space(browsing, "Times", bob_fake_clock=True)
        await alice.page.get_by_role("button", name="New bin").click()
        await alice.page.get_by_label("Title").fill("Notes")
        await alice.page.get_by_role("button", name="Create", exact=True).click()
        await expect(editor(alice.page)).to_have_attribute("data-version", "1")

        await bob.page.locator(".bin-list").get_by_role("button", name="Notes").click()
        status = bob.page.locator(".bin-status")
        await expect(status).to_have_text("Version 1 · saved now")
        # Fifteen seconds later (on Bob's clock) the status says so, without anything else happening.
        await bob.page.clock.fast_forward(15_000)
        await expect(status).to_have_text(re.compile(r"^Version 1 · saved 1\d seconds ago$"))

        # Bob edits; Alice saves first; Bob's save conflicts and he overwrites: saved now, not 15 s ago.
        await bob.page.get_by_label("Content").fill("bob's text")
        await alice.page.get_by_label("Content").fill("alice's text")
        await alice.page.get_by_role("button", name="Save").click()
        await expect(editor(alice.page)).to_have_attribute("data-version", "2")
        await bob.page.get_by_role("button", name="Save").click()
        conflict = bob.page.locator(".conflict")
        await expect(conflict).to_contain_text("Someone else saved this bin while you were editing")
        async with bob.page.expect_response(lambda r: r.request.method == "PATCH" and r.ok) as answer:
            await conflict.get_by_role("button", name="Overwrite with mine").click()
        saved = await (await answer.value).json()
        await expect(editor(bob.page)).to_have_attribute("data-version", "3")
        # The status tells the time of the save just made (its <time>), not of the version first opened.
        await expect(status.locator("time")).to_have_attribute("datetime", saved["updated_at"])
        await expect(status).to_have_text("Version 3 · saved now")
        assert browsing.page_errors() == []


async def test_the_owner_extends_a_space_and_a_past_expiry_reads_expired(browsing: Browsing) -> None:
    async with browsing.recording():
        owner = await browsing.guest("Owner", fake_clock=True)
        page = owner.page
        await page.get_by_label("Name").fill("Short lived")
        await page.get_by_label("Expires after").select_option(label="1 hour")
        await page.get_by_role("button", name="Create space").click()
        expiry = page.locator(".space-head .expiry")
        await expect(expiry).to_have_text("Expires in 1 hour")
        await page.get_by_label("Keep the space").select_option(label="7 days from now")
        await expect(expiry).to_have_text("Expires in 1 week")
        # Past its time (on this page's clock) the space reads as expired, not "Expires now".
        await page.clock.fast_forward(8 * 86_400 * 1000)
        await expect(expiry).to_have_text("Expired")
        assert browsing.page_errors() == []


async def test_a_guest_signing_out_is_warned_and_may_register_instead(browsing: Browsing) -> None:
    async with browsing.recording():
        guest = await browsing.guest("Gus")
        page = guest.page
        await page.get_by_label("Name").fill("Gus's board")
        await page.get_by_role("button", name="Create space").click()
        await expect(page.locator(".connection")).to_have_attribute("data-state", "joined")
        space_url = page.url

        await page.get_by_role("button", name="Sign out").click()
        warning = page.get_by_role("dialog", name="Sign out of a guest account?")
        await expect(warning).to_contain_text("the space it owns (“Gus's board”) will be out of reach")
        await warning.get_by_role("button", name="Cancel").click()
        await expect(page.locator("#account")).to_contain_text("Gus")  # still signed in

        await page.get_by_role("button", name="Sign out").click()
        await warning.get_by_role("button", name="Register").click()
        await page.get_by_label("Username").fill("gus")
        await page.get_by_label("Display name").fill("Gus")
        await page.get_by_label("Password").fill("correct horse battery")
        await page.get_by_role("button", name="Create account").click()
        await expect(page.locator("#account .badge")).to_have_count(0)  # no longer a guest
        await page.goto(space_url)
        await expect(page.locator(".space-head .badge")).to_have_text("owner")  # the space came along

        # A registered account signs out without a warning.
        await page.get_by_role("button", name="Sign out").click()
        await expect(page.get_by_role("tab", name="Sign in")).to_be_visible()
        assert browsing.page_errors() == []
