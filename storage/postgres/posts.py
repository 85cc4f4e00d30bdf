"""PostgreSQL repository of posts, likes, comments and their counters; the media claims of posts.

Counters change in the transaction that changes what they count, with relative updates
(`x = x + 1`), so concurrent likes never lose one; `repair_counters` recomputes them all.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from hub.errors import MediaNotUsable
from hub.ports.posts import (
    CommentRecord,
    IdempotencyKey,
    IdempotencyOutcome,
    Mention,
    NewPost,
    PostRecord,
)
from hub.ports.social import ListedProfile, Window
from hub.services.posts_input import MEDIA_RULE
from storage.postgres.db import PostgresDatabase
from storage.postgres.media_library import CLAIM_FOR_POST_SQL, DELETE_FOR_POST_SQL, RELEASE_FROM_POST_SQL
from storage.postgres.social import (
    PROFILE_COLUMNS,
    account_suspended,
    blocked_between,
    keyset_condition,
    listed_profiles,
)


def post_visible(viewer: str, p: str = "p") -> str:
    """SQL that is true when `viewer` (an SQL expression) may see post `p` (a table alias).

    The author sees every post of theirs (a taken-down one marked `removed`); others see no post taken
    down by a moderator, none of a suspended author, none of an author who blocks them, and
    `followers` posts only while they follow the author. Search also leaves out `unlisted` posts and
    the posts of an author the viewer blocks (`storage.postgres.search.posts_sql`).
    """
    return (
        f"({p}.author_id = {viewer} OR ({p}.removed_at IS NULL AND NOT {account_suspended(f'{p}.author_id')} AND "
        f"{p}.author_id NOT IN (SELECT vb.blocker_id FROM blocks vb WHERE vb.blocked_id = {viewer}) "
        f"AND ({p}.visibility <> 'followers' OR EXISTS (SELECT 1 FROM follows vf "
        f"WHERE vf.follower_id = {viewer} AND vf.followee_id = {p}.author_id))))"
    )


def post_columns(viewer: str) -> str:
    return f"""p.id::text AS id, p.author_id::text AS author_id, u.username AS author_handle,
        u.display_name AS author_display_name, p.text, p.visibility, p.reply_to::text AS reply_to,
        p.likes_count, p.comments_count, p.created_at, p.edited_at,
        ARRAY(SELECT pm.media_id FROM post_media pm WHERE pm.post_id = p.id ORDER BY pm.position) AS media,
        ARRAY(SELECT ph.tag FROM post_hashtags ph WHERE ph.post_id = p.id ORDER BY ph.position) AS hashtags,
        ARRAY(SELECT ARRAY[x.user_id::text, mu.username] FROM post_mentions x JOIN users mu ON mu.id = x.user_id
              WHERE x.post_id = p.id ORDER BY x.position) AS mentions,
        EXISTS (SELECT 1 FROM likes l WHERE l.post_id = p.id AND l.user_id = {viewer}) AS liked,
        p.removed_at IS NOT NULL AS removed, p.removed_reason"""


def post_record(row: Any) -> PostRecord:
    return PostRecord(
        id=row["id"],
        author_id=row["author_id"],
        author_handle=row["author_handle"],
        author_display_name=row["author_display_name"],
        text=row["text"],
        visibility=row["visibility"],
        reply_to=row["reply_to"],
        media=list(row["media"]),
        mentions=[Mention(ident, handle) for ident, handle in row["mentions"]],
        hashtags=list(row["hashtags"]),
        likes_count=row["likes_count"],
        comments_count=row["comments_count"],
        liked=row["liked"],
        created_at=row["created_at"],
        edited_at=row["edited_at"],
        removed=row["removed"],
        removed_reason=row["removed_reason"],
    )


_COMMENT_COLUMNS = """c.id::text AS id, c.post_id::text AS post_id, c.author_id::text AS author_id,
    u.username AS author_handle, u.display_name AS author_display_name, c.text, c.reply_to::text AS reply_to,
    c.created_at, c.removed_at IS NOT NULL AS removed, c.removed_reason"""


def _comment(row: Any) -> CommentRecord:
    return CommentRecord(**dict(row))


def _count(status: str) -> int:
    """The row count of a command status such as `UPDATE 3`."""
    return int(status.rsplit(" ", 1)[-1])


async def _fetch_post(conn: asyncpg.Connection, post_id: str, viewer: str) -> PostRecord | None:
    row = await conn.fetchrow(
        f"""SELECT {post_columns("$2::uuid")} FROM posts p JOIN users u ON u.id = p.author_id
            WHERE p.id = $1::uuid AND {post_visible("$2::uuid")}""",
        post_id,
        viewer,
    )
    return None if row is None else post_record(row)


async def _attach_media(conn: asyncpg.Connection, post_id: str, author_id: str, media: list[str]) -> None:
    """Claim the media for the post (under their row locks) and keep their order."""
    if not media:
        return
    claimed = await conn.fetch(CLAIM_FOR_POST_SQL, author_id, media, post_id)
    if len(claimed) != len(media):  # deleted, failed or attached elsewhere since the service checked
        raise MediaNotUsable({"media": MEDIA_RULE})
    await conn.execute(
        """INSERT INTO post_media (post_id, media_id, position)
           SELECT $1::uuid, t.media_id, t.ord - 1 FROM unnest($2::text[]) WITH ORDINALITY AS t(media_id, ord)""",
        post_id,
        media,
    )


async def _store_tags(
    conn: asyncpg.Connection, post_id: str, author_id: str, mentions: list[str], hashtags: list[str]
) -> None:
    # Only accounts that exist and share no block with the author are mentioned.
    if mentions:
        await conn.execute(
            f"""INSERT INTO post_mentions (post_id, user_id, position)
                SELECT $1::uuid, u.id, t.ord FROM unnest($2::text[]) WITH ORDINALITY AS t(handle, ord)
                JOIN users u ON lower(u.username) = t.handle
                WHERE u.id <> $3::uuid AND NOT {blocked_between("$3::uuid", "u.id")}
                ON CONFLICT DO NOTHING""",
            post_id,
            mentions,
            author_id,
        )
    if hashtags:
        await conn.execute(
            """INSERT INTO post_hashtags (post_id, tag, position)
               SELECT $1::uuid, t.tag, t.ord FROM unnest($2::text[]) WITH ORDINALITY AS t(tag, ord)
               ON CONFLICT DO NOTHING""",
            post_id,
            hashtags,
        )


async def _replayed(
    conn: asyncpg.Connection, author_id: str, key: IdempotencyKey
) -> tuple[IdempotencyOutcome, PostRecord | None] | None:
    first = await conn.fetchrow(
        """SELECT fingerprint, post_id::text AS post_id FROM post_idempotency_keys
           WHERE user_id = $1::uuid AND key = $2 AND created_at >= now() - make_interval(secs => $3)""",
        author_id,
        key.key,
        key.ttl,
    )
    if first is None:
        return None
    if first["fingerprint"] != key.fingerprint:
        return IdempotencyOutcome.MISMATCH, None
    found = await _fetch_post(conn, first["post_id"], author_id) if first["post_id"] else None
    return IdempotencyOutcome.REPLAYED, found


class PostgresMediaClaims:
    """Implements `hub.ports.posts.MediaClaims` over the account media table (`media`)."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def claim(self, author_id: str, ids: list[str], *, post_id: str | None = None) -> list[str]:
        # The conditions of CLAIM_FOR_POST_SQL, which attaches them under row locks.
        if not ids:
            return []
        rows = await self._db.fetch(
            """SELECT id FROM media WHERE id = ANY($1::text[]) AND owner_id = $2::uuid AND status = 'ready'
                 AND processing IS DISTINCT FROM 'failed' AND (post_id IS NULL OR post_id = $3::uuid)""",
            ids,
            author_id,
            post_id,
        )
        found = {r["id"] for r in rows}
        return [i for i in ids if i in found]


