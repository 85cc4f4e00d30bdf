"""Moderation: account roles, reports, actions on accounts and content, and the audit log.

Roles are read from the database on every moderation request, so a grant or a revocation applies at
once, to tokens already issued too. Every action commits with its audit entry (`ModerationRepo`) and
then takes effect everywhere: a taken-down post leaves the cached feeds, a suspended account's tokens
stop working and its sockets are closed on every instance (the `user_revoked` event logout-everywhere
uses), a taken-down space's sockets are kicked. Read paths hide taken-down content and suspended
accounts in SQL (`storage.postgres.posts.post_visible`, `storage.postgres.social.account_suspended`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from hub.errors import (
    AccountRequired,
    AccountSuspended,
    AdminRequired,
    CommentNotFound,
    ModeratorRequired,
    NotFound,
    PostNotFound,
    RateLimited,
    ReportNotFound,
    SpaceNotFound,
    UserNotFound,
    ValidationFailed,
)
from hub.events import BusEvent, space_topic, user_topic
from hub.logs import log_event
from hub.metrics import Metrics
from hub.models import Principal
from hub.pagination import TwoWayPage, two_way_page
from hub.ports.infra import Bus, RateLimiter
from hub.ports.moderation import (
    CLI_ACTOR,
    AccountRole,
    Actor,
    AuditAction,
    AuditFilter,
    AuditRecord,
    ModerationRepo,
    NewReport,
    ReportCategory,
    ReportRecord,
    ReportStatus,
    Resolution,
    Staff,
    Target,
    TargetType,
)
from hub.ports.notifications import Activity, ActivityKind
from hub.services.social import ORIGIN_ID, PageRequest, SocialService, _uuid

log = logging.getLogger(__name__)

REASON_MAX_CHARS = 1_000
REPORT_COMMENT_MAX_CHARS = 1_000

_MISSING: dict[TargetType, type[NotFound]] = {
    TargetType.USER: UserNotFound,
    TargetType.POST: PostNotFound,
    TargetType.COMMENT: CommentNotFound,
    TargetType.SPACE: SpaceNotFound,
}


def clean_reason(value: str, field: str = "reason", *, required: bool = True) -> str:
    text = value.strip()
    if required and not text:
        raise ValidationFailed({field: "give a reason"})
    if len(text) > REASON_MAX_CHARS:
        raise ValidationFailed({field: f"at most {REASON_MAX_CHARS} characters"})
    return text


async def set_role_by_handle(repo: ModerationRepo, handle: str, role: AccountRole) -> Staff:
    """`hub admin grant|revoke`: the command line acts as itself in the audit log."""
    staff = await repo.by_handle(handle)
    action = AuditAction.ROLE_REVOKED if role is AccountRole.USER else AuditAction.ROLE_GRANTED
    if staff is None or not await repo.set_role(CLI_ACTOR, staff.id, role, action):
        raise UserNotFound()
    log_event("role_changed", user_id=staff.id, role=role.value, actor=CLI_ACTOR.name)
    return Staff(staff.id, staff.handle, role)


class ModerationService:
    """Roles, reports and moderation actions of one hub."""

    def __init__(
        self,
        repo: ModerationRepo,
        bus: Bus,
        limiter: RateLimiter,
        metrics: Metrics,
        *,
        report_rate_limit: str,
        notify: Callable[[Activity], Awaitable[None]],
        post_removed: Callable[[str, str], None],
        post_restored: Callable[[str, str], Awaitable[None]],
    ) -> None:
        self.repo = repo
        self.bus = bus
        self.limiter = limiter
        self.metrics = metrics
        self.report_rate_limit = report_rate_limit
        self._notify = notify
        # The feed caches: a taken-down post leaves every cached feed; a restored one comes back.
        self._post_removed = post_removed
        self._post_restored = post_restored

    # --- who may --------------------------------------------------------------------------

    async def _staff(self, principal: Principal, needed: AccountRole = AccountRole.MODERATOR) -> Actor:
        staff = None if principal.is_guest else await self.repo.staff(principal.user_id)
        if staff is None or not staff.role.allows(needed):
            raise AdminRequired() if needed is AccountRole.ADMIN else ModeratorRequired()
        return Actor(staff.id, staff.handle)

    async def role(self, principal: Principal) -> AccountRole:
        staff = None if principal.is_guest else await self.repo.staff(principal.user_id)
        return staff.role if staff else AccountRole.USER

    def _done(self, action: AuditAction) -> None:
        self.metrics.moderation_actions.labels(action=action.value).inc()

    # --- roles ----------------------------------------------------------------------------

    async def set_role(self, principal: Principal, user_id: str, role: AccountRole) -> AccountRole:
        actor = await self._staff(principal, AccountRole.ADMIN)
        return await self._set_role(actor, user_id, role)

    async def _set_role(self, actor: Actor, user_id: str, role: AccountRole) -> AccountRole:
        ident = _uuid(user_id)
        action = AuditAction.ROLE_REVOKED if role is AccountRole.USER else AuditAction.ROLE_GRANTED
        if ident is None or not await self.repo.set_role(actor, ident, role, action):
            raise UserNotFound()
        self._done(action)
        log_event("role_changed", user_id=ident, role=role.value, actor=actor.name)
        return role

    # --- reports --------------------------------------------------------------------------

    async def _visible_target(self, principal: Principal, target_type: TargetType, target_id: str) -> Target:
        ident = target_id if target_type is TargetType.SPACE else _uuid(target_id)
        found = None
        if ident and len(ident) <= 64:
            found = await self.repo.target(target_type, ident, principal.user_id)
        if found is None:
            raise _MISSING[target_type]()
        return found

    async def report(
        self, principal: Principal, target_type: TargetType, target_id: str, category: ReportCategory, comment: str
    ) -> tuple[ReportRecord, bool]:
        """The new report and True; reporting the same target again returns the first report and False."""
        if principal.is_guest:
            raise AccountRequired()
        text = clean_reason(comment, "comment", required=False)
        target = await self._visible_target(principal, target_type, target_id)
        retry = await self.limiter.hit(self.report_rate_limit, "reports", principal.user_id)
        if retry:
            raise RateLimited(retry)
        report, created = await self.repo.report(
            NewReport(principal.user_id, target.type, target.id, target.owner_id, category, text)
        )
        if created:
            log_event("report_created", report_id=report.id, target_type=target.type.value, category=category.value)
            self.metrics.reports_created.labels(category=category.value).inc()
            await self._notify(Activity(ActivityKind.REPORTED, principal.user_id, report=report.id, key=report.id))
        return report, created

    async def reports(
        self, principal: Principal, status: ReportStatus | None, page: PageRequest
    ) -> TwoWayPage[ReportRecord]:
        await self._staff(principal)
        window, cursor, since = SocialService._window(page)
        rows = await self.repo.reports(status, window)
        return two_way_page(rows, page.limit, lambda r: r.position, cursor=cursor, since=since, origin_id=ORIGIN_ID)

    async def _report(self, report_id: str) -> ReportRecord:
        ident = _uuid(report_id)
        found = await self.repo.get_report(ident) if ident else None
        if found is None:
            raise ReportNotFound()
        return found

    async def get_report(self, principal: Principal, report_id: str) -> ReportRecord:
        await self._staff(principal)
        return await self._report(report_id)

    async def assign(self, principal: Principal, report_id: str, assignee: str | None) -> ReportRecord:
        actor = await self._staff(principal)
        report = await self._report(report_id)
        to = actor.id
        if assignee is not None:
            staff = await self.repo.staff(_uuid(assignee) or ORIGIN_ID)
            if staff is None or not staff.role.allows(AccountRole.MODERATOR):
                raise ValidationFailed({"assignee": "not a moderator"})
            to = staff.id
        assert to is not None
        done = await self.repo.assign(actor, report.id, to)
        if done is None:
            raise ReportNotFound()
        self._done(AuditAction.REPORT_ASSIGNED)
        return done

    async def resolve(self, principal: Principal, report_id: str, resolution: Resolution, note: str) -> ReportRecord:
        """Resolve with what it does to the target: dismiss, warn its owner, take it down, suspend its owner."""
        actor = await self._staff(principal)
        report = await self._report(report_id)
        text = clean_reason(note, "note", required=resolution is not Resolution.DISMISS)
        kind = TargetType(report.target_type)
        if resolution is Resolution.TAKEDOWN:
            if kind is TargetType.USER:
                raise ValidationFailed({"action": "an account is suspended, not taken down"})
            await self._take_down(actor, kind, report.target_id, text)
        elif resolution in (Resolution.WARN, Resolution.SUSPEND):
            if report.target_owner_id is None:
                raise ValidationFailed({"action": "the target has no owner any more"})
            if resolution is Resolution.WARN:
                await self._warn(actor, report.target_owner_id, text)
            else:
                await self._suspend(actor, report.target_owner_id, text, None)
        done = await self.repo.resolve(actor, report.id, resolution, text)
        if done is None:
            raise ReportNotFound()
        self._done(AuditAction.REPORT_RESOLVED)
        return done

    async def reopen(self, principal: Principal, report_id: str, note: str) -> ReportRecord:
        actor = await self._staff(principal)
        report = await self._report(report_id)
        done = await self.repo.reopen(actor, report.id, clean_reason(note, "note", required=False))
        if done is None:
            raise ReportNotFound()
        self._done(AuditAction.REPORT_REOPENED)
        return done

    # --- accounts -------------------------------------------------------------------------

    async def _account(self, actor: Actor, user_id: str) -> str:
        """A registered account the actor may act on: moderators act on users, only admins on staff."""
        ident = _uuid(user_id)
        staff = await self.repo.staff(ident) if ident else None
        if staff is None:
            raise UserNotFound()
        if staff.role is not AccountRole.USER:
            me = await self.repo.staff(actor.id) if actor.id else None
            if me is None or me.role is not AccountRole.ADMIN:
                raise AdminRequired()
        return staff.id

    async def flag(self, principal: Principal, user_id: str, reason: str) -> None:
        actor = await self._staff(principal)
        ident = await self._account(actor, user_id)
        await self.repo.flag(actor, ident, clean_reason(reason))
        self._done(AuditAction.USER_FLAGGED)

    async def warn(self, principal: Principal, user_id: str, reason: str) -> None:
        actor = await self._staff(principal)
        await self._warn(actor, await self._account(actor, user_id), clean_reason(reason))

    async def _warn(self, actor: Actor, user_id: str, reason: str) -> None:
        entry = await self.repo.warn(actor, user_id, reason)
        if entry is None:
            raise UserNotFound()
        self._done(AuditAction.USER_WARNED)
        assert actor.id is not None
        await self._notify(Activity(ActivityKind.WARNED, actor.id, subject=user_id, note=reason, key=entry))

    async def suspend(self, principal: Principal, user_id: str, reason: str, until: datetime | None) -> None:
        actor = await self._staff(principal)
        if until is not None and until <= datetime.now(UTC):
            raise ValidationFailed({"until": "must be in the future"})
        if _uuid(user_id) == actor.id:
            raise ValidationFailed({"user": "moderators do not suspend themselves"})
        await self._suspend(actor, await self._account(actor, user_id), clean_reason(reason), until)

    async def _suspend(self, actor: Actor, user_id: str, reason: str, until: datetime | None) -> None:
        if actor.id == user_id:
            raise ValidationFailed({"user": "moderators do not suspend themselves"})
        if not await self.repo.suspend(actor, user_id, reason, until):
            raise UserNotFound()
        self._done(AuditAction.USER_SUSPENDED)
        # The log event is named as the code the account's sign-ins now get.
        log_event(AccountSuspended.code, user_id=user_id, until=until.isoformat() if until else None)
        # Committed: every instance now evicts the account's cached sessions and closes its sockets.
        await self.bus.publish(user_topic(user_id), {"type": BusEvent.USER_REVOKED, "user_id": user_id})

    async def unsuspend(self, principal: Principal, user_id: str, reason: str) -> None:
        actor = await self._staff(principal)
        ident = await self._account(actor, user_id)
        if not await self.repo.unsuspend(actor, ident, clean_reason(reason, required=False)):
            raise UserNotFound()
        self._done(AuditAction.USER_UNSUSPENDED)

    # --- content --------------------------------------------------------------------------

    async def take_down(self, principal: Principal, kind: TargetType, target_id: str, reason: str) -> None:
        actor = await self._staff(principal)
        await self._take_down(actor, kind, target_id, clean_reason(reason))

    async def _any_target(self, kind: TargetType, target_id: str) -> Target:
        ident = target_id if kind is TargetType.SPACE else _uuid(target_id)
        found = await self.repo.any_target(kind, ident) if ident and len(ident) <= 64 else None
        if found is None:
            raise _MISSING[kind]()
        return found

    async def _take_down(self, actor: Actor, kind: TargetType, target_id: str, reason: str) -> None:
        target = await self._any_target(kind, target_id)
        if not await self.repo.take_down(actor, target, reason):
            raise _MISSING[kind]()
        self.metrics.moderation_actions.labels(action=f"{kind.value}_taken_down").inc()
        log_event("content_taken_down", target_type=kind.value, target_id=target.id)
        if kind is TargetType.POST and target.owner_id:
            self._post_removed(target.id, target.owner_id)
        elif kind is TargetType.SPACE:
            await self.bus.publish(space_topic(target.id), {"type": BusEvent.SPACE_TAKEN_DOWN, "space_id": target.id})

    async def restore(self, principal: Principal, kind: TargetType, target_id: str, reason: str) -> None:
        actor = await self._staff(principal)
        target = await self._any_target(kind, target_id)
        if not await self.repo.restore(actor, target, clean_reason(reason, required=False)):
            raise _MISSING[kind]()
        self.metrics.moderation_actions.labels(action=f"{kind.value}_restored").inc()
        if kind is TargetType.POST and target.owner_id:
            await self._post_restored(target.id, target.owner_id)

    # --- history --------------------------------------------------------------------------

    async def audit(self, principal: Principal, page: PageRequest, filters: AuditFilter) -> TwoWayPage[AuditRecord]:
        await self._staff(principal)
        if filters.actor_id is not None and _uuid(filters.actor_id) is None:
            raise ValidationFailed({"actor": "an account id"})
        window, cursor, since = SocialService._window(page)
        rows = await self.repo.audit(window, filters)
        return two_way_page(rows, page.limit, lambda a: a.position, cursor=cursor, since=since, origin_id=ORIGIN_ID)
