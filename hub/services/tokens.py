"""Signed tokens: Ed25519 JWTs (EdDSA) with key ids for rotation.

Only EdDSA is accepted, so `alg=none` and HMAC/RSA algorithm-confusion tokens fail before any key is
used. Every verification failure maps to a distinct 401 code.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hub.errors import TokenExpired, TokenInvalid, TokenWrongAudience, TokenWrongType

ALGORITHM = "EdDSA"
# Seconds of clock skew accepted on `exp` (and on the cached path alike).
LEEWAY = 5
# Tokens whose signature was checked, kept so a client's next request skips the Ed25519 verification
# (~100 us, the largest single cost of an authenticated REST read). Keyed by the whole token string,
# so a token differing in one byte is verified afresh; the expiry and the type are checked on every use,
# and revocation is not cached here at all (IdentityService checks it on every request).
VERIFIED_CACHE_SIZE = 4096


def _b64decode(text: str) -> bytes:
    text = text.strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_private_key(material: str) -> Ed25519PrivateKey:
    """PEM (PKCS#8) or base64url of the raw 32-byte seed."""
    material = material.strip()
    if material.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(material.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("HUB_SIGNING_KEY must be an Ed25519 key")
        return key
    seed = _b64decode(material)
    if len(seed) != 32:
        raise ValueError("HUB_SIGNING_KEY must be a PEM Ed25519 key or 32 bytes in base64url")
    return Ed25519PrivateKey.from_private_bytes(seed)


def load_public_key(material: str) -> Ed25519PublicKey:
    material = material.strip()
    if material.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(material.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("verification keys must be Ed25519")
        return key
    return Ed25519PublicKey.from_public_bytes(_b64decode(material))


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def generate_key_file(path: Path) -> str:
    """Create (once) a private key file readable only by us; returns its PEM."""
    if path.exists():
        return path.read_text()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = (
        Ed25519PrivateKey.generate()
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(pem)
    return pem


@dataclass(frozen=True, slots=True)
class TokenClaims:
    sub: str
    jti: str
    iat: int
    exp: int
    typ: str
    sid: str
    extra: dict[str, Any]


class TokenSigner:
    """Issues and verifies access and refresh tokens."""

    def __init__(
        self,
        private_key: Ed25519PrivateKey,
        audience: str,
        extra_public_keys: list[Ed25519PublicKey] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._private = private_key
        self._clock = clock
        self._verified: dict[str, TokenClaims] = {}
        public = private_key.public_key()
        self.kid = key_id(public)
        self._public: dict[str, Ed25519PublicKey] = {self.kid: public}
        for key in extra_public_keys or []:
            self._public[key_id(key)] = key
        self.audience = audience

    def issue(
        self, *, sub: str, typ: str, ttl: int, sid: str, extra: dict[str, Any] | None = None
    ) -> tuple[str, TokenClaims]:
        now = int(time.time())
        claims = TokenClaims(
            sub=sub, jti=secrets.token_urlsafe(16), iat=now, exp=now + ttl, typ=typ, sid=sid, extra=extra or {}
        )
        payload = {
            "sub": sub,
            "jti": claims.jti,
            "iat": now,
            "exp": claims.exp,
            "typ": typ,
            "aud": self.audience,
            "sid": sid,
            **claims.extra,
        }
        token = jwt.encode(payload, self._private, algorithm=ALGORITHM, headers={"kid": self.kid})
        return token, claims

    def verify(self, token: str, typ: str) -> TokenClaims:
        claims = self._verified.get(token)
        if claims is None:
            claims = self._verify_signed(token)
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                # Oldest first (dicts keep insertion order): a burst of new tokens cannot grow it.
                del self._verified[next(iter(self._verified))]
            self._verified[token] = claims
        elif claims.exp + LEEWAY <= self._clock():
            del self._verified[token]
            raise TokenExpired("The token has expired.")
        if claims.typ != typ:
            raise TokenWrongType(f"An {typ} token is required.")
        return claims

    def _verify_signed(self, token: str) -> TokenClaims:
        if not token or len(token) > 4096:
            raise TokenInvalid("The token is malformed.")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenInvalid("The token is malformed.") from None
        if header.get("alg") != ALGORITHM:
            raise TokenInvalid("The token's algorithm is not accepted.")
        key = self._public.get(str(header.get("kid", "")))
        if key is None:
            raise TokenInvalid("The token was signed by an unknown key.")
        try:
            payload = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                options={"require": ["sub", "jti", "iat", "exp", "aud"]},
                leeway=LEEWAY,
            )
        except jwt.ExpiredSignatureError:
            raise TokenExpired("The token has expired.") from None
        except jwt.InvalidAudienceError:
            raise TokenWrongAudience("The token is for another audience.") from None
        except jwt.PyJWTError:
            raise TokenInvalid("The token is invalid.") from None
        known = {"sub", "jti", "iat", "exp", "typ", "aud", "sid"}
        return TokenClaims(
            sub=str(payload["sub"]),
            jti=str(payload["jti"]),
            iat=int(payload["iat"]),
            exp=int(payload["exp"]),
            typ=str(payload.get("typ", "")),
            sid=str(payload.get("sid", "")),
            extra={k: v for k, v in payload.items() if k not in known},
        )
