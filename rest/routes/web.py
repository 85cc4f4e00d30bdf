"""The browser client: index.html for the SPA's routes and its static files with content ETags.

The client is plain ES modules importing each other by fixed names, so files cannot carry hashed
names without a build step; instead every response carries a strong ETag over the file's bytes with
`Cache-Control: no-cache`, and browsers revalidate with If-None-Match and get a bodiless 304.
(Sanic's own static handler sends only Last-Modified, which is second-granular and lies after a
checkout that keeps mtimes.)
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from sanic import Blueprint, HTTPResponse, Request
from sanic.response import empty, raw

from hub.errors import StaticNotFound
from rest.openapi import endpoint

bp = Blueprint("web")

WEB_DIR = Path(__file__).resolve().parent.parent.parent / "web"
STATIC_DIR = WEB_DIR / "static"

_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".map": "application/json; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
    ".LICENSE": "text/plain; charset=utf-8",
}
_MAX_PATH = 256


@dataclass(frozen=True, slots=True)
class _Asset:
    mtime_ns: int
    size: int
    body: bytes
    etag: str
    content_type: str


class AssetCache:
    """Reads each file once per change (keyed by mtime and size) and remembers its ETag."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._cache: dict[Path, _Asset] = {}

    def resolve(self, relative: str) -> Path:
        """The file under the root, or NotFound: no traversal, no dotfiles, no directories."""
        parts = relative.split("/")
        if (
            not relative
            or len(relative) > _MAX_PATH
            or "\\" in relative
            or "\x00" in relative
            or any(not p or p.startswith(".") for p in parts)
        ):
            raise StaticNotFound("No such file.")
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            raise StaticNotFound("No such file.")
        return path

    def get(self, path: Path) -> _Asset:
        stat = path.stat()
        cached = self._cache.get(path)
        if cached is not None and cached.mtime_ns == stat.st_mtime_ns and cached.size == stat.st_size:
            return cached
        body = path.read_bytes()
        suffix = path.suffix if path.suffix in _TYPES else ""
        content_type = _TYPES.get(suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        asset = _Asset(
            stat.st_mtime_ns, stat.st_size, body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"', content_type
        )
        self._cache[path] = asset
        return asset


_static = AssetCache(STATIC_DIR)
_pages = AssetCache(WEB_DIR)


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    # Weak comparison (RFC 9110 §13.1.2): a W/ prefix from a proxy still matches.
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))


def _serve(request: Request, asset: _Asset) -> HTTPResponse:
    headers = {"ETag": asset.etag, "Cache-Control": "no-cache"}
    if _etag_matches(request.headers.get("if-none-match"), asset.etag):
        return empty(status=304, headers=headers)
    # HEAD gets the GET answer: the server sends its headers and drops the body. An explicit length
    # (Sanic streams ASGI bodies chunked otherwise) tells a HEAD what the GET would send.
    headers["Content-Length"] = str(len(asset.body))
    return raw(asset.body, content_type=asset.content_type, headers=headers)


def _index(request: Request) -> HTTPResponse:
    return _serve(request, _pages.get(_pages.resolve("index.html")))


@endpoint(bp, "GET", "/", summary="The web client.", auth=False, content="html")
async def index(request: Request) -> HTTPResponse:
    return _index(request)


@endpoint(
    bp,
    "GET",
    "/s/{space_id}",
    summary="The web client, opened on a space (its share link).",
    auth=False,
    content="html",
)
async def space_page(request: Request, space_id: str) -> HTTPResponse:
    # The client asks the API whether the space exists; the page itself reveals nothing.
    return _index(request)


@endpoint(
    bp,
    "GET",
    "/join",
    summary="The web client, redeeming the invite token in the URL fragment.",
    auth=False,
    content="html",
)
async def join_page(request: Request) -> HTTPResponse:
    return _index(request)


@endpoint(
    bp,
    "GET",
    "/u/{handle}",
    summary="The web client, opened on a profile.",
    auth=False,
    content="html",
)
async def profile_page(request: Request, handle: str) -> HTTPResponse:
    # As for spaces: the client asks the API, so the page says nothing about whether the handle exists.
    return _index(request)


@endpoint(
    bp,
    "GET",
    "/home",
    summary="The web client's social home (people; the feed, compose and search).",
    auth=False,
    content="html",
)
async def home_page(request: Request) -> HTTPResponse:
    return _index(request)


async def static_file(request: Request, path: str) -> HTTPResponse:
    """Static assets are not part of the API, so they stay out of the OpenAPI document."""
    return _serve(request, _static.get(_static.resolve(path)))


bp.add_route(static_file, "/static/<path:path>", methods=["GET", "HEAD"], name="static_file")
# HEAD on a page answers like GET (link checkers, monitors, proxies probing the client); the OpenAPI
# document keeps describing the GET.
for _page, _path in (
    (index, "/"),
    (space_page, "/s/<space_id:str>"),
    (join_page, "/join"),
    (profile_page, "/u/<handle:str>"),
    (home_page, "/home"),
):
    bp.add_route(_page, _path, methods=["HEAD"], name=f"{_page.__name__}_head", strict_slashes=False)
