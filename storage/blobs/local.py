"""Local-disk blob store: the embedded default.

Objects live under `<data>/blobs/objects/<sha256(key)>` with a JSON sidecar (key, content type, size,
ETag), so a hostile key can never name a path. Clients upload and download through HMAC-signed,
expiring URLs served by the hub itself (`rest/routes/blobs.py`), which enforce exactly what the S3
conditions enforce: the key, the exact Content-Type, the size range and the expiry.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import quote

import orjson

from hub.errors import BadRequest, Conflict, NotFound, PayloadTooLarge
from hub.ports.blob_face import BlobWriter, SignedUrlFace, TokenKind
from hub.ports.files import BlobStore, ObjectInfo, PartInfo, PresignedUpload
from storage.blobs.signing import Signer

CHUNK = 256 * 1024
_UPLOAD_ID_CHARS = frozenset("0123456789abcdef")


def _utc(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class _Writer:
    """Streams chunks into a temporary file, counting bytes; `commit` moves it into place atomically."""

    def __init__(self, tmp_dir: Path, max_bytes: int) -> None:
        self.path = tmp_dir / secrets.token_hex(12)
        self.max_bytes = max_bytes
        self.size = 0
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._fh: BinaryIO = open(self.path, "wb")  # closed in commit/discard

    async def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.max_bytes:
            self.discard()
            raise PayloadTooLarge(
                "The upload exceeds the maximum allowed size.",
                code="entity_too_large",
                details={"max_bytes": self.max_bytes},
            )
        self._md5.update(chunk)
        await asyncio.to_thread(self._fh.write, chunk)

    @property
    def etag(self) -> str:
        return f'"{self._md5.hexdigest()}"'

    def commit(self, target: Path) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.path, target)

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self._fh.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class LocalBlobStore:
    """Implements `hub.ports.files.BlobStore` on a directory; URLs point at the hub's /blobs routes,
    which reach the store through `hub.ports.blob_face.SignedUrlFace`."""

    name = "blobs"
    chunk_size = CHUNK

    def __init__(self, root: Path, signer: Signer, base_url: str) -> None:
        self.root = root
        self.signer = signer
        self.base_url = base_url.rstrip("/")
        for sub in ("objects", "multipart", "tmp"):
            (root / sub).mkdir(parents=True, exist_ok=True)

    # --- layout ------------------------------------------------------------------------------------

    def _object_path(self, key: str) -> Path:
        digest = hashlib.sha256(key.encode()).hexdigest()
        return self.root / "objects" / digest[:2] / digest

    def _upload_dir(self, upload_id: str) -> Path:
        # Upload ids come back from clients inside signed tokens, but check the shape anyway.
        if not upload_id or len(upload_id) != 32 or not set(upload_id) <= _UPLOAD_ID_CHARS:
            raise NotFound("No such multipart upload.", code="no_such_upload")
        return self.root / "multipart" / upload_id

    # --- SignedUrlFace -----------------------------------------------------------------------------

    def verify_token(self, token: str, kind: TokenKind) -> dict[str, Any]:
        return self.signer.verify(token, kind)

    def open_writer(self, max_bytes: int) -> _Writer:
        return _Writer(self.root / "tmp", max_bytes)

    async def commit_object(self, writer: BlobWriter, key: str, content_type: str) -> ObjectInfo:
        # The port takes any writer; only one this store opened has a temporary file under its root.
        if not isinstance(writer, _Writer):
            raise TypeError("commit_object takes a writer opened by this store")
        info = ObjectInfo(key=key, size=writer.size, content_type=content_type, etag=writer.etag)
        path = self._object_path(key)

        def commit() -> None:
            # Data first, then the sidecar: a reader that sees the sidecar also sees the data.
            writer.commit(path)
            self._write_meta(path, info)

        await asyncio.to_thread(commit)
        return info

    @staticmethod
    def _write_meta(path: Path, info: ObjectInfo) -> None:
        meta = path.with_suffix(".meta")
        tmp = path.with_suffix(".meta.tmp" + secrets.token_hex(4))
        tmp.write_bytes(
            orjson.dumps({"key": info.key, "size": info.size, "content_type": info.content_type, "etag": info.etag})
        )
        os.replace(tmp, meta)

    # --- BlobStore ---------------------------------------------------------------------------------

    async def presign_upload(
        self, key: str, *, content_type: str, min_bytes: int, max_bytes: int, ttl: int
    ) -> PresignedUpload:
        token, expires = self.signer.sign("post", ttl, key=key, ct=content_type, min=min_bytes, max=max_bytes)
        policy, _, signature = token.partition(".")
        return PresignedUpload(
            method="POST",
            url=f"{self.base_url}/blobs/upload",
            fields={"key": key, "Content-Type": content_type, "policy": policy, "signature": signature},
            headers={},
            expires_at=_utc(expires),
        )

    async def presign_download(self, key: str, *, ttl: int, content_type: str, disposition: str) -> str:
        token, _ = self.signer.sign("get", ttl, key=key, ct=content_type, cd=disposition)
        return f"{self.base_url}/blobs/object?t={quote(token)}"

    async def head(self, key: str) -> ObjectInfo | None:
        path = self._object_path(key)

        def read() -> ObjectInfo | None:
            try:
                meta = orjson.loads(path.with_suffix(".meta").read_bytes())
                size = path.stat().st_size
            except (FileNotFoundError, orjson.JSONDecodeError):
                return None
            return ObjectInfo(key=key, size=size, content_type=meta["content_type"], etag=meta["etag"])

        return await asyncio.to_thread(read)

    async def open_object(self, key: str) -> tuple[BinaryIO, ObjectInfo]:
        """An open handle on the object's data and its description, for the download route to stream
        from; the size is that of the opened file, so a concurrent delete cannot make the two disagree."""
        path = self._object_path(key)

        def open_both() -> tuple[BinaryIO, ObjectInfo]:
            try:
                meta = orjson.loads(path.with_suffix(".meta").read_bytes())
                fh = open(path, "rb")  # the caller closes it when the response ends
            except (FileNotFoundError, orjson.JSONDecodeError):
                raise NotFound("No such object.", code="no_such_key") from None
            size = os.fstat(fh.fileno()).st_size
            return fh, ObjectInfo(key=key, size=size, content_type=meta["content_type"], etag=meta["etag"])

        return await asyncio.to_thread(open_both)

    async def read(self, key: str, *, max_bytes: int) -> AsyncIterator[bytes]:
        path = self._object_path(key)
        try:
            fh = await asyncio.to_thread(open, path, "rb")
        except FileNotFoundError:
            raise NotFound("No such object.", code="no_such_key") from None
        try:
            total = 0
            while chunk := await asyncio.to_thread(fh.read, CHUNK):
                total += len(chunk)
                if total > max_bytes:
                    raise PayloadTooLarge("The object is larger than allowed.", code="object_too_large")
                yield chunk
        finally:
            fh.close()

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        writer = self.open_writer(len(data))
        try:
            await writer.write(data)
            await self.commit_object(writer, key, content_type)
        except BaseException:
            writer.discard()
            raise

    async def delete(self, key: str) -> None:
        path = self._object_path(key)

        def remove() -> None:
            # The sidecar goes first so `head` never reports an object whose data is gone.
            for victim in (path.with_suffix(".meta"), path):
                with contextlib.suppress(FileNotFoundError):
                    victim.unlink()

        await asyncio.to_thread(remove)

    async def create_multipart(self, key: str, *, content_type: str) -> str:
        upload_id = secrets.token_hex(16)
        directory = self._upload_dir(upload_id)

        def create() -> None:
            directory.mkdir(parents=True)
            (directory / "upload.json").write_bytes(orjson.dumps({"key": key, "content_type": content_type}))

        await asyncio.to_thread(create)
        return upload_id

    async def presign_part(self, key: str, upload_id: str, part_number: int, *, ttl: int, size: int) -> PresignedUpload:
        self._upload_dir(upload_id)
        token, expires = self.signer.sign("part", ttl, key=key, uid=upload_id, n=part_number, min=size, max=size)
        return PresignedUpload(
            method="PUT",
            url=f"{self.base_url}/blobs/part?t={quote(token)}",
            fields={},
            headers={},
            expires_at=_utc(expires),
        )

    def _upload_meta(self, key: str, upload_id: str) -> dict[str, Any]:
        directory = self._upload_dir(upload_id)
        try:
            meta: dict[str, Any] = orjson.loads((directory / "upload.json").read_bytes())
        except FileNotFoundError:
            raise NotFound("No such multipart upload.", code="no_such_upload") from None
        if meta.get("key") != key:
            raise NotFound("No such multipart upload.", code="no_such_upload")
        return meta

    async def write_part(
        self,
        key: str,
        upload_id: str,
        part_number: int,
        chunks: AsyncIterator[bytes],
        max_bytes: int,
        min_bytes: int = 0,
    ) -> PartInfo:
        """Used by the /blobs/part route after it verified the token."""
        await asyncio.to_thread(self._upload_meta, key, upload_id)
        writer = self.open_writer(max_bytes)
        try:
            async for chunk in chunks:
                await writer.write(chunk)
            if writer.size < min_bytes:
                raise BadRequest(
                    "The part is smaller than its signed size.",
                    code="entity_too_small",
                    details={"min_bytes": min_bytes},
                )
            target = self._upload_dir(upload_id) / f"{part_number:05d}"
            etag = writer.etag

            def commit() -> None:
                writer.commit(target)
                target.with_suffix(".etag").write_text(etag)

            await asyncio.to_thread(commit)
        except BaseException:
            writer.discard()
            raise
        return PartInfo(number=part_number, size=writer.size, etag=etag)

    async def list_parts(self, key: str, upload_id: str) -> list[PartInfo]:
        def listing() -> list[PartInfo]:
            self._upload_meta(key, upload_id)
            parts = []
            for entry in sorted(self._upload_dir(upload_id).iterdir()):
                if entry.suffix or not entry.name.isdigit():
                    continue
                with contextlib.suppress(FileNotFoundError):
                    etag = entry.with_suffix(".etag").read_text()
                    parts.append(PartInfo(int(entry.name), entry.stat().st_size, etag))
            return parts

        return await asyncio.to_thread(listing)

    async def complete_multipart(self, key: str, upload_id: str, parts: Sequence[PartInfo]) -> None:
        def assemble() -> None:
            meta = self._upload_meta(key, upload_id)
            directory = self._upload_dir(upload_id)
            writer = self.open_writer(2**63)
            try:
                for part in sorted(parts, key=lambda p: p.number):
                    path = directory / f"{part.number:05d}"
                    try:
                        etag = path.with_suffix(".etag").read_text()
                    except FileNotFoundError:
                        raise BadRequest("A listed part was not uploaded.", code="invalid_part") from None
                    if etag != part.etag:
                        raise BadRequest("A part's ETag does not match.", code="invalid_part")
                    with open(path, "rb") as src:
                        shutil.copyfileobj(src, writer._fh, CHUNK)
                    writer.size += path.stat().st_size
                target = self._object_path(key)
                writer.commit(target)
                self._write_meta(target, ObjectInfo(key, writer.size, meta["content_type"], f'"{upload_id}"'))
            except BaseException:
                writer.discard()
                raise
            shutil.rmtree(directory, ignore_errors=True)

        if not parts:
            raise Conflict("No parts were uploaded.", code="invalid_part")
        await asyncio.to_thread(assemble)

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        try:
            directory = self._upload_dir(upload_id)
        except NotFound:
            return
        await asyncio.to_thread(shutil.rmtree, directory, True)

    async def check(self) -> None:
        if not os.access(self.root / "objects", os.W_OK):
            from hub.errors import ServiceUnavailable

            raise ServiceUnavailable("The blob directory is not writable.", code="blob_store_unavailable")

    async def close(self) -> None:
        return None


if TYPE_CHECKING:
    # Conformance, checked by mypy: the store is a `BlobStore` and the face its /blobs routes serve.
    def _conforms(store: LocalBlobStore) -> tuple[BlobStore, SignedUrlFace]:
        return store, store
