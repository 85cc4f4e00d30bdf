"""Notifications: made by the job worker from the activity of committed writes, read over REST, pushed live.

A write that may notify someone tells `record` after its commit; that enqueues a `notify` job and
returns (a request never waits for the fan-out). The worker then reads the present state: whom the
activity concerns, whether a block or the recipient's mute silences the actor, whether the recipient
may see the post. It joins the notification to its group (`hub.ports.notifications`) and, when that is
news to the recipient, pushes the notification and the new unread count to the recipient's sockets on
every instance (`ServerEvent.NOTIFICATION`).

Groups: the likes of one post within a UTC day are one notification, and so are the follows of a day;
each comment, reply, mention, follow request, warning and report is its own. The accounts of a group
are distinct, so like -> unlike -> like by one account notifies once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict
from typing import Any

from hub.errors import AccountRequired, HubError, NotificationNotFound, ValidationFailed
from hub.events import BusEvent, user_topic
from hub.metrics import Metrics
from hub.models import Principal
from hub.pagination import TwoWayPage, two_way_page
from hub.ports.files import JobQueue
from hub.ports.infra import Bus
from hub.ports.notifications import (
    Activity,
    ActivityKind,
    NewNotification,
    NotificationFilter,
    NotificationRecord,
    NotificationRepo,
    NotificationType,
)
from hub.ports.posts import PostRepo
from hub.services.jobs import ENQUEUED_AT, JobRunner, stamped
from hub.services.posts_input import parse_mentions
from hub.services.social import ORIGIN_ID, PageRequest, SocialService, _uuid

log = logging.getLogger(__name__)

NOTIFY_JOB = "notify"

DAY = 86_400

# Who moderates (for `report` notifications): account ids; set by the moderation capability.
Moderators = Callable[[], Awaitable[list[str]]]


def notification_view(n: NotificationRecord) -> dict[str, Any]:
    """A notification as the API and the live push show it (the REST schema is `NotificationOut`)."""
    return {
        "id": n.id,
        "type": n.type,
        "group_key": n.group_key,
        "count": n.count,
        "accounts": [{"id": a.id, "handle": a.handle, "display_name": a.display_name} for a in n.accounts],
        "post_id": n.post_id,
        "comment_id": n.comment_id,
        "note": n.note,
        "created_at": n.created_at.isoformat(),
        "updated_at": n.updated_at.isoformat(),
        "read": n.read,
    }


def parse_types(values: Iterable[str], field: str) -> frozenset[str]:
    """Notification types from a `types[]`/`exclude_types[]` query; an unknown one is a 422."""
    known = {t.value for t in NotificationType}
    chosen = frozenset(v for value in values for v in value.split(",") if v)
    unknown = sorted(chosen - known)
    if unknown:
        raise ValidationFailed({field: f"unknown notification types: {', '.join(unknown)}"})
    return chosen


def _job_id(activity: Activity) -> str:
    return f"{NOTIFY_JOB}:{activity.kind.value}:{activity.key or activity.actor}"


class NotificationService:
    """Notifications of one hub: the producer side (`record`), the worker side, the reader side."""

    def __init__(
        self,
        repo: NotificationRepo,
        posts: PostRepo,
        jobs: JobQueue,
        bus: Bus,
        metrics: Metrics,
        *,
        moderators: Moderators | None = None,
    ) -> None:
        self.repo = repo
        self.posts = posts
        self.jobs = jobs
        self.bus = bus
        self.metrics = metrics
        self.moderators = moderators

    def register(self, runner: JobRunner) -> None:
        runner.settled(NOTIFY_JOB, self.process)

    # --- producer ---------------------------------------------------------------------------

    async def record(self, activity: Activity) -> None:
        """Queue what `activity` may notify; called after its commit, it never raises (the write stands)."""
        payload = stamped({k: v for k, v in asdict(activity).items() if v is not None})
        try:
            await self.jobs.enqueue(_job_id(activity), NOTIFY_JOB, payload)
        except HubError as exc:
            # The write is committed; its notification is what an outage of the queue costs.
            log.warning(
                "notification job not enqueued",
                extra={"fields": {"activity": activity.kind.value, "code": exc.code}},
            )

    # --- worker -----------------------------------------------------------------------------

    async def process(self, payload: dict[str, Any]) -> None:
        activity = Activity(
            kind=ActivityKind(payload["kind"]),
            actor=str(payload["actor"]),
            **{k: str(payload[k]) for k in ("subject", "post", "comment", "note", "report", "key") if k in payload},
        )
        at = float(payload.get(ENQUEUED_AT) or time.time())
        if activity.kind is ActivityKind.BLOCKED:
            if activity.subject:
                await self.repo.forget_actor(activity.actor, activity.subject)
            return
        for new in await self._notifications(activity, at):
            await self._deliver(new, at)

    async def _notifications(self, a: Activity, at: float) -> list[NewNotification]:
        day = int(at // DAY)
        kind = a.kind
        if kind is ActivityKind.FOLLOWED and a.subject:
            return [NewNotification(a.subject, NotificationType.FOLLOW, f"follow:{day}", a.actor)]
        if kind is ActivityKind.FOLLOW_REQUESTED and a.subject:
            return [NewNotification(a.subject, NotificationType.FOLLOW_REQUEST, f"follow_request:{a.actor}", a.actor)]
        if kind is ActivityKind.WARNED and a.subject:
            return [
                NewNotification(a.subject, NotificationType.MODERATION_WARNING, f"warning:{a.key}", None, note=a.note)
            ]
        if kind is ActivityKind.REPORTED and a.report and self.moderators is not None:
            return [
                NewNotification(moderator, NotificationType.REPORT, f"report:{a.report}", a.actor)
                for moderator in await self.moderators()
            ]
        if not a.post:
            return []
        post = await self.posts.get(a.post, a.actor)
        if post is None:  # gone (or no longer visible to its actor) before the worker came to it
            return []
        if kind is ActivityKind.LIKED:
            return [NewNotification(post.author_id, NotificationType.LIKE, f"like:{post.id}:{day}", a.actor, post.id)]
        out: list[NewNotification] = []
        if kind is ActivityKind.POSTED:
            if post.reply_to:
                parent = await self.posts.get(post.reply_to, a.actor)
                if parent is not None:
                    out.append(
                        NewNotification(parent.author_id, NotificationType.REPLY, f"reply:{post.id}", a.actor, post.id)
                    )
            mentioned = [m.id for m in post.mentions]
            group = f"mention:{post.id}"
            comment = None
        elif kind is ActivityKind.COMMENTED and a.comment:
            found = await self.posts.get_comment(post.id, a.comment)
            if found is None:
                return []
            comment = found.id
            parent_author = None
            if found.reply_to:
                parent_comment = await self.posts.get_comment(post.id, found.reply_to)
                if parent_comment is not None:
                    parent_author = parent_comment.author_id
                    out.append(
                        NewNotification(
                            parent_author, NotificationType.REPLY, f"reply:c:{comment}", a.actor, post.id, comment
                        )
                    )
            if post.author_id != parent_author:
                out.append(
                    NewNotification(
                        post.author_id, NotificationType.COMMENT, f"comment:{comment}", a.actor, post.id, comment
                    )
                )
            handles = parse_mentions(found.text)
            mentioned = list((await self.repo.handles(handles)).values()) if handles else []
            group = f"mention:c:{comment}"
        else:
            return []
        told = {n.recipient for n in out}
        for user_id in mentioned:
            # A mention of someone who may not see the post tells them nothing.
            if user_id not in told and await self.posts.get(post.id, user_id) is not None:
                out.append(NewNotification(user_id, NotificationType.MENTION, group, a.actor, post.id, comment))
                told.add(user_id)
        return out

    async def _deliver(self, new: NewNotification, at: float) -> None:
        if new.actor is not None and (new.recipient == new.actor or await self.repo.silenced(new.recipient, new.actor)):
            return
        notification_id = await self.repo.add(new)
        if notification_id is None:
            return
        record = await self.repo.get(new.recipient, notification_id)
        if record is None:  # hidden from its recipient (the post is no longer theirs to see)
            return
        unread = await self.repo.unread_count(new.recipient)
        await self.bus.publish(
            user_topic(new.recipient),
            {"type": BusEvent.NOTIFICATION, "notification": notification_view(record), "unread_count": unread},
        )
        self.metrics.notifications_created.labels(type=new.type.value).inc()
        self.metrics.notification_delivery.observe(max(0.0, time.time() - at))

    # --- reader -----------------------------------------------------------------------------

    @staticmethod
    def _account(principal: Principal) -> str:
        if principal.is_guest:
            raise AccountRequired()
        return principal.user_id

    async def page(
        self, principal: Principal, page: PageRequest, filters: NotificationFilter
    ) -> TwoWayPage[NotificationRecord]:
        recipient = self._account(principal)
        window, cursor, since = SocialService._window(page)
        rows = await self.repo.page(recipient, window, filters)
        return two_way_page(rows, page.limit, lambda n: n.position, cursor=cursor, since=since, origin_id=ORIGIN_ID)

    async def unread_count(self, principal: Principal) -> int:
        return await self.repo.unread_count(self._account(principal))

    async def read(self, principal: Principal, notification_id: str) -> int:
        """Mark one read; the new unread count."""
        recipient = self._account(principal)
        ident = _uuid(notification_id)
        if ident is None or not await self.repo.mark_read(recipient, ident):
            raise NotificationNotFound()
        return await self.repo.unread_count(recipient)

    async def read_all(self, principal: Principal) -> int:
        recipient = self._account(principal)
        await self.repo.mark_all_read(recipient)
        return await self.repo.unread_count(recipient)

    # --- maintenance ------------------------------------------------------------------------

    async def prune(
        self, retention_seconds: float, progress: Callable[[int], None] = lambda _n: None, batch: int = 1_000
    ) -> dict[str, int]:
        """`hub batch notifications`: delete read notifications older than the retention, in batches."""
        total = 0
        while True:
            deleted = await self.repo.prune_read(retention_seconds, batch)
            total += deleted
            progress(total)
            if deleted < batch:
                return {"notifications": total}
