"""Notifications: /notifications…"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from sanic import Blueprint, HTTPResponse, Request

from hub.errors import NulByte
from hub.ports.notifications import NotificationFilter, NotificationType
from hub.services.notifications import NotificationService, notification_view, parse_types
from rest.auth import authenticate
from rest.context import hub
from rest.jsonutil import json
from rest.openapi import endpoint
from rest.pagination import LINK_HEADER, paged_json
from rest.routes.social import page_request
from rest.schemas import TwoWayPageQuery

bp = Blueprint("notifications")

_TYPES = ", ".join(t.value for t in NotificationType)


class NotificationQuery(TwoWayPageQuery):
    types: str | None = Field(
        None,
        alias="types[]",
        description=f"Only these types (repeat the parameter, or separate with commas): {_TYPES}.",
    )
    exclude_types: str | None = Field(None, alias="exclude_types[]", description="Leave these types out.")


class AccountRefOut(BaseModel):
    id: str
    handle: str
    display_name: str


class NotificationOut(BaseModel):
    """The same object the live `notification` event carries (`hub.services.notifications.notification_view`)."""

    id: str
    type: NotificationType
    group_key: str = Field(description="What the notification groups: the likes of one post in a day, say.")
    count: int = Field(description="How many distinct accounts the group has.")
    accounts: list[AccountRefOut] = Field(description="The latest few of them, newest first.")
    post_id: str | None
    comment_id: str | None
    note: str | None = Field(description="A moderation warning's words.")
    created_at: datetime
    updated_at: datetime = Field(description="The group's latest activity; the list's order.")
    read: bool


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    next_cursor: str | None
    prev_cursor: str


class UnreadCountOut(BaseModel):
    unread_count: int


def notifications(request: Request) -> NotificationService:
    service: NotificationService = hub(request).notifications
    return service


def _listed(request: Request, name: str) -> list[str]:
    """Every value of `name[]` and `name` (repeated or comma-separated)."""
    values = [*request.args.getlist(f"{name}[]", []), *request.args.getlist(name, [])]
    if any("\x00" in v for v in values):
        raise NulByte("NUL characters are not allowed.")
    return values


@endpoint(
    bp,
    "GET",
    "/notifications",
    summary="My notifications, grouped, newest activity first; `types[]` and `exclude_types[]` filter.",
    query=NotificationQuery,
    response=NotificationPage,
    errors=(403, 422),
    headers=LINK_HEADER,
)
async def list_notifications(request: Request) -> HTTPResponse:
    principal = await authenticate(request)
    filters = NotificationFilter(
        types=parse_types(_listed(request, "types"), "types"),
        exclude_types=parse_types(_listed(request, "exclude_types"), "exclude_types"),
    )
    page = await notifications(request).page(principal, page_request(request), filters)
    body = {
        "items": [notification_view(n) for n in page.items],
        "next_cursor": page.next_cursor,
        "prev_cursor": page.prev_cursor,
    }
    return paged_json(request, body, page)


@endpoint(
    bp,
    "GET",
    "/notifications/unread_count",
    summary="How many of my notifications are unread.",
    response=UnreadCountOut,
    errors=(403,),
)
async def unread_count(request: Request) -> HTTPResponse:
    principal = await authenticate(request)
    return json(UnreadCountOut(unread_count=await notifications(request).unread_count(principal)))


@endpoint(
    bp,
    "POST",
    "/notifications/read-all",
    summary="Mark all my notifications read.",
    response=UnreadCountOut,
    errors=(403,),
)
async def read_all(request: Request) -> HTTPResponse:
    principal = await authenticate(request)
    return json(UnreadCountOut(unread_count=await notifications(request).read_all(principal)))


@endpoint(
    bp,
    "POST",
    "/notifications/{notification_id}/read",
    summary="Mark one notification read; idempotent.",
    response=UnreadCountOut,
    errors=(403, 404),
)
async def read_one(request: Request, notification_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    return json(UnreadCountOut(unread_count=await notifications(request).read(principal, notification_id)))
