"""Spaces, members and invites."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from sanic import Blueprint, HTTPResponse, Request
from sanic.response import empty

from hub.errors import MemberNotFound
from hub.models import Role, Visibility
from hub.ports.spaces import InviteRecord, SpaceRecord
from rest.auth import authenticate
from rest.body import json_body, query
from rest.context import hub
from rest.jsonutil import json
from rest.openapi import endpoint, limited_by_setting
from rest.schemas import OutModel, PageQuery, record_fields

bp = Blueprint("spaces")


class SpaceIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    ttl_seconds: int | None = Field(None, ge=60, le=10**9)
    visibility: Literal["private", "link"] = "private"
    link_role: Literal["viewer", "editor"] = "viewer"


class SpacePatch(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=100)
    ttl_seconds: int | None = Field(None, ge=60, le=10**9)
    visibility: Literal["private", "link"] | None = None
    link_role: Literal["viewer", "editor"] | None = None


# The models accept up to 10**9 seconds; the hub enforces HUB_SPACE_MAX_TTL.
for _model in (SpaceIn, SpacePatch):
    limited_by_setting(_model, "ttl_seconds", "maximum", "space_max_ttl")


class SpaceOut(OutModel):
    id: str
    name: str
    owner_id: str
    visibility: str
    link_role: str
    role: str | None
    link: str
    created_at: datetime
    updated_at: datetime
    expires_at: datetime


class SpacePage(BaseModel):
    items: list[SpaceOut]
    next_cursor: str | None


class MemberOut(OutModel):
    user_id: str
    display_name: str
    is_guest: bool
    role: str
    joined_at: datetime


class MemberPage(OutModel):
    items: list[MemberOut]
    next_cursor: str | None


class RoleIn(BaseModel):
    role: Literal["viewer", "editor", "owner"]


class InviteIn(BaseModel):
    role: Literal["viewer", "editor"] = "viewer"
    max_uses: int | None = Field(None, ge=1, le=100_000)
    expires_in: int | None = Field(None, ge=60, le=90 * 86_400)


class InviteOut(OutModel):
    id: str
    role: str
    max_uses: int | None
    uses: int
    expires_at: datetime | None
    created_at: datetime


class CreatedInviteOut(InviteOut):
    token: str
    link: str


class InviteList(BaseModel):
    items: list[InviteOut]


class JoinIn(BaseModel):
    token: str = Field(min_length=1, max_length=200)


def space_out(request: Request, space: SpaceRecord) -> SpaceOut:
    return SpaceOut.model_validate({**record_fields(space), "link": hub(request).spaces.link(space.id)})


def invite_out(i: InviteRecord) -> InviteOut:
    return InviteOut.model_validate(i)


@endpoint(
    bp,
    "POST",
    "/spaces",
    summary="Create a space; the caller becomes its owner.",
    body=SpaceIn,
    response=SpaceOut,
    status=201,
)
async def create_space(request: Request) -> HTTPResponse:
    principal = await authenticate(request)
    data = json_body(request, SpaceIn)
    space = await hub(request).spaces.create(
        principal,
        name=data.name,
        ttl_seconds=data.ttl_seconds,
        visibility=Visibility(data.visibility),
        link_role=Role(data.link_role),
    )
    return json(space_out(request, space), status=201)


@endpoint(bp, "GET", "/spaces", summary="Spaces I am a member of.", query=PageQuery, response=SpacePage)
async def list_spaces(request: Request) -> HTTPResponse:
    principal = await authenticate(request)
    q = query(request, PageQuery)
    page = await hub(request).spaces.mine(principal, q.cursor, q.limit)
    return json(SpacePage(items=[space_out(request, s) for s in page.items], next_cursor=page.next_cursor))


@endpoint(bp, "GET", "/spaces/{space_id}", summary="One space.", response=SpaceOut, errors=(404, 410))
async def get_space(request: Request, space_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    return json(space_out(request, await hub(request).spaces.get(principal, space_id)))


@endpoint(
    bp,
    "PATCH",
    "/spaces/{space_id}",
    summary="Rename, change visibility or extend expiry (owner).",
    body=SpacePatch,
    response=SpaceOut,
    errors=(403, 404, 410),
)
async def patch_space(request: Request, space_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    data = json_body(request, SpacePatch)
    space = await hub(request).spaces.update(
        principal,
        space_id,
        name=data.name,
        ttl_seconds=data.ttl_seconds,
        visibility=Visibility(data.visibility) if data.visibility else None,
        link_role=Role(data.link_role) if data.link_role else None,
    )
    return json(space_out(request, space))


@endpoint(
    bp,
    "DELETE",
    "/spaces/{space_id}",
    summary="Delete a space and everything in it (owner).",
    status=204,
    content="empty",
    errors=(403, 404, 410),
)
async def delete_space(request: Request, space_id: str) -> HTTPResponse:
    await hub(request).spaces.delete(await authenticate(request), space_id)
    return empty()


@endpoint(
    bp,
    "POST",
    "/spaces/{space_id}/join",
    summary="Join a link-visible space by its link.",
    response=SpaceOut,
    errors=(404, 410),
)
async def join_by_link(request: Request, space_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    return json(space_out(request, await hub(request).spaces.join_by_link(principal, space_id)))


@endpoint(
    bp,
    "POST",
    "/spaces/join",
    summary="Join a space with an invite token. 410 `invite_expired` or `invite_used_up` when it no longer "
    "works (as `GET /invites/{token}` says); 404 `invite_not_found` for one never issued or revoked.",
    body=JoinIn,
    response=SpaceOut,
    errors=(404, 410),
)
async def join_by_invite(request: Request) -> HTTPResponse:
    principal = await authenticate(request)
    data = json_body(request, JoinIn)
    return json(space_out(request, await hub(request).spaces.redeem(principal, data.token)))


class InvitePreviewOut(BaseModel):
    space_name: str
    role: Literal["viewer", "editor"]
    expires_at: datetime = Field(description="When the link stops working: the invite's expiry or the space's.")


@endpoint(
    bp,
    "GET",
    "/invites/{token}",
    summary="What an invite link offers, before signing in: the space's name, the role and until when. "
    "410 `invite_expired` or `invite_used_up` when it no longer works; nothing else about the space shows.",
    response=InvitePreviewOut,
    errors=(404, 410),
    auth=False,
)
async def preview_invite(request: Request, token: str) -> HTTPResponse:
    found = await hub(request).spaces.invite(token)
    return json(InvitePreviewOut(space_name=found.space_name, role=found.role, expires_at=found.expires_at))  # type: ignore[arg-type]


@endpoint(
    bp,
    "GET",
    "/spaces/{space_id}/members",
    summary="Members and their roles.",
    query=PageQuery,
    response=MemberPage,
    errors=(404, 410),
)
async def list_members(request: Request, space_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    q = query(request, PageQuery)
    page = await hub(request).spaces.members(principal, space_id, q.cursor, q.limit)
    return json(MemberPage.model_validate(page))


@endpoint(
    bp,
    "PATCH",
    "/spaces/{space_id}/members/{user_id}",
    summary="Change a member's role (owner).",
    body=RoleIn,
    status=204,
    content="empty",
    errors=(403, 404, 409, 410),
)
async def set_role(request: Request, space_id: str, user_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    data = json_body(request, RoleIn)
    await hub(request).spaces.set_role(principal, space_id, _uuid(user_id), Role(data.role))
    return empty()


@endpoint(
    bp,
    "DELETE",
    "/spaces/{space_id}/members/{user_id}",
    summary="Remove a member (owner), or leave (yourself).",
    status=204,
    content="empty",
    errors=(403, 404, 409, 410),
)
async def remove_member(request: Request, space_id: str, user_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    await hub(request).spaces.remove_member(principal, space_id, _uuid(user_id))
    return empty()


@endpoint(
    bp,
    "POST",
    "/spaces/{space_id}/leave",
    summary="Leave a space.",
    status=204,
    content="empty",
    errors=(404, 409, 410),
)
async def leave(request: Request, space_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    await hub(request).spaces.remove_member(principal, space_id, principal.user_id)
    return empty()


@endpoint(
    bp,
    "POST",
    "/spaces/{space_id}/invites",
    summary="Create an invite link (owner).",
    body=InviteIn,
    response=CreatedInviteOut,
    status=201,
    errors=(403, 404, 410),
)
async def create_invite(request: Request, space_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    data = json_body(request, InviteIn)
    spaces = hub(request).spaces
    created = await spaces.create_invite(
        principal, space_id, role=Role(data.role), max_uses=data.max_uses, expires_in=data.expires_in
    )
    out = CreatedInviteOut(
        **invite_out(created.invite).model_dump(), token=created.token, link=spaces.invite_link(created.token)
    )
    return json(out, status=201, headers={"Cache-Control": "no-store"})


@endpoint(
    bp,
    "GET",
    "/spaces/{space_id}/invites",
    summary="Open invites (owner).",
    response=InviteList,
    errors=(403, 404, 410),
)
async def list_invites(request: Request, space_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    invites = await hub(request).spaces.invites(principal, space_id)
    return json(InviteList(items=[invite_out(i) for i in invites]))


@endpoint(
    bp,
    "DELETE",
    "/spaces/{space_id}/invites/{invite_id}",
    summary="Revoke an invite (owner).",
    status=204,
    content="empty",
    errors=(403, 404, 410),
)
async def revoke_invite(request: Request, space_id: str, invite_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    await hub(request).spaces.revoke_invite(principal, space_id, invite_id)
    return empty()


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise MemberNotFound("No such member.") from None
