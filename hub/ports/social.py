"""Ports of the social capability: profiles and the social graph (follows, requests, blocks, mutes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

# A keyset position in an edge list: (when the edge was made, the listed account's id).
Position = tuple[datetime, str]


@dataclass(frozen=True, slots=True)
class ProfileRecord:
    """A registered account as others see it; guests have no profile."""

    id: str
    handle: str
    display_name: str
    bio: str
    avatar_media_id: str | None
    locked: bool
    created_at: datetime
    followers_count: int
    following_count: int
    posts_count: int


@dataclass(frozen=True, slots=True)
class ListedProfile:
    """A profile in an edge list, with the edge's time (its keyset position)."""

    profile: ProfileRecord
    at: datetime

    @property
    def position(self) -> Position:
        return self.at, self.profile.id


@dataclass(frozen=True, slots=True)
class Relationship:
    """How one account (the subject) stands to another; `muting` is only ever shown to the muter."""

    id: str
    following: bool
    followed_by: bool
    requested: bool
    blocking: bool
    blocked_by: bool
    muting: bool


@dataclass(frozen=True, slots=True)
class FollowRequestRecord:
    id: str
    requester: ProfileRecord
    created_at: datetime

    @property
    def position(self) -> Position:
        return self.created_at, self.id


class FollowOutcome(StrEnum):
    """What a follow did, decided in the transaction that holds both accounts' rows."""

    FOLLOWING = "following"  # an edge exists now (made or already there)
    REQUESTED = "requested"  # the target is locked: a pending request exists now
    MISSING = "missing"  # no such profile, or the target blocks the follower
    BLOCKING = "blocking"  # the follower blocks the target
    LIMIT = "limit"  # the follower is at the cap


class GraphChange(StrEnum):
    """A change of one account's relationship to another, as listeners of the graph hear it."""

    FOLLOWED = "followed"  # an edge exists now (a follow, or an authorized request)
    UNFOLLOWED = "unfollowed"
    BLOCKED = "blocked"  # follow edges both ways are gone
    MUTED = "muted"
    UNMUTED = "unmuted"


@dataclass(frozen=True, slots=True)
class Window:
    """Which slice of a newest-first list to read: older than `before`, or just newer than `after`.

    `after` pages run oldest first from the position (so nothing is skipped however much arrived);
    the service turns them back to newest first.
    """

    limit: int
    before: Position | None = None
    after: Position | None = None


class SocialRepo(Protocol):
    async def profile(self, user_id: str) -> ProfileRecord | None: ...

    async def profile_by_handle(self, handle: str) -> ProfileRecord | None: ...

    async def update_profile(
        self, user_id: str, *, display_name: str | None, bio: str | None, locked: bool | None
    ) -> ProfileRecord | None: ...

    async def blocked_between(self, a: str, b: str) -> bool:
        """True when either account blocks the other."""
        ...

    async def blocks(self, blocker: str, blocked: str) -> bool: ...

    async def relationship(self, subject: str, other: str) -> Relationship: ...

    async def follow(self, follower: str, followee: str, *, max_following: int) -> FollowOutcome: ...

    async def unfollow(self, follower: str, followee: str) -> None:
        """Remove the edge (and a pending request); counters change in the same transaction."""
        ...

    async def block(self, blocker: str, blocked: str) -> bool:
        """Block and remove follow edges and requests both ways; False when `blocked` is no profile."""
        ...

    async def unblock(self, blocker: str, blocked: str) -> None: ...

    async def mute(self, muter: str, muted: str) -> None: ...

    async def unmute(self, muter: str, muted: str) -> None: ...

    async def followers(self, user_id: str, viewer: str, window: Window) -> list[ListedProfile]:
        """Accounts following `user_id`, without any that block or are blocked by `viewer`."""
        ...

    async def following(self, user_id: str, viewer: str, window: Window) -> list[ListedProfile]: ...

    async def follow_requests(self, target: str, window: Window) -> list[FollowRequestRecord]: ...

    async def authorize(self, target: str, request_id: str, *, max_following: int) -> tuple[FollowOutcome, str]:
        """Turn a pending request into an edge: (FOLLOWING | MISSING | LIMIT, the requester's id)."""
        ...

    async def reject(self, target: str, request_id: str) -> str | None:
        """Delete a pending request; the requester's id, or None when there was none."""
        ...
