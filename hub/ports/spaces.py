"""Ports of the spaces and bins capability."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol


@dataclass(frozen=True, slots=True)
class SpaceRecord:
    id: str
    name: str
    owner_id: str
    visibility: str
    link_role: str
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    role: str | None = None  # the caller's role, when read for a member


@dataclass(frozen=True, slots=True)
class MemberRecord:
    user_id: str
    display_name: str
    is_guest: bool
    role: str
    joined_at: datetime


@dataclass(frozen=True, slots=True)
class InviteRecord:
    id: str
    space_id: str
    role: str
    max_uses: int | None
    uses: int
    expires_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class InviteState:
    """What an invite's token shows before it is used: its space and role, and whether it still works."""

    space_name: str
    role: str
    expires_at: datetime | None  # the invite's own
    space_expires_at: datetime
    max_uses: int | None
    uses: int
    expired: bool  # the invite's or the space's time is over (by the database's clock)


# Why an invite that exists no longer lets anyone in (its lifetime or its space's is over; all its uses are taken).
InviteRefusal = Literal["expired", "used_up"]


@dataclass(frozen=True, slots=True)
class BinRecord:
    id: str
    space_id: str
    title: str
    content: str
    language: str
    version: int
    created_by: str | None
    updated_by: str | None
    created_at: datetime
    updated_at: datetime
    burn_after_reading: bool
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class RevisionRecord:
    bin_id: str
    version: int
    title: str
    content: str
    language: str
    author_id: str | None
    created_at: datetime


class SpaceRepo(Protocol):
    async def create(
        self, *, space_id: str, name: str, owner_id: str, visibility: str, link_role: str, expires_at: datetime
    ) -> SpaceRecord: ...

    async def for_member(self, space_id: str, user_id: str) -> SpaceRecord | None:
        """The space with the caller's role; None when missing or the user is not a member."""
        ...

    async def get(self, space_id: str) -> SpaceRecord | None: ...

    async def list_for_user(
        self, user_id: str, after: tuple[datetime, str] | None, limit: int
    ) -> list[tuple[SpaceRecord, datetime]]: ...

    async def update(self, space_id: str, fields: dict[str, object]) -> SpaceRecord | None: ...

    async def delete(self, space_id: str) -> bool: ...

    async def add_member(self, space_id: str, user_id: str, role: str) -> str:
        """Insert or keep the higher of the existing and the new role; returns the resulting role."""
        ...

    async def members(self, space_id: str, after: tuple[datetime, str] | None, limit: int) -> list[MemberRecord]: ...

    async def set_role(self, space_id: str, user_id: str, role: str) -> str:
        """Returns "ok", "missing" or "last_owner"."""
        ...

    async def remove_member(self, space_id: str, user_id: str) -> str:
        """Returns "ok", "missing" or "last_owner"."""
        ...

    async def create_invite(
        self,
        *,
        invite_id: str,
        token_hash: bytes,
        space_id: str,
        role: str,
        max_uses: int | None,
        expires_at: datetime | None,
        created_by: str,
    ) -> InviteRecord: ...

    async def invites(self, space_id: str) -> list[InviteRecord]: ...

    async def revoke_invite(self, space_id: str, invite_id: str) -> bool: ...

    async def invite_state(self, token_hash: bytes) -> InviteState | None:
        """The invite with this token; None when there is none, it was revoked or its space was
        taken down."""
        ...

    async def redeem_invite(self, token_hash: bytes, user_id: str) -> tuple[str, str] | InviteRefusal | None:
        """Consume one use and add the member atomically: (space_id, role); "expired" or "used_up" when
        the invite no longer works (nothing is consumed); None when there is none, it was revoked or its
        space was taken down. Concurrent redeemers of a last use: one joins, the others read "used_up"."""
        ...

    async def purge_expired(self, limit: int) -> list[tuple[str, str]]:
        """Delete up to `limit` expired spaces (cascading); returns (id, name) of each."""
        ...


class BinRepo(Protocol):
    async def create(
        self,
        *,
        bin_id: str,
        space_id: str,
        title: str,
        content: str,
        language: str,
        author_id: str,
        burn_after_reading: bool,
        expires_at: datetime | None,
    ) -> BinRecord: ...

    async def get(self, space_id: str, bin_id: str) -> BinRecord | None: ...

    async def get_for_member(
        self, space_id: str, bin_id: str, user_id: str
    ) -> tuple[SpaceRecord | None, BinRecord | None]:
        """The space with the member's role (None when not a member) and the bin, in one round trip."""
        ...

    async def burn(self, space_id: str, bin_id: str) -> BinRecord | None:
        """Delete and return the bin in one statement (burn after reading)."""
        ...

    async def in_space(self, space_id: str, after: tuple[datetime, str] | None, limit: int) -> list[BinRecord]: ...

    async def update(
        self, space_id: str, bin_id: str, expected_version: int, fields: dict[str, object], author_id: str
    ) -> BinRecord | None:
        """Apply and record a revision when `expected_version` is current; None otherwise."""
        ...

    async def delete(self, space_id: str, bin_id: str) -> bool: ...

    async def revisions(self, bin_id: str, before_version: int | None, limit: int) -> list[RevisionRecord]: ...

    async def revision(self, bin_id: str, version: int) -> RevisionRecord | None: ...

    async def purge_expired(self, limit: int) -> list[tuple[str, str]]:
        """Delete expired bins; returns (space_id, bin_id) of each."""
        ...
