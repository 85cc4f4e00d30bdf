"""Ports of the identity capability."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: str
    username: str | None
    display_name: str
    password_hash: str | None
    is_guest: bool
    tokens_not_before: datetime
    created_at: datetime
    suspended: bool = False  # suspended by a moderator, now (a suspension past its `until` has ended)
    suspended_until: datetime | None = None


class UserRepo(Protocol):
    async def create(
        self, *, username: str | None, display_name: str, password_hash: str | None, is_guest: bool
    ) -> UserRecord: ...

    async def by_id(self, user_id: str) -> UserRecord | None: ...

    async def by_username(self, username: str) -> UserRecord | None: ...

    async def upgrade_guest(self, user_id: str, *, username: str, password_hash: str) -> UserRecord | None:
        """Give a guest a username and password; None when the user is not a guest."""
        ...

    async def set_password_hash(self, user_id: str, password_hash: str) -> None: ...

    async def set_display_name(self, user_id: str, display_name: str) -> UserRecord | None: ...

    async def revoke_all(self, user_id: str) -> datetime:
        """Set tokens_not_before to now and revoke every refresh token; returns the new time."""
        ...


@dataclass(frozen=True, slots=True)
class RevocationState:
    """What the database says about the login an access token belongs to.

    Grows with every way of cutting a user or a login off (a suspension would be one more field); the
    service refuses a token when any of them applies.
    """

    user_exists: bool
    # Tokens issued at or before this time (ms since the epoch) are refused: logout-all.
    not_before_ms: int
    # The login was ended: logout or refresh-token reuse.
    session_revoked: bool


class RefreshTokenRepo(Protocol):
    async def add(self, *, jti: str, family_id: str, user_id: str, expires_at: datetime) -> None: ...

    async def use(self, jti: str) -> str:
        """Mark the token used. Returns "ok", "reused" (already used or revoked) or "unknown"."""
        ...

    async def revoke_family(self, family_id: str, *, user_id: str, access_expires_at: datetime) -> None:
        """End a login in one transaction: its refresh tokens and, until `access_expires_at` (when the
        last access token it may have been issued expires), its access tokens."""
        ...

    async def purge_expired(self, limit: int) -> int:
        """Delete up to `limit` refresh tokens past their expiry (refused by it anyway); how many."""
        ...


class RevocationRepo(Protocol):
    async def state(self, user_id: str, session_id: str) -> RevocationState:
        """One indexed lookup; raises ServiceUnavailable when the database cannot answer."""
        ...

    async def purge_expired(self, limit: int) -> int:
        """Forget up to `limit` revoked logins whose access tokens have all expired; returns how many."""
        ...
