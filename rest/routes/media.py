"""The media library: /media/upload (presigned, like space files), /media/{id}."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from sanic import Blueprint, HTTPResponse, Request
from sanic.response import empty

from hub.ports.media_library import MediaRecord, MediaStatus
from hub.services.media_library import MediaLibraryService, MediaUploadRequest, MediaView
from rest.auth import authenticate
from rest.body import json_body
from rest.context import hub
from rest.jsonutil import json
from rest.openapi import endpoint
from rest.routes.files import PresignedOut, presigned_out

bp = Blueprint("media")


class MediaUploadIn(BaseModel):
    filename: str = Field(min_length=1, max_length=1024)
    size: int = Field(ge=0, le=2**50)
    content_type: str = Field(
        min_length=3, max_length=200, description="image/png, image/jpeg, image/gif or image/webp"
    )


class MediaVariantOut(BaseModel):
    url: str | None = Field(description="A short-lived download URL (`GET /media/{id}`), else null.")
    content_type: str
    width: int
    height: int
    size: int


class MediaOut(BaseModel):
    """One of my media: metadata, and short-lived URLs where the answer is `GET /media/{id}`."""

    id: str
    filename: str
    content_type: str
    size: int
    status: MediaStatus
    processing: Literal["queued", "done", "failed"] | None
    width: int | None
    height: int | None
    post_id: str | None = Field(description="The post using it; unattached media are deleted after a day.")
    created_at: datetime
    completed_at: datetime | None
    url: str | None = Field(description="The original, when ready (`GET /media/{id}` only).")
    variants: dict[str, MediaVariantOut]
    urls_expire_at: datetime | None


class MediaPublicOut(BaseModel):
    """An image as others see it (an avatar, a post's image): no filename, URLs that expire."""

    id: str
    content_type: str
    width: int | None
    height: int | None
    url: str
    variants: dict[str, MediaVariantOut] = Field(description="`thumb` and `medium` once the worker made them.")
    urls_expire_at: datetime


class MediaUploadOut(BaseModel):
    media_id: str
    media: MediaOut
    upload: PresignedOut = Field(description="Where to send the bytes (the store enforces type and size).")
    expires_at: datetime


def media_library(request: Request) -> MediaLibraryService:
    service: MediaLibraryService = hub(request).media_library
    return service


def _variants(record: MediaRecord) -> dict[str, MediaVariantOut]:
    return {
        name: MediaVariantOut(
            url=None,
            content_type=str(v["content_type"]),
            width=int(v["width"]),
            height=int(v["height"]),
            size=int(v["size"]),
        )
        for name, v in record.variants.items()
        if isinstance(v, dict) and "key" in v
    }


def media_out(record: MediaRecord, view: MediaView | None = None) -> MediaOut:
    variants = _variants(record)
    if view is not None:
        variants = {
            name: MediaVariantOut(url=v.url, content_type=v.content_type, width=v.width, height=v.height, size=v.size)
            for name, v in view.variants.items()
        }
    return MediaOut(
        id=record.id,
        filename=record.filename,
        content_type=record.content_type,
        size=record.size,
        status=record.status,
        processing=record.processing,  # type: ignore[arg-type]  # the table's CHECK allows only these
        width=record.width,
        height=record.height,
        post_id=record.post_id,
        created_at=record.created_at,
        completed_at=record.completed_at,
        url=view.url if view else None,
        variants=variants,
        urls_expire_at=view.urls_expire_at if view else None,
    )


def media_public_out(view: MediaView) -> MediaPublicOut | None:
    """What others see of a ready image (None for one that is not: it is shown as no image)."""
    if view.url is None or view.urls_expire_at is None:
        return None
    return MediaPublicOut(
        id=view.media.id,
        content_type=view.media.content_type,
        width=view.media.width,
        height=view.media.height,
        url=view.url,
        variants={
            name: MediaVariantOut(url=v.url, content_type=v.content_type, width=v.width, height=v.height, size=v.size)
            for name, v in view.variants.items()
        },
        urls_expire_at=view.urls_expire_at,
    )


@endpoint(
    bp,
    "POST",
    "/media/upload",
    summary="Start an image upload to my media; returns where to send the bytes.",
    body=MediaUploadIn,
    response=MediaUploadOut,
    status=201,
    errors=(403, 413),
)
async def create_upload(request: Request) -> HTTPResponse:
    principal = await authenticate(request)
    body = json_body(request, MediaUploadIn)
    created = await media_library(request).create_upload(
        principal, MediaUploadRequest(filename=body.filename, size=body.size, content_type=body.content_type)
    )
    out = MediaUploadOut(
        media_id=created.media.id,
        media=media_out(created.media),
        upload=presigned_out(created.upload),
        expires_at=created.expires_at,
    )
    return json(out, status=201)


@endpoint(
    bp,
    "POST",
    "/media/upload/{media_id}/complete",
    summary="Check the uploaded object and mark the image ready (422 `upload_mismatch` and deleted on "
    "mismatch); the media worker then makes its variants.",
    response=MediaOut,
    errors=(404, 409, 422),
)
async def complete(request: Request, media_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    return json(media_out(await media_library(request).complete(principal, media_id)))


@endpoint(
    bp,
    "GET",
    "/media/upload/{media_id}/status",
    summary="Where an upload stands: `status` (pending, ready) and `processing` (queued, done, failed).",
    response=MediaOut,
    errors=(404,),
)
async def status(request: Request, media_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    return json(media_out(await media_library(request).status(principal, media_id)))


@endpoint(
    bp,
    "GET",
    "/media/{media_id}",
    summary="One of my images with short-lived URLs of the original and its variants (thumb, medium).",
    response=MediaOut,
    errors=(404,),
)
async def get_media(request: Request, media_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    view = await media_library(request).get(principal, media_id)
    return json(media_out(view.media, view if view.url is not None else None))


@endpoint(
    bp,
    "DELETE",
    "/media/{media_id}",
    summary="Delete one of my images and its objects (a post or profile using it loses it).",
    status=204,
    content="empty",
    errors=(404,),
)
async def delete_media(request: Request, media_id: str) -> HTTPResponse:
    await media_library(request).delete(await authenticate(request), media_id)
    return empty()
