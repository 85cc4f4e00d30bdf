"""One contract, every blob store: the local-disk store (served by a running hub) and S3 (SeaweedFS).

Expired URLs: upload policies are presigned with a negative TTL (already expired, which both stores
accept at signing time); SigV4 download URLs cannot be signed in the past, so those are presigned with
a one-second TTL and the test waits on the clock (polling `time.time()`), not on a fixed sleep.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx
import orjson
import pytest

from hub.config import Settings
from hub.errors import NotFound, PayloadTooLarge
from hub.ports.blob_face import SignedUrlFace
from hub.ports.files import BlobStore, PresignedUpload
from storage.blobs.s3 import S3BlobStore
from tests.support.server import hub_of, running_hub
from tests.support.waiting import eventually

MIB = 1024 * 1024


@dataclass
class StoreUnderTest:
    store: BlobStore
    http: httpx.AsyncClient


@pytest.fixture(params=["local", "s3"])
async def sut(request: pytest.FixtureRequest, make_settings: Callable[..., Settings]) -> AsyncIterator[StoreUnderTest]:
    if request.param == "local":
        async with (
            running_hub(make_settings(sweep_interval=0)) as (url, app),
            httpx.AsyncClient(base_url=url, timeout=30) as http,
        ):
            yield StoreUnderTest(hub_of(app).blobs, http)
    else:
        s3 = request.getfixturevalue("s3_service")
        store = await S3BlobStore.open(
            endpoint=s3.endpoint,
            region=s3.region,
            bucket="t" + secrets.token_hex(8),
            access_key=s3.access_key,
            secret_key=s3.secret_key,
            path_style=True,
            create_bucket=True,
        )
        try:
            async with httpx.AsyncClient(timeout=30) as http:
                yield StoreUnderTest(store, http)
        finally:
            await store.close()


async def post_form(http: httpx.AsyncClient, upload: PresignedUpload, data: bytes, **changes: str) -> httpx.Response:
    assert upload.method == "POST"
    fields = {**upload.fields, **changes}
    return await http.post(upload.url, data=fields, files={"file": ("ignored.bin", data, "application/octet-stream")})


async def wait_for_clock(deadline: float) -> None:
    """Wait until wall-clock time passes `deadline` (the condition the store checks; nothing can signal it)."""
    await eventually(lambda: time.time() > deadline, timeout=max(0.0, deadline - time.time()) + 5)


def retarget(url: str, key: str, other: str) -> str:
    """The same signature on a URL naming another object (the key sits in the path for S3 and in the
    signed payload for the local store)."""
    if key in url:
        return url.replace(key, other)
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["t"][0]
    payload, _, mac = token.partition(".")
    claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["key"] = other
    forged = base64.urlsafe_b64encode(orjson.dumps(claims)).decode().rstrip("=")
    return url.split("?")[0] + "?t=" + urllib.parse.quote(f"{forged}.{mac}")


async def read_all(store: BlobStore, key: str, max_bytes: int = 64 * MIB) -> bytes:
    return b"".join([chunk async for chunk in store.read(key, max_bytes=max_bytes)])


async def test_only_a_store_the_hub_serves_has_a_signed_url_face(sut: StoreUnderTest) -> None:
    """The hub's /blobs routes serve the local store through `SignedUrlFace`; S3 answers its own URLs."""
    assert isinstance(sut.store, SignedUrlFace) is not isinstance(sut.store, S3BlobStore)


async def test_post_upload_then_download_roundtrip(sut: StoreUnderTest) -> None:
    key = f"spaces/s1/{secrets.token_hex(8)}"
    body = b"hello, world"
    upload = await sut.store.presign_upload(
        key, content_type="text/plain", min_bytes=len(body), max_bytes=len(body), ttl=60
    )
    assert upload.fields["key"] == key and upload.fields["Content-Type"] == "text/plain"
    r = await post_form(sut.http, upload, body)
    assert r.status_code in (200, 201, 204), r.text
    info = await sut.store.head(key)
    assert info is not None and info.size == len(body) and info.content_type == "text/plain"
    assert await read_all(sut.store, key) == body

    disposition = "attachment; filename=\"h_llo.txt\"; filename*=UTF-8''h%C3%A9llo.txt"
    url = await sut.store.presign_download(key, ttl=60, content_type="text/plain", disposition=disposition)
    r = await sut.http.get(url)
    assert r.status_code == 200 and r.content == body
    assert r.headers["content-disposition"] == disposition
    assert r.headers["content-type"].startswith("text/plain")

    await sut.store.delete(key)
    assert await sut.store.head(key) is None
    await sut.store.delete(key)  # idempotent
    assert (await sut.http.get(url)).status_code in (403, 404)


