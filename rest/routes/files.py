"""Files: create an upload (presigned POST or multipart), complete it, list, download, delete."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sanic import Blueprint, HTTPResponse, Request
from sanic.response import empty, redirect

from hub.ports.files import FileRecord, FileStatus, PresignedUpload
from hub.services.files import MAX_PARTS, FileService, UploadRequest, file_public
from rest.auth import authenticate
from rest.body import json_body, query
from rest.context import hub
from rest.jsonutil import json
from rest.openapi import endpoint
from rest.schemas import OutModel, PageQuery, record_fields

bp = Blueprint("files")


class UploadIn(BaseModel):
    filename: str = Field(min_length=1, max_length=1024)
    size: int = Field(ge=0, le=2**50)
    content_type: str = Field(min_length=3, max_length=200)
    sha256: str | None = Field(None, min_length=64, max_length=64)
    expires_in: int | None = Field(None, ge=60, le=365 * 86_400, description="Delete the file after this long.")
    max_downloads: int | None = Field(None, ge=1, le=1_000_000)


class VariantOut(BaseModel):
    content_type: str
    width: int
    height: int
    size: int


class FileOut(BaseModel):
    id: str
    space_id: str
    filename: str
    content_type: str
    size: int
    sha256: str | None
    status: FileStatus
    created_by: str | None
    created_at: datetime
    completed_at: datetime | None
    expires_at: datetime | None
    max_downloads: int | None
    downloads: int
    processing: Literal["queued", "done", "failed"] | None
    width: int | None
    height: int | None
    variants: dict[str, VariantOut]
    multipart: bool


class PresignedOut(OutModel):
    method: Literal["POST", "PUT"]
    url: str
    fields: dict[str, str] = Field(description="POST: send these form fields first, then the file as `file`.")
    headers: dict[str, str] = Field(description="PUT: send these headers.")
    expires_at: datetime


class MultipartOut(BaseModel):
    part_size: int
    part_count: int


class UploadOut(BaseModel):
    file_id: str
    file: FileOut
    upload: PresignedOut | None = Field(description="Single upload: where to send the bytes.")
    multipart: MultipartOut | None = Field(description="Large file: request part URLs with POST .../parts.")
    expires_at: datetime


class FilePage(BaseModel):
    items: list[FileOut]
    next_cursor: str | None


class PartsIn(BaseModel):
    # S3 numbers parts 1 to 10,000; the service narrows this to the upload's own part count.
    part_numbers: list[Annotated[int, Field(ge=1, le=MAX_PARTS)]] = Field(min_length=1, max_length=100)


class PartUrlOut(OutModel):
    part_number: int
    method: Literal["PUT"]
    url: str = Field(description="Accepts exactly the part's planned size: part_size, or the rest for the last.")
    headers: dict[str, str]
    expires_at: datetime


class PartUrls(BaseModel):
    parts: list[PartUrlOut]


class PartOut(OutModel):
    part_number: int = Field(validation_alias="number")  # read from `PartInfo.number`
    size: int
    etag: str


class PartList(OutModel):
    part_size: int
    part_count: int
    parts: list[PartOut]


class DownloadQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    variant: Literal["thumb", "medium"] | None = None
    attachment: bool = False
    redirect: bool = True


class DownloadOut(OutModel):
    url: str
    expires_at: datetime


def _files(request: Request) -> FileService:
    return hub(request).files


def file_out(record: FileRecord) -> FileOut:
    return FileOut.model_validate(file_public(record))


def presigned_out(p: PresignedUpload) -> PresignedOut:
    """Where and how to send an upload's bytes, as files and media both answer it."""
    return PresignedOut.model_validate(p)


