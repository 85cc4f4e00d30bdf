"""Profiles and the social graph in the web client, in real headless Chromium against a running hub:
two people follow each other's pages (counters on both sides), a locked account authorizes a request,
a block makes the blocker's profile "not found" for the blocked one, and a guest is asked to register
instead of being shown buttons that would answer 403 account_required."""

from __future__ import annotations

import httpx
from playwright.async_api import Locator, Page, expect

from tests.helpers import auth
from tests.helpers import register as register_by_api
from tests.support.browser import Browsing, Person, WebHub, browser_fixture, browsing_fixture, web_hub_fixture
from tests.test_web_client import _OVERFLOW, _UNLABELLED

FIXTURES = (browser_fixture, web_hub_fixture, browsing_fixture)


async def register(browsing: Browsing, username: str, display_name: str) -> Person:
    who = await browsing.person(display_name)
    await who.page.goto("/")
    await who.page.get_by_role("tab", name="Register").click()
    await fill_registration(who.page, username, display_name)
    return who


async def fill_registration(page: Page, username: str, display_name: str) -> None:
    form = page.get_by_role("form", name="Create an account")
    await form.get_by_label("Username").fill(username)
    await form.get_by_label("Display name").fill(display_name)
    await form.get_by_label("Password").fill("correct horse battery")
    await form.get_by_role("button", name="Create account").click()
    await expect(page.locator("#account")).to_contain_text(display_name)
    await expect(page.locator("#account .badge")).to_have_count(0)


def counter(page: Page, name: str) -> Locator:
    return page.locator(f'.profile-head .counter[data-counter="{name}"]')


def people(page: Page, label: str) -> Locator:
    return page.get_by_role("list", name=label)


async def test_follow_lock_authorize_and_block(browsing: Browsing) -> None:
    async with browsing.recording():
        alice = await register(browsing, "alice", "Alice")
        bob = await register(browsing, "bob", "Bob")

        # The nav leads to one's own profile; nobody follows anybody yet.
        await alice.page.get_by_role("navigation", name="Sections").get_by_role("link", name="Profile").click()
        await expect(alice.page).to_have_url(f"{browsing.base_url}/u/alice")
        await expect(alice.page.get_by_role("heading", level=1, name="Alice")).to_be_visible()
        await expect(counter(alice.page, "followers")).to_have_attribute("data-count", "0")
        await expect(people(alice.page, "Followers")).to_be_empty()

        # Bob follows Alice: her counter and list change on his page and, read again, on hers; his
        # own following counter changes on his profile.
        await bob.page.goto("/u/alice")
        await expect(bob.page.locator(".profile-handle")).to_contain_text("@alice")
        await bob.page.get_by_role("button", name="Follow", exact=True).click()
        await expect(bob.page.get_by_role("button", name="Unfollow")).to_be_visible()
        await expect(counter(bob.page, "followers")).to_have_attribute("data-count", "1")
        await expect(people(bob.page, "Followers")).to_contain_text("Bob")
        await alice.page.reload()
        await expect(counter(alice.page, "followers")).to_have_attribute("data-count", "1")
        await expect(people(alice.page, "Followers").get_by_role("link", name="Bob")).to_be_visible()
        await people(alice.page, "Followers").get_by_role("link", name="Bob").click()
        await expect(alice.page).to_have_url(f"{browsing.base_url}/u/bob")
        await expect(counter(alice.page, "following")).to_have_attribute("data-count", "1")
        await expect(people(alice.page, "Following")).to_contain_text("Alice")
        await expect(alice.page.locator(".profile-actions")).to_contain_text("follows you")
        await bob.page.goto("/u/bob")
        await expect(counter(bob.page, "following")).to_have_attribute("data-count", "1")

        # Alice edits her profile: the bio counter counts characters as the hub does (an emoji is
        # one), refuses the 501st, and the saved profile is locked.
        await alice.page.goto("/u/alice")
        await alice.page.get_by_role("button", name="Edit profile").click()
        bio = alice.page.get_by_label("Bio")
        await bio.fill("😀" * 500)
        await expect(alice.page.locator(".bio-count")).to_have_text("500 / 500 characters")
        assert await bio.evaluate("(el) => el.validity.valid")
        await bio.fill("😀" * 501)
        await expect(alice.page.locator(".bio-count")).to_have_attribute("data-over", "true")
        assert not await bio.evaluate("(el) => el.validity.valid")
        await bio.fill("Draws boxes.\nAnd arrows.")
        await expect(alice.page.locator(".bio-count")).to_have_text("24 / 500 characters")
        await alice.page.get_by_label("Display name", exact=True).fill("Alice A.")
        await alice.page.get_by_label("Locked: I approve who follows me").check()
        await alice.page.get_by_role("button", name="Save profile").click()
        await expect(alice.page.get_by_role("heading", level=1, name="Alice A.")).to_be_visible()
        await expect(alice.page.locator(".profile-head .locked")).to_have_text("Locked")
        await expect(alice.page.locator(".bio")).to_have_text("Draws boxes.\nAnd arrows.")
        await expect(alice.page.locator("#account")).to_contain_text("Alice A.")

        # Carol asks to follow the locked account; Alice authorizes the request.
        carol = await register(browsing, "carol", "Carol")
        await carol.page.goto("/u/alice")
        await expect(carol.page.locator(".profile-head .locked")).to_be_visible()
        await carol.page.get_by_role("button", name="Follow", exact=True).click()
        await expect(carol.page.get_by_role("button", name="Requested")).to_be_visible()
        await expect(counter(carol.page, "followers")).to_have_attribute("data-count", "1")
        await alice.page.reload()
        requests = people(alice.page, "Follow requests")
        await expect(requests).to_contain_text("Carol")
        await requests.get_by_role("button", name="Authorize @carol").click()
        await expect(requests.locator(".person")).to_have_count(0)
        await expect(counter(alice.page, "followers")).to_have_attribute("data-count", "2")
        await expect(people(alice.page, "Followers")).to_contain_text("Carol")
        await carol.page.reload()
        await expect(carol.page.get_by_role("button", name="Unfollow")).to_be_visible()

        # Alice blocks Bob: the follow between them goes, and her profile is "not found" for him.
        await alice.page.goto("/u/bob")
        await alice.page.get_by_role("button", name="Block").click()
        await alice.page.get_by_role("dialog").get_by_role("button", name="Block").click()
        await expect(alice.page.get_by_role("button", name="Unblock")).to_be_visible()
        await expect(alice.page.get_by_role("button", name="Follow", exact=True)).to_be_hidden()
        await alice.page.goto("/u/alice")
        await expect(counter(alice.page, "followers")).to_have_attribute("data-count", "1")
        await expect(people(alice.page, "Followers")).not_to_contain_text("Bob")
        await bob.page.goto("/u/alice")
        await expect(bob.page.get_by_role("heading", level=1, name="Profile not found")).to_be_visible()
        await expect(bob.page.get_by_text("Alice A.")).to_have_count(0)
        # A mute is only the muter's business: a button that toggles, nothing else changes.
        await carol.page.goto("/u/bob")
        await carol.page.get_by_role("button", name="Mute").click()
        await expect(carol.page.get_by_role("button", name="Unmute")).to_be_visible()
        assert browsing.page_errors() == []


