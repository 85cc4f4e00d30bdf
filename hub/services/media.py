"""The media pipeline: image variants (thumbnail, medium) made by a worker from a job queue.

Delivery is at least once, so processing is idempotent: variant keys are derived from the file's key,
a file already processed is skipped, and variants written for a file deleted meanwhile are removed.
Transient failures (store or database unavailable) are retried with exponential backoff, then the job
goes back to the queue, which dead-letters it after `job_max_attempts`. A file that is not a valid
image (or is a decompression bomb) fails at once: retrying cannot help.

The same worker renders the media library's images (account-owned, jobs of kind `LIBRARY_JOB`): only
where the metadata lives differs, so the decoding, limits and variant keys are shared.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from dataclasses import dataclass

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from hub.errors import HubError, PayloadTooLarge, ServiceUnavailable
from hub.events import BusEvent, space_topic
from hub.logs import log_event
from hub.metrics import Metrics
from hub.ports.files import BlobStore, FileRepo, Job, JobQueue
from hub.ports.infra import Bus
from hub.ports.media_library import MediaLibraryRepo
from hub.services.files import file_public
from hub.services.jobs import JobRunner

log = logging.getLogger(__name__)

VARIANTS: tuple[tuple[str, int], ...] = (("thumb", 256), ("medium", 1280))
# Job kinds: a space file's variants, and a media library image's.
FILE_JOB = "media"
LIBRARY_JOB = "library_media"
_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WEBP"}


class BadImage(Exception):
    """The bytes are not a processable image of the declared type; permanent."""


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    data: bytes
    width: int
    height: int


def make_variants(data: bytes, content_type: str, max_pixels: int) -> tuple[int, int, list[Variant]]:
    """Decode once, then downscale into WebP variants (which keep alpha). CPU-bound: run in a thread."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    fmt = _FORMATS.get(content_type)
    if fmt is None:
        raise BadImage(f"unsupported type {content_type}")
    try:
        # Only the declared format's decoder may run, and the size is checked from the header before
        # any pixel is decoded: a decompression bomb is refused without allocating its pixels.
        image: Image.Image = Image.open(io.BytesIO(data), formats=[fmt])
        width, height = image.size
        if width <= 0 or height <= 0 or width * height > max_pixels:
            raise BadImage(f"{width}x{height} exceeds the pixel limit")
        image.draft("RGB", (VARIANTS[-1][1], VARIANTS[-1][1]))  # JPEG decodes at reduced scale
        image = ImageOps.exif_transpose(image)
        has_alpha = image.mode in {"RGBA", "LA", "PA"} or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
        out = []
        for name, box in VARIANTS:
            copy = image.copy()
            copy.thumbnail((box, box), Image.Resampling.LANCZOS)
            buf = io.BytesIO()
            copy.save(buf, "WEBP", quality=80, method=4)
            out.append(Variant(name, buf.getvalue(), copy.width, copy.height))
        return width, height, out
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError) as exc:
        raise BadImage(str(exc)[:200]) from None


def variant_key(object_key: str, name: str) -> str:
    return f"{object_key}.{name}.webp"


