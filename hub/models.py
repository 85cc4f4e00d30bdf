"""Domain values shared across capabilities."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    """A member's role in a space; owners can do everything editors can, editors everything viewers can."""

    VIEWER = "viewer"
    EDITOR = "editor"
    OWNER = "owner"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_RANKS = {Role.VIEWER: 1, Role.EDITOR: 2, Role.OWNER: 3}


class Visibility(StrEnum):
    PRIVATE = "private"
    LINK = "link"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the verified subject of an access token."""

    user_id: str
    display_name: str
    is_guest: bool
    token_id: str
    expires_at: int
    session_id: str = ""


@dataclass(frozen=True, slots=True)
class SpaceAccess:
    """The result of an authorization check: the caller's role in a live space."""

    space_id: str
    name: str
    role: Role
    expires_at: datetime
