"""PostgreSQL repository of profiles and the social graph.

Every transaction that changes an edge first locks both accounts' rows in id order: that serialises
follow, block and counter updates per pair of accounts and cannot deadlock.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from hub.ports.social import (
    FollowOutcome,
    FollowRequestRecord,
    ListedProfile,
    ProfileRecord,
    Relationship,
    Window,
)
from storage.postgres.db import PostgresDatabase, from_row

PROFILE_COLUMNS = (
    "u.id::text AS id, u.username AS handle, u.display_name, u.bio, u.avatar_media_id, u.locked, "
    "u.created_at, u.followers_count, u.following_count, u.posts_count"
)


def blocked_between(viewer: str, other: str) -> str:
    """SQL that is true when either account blocks the other; `viewer` and `other` are SQL expressions.

    Every read path that lists accounts or their content adds `AND NOT` this, so neither side of a
    block sees the other anywhere.
    """
    # The accounts on either side of the viewer's blocks, read once per statement (a hashed subplan)
    # rather than probed per row: a search or feed statement checks thousands of candidate rows.
    return (
        f"coalesce({other} IN (SELECT b.blocked_id FROM blocks b WHERE b.blocker_id = {viewer} "
        f"UNION ALL SELECT b.blocker_id FROM blocks b WHERE b.blocked_id = {viewer}), false)"
    )


def account_suspended(user: str) -> str:
    """SQL that is true while account `user` (an SQL expression) is suspended: its content and its
    profile are hidden from everyone until the suspension is lifted or its `until` passes."""
    # The set of suspended accounts is small (the partial index `users_suspended`, 0017) and is read
    # once per statement; probing `users` per candidate row was a third of a post search's time.
    return (
        f"coalesce({user} IN (SELECT su.id FROM users su WHERE su.suspended_at IS NOT NULL "
        f"AND (su.suspended_until IS NULL OR su.suspended_until > now())), false)"
    )


def _profile(row: Any) -> ProfileRecord | None:
    return None if row is None else from_row(ProfileRecord, row)


def listed_profiles(rows: list[asyncpg.Record]) -> list[ListedProfile]:
    items = []
    for row in rows:
        profile = _profile(row)
        assert profile is not None
        items.append(ListedProfile(profile, row["at"]))
    return items


async def _lock_pair(conn: asyncpg.Connection, a: str, b: str) -> dict[str, asyncpg.Record]:
    """Lock both accounts (id order); only registered accounts are returned.

    FOR NO KEY UPDATE, not FOR UPDATE: it serialises graph writes per pair all the same, but leaves
    alone the KEY SHARE locks that foreign keys to `users` take (a notification naming the account
    being written by the worker meanwhile), which FOR UPDATE would deadlock against."""
    rows = await conn.fetch(
        """SELECT id::text AS id, username IS NOT NULL AS registered, locked, following_count
           FROM users WHERE id = ANY($1::uuid[]) ORDER BY id FOR NO KEY UPDATE""",
        [a, b],
    )
    return {r["id"]: r for r in rows if r["registered"]}


async def _add_edge(conn: asyncpg.Connection, follower: str, followee: str) -> None:
    inserted = await conn.fetchval(
        """INSERT INTO follows (follower_id, followee_id) VALUES ($1::uuid, $2::uuid)
           ON CONFLICT DO NOTHING RETURNING true""",
        follower,
        followee,
    )
    if inserted:
        await _count(conn, follower, followee, +1)


async def _remove_edge(conn: asyncpg.Connection, follower: str, followee: str) -> None:
    deleted = await conn.fetchval(
        "DELETE FROM follows WHERE follower_id = $1::uuid AND followee_id = $2::uuid RETURNING true",
        follower,
        followee,
    )
    if deleted:
        await _count(conn, follower, followee, -1)


async def _count(conn: asyncpg.Connection, follower: str, followee: str, delta: int) -> None:
    await conn.execute(
        """UPDATE users SET
               following_count = following_count + CASE WHEN id = $1::uuid THEN $3::integer ELSE 0 END,
               followers_count = followers_count + CASE WHEN id = $2::uuid THEN $3::integer ELSE 0 END
           WHERE id = ANY(ARRAY[$1::uuid, $2::uuid])""",
        follower,
        followee,
        delta,
    )


def keyset_condition(window: Window, at: str, ident: str, first: int) -> tuple[str, str, list[Any]]:
    """The WHERE piece, ORDER BY and parameters (numbered from `first`) of a window over (at, ident)."""
    if window.after is not None:
        return (
            f"AND ({at}, {ident}) > (${first}::timestamptz, ${first + 1}::uuid)",
            f"ORDER BY {at}, {ident}",
            [window.after[0], window.after[1]],
        )
    if window.before is not None:
        return (
            f"AND ({at}, {ident}) < (${first}::timestamptz, ${first + 1}::uuid)",
            f"ORDER BY {at} DESC, {ident} DESC",
            [window.before[0], window.before[1]],
        )
    return "", f"ORDER BY {at} DESC, {ident} DESC", []


class PostgresSocialRepo:
    """Implements `hub.ports.social.SocialRepo`."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def profile(self, user_id: str) -> ProfileRecord | None:
        return _profile(
            await self._db.fetchrow(
                f"SELECT {PROFILE_COLUMNS} FROM users u WHERE u.id = $1::uuid AND u.username IS NOT NULL "
                f"AND NOT {account_suspended('u.id')}",
                user_id,
            )
        )

    async def profile_by_handle(self, handle: str) -> ProfileRecord | None:
        return _profile(
            await self._db.fetchrow(
                f"SELECT {PROFILE_COLUMNS} FROM users u WHERE lower(u.username) = lower($1) "
                f"AND NOT {account_suspended('u.id')}",
                handle,
            )
        )

    async def update_profile(
        self, user_id: str, *, display_name: str | None, bio: str | None, locked: bool | None
    ) -> ProfileRecord | None:
        return _profile(
            await self._db.fetchrow(
                f"""UPDATE users u SET display_name = COALESCE($2, u.display_name), bio = COALESCE($3, u.bio),
                        locked = COALESCE($4, u.locked), updated_at = now()
                    WHERE u.id = $1::uuid AND u.username IS NOT NULL RETURNING {PROFILE_COLUMNS}""",
                user_id,
                display_name,
                bio,
                locked,
            )
        )

    async def blocked_between(self, a: str, b: str) -> bool:
        return bool(await self._db.fetchval(f"SELECT {blocked_between('$1::uuid', '$2::uuid')}", a, b))

    async def blocks(self, blocker: str, blocked: str) -> bool:
        return bool(
            await self._db.fetchval(
                "SELECT EXISTS (SELECT 1 FROM blocks WHERE blocker_id = $1::uuid AND blocked_id = $2::uuid)",
                blocker,
                blocked,
            )
        )

    async def relationship(self, subject: str, other: str) -> Relationship:
        row = await self._db.fetchrow(
            """SELECT
                 EXISTS (SELECT 1 FROM follows WHERE follower_id = $1::uuid AND followee_id = $2::uuid) AS following,
                 EXISTS (SELECT 1 FROM follows WHERE follower_id = $2::uuid AND followee_id = $1::uuid)
                   AS followed_by,
                 EXISTS (SELECT 1 FROM follow_requests WHERE requester_id = $1::uuid AND target_id = $2::uuid)
                   AS requested,
                 EXISTS (SELECT 1 FROM blocks WHERE blocker_id = $1::uuid AND blocked_id = $2::uuid) AS blocking,
                 EXISTS (SELECT 1 FROM blocks WHERE blocker_id = $2::uuid AND blocked_id = $1::uuid) AS blocked_by,
                 EXISTS (SELECT 1 FROM mutes WHERE muter_id = $1::uuid AND muted_id = $2::uuid) AS muting""",
            subject,
            other,
        )
        assert row is not None
        return Relationship(id=other, **dict(row))

    async def follow(self, follower: str, followee: str, *, max_following: int) -> FollowOutcome:
        async with self._db.transaction() as conn:
            accounts = await _lock_pair(conn, follower, followee)
            if followee not in accounts or follower not in accounts:
                return FollowOutcome.MISSING
            block = await conn.fetchval(
                """SELECT blocker_id::text FROM blocks
                   WHERE (blocker_id = $1::uuid AND blocked_id = $2::uuid)
                      OR (blocker_id = $2::uuid AND blocked_id = $1::uuid)
                   ORDER BY blocker_id = $2::uuid DESC LIMIT 1""",
                follower,
                followee,
            )
            if block == followee:
                return FollowOutcome.MISSING
            if block == follower:
                return FollowOutcome.BLOCKING
            if await conn.fetchval(
                "SELECT true FROM follows WHERE follower_id = $1::uuid AND followee_id = $2::uuid", follower, followee
            ):
                return FollowOutcome.FOLLOWING
            pending = await conn.fetchval(
                "SELECT true FROM follow_requests WHERE requester_id = $1::uuid AND target_id = $2::uuid",
                follower,
                followee,
            )
            if pending and accounts[followee]["locked"]:
                return FollowOutcome.REQUESTED
            if accounts[follower]["following_count"] >= max_following:
                return FollowOutcome.LIMIT
            if accounts[followee]["locked"]:
                await conn.execute(
                    "INSERT INTO follow_requests (requester_id, target_id) VALUES ($1::uuid, $2::uuid)",
                    follower,
                    followee,
                )
                return FollowOutcome.REQUESTED
            if pending:  # left from when the account was locked: the follow itself answers it
                await conn.execute(
                    "DELETE FROM follow_requests WHERE requester_id = $1::uuid AND target_id = $2::uuid",
                    follower,
                    followee,
                )
            await _add_edge(conn, follower, followee)
            return FollowOutcome.FOLLOWING

    async def unfollow(self, follower: str, followee: str) -> None:
        async with self._db.transaction() as conn:
            await _lock_pair(conn, follower, followee)
            await conn.execute(
                "DELETE FROM follow_requests WHERE requester_id = $1::uuid AND target_id = $2::uuid",
                follower,
                followee,
            )
            await _remove_edge(conn, follower, followee)

    async def block(self, blocker: str, blocked: str) -> bool:
        async with self._db.transaction() as conn:
            accounts = await _lock_pair(conn, blocker, blocked)
            if blocked not in accounts:
                return False
            await _remove_edge(conn, blocker, blocked)
            await _remove_edge(conn, blocked, blocker)
            await conn.execute(
                """DELETE FROM follow_requests WHERE (requester_id = $1::uuid AND target_id = $2::uuid)
                      OR (requester_id = $2::uuid AND target_id = $1::uuid)""",
                blocker,
                blocked,
            )
            await conn.execute(
                "INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1::uuid, $2::uuid) ON CONFLICT DO NOTHING",
                blocker,
                blocked,
            )
            return True

    async def unblock(self, blocker: str, blocked: str) -> None:
        await self._db.execute(
            "DELETE FROM blocks WHERE blocker_id = $1::uuid AND blocked_id = $2::uuid", blocker, blocked
        )

    async def mute(self, muter: str, muted: str) -> None:
        await self._db.execute(
            "INSERT INTO mutes (muter_id, muted_id) VALUES ($1::uuid, $2::uuid) ON CONFLICT DO NOTHING", muter, muted
        )

    async def unmute(self, muter: str, muted: str) -> None:
        await self._db.execute("DELETE FROM mutes WHERE muter_id = $1::uuid AND muted_id = $2::uuid", muter, muted)

    async def _edges(self, user_id: str, viewer: str, window: Window, *, mine: str, theirs: str) -> list[ListedProfile]:
        where, order, args = keyset_condition(window, "f.created_at", f"f.{theirs}", 3)
        rows = await self._db.fetch(
            f"""SELECT {PROFILE_COLUMNS}, f.created_at AS at
                FROM follows f JOIN users u ON u.id = f.{theirs}
                WHERE f.{mine} = $1::uuid AND NOT {blocked_between("$2::uuid", f"f.{theirs}")}
                  AND NOT {account_suspended(f"f.{theirs}")} {where}
                {order} LIMIT ${3 + len(args)}""",
            user_id,
            viewer,
            *args,
            window.limit,
        )
        return listed_profiles(rows)

    async def followers(self, user_id: str, viewer: str, window: Window) -> list[ListedProfile]:
        return await self._edges(user_id, viewer, window, mine="followee_id", theirs="follower_id")

    async def following(self, user_id: str, viewer: str, window: Window) -> list[ListedProfile]:
        return await self._edges(user_id, viewer, window, mine="follower_id", theirs="followee_id")

    async def follow_requests(self, target: str, window: Window) -> list[FollowRequestRecord]:
        where, order, args = keyset_condition(window, "r.created_at", "r.id", 2)
        rows = await self._db.fetch(
            f"""SELECT {PROFILE_COLUMNS}, r.id::text AS request_id, r.created_at AS requested_at
                FROM follow_requests r JOIN users u ON u.id = r.requester_id
                WHERE r.target_id = $1::uuid {where} {order} LIMIT ${2 + len(args)}""",
            target,
            *args,
            window.limit,
        )
        out = []
        for row in rows:
            profile = _profile(row)
            assert profile is not None
            out.append(FollowRequestRecord(row["request_id"], profile, row["requested_at"]))
        return out

    async def authorize(self, target: str, request_id: str, *, max_following: int) -> tuple[FollowOutcome, str]:
        async with self._db.transaction() as conn:
            requester = await conn.fetchval(
                "SELECT requester_id::text FROM follow_requests WHERE id = $1::uuid AND target_id = $2::uuid",
                request_id,
                target,
            )
            if requester is None:
                return FollowOutcome.MISSING, ""
            accounts = await _lock_pair(conn, requester, target)
            # Re-read under the locks: a block or a reject may have removed it meanwhile.
            if requester not in accounts or not await conn.fetchval(
                "SELECT true FROM follow_requests WHERE id = $1::uuid AND target_id = $2::uuid FOR UPDATE",
                request_id,
                target,
            ):
                return FollowOutcome.MISSING, ""
            if accounts[requester]["following_count"] >= max_following:
                return FollowOutcome.LIMIT, requester  # the request stays: room may be made
            await conn.execute("DELETE FROM follow_requests WHERE id = $1::uuid", request_id)
            await _add_edge(conn, requester, target)
            return FollowOutcome.FOLLOWING, requester

    async def reject(self, target: str, request_id: str) -> str | None:
        requester: str | None = await self._db.fetchval(
            "DELETE FROM follow_requests WHERE id = $1::uuid AND target_id = $2::uuid RETURNING requester_id::text",
            request_id,
            target,
        )
        return requester
