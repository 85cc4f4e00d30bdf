"""The core's client-address policy (hub.security): which X-Forwarded-For entry keys a client, on raw
headers, exactly as Sanic keys the same request on the REST side."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sanic.compat import Header
from sanic.headers import parse_xforwarded

from hub.config import Settings, load_settings
from hub.security import client_address, forwarded_client, scope_client_address

TRUSTED = load_settings(environ={}, env="test", trust_forwarded=True)
DIRECT = load_settings(environ={}, env="test", trust_forwarded=False)
# What rest/app.py configures Sanic with when HUB_TRUST_FORWARDED is on (the rest are Sanic's defaults).
SANIC_PROXY = SimpleNamespace(REAL_IP_HEADER=None, PROXIES_COUNT=1, FORWARDED_FOR_HEADER="X-Forwarded-For")


def _scope(client: Any, *headers: tuple[bytes, bytes]) -> dict[str, Any]:
    return {"type": "websocket", "client": client, "headers": list(headers)}


def _sanic(lines: list[str]) -> str | None:
    forwarded = parse_xforwarded(Header([("X-Forwarded-For", line) for line in lines]), SANIC_PROXY)
    return str(forwarded["for"]) if forwarded and forwarded.get("for") else None


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["198.51.100.1"], "198.51.100.1"),
        # The one trusted proxy appended the last entry; earlier ones are the client's own say.
        (["203.0.113.9, 198.51.100.1"], "198.51.100.1"),
        # Several header lines are one list, in order.
        (["203.0.113.9", "198.51.100.1, 192.0.2.7"], "192.0.2.7"),
        # Empty entries and whitespace do not count as entries.
        (["198.51.100.1, , "], "198.51.100.1"),
        (["  192.0.2.7  ,"], "192.0.2.7"),
        # IPv6 bracketed and lower-cased; a port stays attached.
        (["2001:DB8::1"], "[2001:db8::1]"),
        (["198.51.100.1:4711"], "198.51.100.1:4711"),
        # Obfuscated identifiers (RFC 7239 section 6.3) keep their case; host names are lower-cased.
        (["_Hidden"], "_Hidden"),
        (["Proxy.Example"], "proxy.example"),
        # `unknown` names no one: the caller falls back to the peer.
        (["unknown"], None),
        (["198.51.100.1, unknown"], None),
        ([""], None),
        ([], None),
    ],
)
def test_forwarded_client_edge_cases_match_sanic(lines: list[str], expected: str | None) -> None:
    assert forwarded_client(lines) == expected
    assert _sanic(lines) == expected


@given(st.lists(st.text(alphabet="0123456789abcDEF:._, unknow", max_size=24), max_size=4))
def test_forwarded_client_agrees_with_sanic_on_any_header(lines: list[str]) -> None:
    assert forwarded_client(lines) == _sanic(lines)


def test_more_trusted_proxies_take_an_earlier_entry() -> None:
    assert forwarded_client(["203.0.113.9, 198.51.100.1, 192.0.2.7"], proxies=2) == "198.51.100.1"
    assert forwarded_client(["192.0.2.7"], proxies=2) is None  # fewer entries than proxies: none is trusted
    assert forwarded_client(["192.0.2.7"], proxies=0) is None


@pytest.mark.parametrize(("settings", "expected"), [(TRUSTED, "198.51.100.1"), (DIRECT, "127.0.0.1")])
def test_client_address_trusts_the_header_only_behind_a_trusted_proxy(settings: Settings, expected: str) -> None:
    assert client_address(settings, ["203.0.113.9, 198.51.100.1"], "127.0.0.1") == expected


def test_client_address_falls_back_to_the_peer_then_unknown() -> None:
    assert client_address(TRUSTED, [], "192.0.2.4") == "192.0.2.4"
    assert client_address(TRUSTED, ["unknown"], "192.0.2.4") == "192.0.2.4"
    assert client_address(TRUSTED, [], None) == "unknown"
    assert client_address(DIRECT, [], "") == "unknown"


def test_scope_reads_raw_headers_of_any_case_and_every_line() -> None:
    scope = _scope(
        ("127.0.0.1", 5000),
        (b"x-forwarded-for", b"203.0.113.9"),
        (b"X-Forwarded-For", b"198.51.100.1"),
        (b"x-forwarded-host", b"evil.example"),
    )
    assert scope_client_address(TRUSTED, scope) == "198.51.100.1"
    assert scope_client_address(DIRECT, scope) == "127.0.0.1"


def test_scope_ignores_the_forwarded_header() -> None:
    # RFC 7239 `Forwarded` carries no secret here, so it is as forgeable as the client's own entries.
    scope = _scope(("127.0.0.1", 5000), (b"forwarded", b"for=198.51.100.1"))
    assert scope_client_address(TRUSTED, scope) == "127.0.0.1"


def test_scope_survives_bytes_that_are_not_utf8() -> None:
    scope = _scope(("127.0.0.1", 5000), (b"x-forwarded-for", b"\xff\xfe"))
    assert scope_client_address(TRUSTED, scope) == "\udcff\udcfe"  # kept, as Sanic keeps it, never a crash
    assert scope_client_address(TRUSTED, _scope(("127.0.0.1", 5000), (b"x-forwarded-for", b"unknown"))) == "127.0.0.1"


@pytest.mark.parametrize("client", [None, (), ("",), ["192.0.2.4", 1]])
def test_scope_peer_of_any_shape(client: Any) -> None:
    expected = "192.0.2.4" if client and client[0] else "unknown"
    assert scope_client_address(DIRECT, _scope(client)) == expected
