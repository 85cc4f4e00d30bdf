"""REST hardening against the real hub: file ids cannot be probed, raw header bytes never give a 5xx,
per-user answers are not cached, pages answer HEAD, and malformed HTTP is refused cleanly.

Raw requests go over a plain socket because HTTP clients refuse to send the bytes under test; every
read has a deadline.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from hub.config import Settings
from storage.postgres.server import free_port
from tests.helpers import auth, make_space, register
from tests.support.server import running_hub, wait_ready

READ_DEADLINE = 10.0


# --- raw HTTP ------------------------------------------------------------------------------------


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    closed: bool

    def json(self) -> Any:
        return orjson.loads(self.body)


def _parse(data: bytes, closed: bool) -> RawResponse:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = _dechunk(body)
    return RawResponse(status, headers, body, closed)


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        data = rest[size + 2 :]
    return out


async def raw_request(base_url: str, data: bytes) -> RawResponse:
    """Send `data` as is and read the whole answer: up to the connection's end or Content-Length."""
    parts = urlsplit(base_url)
    assert parts.hostname and parts.port
    async with asyncio.timeout(READ_DEADLINE):
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            writer.write(data)
            await writer.drain()
            received = b""
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    return _parse(received, closed=True)
                received += chunk
                head, sep, body = received.partition(b"\r\n\r\n")
                if sep:
                    length = _parse(head + sep, closed=False).headers.get("content-length")
                    if length is not None and len(body) >= int(length):
                        return _parse(received, closed=False)
        finally:
            writer.close()


