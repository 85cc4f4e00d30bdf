"""PostgreSQL side of the home feed: the rebuild query, the settled time, a post's audience.

The feed of an account is the posts of the accounts it follows and its own, minus the accounts it
mutes and either side of a block. One query reads a window of it: a lateral index scan per followed
account on `posts_author_created` (author_id, created_at, id), each stopping after `limit` rows, then
a merge of those short runs. That costs (accounts followed) x (limit) index entries at most, however
many posts each account has, and the scans are index-only; a lower bound on the time (`not_before`,
which the rebuild widens step by step) cuts each scan shorter. The merge that cached reads run
(`merged`) reads only the hot authors' posts and everyone's newest seconds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hub.ports.feed import Audience, FeedEntry, Window
from hub.ports.posts import PostRecord
from storage.postgres.db import PostgresDatabase
from storage.postgres.posts import post_columns, post_record, post_visible
from storage.postgres.social import blocked_between

# The longest a writing transaction may hold back the settled time: one that stays open longer (a
# stuck batch job) must not freeze everyone's feed head; a post transaction takes milliseconds.
MAX_HOLD_BACK = "5 seconds"

_SETTLED = f"""
SELECT greatest(least(clock_timestamp(), min(a.xact_start)), clock_timestamp() - interval '{MAX_HOLD_BACK}')
FROM pg_stat_activity a
WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.xact_start IS NOT NULL
  AND (a.backend_xid IS NOT NULL OR a.state = 'active')
