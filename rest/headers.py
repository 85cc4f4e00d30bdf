"""Response headers, sanitised as Sanic does, without rewriting the ones that need nothing.

Sanic strips CR, LF and NUL from every header name and value of every response (`str.translate` with
a deletion table), which walks each string character by character: the dozen headers every answer
of the hub carries (the security headers, a long Content-Security-Policy among them) made it 12 % of
the CPU of a `/healthz` answer (py-spy, docs/performance.md "REST reads"). Looking for the three
characters first is done in C at memory speed; only a string that has one is translated, so the
result is the same for every input (tests/test_rest_fastpath.py checks it against Sanic's own).
"""

from __future__ import annotations

from sanic.response.types import HEADER_TRANSLATION_TABLE, BaseHTTPResponse


def sanitize_header_value(value: str) -> str:
    if "\r" in value or "\n" in value or "\x00" in value:
        return value.translate(HEADER_TRANSLATION_TABLE)
    return value


def install_header_fast_path() -> None:
    """Process-wide (Sanic calls it as a static method of every response); idempotent."""
    BaseHTTPResponse._sanitize_header_value = staticmethod(sanitize_header_value)  # type: ignore[method-assign]
