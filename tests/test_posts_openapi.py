"""The post endpoints' real answers match their OpenAPI description."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.test_openapi import _validator
from tests.test_posts_flow import account, add_media, call


async def test_post_responses_match_the_document(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    me, other = await account(client), await account(client)

    async def answer(method: str, path: str, status: int, **kwargs: Any) -> Any:
        return await call(client, me, method, path, status, **kwargs)

    post = await answer("POST", "/posts", 201, json={"text": f"hi @{other[2]} #tag"})
    pid = post["id"]
    with_media = await answer("POST", "/posts", 201, json={"media": [await add_media(client, me)]})
    assert len(with_media["media"]) == 1
    comment = await answer("POST", f"/posts/{pid}/comment", 201, json={"text": "c"})
    checks: list[tuple[str, str, int, Any]] = [
        ("/posts", "post", 201, post),
        ("/posts", "post", 422, await answer("POST", "/posts", 422, json={"text": "x" * 5001})),
        ("/posts/{post_id}", "get", 200, await answer("GET", f"/posts/{pid}", 200)),
        ("/posts/{post_id}", "get", 200, await answer("GET", f"/posts/{with_media['id']}", 200)),
        ("/posts", "post", 201, with_media),
        ("/posts/{post_id}", "get", 404, await answer("GET", f"/posts/{uuid.uuid4()}", 404)),
        ("/posts/{post_id}", "patch", 200, await answer("PATCH", f"/posts/{pid}", 200, json={"text": "edited"})),
        (
            "/posts/{post_id}",
            "patch",
            403,
            await call(client, other, "PATCH", f"/posts/{pid}", 403, json={"text": "no"}),
        ),
        ("/posts/{post_id}/like", "post", 200, await answer("POST", f"/posts/{pid}/like", 200)),
        ("/posts/{post_id}/likes", "get", 200, await answer("GET", f"/posts/{pid}/likes", 200)),
        ("/posts/{post_id}/like", "delete", 200, await answer("DELETE", f"/posts/{pid}/like", 200)),
        ("/posts/{post_id}/comment", "post", 201, comment),
        ("/posts/{post_id}/comments", "get", 200, await answer("GET", f"/posts/{pid}/comments", 200)),
        ("/users/{user_id}/posts", "get", 200, await answer("GET", f"/users/{me[1]}/posts", 200)),
        ("/users/{user_id}/posts", "get", 422, await answer("GET", f"/users/{me[1]}/posts?limit=0", 422)),
        (
            "/posts/{post_id}/comments/{comment_id}",
            "delete",
            403,
            await call(client, other, "DELETE", f"/posts/{pid}/comments/{comment['id']}", 403),
        ),
    ]
    for path, method, status, body in checks:
        _validator(spec, path, method, status).validate(body)
    for path in ("/users/{user_id}/posts", "/posts/{post_id}/likes", "/posts/{post_id}/comments"):
        assert "Link" in spec["paths"][path]["get"]["responses"]["200"]["headers"], path