def get_with(path: str, *headers: bytes, method: bytes = b"GET") -> bytes:
    lines = [method + b" " + path.encode() + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close", *headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


# --- 5: file ids cannot be probed ------------------------------------------------------------------


@dataclass
class FileWorld:
    http: httpx.AsyncClient
    owner: str
    space: str
    ready: str
    pending: str
    callers: dict[str, str]


@pytest.fixture
async def file_world(make_settings: Callable[..., Settings]) -> AsyncIterator[FileWorld]:
    # Multipart from 1 KiB, so a pending upload with parts exists without sending 5 MiB.
    settings = make_settings(multipart_threshold=1024)
    async with running_hub(settings) as (url, _app), httpx.AsyncClient(base_url=url, timeout=30) as http:
        owner = (await register(http))["access_token"]
        sid = (await make_space(http, owner))["id"]
        body = {"filename": "secret.txt", "size": 12, "content_type": "text/plain"}
        created = (await http.post(f"/spaces/{sid}/files", json=body, headers=auth(owner))).json()
        sent = await http.post(
            created["upload"]["url"], data=created["upload"]["fields"], files={"file": ("blob", b"members only")}
        )
        assert sent.status_code in (200, 201, 204), sent.text
        assert (await http.post(f"/files/{created['file_id']}/complete", headers=auth(owner))).status_code == 200
        big = {"filename": "big.zip", "size": 4096, "content_type": "application/zip"}
        pending = (await http.post(f"/spaces/{sid}/files", json=big, headers=auth(owner))).json()
        assert pending["multipart"] is not None

        callers: dict[str, str] = {}
        callers["stranger"] = (await register(http))["access_token"]
        guest = await http.post("/auth/guest", json={"display_name": "Guest"})
        callers["guest"] = guest.json()["access_token"]
        for role in ("viewer", "editor"):
            token = (await register(http))["access_token"]
            other_owner = (await register(http))["access_token"]
            other = (await make_space(http, other_owner))["id"]
            invite = await http.post(f"/spaces/{other}/invites", json={"role": role}, headers=auth(other_owner))
            joined = await http.post("/spaces/join", json={"token": invite.json()["token"]}, headers=auth(token))
            assert joined.status_code == 200, joined.text
            callers[f"{role} of another space"] = token
        callers["owner of another space"] = (await register(http))["access_token"]
        await make_space(http, callers["owner of another space"])
        # Was an editor of this very space, then left it.
        former = (await register(http))["access_token"]
        invite = await http.post(f"/spaces/{sid}/invites", json={"role": "editor"}, headers=auth(owner))
        assert (
            await http.post("/spaces/join", json={"token": invite.json()["token"]}, headers=auth(former))
        ).status_code == 200
        assert (await http.post(f"/spaces/{sid}/leave", headers=auth(former))).status_code == 204
        callers["former member"] = former
        yield FileWorld(http, owner, sid, created["file_id"], pending["file_id"], callers)


FILE_ROUTES = [
    ("GET", "/files/{id}", None),
    ("DELETE", "/files/{id}", None),
    ("POST", "/files/{id}/complete", None),
    ("GET", "/files/{id}/parts", None),
    ("POST", "/files/{id}/parts", {"part_numbers": [1]}),
    ("POST", "/files/{id}/abort", None),
    ("GET", "/files/{id}/download", None),
]


def _comparable(r: httpx.Response) -> tuple[int, dict[str, str], dict[str, Any]]:
    # The request id is per request and Date follows the clock; everything else must match exactly.
    headers = {k: v for k, v in r.headers.items() if k not in ("x-request-id", "date")}
    body = r.json()
    body["error"].pop("request_id")
    return r.status_code, headers, body


async def test_a_real_file_id_answers_a_non_member_exactly_like_a_missing_one(file_world: FileWorld) -> None:
    w = file_world
    cells = 0
    for caller, token in w.callers.items():
        for method, template, body in FILE_ROUTES:
            for real in (w.ready, w.pending):
                missing = secrets.token_urlsafe(16)  # the same shape as a real id
                seen = await w.http.request(method, template.format(id=real), json=body, headers=auth(token))
                unknown = await w.http.request(method, template.format(id=missing), json=body, headers=auth(token))
                assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "file_not_found"
                assert _comparable(seen) == _comparable(unknown), (caller, method, template, seen.text)
                assert seen.content.replace(seen.headers["x-request-id"].encode(), b"") == unknown.content.replace(
                    unknown.headers["x-request-id"].encode(), b""
                )
                cells += 1
    assert cells == 7 * 6 * 2
    # Nothing a stranger sent changed anything.
    for fid, status in ((w.ready, "ready"), (w.pending, "pending")):
        r = await w.http.get(f"/files/{fid}", headers=auth(w.owner))
        assert r.status_code == 200 and r.json()["status"] == status


async def test_members_still_get_role_errors_on_files(file_world: FileWorld) -> None:
    """Members know the file exists: a viewer's write stays a 403, not a 404."""
    w = file_world
    viewer = (await register(w.http))["access_token"]
    invite = await w.http.post(f"/spaces/{w.space}/invites", json={"role": "viewer"}, headers=auth(w.owner))
    await w.http.post("/spaces/join", json={"token": invite.json()["token"]}, headers=auth(viewer))
    r = await w.http.delete(f"/files/{w.ready}", headers=auth(viewer))
    assert r.status_code == 403 and r.json()["error"]["code"] == "role_required"
    assert (await w.http.get(f"/files/{w.ready}", headers=auth(viewer))).status_code == 200


# --- 7: raw header bytes -------------------------------------------------------------------------


async def test_non_utf8_bearer_token_is_401_token_invalid(hub_url: str) -> None:
    r = await raw_request(hub_url, get_with("/auth/me", b"Authorization: Bearer \xff\xfe"))
    assert r.status == 401, r.body
    error = r.json()["error"]
    assert error["code"] == "token_invalid" and error["request_id"] == r.headers["x-request-id"]
    assert r.headers["www-authenticate"] == "Bearer"


HOSTILE_BYTES = [
    b"\xff\xfe",
    b"Bearer \xff\xfe",
    b"Bearer a\xc3\x28b",
    b"\x80\x81\x82",
    b"caf\xc3",
    b"\xc0\xaf..\xc0\xaf",
    b'W/"\xff"',
    b'"v1\xfe"',
    b"bytes=\xff-\xfe",
    b"bytes=0-\xff",
    b"text/plain; charset=\xff",
    b"application/json\xff",
    b"sid=\xff; a=\xfe",
    b"http://\xff\xfe.example",
]
FUZZED_HEADERS = [
    b"Authorization",
    b"If-Match",
    b"If-None-Match",
    b"X-Request-ID",
    b"Origin",
    b"Range",
    b"Content-Type",
    b"Cookie",
]


async def test_raw_bytes_in_headers_never_give_a_5xx(client: httpx.AsyncClient, hub_url: str) -> None:
    token = (await register(client))["access_token"]
    sid = (await make_space(client, token))["id"]
    bin_id = (
        await client.post(f"/spaces/{sid}/bins", json={"title": "t", "content": "c"}, headers=auth(token))
    ).json()["id"]
    bearer = b"Authorization: Bearer " + token.encode()
    body = b'{"content": "x"}'
    data = b"0123456789"
    created = (
        await client.post(
            f"/spaces/{sid}/files",
            json={"filename": "a.txt", "size": len(data), "content_type": "text/plain"},
            headers=auth(token),
        )
    ).json()
    await client.post(created["upload"]["url"], data=created["upload"]["fields"], files={"file": ("b", data)})
    fid = created["file_id"]
    assert (await client.post(f"/files/{fid}/complete", headers=auth(token))).status_code == 200
    signed = (await client.get(f"/files/{fid}/download?redirect=false", headers=auth(token))).json()["url"]
    blob = urlsplit(signed)
    targets = [
        (b"GET", "/auth/me", []),
        (b"GET", f"/spaces/{sid}/bins/{bin_id}", [bearer]),
        (b"GET", f"/spaces/{sid}/bins/{bin_id}/raw", [bearer]),
        (b"PATCH", f"/spaces/{sid}/bins/{bin_id}", [bearer, b"Content-Length: %d" % len(body)]),
        (b"GET", "/static/app.css", []),
        (b"GET", "/", []),
        (b"OPTIONS", "/spaces", [b"Access-Control-Request-Method: POST"]),
        (b"GET", f"{blob.path}?{blob.query}", []),
        (b"GET", "/socket.io/?EIO=4&transport=polling", []),
    ]
    tried = 0
    for method, path, extra in targets:
        for name in FUZZED_HEADERS:
            for value in HOSTILE_BYTES:
                headers = [h for h in extra if not (name == b"Authorization" and h.startswith(b"Authorization"))]
                request = get_with(path, *headers, name + b": " + value, method=method)
                if method == b"PATCH":
                    request += body
                r = await raw_request(hub_url, request)
                tried += 1
                assert r.status < 500, (method, path, name, value, r.status, r.body)
                if r.status >= 400 and not path.startswith("/socket.io/"):
                    assert r.json()["error"]["request_id"] == r.headers["x-request-id"], (path, name, value)
    assert tried == len(targets) * len(FUZZED_HEADERS) * len(HOSTILE_BYTES)
    # The bin was never changed by a request whose headers were garbage.
    assert (await client.get(f"/spaces/{sid}/bins/{bin_id}", headers=auth(token))).json()["content"] == "c"


async def test_raw_and_percent_encoded_bytes_in_targets_never_give_a_5xx(
    client: httpx.AsyncClient, hub_url: str
) -> None:
    bearer = b"Authorization: Bearer " + (await register(client))["access_token"].encode()
    targets = [
        b"/spaces/%ff%fe",
        b"/spaces/\xff\xfe",
        b"/files/%ff/download?variant=%ff&attachment=%ff&redirect=%c3",
        b"/spaces?cursor=%ff%fe&limit=%ff",
        b"/static/%ff.css",
        b"/static/\xff.css",
        b"/s/%ff%fe",
        b"/spaces/%c0%af/bins/%00",
        b"/files/%ff%fe/parts",
        b"/auth/me?%ff=%fe",
        b"/" + b"a" * 100_000,
    ]
    for target in targets:
        for method in (b"GET", b"POST", b"DELETE"):
            r = await raw_request(
                hub_url,
                b"%s %s HTTP/1.1\r\nHost: h\r\n%s\r\nConnection: close\r\n"
                b"Content-Length: 2\r\n\r\n{}" % (method, target, bearer),
            )
            assert r.status < 500, (method, target[:60], r.status, r.body)
            if r.status >= 400:
                assert r.json()["error"]["request_id"] == r.headers["x-request-id"], (method, target[:60])


# --- 8: the CSP names the exact origins a page may connect to ---------------------------------------


def _directives(csp: str) -> dict[str, list[str]]:
    return {d.strip().split(" ", 1)[0]: d.strip().split(" ")[1:] for d in csp.split(";")}


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"public_url": "https://hub.example.com/"}, ["'self'", "https://hub.example.com", "wss://hub.example.com"]),
        ({"public_url": "http://127.0.0.1:8123"}, ["'self'", "http://127.0.0.1:8123", "ws://127.0.0.1:8123"]),
        ({"host": "10.0.0.5", "port": 9000}, ["'self'", "http://10.0.0.5:9000", "ws://10.0.0.5:9000"]),
        ({"host": "0.0.0.0", "port": 8080}, ["'self'"]),
        (
            {
                "public_url": "https://Hub.Example.com:8443/app",
                "s3_endpoint": "https://store.example.net",
                "s3_bucket": "media",
                "s3_path_style": True,
            },
            ["'self'", "https://hub.example.com:8443", "wss://hub.example.com:8443", "https://store.example.net"],
        ),
    ],
)
def test_connect_src_is_the_hubs_own_origins_and_the_store(settings: dict[str, Any], expected: list[str]) -> None:
    from hub.config import load_settings
    from hub.security import content_security_policy

    connect = _directives(content_security_policy(load_settings(environ={}, env="test", **settings)))["connect-src"]
    # No bare scheme (ws:, wss:, https:) and no wildcard: a page may open a socket to its own hub only.
    assert connect == expected