"""


def _window_sql(window: Window, first: int) -> tuple[str, str, list[Any]]:
    """The keyset condition on `p`, the sort direction, and their parameters (numbered from `first`)."""
    if window.after is not None:
        return f"AND (p.created_at, p.id) > (${first}::timestamptz, ${first + 1}::uuid)", "", list(window.after)
    if window.before is not None:
        return f"AND (p.created_at, p.id) < (${first}::timestamptz, ${first + 1}::uuid)", "DESC", list(window.before)
    return "", "DESC", []


_FAR_PAST = datetime(1, 1, 1, tzinfo=UTC)


def _entries(rows: list[Any]) -> list[FeedEntry]:
    return [FeedEntry(r["post_id"], r["author_id"], r["created_at"]) for r in rows]


# The viewer's feed accounts: the ones it follows that it neither mutes nor is on either side of a
# block with, and itself. `$1` is the viewer.
_FEED_ACCOUNTS = f"""
    SELECT f.followee_id AS author FROM follows f
    WHERE f.follower_id = $1::uuid
      AND NOT EXISTS (SELECT 1 FROM mutes m WHERE m.muter_id = $1::uuid AND m.muted_id = f.followee_id)
      AND NOT {blocked_between("$1::uuid", "f.followee_id")}
    UNION ALL SELECT $1::uuid"""


class PostgresFeedRepo:
    """Implements `hub.ports.feed.FeedRepo`."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def settled(self) -> datetime:
        # Any transaction that may still insert a post started before its post's created_at (taken
        # at insert with clock_timestamp()); one that has not started yet inserts after now. This
        # runs before the page's own query, whose newer snapshot then holds whatever committed since.
        at: datetime = await self._db.fetchval(_SETTLED)
        return at

    async def entries(
        self, viewer: str, window: Window, *, below: datetime, not_before: datetime | None = None
    ) -> list[FeedEntry]:
        where, order, args = _window_sql(window, 5)
        rows = await self._db.fetch(
            f"""SELECT p.id::text AS post_id, p.author_id::text AS author_id, p.created_at
                FROM ({_FEED_ACCOUNTS}) a
                CROSS JOIN LATERAL (
                    SELECT p.id, p.author_id, p.created_at FROM posts p
                    WHERE p.author_id = a.author AND p.created_at < $2::timestamptz
                      AND p.created_at >= $4::timestamptz {where}
                    ORDER BY p.created_at {order}, p.id {order} LIMIT $3
                ) p
                ORDER BY p.created_at {order}, p.id {order} LIMIT $3""",
            viewer,
            below,
            window.limit,
            not_before or _FAR_PAST,
            *args,
        )
        return _entries(rows)

    async def merged(
        self, viewer: str, window: Window, *, below: datetime, hot_followers: int, newer_than: datetime
    ) -> list[FeedEntry]:
        where, order, args = _window_sql(window, 6)
        # Two reads in one statement. The hot authors the viewer follows are few, found through
        # `users_followers_count` (0017) rather than by looking at every followed account's row; a scan
        # per hot author reads the window. Everyone's newest posts (`newer_than`) are a join that the
        # planner may serve from `posts_author_created` per followed account or from `posts_created`
        # over the newest seconds of all posts, whichever it estimates cheaper.
        rows = await self._db.fetch(
            f"""(SELECT p.id::text AS post_id, p.author_id::text AS author_id, p.created_at
                 FROM (SELECT h.id FROM users h WHERE h.followers_count > $4::integer AND h.id IN ({_FEED_ACCOUNTS})) a
                 CROSS JOIN LATERAL (
                     SELECT p.id, p.author_id, p.created_at FROM posts p
                     WHERE p.author_id = a.id AND p.created_at < $2::timestamptz {where}
                     ORDER BY p.created_at {order}, p.id {order} LIMIT $3
                 ) p)
                UNION
                (SELECT p.id::text, p.author_id::text, p.created_at FROM posts p
                 WHERE p.created_at >= $5::timestamptz AND p.created_at < $2::timestamptz {where}
                   AND p.author_id IN ({_FEED_ACCOUNTS})
                 ORDER BY p.created_at {order}, p.id {order} LIMIT $3)
                ORDER BY created_at {order}, post_id {order} LIMIT $3""",
            viewer,
            below,
            window.limit,
            hot_followers,
            newer_than,
            *args,
        )
        return _entries(rows)

    async def posts(self, viewer: str, ids: list[str]) -> list[PostRecord]:
        """The posts among `ids` that are still in `viewer`'s feed (any order): not deleted, visible,
        by an account followed and not muted, or the viewer's own."""
        if not ids:
            return []
        rows = await self._db.fetch(
            f"""SELECT {post_columns("$1::uuid")} FROM posts p JOIN users u ON u.id = p.author_id
                WHERE p.id = ANY($2::uuid[]) AND {post_visible("$1::uuid")}
                  AND (p.author_id = $1::uuid OR (
                    EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = $1::uuid AND f.followee_id = p.author_id)
                    AND NOT EXISTS (SELECT 1 FROM mutes m WHERE m.muter_id = $1::uuid AND m.muted_id = p.author_id)
                    AND NOT {blocked_between("$1::uuid", "p.author_id")}))""",
            viewer,
            ids,
        )
        return [post_record(r) for r in rows]

    async def audience(self, author_id: str) -> Audience:
        # One row with an array: 5,000 followers as records cost more to decode than to find. Who
        # mutes the author is read once (a hashed subplan), not probed per follower (4 -> 2 ms).
        row = await self._db.fetchrow(
            """SELECT (SELECT followers_count FROM users WHERE id = $1::uuid) AS count,
                      ARRAY(SELECT f.follower_id::text FROM follows f
                            WHERE f.followee_id = $1::uuid
                              AND f.follower_id NOT IN (SELECT m.muter_id FROM mutes m WHERE m.muted_id = $1::uuid))
                        AS ids""",
            author_id,
        )
        return Audience(list(row["ids"]) if row else [], int(row["count"] or 0) if row else 0)

    async def followers(self, author_id: str) -> list[str]:
        rows = await self._db.fetch(
            "SELECT follower_id::text AS id FROM follows WHERE followee_id = $1::uuid", author_id
        )
        return [r["id"] for r in rows]

    async def active_accounts(self, since_seconds: float) -> list[str]:
        rows = await self._db.fetch(
            """SELECT DISTINCT t.user_id::text AS id FROM refresh_tokens t JOIN users u ON u.id = t.user_id
               WHERE t.issued_at > now() - make_interval(secs => $1) AND t.revoked_at IS NULL
                 AND t.expires_at > now() AND NOT u.is_guest
               ORDER BY 1""",
            float(since_seconds),
        )
        return [r["id"] for r in rows]
