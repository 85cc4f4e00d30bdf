"""The local store's /blobs routes: hostile input always gets a JSON 4xx, never a 5xx; byte ranges."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from hub.config import Settings
from hub.errors import RangeNotSatisfiable
from rest.ranges import ByteRange, parse_range
from tests.support.server import running_hub


async def test_blob_routes_refuse_garbage(client: httpx.AsyncClient) -> None:
    cases = [
        ("POST", "/blobs/upload", {}, b""),
        ("POST", "/blobs/upload", {"content-type": "multipart/form-data; boundary=xyz"}, b"--xyz\r\nbroken"),
        (
            "POST",
            "/blobs/upload",
            {"content-type": "multipart/form-data; boundary=xyz"},
            b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\ndata\r\n--xyz--\r\n',
        ),
        (
            "POST",
            "/blobs/upload",
            {"content-type": "multipart/form-data; boundary=xyz"},
            b'--xyz\r\nContent-Disposition: form-data; name="policy"\r\n\r\n' + b"A" * 40_000 + b"\r\n--xyz--\r\n",
        ),
        ("POST", "/blobs/upload", {"content-type": "text/plain"}, b"hello"),
        ("PUT", "/blobs/part", {}, b"data"),
        ("PUT", "/blobs/part?t=abc.def", {}, b"data"),
        ("GET", "/blobs/object", {}, b""),
        ("GET", "/blobs/object?t=" + "x" * 5000, {}, b""),
        ("GET", "/blobs/object?t=eyJvcCI6ImdldCJ9.AAAA", {}, b""),
        ("GET", "/blobs/object?t=%00.%00", {}, b""),
    ]
    for method, path, headers, body in cases:
        r = await client.request(method, path, headers=headers, content=body)
        assert 400 <= r.status_code < 500, (method, path, r.status_code, r.text)
        assert r.json()["error"]["code"], path
    # Fields after a forged policy are refused as S3 would: 403.
    r = await client.post(
        "/blobs/upload",
        data={"key": "k", "Content-Type": "text/plain", "policy": "e30", "signature": "AAAA"},
        files={"file": ("a", b"x")},
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "signature_mismatch"


async def test_blob_routes_do_not_exist_with_s3(make_settings, s3_service) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(
        s3_endpoint=s3_service.endpoint,
        s3_bucket="nb" + "0123456789abcdef"[:8],
        s3_access_key=s3_service.access_key,
        s3_secret_key=s3_service.secret_key,
    )
    async with running_hub(settings) as (url, _), httpx.AsyncClient(base_url=url) as c:
        assert (await c.get("/blobs/object?t=a.b")).status_code == 404
        assert (await c.put("/blobs/part?t=a.b", content=b"data")).status_code == 404
        form = await c.post("/blobs/upload", data={"key": "k"}, files={"file": ("a", b"x")})
        assert form.status_code == 404
        ready = await c.get("/readyz")
        assert ready.json()["checks"]["s3"] == "ok"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("bytes=0-0", ByteRange(0, 0)),
        ("bytes=5-", ByteRange(5, 99)),
        ("bytes=-1", ByteRange(99, 99)),
        ("BYTES=1-2", ByteRange(1, 2)),  # range units are case-insensitive
        ("bytes=1-2,", ByteRange(1, 2)),  # empty list elements are ignored
        ("bytes=0-1,3-4", None),
        ("bytes=0-1, 0-1", None),  # several ranges: the whole object
        ("bytes=9-3", None),
        ("bytes=1-2-3", None),
        ("bytes=-", None),
        ("bytes=", None),
        ("bytes", None),
        ("items=0-1", None),
        ("bytes=\u0661-2", None),
        ("bytes=" + "9" * 30 + "-", None),
    ],
)
def test_parse_range(header: str | None, expected: ByteRange | None) -> None:
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=-0", "bytes=100-200"])
def test_parse_range_unsatisfiable(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable) as caught:
        parse_range(header, 100)
    assert caught.value.headers == {"Content-Range": "bytes */100"}


async def test_local_ranges_stream_from_disk(make_settings: Callable[..., Settings]) -> None:
    async with (
        running_hub(make_settings(sweep_interval=0)) as (url, app),
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        store = app.other_asgi_app.ctx.hub.blobs
        key = f"spaces/s1/{secrets.token_hex(8)}"
        data = os.urandom(3 * 1024 * 1024 + 17)  # several read chunks
        await store.put(key, data, content_type="video/mp4")
        link = await store.presign_download(key, ttl=60, content_type="video/mp4", disposition="inline")

        r = await http.get(link, headers={"Range": "bytes=1000000-2999999"})
        assert r.status_code == 206 and r.content == data[1_000_000:3_000_000]
        assert r.headers["content-range"] == f"bytes 1000000-2999999/{len(data)}"
        assert r.headers["content-type"] == "video/mp4" and r.headers["content-disposition"] == "inline"
        etag = r.headers["etag"]

        # 416 in the house format, with the size so the client can ask again.
        r = await http.get(link, headers={"Range": f"bytes={len(data)}-"})
        assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{len(data)}"
        error = r.json()["error"]
        assert error["code"] == "range_not_satisfiable" and error["request_id"]
        assert error["details"] == {"size": len(data)}

        # An invalid range is ignored (RFC 9110 allows ignoring or refusing it); so is one whose If-Range
        # names something other than this object.
        for headers in (
            {"Range": "bytes=9-3"},
            {"Range": "bytes=0-9", "If-Range": '"other"'},
            {"Range": "bytes=0-9", "If-Range": "Wed, 21 Oct 2015 07:28:00 GMT"},
        ):
            r = await http.get(link, headers=headers)
            assert r.status_code == 200 and r.content == data, headers
        r = await http.get(link, headers={"Range": "bytes=0-9", "If-Range": etag})
        assert r.status_code == 206 and r.content == data[:10]


async def test_local_part_shorter_than_signed_is_refused_while_streamed(make_settings: Callable[..., Settings]) -> None:
    async with (
        running_hub(make_settings(sweep_interval=0)) as (url, app),
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        store = app.other_asgi_app.ctx.hub.blobs
        key = f"spaces/s1/{secrets.token_hex(8)}"
        upload_id = await store.create_multipart(key, content_type="application/zip")
        part = await store.presign_part(key, upload_id, 1, ttl=60, size=2048)

        async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: only the byte count can tell
            yield b"a" * 1000

        r = await http.put(part.url, content=chunked())
        assert r.status_code == 400 and r.json()["error"]["code"] == "entity_too_small"
        assert await store.list_parts(key, upload_id) == []
