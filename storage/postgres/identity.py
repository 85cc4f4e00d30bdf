"""PostgreSQL repositories for users, refresh tokens and revoked logins."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub.ports.identity import RevocationState, UserRecord
from storage.postgres.db import PostgresDatabase

_USER_COLUMNS = (
    "id::text, username, display_name, password_hash, is_guest, tokens_not_before, created_at, "
    "(suspended_at IS NOT NULL AND (suspended_until IS NULL OR suspended_until > now())) AS suspended, "
    "suspended_until"
)


def _user(row: Any) -> UserRecord | None:
    return None if row is None else UserRecord(**dict(row))


class PostgresUserRepo:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def create(
        self, *, username: str | None, display_name: str, password_hash: str | None, is_guest: bool
    ) -> UserRecord:
        row = await self._db.fetchrow(
            f"""INSERT INTO users (username, display_name, password_hash, is_guest)
                VALUES ($1, $2, $3, $4) RETURNING {_USER_COLUMNS}""",
            username,
            display_name,
            password_hash,
            is_guest,
        )
        user = _user(row)
        assert user is not None
        return user

    async def by_id(self, user_id: str) -> UserRecord | None:
        return _user(await self._db.fetchrow(f"SELECT {_USER_COLUMNS} FROM users WHERE id = $1::uuid", user_id))

    async def by_username(self, username: str) -> UserRecord | None:
        return _user(
            await self._db.fetchrow(f"SELECT {_USER_COLUMNS} FROM users WHERE lower(username) = lower($1)", username)
        )

    async def upgrade_guest(self, user_id: str, *, username: str, password_hash: str) -> UserRecord | None:
        return _user(
            await self._db.fetchrow(
                f"""UPDATE users SET username = $2, password_hash = $3, is_guest = false, updated_at = now()
                WHERE id = $1::uuid AND is_guest RETURNING {_USER_COLUMNS}""",
                user_id,
                username,
                password_hash,
            )
        )

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        await self._db.execute("UPDATE users SET password_hash = $2 WHERE id = $1::uuid", user_id, password_hash)

    async def set_display_name(self, user_id: str, display_name: str) -> UserRecord | None:
        return _user(
            await self._db.fetchrow(
                f"""UPDATE users SET display_name = $2, updated_at = now() WHERE id = $1::uuid
                RETURNING {_USER_COLUMNS}""",
                user_id,
                display_name,
            )
        )

    async def revoke_all(self, user_id: str) -> datetime:
        async with self._db.transaction() as conn:
            when: datetime = await conn.fetchval(
                "UPDATE users SET tokens_not_before = now() WHERE id = $1::uuid RETURNING tokens_not_before",
                user_id,
            )
            await conn.execute(
                "UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1::uuid AND revoked_at IS NULL",
                user_id,
            )
        return when


class PostgresRefreshTokenRepo:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def add(self, *, jti: str, family_id: str, user_id: str, expires_at: datetime) -> None:
        await self._db.execute(
            "INSERT INTO refresh_tokens (jti, family_id, user_id, expires_at) VALUES ($1, $2, $3::uuid, $4)",
            jti,
            family_id,
            user_id,
            expires_at,
        )

    async def purge_expired(self, limit: int) -> int:
        status = await self._db.execute(
            """DELETE FROM refresh_tokens WHERE jti IN (
                   SELECT jti FROM refresh_tokens WHERE expires_at < now()
                   ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)""",
            limit,
        )
        return int(status.rsplit(" ", 1)[-1])

    async def use(self, jti: str) -> str:
        # One atomic statement: two concurrent refreshes with the same token cannot both succeed.
        row = await self._db.fetchrow(
            """UPDATE refresh_tokens SET used_at = now()
               WHERE jti = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()
               RETURNING jti""",
            jti,
        )
        if row is not None:
            return "ok"
        exists = await self._db.fetchval("SELECT 1 FROM refresh_tokens WHERE jti = $1", jti)
        return "reused" if exists else "unknown"

    async def revoke_family(self, family_id: str, *, user_id: str, access_expires_at: datetime) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL",
                family_id,
            )
            # Revoked twice (a reuse after a logout): keep the row for the later of the two deadlines.
            await conn.execute(
                """INSERT INTO revoked_sessions (session_id, user_id, expires_at) VALUES ($1, $2::uuid, $3)
                   ON CONFLICT (session_id)
                   DO UPDATE SET expires_at = GREATEST(revoked_sessions.expires_at, EXCLUDED.expires_at)""",
                family_id,
                user_id,
                access_expires_at,
            )


class PostgresRevocationRepo:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def state(self, user_id: str, session_id: str) -> RevocationState:
        row = await self._db.fetchrow(
            """SELECT floor(extract(epoch FROM u.tokens_not_before) * 1000)::bigint AS not_before_ms,
                      EXISTS (SELECT 1 FROM revoked_sessions r WHERE r.session_id = $2) AS session_revoked
               FROM users u WHERE u.id = $1::uuid""",
            user_id,
            session_id,
        )
        if row is None:
            return RevocationState(user_exists=False, not_before_ms=0, session_revoked=False)
        return RevocationState(
            user_exists=True, not_before_ms=int(row["not_before_ms"]), session_revoked=bool(row["session_revoked"])
        )

    async def purge_expired(self, limit: int) -> int:
        # A row may go once its access tokens are refused by their own expiry anyway.
        status = await self._db.execute(
            """DELETE FROM revoked_sessions WHERE session_id IN (
                   SELECT session_id FROM revoked_sessions WHERE expires_at < now()
                   ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)""",
            limit,
        )
        return int(status.rsplit(" ", 1)[-1])
