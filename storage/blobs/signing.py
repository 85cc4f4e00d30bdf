"""Signed, expiring tokens for the local-disk store: `base64url(json payload).base64url(hmac)`.

The secret comes from HUB_BLOB_SECRET or is generated once into the data directory (mode 0600), so
URLs stay valid across restarts and every process sharing the data directory agrees on it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path
from typing import Any

import orjson

from hub.errors import SignatureMismatch, UrlExpired

SECRET_FILE = "blob.secret"


def load_secret(data_path: Path, configured: str = "") -> bytes:
    """Derive the HMAC key; a dedicated derivation keeps it unrelated to any other use of the secret."""
    if configured:
        material = configured.encode()
    else:
        data_path.mkdir(parents=True, exist_ok=True)
        path = data_path / SECRET_FILE
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            material = path.read_bytes().strip()
        else:
            # O_EXCL: when two processes race, exactly one writes and the other reads its value.
            material = secrets.token_hex(32).encode()
            with os.fdopen(fd, "wb") as fh:
                fh.write(material)
        if len(material) < 32:
            raise RuntimeError(f"{path} is too short to be a blob signing secret")
    return hmac.new(material, b"hub-blob-urls-v1", hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Issues and verifies tokens; `op` binds a token to one kind of request."""

    def __init__(self, key: bytes, clock: Any = time.time) -> None:
        self._key = key
        self._clock = clock

    def now(self) -> float:
        return float(self._clock())

    def sign(self, op: str, ttl: int, **claims: Any) -> tuple[str, int]:
        expires = int(self.now()) + int(ttl)
        payload = _b64(orjson.dumps({"op": op, "exp": expires, **claims}))
        mac = hmac.new(self._key, payload.encode(), hashlib.sha256).digest()
        return f"{payload}.{_b64(mac)}", expires

    def verify(self, token: str, op: str) -> dict[str, Any]:
        """The claims of a valid, unexpired token for `op`; Forbidden otherwise (as S3 answers 403)."""
        payload, _, mac = token.partition(".")
        try:
            given = _unb64(mac)
        except (binascii.Error, ValueError):
            given = b""
        expected = hmac.new(self._key, payload.encode(), hashlib.sha256).digest()
        if not payload or not hmac.compare_digest(given, expected):
            raise SignatureMismatch("The URL signature does not match.")
        try:
            claims = orjson.loads(_unb64(payload))
        except (binascii.Error, ValueError, orjson.JSONDecodeError):
            raise SignatureMismatch("The URL signature does not match.") from None
        if not isinstance(claims, dict) or claims.get("op") != op:
            raise SignatureMismatch("This URL is not valid for this request.")
        if not isinstance(claims.get("exp"), int) or claims["exp"] < self.now():
            raise UrlExpired("The URL has expired.")
        return claims
