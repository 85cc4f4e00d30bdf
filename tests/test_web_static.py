"""The hub serves the web client: index.html for the SPA routes, static files with content ETags and
304s, the strict CSP on HTML, no traversal; the client itself has no inline script or style and
vendors socket.io-client with its licence, and takes its error codes from one module."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from hub.errors import NotFound, StaticNotFound, codes

WEB = Path(__file__).resolve().parent.parent / "web"


async def test_spa_routes_serve_index_with_csp_and_etag(client: httpx.AsyncClient) -> None:
    index = (WEB / "index.html").read_bytes()
    for path in ("/", "/s/abc123", "/join", "/u/alice", "/home"):
        r = await client.get(path)
        assert r.status_code == 200, path
        assert r.content == index
        assert r.headers["content-type"].startswith("text/html")
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp and "'unsafe-inline'" not in csp
        assert "connect-src 'self' http" in csp and " ws: " not in csp and " wss: " not in csp
        assert r.headers["cache-control"] == "no-cache"
    etag = r.headers["etag"]
    again = await client.get("/", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag


async def test_static_files_carry_etags_and_revalidate(client: httpx.AsyncClient) -> None:
    r = await client.get("/static/js/main.js")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.content == (WEB / "static/js/main.js").read_bytes()
    etag = r.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    assert (await client.get("/static/js/main.js", headers={"If-None-Match": etag})).status_code == 304
    assert (await client.get("/static/js/main.js", headers={"If-None-Match": f"W/{etag}"})).status_code == 304
    assert (await client.get("/static/js/main.js", headers={"If-None-Match": '"stale"'})).status_code == 200
    # Different files, different tags.
    other = await client.get("/static/app.css")
    assert other.headers["content-type"].startswith("text/css") and other.headers["etag"] != etag
    head = await client.head("/static/app.css")
    assert head.status_code == 200 and head.content == b"" and head.headers["etag"] == other.headers["etag"]
    vendor = await client.get("/static/vendor/socket.io.esm.min.js")
    assert vendor.status_code == 200 and b"Socket.IO v4.8" in vendor.content[:200]


async def test_static_paths_cannot_escape_or_reveal(client: httpx.AsyncClient) -> None:
    for path in (
        "/static/../hub/config.py",
        "/static/%2e%2e/hub/config.py",
        "/static/js/%2e%2e/%2e%2e/index.html",
        "/static/.hidden",
        "/static/js",
        "/static/js/",
        "/static/nope.js",
        "/static/js//main.js",
        "/static/js/main.js%00.png",
        "/static/" + "a/" * 200 + "x.js",
    ):
        r = await client.get(path)
        assert r.status_code == 404, (path, r.status_code)
        assert r.headers["content-type"].startswith("application/json"), path
        assert r.json()["error"]["code"] in (StaticNotFound.code, NotFound.code), path


def test_client_has_no_inline_script_or_style_and_vendors_its_licence() -> None:
    html = (WEB / "index.html").read_text()
    # Every <script> has a src; no <style> element; no style= or on*= attributes.
    assert all("src=" in tag for tag in re.findall(r"<script\b[^>]*>", html))
    assert "<style" not in html and not re.search(r"\sstyle=", html) and not re.search(r"\son\w+=", html)
    for js in (WEB / "static/js").rglob("*.js"):
        source = js.read_text()
        # User data is rendered as text, never parsed as HTML; styles go through CSSOM only.
        for forbidden in (
            ".innerHTML",
            ".outerHTML =",
            "insertAdjacentHTML",
            "document.write",
            'setAttribute("style"',
            "eval(",
            "new Function",
        ):
            assert forbidden not in source, (js.name, forbidden)
    licence = (WEB / "static/vendor/socket.io-client.LICENSE").read_text()
    assert "MIT" in licence or "Permission is hereby granted" in licence
    assert (WEB / "static/vendor/socket.io.esm.min.js").read_text().startswith("/*!\n * Socket.IO v4.8.1")
    swagger = WEB / "static/vendor/swagger-ui"
    assert "Apache License" in (swagger / "LICENSE").read_text()
    assert (swagger / "swagger-ui-bundle.js").stat().st_size > 100_000 and (swagger / "swagger-ui.css").exists()


def test_the_client_takes_its_error_codes_from_codes_js() -> None:
    # One list of the codes the client acts on: a code spelled out in another module drifts when
    # the hub renames it (as not_found -> space_not_found did).
    codes_js = (WEB / "static/js/codes.js").read_text()
    declared = set(re.findall(r'^export const [A-Z_]+ = "([a-z_]+)";', codes_js, re.MULTILINE))
    assert {"token_expired", "space_not_found", "version_conflict", "not_joined"} <= declared
    hub_codes = set(codes())
    for js in (WEB / "static/js").rglob("*.js"):
        if js.name == "codes.js":
            continue
        literals = set(re.findall(r'"([a-z_]+)"', js.read_text()))
        spelled = literals & (declared | hub_codes)
        assert not spelled, (js.relative_to(WEB).as_posix(), sorted(spelled))


def test_every_hub_code_the_client_names_is_declared_by_the_hub() -> None:
    # The client's own codes and the kick reasons that are domain events, not error codes.
    own = {"network_error", "signed_out", "offline", "space_deleted", "member_removed"}
    codes_js = (WEB / "static/js/codes.js").read_text()
    declared = set(re.findall(r'^export const [A-Z_]+ = "([a-z_]+)";', codes_js, re.MULTILINE))
    unknown = declared - own - set(codes())
    assert unknown == set(), f"codes.js names codes that hub/errors.py does not declare: {sorted(unknown)}"
