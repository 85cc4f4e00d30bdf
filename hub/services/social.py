"""Profiles and the social graph: follows, follow requests to locked accounts, blocks and mutes.

Blocks apply on every path: an account blocked by another gets the same 404 for it as for an id that
does not exist (`UserNotFound`), cannot follow it, and neither side appears in lists the other reads.
`visible_to` is the one check; read paths over content (posts, feed, search) use it and its SQL twin,
`storage.postgres.social.blocked_between`. A mute only hides the muted account from the muter's own
feed and notifications: nothing the muted account can read changes.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import EllipsisType
from typing import TypeVar

from hub.errors import (
    AccountRequired,
    FollowLimit,
    FollowRequestNotFound,
    InvalidCursor,
    NotYourProfile,
    RateLimited,
    SelfRelationship,
    UnblockFirst,
    UserNotFound,
    ValidationFailed,
)
from hub.logs import log_event
from hub.models import Principal
from hub.pagination import Cursor, TwoWayPage, two_way_page
from hub.ports.infra import RateLimiter
from hub.ports.notifications import Activity, ActivityKind
from hub.ports.social import (
    FollowOutcome,
    FollowRequestRecord,
    GraphChange,
    ListedProfile,
    Position,
    ProfileRecord,
    Relationship,
    SocialRepo,
    Window,
)
from hub.services.identity import clean_display_name

T = TypeVar("T", ListedProfile, FollowRequestRecord)

# Told of every relationship change after its commit, before the request answers (the home feed).
GraphListener = Callable[[GraphChange, str, str], Awaitable[None]]

BIO_MAX_CHARS = 500
# The position before every uuid: where `since` starts when a list was empty.
ORIGIN_ID = str(uuid.UUID(int=0))


def _uuid(value: str) -> str | None:
    """The canonical form of a uuid, or None: a malformed id is simply one that does not exist."""
    try:
        return str(uuid.UUID(value)) if len(value) <= 36 else None
    except ValueError:
        return None


def clean_bio(value: str) -> str:
    text = unicodedata.normalize("NFC", value).strip()
    if len(text) > BIO_MAX_CHARS:
        raise ValidationFailed({"bio": f"must be at most {BIO_MAX_CHARS} characters"})
    # Line breaks are part of a bio; other control and bidi-override characters are not.
    if any(ch not in "\n\t" and unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co"} for ch in text):
        raise ValidationFailed({"bio": "must not contain control or formatting characters"})
    return text


@dataclass(frozen=True, slots=True)
class PageRequest:
    """A list request as the adapter parsed it: `cursor` for older items, `since` for newer ones."""

    limit: int
    cursor: str | None = None
    since: str | None = None


def _position(token: str | None) -> Cursor | None:
    cursor = Cursor.decode(token)
    if cursor is not None and _uuid(cursor.id) is None:
        raise InvalidCursor("The cursor is invalid.")
    return cursor


class SocialService:
    """Profiles, relationships and the lists built on them."""

    def __init__(
        self,
        repo: SocialRepo,
        limiter: RateLimiter,
        *,
        max_following: int,
        write_rate_limit: str,
        set_avatar: Callable[[str, str | None], Awaitable[None]] | None = None,
    ) -> None:
        self.repo = repo
        self.limiter = limiter
        self.max_following = max_following
        self.write_rate_limit = write_rate_limit
        # The media library's check-and-set of an avatar (a ready image of the account's own).
        self._set_avatar = set_avatar
        self.listeners: list[GraphListener] = []
        # Told after the commit of what may notify someone (the notification queue).
        self.activity: list[Callable[[Activity], Awaitable[None]]] = []

    # --- visibility -------------------------------------------------------------------------

    async def visible_to(self, viewer: Principal, user_id: str) -> bool:
        """May `viewer` see this account and what it made? False when the account blocks the viewer."""
        return viewer.user_id == user_id or not await self.repo.blocks(user_id, viewer.user_id)

    async def profile(self, viewer: Principal, user_id: str) -> ProfileRecord:
        """The profile as `viewer` may see it; `UserNotFound` for a missing id and for a blocker alike."""
        ident = _uuid(user_id)
        found = await self.repo.profile(ident) if ident else None
        if found is None or not await self.visible_to(viewer, found.id):
            raise UserNotFound()
        return found

    async def profile_by_handle(self, viewer: Principal, handle: str) -> ProfileRecord:
        found = await self.repo.profile_by_handle(handle) if 0 < len(handle) <= 64 else None
        if found is None or not await self.visible_to(viewer, found.id):
            raise UserNotFound()
        return found

    async def relationship(self, viewer: Principal, user_id: str) -> Relationship:
        target = await self.profile(viewer, user_id)
        return await self.repo.relationship(viewer.user_id, target.id)

    # --- writes -----------------------------------------------------------------------------

    async def _changed(self, change: GraphChange, subject: str, other: str) -> None:
        for listener in self.listeners:
            await listener(change, subject, other)

    async def _tell(self, activity: Activity) -> None:
        for listener in self.activity:
            await listener(activity)

    async def _writer(self, principal: Principal) -> None:
        """Guests read; only accounts write. Every graph write spends from the account's budget."""
        if principal.is_guest:
            raise AccountRequired()
        retry = await self.limiter.hit(self.write_rate_limit, "social", principal.user_id)
        if retry:
            raise RateLimited(retry)

    async def _other(self, principal: Principal, user_id: str) -> ProfileRecord:
        target = await self.profile(principal, user_id)
        if target.id == principal.user_id:
            raise SelfRelationship()
        return target

    async def update_profile(
        self,
        principal: Principal,
        user_id: str,
        *,
        display_name: str | None = None,
        bio: str | None = None,
        locked: bool | None = None,
        avatar: str | EllipsisType | None = ...,
    ) -> ProfileRecord:
        """`avatar`: a media id, None to remove the avatar, `...` (the default) to leave it."""
        if principal.is_guest:
            raise AccountRequired()
        if _uuid(user_id) != principal.user_id:
            await self.profile(principal, user_id)  # a missing or hidden id stays a 404
            raise NotYourProfile()
        name = clean_display_name(display_name) if display_name is not None else None
        text = clean_bio(bio) if bio is not None else None
        if not isinstance(avatar, EllipsisType):
            if self._set_avatar is None:
                raise ValidationFailed({"avatar": "avatars are not available"})
            # Last of the checks, first of the writes: a refused avatar changes nothing else.
            await self._set_avatar(principal.user_id, avatar)
        updated = await self.repo.update_profile(principal.user_id, display_name=name, bio=text, locked=locked)
        if updated is None:
            raise UserNotFound()
        return updated

    async def follow(self, principal: Principal, user_id: str) -> Relationship:
        await self._writer(principal)
        target = await self._other(principal, user_id)
        outcome = await self.repo.follow(principal.user_id, target.id, max_following=self.max_following)
        if outcome is FollowOutcome.MISSING:
            raise UserNotFound()
        if outcome is FollowOutcome.BLOCKING:
            raise UnblockFirst()
        if outcome is FollowOutcome.LIMIT:
            raise FollowLimit(details={"max_following": self.max_following})
        log_event("followed", user_id=principal.user_id, target=target.id, outcome=outcome.value)
        if outcome is FollowOutcome.FOLLOWING:
            await self._changed(GraphChange.FOLLOWED, principal.user_id, target.id)
        kind = ActivityKind.FOLLOWED if outcome is FollowOutcome.FOLLOWING else ActivityKind.FOLLOW_REQUESTED
        await self._tell(Activity(kind, principal.user_id, subject=target.id, key=f"{principal.user_id}:{target.id}"))
        return await self.repo.relationship(principal.user_id, target.id)

    async def unfollow(self, principal: Principal, user_id: str) -> Relationship:
        return await self._change(principal, user_id, self.repo.unfollow, GraphChange.UNFOLLOWED)

    async def block(self, principal: Principal, user_id: str) -> Relationship:
        await self._writer(principal)
        target = await self._other(principal, user_id)
        if not await self.repo.block(principal.user_id, target.id):
            raise UserNotFound()
        log_event("blocked", user_id=principal.user_id, target=target.id)
        await self._changed(GraphChange.BLOCKED, principal.user_id, target.id)
        key = f"{principal.user_id}:{target.id}"
        await self._tell(Activity(ActivityKind.BLOCKED, principal.user_id, subject=target.id, key=key))
        return await self.repo.relationship(principal.user_id, target.id)

    async def unblock(self, principal: Principal, user_id: str) -> Relationship:
        await self._writer(principal)
        ident = _uuid(user_id)
        # One's own block can always be lifted, even where the other account blocks back (and is hidden).
        if ident is not None and ident != principal.user_id and await self.repo.blocks(principal.user_id, ident):
            await self.repo.unblock(principal.user_id, ident)
            return await self.repo.relationship(principal.user_id, ident)
        target = await self._other(principal, user_id)
        await self.repo.unblock(principal.user_id, target.id)
        return await self.repo.relationship(principal.user_id, target.id)

    async def mute(self, principal: Principal, user_id: str) -> Relationship:
        return await self._change(principal, user_id, self.repo.mute, GraphChange.MUTED)

    async def unmute(self, principal: Principal, user_id: str) -> Relationship:
        return await self._change(principal, user_id, self.repo.unmute, GraphChange.UNMUTED)

    async def _change(
        self,
        principal: Principal,
        user_id: str,
        change: Callable[[str, str], Awaitable[None]],
        kind: GraphChange,
    ) -> Relationship:
        await self._writer(principal)
        target = await self._other(principal, user_id)
        await change(principal.user_id, target.id)
        await self._changed(kind, principal.user_id, target.id)
        return await self.repo.relationship(principal.user_id, target.id)

    # --- follow requests --------------------------------------------------------------------

    async def follow_requests(self, principal: Principal, page: PageRequest) -> TwoWayPage[FollowRequestRecord]:
        window, cursor, since = self._window(page)
        rows = await self.repo.follow_requests(principal.user_id, window)
        return self._page(rows, page.limit, cursor, since, lambda r: r.position)

    async def authorize(self, principal: Principal, request_id: str) -> Relationship:
        await self._writer(principal)
        ident = _uuid(request_id)
        if ident is None:
            raise FollowRequestNotFound()
        outcome, requester = await self.repo.authorize(principal.user_id, ident, max_following=self.max_following)
        if outcome is FollowOutcome.MISSING:
            raise FollowRequestNotFound()
        if outcome is FollowOutcome.LIMIT:
            raise FollowLimit("The requester follows as many accounts as allowed.")
        await self._changed(GraphChange.FOLLOWED, requester, principal.user_id)
        return await self.repo.relationship(principal.user_id, requester)

    async def reject(self, principal: Principal, request_id: str) -> Relationship:
        await self._writer(principal)
        ident = _uuid(request_id)
        requester = await self.repo.reject(principal.user_id, ident) if ident else None
        if requester is None:
            raise FollowRequestNotFound()
        return await self.repo.relationship(principal.user_id, requester)

    # --- lists ------------------------------------------------------------------------------

    async def followers(self, viewer: Principal, user_id: str, page: PageRequest) -> TwoWayPage[ListedProfile]:
        target = await self.profile(viewer, user_id)
        window, cursor, since = self._window(page)
        rows = await self.repo.followers(target.id, viewer.user_id, window)
        return self._page(rows, page.limit, cursor, since, lambda r: r.position)

    async def following(self, viewer: Principal, user_id: str, page: PageRequest) -> TwoWayPage[ListedProfile]:
        target = await self.profile(viewer, user_id)
        window, cursor, since = self._window(page)
        rows = await self.repo.following(target.id, viewer.user_id, window)
        return self._page(rows, page.limit, cursor, since, lambda r: r.position)

    @staticmethod
    def _window(page: PageRequest) -> tuple[Window, Cursor | None, Cursor | None]:
        cursor, since = _position(page.cursor), _position(page.since)
        if since is not None:
            return Window(page.limit, after=(since.at, since.id)), None, since
        before = (cursor.at, cursor.id) if cursor else None
        return Window(page.limit + 1, before=before), cursor, None

    @staticmethod
    def _page(
        rows: list[T],
        limit: int,
        cursor: Cursor | None,
        since: Cursor | None,
        position: Callable[[T], Position],
    ) -> TwoWayPage[T]:
        return two_way_page(rows, limit, position, cursor=cursor, since=since, origin_id=ORIGIN_ID)
