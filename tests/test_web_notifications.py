"""Notifications in the web client, in real headless Chromium against a running hub: Ann is signed in in
the browser while Bob (and Cat) act over REST. Her bell counts the hub's `notification` pushes without a
reload, the list reads them as sentences (names as text, never markup), a push for a listed group
replaces its entry on top, "Mark all read" and opening an entry mark them read on the hub, and a guest
has no bell at all."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.async_api import Locator, Page, expect

from tests.helpers import auth
from tests.helpers import register as register_by_api
from tests.support.browser import Browsing, WebHub, browser_fixture, browsing_fixture, web_hub_fixture
from tests.test_web_client import _OVERFLOW, _UNLABELLED
from tests.test_web_posts import token
from tests.test_web_social import register

FIXTURES = (browser_fixture, web_hub_fixture, browsing_fixture)


def badge(page: Page) -> Locator:
    return page.locator("#bell .bell-count")


def entries(page: Page) -> Locator:
    return page.get_by_role("region", name="Notifications").locator(".notification")


async def signed_in_with_a_post(browsing: Browsing, client: httpx.AsyncClient) -> tuple[Page, str, str]:
    """Ann, registered in the browser with her bell connected; her token and a post of hers."""
    ann = await register(browsing, "ann", "Ann")
    page = ann.page
    ann_token = await token(page)
    r = await client.post("/posts", json={"text": "Ann's first post."}, headers=auth(ann_token))
    assert r.status_code == 201, r.text
    # Pushes are live only: act once the personal room is connected, so the count below is theirs.
    await expect(page.locator("#bell .notifications")).to_have_attribute("data-live", "on")
    await expect(badge(page)).to_be_hidden()
    await expect(page.get_by_role("button", name="Notifications", exact=True)).to_be_visible()
    return page, ann_token, str(r.json()["id"])


async def notifications(client: httpx.AsyncClient, bearer: str) -> list[dict[str, Any]]:
    r = await client.get("/notifications", params={"limit": 50}, headers=auth(bearer))
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def unread_count(client: httpx.AsyncClient, bearer: str) -> int:
    r = await client.get("/notifications/unread_count", headers=auth(bearer))
    assert r.status_code == 200, r.text
    return int(r.json()["unread_count"])


async def test_the_bell_counts_live_and_marks_all_read(browsing: Browsing, web_hub: WebHub) -> None:
    async with httpx.AsyncClient(base_url=web_hub.url) as client, browsing.recording():
        bob = await register_by_api(client, "bob")
        bob_token = bob["access_token"]
        # Markup in a name is text: the list must show it as typed.
        r = await client.patch(
            f"/users/{bob['user']['id']}", json={"display_name": "Bob <i>B</i>"}, headers=auth(bob_token)
        )
        assert r.status_code == 200, r.text
        page, ann_token, post_id = await signed_in_with_a_post(browsing, client)
        ann_id = await page.evaluate("() => JSON.parse(localStorage.getItem('hub.session')).user.id")

        r = await client.post(f"/posts/{post_id}/like", headers=auth(bob_token))
        assert r.status_code == 200, r.text
        await expect(badge(page)).to_have_text("1")
        r = await client.post(f"/users/{ann_id}/follow", headers=auth(bob_token))
        assert r.status_code == 200, r.text
        await expect(badge(page)).to_have_text("2")
        await expect(badge(page)).to_be_visible()
        bell = page.get_by_role("button", name="Notifications, 2 unread")
        await expect(bell).to_have_attribute("aria-expanded", "false")

        await bell.click()
        await expect(bell).to_have_attribute("aria-expanded", "true")
        listed = entries(page)
        # Newest activity first, as the hub orders them: the follow came after the like.
        await expect(listed.locator(".notification-text")).to_have_text(
            ["Bob <i>B</i> followed you", "Bob <i>B</i> liked your post"]
        )
        await expect(listed.locator("i")).to_have_count(0)
        ids = [n["id"] for n in await notifications(client, ann_token)]
        assert await listed.evaluate_all("(els) => els.map((el) => el.dataset.notificationId)") == ids
        await expect(listed.nth(0)).to_have_attribute("data-read", "false")
        await expect(listed.nth(1)).to_have_attribute("data-read", "false")
        assert await page.evaluate(_UNLABELLED) == []
        assert await page.evaluate(_OVERFLOW) <= 0

        # Cat joins the like group while the list is open: the push replaces that entry, on top.
        cat = await register_by_api(client, "cat")
        r = await client.post(f"/posts/{post_id}/like", headers=auth(cat["access_token"]))
        assert r.status_code == 200, r.text
        await expect(listed.locator(".notification-text")).to_have_text(
            ["Cat and Bob <i>B</i> liked your post", "Bob <i>B</i> followed you"]
        )
        await expect(listed.nth(0)).to_have_attribute("data-notification-id", ids[1])
        await expect(badge(page)).to_have_text("2")

        await page.get_by_role("button", name="Mark all read").click()
        await expect(badge(page)).to_be_hidden()
        await expect(page.get_by_role("button", name="Notifications", exact=True)).to_be_visible()
        await expect(listed.and_(page.locator('[data-read="true"]'))).to_have_count(2)
        assert await unread_count(client, ann_token) == 0

        # Escape closes the list and gives the focus back to the bell.
        await page.keyboard.press("Escape")
        await expect(page.get_by_role("region", name="Notifications")).to_be_hidden()
        await expect(page.locator("#notifications-bell")).to_be_focused()
        assert browsing.page_errors() == []


async def test_opening_an_entry_marks_it_read(browsing: Browsing, web_hub: WebHub) -> None:
    async with httpx.AsyncClient(base_url=web_hub.url) as client, browsing.recording():
        bob = await register_by_api(client, "bob")
        bob_token = bob["access_token"]
        page, ann_token, post_id = await signed_in_with_a_post(browsing, client)
        ann_id = await page.evaluate("() => JSON.parse(localStorage.getItem('hub.session')).user.id")
        r = await client.post(f"/posts/{post_id}/like", headers=auth(bob_token))
        assert r.status_code == 200, r.text
        await expect(badge(page)).to_have_text("1")
        r = await client.post(f"/users/{ann_id}/follow", headers=auth(bob_token))
        assert r.status_code == 200, r.text
        await expect(badge(page)).to_have_text("2")

        await page.locator("#notifications-bell").click()
        listed = entries(page)
        like = listed.filter(has_text="Bob liked your post")
        follow = listed.filter(has_text="Bob followed you")
        await expect(like).to_have_attribute("data-read", "false")
        await expect(follow).to_have_attribute("data-read", "false")

        # A like has no page of its own: opening it marks it read, and only it, and stays here.
        await like.get_by_role("button").click()
        await expect(like).to_have_attribute("data-read", "true")
        await expect(badge(page)).to_have_text("1")
        assert await unread_count(client, ann_token) == 1
        read = {n["type"]: n["read"] for n in await notifications(client, ann_token)}
        assert read == {"like": True, "follow": False}
        await expect(follow).to_have_attribute("data-read", "false")

        # A follow opens the follower's profile, and is read on the hub.
        await follow.get_by_role("button").click()
        await expect(page).to_have_url(f"{browsing.base_url}/u/bob")
        await expect(badge(page)).to_be_hidden()
        assert await unread_count(client, ann_token) == 0
        assert all(n["read"] for n in await notifications(client, ann_token))

        # A guest has no notifications (403 account_required), and no bell.
        guest = await browsing.guest("Gus")
        await expect(guest.page.locator("#account")).to_contain_text("Gus")
        await expect(guest.page.locator("#bell")).to_be_empty()
        assert browsing.page_errors() == []
