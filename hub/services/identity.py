"""Accounts, guests, passwords and tokens.

Passwords are hashed with Argon2id (at least OWASP's parameters) off the event loop; a login for an
unknown user verifies against a dummy hash so it costs the same as a wrong password. Access tokens are
short-lived and checked against a deny-list (by `jti`) and a per-user not-before time on every request;
refresh tokens rotate on every use and reusing a rotated one revokes its whole family.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from hub.errors import Conflict, Unauthorized, ValidationFailed
from hub.logs import log_event
from hub.models import Principal
from hub.ports.identity import RefreshTokenRepo, UserRecord, UserRepo
from hub.ports.infra import Bus, KeyValueTTL
from hub.services.tokens import TokenSigner

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,31}$")
RESERVED_USERNAMES = frozenset({"admin", "root", "system", "guest", "hub", "support", "moderator"})


def clean_display_name(value: str, field: str = "display_name") -> str:
    """Normalise to NFC, strip, refuse control and bidi-override characters."""
    text = unicodedata.normalize("NFC", value).strip()
    if not 1 <= len(text) <= 64:
        raise ValidationFailed({field: "must be 1 to 64 characters"})
    if any(unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co"} for ch in text):
        raise ValidationFailed({field: "must not contain control or formatting characters"})
    return text


def check_username(value: str) -> str:
    if not USERNAME.match(value):
        raise ValidationFailed(
            {"username": "3 to 32 characters: letters, digits, '_', '.', '-', starting with a letter or digit"}
        )
    if value.lower() in RESERVED_USERNAMES:
        raise ValidationFailed({"username": "this username is reserved"})
    return value


def check_password(value: str) -> str:
    size = len(value.encode("utf-8"))
    if not 8 <= size <= 128:
        raise ValidationFailed({"password": "must be 8 to 128 bytes"})
    return value


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int
    user: UserRecord


class IdentityService:
    """Registration, login, guests, refresh rotation, logout and token verification."""

    def __init__(
        self,
        users: UserRepo,
        refresh_tokens: RefreshTokenRepo,
        signer: TokenSigner,
        kv: KeyValueTTL,
        bus: Bus,
        *,
        access_ttl: int,
        refresh_ttl: int,
        hasher: PasswordHasher,
    ) -> None:
        self.users = users
        self.refresh_tokens = refresh_tokens
        self.signer = signer
        self.kv = kv
        self.bus = bus
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        self.hasher = hasher
        # Verified against when the user does not exist, so both failure paths cost one Argon2 verify.
        self._dummy_hash = hasher.hash(secrets.token_urlsafe(16))

    # --- passwords -------------------------------------------------------------------------------

    async def _hash(self, password: str) -> str:
        return await asyncio.to_thread(self.hasher.hash, password)

    async def _verify(self, password_hash: str, password: str) -> bool:
        def verify() -> bool:
            try:
                return self.hasher.verify(password_hash, password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False

        return await asyncio.to_thread(verify)

    # --- issuing ---------------------------------------------------------------------------------

    async def _issue(self, user: UserRecord, family_id: str | None = None) -> IssuedTokens:
        family = family_id or secrets.token_urlsafe(12)
        # `ims` (issue time in ms) lets logout-all cut tokens issued earlier in the same second.
        ims = int(time.time() * 1000)
        extra = {"name": user.display_name, "guest": user.is_guest, "ims": ims}
        access, _ = self.signer.issue(sub=user.id, typ="access", ttl=self.access_ttl, sid=family, extra=extra)
        refresh, claims = self.signer.issue(
            sub=user.id, typ="refresh", ttl=self.refresh_ttl, sid=family, extra={"ims": ims}
        )
        await self.refresh_tokens.add(
            jti=claims.jti, family_id=family, user_id=user.id,
            expires_at=datetime.fromtimestamp(claims.exp, UTC),
        )
        return IssuedTokens(access, refresh, self.access_ttl, user)

    async def register(
        self, username: str, password: str, display_name: str, *, guest: Principal | None = None
    ) -> IssuedTokens:
        check_username(username)
        check_password(password)
        name = clean_display_name(display_name)
        if await self.users.by_username(username) is not None:
            raise Conflict("That username is taken.", code="username_taken")
        password_hash = await self._hash(password)
        if guest is not None and guest.is_guest:
            # A guest keeps its id, and so its spaces, when it registers.
            user = await self.users.upgrade_guest(guest.user_id, username=username, password_hash=password_hash)
            if user is None:
                raise Conflict("This account is already registered.", code="already_registered")
            if name != user.display_name:
                user = await self.users.set_display_name(user.id, name) or user
        else:
            user = await self.users.create(
                username=username, display_name=name, password_hash=password_hash, is_guest=False
            )
        log_event("user_registered", user_id=user.id, upgraded_guest=guest is not None)
        return await self._issue(user)

    async def guest(self, display_name: str) -> IssuedTokens:
        user = await self.users.create(
            username=None, display_name=clean_display_name(display_name), password_hash=None, is_guest=True
        )
        log_event("guest_created", user_id=user.id)
        return await self._issue(user)

    async def login(self, username: str, password: str) -> IssuedTokens:
        user = await self.users.by_username(username) if USERNAME.match(username) else None
        stored = user.password_hash if user is not None and user.password_hash else self._dummy_hash
        ok = await self._verify(stored, password)
        if user is None or not user.password_hash or not ok:
            raise Unauthorized("Wrong username or password.", code="invalid_credentials")
        if self.hasher.check_needs_rehash(user.password_hash):
            await self.users.set_password_hash(user.id, await self._hash(password))
        return await self._issue(user)

    async def refresh(self, refresh_token: str) -> IssuedTokens:
        claims = self.signer.verify(refresh_token, "refresh")
        outcome = await self.refresh_tokens.use(claims.jti)
        if outcome == "reused":
            # A rotated token came back: someone holds a copy. Cut off the whole login.
            await self.refresh_tokens.revoke_family(claims.sid)
            log_event("refresh_reuse_detected", user_id=claims.sub, family=claims.sid)
            raise Unauthorized("This refresh token was already used; the session is revoked.",
                               code="token_reused")
        if outcome != "ok":
            raise Unauthorized("The refresh token is not recognised.", code="token_revoked")
        user = await self.users.by_id(claims.sub)
        if user is None or _issued_ms(claims.extra, claims.iat) <= int(user.tokens_not_before.timestamp() * 1000):
            raise Unauthorized("The session was revoked.", code="token_revoked")
        return await self._issue(user, family_id=claims.sid)

    # --- verification and revocation -----------------------------------------------------------

    async def authenticate(self, token: str) -> Principal:
        claims = self.signer.verify(token, "access")
        if await self.kv.get(f"deny:{claims.jti}") is not None:
            raise Unauthorized("The token was revoked.", code="token_revoked")
        not_before = await self.kv.get(f"nbf:{claims.sub}")
        if not_before is not None and _issued_ms(claims.extra, claims.iat) <= int(not_before):
            raise Unauthorized("The token was revoked.", code="token_revoked")
        if await self.kv.get(f"sid:{claims.sid}") is not None:
            raise Unauthorized("The session was revoked.", code="token_revoked")
        return Principal(
            user_id=claims.sub, display_name=str(claims.extra.get("name", "")),
            is_guest=bool(claims.extra.get("guest", False)), token_id=claims.jti, expires_at=claims.exp,
            session_id=claims.sid,
        )

    async def logout(self, principal: Principal) -> None:
        remaining = max(1, principal.expires_at - int(time.time()) + 5)
        await self.kv.set(f"deny:{principal.token_id}", "1", remaining)
        # Every access token of this login dies with it, not only the one presented.
        await self.kv.set(f"sid:{principal.session_id}", "1", self.access_ttl + 5)
        await self.refresh_tokens.revoke_family(principal.session_id)
        await self.bus.publish(f"user:{principal.user_id}", {
            "type": "session_revoked", "user_id": principal.user_id, "session_id": principal.session_id,
        })

    async def logout_all(self, principal: Principal) -> None:
        when = await self.users.revoke_all(principal.user_id)
        await self.kv.set(f"nbf:{principal.user_id}", str(int(when.timestamp() * 1000)), self.access_ttl + 5)
        await self.bus.publish(f"user:{principal.user_id}", {"type": "user_revoked", "user_id": principal.user_id})
        log_event("logout_all", user_id=principal.user_id)

    async def me(self, principal: Principal) -> UserRecord:
        user = await self.users.by_id(principal.user_id)
        if user is None:
            raise Unauthorized("The account no longer exists.", code="token_revoked")
        return user

    async def rename(self, principal: Principal, display_name: str) -> UserRecord:
        user = await self.users.set_display_name(principal.user_id, clean_display_name(display_name))
        if user is None:
            raise Unauthorized("The account no longer exists.", code="token_revoked")
        return user


def _issued_ms(extra: dict[str, object], iat: int) -> int:
    ims = extra.get("ims")
    return ims if isinstance(ims, int) else iat * 1000
