"""Files: direct-to-store uploads (single and multipart), quotas, downloads, deletion and expiry.

Bytes never pass through the hub in S3 mode: the hub signs short-lived URLs whose conditions the store
enforces (key, exact Content-Type, exact size), then checks the object when the client says it is done.
Quota is reserved when the upload is created (pending files count) and checked again at completion.
Objects are deleted through the `blob_deletions` queue that the database fills in the same transaction
as the row deletion, so a space that expires, a user's delete and the sweepers all go one way.
What a client declares (filename, content type, checksum) is checked by `files_input.py` first.

An image's media job is enqueued after the commit that makes the file ready; when that enqueue is lost
(the queue unavailable, the process gone in between), the sweeper enqueues it again once the file has
waited `MEDIA_REQUEUE_GRACE`. Job ids are per file and the queues drop an id they already hold, so any
number of sweepers may do this at once: at least once, never a second copy of a waiting job.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.config import Settings
from hub.errors import (
    DownloadLimitReached,
    FileExpired,
    FileNotFound,
    FileNotReady,
    FileTooLarge,
    HubError,
    NotFound,
    NotMultipart,
    NotPending,
    QuotaExceeded,
    UploadIncomplete,
    UploadMismatch,
    ValidationFailed,
    VariantNotFound,
)
from hub.events import BusEvent, space_topic
from hub.logs import log_event
from hub.metrics import Metrics
from hub.models import Principal, Role, SpaceAccess
from hub.pagination import Cursor, Page, page_of
from hub.ports.files import BlobStore, FileRecord, FileRepo, JobQueue, NewFile, PartInfo, PresignedUpload
from hub.ports.infra import Bus
from hub.services.files_input import (
    check_content_type,
    check_sha256,
    content_disposition,
    disposition_kind,
    normalize_filename,
)

log = logging.getLogger(__name__)

# S3's multipart limits: at most 10,000 parts, each but the last 5 MiB to 5 GiB, 5 TiB in all. The
# configured part size is within the part bounds (hub.config), so a plan of `_part_plan` never breaks them.
MAX_PARTS = 10_000
MAX_MULTIPART_BYTES = 5 * 1024**4
# Seconds a ready image may wait for its media job before the sweeper enqueues the job again: long
# enough that the enqueue right after completion normally comes first (a second one would be dropped).
MEDIA_REQUEUE_GRACE = 60.0
MEDIA_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


def _no_such_file() -> NotFound:
    return FileNotFound("No such file.")


def now() -> datetime:
    return datetime.now(UTC)


def media_job_id(file_id: str) -> str:
    """One job id per file: enqueueing it again while it waits in the queue is a no-op."""
    return f"media:{file_id}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def file_public(record: FileRecord) -> dict[str, Any]:
    """What clients see of a file (also the `file` of bus events, hence JSON-able values only);
    object keys and upload ids stay private."""
    return {
        "id": record.id,
        "space_id": record.space_id,
        "filename": record.filename,
        "content_type": record.content_type,
        "size": record.size,
        "sha256": record.sha256,
        "status": record.status,
        "created_by": record.created_by,
        "created_at": _iso(record.created_at),
        "completed_at": _iso(record.completed_at),
        "expires_at": _iso(record.expires_at),
        "max_downloads": record.max_downloads,
        "downloads": record.downloads,
        "processing": record.processing,
        "width": record.width,
        "height": record.height,
        "variants": {
            name: {k: v for k, v in variant.items() if k != "key"}
            for name, variant in record.variants.items()
            if isinstance(variant, dict)
        },
        "multipart": record.multipart_upload_id is not None and record.status == "pending",
    }


@dataclass(frozen=True, slots=True)
class UploadRequest:
    filename: str
    size: int
    content_type: str
    sha256: str | None = None
    expires_in: int | None = None
    max_downloads: int | None = None


@dataclass(frozen=True, slots=True)
class CreatedUpload:
    file: FileRecord
    upload: PresignedUpload | None
    part_size: int | None
    part_count: int | None
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class UploadedParts:
    """Where a multipart upload stands, for a client that resumes it: its plan and the parts received."""

    part_size: int
    part_count: int
    parts: list[PartInfo]


@dataclass(frozen=True, slots=True)
class Download:
    url: str
    expires_at: datetime


class FileService:
    """Everything about files; authorization goes through `SpaceAccess` checks like every capability."""

    def __init__(
        self,
        repo: FileRepo,
        store: BlobStore,
        bus: Bus,
        metrics: Metrics,
        settings: Settings,
        access: Callable[[Principal, str, Role], Awaitable[SpaceAccess]],
        jobs: JobQueue | None = None,
    ) -> None:
        self.repo = repo
        self.store = store
        self.bus = bus
        self.metrics = metrics
        self.settings = settings
        self._access = access
        self.jobs = jobs
        self._wake = asyncio.Event()
        # Where the next media re-enqueue scan resumes, so a long backlog is walked through, not re-read.
        self._media_cursor: tuple[datetime, str] | None = None

    # --- helpers -----------------------------------------------------------------------------------

    async def _file(self, principal: Principal, file_id: str, need: Role) -> FileRecord:
        record = await self.repo.get(file_id) if 0 < len(file_id) <= 64 else None
        if record is None:
            raise _no_such_file()
        try:
            await self._access(principal, record.space_id, need)
        except NotFound:
            # Not a member: the very answer of a missing file (code and message too), so a file id
            # reveals neither that it exists nor that it belongs to some space.
            raise _no_such_file() from None
        return record

    def _part_plan(self, size: int) -> tuple[int, int]:
        """(part size, part count) of a new multipart upload: the configured part size, larger when the
        file would need more than MAX_PARTS parts."""
        if size > MAX_MULTIPART_BYTES:
            raise FileTooLarge(
                "The file is larger than a multipart upload can be.",
                details={"max_bytes": MAX_MULTIPART_BYTES},
            )
        part_size = max(self.settings.multipart_part_bytes, math.ceil(size / MAX_PARTS))
        return part_size, max(1, math.ceil(size / part_size))

    def _plan_of(self, record: FileRecord) -> tuple[int, int]:
        """The plan an upload was created with; rows older than the `part_size` column follow the
        configured size, as they did when they were created."""
        if record.part_size is None:
            return self._part_plan(record.size)
        return record.part_size, max(1, math.ceil(record.size / record.part_size))

    @staticmethod
    def _part_bytes(size: int, part_size: int, count: int, number: int) -> int:
        return part_size if number < count else size - part_size * (count - 1)

    async def _timed(self, coro: Awaitable[Any]) -> Any:
        started = time.perf_counter()
        try:
            return await coro
        finally:
            self.metrics.presign_latency.observe(time.perf_counter() - started)

    # --- upload ------------------------------------------------------------------------------------

    async def create_upload(self, principal: Principal, space_id: str, req: UploadRequest) -> CreatedUpload:
        access = await self._access(principal, space_id, Role.EDITOR)
        s = self.settings
        content_type = check_content_type(req.content_type, s.content_type_allow, s.content_type_deny)
        if req.size < 0:
            raise ValidationFailed({"size": "must not be negative"})
        if req.size > s.file_max_bytes:
            raise FileTooLarge("The file is larger than allowed.", details={"max_bytes": s.file_max_bytes})
        sha256 = check_sha256(req.sha256)
        expires_at = None
        if req.expires_in is not None:
            expires_at = min(now() + timedelta(seconds=req.expires_in), access.expires_at)
        multipart = req.size > s.multipart_threshold
        # Planned before anything is created: a size no plan fits is refused here, not at completion.
        plan = self._part_plan(req.size) if multipart else None
        file_id = secrets.token_urlsafe(16)
        key = f"spaces/{space_id}/{file_id}"
        upload_id = None
        if multipart:
            upload_id = await self.store.create_multipart(key, content_type=content_type)
        abandon = s.upload_abandon_after if multipart else min(s.upload_abandon_after, s.upload_url_ttl + 600)
        new = NewFile(
            id=file_id,
            space_id=space_id,
            object_key=key,
            filename=normalize_filename(req.filename),
            content_type=content_type,
            size=req.size,
            sha256=sha256,
            multipart_upload_id=upload_id,
            created_by=principal.user_id,
            upload_expires_at=now() + timedelta(seconds=abandon),
            expires_at=expires_at,
            max_downloads=req.max_downloads,
            part_size=plan[0] if plan else None,
        )
        record = await self.repo.insert_within_quota(new, s.space_quota_bytes)
        if record is None:
            if upload_id is not None:
                await self.store.abort_multipart(key, upload_id)
            raise QuotaExceeded(details={"quota_bytes": s.space_quota_bytes})
        self.metrics.uploads_created.inc()
        if plan is not None:
            return CreatedUpload(record, None, plan[0], plan[1], record.upload_expires_at)
        upload = await self._timed(
            self.store.presign_upload(
                key,
                content_type=content_type,
                min_bytes=req.size,
                max_bytes=req.size,
                ttl=s.upload_url_ttl,
            )
        )
        return CreatedUpload(record, upload, None, None, upload.expires_at)

    async def presign_parts(self, principal: Principal, file_id: str, numbers: list[int]) -> list[PresignedUpload]:
        record = await self._file(principal, file_id, Role.EDITOR)
        if record.status != "pending" or record.multipart_upload_id is None:
            raise NotMultipart("This file is not a multipart upload in progress.")
        part_size, count = self._plan_of(record)
        bad = [n for n in numbers if not 1 <= n <= count]
        if bad or not numbers:
            raise ValidationFailed({"part_numbers": f"must be between 1 and {count}"})
        urls = []
        for n in sorted(set(numbers)):
            # Each URL admits exactly the part's planned length, so a wrong-sized part is refused by the
            # store when it is sent instead of failing the whole upload at completion.
            urls.append(
                await self._timed(
                    self.store.presign_part(
                        record.object_key,
                        record.multipart_upload_id,
                        n,
                        ttl=self.settings.upload_url_ttl,
                        size=self._part_bytes(record.size, part_size, count, n),
                    )
                )
            )
        self.metrics.uploads_created.inc(len(urls))
        return urls

    async def list_parts(self, principal: Principal, file_id: str) -> UploadedParts:
        record = await self._file(principal, file_id, Role.EDITOR)
        if record.status != "pending" or record.multipart_upload_id is None:
            raise NotMultipart("This file is not a multipart upload in progress.")
        part_size, count = self._plan_of(record)
        parts = await self.store.list_parts(record.object_key, record.multipart_upload_id)
        return UploadedParts(part_size, count, parts)

    async def _reject(
        self, record: FileRecord, reason: str, message: str | None = None, **details: Any
    ) -> UploadMismatch:
        """Delete a bad upload (row, object, multipart upload) and describe why."""
        await self.repo.delete(record.id)
        with contextlib.suppress(HubError):  # the deletion queue retries whatever fails here
            if record.multipart_upload_id:
                await self.store.abort_multipart(record.object_key, record.multipart_upload_id)
            await self.store.delete(record.object_key)
        self._wake.set()
        log_event("upload_rejected", file_id=record.id, space_id=record.space_id, reason=reason)
        return UploadMismatch(message, details={"reason": reason, **details})

    async def _complete_multipart(self, record: FileRecord) -> None:
        assert record.multipart_upload_id is not None
        part_size, count = self._plan_of(record)
        parts = {p.number: p for p in await self.store.list_parts(record.object_key, record.multipart_upload_id)}
        missing = [n for n in range(1, count + 1) if n not in parts]
        if missing:
            raise UploadIncomplete(
                "Some parts have not been uploaded yet.",
                details={"missing_parts": missing[:100]},
            )
        # The part URLs admit only the planned sizes, but a store that does not check them (or a part sent
        # some other way) must not reach S3's completion, which would refuse a small part only then.
        for n in range(1, count + 1):
            expected = self._part_bytes(record.size, part_size, count, n)
            if parts[n].size != expected:
                raise await self._reject(
                    record,
                    "part_size",
                    f"Part {n} has {parts[n].size} bytes instead of {expected}; the upload was deleted.",
                    part_number=n,
                    expected=expected,
                    actual=parts[n].size,
                )
        await self.store.complete_multipart(
            record.object_key, record.multipart_upload_id, [parts[n] for n in range(1, count + 1)]
        )

    async def complete(self, principal: Principal, file_id: str) -> FileRecord:
        record = await self._file(principal, file_id, Role.EDITOR)
        if record.status == "ready":
            return record  # completing twice is harmless (a retried request)
        if record.multipart_upload_id is not None:
            await self._complete_multipart(record)
        info = await self.store.head(record.object_key)
        if info is None:
            raise UploadIncomplete("The object has not been uploaded yet.")
        if info.size != record.size:
            raise await self._reject(record, "size", expected=record.size, actual=info.size)
        if info.size > self.settings.file_max_bytes:
            raise await self._reject(record, FileTooLarge.code, max_bytes=self.settings.file_max_bytes)
        if info.content_type.lower() != record.content_type:
            raise await self._reject(record, "content_type", expected=record.content_type)
        if record.sha256 is not None:
            digest = hashlib.sha256()
            async for chunk in self.store.read(record.object_key, max_bytes=record.size):
                digest.update(chunk)
            if digest.hexdigest() != record.sha256:
                raise await self._reject(record, "sha256")
        media = record.content_type in MEDIA_TYPES and self.jobs is not None
        ready = await self.repo.mark_ready(
            file_id,
            size=info.size,
            quota_bytes=self.settings.space_quota_bytes,
            processing="queued" if media else None,
        )
        if ready is None:
            current = await self.repo.get(file_id)
            if current is not None and current.status == "ready":
                return current
            if current is None:
                raise _no_such_file()
            await self._reject(current, "quota")
            raise QuotaExceeded(details={"quota_bytes": self.settings.space_quota_bytes})
        self.metrics.bytes_confirmed.inc(ready.size)
        log_event("file_uploaded", file_id=file_id, space_id=ready.space_id, size=ready.size)
        await self.bus.publish(
            space_topic(ready.space_id),
            {
                "type": BusEvent.FILE_UPLOADED,
                "space_id": ready.space_id,
                "file": file_public(ready),
            },
        )
        if media and self.jobs is not None:
            try:
                await self.jobs.enqueue(media_job_id(file_id), "media", {"file_id": file_id})
            except HubError:
                # The file stays `queued`: the sweeper enqueues it again after MEDIA_REQUEUE_GRACE.
                log.warning("media job not enqueued", extra={"fields": {"file_id": file_id}})
        return ready

    async def abort(self, principal: Principal, file_id: str) -> None:
        record = await self._file(principal, file_id, Role.EDITOR)
        if record.status != "pending":
            raise NotPending("Only an upload in progress can be aborted.")
        await self.delete(principal, file_id)

    # --- read and manage ---------------------------------------------------------------------------

    async def get(self, principal: Principal, file_id: str) -> FileRecord:
        return await self._file(principal, file_id, Role.VIEWER)

    async def list(self, principal: Principal, space_id: str, cursor: str | None, limit: int) -> Page[FileRecord]:
        await self._access(principal, space_id, Role.VIEWER)
        after = Cursor.decode(cursor)
        rows = await self.repo.list_ready(space_id, (after.at, after.id) if after else None, limit + 1)
        return page_of(rows, limit, lambda r: (r.created_at, r.id))

    async def list_uploads(
        self, principal: Principal, space_id: str, cursor: str | None, limit: int
    ) -> Page[FileRecord]:
        """The caller's own uploads in progress in a space (a client resumes them after a reload)."""
        await self._access(principal, space_id, Role.EDITOR)
        after = Cursor.decode(cursor)
        rows = await self.repo.list_pending(
            space_id, principal.user_id, (after.at, after.id) if after else None, limit + 1
        )
        return page_of(rows, limit, lambda r: (r.created_at, r.id))

    async def delete(self, principal: Principal, file_id: str) -> None:
        record = await self._file(principal, file_id, Role.EDITOR)
        deleted = await self.repo.delete(file_id)
        if deleted is None:
            return
        self._wake.set()
        log_event("file_deleted", file_id=file_id, space_id=record.space_id, by=principal.user_id)
        if deleted.status == "ready":
            await self.bus.publish(
                space_topic(record.space_id),
                {
                    "type": BusEvent.FILE_DELETED,
                    "space_id": record.space_id,
                    "file_id": file_id,
                },
            )

    async def download(
        self, principal: Principal, file_id: str, *, variant: str | None = None, attachment: bool = False
    ) -> Download:
        record = await self._file(principal, file_id, Role.VIEWER)
        if record.status != "ready":
            raise FileNotReady("The file has not finished uploading.")
        if record.expires_at is not None and record.expires_at <= now():
            raise FileExpired("This file has expired.")
        key, content_type, filename = record.object_key, record.content_type, record.filename
        if variant is not None:
            found = record.variants.get(variant)
            if not isinstance(found, dict) or "key" not in found:
                raise VariantNotFound("No such variant.")
            key, content_type = str(found["key"]), str(found["content_type"])
            stem = filename.rsplit(".", 1)[0] if "." in filename else filename
            filename = f"{stem}.{variant}.webp"
        elif not await self.repo.count_download(file_id):
            raise DownloadLimitReached("This file has reached its maximum number of downloads.")
        kind = disposition_kind(content_type, attachment)
        ttl = self.settings.download_url_ttl
        url = await self._timed(
            self.store.presign_download(
                key,
                ttl=ttl,
                content_type=content_type,
                disposition=content_disposition(kind, filename),
            )
        )
        self.metrics.downloads_created.inc()
        return Download(url, now() + timedelta(seconds=ttl))

    # --- background --------------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    async def sweep_once(self, limit: int = 100) -> int:
        """Delete abandoned uploads and expired files; their objects go through the deletion queue."""
        abandoned = await self.repo.delete_abandoned(limit)
        expired = await self.repo.delete_expired(limit)
        for record in expired:
            if record.status == "ready":
                await self.bus.publish(
                    space_topic(record.space_id),
                    {
                        "type": BusEvent.FILE_DELETED,
                        "space_id": record.space_id,
                        "file_id": record.id,
                        "reason": "expired",
                    },
                )
        if abandoned or expired:
            log_event("files_swept", abandoned=len(abandoned), expired=len(expired))
        return len(abandoned) + len(expired)

    async def requeue_media(self, grace: float = MEDIA_REQUEUE_GRACE, limit: int = 100) -> int:
        """Enqueue again the media jobs of images that have waited `grace` seconds for their variants;
        returns how many were missing from the queue (the others are dropped as duplicates there).

        Each call reads the next `limit` waiting files and the walk starts over at the end, so a backlog
        larger than `limit` is covered in turn rather than its oldest files read again and again.
        """
        if self.jobs is None:
            return 0
        waiting = await self.repo.list_media_queued(now() - timedelta(seconds=grace), self._media_cursor, limit)
        last = waiting[-1] if len(waiting) == limit else None
        self._media_cursor = (last.completed_at, last.id) if last and last.completed_at else None
        enqueued = 0
        for record in waiting:
            if await self.jobs.enqueue(media_job_id(record.id), "media", {"file_id": record.id}):
                enqueued += 1
        if enqueued:
            log_event("media_requeued", files=enqueued)
        return enqueued

    async def drain_deletions(self, limit: int = 100) -> int:
        """Delete queued objects from the store; failures come back later with a growing delay."""
        claimed = await self.repo.claim_blob_deletions(limit)
        done: list[int] = []
        failed: list[tuple[int, str]] = []
        for row_id, key, upload_id in claimed:
            try:
                if upload_id:
                    await self.store.abort_multipart(key, upload_id)
                await self.store.delete(key)
                done.append(row_id)
            except HubError as exc:
                failed.append((row_id, exc.code))
        if claimed:
            await self.repo.finish_blob_deletions(done, failed)
        if failed:
            log.warning("blob deletions failed", extra={"fields": {"failed": len(failed)}})
        return len(done)

    async def maintain_forever(self, interval: float) -> None:
        """The sweeper, the deletion drain and the media re-enqueue, woken early when something was just
        deleted. Every hub and `hub worker` process runs it (unless HUB_SWEEP_INTERVAL is 0), and each
        step is safe to run in several processes at once."""
        while True:
            try:
                await self.sweep_once()
                while await self.drain_deletions() > 0:
                    pass
                await self.requeue_media()
            except HubError as exc:
                log.warning("file maintenance failed", extra={"fields": {"code": exc.code}})
            except Exception:
                log.exception("file maintenance crashed; retrying")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await self._wake.wait()
            self._wake.clear()