@endpoint(
    bp,
    "POST",
    "/spaces/{space_id}/files",
    summary="Start an upload; returns where to send the bytes.",
    body=UploadIn,
    response=UploadOut,
    status=201,
    errors=(403, 404, 410, 413),
)
async def create_upload(request: Request, space_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    body = json_body(request, UploadIn)
    created = await _files(request).create_upload(principal, space_id, UploadRequest(**body.model_dump()))
    multipart = None
    if created.part_size is not None and created.part_count is not None:
        multipart = MultipartOut(part_size=created.part_size, part_count=created.part_count)
    out = UploadOut(
        file_id=created.file.id,
        file=file_out(created.file),
        upload=presigned_out(created.upload) if created.upload else None,
        multipart=multipart,
        expires_at=created.expires_at,
    )
    return json(out, status=201)


@endpoint(
    bp,
    "GET",
    "/spaces/{space_id}/files",
    summary="Uploaded files of a space, newest first.",
    query=PageQuery,
    response=FilePage,
    errors=(404, 410),
)
async def list_files(request: Request, space_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    q = query(request, PageQuery)
    page = await _files(request).list(principal, space_id, q.cursor, q.limit)
    return json(FilePage(items=[file_out(r) for r in page.items], next_cursor=page.next_cursor))


@endpoint(
    bp,
    "GET",
    "/spaces/{space_id}/uploads",
    summary="My uploads in progress in a space, newest first (to resume one after a reload).",
    query=PageQuery,
    response=FilePage,
    errors=(403, 404, 410),
)
async def list_uploads(request: Request, space_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    q = query(request, PageQuery)
    page = await _files(request).list_uploads(principal, space_id, q.cursor, q.limit)
    return json(FilePage(items=[file_out(r) for r in page.items], next_cursor=page.next_cursor))


@endpoint(bp, "GET", "/files/{file_id}", summary="One file's metadata.", response=FileOut, errors=(404, 410))
async def get_file(request: Request, file_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    return json(file_out(await _files(request).get(principal, file_id)))


@endpoint(
    bp,
    "DELETE",
    "/files/{file_id}",
    summary="Delete a file (or abandon its upload) and its objects.",
    status=204,
    content="empty",
    errors=(403, 404, 410),
)
async def delete_file(request: Request, file_id: str) -> HTTPResponse:
    await _files(request).delete(await authenticate(request), file_id)
    return empty()


@endpoint(
    bp,
    "POST",
    "/files/{file_id}/complete",
    summary="Check the uploaded object (and each part's size) and mark the file ready "
    "(422 `upload_mismatch` and deleted on mismatch).",
    response=FileOut,
    errors=(403, 404, 409, 410, 413, 422),
)
async def complete(request: Request, file_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    return json(file_out(await _files(request).complete(principal, file_id)))


@endpoint(
    bp,
    "POST",
    "/files/{file_id}/parts",
    summary="Presign PUT URLs for parts of a multipart upload.",
    body=PartsIn,
    response=PartUrls,
    errors=(403, 404, 409, 410),
)
async def presign_parts(request: Request, file_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    body = json_body(request, PartsIn)
    urls = await _files(request).presign_parts(principal, file_id, body.part_numbers)
    numbers = sorted(set(body.part_numbers))
    return json(
        PartUrls(
            parts=[
                PartUrlOut.model_validate({**record_fields(u), "part_number": n})
                for n, u in zip(numbers, urls, strict=True)
            ]
        )
    )


@endpoint(
    bp,
    "GET",
    "/files/{file_id}/parts",
    summary="Parts received so far (to resume an upload).",
    response=PartList,
    errors=(403, 404, 409, 410),
)
async def list_parts(request: Request, file_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    return json(PartList.model_validate(await _files(request).list_parts(principal, file_id)))


@endpoint(
    bp,
    "POST",
    "/files/{file_id}/abort",
    summary="Abort an upload in progress.",
    status=204,
    content="empty",
    errors=(403, 404, 409, 410),
)
async def abort(request: Request, file_id: str) -> HTTPResponse:
    await _files(request).abort(await authenticate(request), file_id)
    return empty()


@endpoint(
    bp,
    "GET",
    "/files/{file_id}/download",
    summary="Redirect (302) to a short-lived download URL; `redirect=false` returns it as JSON.",
    query=DownloadQuery,
    status=302,
    content="redirect",
    errors=(404, 409, 410),
)
async def download(request: Request, file_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    q = query(request, DownloadQuery)
    found = await _files(request).download(principal, file_id, variant=q.variant, attachment=q.attachment)
    if not q.redirect:
        return json(DownloadOut.model_validate(found))
    headers: dict[str, Any] = {"Cache-Control": "no-store"}
    return redirect(found.url, status=302, headers=headers)
