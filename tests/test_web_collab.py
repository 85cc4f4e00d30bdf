"""Bins and files in the web client, across two people: live bin edits with a clear conflict message,
revisions, and files uploaded by one (single and multipart, with progress) downloadable by the other."""

from __future__ import annotations

import io
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image
from playwright.async_api import FilePayload, Locator, Page, expect

from tests.support.browser import Browsing, Person, WebHub, browser_fixture, browsing_fixture, web_hub_fixture

FIXTURES = (browser_fixture, web_hub_fixture, browsing_fixture)


async def shared_space(browsing: Browsing, name: str, *, bob_fake_clock: bool = False) -> tuple[Person, Person]:
    """Alice creates a link-visible space and Bob opens its link (on a fake clock if asked)."""
    alice = await browsing.guest("Alice")
    await alice.page.get_by_label("Name").fill(name)
    await alice.page.get_by_label("Who can open it").select_option("link")
    await alice.page.get_by_role("button", name="Create space").click()
    await expect(alice.page.locator(".connection")).to_have_attribute("data-state", "joined")
    bob = await browsing.guest("Bob", alice.page.url.removeprefix(browsing.base_url), fake_clock=bob_fake_clock)
    await expect(bob.page.locator(".connection")).to_have_attribute("data-state", "joined")
    await expect(alice.page.locator(".presence")).to_have_attribute("data-count", "2")
    return alice, bob


async def downloaded(person: Person, name: str, folder: Path) -> tuple[bytes, Any]:
    """Person clicks Download on the file `name` once it is listed; returns its bytes and the download."""
    item = person.page.locator(".file-item", has_text=name)
    await expect(item).to_be_visible()
    async with person.page.expect_download() as pending:
        await item.get_by_role("button", name=f"Download {name}").click()
    download = await pending.value
    saved = folder / ("downloaded-" + name)
    await download.save_as(saved)
    return saved.read_bytes(), download


def editor(page: Page) -> Locator:
    return page.locator(".bin-form")


async def test_bin_edits_are_live_and_conflicts_are_explained(browsing: Browsing) -> None:
    async with browsing.recording():
        alice, bob = await shared_space(browsing, "Bins")

        await alice.page.get_by_role("button", name="New bin").click()
        await alice.page.get_by_label("Title").fill("Notes")
        await alice.page.get_by_role("button", name="Create", exact=True).click()
        await expect(editor(alice.page)).to_have_attribute("data-version", "1")
        await alice.page.get_by_label("Content").fill("first draft")
        await alice.page.get_by_role("button", name="Save").click()
        await expect(editor(alice.page)).to_have_attribute("data-version", "2")

        # Bob's list picks the new bin up live; he opens it.
        await bob.page.locator(".bin-list").get_by_role("button", name="Notes").click()
        await expect(bob.page.get_by_label("Content")).to_have_value("first draft")

        # Alice saves again; Bob (no local edits) follows live.
        await alice.page.get_by_label("Content").fill("second draft")
        await alice.page.keyboard.press("Control+s")
        await expect(editor(alice.page)).to_have_attribute("data-version", "3")
        await expect(bob.page.get_by_label("Content")).to_have_value("second draft")
        await expect(editor(bob.page)).to_have_attribute("data-version", "3")

        # Both edit; Alice saves first. Bob is warned live, then his save gets a clear conflict message.
        await bob.page.get_by_label("Content").fill("bob's version")
        await alice.page.get_by_label("Content").fill("alice's version")
        await alice.page.get_by_role("button", name="Save").click()
        await expect(editor(alice.page)).to_have_attribute("data-version", "4")
        conflict = bob.page.locator(".conflict")
        await expect(conflict).to_contain_text("saved version 4 while you were editing")
        await bob.page.get_by_role("button", name="Save").click()
        await expect(conflict).to_contain_text("Someone else saved this bin while you were editing")
        await expect(conflict).to_contain_text("version 4")
        await expect(bob.page.get_by_label("Content")).to_have_value("bob's version")  # nothing lost
        await conflict.get_by_role("button", name="Overwrite with mine").click()
        await expect(editor(bob.page)).to_have_attribute("data-version", "5")
        await expect(alice.page.get_by_label("Content")).to_have_value("bob's version")

        # Revisions list every saved version; one can be viewed.
        await alice.page.get_by_text("Revisions").click()
        items = alice.page.locator(".revision-items li")
        await expect(items).to_have_count(5)
        await items.filter(has_text="v2").get_by_role("button", name="View").click()
        await expect(alice.page.locator(".revision-content")).to_have_text("first draft")
        await alice.page.get_by_role("button", name="Close").last.click()

        # Raw link: the plain text opens in a new tab.
        async with alice.context.expect_page() as raw_page:
            await editor(alice.page).get_by_role("button", name="Raw").click()
        raw = await raw_page.value
        await expect(raw.locator("body")).to_have_text("bob's version")
        assert browsing.page_errors() == []


