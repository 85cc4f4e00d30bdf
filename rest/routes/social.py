"""Profiles and the social graph: /users/…, /follow-requests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, Field
from sanic import Blueprint, HTTPResponse, Request

from hub.pagination import TwoWayPage
from hub.ports.social import FollowRequestRecord, ListedProfile, ProfileRecord, Relationship
from hub.services.social import BIO_MAX_CHARS, PageRequest, SocialService
from rest.auth import authenticate
from rest.body import json_body, query
from rest.context import hub
from rest.jsonutil import json
from rest.openapi import endpoint
from rest.pagination import LINK_HEADER, paged_json
from rest.routes.media import MediaPublicOut, media_library, media_public_out
from rest.schemas import TwoWayPageQuery

bp = Blueprint("social")


class ProfileOut(BaseModel):
    id: str
    handle: str
    display_name: str
    bio: str
    avatar: MediaPublicOut | None = Field(description="Short-lived URLs of the image and its thumb/medium variants.")
    locked: bool
    created_at: datetime
    followers_count: int
    following_count: int
    posts_count: int


class ProfilePatch(BaseModel):
    display_name: str | None = Field(None, min_length=1, max_length=128)
    bio: str | None = Field(None, max_length=BIO_MAX_CHARS)
    locked: bool | None = None
    avatar: str | None = Field(
        None, max_length=64, description="One of my completed image uploads (`POST /media/upload`); null removes it."
    )


class RelationshipOut(BaseModel):
    id: str
    following: bool
    followed_by: bool
    requested: bool
    blocking: bool
    blocked_by: bool
    muting: bool


class ProfilePage(BaseModel):
    items: list[ProfileOut]
    next_cursor: str | None
    prev_cursor: str


class FollowRequestOut(BaseModel):
    id: str
    account: ProfileOut
    created_at: datetime


class FollowRequestPage(BaseModel):
    items: list[FollowRequestOut]
    next_cursor: str | None
    prev_cursor: str


def social(request: Request) -> SocialService:
    service: SocialService = hub(request).social
    return service


def profile_out(p: ProfileRecord, avatar: MediaPublicOut | None = None) -> ProfileOut:
    """A profile; `avatar` comes from `profiles_out`, which resolves the avatars of many at once."""
    return ProfileOut(
        id=p.id,
        handle=p.handle,
        display_name=p.display_name,
        bio=p.bio,
        avatar=avatar,
        locked=p.locked,
        created_at=p.created_at,
        followers_count=p.followers_count,
        following_count=p.following_count,
        posts_count=p.posts_count,
    )


async def profiles_out(request: Request, profiles: Sequence[ProfileRecord]) -> list[ProfileOut]:
    """Profiles with their avatars' URLs (one lookup for the page)."""
    views = await media_library(request).views([p.avatar_media_id for p in profiles if p.avatar_media_id])
    out = []
    for p in profiles:
        view = views.get(p.avatar_media_id) if p.avatar_media_id else None
        out.append(profile_out(p, media_public_out(view) if view else None))
    return out


async def one_profile_out(request: Request, profile: ProfileRecord) -> ProfileOut:
    return (await profiles_out(request, [profile]))[0]


def relationship_out(r: Relationship) -> HTTPResponse:
    return json(
        RelationshipOut(
            id=r.id,
            following=r.following,
            followed_by=r.followed_by,
            requested=r.requested,
            blocking=r.blocking,
            blocked_by=r.blocked_by,
            muting=r.muting,
        )
    )


def page_request(request: Request) -> PageRequest:
    q = query(request, TwoWayPageQuery)
    return PageRequest(limit=q.limit, cursor=q.cursor, since=q.since)


async def profiles_page(request: Request, page: TwoWayPage[ListedProfile]) -> HTTPResponse:
    items = await profiles_out(request, [p.profile for p in page.items])
    body = ProfilePage(items=items, next_cursor=page.next_cursor, prev_cursor=page.prev_cursor)
    return paged_json(request, body, page)


async def requests_page(request: Request, page: TwoWayPage[FollowRequestRecord]) -> HTTPResponse:
    accounts = await profiles_out(request, [r.requester for r in page.items])
    body = FollowRequestPage(
        items=[
            FollowRequestOut(id=r.id, account=account, created_at=r.created_at)
            for r, account in zip(page.items, accounts, strict=True)
        ],
        next_cursor=page.next_cursor,
        prev_cursor=page.prev_cursor,
    )
    return paged_json(request, body, page)


@endpoint(bp, "GET", "/users/by-handle/{handle}", summary="A profile by handle.", response=ProfileOut, errors=(404,))
async def get_by_handle(request: Request, handle: str) -> HTTPResponse:
    principal = await authenticate(request)
    return json(await one_profile_out(request, await social(request).profile_by_handle(principal, handle)))