async def test_tampered_upload_policy_is_refused(sut: StoreUnderTest) -> None:
    key = f"spaces/s1/{secrets.token_hex(8)}"
    upload = await sut.store.presign_upload(key, content_type="image/png", min_bytes=3, max_bytes=3, ttl=60)
    signature_field = "x-amz-signature" if "x-amz-signature" in upload.fields else "signature"
    forged = upload.fields[signature_field][:-4] + "abcd"
    for changes in ({signature_field: forged}, {"key": key + "x"}, {"Content-Type": "text/html"}):
        r = await post_form(sut.http, upload, b"abc", **changes)
        assert r.status_code == 403, (changes, r.text)
    assert await sut.store.head(key) is None
    assert await sut.store.head(key + "x") is None


async def test_expired_upload_policy_is_refused(sut: StoreUnderTest) -> None:
    key = f"spaces/s1/{secrets.token_hex(8)}"
    upload = await sut.store.presign_upload(key, content_type="text/plain", min_bytes=2, max_bytes=2, ttl=-30)
    r = await post_form(sut.http, upload, b"hi")
    assert r.status_code == 403
    assert await sut.store.head(key) is None


async def test_upload_outside_the_size_range_is_refused(sut: StoreUnderTest) -> None:
    key = f"spaces/s1/{secrets.token_hex(8)}"
    upload = await sut.store.presign_upload(key, content_type="text/plain", min_bytes=10, max_bytes=10, ttl=60)
    too_big = await post_form(sut.http, upload, b"x" * 4096)
    assert too_big.status_code in (400, 413), too_big.text
    too_small = await post_form(sut.http, upload, b"x" * 3)
    assert too_small.status_code in (400, 403), too_small.text
    assert await sut.store.head(key) is None


async def test_tampered_and_expired_download_urls_are_refused(sut: StoreUnderTest) -> None:
    key = f"spaces/s1/{secrets.token_hex(8)}"
    await sut.store.put(key, b"secret bytes", content_type="application/octet-stream")
    url = await sut.store.presign_download(
        key, ttl=60, content_type="application/octet-stream", disposition="attachment"
    )
    assert (await sut.http.get(url)).status_code == 200
    other = f"spaces/s1/{secrets.token_hex(8)}"
    await sut.store.put(other, b"other bytes", content_type="application/octet-stream")
    # Pointing a valid signature at another object, or altering the signature, is refused.
    for forged in (retarget(url, key, other), url[:-6] + ("AAAAAA" if not url.endswith("AAAAAA") else "BBBBBB")):
        r = await sut.http.get(forged)
        assert r.status_code == 403, forged
    signed_at = time.time()
    short = await sut.store.presign_download(
        key, ttl=1, content_type="application/octet-stream", disposition="attachment"
    )
    await wait_for_clock(int(signed_at) + 2.2)
    r = await sut.http.get(short)
    assert r.status_code == 403
    assert b"secret" not in r.content


async def test_multipart_upload_resumes_after_interruption(sut: StoreUnderTest) -> None:
    key = f"spaces/s1/{secrets.token_hex(8)}"
    first, last = os.urandom(5 * MIB), os.urandom(1000)
    upload_id = await sut.store.create_multipart(key, content_type="application/zip")
    part1 = await sut.store.presign_part(key, upload_id, 1, ttl=60, size=5 * MIB)
    assert part1.method == "PUT"
    r = await sut.http.put(part1.url, content=first, headers=part1.headers)
    assert r.status_code == 200, r.text

    # The client goes away; a new one asks what arrived and continues from there.
    async with httpx.AsyncClient(base_url=str(sut.http.base_url), timeout=30) as resumed:
        parts = await sut.store.list_parts(key, upload_id)
        assert [(p.number, p.size) for p in parts] == [(1, 5 * MIB)]
        part2 = await sut.store.presign_part(key, upload_id, 2, ttl=60, size=len(last))
        assert (await resumed.put(part2.url, content=last, headers=part2.headers)).status_code == 200
    parts = await sut.store.list_parts(key, upload_id)
    assert [(p.number, p.size) for p in parts] == [(1, 5 * MIB), (2, 1000)]
    await sut.store.complete_multipart(key, upload_id, parts)

    info = await sut.store.head(key)
    assert info is not None and info.size == 5 * MIB + 1000 and info.content_type == "application/zip"
    data = await read_all(sut.store, key)
    assert hashlib.sha256(data).digest() == hashlib.sha256(first + last).digest()
    with pytest.raises(NotFound):
        await sut.store.list_parts(key, upload_id)


