"""PostgreSQL repository of file metadata and of the blob-deletion queue."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from hub.ports.files import FileRecord, NewFile
from storage.postgres.db import PostgresDatabase

_COLUMNS = """id, space_id, object_key, filename, content_type, size, sha256, status, multipart_upload_id,
    created_by::text, created_at, upload_expires_at, completed_at, expires_at, max_downloads, downloads,
    processing, width, height, variants, part_size"""

# Backoff of a failing deletion: 2^attempts seconds, capped at ten minutes; it is never given up.
_RETRY_DELAY = "least(600, power(2, attempts))::int * interval '1 second'"


def _record(row: Any) -> FileRecord | None:
    return None if row is None else FileRecord(**dict(row))


def _records(rows: Sequence[Any]) -> list[FileRecord]:
    return [FileRecord(**dict(r)) for r in rows]


class PostgresFileRepo:
    """Implements `hub.ports.files.FileRepo`."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def insert_within_quota(self, new: NewFile, quota_bytes: int) -> FileRecord | None:
        async with self._db.transaction() as conn:
            # One space's reservations are serialised, so concurrent uploads cannot both fit the quota.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('files:' || $1))", new.space_id)
            used = await conn.fetchval("SELECT coalesce(sum(size), 0) FROM files WHERE space_id = $1", new.space_id)
            if used + new.size > quota_bytes:
                return None
            row = await conn.fetchrow(
                f"""INSERT INTO files (id, space_id, object_key, filename, content_type, size, sha256,
                        multipart_upload_id, created_by, upload_expires_at, expires_at, max_downloads, part_size)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::uuid, $10, $11, $12, $13)
                    RETURNING {_COLUMNS}""",
                new.id,
                new.space_id,
                new.object_key,
                new.filename,
                new.content_type,
                new.size,
                new.sha256,
                new.multipart_upload_id,
                new.created_by,
                new.upload_expires_at,
                new.expires_at,
                new.max_downloads,
                new.part_size,
            )
        return _record(row)

    async def get(self, file_id: str) -> FileRecord | None:
        return _record(await self._db.fetchrow(f"SELECT {_COLUMNS} FROM files WHERE id = $1", file_id))

    async def list_ready(self, space_id: str, after: tuple[datetime, str] | None, limit: int) -> list[FileRecord]:
        if after is None:
            rows = await self._db.fetch(
                f"""SELECT {_COLUMNS} FROM files WHERE space_id = $1 AND status = 'ready'
                    ORDER BY created_at DESC, id DESC LIMIT $2""",
                space_id,
                limit,
            )
        else:
            rows = await self._db.fetch(
                f"""SELECT {_COLUMNS} FROM files WHERE space_id = $1 AND status = 'ready'
                      AND (created_at, id) < ($2, $3)
                    ORDER BY created_at DESC, id DESC LIMIT $4""",
                space_id,
                after[0],
                after[1],
                limit,
            )
        return _records(rows)

    async def list_pending(
        self, space_id: str, created_by: str, after: tuple[datetime, str] | None, limit: int
    ) -> list[FileRecord]:
        start = after or (datetime.max.replace(tzinfo=UTC), "")  # before everything: the first page
        rows = await self._db.fetch(
            f"""SELECT {_COLUMNS} FROM files
                WHERE space_id = $1 AND status = 'pending' AND created_by = $2::uuid
                  AND (created_at, id) < ($3, $4)
                ORDER BY created_at DESC, id DESC LIMIT $5""",
            space_id,
            created_by,
            start[0],
            start[1],
            limit,
        )
        return _records(rows)

    async def mark_ready(
        self, file_id: str, *, size: int, quota_bytes: int, processing: str | None
    ) -> FileRecord | None:
        async with self._db.transaction() as conn:
            space_id = await conn.fetchval("SELECT space_id FROM files WHERE id = $1", file_id)
            if space_id is None:
                return None
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('files:' || $1))", space_id)
            others = await conn.fetchval(
                "SELECT coalesce(sum(size), 0) FROM files WHERE space_id = $1 AND id <> $2", space_id, file_id
            )
            if others + size > quota_bytes:
                return None
            row = await conn.fetchrow(
                f"""UPDATE files SET status = 'ready', size = $2, completed_at = now(), processing = $3,
                        multipart_upload_id = NULL
                    WHERE id = $1 AND status = 'pending' RETURNING {_COLUMNS}""",
                file_id,
                size,
                processing,
            )
        return _record(row)

    async def count_download(self, file_id: str) -> bool:
        status = await self._db.execute(
            """UPDATE files SET downloads = downloads + 1
               WHERE id = $1 AND (max_downloads IS NULL OR downloads < max_downloads)""",
            file_id,
        )
        return status.endswith(" 1")

    async def delete(self, file_id: str) -> FileRecord | None:
        return _record(await self._db.fetchrow(f"DELETE FROM files WHERE id = $1 RETURNING {_COLUMNS}", file_id))

    async def set_variants(
        self, file_id: str, variants: dict[str, Any], width: int | None, height: int | None, processing: str
    ) -> FileRecord | None:
        row = await self._db.fetchrow(
            f"""UPDATE files SET variants = $2, width = $3, height = $4, processing = $5
                WHERE id = $1 AND status = 'ready' RETURNING {_COLUMNS}""",
            file_id,
            variants,
            width,
            height,
            processing,
        )
        return _record(row)

    async def list_media_queued(
        self, completed_before: datetime, after: tuple[datetime, str] | None, limit: int
    ) -> list[FileRecord]:
        # Served by the partial index files_media_queued; no lock: enqueueing is idempotent per file.
        start = after or (datetime.min.replace(tzinfo=UTC), "")  # after everything: the first page
        rows = await self._db.fetch(
            f"""SELECT {_COLUMNS} FROM files
                WHERE processing = 'queued' AND status = 'ready' AND completed_at < $1
                  AND (completed_at, id) > ($2, $3)
                ORDER BY completed_at, id LIMIT $4""",
            completed_before,
            start[0],
            start[1],
            limit,
        )
        return _records(rows)

    async def delete_abandoned(self, limit: int) -> list[FileRecord]:
        rows = await self._db.fetch(
            f"""DELETE FROM files WHERE id IN (
                    SELECT id FROM files WHERE status = 'pending' AND upload_expires_at <= now()
                    ORDER BY upload_expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)
                RETURNING {_COLUMNS}""",
            limit,
        )
        return _records(rows)

    async def delete_expired(self, limit: int) -> list[FileRecord]:
        rows = await self._db.fetch(
            f"""DELETE FROM files WHERE id IN (
                    SELECT id FROM files WHERE expires_at <= now()
                    ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)
                RETURNING {_COLUMNS}""",
            limit,
        )
        return _records(rows)

    async def claim_blob_deletions(self, limit: int) -> list[tuple[int, str, str | None]]:
        # Claiming pushes `not_before` forward: a crashed drainer's rows come back after the lease
        # instead of being held by a long-lived transaction while the store is called.
        rows = await self._db.fetch(
            """UPDATE blob_deletions SET not_before = now() + interval '5 minutes'
               WHERE id IN (SELECT id FROM blob_deletions WHERE not_before <= now()
                            ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
               RETURNING id, object_key, upload_id""",
            limit,
        )
        return [(r["id"], r["object_key"], r["upload_id"]) for r in rows]

    async def finish_blob_deletions(self, done: Sequence[int], failed: Sequence[tuple[int, str]]) -> None:
        async with self._db.transaction() as conn:
            if done:
                await conn.execute("DELETE FROM blob_deletions WHERE id = ANY($1::bigint[])", list(done))
            for row_id, error in failed:
                await conn.execute(
                    f"""UPDATE blob_deletions SET attempts = attempts + 1, last_error = $2,
                            not_before = now() + {_RETRY_DELAY} WHERE id = $1""",
                    row_id,
                    error[:500],
                )
