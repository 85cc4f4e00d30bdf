"""The signed URLs of a store without a server of its own (the local-disk store), served by the hub.

The routes reach the store only through `hub.ports.blob_face.SignedUrlFace`; when the hub's store does
not implement it (S3 answers its own URLs) they answer 404.

These routes behave like S3's: `POST /blobs/upload` takes a browser form upload (fields first, then
`file`) and enforces the signed policy — key, exact Content-Type, size range, expiry — while streaming
the body to disk; `PUT /blobs/part` takes one multipart part of the signed size; `GET /blobs/object`
serves a download with the signed Content-Type and Content-Disposition, whole or one byte range.
Bodies are streamed, never held in memory.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from sanic import Blueprint, HTTPResponse, Request
from sanic.response import ResponseStream, empty
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from hub.errors import BadRequest, Forbidden, NotFound, PayloadTooLarge
from hub.ports.blob_face import BlobWriter, SignedUrlFace
from hub.ports.files import ObjectInfo
from rest import context
from rest.context import hub
from rest.openapi import endpoint
from rest.ranges import ByteRange, parse_range

bp = Blueprint("blobs")

F = TypeVar("F", bound=Callable[..., Any])
_MAX_FORM_FIELDS_BYTES = 16 * 1024
_FORM_OVERHEAD = 64 * 1024


def streamed(handler: F) -> F:
    """Mark a handler as streaming its body: Sanic then neither buffers it nor applies the body limit."""
    handler.is_stream = True  # type: ignore[attr-defined]
    return handler


def _store(request: Request) -> SignedUrlFace:
    store = hub(request).blobs
    if not isinstance(store, SignedUrlFace):
        raise NotFound()
    return store


def _token(request: Request) -> str:
    token = str(request.args.get("t", ""))
    if not token or len(token) > 4096:
        raise Forbidden("The URL signature does not match.", code="signature_mismatch")
    return token


def _declared_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    if not raw.isdigit():
        raise BadRequest("Invalid Content-Length.", code="malformed_request")
    return int(raw)


async def _body(request: Request) -> AsyncIterator[bytes]:
    assert request.stream is not None
    async for chunk in request.stream:  # type: ignore[attr-defined]
        yield chunk


@endpoint(
    bp,
    "POST",
    "/blobs/upload",
    summary="Local store: browser form upload to a presigned POST.",
    auth=False,
    status=204,
    content="empty",
    errors=(403, 404, 413),
)
@streamed
async def upload(request: Request) -> HTTPResponse:
    store = _store(request)
    content_type, _, params = (request.headers.get("content-type") or "").partition(";")
    boundary = ""
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.lower() == "boundary":
            boundary = value.strip('"')
    if content_type.strip().lower() != "multipart/form-data" or not 0 < len(boundary) <= 70:
        raise BadRequest("Expected a multipart/form-data upload.", code="malformed_request")
    settings = context.settings(request)
    declared = _declared_length(request)
    if declared is not None and declared > settings.file_max_bytes + _FORM_OVERHEAD:
        raise PayloadTooLarge("The upload exceeds the maximum allowed size.", code="entity_too_large")

    decoder = MultipartDecoder(boundary.encode(), max_form_memory_size=_MAX_FORM_FIELDS_BYTES + CHUNK_SLACK)
    fields: dict[str, str] = {}
    field_name: str | None = None
    field_buf = bytearray()
    writer: BlobWriter | None = None
    claims: dict[str, Any] = {}
    done = False
    try:
        async for chunk in _body(request):
            try:
                decoder.receive_data(chunk)
            except RequestEntityTooLarge:
                # Only reachable while buffering form fields: file data is drained as it arrives.
                raise BadRequest("The form fields are too large.", code="malformed_request") from None
            while not done:
                try:
                    event = decoder.next_event()
                except ValueError:
                    raise BadRequest("The multipart body is malformed.", code="malformed_request") from None
                if isinstance(event, NeedData):
                    break
                if isinstance(event, Field):
                    field_name, field_buf = event.name, bytearray()
                elif isinstance(event, File):
                    if event.name != "file":
                        raise BadRequest("The file must be sent in a field named `file`.", code="malformed_request")
                    claims = _check_policy(store, fields)
                    writer = store.open_writer(int(claims["max"]))
                    field_name = None
                elif isinstance(event, Data):
                    if writer is not None:
                        await writer.write(event.data)
                        if not event.more_data:
                            done = True
                    elif field_name is not None:
                        field_buf += event.data
                        if len(field_buf) > _MAX_FORM_FIELDS_BYTES:
                            raise BadRequest("A form field is too large.", code="malformed_request")
                        if not event.more_data:
                            fields[field_name] = field_buf.decode("utf-8", "replace")
                            field_name = None
                elif isinstance(event, Epilogue):
                    break
            if done:
                break
        if writer is None or not done:
            raise BadRequest("The upload has no complete `file` field.", code="malformed_request")
        if writer.size < int(claims["min"]):
            raise BadRequest("The upload is smaller than allowed.", code="entity_too_small")
        await store.commit_object(writer, str(claims["key"]), str(claims["ct"]))
        writer = None
    finally:
        if writer is not None:
            writer.discard()
    return empty(status=204)


CHUNK_SLACK = 256 * 1024  # one network chunk may arrive on top of the buffered fields


def _check_policy(store: SignedUrlFace, fields: dict[str, str]) -> dict[str, Any]:
    token = f"{fields.get('policy', '')}.{fields.get('signature', '')}"
    claims = store.verify_token(token, "post")
    if fields.get("key") != claims.get("key") or fields.get("Content-Type") != claims.get("ct"):
        raise Forbidden("Invalid according to policy: a condition failed.", code="policy_condition_failed")
    return claims


@endpoint(
    bp,
    "PUT",
    "/blobs/part",
    summary="Local store: one part of a multipart upload.",
    auth=False,
    content="empty",
    errors=(403, 404, 413),
)
@streamed
async def upload_part(request: Request) -> HTTPResponse:
    store = _store(request)
    claims = store.verify_token(_token(request), "part")
    # `min` and `max` are both the part's planned size; a token without `min` bounds only the maximum.
    low, high = int(claims.get("min", 0)), int(claims["max"])
    declared = _declared_length(request)
    if declared is not None and declared > high:
        raise PayloadTooLarge("The part exceeds the maximum part size.", code="entity_too_large")
    if declared is not None and declared < low:
        raise BadRequest(
            "The part is smaller than its signed size.", code="entity_too_small", details={"min_bytes": low}
        )
    part = await store.write_part(str(claims["key"]), str(claims["uid"]), int(claims["n"]), _body(request), high, low)
    return empty(status=200, headers={"ETag": part.etag})


@endpoint(
    bp,
    "GET",
    "/blobs/object",
    summary="Local store: download through a presigned GET; one byte range per request (206, or 416).",
    auth=False,
    content="any",
    errors=(403, 404, 416),
)
async def download(request: Request) -> ResponseStream:
    store = _store(request)
    claims = store.verify_token(_token(request), "get")
    fh, info = await store.open_object(str(claims["key"]))
    try:
        wanted = _requested_range(request, info)
    except BaseException:
        fh.close()
        raise
    headers = {
        "Content-Disposition": str(claims["cd"]),
        "Cache-Control": "private, max-age=60",
        # A downloaded file is never a page of this origin, whatever its bytes say.
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Accept-Ranges": "bytes",
        "ETag": info.etag,
    }
    start, length, status = 0, info.size, 200
    if wanted is not None:
        start, length, status = wanted.start, wanted.length, 206
        headers["Content-Range"] = wanted.content_range(info.size)
    headers["Content-Length"] = str(length)

    async def send(response: Any) -> None:  # the ResponseStream; Sanic types its write() as str, bytes work
        # pread from the handle opened above: the bytes sent are those of the file described by `info`.
        try:
            offset, left = start, length
            while left > 0:
                chunk = await asyncio.to_thread(os.pread, fh.fileno(), min(store.chunk_size, left), offset)
                if not chunk:
                    break
                await response.write(chunk)
                offset += len(chunk)
                left -= len(chunk)
        finally:
            fh.close()

    return ResponseStream(send, status=status, headers=headers, content_type=str(claims["ct"]))


def _requested_range(request: Request, info: ObjectInfo) -> ByteRange | None:
    # If-Range names what the client already holds part of; anything but this object's (strong) ETag —
    # another ETag, a weak one or a date — means the whole object is sent instead (RFC 9110 13.1.5).
    if_range = request.headers.get("if-range")
    if if_range is not None and if_range.strip() != info.etag:
        return None
    return parse_range(request.headers.get("range"), info.size)
