"""The media library: images an account uploads for its posts and its avatar.

Uploads follow the file pipeline (`hub.services.files`): the hub signs a short-lived upload whose key,
exact Content-Type and exact size the store enforces, checks the object when the client says it is
done, and the media worker makes the thumb and medium variants. Only images of the allow-list are
accepted, at most HUB_MEDIA_UPLOAD_MAX_BYTES, and the worker's pixel limit refuses decompression
bombs. Reads hand out presigned URLs; the hub never carries the bytes.

A media row belongs to its owner alone: any other account gets, for its id, exactly the answer of an
id that does not exist. Posts attach media through the repository's `claim_for_post` (an image
still being processed may be attached and shows its original; one the worker refused may not); a
deleted post's media are deleted with it unless one is also an avatar; media that stay unattached
(never used, or dropped from a post by an edit) for HUB_MEDIA_UNATTACHED_TTL are deleted by the
sweeper. Objects go through the `blob_deletions` queue the files capability drains.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.config import Settings
from hub.errors import (
    AccountRequired,
    HubError,
    MediaNotFound,
    MediaTooLarge,
    RateLimited,
    UploadIncomplete,
    UploadMismatch,
    ValidationFailed,
)
from hub.logs import log_event
from hub.metrics import Metrics
from hub.models import Principal
from hub.ports.files import BlobStore, JobQueue, PresignedUpload
from hub.ports.infra import RateLimiter
from hub.ports.media_library import MediaLibraryRepo, MediaRecord, NewMedia
from hub.services.files import MEDIA_REQUEUE_GRACE, MEDIA_TYPES
from hub.services.files_input import check_content_type, content_disposition, normalize_filename
from hub.services.media import LIBRARY_JOB
from hub.tasks import every

log = logging.getLogger(__name__)

# The allow-list: the types the media worker decodes (and browsers render inline).
IMAGE_TYPES = tuple(sorted(MEDIA_TYPES))
VARIANT_NAMES = ("thumb", "medium")


def now() -> datetime:
    return datetime.now(UTC)


def library_job_id(media_id: str) -> str:
    """One job id per media row: enqueueing it again while it waits is a no-op."""
    return f"library-media:{media_id}"


@dataclass(frozen=True, slots=True)
class MediaUploadRequest:
    filename: str
    size: int
    content_type: str


@dataclass(frozen=True, slots=True)
class CreatedMedia:
    media: MediaRecord
    upload: PresignedUpload
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class VariantView:
    url: str
    content_type: str
    width: int
    height: int
    size: int


@dataclass(frozen=True, slots=True)
class MediaView:
    """A media row with short-lived URLs of its original and variants (when it is ready)."""

    media: MediaRecord
    url: str | None
    variants: dict[str, VariantView]
    urls_expire_at: datetime | None


class MediaLibraryService:
    """Uploads, reads and deletion of account-owned media, and their sweeper."""

    def __init__(
        self,
        repo: MediaLibraryRepo,
        store: BlobStore,
        limiter: RateLimiter,
        metrics: Metrics,
        settings: Settings,
        *,
        jobs: JobQueue | None = None,
        deleted: Callable[[], None] = lambda: None,
    ) -> None:
        self.repo = repo
        self.store = store
        self.limiter = limiter
        self.metrics = metrics
        self.settings = settings
        self.jobs = jobs
        # Called after rows were deleted, so the deletion drain (the files capability's) runs soon.
        self._deleted = deleted
        self._queued_cursor: tuple[datetime, str] | None = None

    # --- helpers ----------------------------------------------------------------------------

    async def _own(self, principal: Principal, media_id: str) -> MediaRecord:
        record = await self.repo.get(media_id) if 0 < len(media_id) <= 64 else None
        if record is None or record.owner_id != principal.user_id:
            raise MediaNotFound()
        return record

    async def _reject(self, record: MediaRecord, reason: str, **details: Any) -> UploadMismatch:
        await self.repo.delete(record.id)
        self._deleted()
        log_event("media_rejected", media_id=record.id, owner_id=record.owner_id, reason=reason)
        return UploadMismatch(details={"reason": reason, **details})

    # --- upload -----------------------------------------------------------------------------

    async def create_upload(self, principal: Principal, req: MediaUploadRequest) -> CreatedMedia:
        if principal.is_guest:
            raise AccountRequired()
        s = self.settings
        content_type = check_content_type(req.content_type, IMAGE_TYPES, ())
        if req.size <= 0:
            raise ValidationFailed({"size": "must be greater than zero"})
        if req.size > s.media_upload_max_bytes:
            raise MediaTooLarge(details={"max_bytes": s.media_upload_max_bytes})
        retry = await self.limiter.hit(s.media_rate_limit, "media", principal.user_id)
        if retry:
            raise RateLimited(retry)
        media_id = secrets.token_urlsafe(16)
        record = await self.repo.insert(
            NewMedia(
                id=media_id,
                owner_id=principal.user_id,
                object_key=f"media/{principal.user_id}/{media_id}",
                filename=normalize_filename(req.filename),
                content_type=content_type,
                size=req.size,
            )
        )
        self.metrics.uploads_created.inc()
        upload = await self.store.presign_upload(
            record.object_key,
            content_type=content_type,
            min_bytes=req.size,
            max_bytes=req.size,
            ttl=s.upload_url_ttl,
        )
        return CreatedMedia(record, upload, upload.expires_at)

    async def complete(self, principal: Principal, media_id: str) -> MediaRecord:
        record = await self._own(principal, media_id)
        if record.status == "ready":
            return record  # completing twice is harmless (a retried request)
        info = await self.store.head(record.object_key)
        if info is None:
            raise UploadIncomplete()
        if info.size != record.size:
            raise await self._reject(record, "size", expected=record.size, actual=info.size)
        if info.size > self.settings.media_upload_max_bytes:
            raise await self._reject(record, "too_large", max_bytes=self.settings.media_upload_max_bytes)
        if info.content_type.lower() != record.content_type:
            raise await self._reject(record, "content_type", expected=record.content_type)
        ready = await self.repo.mark_ready(record.id, size=info.size, processing="queued" if self.jobs else None)
        if ready is None:
            current = await self.repo.get(record.id)
            if current is None or current.status != "ready":
                raise MediaNotFound()
            return current
        self.metrics.bytes_confirmed.inc(ready.size)
        log_event("media_uploaded", media_id=ready.id, owner_id=ready.owner_id, size=ready.size)
        await self._enqueue(ready.id)
        return ready

    async def _enqueue(self, media_id: str) -> bool:
        if self.jobs is None:
            return False
        try:
            return await self.jobs.enqueue(library_job_id(media_id), LIBRARY_JOB, {"media_id": media_id})
        except HubError:
            # The row stays `queued`: the sweeper enqueues it again after MEDIA_REQUEUE_GRACE.
            log.warning("media job not enqueued", extra={"fields": {"media_id": media_id}})
            return False

    # --- read and manage --------------------------------------------------------------------

    async def status(self, principal: Principal, media_id: str) -> MediaRecord:
        return await self._own(principal, media_id)

    async def get(self, principal: Principal, media_id: str) -> MediaView:
        return (await self._views([await self._own(principal, media_id)]))[0]

    async def views(self, media_ids: Sequence[str]) -> dict[str, MediaView]:
        """Ready media by id with URLs, for what others may see (avatars, a post's images): the caller
        has already decided that the viewer may see the profile or post that names them."""
        wanted = list(dict.fromkeys(i for i in media_ids if i))
        # Bytes the worker could not decode as the declared image are never shown to others: they may
        # be anything at all, and their type says image.
        records = [r for r in await self.repo.get_many(wanted) if r.status == "ready" and r.processing != "failed"]
        return {v.media.id: v for v in await self._views(records)}

    async def _views(self, records: Sequence[MediaRecord]) -> list[MediaView]:
        ttl = self.settings.download_url_ttl
        expires = now() + timedelta(seconds=ttl)
        out = []
        for record in records:
            if record.status != "ready":
                out.append(MediaView(record, None, {}, None))
                continue
            url = await self.store.presign_download(
                record.object_key,
                ttl=ttl,
                content_type=record.content_type,
                disposition=content_disposition("inline", record.filename),
            )
            variants = {}
            stem = record.filename.rsplit(".", 1)[0] if "." in record.filename else record.filename
            for name in VARIANT_NAMES:
                found = record.variants.get(name)
                if not isinstance(found, dict) or "key" not in found:
                    continue
                variants[name] = VariantView(
                    url=await self.store.presign_download(
                        str(found["key"]),
                        ttl=ttl,
                        content_type=str(found["content_type"]),
                        disposition=content_disposition("inline", f"{stem}.{name}.webp"),
                    ),
                    content_type=str(found["content_type"]),
                    width=int(found["width"]),
                    height=int(found["height"]),
                    size=int(found["size"]),
                )
            out.append(MediaView(record, url, variants, expires))
        self.metrics.downloads_created.inc(len(out))
        return out

    async def delete(self, principal: Principal, media_id: str) -> None:
        """Delete a media row and its objects; a post or profile using it simply loses it."""
        record = await self._own(principal, media_id)
        if await self.repo.delete(record.id) is not None:
            self._deleted()
            log_event("media_deleted", media_id=record.id, owner_id=record.owner_id)

    async def post_deleted(self, post_id: str) -> int:
        """A post is gone: its media go too, objects included (an avatar among them only loses the post)."""
        deleted = await self.repo.delete_for_post(post_id)
        if deleted:
            self._deleted()
            log_event("media_deleted", post_id=post_id, media=len(deleted))
        return len(deleted)

    async def set_avatar(self, user_id: str, media_id: str | None) -> None:
        """Make one of the account's ready images its avatar (None clears it)."""
        usable = media_id is None or 0 < len(media_id) <= 64
        if not usable or not await self.repo.set_avatar(user_id, media_id):
            raise ValidationFailed({"avatar": "must be one of your own completed image uploads (POST /media/upload)"})

    # --- background -------------------------------------------------------------------------

    async def sweep_once(self, limit: int = 100) -> int:
        """Delete unattached media past their TTL and enqueue again lost media jobs."""
        cutoff = now() - timedelta(seconds=self.settings.media_unattached_ttl)
        swept = await self.repo.delete_unattached(cutoff, limit)
        if swept:
            self._deleted()
            log_event("media_swept", deleted=len(swept))
        await self.requeue(limit=limit)
        return len(swept)

    async def requeue(self, grace: float = MEDIA_REQUEUE_GRACE, limit: int = 100) -> int:
        """Enqueue again the jobs of images that waited `grace` seconds for their variants (see
        `FileService.requeue_media`: the job id is per row, so several sweepers enqueue it once)."""
        if self.jobs is None:
            return 0
        waiting = await self.repo.list_queued(now() - timedelta(seconds=grace), self._queued_cursor, limit)
        last = waiting[-1] if len(waiting) == limit else None
        self._queued_cursor = (last.completed_at, last.id) if last and last.completed_at else None
        enqueued = 0
        for record in waiting:
            with contextlib.suppress(HubError):
                if await self.jobs.enqueue(library_job_id(record.id), LIBRARY_JOB, {"media_id": record.id}):
                    enqueued += 1
        if enqueued:
            log_event("media_requeued", media=enqueued)
        return enqueued

    async def sweep_forever(self, interval: float) -> None:
        await every(interval, self.sweep_once, "media sweep")
