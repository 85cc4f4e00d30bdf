"""The web client in real headless Chromium against a running hub: sign-in, spaces, sharing, the
whiteboard and presence across two people."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.support.browser import Browsing, browser_fixture, browsing_fixture, draw, web_hub_fixture

FIXTURES = (browser_fixture, web_hub_fixture, browsing_fixture)


async def create_space(page: Page, name: str) -> str:
    await page.get_by_label("Name").fill(name)
    await page.get_by_role("button", name="Create space").click()
    await expect(page.get_by_role("heading", level=1, name=name)).to_be_visible()
    await expect(page.locator(".connection")).to_have_attribute("data-state", "joined")
    space_id: str = page.url.rsplit("/s/", 1)[1]
    return space_id


async def test_two_people_share_a_board(browsing: Browsing) -> None:
    async with browsing.recording():
        alice = await browsing.guest("Alice")
        space_id = await create_space(alice.page, "Team board")

        # Share: the owner creates an invite link in the dialog and copies it from a read-only field.
        await alice.page.get_by_role("button", name="Share").click()
        dialog = alice.page.get_by_role("dialog")
        await dialog.get_by_role("button", name="Create invite link").click()
        link = await dialog.get_by_label("Invite link (editor)").input_value()
        assert link.startswith(browsing.base_url + "/join#"), link
        await dialog.get_by_role("button", name="Done").click()

        bob = await browsing.guest("Bob", link.removeprefix(browsing.base_url))
        await expect(bob.page).to_have_url(f"{browsing.base_url}/s/{space_id}")
        await expect(bob.page.locator(".connection")).to_have_attribute("data-state", "joined")

        # Presence shows both, each with a colour.
        for who in (alice, bob):
            await expect(who.page.locator(".presence")).to_have_attribute("data-count", "2")
            await expect(who.page.locator(".presence-list")).to_contain_text("Alice")
            await expect(who.page.locator(".presence-list")).to_contain_text("Bob")

        # Alice's pointer shows up on Bob's board as a named cursor.
        box = await alice.page.locator(".board-canvas").bounding_box()
        assert box is not None
        await alice.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=5)
        await expect(bob.page.locator(".cursor-layer .cursor")).to_have_text("Alice")

        # A stroke drawn by Alice is drawn at once for her and appears for Bob.
        await draw(alice.page, [(0.2, 0.2), (0.4, 0.3), (0.5, 0.5)])
        await expect(alice.page.locator(".board")).to_have_attribute("data-strokes", "1")
        await expect(alice.page.locator(".board")).to_have_attribute("data-pending", "0")
        await expect(bob.page.locator(".board")).to_have_attribute("data-strokes", "1")

        # Bob draws too; then undoes his own stroke, which disappears for Alice as well.
        await draw(bob.page, [(0.6, 0.6), (0.7, 0.8)])
        await expect(alice.page.locator(".board")).to_have_attribute("data-strokes", "2")
        await bob.page.get_by_role("button", name="Undo").click()
        await expect(bob.page.locator(".board")).to_have_attribute("data-strokes", "1")
        await expect(alice.page.locator(".board")).to_have_attribute("data-strokes", "1")

        # A late joiner (reload) gets the board from the snapshot.
        await bob.page.reload()
        await expect(bob.page.locator(".connection")).to_have_attribute("data-state", "joined")
        await expect(bob.page.locator(".board")).to_have_attribute("data-strokes", "1")

        # Bob's eraser crosses Alice's stroke: gone for both.
        await bob.page.get_by_role("button", name="Eraser").click()
        await draw(bob.page, [(0.3, 0.1), (0.3, 0.4)])
        await expect(bob.page.locator(".board")).to_have_attribute("data-strokes", "0")
        await expect(alice.page.locator(".board")).to_have_attribute("data-strokes", "0")

        # Clear (after a confirmation) empties the board for everyone.
        await draw(alice.page, [(0.1, 0.8), (0.9, 0.8)])
        await draw(alice.page, [(0.1, 0.9), (0.9, 0.9)])
        await expect(bob.page.locator(".board")).to_have_attribute("data-strokes", "2")
        await alice.page.get_by_role("button", name="Clear").click()
        await alice.page.get_by_role("dialog").get_by_role("button", name="Clear").click()
        await expect(alice.page.locator(".board")).to_have_attribute("data-strokes", "0")
        await expect(bob.page.locator(".board")).to_have_attribute("data-strokes", "0")
        assert browsing.page_errors() == []


_UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
  .filter((el) => el.offsetParent !== null || el.classList.contains('visually-hidden'))
  .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.textContent.trim())
  .map((el) => el.outerHTML.slice(0, 80))"""
_OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


async def test_keyboard_only_at_375_px(browsing: Browsing) -> None:
    async with browsing.recording():
        carol = await browsing.person("Carol", width=375, height=740)
        page = carol.page
        await page.goto("/")
        # Keyboard only: the first tab stop is the skip link, then the brand link, then the auth tabs.
        await page.keyboard.press("Tab")
        await expect(page.locator(".skip-link")).to_be_focused()
        await page.get_by_role("tab", name="Continue as guest").focus()
        await page.keyboard.press("ArrowRight")
        await expect(page.get_by_role("tab", name="Sign in")).to_be_focused()
        await expect(page.get_by_role("tab", name="Sign in")).to_have_attribute("aria-selected", "true")
        await page.keyboard.press("ArrowLeft")
        await page.keyboard.press("Tab")
        await expect(page.get_by_label("Display name")).to_be_focused()
        await page.keyboard.type("Carol")
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("heading", name="My spaces")).to_be_visible()
        assert await page.evaluate(_UNLABELLED) == []
        assert await page.evaluate(_OVERFLOW) <= 0

        await page.get_by_label("Name").focus()
        await page.keyboard.type("Pocket")
        await page.keyboard.press("Enter")
        await expect(page.locator(".connection")).to_have_attribute("data-state", "joined")
        assert await page.evaluate(_UNLABELLED) == []
        assert await page.evaluate(_OVERFLOW) <= 0
        # Toolbar buttons are reachable and operable from the keyboard.
        await page.get_by_role("button", name="Eraser").focus()
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("button", name="Eraser")).to_have_attribute("aria-pressed", "true")
        # The share dialog opens from the keyboard, traps focus and closes with Escape.
        await page.get_by_role("button", name="Share").focus()
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("dialog")).to_be_visible()
        assert await page.evaluate(_OVERFLOW) <= 0
        await page.keyboard.press("Escape")
        await expect(page.get_by_role("dialog")).to_have_count(0)


async def test_spaces_list_shows_expiry_and_deletes(browsing: Browsing) -> None:
    async with browsing.recording():
        alice = await browsing.guest("Alice")
        page = alice.page
        await page.get_by_label("Name").fill("Short lived")
        await page.get_by_label("Expires after").select_option(label="1 hour")
        await page.get_by_role("button", name="Create space").click()
        await expect(page.locator(".space-head .expiry")).to_have_text("Expires in 1 hour")
        space_path = page.url.removeprefix(browsing.base_url)
        await page.get_by_role("link", name="← My spaces").click()
        item = page.locator(".space-item", has_text="Short lived")
        await expect(item.locator(".expiry")).to_have_text("Expires in 1 hour")
        await expect(item.locator(".badge").first).to_have_text("owner")

        # A stranger opening the link of a private space learns nothing and sees no error page.
        mallory = await browsing.guest("Mallory", space_path)
        await expect(mallory.page.get_by_role("heading", name="Space not found")).to_be_visible()

        await item.get_by_role("button", name="Delete Short lived").click()
        await page.get_by_role("dialog").get_by_role("button", name="Delete").click()
        await expect(item).to_have_count(0)
        await expect(page.get_by_text("No spaces yet.")).to_be_visible()
        await page.goto(space_path)
        await expect(page.get_by_role("heading", name="Space not found")).to_be_visible()
