"""Text bins with revisions, raw view and optimistic concurrency (ETag / If-Match)."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, Field
from sanic import Blueprint, HTTPResponse, Request
from sanic.response import empty, text

from hub.errors import InvalidIfMatch, PreconditionRequired, RevisionNotFound
from hub.ports.spaces import BinRecord, RevisionRecord
from rest.auth import authenticate
from rest.body import json_body, query
from rest.context import hub
from rest.jsonutil import json
from rest.openapi import endpoint, limited_by_setting
from rest.schemas import OutModel, PageQuery, record_fields

bp = Blueprint("bins")

_ETAG = re.compile(r'^(?:W/)?"v(\d{1,9})"$')


class BinIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    content: str = Field(max_length=10_000_000)
    language: str = Field("text", min_length=1, max_length=32)
    burn_after_reading: bool = False
    expires_in: int | None = Field(None, ge=60, le=365 * 86_400)


class BinPatch(BaseModel):
    title: str | None = Field(None, min_length=1, max_length=200)
    content: str | None = Field(None, max_length=10_000_000)
    language: str | None = Field(None, min_length=1, max_length=32)
    version: int | None = Field(None, ge=1, le=10**9)


# The models cap a body at 10,000,000 characters; the hub enforces HUB_BIN_MAX_CHARS.
for _model in (BinIn, BinPatch):
    limited_by_setting(_model, "content", "maxLength", "bin_max_chars")


class BinOut(OutModel):
    id: str
    space_id: str
    title: str
    content: str
    language: str
    version: int
    created_by: str | None
    updated_by: str | None
    created_at: datetime
    updated_at: datetime
    burn_after_reading: bool
    expires_at: datetime | None
    burned: bool = False


class BinSummary(OutModel):
    id: str
    title: str
    language: str
    version: int
    size: int
    updated_at: datetime
    created_at: datetime
    burn_after_reading: bool
    expires_at: datetime | None


class BinPage(BaseModel):
    items: list[BinSummary]
    next_cursor: str | None


class RevisionOut(OutModel):
    version: int
    title: str
    content: str
    language: str
    author_id: str | None
    created_at: datetime


class RevisionPage(OutModel):
    items: list[RevisionOut]
    next_cursor: str | None


def etag(record: BinRecord) -> str:
    return f'"v{record.version}"'


def bin_out(record: BinRecord, burned: bool = False) -> BinOut:
    return BinOut.model_validate({**record_fields(record), "burned": burned})


def summary(record: BinRecord) -> BinSummary:
    return BinSummary.model_validate({**record_fields(record), "size": len(record.content)})


def revision_out(r: RevisionRecord) -> RevisionOut:
    return RevisionOut.model_validate(r)


def _with_etag(record: BinRecord, status: int = 200, burned: bool = False) -> HTTPResponse:
    headers = {"ETag": etag(record), "Cache-Control": "private, no-cache"}
    return json(bin_out(record, burned), status=status, headers=headers)


@endpoint(
    bp,
    "POST",
    "/spaces/{space_id}/bins",
    summary="Create a bin (editor).",
    body=BinIn,
    response=BinOut,
    status=201,
    errors=(403, 404, 410),
)
async def create_bin(request: Request, space_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    data = json_body(request, BinIn)
    record = await hub(request).bins.create(
        principal,
        space_id,
        title=data.title,
        content=data.content,
        language=data.language,
        burn_after_reading=data.burn_after_reading,
        expires_in=data.expires_in,
    )
    return _with_etag(record, status=201)


@endpoint(
    bp,
    "GET",
    "/spaces/{space_id}/bins",
    summary="Bins in a space (without content).",
    query=PageQuery,
    response=BinPage,
    errors=(404, 410),
)
async def list_bins(request: Request, space_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    q = query(request, PageQuery)
    page = await hub(request).bins.in_space(principal, space_id, q.cursor, q.limit)
    return json(BinPage(items=[summary(b) for b in page.items], next_cursor=page.next_cursor))


@endpoint(
    bp, "GET", "/spaces/{space_id}/bins/{bin_id}", summary="One bin, with its ETag.", response=BinOut, errors=(404, 410)
)
async def get_bin(request: Request, space_id: str, bin_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    record, burned = await hub(request).bins.read(principal, space_id, bin_id)
    if not burned and request.headers.get("if-none-match") == etag(record):
        return empty(status=304, headers={"ETag": etag(record)})
    return _with_etag(record, burned=burned)


@endpoint(
    bp,
    "GET",
    "/spaces/{space_id}/bins/{bin_id}/raw",
    summary="The bin's content as plain text.",
    content="text",
    errors=(404, 410),
)
async def raw_bin(request: Request, space_id: str, bin_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    record, _ = await hub(request).bins.read(principal, space_id, bin_id)
    return text(
        record.content,
        headers={
            "ETag": etag(record),
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": "inline",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


@endpoint(
    bp,
    "PATCH",
    "/spaces/{space_id}/bins/{bin_id}",
    summary="Update a bin; needs If-Match (or `version`); a stale version gets 409.",
    body=BinPatch,
    response=BinOut,
    errors=(403, 404, 409, 410, 428),
)
async def patch_bin(request: Request, space_id: str, bin_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    data = json_body(request, BinPatch)
    expected = data.version
    if_match = request.headers.get("if-match")
    any_version = False
    if if_match is not None:
        if if_match.strip() == "*":
            any_version = True  # RFC 9110 13.1.1: "*" matches any current representation
        else:
            match = _ETAG.match(if_match.strip())
            if match is None:
                raise InvalidIfMatch('If-Match must be an ETag from this API, e.g. "v3", or *.')
            expected = int(match.group(1))
    if expected is None and not any_version:
        raise PreconditionRequired()
    record = await hub(request).bins.update(
        principal,
        space_id,
        bin_id,
        expected_version=None if any_version else expected,
        title=data.title,
        content=data.content,
        language=data.language,
    )
    return _with_etag(record)


@endpoint(
    bp,
    "DELETE",
    "/spaces/{space_id}/bins/{bin_id}",
    summary="Delete a bin (editor).",
    status=204,
    content="empty",
    errors=(403, 404, 410),
)
async def delete_bin(request: Request, space_id: str, bin_id: str) -> HTTPResponse:
    await hub(request).bins.delete(await authenticate(request), space_id, bin_id)
    return empty()


@endpoint(
    bp,
    "GET",
    "/spaces/{space_id}/bins/{bin_id}/revisions",
    summary="Revisions, newest first.",
    query=PageQuery,
    response=RevisionPage,
    errors=(404, 410),
)
async def list_revisions(request: Request, space_id: str, bin_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    q = query(request, PageQuery)
    page = await hub(request).bins.revisions(principal, space_id, bin_id, q.cursor, q.limit)
    return json(RevisionPage.model_validate(page))


@endpoint(
    bp,
    "GET",
    "/spaces/{space_id}/bins/{bin_id}/revisions/{version}",
    summary="One revision.",
    response=RevisionOut,
    errors=(404, 410),
)
async def get_revision(request: Request, space_id: str, bin_id: str, version: str) -> HTTPResponse:
    principal = await authenticate(request)
    if not version.isdigit() or len(version) > 9:
        raise RevisionNotFound("No such revision.")
    record = await hub(request).bins.revision(principal, space_id, bin_id, int(version))
    return json(revision_out(record))
