"""Accounts, guests, passwords and tokens.

Passwords are hashed with Argon2id (at least OWASP's parameters) off the event loop; a login for an
unknown user verifies against a dummy hash so it costs the same as a wrong password. Access tokens are
short-lived and checked on every request against the revocations in the database: ended logins (logout,
refresh-token reuse) and a per-user not-before time (logout-all). The database is the truth, so a
revocation holds until the token's own expiry whatever restarts; each instance keeps recent answers
for a few seconds (`RevocationCache`) and drops them at once on the bus events every revocation
publishes. Refresh tokens rotate on every use and reusing a rotated one revokes its whole family.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from hub.errors import (
    AccountSuspended,
    AlreadyRegistered,
    InvalidCredentials,
    TokenReused,
    TokenRevoked,
    UsernameTaken,
    ValidationFailed,
)
from hub.events import BusEvent, user_topic
from hub.logs import log_event
from hub.models import Principal
from hub.ports.identity import RefreshTokenRepo, RevocationRepo, RevocationState, UserRecord, UserRepo
from hub.ports.infra import Bus
from hub.services.tokens import TokenSigner
from hub.tasks import every

log = logging.getLogger(__name__)

_V = TypeVar("_V")

USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{2,31}")  # always fullmatch: `$` lets a trailing newline through
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
    if not USERNAME.fullmatch(value):
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


# How long a revoked login is remembered beyond its last access token's lifetime: covers the
# verifier's 5 s leeway, a refresh that raced the logout, and clock skew between hub and database.
REVOCATION_MARGIN = timedelta(seconds=60)


class RevocationCache:
    """This instance's recent answers to "was this login, or this user, cut off?", bounded in time and size.

    Revocations made here update it directly and those of other instances evict entries when their
    bus event arrives, so `ttl` only bounds how late this instance learns of a revocation whose event
    it missed (the bus is best-effort). A revocation never becomes undone, so a "revoked" answer is
    as good as the database's. A lookup that started before an eviction must not store its older
    answer after it: `generation` tells.
    """

    def __init__(self, ttl: float, max_entries: int = 20_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.generation = 0
        self._clock = clock
        self._sessions: dict[str, tuple[bool, float]] = {}  # session id -> (revoked, fresh until)
        self._users: dict[str, tuple[bool, int, float]] = {}  # user id -> (exists, not-before ms, fresh until)

    def get(self, user_id: str, session_id: str) -> RevocationState | None:
        now = self._clock()
        user, session = self._users.get(user_id), self._sessions.get(session_id)
        if user is None or session is None or user[2] <= now or session[1] <= now:
            return None
        return RevocationState(user_exists=user[0], not_before_ms=user[1], session_revoked=session[0])

    def put(self, user_id: str, session_id: str, state: RevocationState, generation: int) -> None:
        if self.ttl <= 0 or generation != self.generation:
            return
        until = self._clock() + self.ttl
        self._store(self._users, user_id, (state.user_exists, state.not_before_ms, until))
        self._store(self._sessions, session_id, (state.session_revoked, until))

    def session_revoked(self, session_id: str) -> None:
        self.generation += 1
        if self.ttl > 0:
            self._store(self._sessions, session_id, (True, self._clock() + self.ttl))

    def user_revoked(self, user_id: str) -> None:
        self.generation += 1
        self._users.pop(user_id, None)  # the next request reads the new cut-off from the database

    def __len__(self) -> int:
        return len(self._sessions) + len(self._users)

    def _store(self, entries: dict[str, _V], key: str, value: _V) -> None:
        entries.pop(key, None)  # re-inserted last: dicts keep insertion order, the oldest goes first
        entries[key] = value
        while len(entries) > self.max_entries:
            del entries[next(iter(entries))]


class IdentityService:
    """Registration, login, guests, refresh rotation, logout and token verification."""

    def __init__(
        self,
        users: UserRepo,
        refresh_tokens: RefreshTokenRepo,
        revocations: RevocationRepo,
        signer: TokenSigner,
        bus: Bus,
        *,
        access_ttl: int,
        refresh_ttl: int,
        hasher: PasswordHasher,
        revocation_cache_ttl: float,
    ) -> None:
        self.users = users
        self.refresh_tokens = refresh_tokens
        self.revocations = revocations
        self.cache = RevocationCache(revocation_cache_ttl)
        self.signer = signer
        self.bus = bus
        bus.subscribe(self._on_bus)
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
            except (VerifyMismatchError, VerificationError, InvalidHashError, UnicodeError):  # a corrupt hash
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
            jti=claims.jti,
            family_id=family,
            user_id=user.id,
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
            raise UsernameTaken("That username is taken.")
        password_hash = await self._hash(password)
        if guest is not None and guest.is_guest:
            # A guest keeps its id, and so its spaces, when it registers.
            user = await self.users.upgrade_guest(guest.user_id, username=username, password_hash=password_hash)
            if user is None:
                raise AlreadyRegistered("This account is already registered.")
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
        user = await self.users.by_username(username) if USERNAME.fullmatch(username) else None
        stored = user.password_hash if user is not None and user.password_hash else self._dummy_hash
        ok = await self._verify(stored, password)
        if user is None or not user.password_hash or not ok:
            raise InvalidCredentials("Wrong username or password.")
        if user.suspended:  # told only to whoever knows the password
            until = user.suspended_until.isoformat() if user.suspended_until else None
            raise AccountSuspended(details={"until": until})
        if self.hasher.check_needs_rehash(user.password_hash):
            await self.users.set_password_hash(user.id, await self._hash(password))
        return await self._issue(user)

    async def refresh(self, refresh_token: str) -> IssuedTokens:
        claims = self.signer.verify(refresh_token, "refresh")
        outcome = await self.refresh_tokens.use(claims.jti)
        if outcome == "reused":
            # A rotated token came back: someone holds a copy. Cut off the whole login, access tokens too.
            await self._end_session(claims.sub, claims.sid)
            log_event("refresh_reuse_detected", user_id=claims.sub, family=claims.sid)
            raise TokenReused("This refresh token was already used; the session is revoked.")
        if outcome != "ok":
            raise TokenRevoked("The refresh token is not recognised.")
        user = await self.users.by_id(claims.sub)
        if user is None or _issued_ms(claims.extra, claims.iat) <= int(user.tokens_not_before.timestamp() * 1000):
            raise TokenRevoked("The session was revoked.")
        if user.suspended:
            raise TokenRevoked("The account is suspended.")
        return await self._issue(user, family_id=claims.sid)

    # --- verification and revocation -----------------------------------------------------------

    async def authenticate(self, token: str) -> Principal:
        claims = self.signer.verify(token, "access")
        state = self.cache.get(claims.sub, claims.sid)
        if state is None:
            generation = self.cache.generation
            # Cold (a restart, a new login) or stale: ask the database. When it cannot answer this
            # raises ServiceUnavailable (503): an unknown answer never lets a token through.
            state = await self.revocations.state(claims.sub, claims.sid)
            self.cache.put(claims.sub, claims.sid, state, generation)
        if not state.user_exists:
            raise TokenRevoked("The account no longer exists.")
        if state.session_revoked:
            raise TokenRevoked("The session was revoked.")
        if _issued_ms(claims.extra, claims.iat) <= state.not_before_ms:
            raise TokenRevoked("The token was revoked.")
        return Principal(
            user_id=claims.sub,
            display_name=str(claims.extra.get("name", "")),
            is_guest=bool(claims.extra.get("guest", False)),
            token_id=claims.jti,
            expires_at=claims.exp,
            session_id=claims.sid,
        )

    async def _end_session(self, user_id: str, session_id: str) -> None:
        """Revoke every token of one login (committed before anyone is told), then tell every instance."""
        until = datetime.now(UTC) + timedelta(seconds=self.access_ttl) + REVOCATION_MARGIN
        await self.refresh_tokens.revoke_family(session_id, user_id=user_id, access_expires_at=until)
        self.cache.session_revoked(session_id)
        await self.bus.publish(
            user_topic(user_id),
            {
                "type": BusEvent.SESSION_REVOKED,
                "user_id": user_id,
                "session_id": session_id,
            },
        )

    async def logout(self, principal: Principal) -> None:
        # Every access token of this login dies with it, not only the one presented.
        await self._end_session(principal.user_id, principal.session_id)

    async def logout_all(self, principal: Principal) -> None:
        await self.users.revoke_all(principal.user_id)
        self.cache.user_revoked(principal.user_id)
        await self.bus.publish(
            user_topic(principal.user_id), {"type": BusEvent.USER_REVOKED, "user_id": principal.user_id}
        )
        log_event("logout_all", user_id=principal.user_id)

    async def _on_bus(self, topic: str, event: dict[str, Any]) -> None:
        # Published after the commit, so a lookup after this eviction sees the revocation.
        kind = event.get("type")
        if kind == BusEvent.SESSION_REVOKED and isinstance(session := event.get("session_id"), str) and session:
            self.cache.session_revoked(session)
        elif kind == BusEvent.USER_REVOKED and isinstance(user := event.get("user_id"), str) and user:
            self.cache.user_revoked(user)

    async def purge_expired(self, batch: int = 1000) -> int:
        purged = 0
        while True:
            count = await self.revocations.purge_expired(batch)
            purged += count
            if count < batch:
                return purged

    async def purge_tokens(
        self, progress: Callable[[int], None] = lambda _n: None, batch: int = 1000
    ) -> dict[str, int]:
        """`hub batch tokens`: expired refresh tokens and forgotten revocations, in batches."""
        tokens = 0
        while True:
            count = await self.refresh_tokens.purge_expired(batch)
            tokens += count
            progress(count)
            if count < batch:
                break
        sessions = await self.purge_expired(batch)
        progress(sessions)
        return {"refresh_tokens": tokens, "revoked_sessions": sessions}

    async def sweep_forever(self, interval: float) -> None:
        await every(interval, self.purge_expired, "revocation sweep")

    async def me(self, principal: Principal) -> UserRecord:
        user = await self.users.by_id(principal.user_id)
        if user is None:
            raise TokenRevoked("The account no longer exists.")
        return user

    async def rename(self, principal: Principal, display_name: str) -> UserRecord:
        user = await self.users.set_display_name(principal.user_id, clean_display_name(display_name))
        if user is None:
            raise TokenRevoked("The account no longer exists.")
        return user


def _issued_ms(extra: dict[str, object], iat: int) -> int:
    ims = extra.get("ims")
    return ims if isinstance(ims, int) else iat * 1000
