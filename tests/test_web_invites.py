"""The invite landing page in headless Chromium: the space and the role come first, before signing
in, and a link that no longer works says why at once."""

from __future__ import annotations

import httpx
from playwright.async_api import expect

from tests.helpers import auth, make_space, register
from tests.support.browser import Browsing, WebHub, browser_fixture, browsing_fixture, web_hub_fixture

FIXTURES = (browser_fixture, web_hub_fixture, browsing_fixture)


async def test_the_landing_names_the_space_and_role_then_joins(browsing: Browsing, web_hub: WebHub) -> None:
    async with httpx.AsyncClient(base_url=web_hub.url, timeout=10) as api:
        owner = (await register(api))["access_token"]
        space = await make_space(api, owner, name="Team board")
        r = await api.post(f"/spaces/{space['id']}/invites", json={"role": "editor"}, headers=auth(owner))
        link = r.json()["link"]
        once = await api.post(f"/spaces/{space['id']}/invites", json={"max_uses": 1}, headers=auth(owner))
        used = once.json()
        other = (await register(api))["access_token"]
        assert (await api.post("/spaces/join", json={"token": used["token"]}, headers=auth(other))).status_code == 200

    async with browsing.recording():
        visitor = await browsing.person("Visitor")
        await visitor.page.goto(link.removeprefix(browsing.base_url))
        await expect(visitor.page.locator(".auth .lead")).to_have_text(
            "You are invited to “Team board” as an editor. Sign in, register or continue as a guest to join."
        )
        await visitor.page.get_by_role("tab", name="Continue as guest").click()
        await visitor.page.get_by_label("Display name").fill("Visitor")
        await visitor.page.get_by_role("button", name="Continue as guest").click()
        await expect(visitor.page).to_have_url(f"{browsing.base_url}/s/{space['id']}")
        await expect(visitor.page.locator(".space-head .badge")).to_have_text("editor")

        late = await browsing.person("Late")
        await late.page.goto(used["link"].removeprefix(browsing.base_url))
        notice = late.page.get_by_role("alert")
        await expect(notice).to_contain_text("This invite has been used as many times as it allows.")
        await expect(late.page.get_by_role("tab", name="Continue as guest")).to_have_count(0)
        assert browsing.page_errors() == []


async def test_the_share_dialog_limits_lists_and_revokes_invites(browsing: Browsing) -> None:
    async with browsing.recording():
        owner = await browsing.guest("Owner")
        await owner.page.get_by_label("Name").fill("Shared")
        await owner.page.get_by_role("button", name="Create space").click()
        await expect(owner.page.locator(".connection")).to_have_attribute("data-state", "joined")
        space_url = owner.page.url

        await owner.page.get_by_role("button", name="Share").click()
        dialog = owner.page.get_by_role("dialog")
        await dialog.get_by_label("People with the invite").select_option("viewer")
        await dialog.get_by_label("Link expires").select_option("86400")
        await dialog.get_by_label("Can be used").select_option("1")
        await dialog.get_by_role("button", name="Create invite link").click()
        link = await dialog.get_by_label("Invite link (viewer)").input_value()
        invites = dialog.get_by_role("list", name="Live invites").locator(".invite-item")
        await expect(invites).to_have_count(1)
        await expect(invites).to_have_text("Can view · 0 of 1 used · expires in 1 dayRevoke")

        # A second, unlimited editor link; then the first is revoked and no longer opens.
        await dialog.get_by_label("People with the invite").select_option("editor")
        await dialog.get_by_label("Link expires").select_option("")
        await dialog.get_by_label("Can be used").select_option("")
        await dialog.get_by_role("button", name="Create invite link").click()
        await expect(invites).to_have_count(2)
        await dialog.get_by_role("button", name="Revoke Can view · 0 of 1 used").click()
        await expect(invites).to_have_count(1)
        await expect(invites).to_contain_text("Can edit · 0 used")

        # The space link, read-only: whoever opens it is a viewer.
        await dialog.get_by_label("People with the space link").select_option("viewer")
        await dialog.get_by_label("Anyone with the space link can join").check()
        await expect(dialog.get_by_label("Space link", exact=True)).to_have_value(space_url)
        await dialog.get_by_role("button", name="Done").click()

        reader = await browsing.guest("Reader", space_url.removeprefix(browsing.base_url))
        await expect(reader.page.locator(".space-head .badge")).to_have_text("viewer")
        late = await browsing.person("Late")
        await late.page.goto(link.removeprefix(browsing.base_url))
        await expect(late.page.get_by_role("alert")).to_contain_text("This invite is not valid")
        assert browsing.page_errors() == []