class PostgresPostRepo:
    """Implements `hub.ports.posts.PostRepo`."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def create(self, post: NewPost, key: IdempotencyKey | None) -> tuple[IdempotencyOutcome, PostRecord | None]:
        async with self._db.transaction() as conn:
            if key is not None:
                await conn.execute(
                    """DELETE FROM post_idempotency_keys WHERE user_id = $1::uuid AND key = $2
                         AND created_at < now() - make_interval(secs => $3)""",
                    post.author_id,
                    key.key,
                    key.ttl,
                )
                # A concurrent request with the same key waits here until the first one commits.
                fresh = await conn.fetchval(
                    """INSERT INTO post_idempotency_keys (user_id, key, fingerprint) VALUES ($1::uuid, $2, $3)
                       ON CONFLICT DO NOTHING RETURNING true""",
                    post.author_id,
                    key.key,
                    key.fingerprint,
                )
                if not fresh:
                    found = await _replayed(conn, post.author_id, key)
                    return found or (IdempotencyOutcome.REPLAYED, None)
            post_id: str = await conn.fetchval(
                """INSERT INTO posts (author_id, text, visibility, reply_to)
                   VALUES ($1::uuid, $2, $3, $4::uuid) RETURNING id::text""",
                post.author_id,
                post.text,
                post.visibility,
                post.reply_to,
            )
            await _attach_media(conn, post_id, post.author_id, post.media)
            await _store_tags(conn, post_id, post.author_id, post.mentions, post.hashtags)
            await conn.execute("UPDATE users SET posts_count = posts_count + 1 WHERE id = $1::uuid", post.author_id)
            if key is not None:
                await conn.execute(
                    "UPDATE post_idempotency_keys SET post_id = $3::uuid WHERE user_id = $1::uuid AND key = $2",
                    post.author_id,
                    key.key,
                    post_id,
                )
            return IdempotencyOutcome.CREATED, await _fetch_post(conn, post_id, post.author_id)

    async def replay(self, author_id: str, key: IdempotencyKey) -> tuple[IdempotencyOutcome, PostRecord | None] | None:
        async with self._db.connection() as conn:
            return await _replayed(conn, author_id, key)

    async def get(self, post_id: str, viewer: str) -> PostRecord | None:
        async with self._db.connection() as conn:
            return await _fetch_post(conn, post_id, viewer)

    async def update(
        self,
        post_id: str,
        author_id: str,
        *,
        text: str | None,
        media: list[str] | None,
        mentions: list[str] | None,
        hashtags: list[str] | None,
    ) -> PostRecord | None:
        async with self._db.transaction() as conn:
            current = await conn.fetchrow(
                """SELECT p.text, COALESCE(p.edited_at, p.created_at) AS written,
                          ARRAY(SELECT media_id FROM post_media WHERE post_id = p.id ORDER BY position) AS media
                   FROM posts p WHERE p.id = $1::uuid AND p.author_id = $2::uuid FOR UPDATE""",
                post_id,
                author_id,
            )
            if current is None:
                return None
            await conn.execute(
                """INSERT INTO post_versions (post_id, version, text, media, created_at)
                   SELECT $1::uuid, COALESCE(max(version), 0) + 1, $2, $3::text[], $4
                   FROM post_versions WHERE post_id = $1::uuid""",
                post_id,
                current["text"],
                list(current["media"]),
                current["written"],
            )
            await conn.execute(
                "UPDATE posts SET text = COALESCE($2, text), edited_at = clock_timestamp() WHERE id = $1::uuid",
                post_id,
                text,
            )
            if media is not None:
                await conn.execute("DELETE FROM post_media WHERE post_id = $1::uuid", post_id)
                # Dropped media are unattached from now on: the media sweeper deletes them after
                # HUB_MEDIA_UNATTACHED_TTL unless another post or the profile takes them first.
                dropped = [m for m in current["media"] if m not in media]
                if dropped:
                    await conn.execute(RELEASE_FROM_POST_SQL, post_id, dropped)
                await _attach_media(conn, post_id, author_id, media)
            if mentions is not None and hashtags is not None:
                await conn.execute("DELETE FROM post_mentions WHERE post_id = $1::uuid", post_id)
                await conn.execute("DELETE FROM post_hashtags WHERE post_id = $1::uuid", post_id)
                await _store_tags(conn, post_id, author_id, mentions, hashtags)
            return await _fetch_post(conn, post_id, author_id)

    async def delete(self, post_id: str) -> bool:
        async with self._db.transaction() as conn:
            # The post's lock first: an edit attaching media meanwhile either ends before (and its media
            # go too) or finds no post.
            if not await conn.fetchval("SELECT true FROM posts WHERE id = $1::uuid FOR UPDATE", post_id):
                return False
            # Its media next, in this transaction, so the post and its images go together; the trigger
            # on `media` queues their objects for deletion. An avatar among them is only released.
            await conn.execute(DELETE_FOR_POST_SQL, post_id)
            await conn.execute(RELEASE_FROM_POST_SQL, post_id, None)
            author = await conn.fetchval("DELETE FROM posts WHERE id = $1::uuid RETURNING author_id", post_id)
            if author is None:
                return False
            await conn.execute(
                "UPDATE users SET posts_count = GREATEST(posts_count - 1, 0) WHERE id = $1::uuid", author
            )
            return True

    async def user_posts(self, author_id: str, viewer: str, window: Window) -> list[PostRecord]:
        where, order, args = keyset_condition(window, "p.created_at", "p.id", 3)
        rows = await self._db.fetch(
            f"""SELECT {post_columns("$2::uuid")} FROM posts p JOIN users u ON u.id = p.author_id
                WHERE p.author_id = $1::uuid AND {post_visible("$2::uuid")} {where}
                {order} LIMIT ${3 + len(args)}""",
            author_id,
            viewer,
            *args,
            window.limit,
        )
        return [post_record(r) for r in rows]

    async def like(self, post_id: str, user_id: str) -> bool:
        async with self._db.transaction() as conn:
            added = await conn.fetchval(
                """INSERT INTO likes (post_id, user_id) VALUES ($1::uuid, $2::uuid)
                   ON CONFLICT DO NOTHING RETURNING true""",
                post_id,
                user_id,
            )
            if added:
                await conn.execute("UPDATE posts SET likes_count = likes_count + 1 WHERE id = $1::uuid", post_id)
            return bool(added)

    async def unlike(self, post_id: str, user_id: str) -> bool:
        async with self._db.transaction() as conn:
            removed = await conn.fetchval(
                "DELETE FROM likes WHERE post_id = $1::uuid AND user_id = $2::uuid RETURNING true", post_id, user_id
            )
            if removed:
                await conn.execute(
                    "UPDATE posts SET likes_count = GREATEST(likes_count - 1, 0) WHERE id = $1::uuid", post_id
                )
            return bool(removed)

    async def likes(self, post_id: str, viewer: str, window: Window) -> list[ListedProfile]:
        where, order, args = keyset_condition(window, "l.created_at", "l.user_id", 3)
        rows = await self._db.fetch(
            f"""SELECT {PROFILE_COLUMNS}, l.created_at AS at
                FROM likes l JOIN users u ON u.id = l.user_id
                WHERE l.post_id = $1::uuid AND NOT {blocked_between("$2::uuid", "l.user_id")}
                  AND NOT {account_suspended("l.user_id")} {where}
                {order} LIMIT ${3 + len(args)}""",
            post_id,
            viewer,
            *args,
            window.limit,
        )
        return listed_profiles(rows)

    async def comment(self, post_id: str, author_id: str, text: str, reply_to: str | None) -> CommentRecord | None:
        async with self._db.transaction() as conn:
            if reply_to is not None and not await conn.fetchval(
                "SELECT true FROM comments WHERE id = $1::uuid AND post_id = $2::uuid FOR SHARE", reply_to, post_id
            ):
                return None
            comment_id = await conn.fetchval(
                """INSERT INTO comments (post_id, author_id, text, reply_to)
                   VALUES ($1::uuid, $2::uuid, $3, $4::uuid) RETURNING id""",
                post_id,
                author_id,
                text,
                reply_to,
            )
            await conn.execute("UPDATE posts SET comments_count = comments_count + 1 WHERE id = $1::uuid", post_id)
            row = await conn.fetchrow(
                f"SELECT {_COMMENT_COLUMNS} FROM comments c JOIN users u ON u.id = c.author_id WHERE c.id = $1",
                comment_id,
            )
            return _comment(row)

    async def get_comment(self, post_id: str, comment_id: str) -> CommentRecord | None:
        row = await self._db.fetchrow(
            f"""SELECT {_COMMENT_COLUMNS} FROM comments c JOIN users u ON u.id = c.author_id
                WHERE c.id = $1::uuid AND c.post_id = $2::uuid""",
            comment_id,
            post_id,
        )
        return None if row is None else _comment(row)

    async def comments(self, post_id: str, viewer: str, window: Window) -> list[CommentRecord]:
        after = "AND (c.created_at, c.id) > ($3::timestamptz, $4::uuid)" if window.after else ""
        args: list[Any] = list(window.after) if window.after else []
        rows = await self._db.fetch(
            f"""SELECT {_COMMENT_COLUMNS} FROM comments c JOIN users u ON u.id = c.author_id
                WHERE c.post_id = $1::uuid AND NOT {blocked_between("$2::uuid", "c.author_id")}
                  AND (c.author_id = $2::uuid OR (c.removed_at IS NULL AND NOT {account_suspended("c.author_id")}))
                  {after}
                ORDER BY c.created_at, c.id LIMIT ${3 + len(args)}""",
            post_id,
            viewer,
            *args,
            window.limit,
        )
        return [_comment(r) for r in rows]

    async def delete_comment(self, post_id: str, comment_id: str) -> bool:
        async with self._db.transaction() as conn:
            removed = await conn.fetchval(
                "DELETE FROM comments WHERE id = $1::uuid AND post_id = $2::uuid RETURNING true", comment_id, post_id
            )
            if removed:
                await conn.execute(
                    "UPDATE posts SET comments_count = GREATEST(comments_count - 1, 0) WHERE id = $1::uuid", post_id
                )
            return bool(removed)

    async def purge_idempotency_keys(self, older_than: int) -> int:
        status = await self._db.execute(
            "DELETE FROM post_idempotency_keys WHERE created_at < now() - make_interval(secs => $1)", older_than
        )
        return _count(status)

    async def repair_counters(self) -> dict[str, int]:
        """Each counter in its own statement, comparing with a fresh count.

        A write committed while a statement runs can be missed by it (its snapshot is older); the
        write's own relative update still lands, and a second run reports 0 when nothing drifted.
        """
        fixed: dict[str, int] = {}
        for name, table, column, counted, key in _COUNTERS:
            status = await self._db.execute(
                f"""UPDATE {table} t SET {column} = a.n
                    FROM (SELECT o.id, count(c.{key}) AS n FROM {table} o LEFT JOIN {counted} c ON c.{key} = o.id
                          GROUP BY o.id) a
                    WHERE a.id = t.id AND t.{column} <> a.n"""
            )
            fixed[name] = _count(status)
        return fixed


# (report name, table, counter column, counted table, its column that points at the table's id).
_COUNTERS = (
    ("posts_count", "users", "posts_count", "posts", "author_id"),
    ("followers_count", "users", "followers_count", "follows", "followee_id"),
    ("following_count", "users", "following_count", "follows", "follower_id"),
    ("likes_count", "posts", "likes_count", "likes", "post_id"),
    ("comments_count", "posts", "comments_count", "comments", "post_id"),
)
