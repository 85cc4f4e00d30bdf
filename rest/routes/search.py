"""Search: /search/users and /search/posts."""

from __future__ import annotations

from pydantic import BaseModel, Field
from sanic import Blueprint, HTTPResponse, Request

from hub.services.search import MAX_QUERY_CHARS, SearchService
from rest.auth import authenticate
from rest.body import query
from rest.context import hub
from rest.openapi import endpoint
from rest.pagination import paged_json
from rest.routes.posts import PostOut, posts_out
from rest.routes.social import ProfileOut, profile_out
from rest.schemas import PageQuery

bp = Blueprint("search")

RANKED_LINK_HEADER = {
    "Link": 'RFC 8288 links to the neighbouring pages: rel="next" (lower-ranked items), rel="prev" (higher-ranked)'
}


class SearchQueryParams(PageQuery):
    """`q` plus a page: `cursor` is a `next_cursor` (the page below), `since` a `prev_cursor` (the page above)."""

    q: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    since: str | None = Field(None, max_length=512)


class ProfileSearchPage(BaseModel):
    items: list[ProfileOut]
    next_cursor: str | None
    prev_cursor: str | None = Field(description="The best item's position; `since=` reads the page above.")


class PostSearchPage(BaseModel):
    items: list[PostOut]
    next_cursor: str | None
    prev_cursor: str | None = Field(description="The best item's position; `since=` reads the page above.")


def search(request: Request) -> SearchService:
    service: SearchService = hub(request).search
    return service


@endpoint(
    bp,
    "GET",
    "/search/users",
    summary="Accounts by handle or display name, best match first (3+ characters anywhere, else handle prefix).",
    query=SearchQueryParams,
    response=ProfileSearchPage,
    headers=RANKED_LINK_HEADER,
)
async def search_users(request: Request) -> HTTPResponse:
    principal = await authenticate(request)
    params = query(request, SearchQueryParams)
    page = await search(request).users(
        principal, params.q, limit=params.limit, cursor=params.cursor, since=params.since
    )
    body = ProfileSearchPage(
        items=[profile_out(r.profile) for r in page.items], next_cursor=page.next_cursor, prev_cursor=page.prev_cursor
    )
    return paged_json(request, body, page)


@endpoint(
    bp,
    "GET",
    "/search/posts",
    summary="Posts I may see by text (3+ characters, closest first) or by one #hashtag (exact, newest first); "
    "never unlisted ones.",
    query=SearchQueryParams,
    response=PostSearchPage,
    headers=RANKED_LINK_HEADER,
)
async def search_posts(request: Request) -> HTTPResponse:
    principal = await authenticate(request)
    params = query(request, SearchQueryParams)
    page = await search(request).posts(
        principal, params.q, limit=params.limit, cursor=params.cursor, since=params.since
    )
    body = PostSearchPage(
        items=await posts_out(request, [r.post for r in page.items]),
        next_cursor=page.next_cursor,
        prev_cursor=page.prev_cursor,
    )
    return paged_json(request, body, page)