async def test_pages_carry_the_narrow_connect_src(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(public_url="https://collab.example.org")
    async with running_hub(settings) as (url, _), httpx.AsyncClient(base_url=url) as http:
        for path in ("/", "/healthz", "/static/app.css"):
            connect = _directives((await http.get(path)).headers["content-security-policy"])["connect-src"]
            assert connect == ["'self'", "https://collab.example.org", "wss://collab.example.org"], path


# --- 9: per-user answers are not stored; pages answer HEAD -------------------------------------------


async def test_per_user_answers_are_not_stored(client: httpx.AsyncClient) -> None:
    token = (await register(client))["access_token"]
    sid = (await make_space(client, token))["id"]
    h = auth(token)
    answers = [
        await client.get("/auth/me", headers=h),
        await client.get("/spaces", headers=h),
        await client.get(f"/spaces/{sid}", headers=h),
        await client.get(f"/spaces/{sid}/members", headers=h),
        await client.get(f"/spaces/{sid}/files", headers=h),
        await client.get(f"/spaces/{sid}/uploads", headers=h),
        await client.patch("/auth/me", json={"display_name": "New Name"}, headers=h),
        await client.get(f"/spaces/{sid}/bins/nope", headers=h),  # an error answer to a caller
        await client.get("/auth/me", headers=auth("not-a-token")),
    ]
    for r in answers:
        assert r.headers["cache-control"] == "no-store", (r.request.url, r.status_code)
    # Public answers keep their own caching rules.
    assert (await client.get("/")).headers["cache-control"] == "no-cache"
    assert "cache-control" not in (await client.get("/healthz")).headers


@pytest.mark.parametrize(
    "path", ["/", "/s/abc123", "/join", "/u/alice", "/home", "/static/app.css", "/static/js/realtime.js"]
)
async def test_head_answers_pages_like_get_without_a_body(hub_url: str, path: str) -> None:
    get = await raw_request(hub_url, get_with(path))
    head = await raw_request(hub_url, get_with(path, method=b"HEAD"))
    assert get.status == 200 and head.status == 200, head.body
    assert head.body == b"" and get.body
    same = ("content-type", "content-length", "etag", "cache-control", "content-security-policy")
    assert {k: head.headers.get(k) for k in same} == {k: get.headers.get(k) for k in same}
    assert int(head.headers["content-length"]) == len(get.body)
    revalidated = await raw_request(
        hub_url, get_with(path, b"If-None-Match: " + get.headers["etag"].encode(), method=b"HEAD")
    )
    assert revalidated.status == 304 and revalidated.body == b""


# --- 9: malformed HTTP -------------------------------------------------------------------------------

MALFORMED = {
    "bad content-length": b"POST /spaces HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n{}",
    "negative content-length": b"POST /spaces HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n{}",
    "two content-lengths": b"POST /spaces HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    "content-length and chunked": (
        b"POST /spaces HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    ),
    "bad chunk size": b"POST /spaces HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    "nul in the path": b"GET /spa\x00ces HTTP/1.1\r\nHost: h\r\n\r\n",
    "space in the path": b"GET /spa ces/x HTTP/1.1\r\nHost: h\r\n\r\n",
    "header without colon": b"GET /healthz HTTP/1.1\r\nHost: h\r\nJustAName\r\n\r\n",
    "nul in a header": b"GET /healthz HTTP/1.1\r\nHost: h\r\nX-A: a\x00b\r\n\r\n",
    "tls to the http port": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(32),
    "http/9": b"GET /healthz HTTP/9.9\r\nHost: h\r\n\r\n",
}


@pytest.mark.parametrize("name", list(MALFORMED))
async def test_malformed_http_gets_a_json_400_and_the_connection_closes(hub_url: str, name: str) -> None:
    r = await raw_request(hub_url, MALFORMED[name])
    assert r.status == 400, (name, r.status, r.body)
    assert r.headers["content-type"].startswith("application/json"), (name, r.headers)
    error = r.json()["error"]
    assert error["code"] == "malformed_request", (name, error)
    assert error["request_id"] and error["request_id"] == r.headers["x-request-id"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.closed or r.headers.get("connection") == "close"
    # The server is unharmed.
    assert (await raw_request(hub_url, get_with("/healthz"))).status == 200


async def test_hub_serve_answers_malformed_http_with_json(database_url: str, tmp_path: Path) -> None:
    """`hub serve` (not only the test server) runs the protocol that answers in JSON."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "HUB_PORT": str(port),
        "HUB_DATA_DIR": str(tmp_path),
        "HUB_LOG_LEVEL": "WARNING",
    }
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "hub"),
        "serve",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(url, proc)
        r = await raw_request(url, MALFORMED["content-length and chunked"])
        assert r.status == 400 and r.json()["error"]["code"] == "malformed_request"
        assert r.json()["error"]["request_id"] == r.headers["x-request-id"]
    finally:
        proc.terminate()
        stderr = (await asyncio.wait_for(proc.communicate(), timeout=15))[1]
    assert b"Traceback" not in stderr, stderr.decode(errors="replace")