@endpoint(bp, "GET", "/users/{user_id}", summary="A profile.", response=ProfileOut, errors=(404,))
async def get_profile(request: Request, user_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    return json(await one_profile_out(request, await social(request).profile(principal, user_id)))


@endpoint(
    bp,
    "PATCH",
    "/users/{user_id}",
    summary="Change my profile: display_name, bio, locked, avatar.",
    body=ProfilePatch,
    response=ProfileOut,
    errors=(403, 404),
)
async def patch_profile(request: Request, user_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    data = json_body(request, ProfilePatch)
    updated = await social(request).update_profile(
        principal,
        user_id,
        display_name=data.display_name,
        bio=data.bio,
        locked=data.locked,
        avatar=data.avatar if "avatar" in data.model_fields_set else ...,
    )
    return json(await one_profile_out(request, updated))


@endpoint(
    bp,
    "GET",
    "/users/{user_id}/relationship",
    summary="How I stand to this account.",
    response=RelationshipOut,
    errors=(404,),
)
async def get_relationship(request: Request, user_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    return relationship_out(await social(request).relationship(principal, user_id))


_WRITE_ERRORS = (403, 404, 409)


@endpoint(
    bp,
    "POST",
    "/users/{user_id}/follow",
    summary="Follow (a request when the account is locked); idempotent.",
    response=RelationshipOut,
    errors=_WRITE_ERRORS,
)
async def follow(request: Request, user_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    return relationship_out(await social(request).follow(principal, user_id))


@endpoint(
    bp,
    "POST",
    "/users/{user_id}/unfollow",
    summary="Unfollow (or withdraw a request); idempotent.",
    response=RelationshipOut,
    errors=_WRITE_ERRORS,
)
async def unfollow(request: Request, user_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    return relationship_out(await social(request).unfollow(principal, user_id))


@endpoint(
    bp,
    "POST",
    "/users/{user_id}/block",
    summary="Block: removes follows both ways; idempotent.",
    response=RelationshipOut,
    errors=_WRITE_ERRORS,
)
async def block(request: Request, user_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    return relationship_out(await social(request).block(principal, user_id))


@endpoint(
    bp,
    "POST",
    "/users/{user_id}/unblock",
    summary="Unblock; idempotent.",
    response=RelationshipOut,
    errors=_WRITE_ERRORS,
)
async def unblock(request: Request, user_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    return relationship_out(await social(request).unblock(principal, user_id))


@endpoint(
    bp,
    "POST",
    "/users/{user_id}/mute",
    summary="Mute (only I can tell); idempotent.",
    response=RelationshipOut,
    errors=_WRITE_ERRORS,
)
async def mute(request: Request, user_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    return relationship_out(await social(request).mute(principal, user_id))


@endpoint(
    bp, "POST", "/users/{user_id}/unmute", summary="Unmute; idempotent.", response=RelationshipOut, errors=_WRITE_ERRORS
)
async def unmute(request: Request, user_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    return relationship_out(await social(request).unmute(principal, user_id))


@endpoint(
    bp,
    "GET",
    "/users/{user_id}/followers",
    summary="Accounts following this one, newest first.",
    query=TwoWayPageQuery,
    response=ProfilePage,
    headers=LINK_HEADER,
    errors=(404,),
)
async def followers(request: Request, user_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    return await profiles_page(request, await social(request).followers(principal, user_id, page_request(request)))


@endpoint(
    bp,
    "GET",
    "/users/{user_id}/following",
    summary="Accounts this one follows, newest first.",
    query=TwoWayPageQuery,
    response=ProfilePage,
    headers=LINK_HEADER,
    errors=(404,),
)
async def following(request: Request, user_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    return await profiles_page(request, await social(request).following(principal, user_id, page_request(request)))


@endpoint(
    bp,
    "GET",
    "/follow-requests",
    summary="Pending requests to follow me, newest first.",
    query=TwoWayPageQuery,
    response=FollowRequestPage,
    headers=LINK_HEADER,
)
async def list_follow_requests(request: Request) -> HTTPResponse:
    principal = await authenticate(request)
    return await requests_page(request, await social(request).follow_requests(principal, page_request(request)))


@endpoint(
    bp,
    "POST",
    "/follow-requests/{request_id}/authorize",
    summary="Accept a follow request; answers my relationship to the requester.",
    response=RelationshipOut,
    errors=_WRITE_ERRORS,
)
async def authorize_request(request: Request, request_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    return relationship_out(await social(request).authorize(principal, request_id))


@endpoint(
    bp,
    "POST",
    "/follow-requests/{request_id}/reject",
    summary="Reject a follow request; answers my relationship to the requester.",
    response=RelationshipOut,
    errors=(403, 404),
)
async def reject_request(request: Request, request_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    return relationship_out(await social(request).reject(principal, request_id))
