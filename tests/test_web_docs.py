"""/docs: the API reference (Swagger UI, vendored) renders every operation of /openapi.json in headless
Chromium under the hub's strict CSP, with no request leaving the hub."""

from __future__ import annotations

from playwright.async_api import expect

from tests.support.browser import Browsing, browser_fixture, browsing_fixture, web_hub_fixture

FIXTURES = (browser_fixture, web_hub_fixture, browsing_fixture)


async def test_the_reference_renders_every_operation_from_the_hub_alone(browsing: Browsing) -> None:
    reader = await browsing.person("Reader")
    elsewhere: list[str] = []
    reader.page.on("request", lambda r: elsewhere.append(r.url) if not r.url.startswith(browsing.base_url) else None)
    await reader.page.goto("/docs")
    spec = await (await reader.page.request.get("/openapi.json")).json()
    operations = sum(len(item) for item in spec["paths"].values())
    blocks = reader.page.locator(".opblock")
    await expect(blocks).to_have_count(operations)
    await expect(reader.page.locator(".opblock-summary-path", has_text="/invites/{token}")).to_be_visible()
    await expect(reader.page.locator("#fallback")).to_have_count(0)  # the script-free table made way
    # An operation opens with its parameters and responses.
    await reader.page.locator(".opblock-summary-path", has_text="/invites/{token}").click()
    await expect(reader.page.locator(".opblock.is-open .responses-table")).to_contain_text("410")
    assert elsewhere == []
    assert browsing.page_errors() == []
