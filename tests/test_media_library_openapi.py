"""The media endpoints' real answers (and profiles with an avatar) match their OpenAPI description."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers import auth, register
from tests.test_files_flow import eventually
from tests.test_media_library_flow import png
from tests.test_openapi import _validator


async def test_media_responses_match_the_document(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    me = await register(client)
    token, uid = me["access_token"], me["user"]["id"]

    async def call(method: str, path: str, **kwargs: Any) -> Any:
        return (await client.request(method, path, headers=auth(token), **kwargs)).json()

    data = png(300, 200)
    created = await call(
        "POST", "/media/upload", json={"filename": "a.png", "size": len(data), "content_type": "image/png"}
    )
    mid = created["media_id"]
    up = created["upload"]
    assert (await client.post(up["url"], data=up["fields"], files={"file": ("a", data)})).status_code in (200, 201, 204)
    done = await call("POST", f"/media/upload/{mid}/complete")

    async def processed() -> bool:
        return bool((await call("GET", f"/media/upload/{mid}/status"))["processing"] == "done")

    await eventually(processed, timeout=30)
    checks: list[tuple[str, str, int, Any]] = [
        ("/media/upload", "post", 201, created),
        ("/media/upload", "post", 413, await call("POST", "/media/upload", json={**_bad_size()})),
        (
            "/media/upload",
            "post",
            422,
            await call("POST", "/media/upload", json={**_bad_size(), "size": 1, "content_type": "text/html"}),
        ),
        ("/media/upload/{media_id}/complete", "post", 200, done),
        ("/media/upload/{media_id}/status", "get", 200, await call("GET", f"/media/upload/{mid}/status")),
        ("/media/{media_id}", "get", 200, await call("GET", f"/media/{mid}")),
        ("/media/{media_id}", "get", 404, await call("GET", "/media/nope")),
        ("/users/{user_id}", "patch", 200, await call("PATCH", f"/users/{uid}", json={"avatar": mid})),
        ("/users/{user_id}", "patch", 422, await call("PATCH", f"/users/{uid}", json={"avatar": "nope"})),
        ("/users/{user_id}", "get", 200, await call("GET", f"/users/{uid}")),
    ]
    for path, method, status, body in checks:
        _validator(spec, path, method, status).validate(body)
    assert checks[-1][3]["avatar"]["variants"]["medium"]["width"] == 300


def _bad_size() -> dict[str, Any]:
    return {"filename": "a.png", "size": 2**40, "content_type": "image/png"}
