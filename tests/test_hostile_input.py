"""Hostile request bodies get a clear 4xx JSON error and never a 5xx."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import auth, make_space, register


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{bad json", 400, "invalid_json"),
        (b"[" * 5000 + b"]" * 5000, 400, "json_too_deep"),
        (b'{"a":' * 40 + b"1" + b"}" * 40, 400, "json_too_deep"),
        (b'{"name": "a\\u0000b"}', 400, "nul_byte"),
        (b'{"name": "x", "ttl_seconds": 123456789012345678901234567890}', 400, "number_out_of_range"),
        (b'{"name": "x", "ttl_seconds": 1e400}', 400, "number_out_of_range"),
        (b'{"name": "x", "ttl_seconds": "soon"}', 422, "validation_failed"),
        (b'{"name": ""}', 422, "validation_failed"),
        (b'"just a string"', 422, "validation_failed"),
        (b"\xff\xfe\x00garbage", 400, "invalid_json"),
    ],
)
async def test_bad_bodies(client: httpx.AsyncClient, body: bytes, status: int, code: str) -> None:
    token = (await register(client))["access_token"]
    r = await client.post("/spaces", content=body, headers={**auth(token), "content-type": "application/json"})
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code
    assert err["request_id"] == r.headers["x-request-id"]
    if status == 422:
        assert err["details"]["fields"]


async def test_wrong_content_type_is_415(client: httpx.AsyncClient) -> None:
    token = (await register(client))["access_token"]
    r = await client.post("/spaces", content=b"name=x", headers={**auth(token), "content-type": "text/plain"})
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type"


async def test_nul_and_huge_values_in_paths_and_queries(client: httpx.AsyncClient) -> None:
    token = (await register(client))["access_token"]
    for path in ("/spaces/%00", "/spaces/" + "a" * 5000, "/spaces/..%2F..%2Fetc", "/spaces/x/bins/%00/raw"):
        r = await client.get(path, headers=auth(token))
        assert 400 <= r.status_code < 500, (path, r.status_code)
        assert r.json()["error"]["code"]
    for q in ("limit=999999999999999999999", "limit=-1", "cursor=%00", "cursor=!!!notbase64", "limit=abc"):
        r = await client.get(f"/spaces?{q}", headers=auth(token))
        assert r.status_code in (400, 422), (q, r.status_code, r.text)


async def test_bin_content_limit_and_validation(client: httpx.AsyncClient) -> None:
    token = (await register(client))["access_token"]
    sid = (await make_space(client, token))["id"]
    too_big = "x" * 100_001
    r = await client.post(f"/spaces/{sid}/bins", json={"title": "t", "content": too_big}, headers=auth(token))
    assert r.status_code == 422 and "content" in r.json()["error"]["details"]["fields"]
    r = await client.post(
        f"/spaces/{sid}/bins", json={"title": "t", "content": "ok", "language": "Bad Tag!"}, headers=auth(token)
    )
    assert r.status_code == 422 and "language" in r.json()["error"]["details"]["fields"]
    # Nothing was created by the failed attempts.
    listing = (await client.get(f"/spaces/{sid}/bins", headers=auth(token))).json()
    assert listing["items"] == []


async def test_control_characters_in_names_rejected(client: httpx.AsyncClient) -> None:
    r = await client.post("/auth/guest", json={"display_name": "evil\u202egnp.exe"})
    assert r.status_code == 422
    r = await client.post("/auth/register", json={"username": "Admin", "password": "longenough", "display_name": "x"})
    assert r.status_code == 422
    r = await client.post("/auth/register", json={"username": "okname", "password": "short", "display_name": "x"})
    assert r.status_code == 422 and "password" in r.json()["error"]["details"]["fields"]
