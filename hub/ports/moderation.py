"""Ports of moderation: account roles, reports, moderation actions and their append-only audit log."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from hub.ports.social import Position, Window


class AccountRole(StrEnum):
    """What an account may do beyond its own content; ranked user < moderator < admin."""

    USER = "user"
    MODERATOR = "moderator"
    ADMIN = "admin"

    def allows(self, needed: AccountRole) -> bool:
        order = (AccountRole.USER, AccountRole.MODERATOR, AccountRole.ADMIN)
        return order.index(self) >= order.index(needed)


class TargetType(StrEnum):
    USER = "user"
    POST = "post"
    COMMENT = "comment"
    SPACE = "space"


class ReportCategory(StrEnum):
    SPAM = "spam"
    ABUSE = "abuse"
    ILLEGAL = "illegal"
    OTHER = "other"


class ReportStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class Resolution(StrEnum):
    """What resolving a report does to its target: nothing, a warning to its owner, a takedown of the
    content, or a suspension of its owner."""

    DISMISS = "dismiss"
    WARN = "warn"
    TAKEDOWN = "takedown"
    SUSPEND = "suspend"


class AuditAction(StrEnum):
    """The `action` of an audit entry (a value of the API and of the stored history: never change one)."""

    ROLE_GRANTED = "role_granted"
    ROLE_REVOKED = "role_revoked"
    REPORT_ASSIGNED = "report_assigned"
    REPORT_RESOLVED = "report_resolved"
    REPORT_REOPENED = "report_reopened"
    USER_FLAGGED = "user_flagged"
    USER_WARNED = "user_warned"
    USER_SUSPENDED = "user_suspended"
    USER_UNSUSPENDED = "user_unsuspended"
    POST_TAKEN_DOWN = "post_taken_down"
    POST_RESTORED = "post_restored"
    COMMENT_TAKEN_DOWN = "comment_taken_down"
    COMMENT_RESTORED = "comment_restored"
    SPACE_TAKEN_DOWN = "space_taken_down"
    SPACE_RESTORED = "space_restored"


# The content a takedown applies to, and its audit actions (taken down, restored).
TAKEDOWN_ACTIONS: dict[TargetType, tuple[AuditAction, AuditAction]] = {
    TargetType.POST: (AuditAction.POST_TAKEN_DOWN, AuditAction.POST_RESTORED),
    TargetType.COMMENT: (AuditAction.COMMENT_TAKEN_DOWN, AuditAction.COMMENT_RESTORED),
    TargetType.SPACE: (AuditAction.SPACE_TAKEN_DOWN, AuditAction.SPACE_RESTORED),
}


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: an account (`id`, its handle) or the command line (`id` None)."""

    id: str | None
    name: str


CLI_ACTOR = Actor(None, "hub admin")


@dataclass(frozen=True, slots=True)
class Staff:
    id: str
    handle: str
    role: AccountRole


@dataclass(frozen=True, slots=True)
class NewReport:
    reporter_id: str
    target_type: TargetType
    target_id: str
    target_owner_id: str | None
    category: ReportCategory
    comment: str


@dataclass(frozen=True, slots=True)
class ReportRecord:
    id: str
    reporter_id: str
    target_type: str
    target_id: str
    target_owner_id: str | None
    category: str
    comment: str
    status: str
    assignee_id: str | None
    resolution_action: str | None
    resolution_note: str | None
    created_at: datetime
    resolved_at: datetime | None
    # What the target says now (a post's or comment's text, an account's handle, a space's name), and
    # whether it is taken down or suspended: moderators judge what others can no longer see.
    target_preview: str | None = None
    target_removed: bool = False

    @property
    def position(self) -> Position:
        return self.created_at, self.id


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: str
    at: datetime
    actor_id: str | None
    actor: str
    action: str
    target_type: str
    target_id: str
    reason: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def position(self) -> Position:
        return self.at, self.id


@dataclass(frozen=True, slots=True)
class AuditFilter:
    actor_id: str | None = None
    target_id: str | None = None
    action: str | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """Content or an account as a report or an action finds it: its owner, if it has one."""

    type: TargetType
    id: str
    owner_id: str | None


class ModerationRepo(Protocol):
    """Every write records its audit entry in the same transaction."""

    async def staff(self, user_id: str) -> Staff | None:
        """The account's handle and role; None for a guest or a missing account."""
        ...

    async def by_handle(self, handle: str) -> Staff | None: ...

    async def set_role(self, actor: Actor, user_id: str, role: AccountRole, action: AuditAction) -> bool:
        """False when there is no such registered account."""
        ...

    async def moderators(self) -> list[str]: ...

    async def target(self, target_type: TargetType, target_id: str, viewer: str) -> Target | None:
        """The target as `viewer` may see it (a report of what one cannot see is a 404); None if not."""
        ...

    async def any_target(self, target_type: TargetType, target_id: str) -> Target | None:
        """The target whatever its state (taken down, suspended): moderators act on all."""
        ...

    async def report(self, new: NewReport) -> tuple[ReportRecord, bool]:
        """The new report and True, or the reporter's earlier report of the same target and False."""
        ...

    async def get_report(self, report_id: str) -> ReportRecord | None: ...

    async def reports(self, status: ReportStatus | None, window: Window) -> list[ReportRecord]: ...

    async def assign(self, actor: Actor, report_id: str, assignee: str) -> ReportRecord | None: ...

    async def resolve(self, actor: Actor, report_id: str, resolution: Resolution, note: str) -> ReportRecord | None: ...

    async def reopen(self, actor: Actor, report_id: str, note: str) -> ReportRecord | None: ...

    async def flag(self, actor: Actor, user_id: str, reason: str) -> bool: ...

    async def warn(self, actor: Actor, user_id: str, reason: str) -> str | None:
        """The audit entry's id (it names the warning's notification), None for a missing account."""
        ...

    async def suspend(self, actor: Actor, user_id: str, reason: str, until: datetime | None) -> bool:
        """Suspend and revoke every token of the account, in one transaction."""
        ...

    async def unsuspend(self, actor: Actor, user_id: str, reason: str) -> bool: ...

    async def take_down(self, actor: Actor, target: Target, reason: str) -> bool: ...

    async def restore(self, actor: Actor, target: Target, reason: str) -> bool: ...

    async def audit(self, window: Window, filters: AuditFilter) -> list[AuditRecord]: ...