async def test_part_of_another_length_is_refused(sut: StoreUnderTest) -> None:
    key = f"spaces/s1/{secrets.token_hex(8)}"
    upload_id = await sut.store.create_multipart(key, content_type="application/octet-stream")
    part = await sut.store.presign_part(key, upload_id, 1, ttl=60, size=2048)
    for body in (b"s" * 2047, b"l" * 2049, b""):
        r = await sut.http.put(part.url, content=body)
        assert r.status_code in (400, 403, 413), (len(body), r.status_code, r.text)
    assert await sut.store.list_parts(key, upload_id) == []
    assert (await sut.http.put(part.url, content=b"e" * 2048)).status_code == 200
    assert [p.size for p in await sut.store.list_parts(key, upload_id)] == [2048]
    await sut.store.abort_multipart(key, upload_id)


async def test_aborted_multipart_upload_is_gone(sut: StoreUnderTest) -> None:
    key = f"spaces/s1/{secrets.token_hex(8)}"
    upload_id = await sut.store.create_multipart(key, content_type="application/octet-stream")
    part = await sut.store.presign_part(key, upload_id, 1, ttl=60, size=1024)
    assert (await sut.http.put(part.url, content=b"z" * 1024)).status_code == 200
    await sut.store.abort_multipart(key, upload_id)
    with pytest.raises(NotFound):
        await sut.store.list_parts(key, upload_id)
    await sut.store.abort_multipart(key, upload_id)  # idempotent
    assert await sut.store.head(key) is None


async def test_read_limits_and_missing_objects(sut: StoreUnderTest) -> None:
    key = f"spaces/s1/{secrets.token_hex(8)}"
    await sut.store.put(key, b"x" * 1000, content_type="image/webp")
    info = await sut.store.head(key)
    assert info is not None and info.content_type == "image/webp" and info.size == 1000
    with pytest.raises(PayloadTooLarge):
        await read_all(sut.store, key, max_bytes=10)
    with pytest.raises(NotFound):
        await read_all(sut.store, key + "-missing")
    assert await sut.store.head(key + "-missing") is None
    await sut.store.check()


async def test_download_byte_ranges(sut: StoreUnderTest) -> None:
    key = f"spaces/s1/{secrets.token_hex(8)}"
    data = bytes(range(256)) * 4
    await sut.store.put(key, data, content_type="application/octet-stream")
    url = await sut.store.presign_download(
        key, ttl=60, content_type="application/octet-stream", disposition="attachment"
    )
    whole = await sut.http.get(url)
    assert whole.status_code == 200 and whole.content == data and whole.headers["accept-ranges"] == "bytes"

    for header, start, end in [
        ("bytes=0-9", 0, 9),
        ("bytes=10-", 10, 1023),
        ("bytes=-5", 1019, 1023),
        ("bytes=1000-5000", 1000, 1023),  # an end past the object is clamped
        ("bytes=-2000", 0, 1023),  # a suffix longer than the object is all of it
        ("bytes=1023-1023", 1023, 1023),
    ]:
        r = await sut.http.get(url, headers={"Range": header})
        assert r.status_code == 206, (header, r.status_code)
        assert r.content == data[start : end + 1], header
        assert r.headers["content-range"] == f"bytes {start}-{end}/1024", header
        assert r.headers["accept-ranges"] == "bytes" and int(r.headers["content-length"]) == end - start + 1

    for header in ("bytes=1024-", "bytes=5000-6000", "bytes=-0"):
        r = await sut.http.get(url, headers={"Range": header})
        assert r.status_code == 416, (header, r.status_code)
        assert r.headers["content-range"] == "bytes */1024", header
        assert data[:64] not in r.content

    # Several ranges, another unit or garbage: the header is ignored and the whole object is sent.
    for header in ("bytes=0-1,5-6", "items=0-5", "bytes=abc"):
        r = await sut.http.get(url, headers={"Range": header})
        assert r.status_code == 200 and r.content == data, header

    empty = f"spaces/s1/{secrets.token_hex(8)}"
    await sut.store.put(empty, b"", content_type="text/plain")
    url = await sut.store.presign_download(empty, ttl=60, content_type="text/plain", disposition="attachment")
    for header in ("bytes=0-", "bytes=-5"):
        r = await sut.http.get(url, headers={"Range": header})
        assert r.status_code == 416 and r.headers["content-range"] == "bytes */0", header
