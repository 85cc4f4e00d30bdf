"""Reports, moderation and roles: /reports, /moderation/…, /admin/…"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sanic import Blueprint, HTTPResponse, Request

from hub.ports.moderation import (
    AccountRole,
    AuditAction,
    AuditFilter,
    ReportCategory,
    ReportStatus,
    Resolution,
    TargetType,
)
from hub.services.moderation import REASON_MAX_CHARS, REPORT_COMMENT_MAX_CHARS, ModerationService
from rest.auth import authenticate
from rest.body import json_body, query
from rest.context import hub
from rest.jsonutil import json
from rest.openapi import endpoint
from rest.pagination import LINK_HEADER, paged_json
from rest.routes.social import page_request
from rest.schemas import OutModel, TwoWayPageQuery

bp = Blueprint("moderation")


class ReportIn(BaseModel):
    target_type: TargetType
    target_id: str = Field(min_length=1, max_length=64)
    category: ReportCategory
    comment: str = Field("", max_length=REPORT_COMMENT_MAX_CHARS)


class ReportOut(OutModel):
    id: str
    target_type: TargetType
    target_id: str
    category: ReportCategory
    comment: str
    status: ReportStatus
    created_at: datetime


class ModeratorReportOut(ReportOut):
    """A report as moderators see it: who filed it, who owns the target, who handles it."""

    reporter_id: str
    target_owner_id: str | None
    assignee_id: str | None
    resolution_action: Resolution | None
    resolution_note: str | None
    resolved_at: datetime | None
    target_preview: str | None = Field(description="The target's text, handle or name as it is now.")
    target_removed: bool = Field(description="The target is taken down (an account: suspended).")


class ReportPage(BaseModel):
    items: list[ModeratorReportOut]
    next_cursor: str | None
    prev_cursor: str


class ReportsQuery(TwoWayPageQuery):
    status: ReportStatus | None = None


class AssignIn(BaseModel):
    assignee: str | None = Field(default=None, max_length=64, description="A moderator's account id; me when left out.")


class ResolveIn(BaseModel):
    action: Resolution = Field(description="What happens to the target: nothing, a warning, a takedown, a suspension.")
    note: str = Field(default="", max_length=REASON_MAX_CHARS)


class NoteIn(BaseModel):
    note: str = Field(default="", max_length=REASON_MAX_CHARS)


class ReasonIn(BaseModel):
    reason: str = Field(min_length=1, max_length=REASON_MAX_CHARS)


class OptionalReasonIn(BaseModel):
    reason: str = Field(default="", max_length=REASON_MAX_CHARS)


class SuspendIn(ReasonIn):
    until: datetime | None = Field(None, description="When the suspension ends by itself; null: until lifted.")


class RoleIn(BaseModel):
    role: AccountRole


class RoleOut(BaseModel):
    id: str
    role: AccountRole


class AuditOut(OutModel):
    id: str
    at: datetime
    actor_id: str | None = Field(description="Null for the command line (`hub admin`).")
    actor: str
    action: AuditAction
    target_type: TargetType
    target_id: str
    reason: str
    details: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditOut]
    next_cursor: str | None
    prev_cursor: str


class AuditQuery(TwoWayPageQuery):
    actor: str | None = Field(None, max_length=64, description="An actor's account id.")
    target: str | None = Field(None, max_length=64, description="A target's id.")
    action: AuditAction | None = None


class DoneOut(BaseModel):
    ok: bool = True


def moderation(request: Request) -> ModerationService:
    service: ModerationService = hub(request).moderation
    return service


@endpoint(
    bp,
    "POST",
    "/reports",
    summary="Report an account, post, comment or space; reporting the same target again returns the first report.",
    body=ReportIn,
    response=ReportOut,
    status=201,
    errors=(403, 404, 422, 429),
)
async def create_report(request: Request) -> HTTPResponse:
    principal = await authenticate(request)
    data = json_body(request, ReportIn)
    report, created = await moderation(request).report(
        principal, data.target_type, data.target_id, data.category, data.comment
    )
    return json(ReportOut.model_validate(report), status=201 if created else 200)


_STAFF = (403, 404, 422)


@endpoint(
    bp,
    "GET",
    "/moderation/reports",
    summary="The report queue, newest first (moderators).",
    query=ReportsQuery,
    response=ReportPage,
    errors=(403, 422),
    headers=LINK_HEADER,
)
async def list_reports(request: Request) -> HTTPResponse:
    principal = await authenticate(request)
    q = query(request, ReportsQuery)
    page = await moderation(request).reports(principal, q.status, page_request(request))
    body = ReportPage(
        items=[ModeratorReportOut.model_validate(r) for r in page.items],
        next_cursor=page.next_cursor,
        prev_cursor=page.prev_cursor,
    )
    return paged_json(request, body, page)


@endpoint(
    bp,
    "GET",
    "/moderation/reports/{report_id}",
    summary="One report (moderators).",
    response=ModeratorReportOut,
    errors=_STAFF,
)
async def get_report(request: Request, report_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    return json(ModeratorReportOut.model_validate(await moderation(request).get_report(principal, report_id)))


@endpoint(
    bp,
    "POST",
    "/moderation/reports/{report_id}/assign",
    summary="Assign a report to a moderator (me by default).",
    body=AssignIn,
    response=ModeratorReportOut,
    errors=_STAFF,
)
async def assign_report(request: Request, report_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    data = json_body(request, AssignIn) if request.body else AssignIn()
    done = await moderation(request).assign(principal, report_id, data.assignee)
    return json(ModeratorReportOut.model_validate(done))


@endpoint(
    bp,
    "POST",
    "/moderation/reports/{report_id}/resolve",
    summary="Resolve a report: dismiss, warn the target's owner, take the target down or suspend its owner.",
    body=ResolveIn,
    response=ModeratorReportOut,
    errors=_STAFF,
)
async def resolve_report(request: Request, report_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    data = json_body(request, ResolveIn)
    done = await moderation(request).resolve(principal, report_id, data.action, data.note)
    return json(ModeratorReportOut.model_validate(done))


@endpoint(
    bp,
    "POST",
    "/moderation/reports/{report_id}/reopen",
    summary="Open a resolved report again.",
    body=NoteIn,
    response=ModeratorReportOut,
    errors=_STAFF,
)
async def reopen_report(request: Request, report_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    data = json_body(request, NoteIn) if request.body else NoteIn()
    return json(ModeratorReportOut.model_validate(await moderation(request).reopen(principal, report_id, data.note)))


@endpoint(
    bp,
    "POST",
    "/moderation/users/{user_id}/flag",
    summary="Flag an account for review.",
    body=ReasonIn,
    response=DoneOut,
    errors=_STAFF,
)
async def flag_user(request: Request, user_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    await moderation(request).flag(principal, user_id, json_body(request, ReasonIn).reason)
    return json(DoneOut())


@endpoint(
    bp,
    "POST",
    "/moderation/users/{user_id}/warn",
    summary="Warn an account: it gets a `moderation_warning` notification with the reason.",
    body=ReasonIn,
    response=DoneOut,
    errors=_STAFF,
)
async def warn_user(request: Request, user_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    await moderation(request).warn(principal, user_id, json_body(request, ReasonIn).reason)
    return json(DoneOut())


@endpoint(
    bp,
    "POST",
    "/moderation/users/{user_id}/suspend",
    summary="Suspend an account: its sessions end, its sockets close, its content is hidden, it cannot sign in.",
    body=SuspendIn,
    response=DoneOut,
    errors=_STAFF,
)
async def suspend_user(request: Request, user_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    data = json_body(request, SuspendIn)
    await moderation(request).suspend(principal, user_id, data.reason, data.until)
    return json(DoneOut())


@endpoint(
    bp,
    "POST",
    "/moderation/users/{user_id}/unsuspend",
    summary="Lift a suspension.",
    body=OptionalReasonIn,
    response=DoneOut,
    errors=_STAFF,
)
async def unsuspend_user(request: Request, user_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    data = json_body(request, OptionalReasonIn) if request.body else OptionalReasonIn()
    await moderation(request).unsuspend(principal, user_id, data.reason)
    return json(DoneOut())


def _content_routes(kind: TargetType, plural: str) -> None:
    """`/moderation/<plural>/{id}/takedown` and `/restore` for one kind of content."""

    async def take_down(request: Request, target_id: str) -> HTTPResponse:
        principal = await authenticate(request)
        await moderation(request).take_down(principal, kind, target_id, json_body(request, ReasonIn).reason)
        return json(DoneOut())

    async def restore(request: Request, target_id: str) -> HTTPResponse:
        principal = await authenticate(request)
        data = json_body(request, OptionalReasonIn) if request.body else OptionalReasonIn()
        await moderation(request).restore(principal, kind, target_id, data.reason)
        return json(DoneOut())

    take_down.__name__ = f"take_down_{kind.value}"
    restore.__name__ = f"restore_{kind.value}"
    endpoint(
        bp,
        "POST",
        f"/moderation/{plural}/{{target_id}}/takedown",
        summary=f"Take a {kind.value} down: hidden everywhere but from its author, who sees it marked removed.",
        body=ReasonIn,
        response=DoneOut,
        errors=_STAFF,
    )(take_down)
    endpoint(
        bp,
        "POST",
        f"/moderation/{plural}/{{target_id}}/restore",
        summary=f"Restore a taken-down {kind.value}.",
        body=OptionalReasonIn,
        response=DoneOut,
        errors=_STAFF,
    )(restore)


_content_routes(TargetType.POST, "posts")
_content_routes(TargetType.COMMENT, "comments")
_content_routes(TargetType.SPACE, "spaces")


@endpoint(
    bp,
    "GET",
    "/moderation/audit",
    summary="The audit log of moderation and role actions, newest first (moderators); append-only.",
    query=AuditQuery,
    response=AuditPage,
    errors=(403, 422),
    headers=LINK_HEADER,
)
async def audit_log(request: Request) -> HTTPResponse:
    principal = await authenticate(request)
    q = query(request, AuditQuery)
    filters = AuditFilter(actor_id=q.actor, target_id=q.target, action=q.action.value if q.action else None)
    page = await moderation(request).audit(principal, page_request(request), filters)
    body = AuditPage(
        items=[AuditOut.model_validate(a) for a in page.items],
        next_cursor=page.next_cursor,
        prev_cursor=page.prev_cursor,
    )
    return paged_json(request, body, page)


@endpoint(
    bp,
    "POST",
    "/admin/users/{user_id}/role",
    summary="Set an account's role: user, moderator or admin (admins); applies at once, to issued tokens too.",
    body=RoleIn,
    response=RoleOut,
    errors=_STAFF,
)
async def set_role(request: Request, user_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    role = await moderation(request).set_role(principal, user_id, json_body(request, RoleIn).role)
    return json(RoleOut(id=user_id, role=role))


@endpoint(bp, "GET", "/me/role", summary="My role: user, moderator or admin.", response=RoleOut)
async def my_role(request: Request) -> HTTPResponse:
    principal = await authenticate(request)
    return json(RoleOut(id=principal.user_id, role=await moderation(request).role(principal)))
