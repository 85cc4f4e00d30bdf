"""Ports of posts and engagement: posts with media, mentions and hashtags; likes; comments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from hub.ports.social import ListedProfile, Position, Window


@dataclass(frozen=True, slots=True)
class Mention:
    id: str
    handle: str


@dataclass(frozen=True, slots=True)
class PostRecord:
    """A post as one viewer reads it (`liked` is that viewer's like)."""

    id: str
    author_id: str
    author_handle: str
    author_display_name: str
    text: str
    visibility: str
    reply_to: str | None
    media: list[str]
    mentions: list[Mention]
    hashtags: list[str]
    likes_count: int
    comments_count: int
    liked: bool
    created_at: datetime
    edited_at: datetime | None
    # Taken down by a moderator: only its author still sees it, marked so, with the reason.
    removed: bool = False
    removed_reason: str | None = None

    @property
    def position(self) -> Position:
        return self.created_at, self.id


@dataclass(frozen=True, slots=True)
class CommentRecord:
    id: str
    post_id: str
    author_id: str
    author_handle: str
    author_display_name: str
    text: str
    reply_to: str | None
    created_at: datetime
    removed: bool = False
    removed_reason: str | None = None

    @property
    def position(self) -> Position:
        return self.created_at, self.id


@dataclass(frozen=True, slots=True)
class NewPost:
    """A checked post to store: `mentions` are handles (the repository keeps those that may be
    mentioned), `media` ids already claimed by `MediaClaims`."""

    author_id: str
    text: str
    visibility: str
    reply_to: str | None
    media: list[str]
    mentions: list[str]
    hashtags: list[str]


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    key: str
    fingerprint: str  # a digest of the request: the same key with another body is refused
    ttl: int  # seconds a key is kept


class IdempotencyOutcome(StrEnum):
    """What `PostRepo.create` found for an Idempotency-Key."""

    CREATED = "created"  # a new post
    REPLAYED = "replayed"  # the key was used for this same request: its post
    MISMATCH = "mismatch"  # the key was used for another request


class MediaClaims(Protocol):
    """Which account media a post may carry (account media live with `/media`)."""

    async def claim(self, author_id: str, ids: list[str], *, post_id: str | None = None) -> list[str]:
        """The ids among `ids`, in order, of completed uploads owned by `author_id` that the media worker
        did not refuse (still processing is fine) and that are attached to no post (or already to
        `post_id`, when a post is edited)."""
        ...


class PostRepo(Protocol):
    async def create(self, post: NewPost, key: IdempotencyKey | None) -> tuple[IdempotencyOutcome, PostRecord | None]:
        """Store the post (counted on its author) in one transaction, or find the post an
        Idempotency-Key already made: (an `IdempotencyOutcome`, the post; None on a mismatch)."""
        ...

    async def replay(self, author_id: str, key: IdempotencyKey) -> tuple[IdempotencyOutcome, PostRecord | None] | None:
        """What a live Idempotency-Key already stands for (REPLAYED with its post, or MISMATCH), or None
        when the key is unused. `create` decides again under the key's lock; this only spares a retry
        the checks that its own first attempt would now fail (its media are attached by then)."""
        ...

    async def get(self, post_id: str, viewer: str) -> PostRecord | None:
        """The post if `viewer` may see it (`storage.postgres.posts.post_visible`), else None."""
        ...

    async def update(
        self,
        post_id: str,
        author_id: str,
        *,
        text: str | None,
        media: list[str] | None,
        mentions: list[str] | None,
        hashtags: list[str] | None,
    ) -> PostRecord | None:
        """Keep the current version in `post_versions`, then change it; None when not the author's."""
        ...

    async def delete(self, post_id: str) -> bool:
        """Delete the post, its likes, comments and media (objects queued for deletion; one that is also
        an avatar is only released), counters in the same transaction."""
        ...

    async def user_posts(self, author_id: str, viewer: str, window: Window) -> list[PostRecord]: ...

    async def like(self, post_id: str, user_id: str) -> bool:
        """Like (idempotent); True when a like was added."""
        ...

    async def unlike(self, post_id: str, user_id: str) -> bool: ...

    async def likes(self, post_id: str, viewer: str, window: Window) -> list[ListedProfile]:
        """Accounts that like the post, without any that block or are blocked by `viewer`."""
        ...

    async def comment(self, post_id: str, author_id: str, text: str, reply_to: str | None) -> CommentRecord | None:
        """Add a comment (counted on the post); None when `reply_to` is no comment of this post."""
        ...

    async def get_comment(self, post_id: str, comment_id: str) -> CommentRecord | None: ...

    async def comments(self, post_id: str, viewer: str, window: Window) -> list[CommentRecord]:
        """Comments oldest first after `window.after` (or from the start), without blocked pairs."""
        ...

    async def delete_comment(self, post_id: str, comment_id: str) -> bool: ...

    async def purge_idempotency_keys(self, older_than: int) -> int:
        """Delete keys older than `older_than` seconds; how many."""
        ...

    async def repair_counters(self) -> dict[str, int]:
        """Recompute every denormalised counter; {counter name: rows fixed}."""
        ...
