"""Reports and moderation in the web client, in real headless Chromium against a running hub: Bob reports
Alice's post through the Report dialog (the hub has it; reporting again thanks him alike and keeps the
first report); a moderator, on a phone-sized screen, finds it in the queue with its preview, assigns it
to herself and resolves it with a takedown: the post is gone for others (404) while Alice reads it marked
removed with the note, and the audit view lists `post_taken_down`. A plain account opening the page is
told it needs a moderator and has no link to it; a guest has no Report action; the report limit is
explained with the time to wait."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
from playwright.async_api import Locator, Page, expect

from tests.helpers import auth
from tests.helpers import register as register_by_api
from tests.support.browser import Browsing, WebHub, browser_fixture, browsing_fixture, web_hub_fixture
from tests.test_posts_flow import sql
from tests.test_web_client import _OVERFLOW, _UNLABELLED
from tests.test_web_posts import token
from tests.test_web_social import register

FIXTURES = (browser_fixture, web_hub_fixture, browsing_fixture)

# Markup in the post is text: the queue's preview must show it as typed.
TEXT = "Cheap watches <b>here</b>, all genuine"


async def user_id(page: Page) -> str:
    value = await page.evaluate("() => JSON.parse(localStorage.getItem('hub.session')).user.id")
    assert isinstance(value, str)
    return value


async def make_moderator(database_url: str, account_id: str) -> None:
    await sql(database_url, "UPDATE users SET role = 'moderator' WHERE id = $1::uuid", account_id)


async def publish(client: httpx.AsyncClient, bearer: str, text: str) -> str:
    r = await client.post("/posts", json={"text": text}, headers=auth(bearer))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def open_reports(client: httpx.AsyncClient, bearer: str, target_id: str) -> list[dict[str, Any]]:
    r = await client.get("/moderation/reports", params={"status": "open", "limit": 100}, headers=auth(bearer))
    assert r.status_code == 200, r.text
    return [item for item in r.json()["items"] if item["target_id"] == target_id]


def post_card(page: Page, post_id: str) -> Locator:
    return page.get_by_role("feed", name="Posts").locator(f'.post[data-post-id="{post_id}"]')


async def send_report(page: Page, button: Locator, dialog_name: str, category: str, comment: str) -> Locator:
    """Open the Report dialog with `button`, fill it in and send it; the open dialog, for what it says."""
    await button.click()
    dialog = page.get_by_role("dialog", name=dialog_name)
    await expect(dialog.get_by_label("Reason")).to_be_focused()
    await dialog.get_by_label("Reason").select_option(category)
    await dialog.get_by_label("Anything moderators should know (optional)").fill(comment)
    assert await page.evaluate(_UNLABELLED) == []
    await dialog.get_by_role("button", name="Send report").click()
    return dialog


async def test_a_report_reaches_the_queue_and_a_takedown_applies(
    browsing: Browsing, web_hub: WebHub, database_url: str
) -> None:
    async with httpx.AsyncClient(base_url=web_hub.url) as client, browsing.recording():
        alice = await register(browsing, "alice", "Alice")
        post_id = await publish(client, await token(alice.page), TEXT)
        # Her own post and profile have no Report.
        await alice.page.goto("/u/alice")
        await expect(post_card(alice.page, post_id)).to_contain_text("Cheap watches")
        await expect(alice.page.get_by_role("button", name="Edit profile")).to_be_visible()
        await expect(alice.page.locator("main button.report")).to_have_count(0)

        # (a) Bob reports the post through the dialog; the hub has it, as he filled it in.
        bob = await register(browsing, "bob", "Bob")
        bob_id = await user_id(bob.page)
        await bob.page.goto("/u/alice")
        card = post_card(bob.page, post_id)
        await expect(card).to_contain_text("Cheap watches")
        await expect(bob.page.get_by_role("button", name="Report @alice")).to_be_visible()
        dialog = await send_report(
            bob.page, card.get_by_role("button", name="Report post by @alice"), "Report this post", "spam", "Fake."
        )
        await expect(dialog.get_by_role("status")).to_have_text("Reported — thank you.")
        await expect(dialog.get_by_role("button", name="Close")).to_be_focused()
        await dialog.get_by_role("button", name="Close").click()
        await expect(bob.page.get_by_role("dialog")).to_have_count(0)

        mod_account = await register_by_api(client, "modo")
        mod_bearer = mod_account["access_token"]
        await make_moderator(database_url, mod_account["user"]["id"])
        [report] = await open_reports(client, mod_bearer, post_id)
        assert (report["target_type"], report["category"], report["comment"]) == ("post", "spam", "Fake.")
        assert (report["reporter_id"], report["target_preview"]) == (bob_id, TEXT)

        # Again, with another reason: the same thanks (the hub answers 200 with the first report).
        dialog = await send_report(
            bob.page, card.get_by_role("button", name="Report post by @alice"), "Report this post", "abuse", "Again."
        )
        await expect(dialog.get_by_role("status")).to_have_text("Reported — thank you.")
        await bob.page.keyboard.press("Escape")
        await expect(bob.page.get_by_role("dialog")).to_have_count(0)
        assert await open_reports(client, mod_bearer, post_id) == [report]

        # (b) A moderator, on a phone, follows the header's link to the queue.
        mod = await register(browsing, "mona", "Mona")
        mona_id = await user_id(mod.page)
        await make_moderator(database_url, mona_id)
        page = mod.page
        await page.set_viewport_size({"width": 375, "height": 740})
        await page.goto("/home")
        sections = page.get_by_role("navigation", name="Sections")
        await sections.get_by_role("link", name="Moderation").click()
        await expect(page).to_have_url(f"{browsing.base_url}/#moderation")
        await expect(page.get_by_role("heading", level=1, name="Moderation")).to_be_visible()
        await expect(sections.get_by_role("link", name="Moderation")).to_have_attribute("aria-current", "page")
        await expect(page.get_by_role("tab", name="Open")).to_have_attribute("aria-selected", "true")
        item = page.get_by_role("list", name="Open reports").locator(f'.report[data-report-id="{report["id"]}"]')
        await expect(item.locator(".report-preview")).to_have_text(TEXT)
        await expect(item.locator(".report-preview b")).to_have_count(0)
        await expect(item.locator(".target-type")).to_have_text("Post")
        await expect(item.locator(".category")).to_have_text("Spam")
        await expect(item.locator(".report-comment")).to_have_text("Fake.")
        await expect(item).to_have_attribute("data-target-removed", "false")
        await expect(item.locator(".assignee")).to_have_text("nobody")
        await expect(item.get_by_role("link", name="@bob")).to_be_visible()
        await expect(item.get_by_role("link", name="@alice")).to_be_visible()

        await item.get_by_role("button", name="Assign to me").click()
        await expect(item.locator(".assignee")).to_have_text("you")
        await expect(item.get_by_role("button", name="Assign to me")).to_have_count(0)
        await item.get_by_role("button", name="Resolve").click()
        resolve = page.get_by_role("dialog", name="Resolve the report")
        await resolve.get_by_label("Action").select_option("takedown")
        await expect(resolve.get_by_label("Note (required)")).to_be_visible()
        await resolve.get_by_label("Note (required)").fill("Counterfeit <i>goods</i>.")
        assert await page.evaluate(_UNLABELLED) == []
        await resolve.get_by_role("button", name="Resolve").click()
        await expect(resolve).to_have_count(0)
        await expect(item).to_have_count(0)

        # Gone for others (like a post that never was), and for Bob's page; still Alice's, marked.
        r = await client.get(f"/posts/{post_id}", headers=auth(await token(bob.page)))
        assert r.status_code == 404 and r.json()["error"]["code"] == "post_not_found", r.text
        await bob.page.goto("/u/alice")
        await expect(bob.page.get_by_role("region", name="Posts")).to_contain_text("No posts yet.")
        await expect(post_card(bob.page, post_id)).to_have_count(0)
        await alice.page.reload()
        mine = post_card(alice.page, post_id)
        await expect(mine.get_by_role("note")).to_have_text("Removed by a moderator: Counterfeit <i>goods</i>.")
        await expect(mine).to_have_class(re.compile(r"\bremoved\b"))

        # The audit view lists the takedown with its reason, and filters by action.
        audit = page.get_by_role("region", name="Audit log")
        taken = audit.locator('.audit-entry[data-action="post_taken_down"]')
        await expect(taken).to_have_count(1)
        await expect(taken.locator(".audit-target")).to_have_text(post_id)
        await expect(taken.locator(".audit-reason")).to_have_text("Reason: Counterfeit <i>goods</i>.")
        await expect(taken.get_by_role("link", name="@mona")).to_be_visible()
        await expect(audit.locator('.audit-entry[data-action="report_assigned"]')).to_have_count(1)
        await audit.get_by_label("Action").select_option("post_taken_down")
        await audit.get_by_role("button", name="Show").click()
        await expect(audit.locator(".audit-entry")).to_have_count(1)
        await expect(audit.locator('.audit-entry[data-action="post_taken_down"]')).to_have_count(1)

        # Resolved, it is under the other tab with what was done; reopened, it is open again.
        await page.get_by_role("tab", name="Resolved").click()
        done = page.get_by_role("list", name="Resolved reports").locator(f'.report[data-report-id="{report["id"]}"]')
        await expect(done.locator(".resolution")).to_have_text("Taken down: Counterfeit <i>goods</i>.")
        await expect(done.locator(".badge.removed")).to_have_text("Taken down")
        await expect(done).to_have_attribute("data-target-removed", "true")
        assert await page.evaluate(_OVERFLOW) <= 0
        await done.get_by_role("button", name="Reopen").click()
        await page.get_by_role("dialog", name="Reopen the report").get_by_role("button", name="Reopen").click()
        await expect(done).to_have_count(0)
        [again] = await open_reports(client, mod_bearer, post_id)
        assert (again["id"], again["status"], again["resolution_action"]) == (report["id"], "open", None)
        await audit.get_by_role("button", name="Clear filters").click()
        await expect(audit.locator('.audit-entry[data-action="report_reopened"]')).to_have_count(1)
        assert browsing.page_errors() == []


async def test_a_plain_account_is_refused_and_a_guest_cannot_report(browsing: Browsing, web_hub: WebHub) -> None:
    async with httpx.AsyncClient(base_url=web_hub.url) as client, browsing.recording():
        dora = await register_by_api(client, "dora")
        post_id = await publish(client, dora["access_token"], "Dora's public post.")

        # (c) A plain account: the page says it needs a moderator; the header has no link to it once
        # the hub has told the role (data-role), and the queue itself refuses the account.
        carl = await register(browsing, "carl", "Carl")
        page = carl.page
        await page.goto("/#moderation")
        await expect(page.get_by_role("heading", level=1, name="This page needs a moderator")).to_be_visible()
        await expect(page.get_by_role("alert")).to_contain_text("moderators and admins only")
        await expect(page.locator("#sections")).to_have_attribute("data-role", "user")
        sections = page.get_by_role("navigation", name="Sections")
        await expect(sections.get_by_role("link", name="Home")).to_be_visible()
        await expect(sections.get_by_role("link", name="Moderation")).to_have_count(0)
        await expect(page.get_by_role("region", name="Audit log")).to_have_count(0)
        r = await client.get("/moderation/reports", headers=auth(await token(page)))
        assert r.status_code == 403 and r.json()["error"]["code"] == "moderator_required", r.text
        # He may report, though: Dora's post has the action for him.
        await page.goto("/u/dora")
        await expect(post_card(page, post_id).get_by_role("button", name="Report post by @dora")).to_be_visible()

        # A guest sees the post and the profile, but no Report anywhere (the hub would answer 403).
        gus = await browsing.guest("Gus", "/u/dora")
        await expect(post_card(gus.page, post_id)).to_contain_text("Dora's public post.")
        await expect(gus.page.get_by_role("button", name="Register")).to_be_visible()
        await expect(gus.page.locator("main button.report")).to_have_count(0)
        assert browsing.page_errors() == []


async def test_the_report_limit_says_when_to_try_again(
    browser: Any, make_settings: Callable[..., Any], request: Any
) -> None:
    async with WebHub(make_settings, report_rate_limit="1/minute") as hub:
        browsing = Browsing(browser, hub.url, request.node.name)
        try:
            async with httpx.AsyncClient(base_url=hub.url) as client, browsing.recording():
                erin = await register_by_api(client, "erin")
                post_id = await publish(client, erin["access_token"], "Erin's post.")
                fred = await register(browsing, "fred", "Fred")
                page = fred.page
                await page.goto("/u/erin")
                dialog = await send_report(
                    page, page.get_by_role("button", name="Report @erin"), "Report this account", "abuse", ""
                )
                await expect(dialog.get_by_role("status")).to_have_text("Reported — thank you.")
                await dialog.get_by_role("button", name="Close").click()
                card = post_card(page, post_id)
                dialog = await send_report(
                    page, card.get_by_role("button", name="Report post by @erin"), "Report this post", "spam", ""
                )
                error = dialog.get_by_role("alert")
                said = re.compile(r"^You have sent many reports in a short time\. Try again in (\d+) seconds?\.$")
                await expect(error).to_have_text(said)
                # The hub's wait (Retry-After), within the minute the limit counts.
                wait = said.fullmatch(await error.inner_text())
                assert wait is not None and 1 <= int(wait[1]) <= 60, wait
                # The dialog stays, with the choice made, for a later try.
                await expect(dialog.get_by_role("button", name="Send report")).to_be_enabled()
                await expect(dialog.get_by_label("Reason")).to_have_value("spam")
                assert browsing.page_errors() == []
        finally:
            await browsing.close()
