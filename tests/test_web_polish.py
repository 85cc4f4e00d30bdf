"""Forms and lists in real headless Chromium: a refused invite says why from the join's own answer,
messages under the fields they are about (the browser's checks first, then the hub's 422), the bin
editor's character counter against the hub's own limit, long file names on one line at 375 px, icons
that need no emoji font, and tabs that keep to one row at 375 px."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from playwright.async_api import FilePayload, Locator, Page, Request, expect

from hub.config import Settings
from tests.helpers import auth, make_space, register
from tests.support.browser import Browsing, Person, WebHub, browser_fixture, browsing_fixture
from tests.test_posts_flow import sql
from tests.test_web_client import _OVERFLOW
from tests.test_web_collab import _png, editor
from tests.test_web_social import register as register_in_browser

FIXTURES = (browser_fixture, browsing_fixture)
# Far below the default (100,000): the counter can only know it from the hub.
BIN_MAX_CHARS = 120
# Pictographs that need an emoji font to draw (the hub's pages must not use them as icons).
_PICTOGRAPHS = r"() => (document.body.innerText.match(/\p{Extended_Pictographic}/gu) || []).join('')"


@pytest.fixture(name="web_hub")
async def polish_hub_fixture(make_settings: Callable[..., Settings]) -> AsyncIterator[WebHub]:
    async with WebHub(make_settings, bin_max_chars=BIN_MAX_CHARS) as hub:
        yield hub


def requests_to(page: Page, method: str, pattern: str) -> list[str]:
    """Every request of `method` to a URL matching `pattern` that `page` sends from now on."""
    seen: list[str] = []

    def note(request: Request) -> None:
        if request.method == method and re.search(pattern, request.url):
            seen.append(request.url)

    page.on("request", note)
    return seen


async def expect_message(field: Locator, text: str | re.Pattern[str]) -> None:
    """`field` is marked invalid and described by a message (an alert) that reads `text`."""
    await expect(field).to_have_attribute("aria-invalid", "true")
    ids = (await field.get_attribute("aria-describedby") or "").split()
    messages = field.page.locator(", ".join(f"#{i}.field-error" for i in ids) or ".none")
    await expect(messages).to_have_count(1)
    await expect(messages).to_have_attribute("role", "alert")
    await expect(messages).to_be_visible()
    await expect(messages).to_have_text(text)


async def expect_no_message(field: Locator) -> None:
    await expect(field).not_to_have_attribute("aria-invalid", "true")
    ids = (await field.get_attribute("aria-describedby") or "").split()
    for i in ids:
        await expect(field.page.locator(f"#{i}.field-error")).to_have_count(0)


async def new_space(browsing: Browsing, name: str, **kwargs: Any) -> Person:
    who = await browsing.guest("Owner", **kwargs)
    await who.page.get_by_label("Name").fill(name)
    await who.page.get_by_role("button", name="Create space").click()
    await expect(who.page.locator(".connection")).to_have_attribute("data-state", "joined")
    return who


async def test_a_refused_join_says_why_from_its_own_answer(
    browsing: Browsing, web_hub: WebHub, database_url: str
) -> None:
    async with httpx.AsyncClient(base_url=web_hub.url, timeout=10) as api:
        owner = (await register(api))["access_token"]
        space = await make_space(api, owner, name="Team board")

        async def invite(**fields: Any) -> dict[str, Any]:
            r = await api.post(f"/spaces/{space['id']}/invites", json=fields, headers=auth(owner))
            assert r.status_code == 201, r.text
            body: dict[str, Any] = r.json()
            return body

        used, late, revoked = await invite(max_uses=1), await invite(expires_in=3600), await invite()
        other = (await register(api))["access_token"]
        assert (await api.post("/spaces/join", json={"token": used["token"]}, headers=auth(other))).status_code == 200
        assert (await api.delete(f"/spaces/{space['id']}/invites/{revoked['id']}", headers=auth(owner))).is_success
    await sql(
        database_url, "UPDATE space_invites SET expires_at = now() - interval '1 second' WHERE id = $1", late["id"]
    )

    async with browsing.recording():
        gus = await browsing.guest("Gus")  # signed in: the link redeems at once
        landings = requests_to(gus.page, "GET", r"/invites/")
        for link, why in (
            (used["link"], "This invite has been used as many times as it allows."),
            (late["link"], "This invite has expired."),
            (revoked["link"], "This invite is not valid (it may have been revoked)."),
        ):
            async with gus.page.expect_response(lambda r: r.url.endswith("/spaces/join")) as answer:
                await gus.page.goto(link.removeprefix(browsing.base_url))
            assert (await answer.value).status == (404 if link == revoked["link"] else 410)
            notice = gus.page.get_by_role("alert")
            await expect(notice).to_contain_text("Cannot join")
            await expect(notice).to_contain_text(why)
        # The join's own answer said why: the landing was never asked a second time.
        assert landings == []
        assert browsing.page_errors() == []


async def test_registering_and_signing_in_show_messages_under_their_fields(browsing: Browsing) -> None:
    async with browsing.recording():
        visitor = await browsing.person("Visitor")
        page = visitor.page
        await page.goto("/")
        sent = requests_to(page, "POST", r"/auth/(register|login)$")
        await page.get_by_role("tab", name="Register").click()
        form = page.get_by_role("form", name="Create an account")
        username, display, password = (form.get_by_label(n) for n in ("Username", "Display name", "Password"))
        create = form.get_by_role("button", name="Create account")

        # Caught before sending: nothing filled in, then too short, then characters the hub refuses.
        await create.click()
        for field in (username, display, password):
            await expect_message(field, re.compile(r"\S"))
        await expect(username).to_be_focused()
        await username.fill("ab")
        await expect_no_message(username)  # typing clears it
        await expect_message(display, re.compile(r"\S"))  # the others stay until edited
        await display.fill("Ab")
        await password.fill("short")
        await create.click()
        await expect_message(username, re.compile(r"3"))
        await expect_message(password, re.compile(r"8"))
        await username.fill("a b!")
        await password.fill("correct horse battery")
        await create.click()
        await expect_message(
            username, "3 to 32 characters: letters, digits, “_”, “.” or “-”, starting with a letter or a digit."
        )
        await expect_no_message(password)
        assert sent == []

        # What only the hub knows (a reserved name) comes back as a 422 and lands under its field.
        await username.fill("admin")
        async with page.expect_response(lambda r: r.url.endswith("/auth/register")) as answer:
            await create.click()
        refused = await answer.value
        body = await refused.json()
        assert refused.status == 422 and body["error"]["code"] == "validation_failed"
        assert body["error"]["details"]["fields"] == {"username": "this username is reserved"}
        await expect_message(username, "This username is reserved.")
        await expect(username).to_be_focused()
        await expect(form.locator(".error-box")).to_be_hidden()  # said under the field, not twice
        await username.fill("admin2")
        await expect_no_message(username)

        # Signing in: both fields are required.
        await page.get_by_role("tab", name="Sign in").click()
        login = page.get_by_role("form", name="Sign in")
        await login.get_by_role("button", name="Sign in").click()
        await expect_message(login.get_by_label("Username"), re.compile(r"\S"))
        await expect_message(login.get_by_label("Password"), re.compile(r"\S"))
        assert sent == [f"{browsing.base_url}/auth/register"]
        assert browsing.page_errors() == []


async def test_the_bin_editor_counts_against_the_hubs_limit(browsing: Browsing) -> None:
    async with browsing.recording():
        owner = await new_space(browsing, "Counted")
        page = owner.page
        creates = requests_to(page, "POST", r"/bins$")
        await page.get_by_role("button", name="New bin").click()
        new_bin = page.get_by_role("form", name="New bin")
        await new_bin.get_by_label("Title").fill("   ")
        await new_bin.get_by_role("button", name="Create", exact=True).click()
        await expect_message(new_bin.get_by_label("Title"), "A title needs at least one character that is not a space.")
        assert creates == []
        await new_bin.get_by_label("Title").fill("Notes")
        await new_bin.get_by_role("button", name="Create", exact=True).click()
        await expect(editor(page)).to_have_attribute("data-version", "1")

        content = editor(page).get_by_label("Content")
        count = editor(page).locator(".bin-count")
        save = editor(page).get_by_role("button", name="Save")
        await expect(content).to_have_attribute("aria-describedby", re.compile(r"\S"))
        described = (await content.get_attribute("aria-describedby") or "").split()
        assert await count.get_attribute("id") in described
        await expect(count).to_have_text(f"0 / {BIN_MAX_CHARS} characters")
        await content.fill("a" * 100)
        await expect(count).to_have_text(f"100 / {BIN_MAX_CHARS} characters")
        await expect(count).to_have_attribute("data-state", "ok")
        await content.fill("a" * 110)
        await expect(count).to_have_text(f"110 / {BIN_MAX_CHARS} characters · 10 left")
        await expect(count).to_have_attribute("data-state", "near")
        await expect(save).to_be_enabled()
        # Characters as the hub counts them: an emoji is one.
        await content.fill("😀" * (BIN_MAX_CHARS + 1))
        await expect(count).to_have_text(f"{BIN_MAX_CHARS + 1} / {BIN_MAX_CHARS} characters · 1 over the limit")
        await expect(count).to_have_attribute("data-state", "over")
        await expect(save).to_be_disabled()
        await expect(content).to_have_attribute("aria-invalid", "true")
        await expect(editor(page).get_by_role("status").filter(has_text="Over the limit")).to_have_count(1)
        # Ctrl+S past the limit sends nothing and says why under the field.
        patches = requests_to(page, "PATCH", r"/bins/")
        await content.press("Control+s")
        await expect_message(content, re.compile(rf"at most {BIN_MAX_CHARS} characters: remove 1 to save it"))
        assert patches == []
        await content.fill("😀" * BIN_MAX_CHARS)
        await expect(count).to_have_attribute("data-state", "near")
        await expect_no_message(content)
        await save.click()
        await expect(editor(page)).to_have_attribute("data-version", "2")
        assert len(patches) == 1

        # Without the hub's document the counter only counts; the hub's 422 lands under the field.
        await page.route("**/openapi.json", lambda route: route.abort())
        await page.reload()
        await page.locator(".bin-list").get_by_role("button", name="Notes").click()
        await expect(count).to_have_text(f"{BIN_MAX_CHARS} characters")
        await content.fill("b" * (BIN_MAX_CHARS + 10))
        await expect(save).to_be_enabled()
        async with page.expect_response(lambda r: r.request.method == "PATCH") as answer:
            await save.click()
        assert (await answer.value).status == 422
        await expect_message(content, f"Must be at most {BIN_MAX_CHARS} characters.")
        await expect(editor(page)).to_have_attribute("data-version", "2")
        await content.fill("short")
        await expect_no_message(content)
        assert browsing.page_errors() == []


async def test_files_at_375_px_refusals_long_names_and_icons(browsing: Browsing) -> None:
    async with browsing.recording():
        owner = await new_space(browsing, "Files", width=375, height=740)
        page = owner.page
        picker = page.get_by_label("Upload files")

        # The hub refuses HTML (HUB_CONTENT_TYPE_DENY): the row and the picker say so, plainly.
        await picker.set_input_files(files=[FilePayload(name="page.html", mimeType="text/html", buffer=b"<p>hi</p>")])
        row = page.locator(".upload", has_text="page.html")
        await expect(row.locator(".upload-status")).to_have_text("Failed: This type of file is not accepted here.")
        await expect_message(picker, "“page.html”: This type of file is not accepted here.")

        # A long name keeps to one line, cut with an ellipsis, the whole name in its title.
        long_name = "quarterly-report-" + "with-a-very-long-descriptive-name-" * 6 + "final.png"
        text_file = "notes.txt"
        await picker.set_input_files(
            files=[
                FilePayload(name=long_name, mimeType="image/png", buffer=_png()),
                FilePayload(name=text_file, mimeType="text/plain", buffer=b"plain words\n"),
            ]
        )
        await expect_no_message(picker)  # a new choice clears the old refusal
        item = page.locator(".file-item", has=page.locator(f'.file-name[title="{long_name}"]'))
        await expect(item).to_be_visible()
        name = item.locator(".file-name")
        await expect(name).to_have_text(long_name)
        assert await name.evaluate("(el) => getComputedStyle(el).textOverflow") == "ellipsis"
        assert await name.evaluate("(el) => getComputedStyle(el).whiteSpace") == "nowrap"
        assert await name.evaluate("(el) => el.scrollWidth > el.clientWidth")  # it is cut
        box = await name.bounding_box()
        assert box is not None and box["height"] < 30  # one line
        assert await page.evaluate(_OVERFLOW) <= 0
        await expect(item.get_by_role("button", name=f"Download {long_name}")).to_be_visible()

        # Icons without an emoji font: SVG drawn in the text's colour, named where they stand alone.
        plain = page.locator(".file-item", has_text=text_file)
        await expect(plain.locator(".thumb svg.icon")).to_have_attribute("aria-label", "File")
        await expect(plain.get_by_role("img", name="File")).to_be_visible()
        assert await page.evaluate(_PICTOGRAPHS) == ""
        assert browsing.page_errors() == []


async def test_the_bell_and_the_like_button_need_no_emoji_font(browsing: Browsing) -> None:
    async with browsing.recording():
        ada = await register_in_browser(browsing, "ada", "Ada")
        page = ada.page
        bell = page.get_by_role("button", name="Notifications")
        await expect(bell.locator("svg.icon-bell")).to_have_attribute("aria-hidden", "true")
        await page.goto("/home")
        await page.get_by_label("Post text").fill("Hello from Ada")
        await page.get_by_role("button", name="Post", exact=True).click()
        card = page.get_by_role("feed", name="Home feed").locator(".post", has_text="Hello from Ada")
        like = card.locator(".like")
        await expect(like).to_contain_text("Like")
        await expect(like.locator("svg.icon-heart")).to_have_attribute("aria-hidden", "true")
        await expect(like.locator("svg.icon-heart")).not_to_have_attribute("data-filled", "true")
        await expect(card.get_by_role("button", name=re.compile(r"^Like 0$"))).to_be_visible()
        assert await page.evaluate(_PICTOGRAPHS) == ""
        assert browsing.page_errors() == []


async def test_tabs_keep_to_one_row_at_375_px(browsing: Browsing) -> None:
    async with browsing.recording():
        visitor = await browsing.person("Visitor", width=375, height=740)
        page = visitor.page
        await page.goto("/")
        tabs = page.get_by_role("tablist", name="How to continue").get_by_role("tab")
        await expect(tabs).to_have_count(3)
        lines = await tabs.evaluate_all(
            """(tabs) => tabs.map((tab) => {
                 const range = document.createRange();
                 range.selectNodeContents(tab);
                 const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
                 return [tab.textContent, tab.getBoundingClientRect().top, tops.size];
               })"""
        )
        assert [size for _label, _top, size in lines] == [1, 1, 1], lines  # each label on one line
        assert len({round(top) for _label, top, _size in lines}) == 1, lines  # one row
        assert await page.evaluate(_OVERFLOW) <= 0
        # The row scrolls sideways rather than wrap, should it ever not fit (a larger font, say).
        tablist = page.get_by_role("tablist", name="How to continue")
        assert await tablist.evaluate("(el) => getComputedStyle(el).flexWrap") == "nowrap"
        assert await tablist.evaluate("(el) => getComputedStyle(el).overflowX") == "auto"
        await page.get_by_role("tab", name="Register").click()
        await expect(page.get_by_role("form", name="Create an account")).to_be_visible()
        assert browsing.page_errors() == []
