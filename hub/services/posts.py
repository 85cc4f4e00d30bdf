"""Posts, likes and comments.

Visibility: `public` posts are seen by everyone; `unlisted` ones too, on the profile and by link, but
never in search; `followers` posts only by the author and accepted followers. On top of that a post's
author who blocks the viewer hides every post of theirs: the viewer gets `PostNotFound`, byte for
byte the answer for an id that does not exist. Lists of other people's engagement (likes, comments)
hide both sides of a block from each other. The repository applies these rules in SQL
(`storage.postgres.posts.post_visible`), so feed and search can reuse them.

Writes spend from per-account budgets (posts, comments, likes) and publish their bus event after the
commit, on the author's `user_topic`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Protocol

import orjson

from hub.errors import (
    AccountRequired,
    CommentNotFound,
    IdempotencyKeyReused,
    MediaNotUsable,
    NotYourComment,
    NotYourPost,
    PostNotFound,
    RateLimited,
    UnblockFirst,
    ValidationFailed,
)
from hub.events import BusEvent, user_topic
from hub.logs import log_event
from hub.models import Principal
from hub.pagination import EPOCH, Cursor, TwoWayPage, two_way_page
from hub.ports.infra import Bus, RateLimiter
from hub.ports.notifications import Activity, ActivityKind
from hub.ports.posts import (
    CommentRecord,
    IdempotencyKey,
    IdempotencyOutcome,
    MediaClaims,
    NewPost,
    PostRecord,
    PostRepo,
)
from hub.ports.social import ListedProfile, SocialRepo, Window
from hub.services.posts_input import (
    COMMENT_MAX_CHARS,
    MEDIA_RULE,
    POST_MAX_CHARS,
    Visibility,
    clean_idempotency_key,
    clean_media,
    clean_text,
    parse_hashtags,
    parse_mentions,
)
from hub.services.social import ORIGIN_ID, PageRequest, SocialService, _position, _uuid

# How long an Idempotency-Key holds (the "one hour per account").
IDEMPOTENCY_TTL = 3_600


class PostListener(Protocol):
    """Told of each new and deleted post after its commit (the home feed); must not block."""

    def post_created(self, post: PostRecord) -> None: ...

    def post_deleted(self, post_id: str, author_id: str) -> None: ...


class PostService:
    """Posts and engagement on them, for one hub."""

    def __init__(
        self,
        repo: PostRepo,
        media: MediaClaims,
        social: SocialService,
        limiter: RateLimiter,
        bus: Bus,
        *,
        post_rate_limit: str,
        comment_rate_limit: str,
        like_rate_limit: str,
        media_deleted: Callable[[], None] = lambda: None,
    ) -> None:
        self.repo = repo
        self.media = media
        self.social = social
        self.graph: SocialRepo = social.repo  # blocks between accounts
        self.limiter = limiter
        self.bus = bus
        self.post_rate_limit = post_rate_limit
        self.comment_rate_limit = comment_rate_limit
        self.like_rate_limit = like_rate_limit
        # Called after a deleted post took media with it, so their objects' deletion drain runs soon.
        self._media_deleted = media_deleted
        self.listeners: list[PostListener] = []
        # Told after the commit of what may notify someone (the notification queue).
        self.activity: list[Callable[[Activity], Awaitable[None]]] = []

    # --- helpers ----------------------------------------------------------------------------

    async def _tell(self, activity: Activity) -> None:
        for listener in self.activity:
            await listener(activity)

    async def _spend(self, principal: Principal, limit: str, scope: str) -> None:
        if principal.is_guest:
            raise AccountRequired()
        retry = await self.limiter.hit(limit, scope, principal.user_id)
        if retry:
            raise RateLimited(retry)

    async def post(self, viewer: Principal, post_id: str) -> PostRecord:
        """The post as `viewer` may see it; `PostNotFound` for a missing id and a hidden post alike."""
        ident = _uuid(post_id)
        found = await self.repo.get(ident, viewer.user_id) if ident else None
        if found is None:
            raise PostNotFound()
        return found

    async def _engage(self, principal: Principal, post_id: str) -> PostRecord:
        """A post one may like or comment on: visible, and no block either way with its author."""
        post = await self.post(principal, post_id)
        if post.author_id != principal.user_id and await self.graph.blocks(principal.user_id, post.author_id):
            raise UnblockFirst()
        return post

    async def _claimed(self, principal: Principal, ids: list[str], post_id: str | None = None) -> list[str]:
        media = clean_media(ids)
        if media and await self.media.claim(principal.user_id, media, post_id=post_id) != media:
            raise MediaNotUsable({"media": MEDIA_RULE})
        return media

    # --- posts ------------------------------------------------------------------------------

    async def create(
        self,
        principal: Principal,
        *,
        text: str,
        media: list[str],
        visibility: Visibility,
        reply_to: str | None,
        idempotency_key: str | None = None,
    ) -> tuple[PostRecord, bool]:
        """The new post and True; or, for an Idempotency-Key already used, the first post and False."""
        await self._spend(principal, self.post_rate_limit, "posts")
        key = clean_idempotency_key(idempotency_key)
        body = clean_text(text, max_chars=POST_MAX_CHARS, field="text")
        media = clean_media(media)
        fingerprint = hashlib.sha256(
            orjson.dumps([body, media, visibility.value, reply_to], option=orjson.OPT_SORT_KEYS)
        ).hexdigest()
        if not body and not media:
            raise ValidationFailed({"text": "a post needs text or media"})
        idem = IdempotencyKey(key, fingerprint, IDEMPOTENCY_TTL) if key else None
        replayed = await self.repo.replay(principal.user_id, idem) if idem else None
        if replayed is not None:
            outcome, record = replayed
        else:
            # A reply to what one cannot see is a 404, as for a missing post.
            parent = (await self._engage(principal, reply_to)).id if reply_to is not None else None
            await self._claimed(principal, media)
            outcome, record = await self.repo.create(
                NewPost(
                    author_id=principal.user_id,
                    text=body,
                    visibility=visibility.value,
                    reply_to=parent,
                    media=media,
                    mentions=parse_mentions(body),
                    hashtags=parse_hashtags(body),
                ),
                idem,
            )
        if outcome is IdempotencyOutcome.MISMATCH:
            raise IdempotencyKeyReused()
        if record is None:  # replayed, but the first post is gone meanwhile
            raise PostNotFound()
        if outcome is IdempotencyOutcome.CREATED:
            log_event("post_created", user_id=principal.user_id, post_id=record.id)
            await self._published(BusEvent.POST_CREATED, record)
            for listener in self.listeners:
                listener.post_created(record)
            await self._tell(Activity(ActivityKind.POSTED, principal.user_id, post=record.id, key=record.id))
        return record, outcome is IdempotencyOutcome.CREATED

    async def update(
        self, principal: Principal, post_id: str, *, text: str | None, media: list[str] | None
    ) -> PostRecord:
        await self._spend(principal, self.post_rate_limit, "posts")
        post = await self.post(principal, post_id)
        if post.author_id != principal.user_id:
            raise NotYourPost()
        body = clean_text(text, max_chars=POST_MAX_CHARS, field="text") if text is not None else None
        claimed = await self._claimed(principal, media, post.id) if media is not None else None
        if not (body if body is not None else post.text) and not (claimed if claimed is not None else post.media):
            raise ValidationFailed({"text": "a post needs text or media"})
        updated = await self.repo.update(
            post.id,
            principal.user_id,
            text=body,
            media=claimed,
            mentions=parse_mentions(body) if body is not None else None,
            hashtags=parse_hashtags(body) if body is not None else None,
        )
        if updated is None:
            raise PostNotFound()
        await self._published(BusEvent.POST_UPDATED, updated)
        if body is not None:  # mentions new in this version notify (groups keep the others from repeating)
            key = f"{updated.id}:{updated.edited_at.isoformat() if updated.edited_at else ''}"
            await self._tell(Activity(ActivityKind.POSTED, principal.user_id, post=updated.id, key=key))
        return updated

    def _may_delete(self, principal: Principal, post: PostRecord) -> bool:
        """The author, or (once there is a moderator role) a moderator: the one place to add it."""
        return post.author_id == principal.user_id

    async def delete(self, principal: Principal, post_id: str) -> None:
        await self._spend(principal, self.post_rate_limit, "posts")
        post = await self.post(principal, post_id)
        if not self._may_delete(principal, post):
            raise NotYourPost()
        if await self.repo.delete(post.id):
            if post.media:
                self._media_deleted()
            log_event("post_deleted", user_id=principal.user_id, post_id=post.id)
            await self.bus.publish(
                user_topic(post.author_id),
                {"type": BusEvent.POST_DELETED, "post_id": post.id, "author_id": post.author_id},
            )
            for listener in self.listeners:
                listener.post_deleted(post.id, post.author_id)

    async def _published(self, kind: BusEvent, post: PostRecord) -> None:
        await self.bus.publish(
            user_topic(post.author_id),
            {
                "type": kind,
                "post_id": post.id,
                "author_id": post.author_id,
                "visibility": post.visibility,
                "reply_to": post.reply_to,
                "created_at": post.created_at.isoformat(),
            },
        )

    async def user_posts(self, viewer: Principal, user_id: str, page: PageRequest) -> TwoWayPage[PostRecord]:
        author = await self.social.profile(viewer, user_id)  # a blocker's profile is a 404 as well
        window, cursor, since = SocialService._window(page)
        rows = await self.repo.user_posts(author.id, viewer.user_id, window)
        return two_way_page(rows, page.limit, lambda p: p.position, cursor=cursor, since=since, origin_id=ORIGIN_ID)

    # --- likes ------------------------------------------------------------------------------

    async def like(self, principal: Principal, post_id: str) -> PostRecord:
        await self._spend(principal, self.like_rate_limit, "likes")
        post = await self._engage(principal, post_id)
        if await self.repo.like(post.id, principal.user_id):
            key = f"{post.id}:{principal.user_id}"
            await self._tell(Activity(ActivityKind.LIKED, principal.user_id, post=post.id, key=key))
        return await self.post(principal, post.id)

    async def unlike(self, principal: Principal, post_id: str) -> PostRecord:
        await self._spend(principal, self.like_rate_limit, "likes")
        post = await self.post(principal, post_id)
        await self.repo.unlike(post.id, principal.user_id)
        return await self.post(principal, post.id)

    async def likes(self, viewer: Principal, post_id: str, page: PageRequest) -> TwoWayPage[ListedProfile]:
        post = await self.post(viewer, post_id)
        window, cursor, since = SocialService._window(page)
        rows = await self.repo.likes(post.id, viewer.user_id, window)
        return two_way_page(rows, page.limit, lambda r: r.position, cursor=cursor, since=since, origin_id=ORIGIN_ID)

    # --- comments ---------------------------------------------------------------------------

    async def comment(self, principal: Principal, post_id: str, *, text: str, reply_to: str | None) -> CommentRecord:
        await self._spend(principal, self.comment_rate_limit, "comments")
        post = await self._engage(principal, post_id)
        body = clean_text(text, max_chars=COMMENT_MAX_CHARS, field="text", required=True)
        parent: str | None = None
        if reply_to is not None:
            ident = _uuid(reply_to)
            found = await self.repo.get_comment(post.id, ident) if ident else None
            if found is None or await self.graph.blocked_between(principal.user_id, found.author_id):
                raise CommentNotFound()
            parent = found.id
        record = await self.repo.comment(post.id, principal.user_id, body, parent)
        if record is None:  # the parent was deleted meanwhile
            raise CommentNotFound()
        await self._tell(
            Activity(ActivityKind.COMMENTED, principal.user_id, post=post.id, comment=record.id, key=record.id)
        )
        return record

    async def comments(self, viewer: Principal, post_id: str, page: PageRequest) -> TwoWayPage[CommentRecord]:
        """Oldest first. `cursor` (a `next_cursor`) and `since` (a `prev_cursor`) both read the comments
        after a position, so `next_cursor` is None at the end while `prev_cursor` is always set: the
        newest comment returned, or where the request stood, from which a client polls for more."""
        post = await self.post(viewer, post_id)
        start = _position(page.since) or _position(page.cursor)
        rows = await self.repo.comments(
            post.id, viewer.user_id, Window(page.limit + 1, after=(start.at, start.id) if start else None)
        )
        items = rows[: page.limit]
        more = len(rows) > page.limit
        last = items[-1].position if items else ((start.at, start.id) if start else None)
        newest = Cursor(*last) if last else Cursor(EPOCH, ORIGIN_ID)
        return TwoWayPage(items, newest.encode() if more else None, newest.encode())

    async def delete_comment(self, principal: Principal, post_id: str, comment_id: str) -> None:
        await self._spend(principal, self.comment_rate_limit, "comments")
        post = await self.post(principal, post_id)
        ident = _uuid(comment_id)
        found = await self.repo.get_comment(post.id, ident) if ident else None
        if found is None or (
            found.author_id != principal.user_id
            and await self.graph.blocked_between(principal.user_id, found.author_id)
        ):
            raise CommentNotFound()
        if principal.user_id not in (found.author_id, post.author_id):
            raise NotYourComment()
        await self.repo.delete_comment(post.id, found.id)

    # --- maintenance ------------------------------------------------------------------------

    async def purge_idempotency_keys(self) -> int:
        return await self.repo.purge_idempotency_keys(IDEMPOTENCY_TTL)

    async def repair_counters(self) -> dict[str, int]:
        fixed = await self.repo.repair_counters()
        log_event("counters_repaired", **fixed)
        return fixed
