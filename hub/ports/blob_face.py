"""The HTTP face of a blob store that serves its own signed URLs.

S3 answers its presigned URLs itself; the local-disk store has no server of its own, so the hub serves
its URLs (`/blobs/upload`, `/blobs/part`, `/blobs/object`). Those routes need more of the store than
`BlobStore` offers — to check a URL's token and to stream bodies in and out — and this port names exactly
that, so the routes never know which store they talk to. A store without its own face (S3) does not
implement it, and the routes answer 404.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, BinaryIO, Literal, Protocol, runtime_checkable

from hub.ports.files import ObjectInfo, PartInfo

# What a signed URL is good for: the presigned POST of a whole object, one multipart part, a download.
TokenKind = Literal["post", "part", "get"]


class BlobWriter(Protocol):
    """A bounded, not yet visible object being streamed in; the store that opened it commits it."""

    @property
    def size(self) -> int:
        """Bytes written so far."""
        ...

    async def write(self, chunk: bytes) -> None:
        """Append; PayloadTooLarge (and the writer discarded) past the bound it was opened with."""
        ...

    def discard(self) -> None:
        """Drop what was written; idempotent, and harmless after a commit."""
        ...


@runtime_checkable
class SignedUrlFace(Protocol):
    """What the hub's /blobs routes need from a store whose signed URLs the hub serves."""

    @property
    def chunk_size(self) -> int:
        """Bytes per read when streaming an object out."""
        ...

    def verify_token(self, token: str, kind: TokenKind) -> dict[str, Any]:
        """The claims of a valid, unexpired token of `kind`; Forbidden otherwise (as S3 answers 403).

        Claims: `key` always; `ct` (Content-Type) for post and get; `min`/`max` (bytes) for post and part;
        `uid` (upload id) and `n` (part number) for part; `cd` (Content-Disposition) for get.
        """
        ...

    def open_writer(self, max_bytes: int) -> BlobWriter: ...

    async def commit_object(self, writer: BlobWriter, key: str, content_type: str) -> ObjectInfo:
        """Make what `writer` (opened by this store) holds the object `key`, atomically."""
        ...

    async def write_part(
        self,
        key: str,
        upload_id: str,
        part_number: int,
        chunks: AsyncIterator[bytes],
        max_bytes: int,
        min_bytes: int = 0,
    ) -> PartInfo:
        """Store one part of a multipart upload; NotFound for an unknown upload, PayloadTooLarge past
        `max_bytes`, BadRequest `entity_too_small` under `min_bytes`."""
        ...

    async def open_object(self, key: str) -> tuple[BinaryIO, ObjectInfo]:
        """An open handle on the object's data (the caller closes it) and its description, whose size is
        that of the opened file; NotFound when missing."""
        ...
