"""PostgreSQL repository of moderation (`hub.ports.moderation.ModerationRepo`).

Each action and its `moderation_audit` entry commit together: there is no moderation without its
history, and no history of what did not happen. The table refuses UPDATE, DELETE and TRUNCATE itself
(migration 0015), so the history cannot be rewritten by this code either.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from hub.ports.moderation import (
    TAKEDOWN_ACTIONS,
    AccountRole,
    Actor,
    AuditAction,
    AuditFilter,
    AuditRecord,
    NewReport,
    ReportRecord,
    ReportStatus,
    Resolution,
    Staff,
    Target,
    TargetType,
)
from hub.ports.social import Window
from storage.postgres.db import PostgresDatabase
from storage.postgres.posts import post_visible
from storage.postgres.social import account_suspended, blocked_between, keyset_condition

_REPORT_COLUMNS = """r.id::text AS id, r.reporter_id::text AS reporter_id, r.target_type, r.target_id,
    r.target_owner_id::text AS target_owner_id, r.category, r.comment, r.status, r.assignee_id::text AS assignee_id,
    r.resolution_action, r.resolution_note, r.created_at, r.resolved_at,
    CASE r.target_type
        WHEN 'post' THEN (SELECT left(p.text, 280) FROM posts p WHERE p.id = r.target_id::uuid)
        WHEN 'comment' THEN (SELECT left(c.text, 280) FROM comments c WHERE c.id = r.target_id::uuid)
        WHEN 'user' THEN (SELECT '@' || u.username || ' (' || u.display_name || ')' FROM users u
                          WHERE u.id = r.target_id::uuid)
        WHEN 'space' THEN (SELECT s.name FROM spaces s WHERE s.id = r.target_id)
    END AS target_preview,
    coalesce(CASE r.target_type
        WHEN 'post' THEN (SELECT p.removed_at IS NOT NULL FROM posts p WHERE p.id = r.target_id::uuid)
        WHEN 'comment' THEN (SELECT c.removed_at IS NOT NULL FROM comments c WHERE c.id = r.target_id::uuid)
        WHEN 'user' THEN (SELECT u.suspended_at IS NOT NULL AND (u.suspended_until IS NULL OR u.suspended_until > now())
                          FROM users u WHERE u.id = r.target_id::uuid)
        WHEN 'space' THEN (SELECT s.removed_at IS NOT NULL FROM spaces s WHERE s.id = r.target_id)
    END, false) AS target_removed"""

_AUDIT_COLUMNS = """a.id::text AS id, a.at, a.actor_id::text AS actor_id, a.actor, a.action, a.target_type,
    a.target_id, a.reason, a.details"""

# The table and key column of each kind of content a takedown applies to.
_CONTENT = {TargetType.POST: "posts", TargetType.COMMENT: "comments", TargetType.SPACE: "spaces"}


def _report(row: Any) -> ReportRecord | None:
    return None if row is None else ReportRecord(**dict(row))


def _audit_record(row: Any) -> AuditRecord:
    return AuditRecord(**dict(row))


def _count(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])


async def _audit(
    conn: asyncpg.Connection,
    actor: Actor,
    action: AuditAction,
    target_type: TargetType,
    target_id: str,
    reason: str = "",
    details: dict[str, Any] | None = None,
) -> str:
    return str(
        await conn.fetchval(
            """INSERT INTO moderation_audit (actor_id, actor, action, target_type, target_id, reason, details)
               VALUES ($1::uuid, $2, $3, $4, $5, $6, $7::jsonb) RETURNING id::text""",
            actor.id,
            actor.name,
            action.value,
            target_type.value,
            target_id,
            reason,
            details or {},  # the pool's jsonb codec encodes it
        )
    )


def _target_sql(target_type: TargetType, viewer: str | None) -> str:
    """SELECT of (owner) for the target `$1`, as `viewer` (an SQL expression) may see it, or as it is."""
    if target_type is TargetType.USER:
        seen = f"AND NOT {account_suspended('u.id')} AND NOT {blocked_between(viewer, 'u.id')}" if viewer else ""
        return f"SELECT u.id::text FROM users u WHERE u.id = $1::uuid AND u.username IS NOT NULL {seen}"
    if target_type is TargetType.POST:
        seen = f"AND {post_visible(viewer)}" if viewer else ""
        return f"SELECT p.author_id::text FROM posts p WHERE p.id = $1::uuid {seen}"
    if target_type is TargetType.COMMENT:
        seen = (
            f"AND {post_visible(viewer)} AND NOT {blocked_between(viewer, 'c.author_id')} "
            f"AND (c.author_id = {viewer} OR c.removed_at IS NULL)"
            if viewer
            else ""
        )
        return f"""SELECT c.author_id::text FROM comments c JOIN posts p ON p.id = c.post_id
                   WHERE c.id = $1::uuid {seen}"""
    seen = (
        f"""AND s.removed_at IS NULL AND s.expires_at > now() AND (s.visibility = 'link' OR EXISTS (
               SELECT 1 FROM space_members m WHERE m.space_id = s.id AND m.user_id = {viewer}))"""
        if viewer
        else ""
    )
    return f"SELECT s.owner_id::text FROM spaces s WHERE s.id = $1 {seen}"


class PostgresModerationRepo:
    """Implements `hub.ports.moderation.ModerationRepo`."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    # --- roles ------------------------------------------------------------------------------

    async def staff(self, user_id: str) -> Staff | None:
        row = await self._db.fetchrow(
            "SELECT id::text AS id, username, role FROM users WHERE id = $1::uuid AND username IS NOT NULL", user_id
        )
        return None if row is None else Staff(row["id"], row["username"], AccountRole(row["role"]))

    async def by_handle(self, handle: str) -> Staff | None:
        row = await self._db.fetchrow(
            "SELECT id::text AS id, username, role FROM users WHERE lower(username) = lower($1)", handle
        )
        return None if row is None else Staff(row["id"], row["username"], AccountRole(row["role"]))

    async def set_role(self, actor: Actor, user_id: str, role: AccountRole, action: AuditAction) -> bool:
        async with self._db.transaction() as conn:
            before = await conn.fetchval(
                "SELECT role FROM users WHERE id = $1::uuid AND username IS NOT NULL FOR NO KEY UPDATE", user_id
            )
            if before is None:
                return False
            await conn.execute("UPDATE users SET role = $2 WHERE id = $1::uuid", user_id, role.value)
            await _audit(conn, actor, action, TargetType.USER, user_id, details={"from": before, "to": role.value})
            return True

    async def moderators(self) -> list[str]:
        rows = await self._db.fetch(
            f"SELECT id::text AS id FROM users u WHERE role <> 'user' AND NOT {account_suspended('u.id')} ORDER BY id"
        )
        return [r["id"] for r in rows]

    # --- targets and reports ----------------------------------------------------------------

    async def target(self, target_type: TargetType, target_id: str, viewer: str) -> Target | None:
        owner = await self._db.fetchrow(_target_sql(target_type, "$2::uuid"), target_id, viewer)
        return None if owner is None else Target(target_type, target_id, owner[0])

    async def any_target(self, target_type: TargetType, target_id: str) -> Target | None:
        owner = await self._db.fetchrow(_target_sql(target_type, None), target_id)
        return None if owner is None else Target(target_type, target_id, owner[0])

    async def report(self, new: NewReport) -> tuple[ReportRecord, bool]:
        async with self._db.transaction() as conn:
            made = await conn.fetchval(
                """INSERT INTO reports (reporter_id, target_type, target_id, target_owner_id, category, comment)
                   VALUES ($1::uuid, $2, $3, $4::uuid, $5, $6)
                   ON CONFLICT (reporter_id, target_type, target_id) DO NOTHING
                   RETURNING id""",
                new.reporter_id,
                new.target_type.value,
                new.target_id,
                new.target_owner_id,
                new.category.value,
                new.comment,
            )
            if made is not None:
                report = _report(await conn.fetchrow(f"SELECT {_REPORT_COLUMNS} FROM reports r WHERE r.id = $1", made))
                assert report is not None
                return report, True
            first = _report(
                await conn.fetchrow(
                    f"""SELECT {_REPORT_COLUMNS} FROM reports r
                        WHERE r.reporter_id = $1::uuid AND r.target_type = $2 AND r.target_id = $3""",
                    new.reporter_id,
                    new.target_type.value,
                    new.target_id,
                )
            )
            assert first is not None
            return first, False

    async def get_report(self, report_id: str) -> ReportRecord | None:
        return _report(
            await self._db.fetchrow(f"SELECT {_REPORT_COLUMNS} FROM reports r WHERE r.id = $1::uuid", report_id)
        )

    async def reports(self, status: ReportStatus | None, window: Window) -> list[ReportRecord]:
        where, order, args = keyset_condition(window, "r.created_at", "r.id", 2)
        rows = await self._db.fetch(
            f"""SELECT {_REPORT_COLUMNS} FROM reports r
                WHERE ($1::text IS NULL OR r.status = $1) {where} {order} LIMIT ${2 + len(args)}""",
            status.value if status else None,
            *args,
            window.limit,
        )
        return [r for r in map(_report, rows) if r is not None]

    async def _report_change(
        self, actor: Actor, report_id: str, action: AuditAction, sql: str, reason: str, *args: Any
    ) -> ReportRecord | None:
        async with self._db.transaction() as conn:
            changed = await conn.fetchval(
                f"UPDATE reports r SET {sql} WHERE r.id = $1::uuid RETURNING r.id", report_id, *args
            )
            report = (
                _report(await conn.fetchrow(f"SELECT {_REPORT_COLUMNS} FROM reports r WHERE r.id = $1", changed))
                if changed is not None
                else None
            )
            if report is not None:
                details = {"resolution": report.resolution_action} if action is AuditAction.REPORT_RESOLVED else {}
                await _audit(conn, actor, action, TargetType(report.target_type), report.target_id, reason, details)
            return report

    async def assign(self, actor: Actor, report_id: str, assignee: str) -> ReportRecord | None:
        return await self._report_change(
            actor, report_id, AuditAction.REPORT_ASSIGNED, "assignee_id = $2::uuid", "", assignee
        )

    async def resolve(self, actor: Actor, report_id: str, resolution: Resolution, note: str) -> ReportRecord | None:
        return await self._report_change(
            actor,
            report_id,
            AuditAction.REPORT_RESOLVED,
            "status = 'resolved', resolved_at = now(), resolution_action = $2, resolution_note = $3",
            note,
            resolution.value,
            note,
        )

    async def reopen(self, actor: Actor, report_id: str, note: str) -> ReportRecord | None:
        return await self._report_change(
            actor,
            report_id,
            AuditAction.REPORT_REOPENED,
            "status = 'open', resolved_at = NULL, resolution_action = NULL, resolution_note = NULL",
            note,
        )

    # --- accounts ---------------------------------------------------------------------------

    async def _account_change(
        self,
        actor: Actor,
        user_id: str,
        action: AuditAction,
        sql: str,
        reason: str,
        *args: Any,
        details: dict[str, Any] | None = None,
    ) -> str | None:
        async with self._db.transaction() as conn:
            done = await conn.fetchval(
                f"UPDATE users SET {sql} WHERE id = $1::uuid AND username IS NOT NULL RETURNING true", user_id, *args
            )
            if not done:
                return None
            if action is AuditAction.USER_SUSPENDED:
                await conn.execute(
                    "UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1::uuid AND revoked_at IS NULL",
                    user_id,
                )
            return await _audit(conn, actor, action, TargetType.USER, user_id, reason, details)

    async def flag(self, actor: Actor, user_id: str, reason: str) -> bool:
        done = await self._account_change(
            actor, user_id, AuditAction.USER_FLAGGED, "flagged_at = coalesce(flagged_at, now())", reason
        )
        return done is not None

    async def warn(self, actor: Actor, user_id: str, reason: str) -> str | None:
        return await self._account_change(actor, user_id, AuditAction.USER_WARNED, "role = role", reason)

    async def suspend(self, actor: Actor, user_id: str, reason: str, until: datetime | None) -> bool:
        done = await self._account_change(
            actor,
            user_id,
            AuditAction.USER_SUSPENDED,
            # Every token issued so far stops working now (as `logout_all` does), on every instance.
            "suspended_at = now(), suspended_until = $3, suspension_reason = $2, tokens_not_before = now()",
            reason,
            reason,
            until,
            details={"until": until.isoformat() if until else None},
        )
        return done is not None

    async def unsuspend(self, actor: Actor, user_id: str, reason: str) -> bool:
        done = await self._account_change(
            actor,
            user_id,
            AuditAction.USER_UNSUSPENDED,
            "suspended_at = NULL, suspended_until = NULL, suspension_reason = NULL",
            reason,
        )
        return done is not None

    # --- content ----------------------------------------------------------------------------

    async def _content_change(self, actor: Actor, target: Target, reason: str, *, removed: bool) -> bool:
        table = _CONTENT[target.type]
        key = "$1" if target.type is TargetType.SPACE else "$1::uuid"
        taken, restored = TAKEDOWN_ACTIONS[target.type]
        async with self._db.transaction() as conn:
            if removed:
                done = await conn.fetchval(
                    f"""UPDATE {table} SET removed_at = coalesce(removed_at, now()), removed_reason = $2
                        WHERE id = {key} RETURNING true""",
                    target.id,
                    reason,
                )
            else:
                done = await conn.fetchval(
                    f"UPDATE {table} SET removed_at = NULL, removed_reason = NULL WHERE id = {key} RETURNING true",
                    target.id,
                )
            if not done:
                return False
            await _audit(conn, actor, taken if removed else restored, target.type, target.id, reason)
            return True

    async def take_down(self, actor: Actor, target: Target, reason: str) -> bool:
        return await self._content_change(actor, target, reason, removed=True)

    async def restore(self, actor: Actor, target: Target, reason: str) -> bool:
        return await self._content_change(actor, target, reason, removed=False)

    # --- history ----------------------------------------------------------------------------

    async def audit(self, window: Window, filters: AuditFilter) -> list[AuditRecord]:
        where, order, args = keyset_condition(window, "a.at", "a.id", 4)
        rows = await self._db.fetch(
            f"""SELECT {_AUDIT_COLUMNS} FROM moderation_audit a
                WHERE ($1::uuid IS NULL OR a.actor_id = $1::uuid) AND ($2::text IS NULL OR a.target_id = $2)
                  AND ($3::text IS NULL OR a.action = $3) {where}
                {order} LIMIT ${4 + len(args)}""",
            filters.actor_id,
            filters.target_id,
            filters.action,
            *args,
            window.limit,
        )
        return [_audit_record(r) for r in rows]
