"""The home feed: /feed."""

from __future__ import annotations

from sanic import Blueprint, HTTPResponse, Request
from sanic.response import empty

from hub.services.feed import FeedService
from rest.auth import authenticate
from rest.context import hub
from rest.openapi import endpoint
from rest.pagination import LINK_HEADER, paged_json
from rest.routes.posts import PostPage, posts_out
from rest.routes.social import page_request
from rest.schemas import TwoWayPageQuery

bp = Blueprint("feed")


def feed(request: Request) -> FeedService:
    service: FeedService = hub(request).feed
    return service


@endpoint(
    bp,
    "GET",
    "/feed",
    summary="My home feed: posts of the accounts I follow and my own, newest first; `since` for newer ones.",
    query=TwoWayPageQuery,
    response=PostPage,
    headers=LINK_HEADER,
)
async def home_feed(request: Request) -> HTTPResponse:
    principal = await authenticate(request)
    page = await feed(request).feed(principal, page_request(request))
    body = PostPage(
        items=await posts_out(request, list(page.items)), next_cursor=page.next_cursor, prev_cursor=page.prev_cursor
    )
    return paged_json(request, body, page)


@endpoint(
    bp,
    "POST",
    "/feed/refresh",
    summary="Rebuild my cached home feed from the database.",
    status=204,
    content="empty",
)
async def refresh_feed(request: Request) -> HTTPResponse:
    await feed(request).refresh(await authenticate(request))
    return empty()
