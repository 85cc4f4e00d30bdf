"""The OpenAPI document describes the real API: responses validate against it, and schemathesis
finds no 5xx with or without a token."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema.validators import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from tests.helpers import auth, make_space, register
from tests.support.server import running_hub


def _validator(spec: dict[str, Any], path: str, method: str, status: int) -> Draft202012Validator:
    op = spec["paths"][path][method]
    schema = op["responses"][str(status)]["content"]["application/json"]["schema"]
    registry: Registry = Registry().with_resource(
        "urn:spec", DRAFT202012.create_resource({"components": spec["components"]})
    )
    ref = schema["$ref"].replace("#/components", "urn:spec#/components")
    return Draft202012Validator({"$ref": ref}, registry=registry)


async def test_real_responses_match_the_document(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    user = await register(client)
    token = user["access_token"]
    space = await make_space(client, token)
    sid = space["id"]
    bin_ = (await client.post(f"/spaces/{sid}/bins", json={"title": "t", "content": "c"}, headers=auth(token))).json()
    checks: list[tuple[str, str, int, Any]] = [
        ("/auth/register", "post", 201, user),
        ("/spaces", "post", 201, space),
        ("/spaces/{space_id}/bins", "post", 201, bin_),
        ("/spaces", "get", 200, (await client.get("/spaces", headers=auth(token))).json()),
        ("/spaces/{space_id}/bins", "get", 200, (await client.get(f"/spaces/{sid}/bins", headers=auth(token))).json()),
        (
            "/spaces/{space_id}/members",
            "get",
            200,
            (await client.get(f"/spaces/{sid}/members", headers=auth(token))).json(),
        ),
        ("/auth/me", "get", 200, (await client.get("/auth/me", headers=auth(token))).json()),
        ("/spaces/{space_id}", "get", 404, (await client.get("/spaces/nope", headers=auth(token))).json()),
        ("/spaces", "post", 422, (await client.post("/spaces", json={}, headers=auth(token))).json()),
    ]
    for path, method, status, body in checks:
        _validator(spec, path, method, status).validate(body)
    # Every route the app serves is in the document, with an error schema for its failures.
    for path, item in spec["paths"].items():
        for method, op in item.items():
            assert "400" in op["responses"] and "500" in op["responses"], (method, path)


# Two schemathesis runs over every path (each bounded at 300 s below): more than the suite's default limit.
@pytest.mark.timeout(660)
async def test_schemathesis_finds_no_server_errors(make_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async with running_hub(make_settings()) as (url, _), httpx.AsyncClient(base_url=url) as c:
        token = (await register(c))["access_token"]
        await make_space(c, token)
        for headers in ([], ["-H", f"Authorization: Bearer {token}"]):
            proc = await asyncio.create_subprocess_exec(
                str(Path(sys.executable).parent / "schemathesis"),
                "run",
                f"{url}/openapi.json",
                "--checks",
                "not_a_server_error",
                "--max-examples",
                "12",
                "--seed",
                "1",
                "--request-timeout",
                "10",
                "--generation-allow-x00",
                "true",
                *headers,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                cwd=tmp_path,
            )
            out, _ = await asyncio.wait_for(proc.communicate(), timeout=300)
            text = out.decode(errors="replace")
            assert proc.returncode == 0, text[-4000:]
            assert "No issues found" in text or "passed" in text.lower(), text[-2000:]


async def test_the_document_states_the_limits_this_hub_enforces(make_settings) -> None:  # type: ignore[no-untyped-def]
    """Bin length and space lifetime come from the settings; the document said 10,000,000 characters
    and 1e9 seconds where the hub enforced 100,000 and 7,776,000."""
    settings = make_settings(bin_max_chars=1234, space_max_ttl=7200, space_default_ttl=3600)
    async with running_hub(settings) as (url, _app), httpx.AsyncClient(base_url=url, timeout=10) as c:
        schemas = (await c.get("/openapi.json")).json()["components"]["schemas"]

        def limit(model: str, prop: str, keyword: str) -> Any:
            found = schemas[model]["properties"][prop]
            return next(part[keyword] for part in (found, *found.get("anyOf", ())) if keyword in part)

        assert limit("BinIn", "content", "maxLength") == limit("BinPatch", "content", "maxLength") == 1234
        assert limit("SpaceIn", "ttl_seconds", "maximum") == limit("SpacePatch", "ttl_seconds", "maximum") == 7200

        # And the hub answers exactly at those limits.
        token = (await register(c))["access_token"]
        assert (
            await c.post("/spaces", json={"name": "s", "ttl_seconds": 7201}, headers=auth(token))
        ).status_code == 422
        sid = (await make_space(c, token, ttl_seconds=7200))["id"]
        long = await c.post(f"/spaces/{sid}/bins", json={"title": "t", "content": "x" * 1235}, headers=auth(token))
        assert long.status_code == 422, long.text
        ok = await c.post(f"/spaces/{sid}/bins", json={"title": "t", "content": "x" * 1234}, headers=auth(token))
        assert ok.status_code == 201, ok.text
