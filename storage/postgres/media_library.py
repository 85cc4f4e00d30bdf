"""PostgreSQL repository of account-owned media (`hub.ports.media_library.MediaLibraryRepo`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from hub.ports.media_library import MediaRecord, NewMedia
from storage.postgres.db import PostgresDatabase

_COLUMNS = """id, owner_id::text, object_key, filename, content_type, size, status, post_id::text, created_at,
    completed_at, processing, width, height, variants"""

# Media a post may use: the author's, uploaded, not found to be something other than an image, and
# not already another post's. Posts attach them with this statement, in their own transaction when
# they have one: $1 author, $2 media ids (text[]), $3 the post.
CLAIM_FOR_POST_SQL = f"""UPDATE media SET post_id = $3::uuid
    WHERE id = ANY($2::text[]) AND owner_id = $1::uuid AND status = 'ready'
      AND processing IS DISTINCT FROM 'failed' AND (post_id IS NULL OR post_id = $3::uuid)
    RETURNING {_COLUMNS}"""

# Media leaving a post (an edit dropped them, or the post is going): unattached from now on, so the
# sweeper's delay starts now. $1 the post, $2 the media ids to release (text[]), or NULL for all.
RELEASE_FROM_POST_SQL = """UPDATE media SET post_id = NULL, unattached_since = now()
    WHERE post_id = $1::uuid AND ($2::text[] IS NULL OR id = ANY($2::text[]))"""

# A post is being deleted: its media go with it (their objects through the deletion queue's trigger),
# except one that is also a profile's avatar, which `RELEASE_FROM_POST_SQL` then releases. $1 the post.
DELETE_FOR_POST_SQL = f"""DELETE FROM media m WHERE m.post_id = $1::uuid
      AND NOT EXISTS (SELECT 1 FROM users u WHERE u.avatar_media_id = m.id)
    RETURNING {_COLUMNS}"""


def _record(row: Any) -> MediaRecord | None:
    return None if row is None else MediaRecord(**dict(row))


def _records(rows: Sequence[Any]) -> list[MediaRecord]:
    return [MediaRecord(**dict(r)) for r in rows]


class PostgresMediaLibraryRepo:
    """Implements `hub.ports.media_library.MediaLibraryRepo`."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def insert(self, new: NewMedia) -> MediaRecord:
        row = await self._db.fetchrow(
            f"""INSERT INTO media (id, owner_id, object_key, filename, content_type, size)
                VALUES ($1, $2::uuid, $3, $4, $5, $6) RETURNING {_COLUMNS}""",
            new.id,
            new.owner_id,
            new.object_key,
            new.filename,
            new.content_type,
            new.size,
        )
        record = _record(row)
        assert record is not None
        return record

    async def get(self, media_id: str) -> MediaRecord | None:
        return _record(await self._db.fetchrow(f"SELECT {_COLUMNS} FROM media WHERE id = $1", media_id))

    async def get_many(self, media_ids: Sequence[str]) -> list[MediaRecord]:
        if not media_ids:
            return []
        rows = await self._db.fetch(f"SELECT {_COLUMNS} FROM media WHERE id = ANY($1::text[])", list(media_ids))
        return _records(rows)

    async def mark_ready(self, media_id: str, *, size: int, processing: str | None) -> MediaRecord | None:
        row = await self._db.fetchrow(
            f"""UPDATE media SET status = 'ready', size = $2, completed_at = now(), processing = $3
                WHERE id = $1 AND status = 'pending' RETURNING {_COLUMNS}""",
            media_id,
            size,
            processing,
        )
        return _record(row)

    async def set_variants(
        self, media_id: str, variants: dict[str, Any], width: int | None, height: int | None, processing: str
    ) -> MediaRecord | None:
        row = await self._db.fetchrow(
            f"""UPDATE media SET variants = $2, width = $3, height = $4, processing = $5
                WHERE id = $1 AND status = 'ready' RETURNING {_COLUMNS}""",
            media_id,
            variants,
            width,
            height,
            processing,
        )
        return _record(row)

    async def delete(self, media_id: str) -> MediaRecord | None:
        return _record(await self._db.fetchrow(f"DELETE FROM media WHERE id = $1 RETURNING {_COLUMNS}", media_id))

    async def claim_for_post(self, author_id: str, media_ids: Sequence[str], post_id: str) -> list[MediaRecord]:
        if not media_ids:
            return []
        return _records(await self._db.fetch(CLAIM_FOR_POST_SQL, author_id, list(media_ids), post_id))

    async def release_post(self, post_id: str) -> int:
        status = await self._db.execute(RELEASE_FROM_POST_SQL, post_id, None)
        return int(status.rsplit(" ", 1)[-1])

    async def delete_for_post(self, post_id: str) -> list[MediaRecord]:
        async with self._db.transaction() as conn:
            rows = await conn.fetch(DELETE_FOR_POST_SQL, post_id)
            await conn.execute(RELEASE_FROM_POST_SQL, post_id, None)
        return _records(rows)

    async def delete_unattached(self, unattached_before: datetime, limit: int) -> list[MediaRecord]:
        # SKIP LOCKED: several sweepers share the work; a row a post is claiming right now is skipped
        # (and re-checked under the claim's lock by the NOT EXISTS / post_id conditions next time).
        rows = await self._db.fetch(
            f"""DELETE FROM media WHERE id IN (
                    SELECT m.id FROM media m
                    WHERE m.post_id IS NULL AND m.unattached_since < $1
                      AND NOT EXISTS (SELECT 1 FROM users u WHERE u.avatar_media_id = m.id)
                    ORDER BY m.unattached_since LIMIT $2 FOR UPDATE SKIP LOCKED)
                  AND post_id IS NULL
                RETURNING {_COLUMNS}""",
            unattached_before,
            limit,
        )
        return _records(rows)

    async def list_queued(
        self, completed_before: datetime, after: tuple[datetime, str] | None, limit: int
    ) -> list[MediaRecord]:
        start = after or (datetime.min.replace(tzinfo=UTC), "")
        rows = await self._db.fetch(
            f"""SELECT {_COLUMNS} FROM media
                WHERE processing = 'queued' AND status = 'ready' AND completed_at < $1
                  AND (completed_at, id) > ($2, $3)
                ORDER BY completed_at, id LIMIT $4""",
            completed_before,
            start[0],
            start[1],
            limit,
        )
        return _records(rows)

    async def set_avatar(self, user_id: str, media_id: str | None) -> bool:
        # One statement: the media row is locked (FOR SHARE) while the avatar points at it, so a
        # concurrent delete or sweep cannot leave the profile pointing at nothing.
        status = await self._db.execute(
            """UPDATE users SET avatar_media_id = $2, updated_at = now()
               WHERE id = $1::uuid AND username IS NOT NULL
                 AND ($2::text IS NULL OR EXISTS (
                     SELECT 1 FROM media WHERE id = $2 AND owner_id = $1::uuid AND status = 'ready'
                       AND processing IS DISTINCT FROM 'failed' FOR SHARE))""",
            user_id,
            media_id,
        )
        return status.endswith(" 1")
