"""S3-compatible blob store (AWS S3, SeaweedFS, MinIO, Tigris) through one shared aioboto3 client.

Uploads are presigned POSTs whose policy pins the key, the exact Content-Type and a
content-length-range; parts of multipart uploads are presigned PUTs. botocore errors never leave this
module: a missing key or upload becomes `NotFound`, anything network-ish or 5xx `ServiceUnavailable`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import aioboto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from hub.errors import (
    BlobStoreUnavailable,
    HubError,
    InvalidPart,
    NoSuchKey,
    NotFound,
    ObjectTooLarge,
)
from hub.ports.files import ObjectInfo, PartInfo, PresignedUpload

log = logging.getLogger(__name__)

_MISSING = {"404", "NoSuchKey", "NoSuchUpload", "NotFound", "NoSuchBucket"}
_CHUNK = 256 * 1024


@contextlib.contextmanager
def translate_s3_errors() -> Iterator[None]:
    try:
        yield
    except HubError:
        raise
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in _MISSING or status == 404:
            raise NoSuchKey("No such object or upload.") from exc
        if code in {"InvalidPart", "InvalidPartOrder", "EntityTooSmall"}:
            raise InvalidPart("The uploaded parts are invalid.") from exc
        raise BlobStoreUnavailable("The object store refused the request.") from exc
    except (BotoCoreError, OSError, TimeoutError) as exc:
        raise BlobStoreUnavailable("The object store is unreachable.") from exc


def _expiry(ttl: int) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=ttl)


class S3BlobStore:
    """Implements `hub.ports.files.BlobStore` on one bucket."""

    name = "s3"

    def __init__(self, client: Any, bucket: str, stack: contextlib.AsyncExitStack | None = None) -> None:
        self._client = client
        self.bucket = bucket
        self._stack = stack

    @classmethod
    async def open(
        cls,
        *,
        endpoint: str,
        region: str,
        bucket: str,
        access_key: str,
        secret_key: str,
        path_style: bool,
        create_bucket: bool = False,
    ) -> S3BlobStore:
        """One client per process: its connection pool is shared by every request."""
        stack = contextlib.AsyncExitStack()
        session = aioboto3.Session()
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path" if path_style else "virtual"},
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=5,
            read_timeout=30,
            max_pool_connections=50,
        )
        client = await stack.enter_async_context(
            session.client(
                "s3",
                endpoint_url=endpoint or None,
                region_name=region or None,
                aws_access_key_id=access_key or None,
                aws_secret_access_key=secret_key or None,
                config=config,
            )
        )
        store = cls(client, bucket, stack)
        if create_bucket:
            try:
                await store.ensure_bucket()
            except BaseException:
                await stack.aclose()
                raise
        return store

    async def ensure_bucket(self) -> None:
        with translate_s3_errors():
            try:
                await self._client.head_bucket(Bucket=self.bucket)
                return
            except ClientError as exc:
                if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") != 404:
                    raise
            await self._client.create_bucket(Bucket=self.bucket)

    async def presign_upload(
        self, key: str, *, content_type: str, min_bytes: int, max_bytes: int, ttl: int
    ) -> PresignedUpload:
        with translate_s3_errors():
            post = await self._client.generate_presigned_post(
                self.bucket,
                key,
                Fields={"Content-Type": content_type},
                Conditions=[{"Content-Type": content_type}, ["content-length-range", min_bytes, max_bytes]],
                ExpiresIn=ttl,
            )
        return PresignedUpload(
            method="POST", url=post["url"], fields=dict(post["fields"]), headers={}, expires_at=_expiry(ttl)
        )

    async def presign_download(self, key: str, *, ttl: int, content_type: str, disposition: str) -> str:
        with translate_s3_errors():
            url: str = await self._client.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self.bucket,
                    "Key": key,
                    "ResponseContentType": content_type,
                    "ResponseContentDisposition": disposition,
                },
                ExpiresIn=max(1, ttl),  # SigV4 needs at least one second
            )
        return url

    async def head(self, key: str) -> ObjectInfo | None:
        try:
            with translate_s3_errors():
                head = await self._client.head_object(Bucket=self.bucket, Key=key)
        except NotFound:
            return None
        return ObjectInfo(
            key=key,
            size=int(head["ContentLength"]),
            content_type=str(head.get("ContentType", "")),
            etag=str(head.get("ETag", "")),
        )

    async def read(self, key: str, *, max_bytes: int) -> AsyncIterator[bytes]:
        with translate_s3_errors():
            response = await self._client.get_object(Bucket=self.bucket, Key=key)
        if int(response.get("ContentLength", 0)) > max_bytes:
            response["Body"].close()
            raise ObjectTooLarge("The object is larger than allowed.")
        body = response["Body"]
        async with body:  # releases the connection even when the reader stops early
            while True:
                with translate_s3_errors():
                    chunk = await body.read(_CHUNK)
                if not chunk:
                    return
                yield chunk

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        with translate_s3_errors():
            await self._client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    async def delete(self, key: str) -> None:
        with translate_s3_errors():
            await self._client.delete_object(Bucket=self.bucket, Key=key)

    async def create_multipart(self, key: str, *, content_type: str) -> str:
        with translate_s3_errors():
            response = await self._client.create_multipart_upload(Bucket=self.bucket, Key=key, ContentType=content_type)
        return str(response["UploadId"])

    async def presign_part(self, key: str, upload_id: str, part_number: int, *, ttl: int, size: int) -> PresignedUpload:
        # Content-Length becomes a signed header: the store answers 403 to a body of any other length, so
        # a part that is too small (S3 wants 5 MiB but for the last) never gets as far as completion.
        # Clients need not send it themselves: HTTP clients and browsers set it from the body.
        with translate_s3_errors():
            url = await self._client.generate_presigned_url(
                "upload_part",
                Params={
                    "Bucket": self.bucket,
                    "Key": key,
                    "UploadId": upload_id,
                    "PartNumber": part_number,
                    "ContentLength": size,
                },
                ExpiresIn=max(1, ttl),
            )
        return PresignedUpload(method="PUT", url=url, fields={}, headers={}, expires_at=_expiry(ttl))

    async def list_parts(self, key: str, upload_id: str) -> list[PartInfo]:
        parts: list[PartInfo] = []
        marker = 0
        with translate_s3_errors():
            while True:
                page = await self._client.list_parts(
                    Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumberMarker=marker
                )
                for p in page.get("Parts", []):
                    parts.append(PartInfo(int(p["PartNumber"]), int(p["Size"]), str(p["ETag"])))
                if not page.get("IsTruncated"):
                    break
                marker = int(page["NextPartNumberMarker"])
        return parts

    async def complete_multipart(self, key: str, upload_id: str, parts: Sequence[PartInfo]) -> None:
        with translate_s3_errors():
            await self._client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={
                    "Parts": [{"PartNumber": p.number, "ETag": p.etag} for p in sorted(parts, key=lambda p: p.number)]
                },
            )

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        try:
            with translate_s3_errors():
                await self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except NotFound:
            return

    async def check(self) -> None:
        with translate_s3_errors():
            await self._client.head_bucket(Bucket=self.bucket)

    async def close(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None