def _png() -> bytes:
    image = Image.new("RGB", (320, 200), (40, 120, 200))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


async def test_files_uploaded_by_one_are_downloadable_by_the_other(
    browsing: Browsing, web_hub: WebHub, tmp_path: Path
) -> None:
    async with browsing.recording():
        alice, bob = await shared_space(browsing, "Files")
        picture = _png()
        await alice.page.get_by_label("Upload files").set_input_files(
            files=[FilePayload(name="picture.png", mimeType="image/png", buffer=picture)]
        )
        item = bob.page.locator(".file-item", has_text="picture.png")
        await expect(item).to_be_visible()
        # The media worker's thumbnail shows up for Bob too.
        await expect(item.locator(".thumb img")).to_be_visible()

        got, download = await downloaded(bob, "picture.png", tmp_path)
        assert got == picture and download.suggested_filename == "picture.png"

        # Alice deletes it; it disappears for Bob.
        await alice.page.locator(".file-item", has_text="picture.png").get_by_role("button", name="Delete").click()
        await alice.page.get_by_role("dialog").get_by_role("button", name="Delete").click()
        await expect(item).to_have_count(0)
        assert browsing.page_errors() == []


async def test_big_files_go_up_in_parts_with_progress(
    browser: Any, make_settings: Callable[..., Any], tmp_path: Path, request: Any
) -> None:
    part = 5 * 1024 * 1024
    async with WebHub(make_settings, multipart_threshold=part + 1, multipart_part_bytes=part) as hub:
        browsing = Browsing(browser, hub.url, request.node.name)
        try:
            async with browsing.recording():
                alice, bob = await shared_space(browsing, "Big files")
                data = os.urandom(2 * part + 12345)
                await alice.page.get_by_label("Upload files").set_input_files(
                    files=[FilePayload(name="big.bin", mimeType="application/octet-stream", buffer=data)]
                )
                # Three parts went up; the progress bar reached the full size.
                row = alice.page.locator('.upload[data-state="done"]', has_text="big.bin")
                await expect(row).to_have_attribute("data-parts", "3")
                await expect(row.locator("progress")).to_have_js_property("value", len(data))
                await expect(row.locator("progress")).to_have_js_property("max", len(data))
                assert (await downloaded(bob, "big.bin", tmp_path))[0] == data
                assert browsing.page_errors() == []
        finally:
            await browsing.close()


async def test_failed_parts_are_retried_and_an_upload_resumes_without_resending_stored_parts(
    browser: Any, make_settings: Callable[..., Any], tmp_path: Path, request: Any
) -> None:
    part = 5 * 1024 * 1024
    tail = 12345  # the last part's size tells it apart from the others
    async with WebHub(make_settings, multipart_threshold=part + 1, multipart_part_bytes=part) as hub:
        browsing = Browsing(browser, hub.url, request.node.name)
        try:
            async with browsing.recording():
                alice, bob = await shared_space(browsing, "Flaky network")
                sent: list[int] = []  # body size of every part PUT that reached the store
                failing = {"always": True, "times": 0}
                attempts = {"tail": 0}

                async def flaky(route: Any) -> None:
                    size = len(route.request.post_data_buffer or b"")
                    if size == tail:
                        attempts["tail"] += 1
                        if failing["always"] or failing["times"] > 0:
                            failing["times"] -= 1
                            await route.abort("connectionreset")
                            return
                    sent.append(size)
                    await route.continue_()

                await alice.page.route("**/blobs/part?**", flaky)
                data = os.urandom(2 * part + tail)
                await alice.page.get_by_label("Upload files").set_input_files(
                    files=[FilePayload(name="flaky.bin", mimeType="application/octet-stream", buffer=data)]
                )
                # Every attempt at the last part fails: after its retries the upload stops and offers
                # to resume; the two full parts are in the store.
                row = alice.page.locator(".upload", has_text="flaky.bin")
                await expect(row).to_have_attribute("data-state", "failed", timeout=20_000)
                await expect(row.get_by_role("button", name="Resume flaky.bin")).to_be_visible()
                assert attempts["tail"] == 4
                assert sorted(sent) == [part, part]

                # The network recovers, but drops the next attempt once more: resume, retry, done,
                # and the parts already stored are not sent again.
                failing.update(always=False, times=1)
                await row.get_by_role("button", name="Resume flaky.bin").click()
                await expect(row).to_have_attribute("data-state", "done", timeout=20_000)
                assert attempts["tail"] == 6
                assert sorted(sent) == [tail, part, part]

                assert (await downloaded(bob, "flaky.bin", tmp_path))[0] == data
                assert browsing.page_errors() == []
        finally:
            await browsing.close()


