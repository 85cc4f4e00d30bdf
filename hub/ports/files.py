"""Ports of the files capability: the blob store, the file repository and the media job queue.

Two blob stores implement `BlobStore` side by side (S3-compatible and local disk) and one contract
test suite runs against both, so the service cannot tell them apart. Stores raise only hub errors:
`NotFound` for a missing object or multipart upload, `ServiceUnavailable` when the store is unreachable.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol


@dataclass(frozen=True, slots=True)
class PresignedUpload:
    """What a client needs to send one object straight to the store.

    POST: a multipart/form-data request to `url` with every entry of `fields` first, then the file
    in a field named `file` (S3 browser-upload semantics). PUT: the raw bytes with `headers`.
    """

    method: Literal["POST", "PUT"]
    url: str
    fields: dict[str, str]
    headers: dict[str, str]
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int
    content_type: str
    etag: str


@dataclass(frozen=True, slots=True)
class PartInfo:
    number: int
    size: int
    etag: str


class BlobStore(Protocol):
    """An object store that hands out short-lived, signed URLs for direct client transfers.

    Upload URLs pin the key, the exact Content-Type and a size range; the store itself refuses
    anything else (403 for a bad signature, policy or expiry; 4xx for a size outside the range).
    """

    name: str

    async def presign_upload(
        self, key: str, *, content_type: str, min_bytes: int, max_bytes: int, ttl: int
    ) -> PresignedUpload:
        """`ttl` may be zero or negative (tests presign URLs that are already expired)."""
        ...

    async def presign_download(self, key: str, *, ttl: int, content_type: str, disposition: str) -> str: ...

    async def head(self, key: str) -> ObjectInfo | None: ...

    def read(self, key: str, *, max_bytes: int) -> AsyncIterator[bytes]:
        """Stream the object; NotFound when missing, PayloadTooLarge past `max_bytes`."""
        ...

    async def put(self, key: str, data: bytes, *, content_type: str) -> None: ...

    async def delete(self, key: str) -> None:
        """Idempotent: deleting a missing object succeeds."""
        ...

    async def create_multipart(self, key: str, *, content_type: str) -> str:
        """Start a multipart upload; returns its upload id."""
        ...

    async def presign_part(self, key: str, upload_id: str, part_number: int, *, ttl: int, size: int) -> PresignedUpload:
        """A PUT URL for one part (1-based) of exactly `size` bytes: the store refuses any other length."""
        ...

    async def list_parts(self, key: str, upload_id: str) -> list[PartInfo]:
        """Parts received so far, by number; NotFound when the upload is unknown or finished."""
        ...

    async def complete_multipart(self, key: str, upload_id: str, parts: Sequence[PartInfo]) -> None: ...

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        """Idempotent: aborting an unknown upload succeeds."""
        ...

    async def check(self) -> None: ...

    async def close(self) -> None: ...


# `pending` from the upload's creation until `complete` checked the object, then `ready`; nothing else.
FileStatus = Literal["pending", "ready"]


@dataclass(frozen=True, slots=True)
class FileRecord:
    id: str
    space_id: str
    object_key: str
    filename: str
    content_type: str
    size: int
    sha256: str | None
    status: FileStatus
    multipart_upload_id: str | None
    created_by: str | None
    created_at: datetime
    upload_expires_at: datetime
    completed_at: datetime | None
    expires_at: datetime | None
    max_downloads: int | None
    downloads: int
    processing: str | None
    width: int | None
    height: int | None
    variants: dict[str, Any] = field(default_factory=dict)
    # Multipart uploads: the size of every part but the last, fixed when the upload was created.
    part_size: int | None = None


@dataclass(frozen=True, slots=True)
class NewFile:
    id: str
    space_id: str
    object_key: str
    filename: str
    content_type: str
    size: int
    sha256: str | None
    multipart_upload_id: str | None
    created_by: str
    upload_expires_at: datetime
    expires_at: datetime | None
    max_downloads: int | None
    part_size: int | None = None


class FileRepo(Protocol):
    """Persistence of file metadata. Deleting a row queues its objects for deletion in the same
    transaction (see `blob_deletions`), so no path can forget the store."""

    async def insert_within_quota(self, new: NewFile, quota_bytes: int) -> FileRecord | None:
        """Insert unless the space's reserved bytes plus `new.size` exceed the quota (then None)."""
        ...

    async def get(self, file_id: str) -> FileRecord | None: ...

    async def list_ready(self, space_id: str, after: tuple[datetime, str] | None, limit: int) -> list[FileRecord]:
        """Ready files, newest first."""
        ...

    async def list_pending(
        self, space_id: str, created_by: str, after: tuple[datetime, str] | None, limit: int
    ) -> list[FileRecord]:
        """Uploads `created_by` started in the space and has not completed, newest first."""
        ...

    async def mark_ready(
        self, file_id: str, *, size: int, quota_bytes: int, processing: str | None
    ) -> FileRecord | None:
        """Pending -> ready when the space stays within quota with the actual size; None otherwise."""
        ...

    async def count_download(self, file_id: str) -> bool:
        """Count one download unless the file's maximum is reached; False when it is."""
        ...

    async def delete(self, file_id: str) -> FileRecord | None: ...

    async def set_variants(
        self, file_id: str, variants: dict[str, Any], width: int | None, height: int | None, processing: str
    ) -> FileRecord | None: ...

    async def list_media_queued(
        self, completed_before: datetime, after: tuple[datetime, str] | None, limit: int
    ) -> list[FileRecord]:
        """Ready files whose media processing is still `queued`, completed before `completed_before`,
        in (completed_at, id) order after the cursor `after`."""
        ...

    async def delete_abandoned(self, limit: int) -> list[FileRecord]:
        """Delete pending files past their upload deadline."""
        ...

    async def delete_expired(self, limit: int) -> list[FileRecord]:
        """Delete files past their own expiry."""
        ...

    async def claim_blob_deletions(self, limit: int) -> list[tuple[int, str, str | None]]:
        """Due (id, object_key, multipart upload id) rows, leased so other instances skip them."""
        ...

    async def finish_blob_deletions(self, done: Sequence[int], failed: Sequence[tuple[int, str]]) -> None: ...


@dataclass(frozen=True, slots=True)
class Job:
    """One unit of background work; `id` is idempotent: enqueueing an id twice runs it once."""

    id: str
    kind: str
    payload: dict[str, Any]
    attempts: int = 0
    receipt: str = ""


class JobQueue(Protocol):
    """At-least-once job delivery with retries and a dead-letter list after `max_attempts`."""

    name: str

    async def enqueue(self, job_id: str, kind: str, payload: dict[str, Any]) -> bool:
        """False when a job with this id was already enqueued."""
        ...

    async def receive(self, consumer: str, timeout: float) -> Job | None: ...

    async def ack(self, job: Job) -> None: ...

    async def fail(self, job: Job, error: str) -> bool:
        """Requeue with attempts+1, or dead-letter past the limit (returns True when dead-lettered)."""
        ...

    async def depth(self) -> int: ...

    async def depths(self) -> dict[str, int]:
        """Jobs not settled yet (waiting or being processed), by kind; kinds with none are left out."""
        ...

    async def dead_letters(self) -> list[Job]: ...

    async def dead_letter_count(self) -> int: ...

    async def dead_letter_counts(self) -> dict[str, int]:
        """Dead-lettered jobs by kind."""
        ...

    async def check(self) -> None: ...

    async def close(self) -> None: ...
