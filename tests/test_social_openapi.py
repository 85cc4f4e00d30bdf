"""The social endpoints' real answers match their OpenAPI description."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.helpers import auth, register
from tests.test_openapi import _validator


async def test_social_responses_match_the_document(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    me, other = await register(client), await register(client)
    token, uid, oid = me["access_token"], me["user"]["id"], other["user"]["id"]
    await client.patch(f"/users/{oid}", json={"locked": True}, headers=auth(other["access_token"]))

    async def call(method: str, path: str, **kwargs: Any) -> Any:
        return (await client.request(method, path, headers=auth(token), **kwargs)).json()

    checks: list[tuple[str, str, int, Any]] = [
        ("/users/{user_id}", "get", 200, await call("GET", f"/users/{oid}")),
        ("/users/{user_id}", "get", 404, await call("GET", f"/users/{uuid.uuid4()}")),
        ("/users/by-handle/{handle}", "get", 200, await call("GET", f"/users/by-handle/{me['user']['username']}")),
        ("/users/{user_id}", "patch", 200, await call("PATCH", f"/users/{uid}", json={"bio": "hi"})),
        ("/users/{user_id}", "patch", 403, await call("PATCH", f"/users/{oid}", json={"bio": "hi"})),
        ("/users/{user_id}", "patch", 422, await call("PATCH", f"/users/{uid}", json={"bio": "x" * 501})),
        ("/users/{user_id}/follow", "post", 200, await call("POST", f"/users/{oid}/follow")),
        ("/users/{user_id}/follow", "post", 400, await call("POST", f"/users/{uid}/follow")),
        ("/users/{user_id}/mute", "post", 200, await call("POST", f"/users/{oid}/mute")),
        ("/users/{user_id}/relationship", "get", 200, await call("GET", f"/users/{oid}/relationship")),
        ("/users/{user_id}/followers", "get", 200, await call("GET", f"/users/{oid}/followers")),
        ("/users/{user_id}/following", "get", 200, await call("GET", f"/users/{uid}/following")),
        ("/users/{user_id}/following", "get", 422, await call("GET", f"/users/{uid}/following?limit=0")),
        (
            "/follow-requests",
            "get",
            200,
            (await client.get("/follow-requests", headers=auth(other["access_token"]))).json(),
        ),
        (
            "/follow-requests/{request_id}/reject",
            "post",
            404,
            await call("POST", f"/follow-requests/{uuid.uuid4()}/reject"),
        ),
    ]
    for path, method, status, body in checks:
        _validator(spec, path, method, status).validate(body)
    requests = checks[-2][3]["items"]
    assert len(requests) == 1 and requests[0]["account"]["id"] == uid


async def test_list_pages_document_their_link_header(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    for path in ("/users/{user_id}/followers", "/users/{user_id}/following", "/follow-requests"):
        assert "Link" in spec["paths"][path]["get"]["responses"]["200"]["headers"], path