async def test_files_go_straight_between_the_browser_and_s3(
    browser: Any, make_settings: Callable[..., Any], s3_service: Any, tmp_path: Path, request: Any
) -> None:
    """The scaled mode's path: presigned POST and multipart PUTs from the page to SeaweedFS, and the
    download from a presigned GET; the page is allowed to reach the store by the hub's CSP."""
    part = 5 * 1024 * 1024
    store = {
        "s3_endpoint": s3_service.endpoint,
        "s3_bucket": "web" + secrets.token_hex(6),
        "s3_access_key": s3_service.access_key,
        "s3_secret_key": s3_service.secret_key,
        "s3_path_style": True,
        "s3_region": s3_service.region,
        "multipart_threshold": part + 1,
        "multipart_part_bytes": part,
    }
    async with WebHub(make_settings, **store) as hub:
        browsing = Browsing(browser, hub.url, request.node.name)
        try:
            async with browsing.recording():
                alice, bob = await shared_space(browsing, "Straight to S3")
                store_requests: list[str] = []
                alice.page.on(
                    "request",
                    lambda r: store_requests.append(r.method) if r.url.startswith(s3_service.endpoint) else None,
                )
                small = os.urandom(70_000)
                big = os.urandom(part + 4321)
                await alice.page.get_by_label("Upload files").set_input_files(
                    files=[
                        FilePayload(name="small.bin", mimeType="application/octet-stream", buffer=small),
                        FilePayload(name="big.bin", mimeType="application/octet-stream", buffer=big),
                    ]
                )
                for name in ("small.bin", "big.bin"):
                    done = alice.page.locator('.upload[data-state="done"]', has_text=name)
                    await expect(done).to_be_visible(timeout=20_000)
                # One presigned POST and two part PUTs went to the store itself, not via the hub.
                assert store_requests.count("POST") == 1
                assert store_requests.count("PUT") == 2
                for name, data in (("small.bin", small), ("big.bin", big)):
                    got, download = await downloaded(bob, name, tmp_path)
                    assert got == data and download.url.startswith(s3_service.endpoint)
                assert browsing.page_errors() == []
        finally:
            await browsing.close()


async def test_an_upload_interrupted_by_a_reload_resumes_from_the_parts_in_the_store(
    browser: Any, make_settings: Callable[..., Any], tmp_path: Path, request: Any
) -> None:
    part = 5 * 1024 * 1024
    tail = 23456
    async with WebHub(make_settings, multipart_threshold=part + 1, multipart_part_bytes=part) as hub:
        browsing = Browsing(browser, hub.url, request.node.name)
        try:
            async with browsing.recording():
                alice, bob = await shared_space(browsing, "Reloaded")
                sent: list[int] = []
                blocked = {"tail": True}

                async def network(route: Any) -> None:
                    size = len(route.request.post_data_buffer or b"")
                    if size == tail and blocked["tail"]:
                        await route.abort("connectionreset")
                        return
                    sent.append(size)
                    await route.continue_()

                await alice.page.route("**/blobs/part?**", network)
                source = tmp_path / "movie.bin"
                data = os.urandom(2 * part + tail)
                source.write_bytes(data)
                await alice.page.get_by_label("Upload files").set_input_files(source)
                await expect(alice.page.locator(".upload", has_text="movie.bin")).to_have_attribute(
                    "data-state", "failed", timeout=20_000
                )
                assert sorted(sent) == [part, part]

                # The page is reloaded: the bytes are gone from it, the two stored parts are not.
                await alice.page.reload()
                await expect(alice.page.locator(".connection")).to_have_attribute("data-state", "joined")
                row = alice.page.locator('.upload[data-state="interrupted"]', has_text="movie.bin")
                await expect(row).to_be_visible()

                # Another file by the same name and size (a different modification time) is refused.
                stat = source.stat()
                os.utime(source, (stat.st_atime, stat.st_mtime + 100))
                await alice.page.get_by_label("Resume movie.bin").set_input_files(source)
                await expect(row.locator(".upload-status")).to_contain_text("not the file being uploaded")
                os.utime(source, (stat.st_atime, stat.st_mtime))

                blocked["tail"] = False
                await alice.page.get_by_label("Resume movie.bin").set_input_files(source)
                done = alice.page.locator('.upload[data-state="done"]', has_text="movie.bin")
                await expect(done).to_be_visible(timeout=20_000)
                assert sorted(sent) == [tail, part, part]  # only the missing part went up

                assert (await downloaded(bob, "movie.bin", tmp_path))[0] == data
                assert browsing.page_errors() == []
        finally:
            await browsing.close()
