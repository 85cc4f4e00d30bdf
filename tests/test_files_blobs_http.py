"""The local store's /blobs routes under hostile input: always a JSON 4xx, never a 5xx."""

from __future__ import annotations

import httpx

from tests.support.server import running_hub


async def test_blob_routes_refuse_garbage(client: httpx.AsyncClient) -> None:
    cases = [
        ("POST", "/blobs/upload", {}, b""),
        ("POST", "/blobs/upload", {"content-type": "multipart/form-data; boundary=xyz"}, b"--xyz\r\nbroken"),
        ("POST", "/blobs/upload", {"content-type": "multipart/form-data; boundary=xyz"},
         b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\ndata\r\n--xyz--\r\n'),
        ("POST", "/blobs/upload", {"content-type": "multipart/form-data; boundary=xyz"},
         b'--xyz\r\nContent-Disposition: form-data; name="policy"\r\n\r\n' + b"A" * 40_000 + b"\r\n--xyz--\r\n"),
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
    r = await client.post("/blobs/upload", data={"key": "k", "Content-Type": "text/plain", "policy": "e30",
                                                  "signature": "AAAA"}, files={"file": ("a", b"x")})
    assert r.status_code == 403 and r.json()["error"]["code"] == "signature_mismatch"


async def test_blob_routes_do_not_exist_with_s3(make_settings, s3_service) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(s3_endpoint=s3_service.endpoint, s3_bucket="nb" + "0123456789abcdef"[:8],
                             s3_access_key=s3_service.access_key, s3_secret_key=s3_service.secret_key)
    async with running_hub(settings) as (url, _), httpx.AsyncClient(base_url=url) as c:
        assert (await c.get("/blobs/object?t=a.b")).status_code == 404
        ready = await c.get("/readyz")
        assert ready.json()["checks"]["s3"] == "ok"
