"""Ports of notifications: what happened to whom (`Activity`), the stored groups, their repository."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from hub.ports.social import Position, Window


class NotificationType(StrEnum):
    """The `type` of a notification (a value of the API and of the database's CHECK)."""

    FOLLOW = "follow"
    FOLLOW_REQUEST = "follow_request"
    LIKE = "like"
    COMMENT = "comment"
    REPLY = "reply"
    MENTION = "mention"
    MODERATION_WARNING = "moderation_warning"
    REPORT = "report"


class ActivityKind(StrEnum):
    """A committed write that may notify someone; the worker works out whom from the database."""

    FOLLOWED = "followed"
    FOLLOW_REQUESTED = "follow_requested"
    LIKED = "liked"
    COMMENTED = "commented"
    POSTED = "posted"
    BLOCKED = "blocked"
    WARNED = "warned"
    REPORTED = "reported"


@dataclass(frozen=True, slots=True)
class Activity:
    """What a service tells the notification queue after its commit.

    `subject` is the account acted on (followed, blocked, warned), `post`/`comment` the content.
    `key` makes the job id: the same activity enqueued twice while it waits runs once.
    """

    kind: ActivityKind
    actor: str
    subject: str | None = None
    post: str | None = None
    comment: str | None = None
    note: str | None = None
    report: str | None = None
    key: str = ""


@dataclass(frozen=True, slots=True)
class AccountRef:
    """An account as a notification names it."""

    id: str
    handle: str
    display_name: str


@dataclass(frozen=True, slots=True)
class NewNotification:
    recipient: str
    type: NotificationType
    group_key: str
    actor: str | None
    post: str | None = None
    comment: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class NotificationRecord:
    """One group as its recipient sees it: `count` distinct accounts, the latest few in `accounts`."""

    id: str
    type: str
    group_key: str
    count: int
    accounts: list[AccountRef]
    post_id: str | None
    comment_id: str | None
    note: str | None
    created_at: datetime
    updated_at: datetime
    read: bool

    @property
    def position(self) -> Position:
        return self.updated_at, self.id


@dataclass(frozen=True, slots=True)
class NotificationFilter:
    types: frozenset[str] = frozenset()
    exclude_types: frozenset[str] = frozenset()


class NotificationRepo(Protocol):
    async def silenced(self, recipient: str, actor: str) -> bool:
        """True when a block (either way) or the recipient's mute stands between them."""
        ...

    async def add(self, new: NewNotification) -> str | None:
        """Record the notification (joining its group); its id when it is new to the recipient (a new
        group, or a new account in a group), None when the actor was already counted."""
        ...

    async def get(self, recipient: str, notification_id: str) -> NotificationRecord | None: ...

    async def page(self, recipient: str, window: Window, filters: NotificationFilter) -> list[NotificationRecord]: ...

    async def unread_count(self, recipient: str) -> int: ...

    async def mark_read(self, recipient: str, notification_id: str) -> bool:
        """False when the recipient has no such notification."""
        ...

    async def mark_all_read(self, recipient: str) -> int: ...

    async def forget_actor(self, recipient: str, actor: str) -> int:
        """Remove what `actor` caused for `recipient` (a block); groups left empty go too."""
        ...

    async def prune_read(self, older_than_seconds: float, limit: int) -> int:
        """Delete up to `limit` notifications read more than `older_than_seconds` ago."""
        ...

    async def handles(self, handles: list[str]) -> dict[str, str]:
        """{case-folded handle: account id} of the registered accounts among `handles`."""
        ...
