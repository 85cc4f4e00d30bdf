"""Posts and engagement: /posts/…, /users/{id}/posts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field
from sanic import Blueprint, HTTPResponse, Request
from sanic.response import empty

from hub.pagination import TwoWayPage
from hub.ports.posts import CommentRecord, PostRecord
from hub.ports.social import ListedProfile
from hub.services.media_library import MediaView
from hub.services.posts import PostService
from hub.services.posts_input import COMMENT_MAX_CHARS, MAX_MEDIA, MEDIA_ID_MAX, POST_MAX_CHARS, Visibility
from rest.auth import authenticate
from rest.body import json_body
from rest.context import hub
from rest.jsonutil import json
from rest.openapi import endpoint
from rest.pagination import LINK_HEADER, paged_json
from rest.routes.media import MediaPublicOut, media_library, media_public_out
from rest.routes.social import ProfilePage, page_request, profiles_page
from rest.schemas import TwoWayPageQuery

bp = Blueprint("posts")

MediaId = Annotated[str, Field(min_length=1, max_length=MEDIA_ID_MAX)]
# Ids are parsed by the service (a malformed one is simply one that does not exist).
Ident = Annotated[str, Field(max_length=64)]


class PostIn(BaseModel):
    text: str = Field("", max_length=POST_MAX_CHARS)
    media: list[MediaId] = Field(default_factory=list, max_length=MAX_MEDIA)
    visibility: Literal["public", "unlisted", "followers"] = "public"
    reply_to: Ident | None = None


class PostPatch(BaseModel):
    text: str | None = Field(None, max_length=POST_MAX_CHARS)
    media: list[MediaId] | None = Field(None, max_length=MAX_MEDIA)


class CommentIn(BaseModel):
    text: str = Field(min_length=1, max_length=COMMENT_MAX_CHARS)
    reply_to: Ident | None = None


class AuthorOut(BaseModel):
    id: str
    handle: str
    display_name: str


class MentionOut(BaseModel):
    id: str
    handle: str


class PostOut(BaseModel):
    id: str
    author: AuthorOut
    text: str
    visibility: Literal["public", "unlisted", "followers"]
    reply_to: str | None
    media: list[MediaPublicOut] = Field(
        description="The post's images in order, with short-lived URLs. An image the media worker is still "
        "processing shows its original (`url`) and gains `variants` once they are made; one the worker could "
        "not decode is left out."
    )
    mentions: list[MentionOut]
    hashtags: list[str]
    likes_count: int
    comments_count: int
    liked: bool
    created_at: datetime
    edited_at: datetime | None
    removed: bool = Field(description="Taken down by a moderator; only its author still sees it.")
    removed_reason: str | None = Field(description="The moderator's reason, shown to the author.")


class PostPage(BaseModel):
    items: list[PostOut]
    next_cursor: str | None
    prev_cursor: str


class CommentOut(BaseModel):
    id: str
    post_id: str
    author: AuthorOut
    text: str
    reply_to: str | None
    created_at: datetime
    removed: bool = Field(description="Taken down by a moderator; only its author still sees it.")
    removed_reason: str | None


class CommentPage(BaseModel):
    items: list[CommentOut]
    next_cursor: str | None
    prev_cursor: str


def posts(request: Request) -> PostService:
    service: PostService = hub(request).posts
    return service


def post_out(p: PostRecord, views: Mapping[str, MediaView]) -> PostOut:
    """A post; `views` (from `posts_out`) holds its media with URLs, resolved for a whole page at once."""
    media = [out for m in p.media if (view := views.get(m)) is not None and (out := media_public_out(view))]
    return PostOut(
        id=p.id,
        author=AuthorOut(id=p.author_id, handle=p.author_handle, display_name=p.author_display_name),
        text=p.text,
        visibility=Visibility(p.visibility).value,
        reply_to=p.reply_to,
        media=media,
        mentions=[MentionOut(id=m.id, handle=m.handle) for m in p.mentions],
        hashtags=p.hashtags,
        likes_count=p.likes_count,
        comments_count=p.comments_count,
        liked=p.liked,
        created_at=p.created_at,
        edited_at=p.edited_at,
        removed=p.removed,
        removed_reason=p.removed_reason,
    )


async def posts_out(request: Request, records: Sequence[PostRecord]) -> list[PostOut]:
    """Posts with their media: one media lookup for all of them, never one per post."""
    views = await media_library(request).views([m for p in records for m in p.media])
    return [post_out(p, views) for p in records]


async def one_post_out(request: Request, record: PostRecord) -> PostOut:
    return (await posts_out(request, [record]))[0]


def comment_out(c: CommentRecord) -> CommentOut:
    return CommentOut(
        id=c.id,
        post_id=c.post_id,
        author=AuthorOut(id=c.author_id, handle=c.author_handle, display_name=c.author_display_name),
        text=c.text,
        reply_to=c.reply_to,
        created_at=c.created_at,
        removed=c.removed,
        removed_reason=c.removed_reason,
    )


@endpoint(
    bp,
    "POST",
    "/posts",
    summary="Publish a post; an Idempotency-Key header (kept an hour) makes a retry return the first post.",
    body=PostIn,
    response=PostOut,
    status=201,
    errors=(403, 404, 409),
)
async def create_post(request: Request) -> HTTPResponse:
    principal = await authenticate(request)
    data = json_body(request, PostIn)
    record, created = await posts(request).create(
        principal,
        text=data.text,
        media=data.media,
        visibility=Visibility(data.visibility),
        reply_to=data.reply_to,
        idempotency_key=request.headers.get("idempotency-key"),
    )
    headers = {} if created else {"Idempotent-Replayed": "true"}
    return json(await one_post_out(request, record), status=201, headers=headers)


@endpoint(bp, "GET", "/posts/{post_id}", summary="A post.", response=PostOut, errors=(404,))
async def get_post(request: Request, post_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    return json(await one_post_out(request, await posts(request).post(principal, post_id)))


@endpoint(
    bp,
    "PATCH",
    "/posts/{post_id}",
    summary="Edit my post's text or media; the previous version is kept.",
    body=PostPatch,
    response=PostOut,
    errors=(403, 404),
)
async def patch_post(request: Request, post_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    data = json_body(request, PostPatch)
    record = await posts(request).update(principal, post_id, text=data.text, media=data.media)
    return json(await one_post_out(request, record))


@endpoint(bp, "DELETE", "/posts/{post_id}", summary="Delete my post.", status=204, content="empty", errors=(403, 404))
async def delete_post(request: Request, post_id: str) -> HTTPResponse:
    await posts(request).delete(await authenticate(request), post_id)
    return empty()


@endpoint(
    bp,
    "GET",
    "/users/{user_id}/posts",
    summary="An account's posts that I may see, newest first.",
    query=TwoWayPageQuery,
    response=PostPage,
    headers=LINK_HEADER,
    errors=(404,),
)
async def user_posts(request: Request, user_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    page = await posts(request).user_posts(principal, user_id, page_request(request))
    body = PostPage(
        items=await posts_out(request, page.items), next_cursor=page.next_cursor, prev_cursor=page.prev_cursor
    )
    return paged_json(request, body, page)


@endpoint(bp, "POST", "/posts/{post_id}/like", summary="Like; idempotent.", response=PostOut, errors=(403, 404, 409))
async def like(request: Request, post_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    return json(await one_post_out(request, await posts(request).like(principal, post_id)))


@endpoint(bp, "DELETE", "/posts/{post_id}/like", summary="Unlike; idempotent.", response=PostOut, errors=(403, 404))
async def unlike(request: Request, post_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    return json(await one_post_out(request, await posts(request).unlike(principal, post_id)))


@endpoint(
    bp,
    "GET",
    "/posts/{post_id}/likes",
    summary="Accounts that like the post, newest like first.",
    query=TwoWayPageQuery,
    response=ProfilePage,
    headers=LINK_HEADER,
    errors=(404,),
)
async def likes(request: Request, post_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    page: TwoWayPage[ListedProfile] = await posts(request).likes(principal, post_id, page_request(request))
    return await profiles_page(request, page)


@endpoint(
    bp,
    "POST",
    "/posts/{post_id}/comment",
    summary="Comment on a post (reply_to: a comment of the same post).",
    body=CommentIn,
    response=CommentOut,
    status=201,
    errors=(403, 404, 409),
)
async def comment(request: Request, post_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    data = json_body(request, CommentIn)
    record = await posts(request).comment(principal, post_id, text=data.text, reply_to=data.reply_to)
    return json(comment_out(record), status=201)


@endpoint(
    bp,
    "GET",
    "/posts/{post_id}/comments",
    summary="Comments, oldest first: next_cursor and since=prev_cursor both read later comments.",
    query=TwoWayPageQuery,
    response=CommentPage,
    headers=LINK_HEADER,
    errors=(404,),
)
async def comments(request: Request, post_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    page = await posts(request).comments(principal, post_id, page_request(request))
    body = CommentPage(
        items=[comment_out(c) for c in page.items], next_cursor=page.next_cursor, prev_cursor=page.prev_cursor
    )
    return paged_json(request, body, page)


@endpoint(
    bp,
    "DELETE",
    "/posts/{post_id}/comments/{comment_id}",
    summary="Delete a comment (its author or the post's author).",
    status=204,
    content="empty",
    errors=(403, 404),
)
async def delete_comment(request: Request, post_id: str, comment_id: str) -> HTTPResponse:
    await posts(request).delete_comment(await authenticate(request), post_id, comment_id)
    return empty()
