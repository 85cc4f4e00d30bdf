"""Token verification: every way a token can be wrong gets a 401 with its own code."""

from __future__ import annotations

import base64

import httpx
import jwt
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.services.tokens import TokenSigner
from tests.helpers import auth, register


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _forge(header: dict[str, object], payload: dict[str, object], signature: bytes = b"") -> str:
    return ".".join([_b64(orjson.dumps(header)), _b64(orjson.dumps(payload)), _b64(signature)])


async def _code(client: httpx.AsyncClient, token: str) -> str:
    r = await client.get("/auth/me", headers=auth(token))
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"] == "Bearer"
    return str(r.json()["error"]["code"])


async def test_bad_tokens_get_distinct_codes(client: httpx.AsyncClient) -> None:
    user = await register(client)
    good = user["access_token"]
    header = jwt.get_unverified_header(good)
    claims = jwt.decode(good, options={"verify_signature": False})

    assert (await client.get("/auth/me", headers=auth(good))).status_code == 200
    assert (await client.get("/auth/me")).json()["error"]["code"] == "token_missing"
    assert await _code(client, "not-a-jwt") == "token_invalid"
    # alg=none
    assert await _code(client, _forge({"alg": "none", "typ": "JWT"}, claims)) == "token_invalid"
    # Algorithm confusion: HS256 "signed" with the public key bytes.
    assert (
        await _code(
            client, jwt.encode(claims, "public-key-as-hmac-secret", algorithm="HS256", headers={"kid": header["kid"]})
        )
        == "token_invalid"
    )
    # Tampered payload, original signature.
    head, _body, sig = good.split(".")
    tampered = ".".join([head, _b64(orjson.dumps({**claims, "sub": "00000000-0000-0000-0000-000000000000"})), sig])
    assert await _code(client, tampered) == "token_invalid"
    # Signed by a stranger's key under our kid.
    stranger = Ed25519PrivateKey.generate()
    assert (
        await _code(client, jwt.encode(claims, stranger, algorithm="EdDSA", headers={"kid": header["kid"]}))
        == "token_invalid"
    )
    # A refresh token where an access token is needed.
    assert await _code(client, user["refresh_token"]) == "token_wrong_type"


async def test_expired_and_wrong_audience(make_settings) -> None:  # type: ignore[no-untyped-def]
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    from tests.support.server import running_hub

    async with running_hub(make_settings(signing_key=pem)) as (url, _), httpx.AsyncClient(base_url=url) as c:
        user = await register(c)
        signer = TokenSigner(key, "collab-hub")
        expired, _ = signer.issue(sub=user["user"]["id"], typ="access", ttl=-60, sid="s")
        assert await _code(c, expired) == "token_expired"
        other_aud, _ = TokenSigner(key, "another-service").issue(sub=user["user"]["id"], typ="access", ttl=60, sid="s")
        assert await _code(c, other_aud) == "token_wrong_audience"
        fresh, _ = signer.issue(sub=user["user"]["id"], typ="access", ttl=60, sid="s")
        assert (await c.get("/auth/me", headers=auth(fresh))).status_code == 200


async def test_key_rotation_accepts_old_key_for_verification(make_settings) -> None:  # type: ignore[no-untyped-def]
    from tests.support.server import running_hub

    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()

    def pem(k: Ed25519PrivateKey) -> str:
        return k.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    old_pub = _b64(old.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))
    settings = make_settings(signing_key=pem(old))
    async with running_hub(settings) as (url, _), httpx.AsyncClient(base_url=url) as c:
        user = await register(c)
    rotated = make_settings(database_url=settings.database_url, signing_key=pem(new), verification_keys=old_pub)
    async with running_hub(rotated) as (url, _), httpx.AsyncClient(base_url=url) as c:
        assert (await c.get("/auth/me", headers=auth(user["access_token"]))).status_code == 200
        fresh = await c.post(
            "/auth/login", json={"username": user["user"]["username"], "password": "correct horse battery"}
        )
        assert (
            jwt.get_unverified_header(fresh.json()["access_token"])["kid"]
            != jwt.get_unverified_header(user["access_token"])["kid"]
        )


async def test_logout_all_revokes_every_session(client: httpx.AsyncClient) -> None:
    user = await register(client)
    second = (
        await client.post(
            "/auth/login", json={"username": user["user"]["username"], "password": "correct horse battery"}
        )
    ).json()
    assert (await client.post("/auth/logout-all", headers=auth(user["access_token"]))).status_code == 204
    for token in (user["access_token"], second["access_token"]):
        assert await _code(client, token) == "token_revoked"
    r = await client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert r.status_code == 401
    # A login after logout-all works.
    again = await client.post(
        "/auth/login", json={"username": user["user"]["username"], "password": "correct horse battery"}
    )
    assert (await client.get("/auth/me", headers=auth(again.json()["access_token"]))).status_code == 200


async def test_signing_key_generated_once_with_0600(make_settings) -> None:  # type: ignore[no-untyped-def]
    from tests.support.server import running_hub

    settings = make_settings()
    async with running_hub(settings) as (url, _), httpx.AsyncClient(base_url=url) as c:
        await register(c)
    key_file = settings.data_path / "signing_key.pem"
    assert key_file.stat().st_mode & 0o777 == 0o600
    first = key_file.read_text()
    async with running_hub(settings):
        pass
    assert key_file.read_text() == first


def test_a_verified_token_still_expires_and_keeps_its_type() -> None:
    """Verified tokens are remembered (the signature check is skipped on the next use), but the memory
    changes no answer: the token expires on time, a refresh token is still no access token, and a token
    that differs in one character is checked afresh and refused."""
    from hub.errors import TokenExpired, TokenInvalid, TokenWrongType
    from hub.services.tokens import LEEWAY

    clock = [1_000_000_000.0]
    signer = TokenSigner(Ed25519PrivateKey.generate(), "collab-hub", clock=lambda: clock[0])
    token, issued = signer.issue(sub="u1", typ="access", ttl=60, sid="s1")
    assert signer.verify(token, "access") == issued
    assert signer.verify(token, "access") == issued  # remembered
    with pytest.raises(TokenWrongType):
        signer.verify(token, "refresh")
    head, payload, signature = token.split(".")
    tampered = ".".join([head, payload, ("A" if signature[0] != "A" else "B") + signature[1:]])
    with pytest.raises(TokenInvalid):
        signer.verify(tampered, "access")

    clock[0] = issued.exp + LEEWAY - 1
    assert signer.verify(token, "access") == issued
    clock[0] = issued.exp + LEEWAY
    with pytest.raises(TokenExpired):
        signer.verify(token, "access")


def test_the_verified_tokens_memory_is_bounded() -> None:
    from hub.services import tokens

    signer = TokenSigner(Ed25519PrivateKey.generate(), "collab-hub")
    issued = [
        signer.issue(sub=f"u{n}", typ="access", ttl=60, sid="s")[0] for n in range(tokens.VERIFIED_CACHE_SIZE + 10)
    ]
    for token in issued:
        signer.verify(token, "access")
    assert len(signer._verified) == tokens.VERIFIED_CACHE_SIZE
    assert issued[0] not in signer._verified and issued[-1] in signer._verified
    assert signer.verify(issued[0], "access").sub == "u0"  # forgotten, so checked again