class MediaWorker:
    """Consumes media jobs: `run()` in the `hub worker` process, or inside an embedded hub."""

    def __init__(
        self,
        repo: FileRepo,
        store: BlobStore,
        bus: Bus,
        queue: JobQueue,
        metrics: Metrics,
        *,
        max_pixels: int,
        max_bytes: int,
        retry_attempts: int = 3,
        retry_wait: float = 0.2,
        library: MediaLibraryRepo | None = None,
    ) -> None:
        self.repo = repo
        self.store = store
        self.bus = bus
        self.queue = queue
        self.metrics = metrics
        self.max_pixels = max_pixels
        self.max_bytes = max_bytes
        self.retry_attempts = retry_attempts
        self.retry_wait = retry_wait
        self.library = library
        self.processed = 0

    def register(self, runner: JobRunner) -> None:
        runner.register("media", self.handle)
        runner.register(LIBRARY_JOB, self.handle)

    async def handle(self, job: Job) -> None:
        started = time.perf_counter()
        library = job.kind == LIBRARY_JOB
        file_id = str(job.payload.get("media_id" if library else "file_id", ""))
        process = self.process_library if library else self.process
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self.retry_attempts),
                wait=wait_exponential(multiplier=self.retry_wait, max=5),
                retry=retry_if_exception_type(ServiceUnavailable),
                reraise=True,
            ):
                with attempt:
                    await process(file_id)
            await self.queue.ack(job)
        except BadImage as exc:
            self.metrics.job_failures.inc()
            log_event("media_failed", file_id=file_id, reason=str(exc))
            await self._mark_failed(file_id, library)
            await self.queue.ack(job)
        except Exception as exc:
            self.metrics.job_failures.inc()
            code = exc.code if isinstance(exc, HubError) else type(exc).__name__
            log.warning(
                "media job failed", extra={"fields": {"job": job.id, "attempts": job.attempts + 1, "error": code}}
            )
            if await self.queue.fail(job, code):
                log_event("media_dead_lettered", file_id=file_id, job=job.id)
                await self._mark_failed(file_id, library)
        finally:
            self.metrics.job_latency.observe(time.perf_counter() - started)

    async def _mark_failed(self, file_id: str, library: bool = False) -> None:
        try:
            if library and self.library is not None:
                await self.library.set_variants(file_id, {}, None, None, "failed")
            else:
                await self.repo.set_variants(file_id, {}, None, None, "failed")
        except HubError:
            log.warning("could not mark media job failed", extra={"fields": {"file_id": file_id}})

    async def _render(self, object_key: str, content_type: str) -> tuple[int, int, dict[str, dict[str, str | int]]]:
        """Read the original, make its variants and store them; (width, height, stored variants)."""
        data = bytearray()
        try:
            async for chunk in self.store.read(object_key, max_bytes=self.max_bytes):
                data += chunk
        except PayloadTooLarge:
            raise BadImage("the image is larger than the media size limit") from None
        width, height, variants = await asyncio.to_thread(make_variants, bytes(data), content_type, self.max_pixels)
        stored: dict[str, dict[str, str | int]] = {}
        for v in variants:
            key = variant_key(object_key, v.name)
            await self.store.put(key, v.data, content_type="image/webp")
            stored[v.name] = {
                "key": key,
                "content_type": "image/webp",
                "width": v.width,
                "height": v.height,
                "size": len(v.data),
            }
        return width, height, stored

    async def _discard(self, stored: dict[str, dict[str, str | int]]) -> None:
        # The row was deleted while we worked: nothing references these objects, remove them.
        for variant in stored.values():
            await self.store.delete(str(variant["key"]))

    async def process(self, file_id: str) -> None:
        record = await self.repo.get(file_id)
        if record is None or record.status != "ready" or record.processing == "done":
            return  # deleted, not uploaded, or a redelivery of finished work
        width, height, stored = await self._render(record.object_key, record.content_type)
        updated = await self.repo.set_variants(file_id, stored, width, height, "done")
        if updated is None:
            await self._discard(stored)
            return
        self.processed += 1
        log_event("media_processed", file_id=file_id, space_id=updated.space_id)
        await self.bus.publish(
            space_topic(updated.space_id),
            {
                "type": BusEvent.FILE_PROCESSED,
                "space_id": updated.space_id,
                "file": file_public(updated),
            },
        )

    async def process_library(self, media_id: str) -> None:
        """A media library image; its owner learns of the variants from `GET /media/{id}`."""
        if self.library is None:
            raise BadImage("this worker has no media library")
        record = await self.library.get(media_id)
        if record is None or record.status != "ready" or record.processing == "done":
            return
        width, height, stored = await self._render(record.object_key, record.content_type)
        if await self.library.set_variants(media_id, stored, width, height, "done") is None:
            await self._discard(stored)
            return
        self.processed += 1
        log_event("media_processed", media_id=media_id, owner_id=record.owner_id)
