"""PostgreSQL repository of notifications (`hub.ports.notifications.NotificationRepo`).

The list applies the recipient's present view at read time: an account the recipient blocks, mutes or
is blocked by (or a suspended one) is left out of every group (a group left with nobody is left out),
and a notification about a post the recipient may no longer see, or about content a moderator took
down, is not shown. So a block hides what it should at once; `forget_actor` then removes the rows.
"""

from __future__ import annotations

from typing import Any

from hub.ports.notifications import (
    AccountRef,
    NewNotification,
    NotificationFilter,
    NotificationRecord,
    NotificationType,
)
from hub.ports.social import Window
from storage.postgres.db import PostgresDatabase
from storage.postgres.posts import post_visible
from storage.postgres.social import account_suspended, blocked_between, keyset_condition

# How many of a group's accounts a notification names (the newest first); `count` has them all.
ACCOUNTS_SHOWN = 3

# Notifications that name nobody (a moderator's warning does not say who sent it).
_ANONYMOUS = f"('{NotificationType.MODERATION_WARNING.value}')"


def _visible_actor(recipient: str) -> str:
    return (
        f"NOT {blocked_between(recipient, 'a.actor_id')} "
        f"AND NOT EXISTS (SELECT 1 FROM mutes m WHERE m.muter_id = {recipient} AND m.muted_id = a.actor_id) "
        f"AND NOT {account_suspended('a.actor_id')}"
    )


def _shown(recipient: str) -> str:
    """FROM … WHERE of the notifications `recipient` sees, with their visible actors (`v`)."""
    return f"""FROM notifications n
        CROSS JOIN LATERAL (
            SELECT count(*) AS count,
                   (array_agg(ARRAY[u.id::text, u.username, u.display_name] ORDER BY a.created_at DESC, u.id))
                       [1:{ACCOUNTS_SHOWN}] AS accounts
            FROM notification_actors a JOIN users u ON u.id = a.actor_id
            WHERE a.notification_id = n.id AND {_visible_actor(recipient)}
        ) v
        LEFT JOIN posts p ON p.id = n.post_id
        LEFT JOIN comments c ON c.id = n.comment_id
        WHERE n.recipient_id = {recipient}
          AND (v.count > 0 OR n.type IN {_ANONYMOUS})
          AND (n.post_id IS NULL OR (p.removed_at IS NULL AND {post_visible(recipient)}))
          AND (n.comment_id IS NULL OR c.removed_at IS NULL)"""


_COLUMNS = """n.id::text AS id, n.type, n.group_key, n.post_id::text AS post_id, n.comment_id::text AS comment_id,
    n.note, n.created_at, n.updated_at, n.read_at IS NOT NULL AS read, v.count, v.accounts"""


