"""PostgreSQL repositories for spaces, members, invites and bins."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub.ports.spaces import (
    BinRecord,
    InviteRecord,
    InviteRefusal,
    InviteState,
    MemberRecord,
    RevisionRecord,
    SpaceRecord,
)
from storage.postgres.db import PostgresDatabase, from_row

_SPACE = "s.id, s.name, s.owner_id::text, s.visibility, s.link_role, s.created_at, s.updated_at, s.expires_at"
_ROLE_RANK = "CASE {0} WHEN 'owner' THEN 3 WHEN 'editor' THEN 2 ELSE 1 END"


def _space(row: Any) -> SpaceRecord | None:
    return None if row is None else SpaceRecord(**dict(row))


class PostgresSpaceRepo:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def create(
        self, *, space_id: str, name: str, owner_id: str, visibility: str, link_role: str, expires_at: datetime
    ) -> SpaceRecord:
        async with self._db.transaction() as conn:
            row = await conn.fetchrow(
                f"""INSERT INTO spaces AS s (id, name, owner_id, visibility, link_role, expires_at)
                    VALUES ($1, $2, $3::uuid, $4, $5, $6) RETURNING {_SPACE}, 'owner' AS role""",
                space_id,
                name,
                owner_id,
                visibility,
                link_role,
                expires_at,
            )
            await conn.execute(
                "INSERT INTO space_members (space_id, user_id, role) VALUES ($1, $2::uuid, 'owner')",
                space_id,
                owner_id,
            )
        space = _space(row)
        assert space is not None
        return space

    async def for_member(self, space_id: str, user_id: str) -> SpaceRecord | None:
        return _space(
            await self._db.fetchrow(
                f"""SELECT {_SPACE}, m.role FROM spaces s
                JOIN space_members m ON m.space_id = s.id AND m.user_id = $2::uuid
                WHERE s.id = $1 AND s.removed_at IS NULL""",
                space_id,
                user_id,
            )
        )

    async def get(self, space_id: str) -> SpaceRecord | None:
        return _space(
            await self._db.fetchrow(f"SELECT {_SPACE} FROM spaces s WHERE s.id = $1 AND s.removed_at IS NULL", space_id)
        )

    async def list_for_user(
        self, user_id: str, after: tuple[datetime, str] | None, limit: int
    ) -> list[tuple[SpaceRecord, datetime]]:
        rows = await self._db.fetch(
            f"""SELECT {_SPACE}, m.role, m.joined_at FROM space_members m
                JOIN spaces s ON s.id = m.space_id
                WHERE m.user_id = $1::uuid AND s.expires_at > now() AND s.removed_at IS NULL
                  AND ($2::timestamptz IS NULL OR (m.joined_at, m.space_id) > ($2, $3))
                ORDER BY m.joined_at, m.space_id LIMIT $4""",
            user_id,
            after[0] if after else None,
            after[1] if after else "",
            limit,
        )
        out = []
        for row in rows:
            data = dict(row)
            joined = data.pop("joined_at")
            out.append((SpaceRecord(**data), joined))
        return out

    async def update(self, space_id: str, fields: dict[str, object]) -> SpaceRecord | None:
        allowed = {"name", "visibility", "link_role", "expires_at"}
        keys = [k for k in fields if k in allowed]
        if not keys:
            return await self.get(space_id)
        sets = ", ".join(f"{k} = ${i + 2}" for i, k in enumerate(keys))
        return _space(
            await self._db.fetchrow(
                f"UPDATE spaces s SET {sets}, updated_at = now() WHERE s.id = $1 RETURNING {_SPACE}",
                space_id,
                *[fields[k] for k in keys],
            )
        )

    async def delete(self, space_id: str) -> bool:
        return await self._db.fetchval("DELETE FROM spaces WHERE id = $1 RETURNING true", space_id) is not None

    async def add_member(self, space_id: str, user_id: str, role: str) -> str:
        role_out: str = await self._db.fetchval(
            f"""INSERT INTO space_members AS m (space_id, user_id, role) VALUES ($1, $2::uuid, $3)
                ON CONFLICT (space_id, user_id) DO UPDATE SET role =
                  CASE WHEN {_ROLE_RANK.format("EXCLUDED.role")} > {_ROLE_RANK.format("m.role")}
                       THEN EXCLUDED.role ELSE m.role END
                RETURNING role""",
            space_id,
            user_id,
            role,
        )
        return role_out

    async def members(self, space_id: str, after: tuple[datetime, str] | None, limit: int) -> list[MemberRecord]:
        rows = await self._db.fetch(
            """SELECT m.user_id::text, u.display_name, u.is_guest, m.role, m.joined_at
               FROM space_members m JOIN users u ON u.id = m.user_id
               WHERE m.space_id = $1 AND ($2::timestamptz IS NULL OR (m.joined_at, m.user_id::text) > ($2, $3))
               ORDER BY m.joined_at, m.user_id::text LIMIT $4""",
            space_id,
            after[0] if after else None,
            after[1] if after else "",
            limit,
        )
        return [MemberRecord(**dict(r)) for r in rows]

    async def _owner_guard(self, conn: Any, space_id: str, user_id: str) -> str | None:
        current = await conn.fetchval(
            "SELECT role FROM space_members WHERE space_id = $1 AND user_id = $2::uuid FOR UPDATE",
            space_id,
            user_id,
        )
        if current is None:
            return "missing"
        if current == "owner":
            # Lock the owners so two concurrent demotions cannot leave the space ownerless.
            owners = await conn.fetch(
                "SELECT user_id FROM space_members WHERE space_id = $1 AND role = 'owner' FOR UPDATE", space_id
            )
            if len(owners) <= 1:
                return "last_owner"
        return None

    async def set_role(self, space_id: str, user_id: str, role: str) -> str:
        async with self._db.transaction() as conn:
            if role != "owner":
                blocked = await self._owner_guard(conn, space_id, user_id)
                if blocked:
                    return blocked
            done = await conn.fetchval(
                "UPDATE space_members SET role = $3 WHERE space_id = $1 AND user_id = $2::uuid RETURNING true",
                space_id,
                user_id,
                role,
            )
            return "ok" if done else "missing"

    async def remove_member(self, space_id: str, user_id: str) -> str:
        async with self._db.transaction() as conn:
            blocked = await self._owner_guard(conn, space_id, user_id)
            if blocked:
                return blocked
            await conn.execute(
                "DELETE FROM space_members WHERE space_id = $1 AND user_id = $2::uuid", space_id, user_id
            )
            return "ok"

    async def create_invite(
        self,
        *,
        invite_id: str,
        token_hash: bytes,
        space_id: str,
        role: str,
        max_uses: int | None,
        expires_at: datetime | None,
        created_by: str,
    ) -> InviteRecord:
        row = await self._db.fetchrow(
            """INSERT INTO space_invites (id, token_hash, space_id, role, max_uses, expires_at, created_by)
               VALUES ($1, $2, $3, $4, $5, $6, $7::uuid)
               RETURNING id, space_id, role, max_uses, uses, expires_at, created_at""",
            invite_id,
            token_hash,
            space_id,
            role,
            max_uses,
            expires_at,
            created_by,
        )
        return InviteRecord(**dict(row))  # type: ignore[arg-type]

    async def invites(self, space_id: str) -> list[InviteRecord]:
        rows = await self._db.fetch(
            """SELECT id, space_id, role, max_uses, uses, expires_at, created_at FROM space_invites
               WHERE space_id = $1 AND revoked_at IS NULL ORDER BY created_at, id LIMIT 1000""",
            space_id,
        )
        return [InviteRecord(**dict(r)) for r in rows]

    async def revoke_invite(self, space_id: str, invite_id: str) -> bool:
        return (
            await self._db.fetchval(
                """UPDATE space_invites SET revoked_at = now()
               WHERE space_id = $1 AND id = $2 AND revoked_at IS NULL RETURNING true""",
                space_id,
                invite_id,
            )
            is not None
        )

    async def invite_state(self, token_hash: bytes) -> InviteState | None:
        row = await self._db.fetchrow(
            """SELECT s.name AS space_name, i.role, i.expires_at, s.expires_at AS space_expires_at, i.max_uses,
                      i.uses, (s.expires_at <= now() OR i.expires_at <= now()) IS TRUE AS expired
               FROM space_invites i JOIN spaces s ON s.id = i.space_id
               WHERE i.token_hash = $1 AND i.revoked_at IS NULL AND s.removed_at IS NULL""",
            token_hash,
        )
        return None if row is None else from_row(InviteState, row)

    async def redeem_invite(self, token_hash: bytes, user_id: str) -> tuple[str, str] | InviteRefusal | None:
        async with self._db.transaction() as conn:
            # The invite's row lock orders redeemers: one that waited reads the uses the other left, so
            # two redeemers of a last use cannot both get in, and the one too late is told it is used up.
            row = await conn.fetchrow(
                """SELECT i.id, i.space_id, i.role, (s.expires_at <= now() OR i.expires_at <= now()) IS TRUE AS expired,
                          (i.max_uses IS NOT NULL AND i.uses >= i.max_uses) AS used_up
                   FROM space_invites i JOIN spaces s ON s.id = i.space_id
                   WHERE i.token_hash = $1 AND i.revoked_at IS NULL AND s.removed_at IS NULL
                   FOR UPDATE OF i""",
                token_hash,
            )
            if row is None:
                return None
            if row["expired"]:
                return "expired"
            if row["used_up"]:
                return "used_up"
            await conn.execute("UPDATE space_invites SET uses = uses + 1 WHERE id = $1", row["id"])
            role = await conn.fetchval(
                f"""INSERT INTO space_members AS m (space_id, user_id, role) VALUES ($1, $2::uuid, $3)
                    ON CONFLICT (space_id, user_id) DO UPDATE SET role =
                      CASE WHEN {_ROLE_RANK.format("EXCLUDED.role")} > {_ROLE_RANK.format("m.role")}
                           THEN EXCLUDED.role ELSE m.role END
                    RETURNING role""",
                row["space_id"],
                user_id,
                row["role"],
            )
            return str(row["space_id"]), str(role)

    async def purge_expired(self, limit: int) -> list[tuple[str, str]]:
        # SKIP LOCKED: several hub instances sweep at once without blocking or double-purging.
        rows = await self._db.fetch(
            """DELETE FROM spaces WHERE id IN (
                   SELECT id FROM spaces WHERE expires_at <= now()
                   ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)
               RETURNING id, name""",
            limit,
        )
        return [(r["id"], r["name"]) for r in rows]


_BIN = """id, space_id, title, content, language, version, created_by::text, updated_by::text, created_at,
          updated_at, burn_after_reading, expires_at"""


def _bin(row: Any) -> BinRecord | None:
    return None if row is None else BinRecord(**dict(row))


_BIN_COLUMNS = [column.strip() for column in _BIN.split(",")]
_BIN_FIELDS = [column.removesuffix("::text") for column in _BIN_COLUMNS]
# The bin's columns beside the space's in one row, prefixed so that no name collides.
_BIN_JOINED = ", ".join(f"b.{c} AS b_{n}" for c, n in zip(_BIN_COLUMNS, _BIN_FIELDS, strict=True))
_SPACE_FIELDS = [*(c.split(".", 1)[1].removesuffix("::text") for c in _SPACE.split(", ")), "role"]


class PostgresBinRepo:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def create(
        self,
        *,
        bin_id: str,
        space_id: str,
        title: str,
        content: str,
        language: str,
        author_id: str,
        burn_after_reading: bool,
        expires_at: datetime | None,
    ) -> BinRecord:
        async with self._db.transaction() as conn:
            row = await conn.fetchrow(
                f"""INSERT INTO bins (id, space_id, title, content, language, created_by, updated_by,
                                      burn_after_reading, expires_at)
                    VALUES ($1, $2, $3, $4, $5, $6::uuid, $6::uuid, $7, $8) RETURNING {_BIN}""",
                bin_id,
                space_id,
                title,
                content,
                language,
                author_id,
                burn_after_reading,
                expires_at,
            )
            await conn.execute(
                """INSERT INTO bin_revisions (bin_id, version, title, content, language, author_id)
                   VALUES ($1, 1, $2, $3, $4, $5::uuid)""",
                bin_id,
                title,
                content,
                language,
                author_id,
            )
        record = _bin(row)
        assert record is not None
        return record

    async def get(self, space_id: str, bin_id: str) -> BinRecord | None:
        return _bin(
            await self._db.fetchrow(f"SELECT {_BIN} FROM bins WHERE space_id = $1 AND id = $2", space_id, bin_id)
        )

    async def get_for_member(
        self, space_id: str, bin_id: str, user_id: str
    ) -> tuple[SpaceRecord | None, BinRecord | None]:
        row = await self._db.fetchrow(
            f"""SELECT {_SPACE}, m.role, {_BIN_JOINED} FROM spaces s
                JOIN space_members m ON m.space_id = s.id AND m.user_id = $2::uuid
                LEFT JOIN bins b ON b.space_id = s.id AND b.id = $3
                WHERE s.id = $1 AND s.removed_at IS NULL""",
            space_id,
            user_id,
            bin_id,
        )
        if row is None:
            return None, None
        space = SpaceRecord(**{n: row[n] for n in _SPACE_FIELDS})
        found = row["b_id"] is not None
        return space, BinRecord(**{n: row[f"b_{n}"] for n in _BIN_FIELDS}) if found else None

    async def burn(self, space_id: str, bin_id: str) -> BinRecord | None:
        return _bin(
            await self._db.fetchrow(
                f"DELETE FROM bins WHERE space_id = $1 AND id = $2 RETURNING {_BIN}", space_id, bin_id
            )
        )

    async def in_space(self, space_id: str, after: tuple[datetime, str] | None, limit: int) -> list[BinRecord]:
        rows = await self._db.fetch(
            f"""SELECT {_BIN} FROM bins WHERE space_id = $1
                  AND (expires_at IS NULL OR expires_at > now())
                  AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3))
                ORDER BY created_at, id LIMIT $4""",
            space_id,
            after[0] if after else None,
            after[1] if after else "",
            limit,
        )
        return [BinRecord(**dict(r)) for r in rows]

    async def update(
        self, space_id: str, bin_id: str, expected_version: int, fields: dict[str, object], author_id: str
    ) -> BinRecord | None:
        allowed = ("title", "content", "language")
        keys = [k for k in allowed if k in fields]
        sets = "".join(f", {k} = ${i + 5}" for i, k in enumerate(keys))
        async with self._db.transaction() as conn:
            row = await conn.fetchrow(
                f"""UPDATE bins SET version = version + 1, updated_at = now(), updated_by = $4::uuid{sets}
                    WHERE space_id = $1 AND id = $2 AND version = $3 RETURNING {_BIN}""",
                space_id,
                bin_id,
                expected_version,
                author_id,
                *[fields[k] for k in keys],
            )
            if row is None:
                return None
            await conn.execute(
                """INSERT INTO bin_revisions (bin_id, version, title, content, language, author_id)
                   VALUES ($1, $2, $3, $4, $5, $6::uuid)""",
                bin_id,
                row["version"],
                row["title"],
                row["content"],
                row["language"],
                author_id,
            )
        return _bin(row)

    async def delete(self, space_id: str, bin_id: str) -> bool:
        return (
            await self._db.fetchval("DELETE FROM bins WHERE space_id = $1 AND id = $2 RETURNING true", space_id, bin_id)
            is not None
        )

    async def revisions(self, bin_id: str, before_version: int | None, limit: int) -> list[RevisionRecord]:
        rows = await self._db.fetch(
            """SELECT bin_id, version, title, content, language, author_id::text, created_at
               FROM bin_revisions WHERE bin_id = $1 AND ($2::int IS NULL OR version < $2)
               ORDER BY version DESC LIMIT $3""",
            bin_id,
            before_version,
            limit,
        )
        return [RevisionRecord(**dict(r)) for r in rows]

    async def revision(self, bin_id: str, version: int) -> RevisionRecord | None:
        row = await self._db.fetchrow(
            """SELECT bin_id, version, title, content, language, author_id::text, created_at
               FROM bin_revisions WHERE bin_id = $1 AND version = $2""",
            bin_id,
            version,
        )
        return None if row is None else RevisionRecord(**dict(row))

    async def purge_expired(self, limit: int) -> list[tuple[str, str]]:
        rows = await self._db.fetch(
            """DELETE FROM bins WHERE id IN (
                   SELECT id FROM bins WHERE expires_at <= now() ORDER BY expires_at LIMIT $1
                   FOR UPDATE SKIP LOCKED)
               RETURNING space_id, id""",
            limit,
        )
        return [(r["space_id"], r["id"]) for r in rows]
