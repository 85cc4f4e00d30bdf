"""The feed endpoints' real answers match their OpenAPI description."""

from __future__ import annotations

import httpx

from tests.helpers import auth
from tests.test_openapi import _validator
from tests.test_posts_flow import account, call, publish


async def test_feed_responses_match_the_document(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    me, other = await account(client), await account(client)
    await call(client, me, "POST", f"/users/{other[1]}/follow", 200)
    await publish(client, other, text="hello")
    page = await call(client, me, "GET", "/feed", 200)
    assert len(page["items"]) == 1
    _validator(spec, "/feed", "get", 200).validate(page)
    _validator(spec, "/feed", "get", 200).validate(
        await call(client, me, "GET", f"/feed?since={page['prev_cursor']}", 200)
    )
    _validator(spec, "/feed", "get", 422).validate(await call(client, me, "GET", "/feed?limit=101", 422))
    _validator(spec, "/feed", "get", 400).validate(await call(client, me, "GET", "/feed?cursor=nope", 400))
    r = await client.post("/feed/refresh", headers=auth(me[0]))
    assert r.status_code == 204 and not r.content
    assert "Link" in spec["paths"]["/feed"]["get"]["responses"]["200"]["headers"]
    assert "/feed/refresh" in spec["paths"]