def _record(row: Any) -> NotificationRecord:
    return NotificationRecord(
        id=row["id"],
        type=row["type"],
        group_key=row["group_key"],
        count=row["count"],
        accounts=[AccountRef(ident, handle, name) for ident, handle, name in row["accounts"] or ()],
        post_id=row["post_id"],
        comment_id=row["comment_id"],
        note=row["note"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        read=row["read"],
    )


class PostgresNotificationRepo:
    """Implements `hub.ports.notifications.NotificationRepo`."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def silenced(self, recipient: str, actor: str) -> bool:
        return bool(
            await self._db.fetchval(
                f"""SELECT {blocked_between("$1::uuid", "$2::uuid")}
                       OR EXISTS (SELECT 1 FROM mutes m WHERE m.muter_id = $1::uuid AND m.muted_id = $2::uuid)""",
                recipient,
                actor,
            )
        )

    async def add(self, new: NewNotification) -> str | None:
        async with self._db.transaction() as conn:
            # The upsert locks the group's row, so concurrent joins of one group serialise here.
            row = await conn.fetchrow(
                """INSERT INTO notifications (recipient_id, type, group_key, post_id, comment_id, note)
                   VALUES ($1::uuid, $2, $3, $4::uuid, $5::uuid, $6)
                   ON CONFLICT (recipient_id, group_key) DO UPDATE SET updated_at = notifications.updated_at
                   RETURNING id::text AS id, (xmax = 0) AS inserted""",
                new.recipient,
                new.type.value,
                new.group_key,
                new.post,
                new.comment,
                new.note,
            )
            assert row is not None
            if new.actor is None:
                return str(row["id"]) if row["inserted"] else None
            joined = await conn.fetchval(
                """INSERT INTO notification_actors (notification_id, actor_id) VALUES ($1::uuid, $2::uuid)
                   ON CONFLICT DO NOTHING RETURNING true""",
                row["id"],
                new.actor,
            )
            if not joined:
                return None
            if not row["inserted"]:
                await conn.execute(
                    "UPDATE notifications SET updated_at = clock_timestamp(), read_at = NULL WHERE id = $1::uuid",
                    row["id"],
                )
            return str(row["id"])

    async def get(self, recipient: str, notification_id: str) -> NotificationRecord | None:
        row = await self._db.fetchrow(
            f"SELECT {_COLUMNS} {_shown('$1::uuid')} AND n.id = $2::uuid", recipient, notification_id
        )
        return None if row is None else _record(row)

    async def page(self, recipient: str, window: Window, filters: NotificationFilter) -> list[NotificationRecord]:
        where, order, args = keyset_condition(window, "n.updated_at", "n.id", 4)
        rows = await self._db.fetch(
            f"""SELECT {_COLUMNS} {_shown("$1::uuid")}
                  AND (cardinality($2::text[]) = 0 OR n.type = ANY($2::text[]))
                  AND NOT (n.type = ANY($3::text[])) {where}
                {order} LIMIT ${4 + len(args)}""",
            recipient,
            sorted(filters.types),
            sorted(filters.exclude_types),
            *args,
            window.limit,
        )
        return [_record(r) for r in rows]

    async def unread_count(self, recipient: str) -> int:
        return int(await self._db.fetchval(f"SELECT count(*) {_shown('$1::uuid')} AND n.read_at IS NULL", recipient))

    async def mark_read(self, recipient: str, notification_id: str) -> bool:
        return bool(
            await self._db.fetchval(
                """UPDATE notifications SET read_at = coalesce(read_at, now())
                   WHERE recipient_id = $1::uuid AND id = $2::uuid RETURNING true""",
                recipient,
                notification_id,
            )
        )

    async def mark_all_read(self, recipient: str) -> int:
        status = await self._db.execute(
            "UPDATE notifications SET read_at = now() WHERE recipient_id = $1::uuid AND read_at IS NULL", recipient
        )
        return int(status.rsplit(" ", 1)[-1])

    async def forget_actor(self, recipient: str, actor: str) -> int:
        async with self._db.transaction() as conn:
            # The DELETE below sees the actors as they were before the CTE, hence `<> $2`.
            status = await conn.execute(
                """WITH gone AS (
                       DELETE FROM notification_actors a USING notifications n
                       WHERE a.notification_id = n.id AND n.recipient_id = $1::uuid AND a.actor_id = $2::uuid
                       RETURNING n.id
                   )
                   DELETE FROM notifications n WHERE n.id IN (SELECT id FROM gone)
                     AND NOT EXISTS (SELECT 1 FROM notification_actors a
                                     WHERE a.notification_id = n.id AND a.actor_id <> $2::uuid)""",
                recipient,
                actor,
            )
            return int(status.rsplit(" ", 1)[-1])

    async def prune_read(self, older_than_seconds: float, limit: int) -> int:
        status = await self._db.execute(
            """DELETE FROM notifications WHERE id IN (
                   SELECT id FROM notifications
                   WHERE read_at IS NOT NULL AND read_at < now() - make_interval(secs => $1) LIMIT $2)""",
            float(older_than_seconds),
            limit,
        )
        return int(status.rsplit(" ", 1)[-1])

    async def handles(self, handles: list[str]) -> dict[str, str]:
        rows = await self._db.fetch(
            """SELECT lower(username) AS handle, id::text AS id FROM users
               WHERE username IS NOT NULL AND lower(username) = ANY($1::text[])""",
            [h.lower() for h in handles],
        )
        return {r["handle"]: r["id"] for r in rows}
