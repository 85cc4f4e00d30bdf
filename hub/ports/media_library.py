"""Ports of the media library: images owned by an account (for its posts and its avatar).

Media reuse the files capability's blob store and media worker; only their metadata lives apart, in
a repository keyed by owner instead of by space.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

# `pending` from the upload's creation until `complete` checked the object, then `ready`.
MediaStatus = Literal["pending", "ready"]


@dataclass(frozen=True, slots=True)
class MediaRecord:
    id: str
    owner_id: str
    object_key: str
    filename: str
    content_type: str
    size: int
    status: MediaStatus
    post_id: str | None
    created_at: datetime
    completed_at: datetime | None
    processing: str | None
    width: int | None
    height: int | None
    variants: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NewMedia:
    id: str
    owner_id: str
    object_key: str
    filename: str
    content_type: str
    size: int


class MediaLibraryRepo(Protocol):
    """Persistence of media metadata. Deleting a row queues its objects (original and variants) for
    deletion from the store in the same transaction, as files do."""

    async def insert(self, new: NewMedia) -> MediaRecord: ...

    async def get(self, media_id: str) -> MediaRecord | None: ...

    async def get_many(self, media_ids: Sequence[str]) -> list[MediaRecord]: ...

    async def mark_ready(self, media_id: str, *, size: int, processing: str | None) -> MediaRecord | None:
        """Pending -> ready; None when the row is gone or was not pending."""
        ...

    async def set_variants(
        self, media_id: str, variants: dict[str, Any], width: int | None, height: int | None, processing: str
    ) -> MediaRecord | None:
        """Record the worker's result on a ready row; None when the row is gone."""
        ...

    async def delete(self, media_id: str) -> MediaRecord | None: ...

    async def claim_for_post(self, author_id: str, media_ids: Sequence[str], post_id: str) -> list[MediaRecord]:
        """Attach to `post_id` those of `media_ids` that are ready, owned by `author_id`, not a failed
        image and not attached to another post; returns the attached rows (the others are not touched)."""
        ...

    async def release_post(self, post_id: str) -> int:
        """Detach every media of a post: they become unattached now, and the sweeper deletes them once
        they stayed so for the unattached TTL."""
        ...

    async def delete_for_post(self, post_id: str) -> list[MediaRecord]:
        """Delete a deleted post's media, except any that is a profile's avatar (that one is released)."""
        ...

    async def delete_unattached(self, unattached_before: datetime, limit: int) -> list[MediaRecord]:
        """Delete media that no post and no profile uses, unattached since before `unattached_before`
        (since their upload, or since an edit dropped them from a post)."""
        ...

    async def list_queued(
        self, completed_before: datetime, after: tuple[datetime, str] | None, limit: int
    ) -> list[MediaRecord]:
        """Ready media still waiting for variants, in (completed_at, id) order after `after`."""
        ...

    async def set_avatar(self, user_id: str, media_id: str | None) -> bool:
        """Make `media_id` the account's avatar (None clears it); False when it is not a ready,
        usable image of that account."""
        ...