async def test_a_guest_sees_profiles_and_is_asked_to_register(browsing: Browsing) -> None:
    async with browsing.recording():
        await register(browsing, "erin", "Erin")
        dave = await browsing.guest("Dave", "/u/erin", width=375, height=740)
        page = dave.page
        await expect(page.get_by_role("heading", level=1, name="Erin")).to_be_visible()
        await expect(people(page, "Followers")).to_be_empty()
        # A phone's width: nothing scrolls sideways, every control has a name.
        assert await page.evaluate(_OVERFLOW) <= 0
        assert await page.evaluate(_UNLABELLED) == []
        await expect(page.get_by_role("note")).to_contain_text("Register to follow")
        await expect(page.get_by_role("button", name="Follow", exact=True)).to_have_count(0)
        await expect(page.get_by_role("navigation", name="Sections").get_by_role("link", name="Profile")).to_have_count(
            0
        )
        # Registering keeps the guest's account and comes back to the profile, now with buttons.
        await page.get_by_role("button", name="Register").click()
        await fill_registration(page, "dave", "Dave")
        await expect(page).to_have_url(f"{browsing.base_url}/u/erin")
        await page.get_by_role("button", name="Follow", exact=True).click()
        await expect(counter(page, "followers")).to_have_attribute("data-count", "1")
        assert await page.evaluate(_OVERFLOW) <= 0
        assert await page.evaluate(_UNLABELLED) == []
        # Home finds a person by handle and lists the people one follows.
        await page.get_by_role("navigation", name="Sections").get_by_role("link", name="Home").click()
        await expect(people(page, "People you follow")).to_contain_text("Erin")
        await page.get_by_label("Handle").fill("@nobody")
        await page.get_by_role("button", name="Open profile").click()
        await expect(page.get_by_role("alert")).to_contain_text("There is no account @nobody.")
        await page.get_by_label("Handle").fill("erin")
        await page.get_by_role("button", name="Open profile").click()
        await expect(page).to_have_url(f"{browsing.base_url}/u/erin")
        assert browsing.page_errors() == []


async def test_follower_lists_load_more(browsing: Browsing, web_hub: WebHub) -> None:
    # More followers than one page (20) holds: "Load more" follows next_cursor to the end, and then
    # hides; nobody appears twice.
    async with httpx.AsyncClient(base_url=web_hub.url) as client:
        star = await register_by_api(client, "star")
        for i in range(23):
            fan = await register_by_api(client, f"fan{i:02d}")
            r = await client.post(f"/users/{star['user']['id']}/follow", headers=auth(fan["access_token"]))
            assert r.status_code == 200, r.text
    async with browsing.recording():
        viewer = await register(browsing, "viewer", "Viewer")
        page = viewer.page
        await page.goto("/u/star")
        await expect(counter(page, "followers")).to_have_attribute("data-count", "23")
        followers = page.get_by_role("region", name="Followers")
        await expect(followers.locator(".person")).to_have_count(20)
        await followers.get_by_role("button", name="Load more").click()
        await expect(followers.locator(".person")).to_have_count(23)
        await expect(followers.get_by_role("button", name="Load more")).to_be_hidden()
        names = await followers.locator(".person-name").all_text_contents()
        assert sorted(names) == sorted(f"Fan{i:02d}" for i in range(23))
        assert browsing.page_errors() == []
