"""Capability wiring used by the composition root (`hub.bootstrap.app.build_hub`).

Each function builds one capability's repositories and services from the hub's settings and the
backends chosen for it, registers its health checks and background loops, and sets the hub attribute
the adapters use.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from argon2 import PasswordHasher, Type

from hub.services.tokens import TokenSigner, generate_key_file, load_private_key, load_public_key

if TYPE_CHECKING:
    from hub.bootstrap.app import Backends
    from hub.runtime import Hub

# The group commit's own PostgreSQL connections: it runs at most two transactions at once.
COMMIT_CONNECTIONS = 2


def _signer(hub: Hub) -> TokenSigner:
    s = hub.settings
    material = s.signing_key or generate_key_file(s.data_path / "signing_key.pem")
    extra = [load_public_key(k) for k in s.verification_keys.split(",") if k.strip()]
    return TokenSigner(load_private_key(material), s.token_audience, extra)


async def wire_worker(hub: Hub, backends: Backends) -> None:
    """The consumer of the job queue, to which later capabilities add the handlers of their job kinds.

    With Redis the queue is a shared stream consumed by `hub worker` processes; embedded, it is in
    process and this hub runs the loop itself (`wire_worker_loop`, last).
    """
    from hub.services.jobs import JobRunner

    hub.worker = JobRunner(hub.jobs, hub.metrics)


async def wire_worker_loop(hub: Hub, backends: Backends) -> None:
    if backends.redis is None:
        hub.spawn(hub.worker.run("embedded"), "job-worker")


async def wire_identity_spaces_bins(hub: Hub, backends: Backends) -> None:
    from hub.services.bins import BinService
    from hub.services.identity import IdentityService
    from hub.services.spaces import SpaceService
    from storage.postgres.identity import PostgresRefreshTokenRepo, PostgresRevocationRepo, PostgresUserRepo
    from storage.postgres.spaces import PostgresBinRepo, PostgresSpaceRepo

    s = hub.settings
    hasher = PasswordHasher(
        time_cost=s.argon2_time_cost,
        memory_cost=s.argon2_memory_kib,
        parallelism=s.argon2_parallelism,
        type=Type.ID,
    )
    hub.identity = IdentityService(
        PostgresUserRepo(backends.db),
        PostgresRefreshTokenRepo(backends.db),
        PostgresRevocationRepo(backends.db),
        _signer(hub),
        hub.bus,
        access_ttl=s.access_token_ttl,
        refresh_ttl=s.refresh_token_ttl,
        hasher=hasher,
        revocation_cache_ttl=s.revocation_cache_ttl,
    )
    hub.spaces = SpaceService(
        PostgresSpaceRepo(backends.db),
        hub.bus,
        hub.metrics,
        default_ttl=s.space_default_ttl,
        max_ttl=s.space_max_ttl,
        base_url=s.base_url,
    )
    hub.bins = BinService(
        PostgresBinRepo(backends.db), hub.spaces, hub.bus, max_chars=s.bin_max_chars, read_cache_ttl=s.bin_cache_ttl
    )
    if s.sweep_interval > 0:
        hub.spawn(hub.spaces.sweep_forever(s.sweep_interval), "space-sweeper")
        hub.spawn(hub.bins.sweep_forever(s.sweep_interval), "bin-sweeper")
        hub.spawn(hub.identity.sweep_forever(s.sweep_interval), "revocation-sweeper")


async def wire_whiteboard(hub: Hub, backends: Backends) -> None:
    from hub.services.board import BoardService
    from hub.services.whiteboard import WhiteboardService
    from hub.services.whiteboard_commit import CommitObserver
    from storage.postgres.db import PostgresDatabase
    from storage.postgres.strokes import PostgresStrokeStore

    # Group commits get their own connections (the committer runs at most two transactions at
    # once), with generic plans: PostgreSQL otherwise re-plans the commit statement on every call
    # (custom plans for array parameters), which measured as half of its cost (0.8 -> 0.4 ms).
    commit_db: PostgresDatabase | None = None
    if backends.dsn:
        commit_db = await PostgresDatabase.connect(
            backends.dsn,
            min_size=1,
            max_size=COMMIT_CONNECTIONS,
            command_timeout=hub.settings.db_command_timeout,
            server_settings={"plan_cache_mode": "force_generic_plan"},
        )
        hub.on_close(commit_db.close)  # closed after the whiteboard service (closers run in reverse)
    strokes = PostgresStrokeStore(backends.db, commit_db=commit_db)
    hub.on_close(strokes.close)  # after the whiteboard service, before the pools
    hub.board = BoardService(hub.spaces, strokes)
    hub.whiteboard = WhiteboardService(
        hub.settings,
        strokes=strokes,
        replay=hub.replay,
        presence=hub.presence,
        bus=hub.bus,
        spaces=hub.spaces,
        authenticate=lambda token: hub.identity.authenticate(token),
        cross_instance=hub.settings.uses_redis,
        observe_commit=CommitObserver(
            size=hub.metrics.group_commit_size.observe,
            commit=hub.metrics.stroke_commit_seconds.observe,
            ack=hub.metrics.stroke_ack_seconds.observe,
        ),
    )
    hub.on_close(hub.presence.close)
    hub.on_close(hub.replay.close)
    hub.on_close(hub.whiteboard.close)
    hub.spawn(hub.whiteboard.run_heartbeat(), "whiteboard-heartbeat")


async def wire_files(hub: Hub, backends: Backends) -> None:
    """Blob store (S3 when configured, else local disk), media worker, file service.

    With Redis the job queue (`Backends.jobs`) is a shared stream consumed by `hub worker` processes;
    embedded, it is in-process and this hub runs the worker loop itself.
    """
    from hub.services.files import FileService
    from hub.services.media import MediaWorker
    from storage.blobs.factory import open_blob_store
    from storage.postgres.files import PostgresFileRepo
    from storage.postgres.media_library import PostgresMediaLibraryRepo

    s = hub.settings
    hub.blobs = await open_blob_store(s)
    hub.on_close(hub.blobs.close)
    hub.health_checks.append(hub.blobs)
    repo = PostgresFileRepo(backends.db)
    hub.files = FileService(
        repo,
        hub.blobs,
        hub.bus,
        hub.metrics,
        s,
        access=lambda p, sid, role: hub.spaces.access(p, sid, role),
        jobs=hub.jobs,
    )
    hub.media = MediaWorker(
        repo,
        hub.blobs,
        hub.bus,
        hub.jobs,
        hub.metrics,
        max_pixels=s.media_max_pixels,
        max_bytes=s.media_max_bytes,
        library=PostgresMediaLibraryRepo(backends.db),
    )
    hub.media.register(hub.worker)
    if s.sweep_interval > 0:
        hub.spawn(hub.files.maintain_forever(s.sweep_interval), "file-maintenance")


async def wire_media_library(hub: Hub, backends: Backends) -> None:
    """Account-owned media on the files capability's store, worker and deletion queue."""
    from hub.services.media_library import MediaLibraryService
    from storage.postgres.media_library import PostgresMediaLibraryRepo

    s = hub.settings
    hub.media_library = MediaLibraryService(
        PostgresMediaLibraryRepo(backends.db),
        hub.blobs,
        hub.rate_limiter,
        hub.metrics,
        s,
        jobs=hub.jobs,
        deleted=hub.files.wake,
    )
    if s.sweep_interval > 0:
        hub.spawn(hub.media_library.sweep_forever(s.sweep_interval), "media-sweeper")


async def wire_social(hub: Hub, backends: Backends) -> None:
    """Profiles and the social graph."""
    from hub.services.social import SocialService
    from storage.postgres.social import PostgresSocialRepo

    hub.social = SocialService(
        PostgresSocialRepo(backends.db),
        hub.rate_limiter,
        max_following=hub.settings.max_following,
        write_rate_limit=hub.settings.follow_rate_limit,
        set_avatar=hub.media_library.set_avatar,
    )


async def wire_personal(hub: Hub, backends: Backends) -> None:
    """The personal Socket.IO room: events on a user's topic reach that user's sockets."""
    from hub.services.personal import PersonalRooms

    hub.personal = PersonalRooms(hub.bus)


async def wire_posts(hub: Hub, backends: Backends) -> None:
    """Posts, likes and comments (after the social graph, whose visibility rules they follow)."""
    from hub.services.posts import PostService
    from hub.tasks import every
    from storage.postgres.posts import PostgresMediaClaims, PostgresPostRepo

    s = hub.settings
    hub.posts = PostService(
        PostgresPostRepo(backends.db),
        PostgresMediaClaims(backends.db),
        hub.social,
        hub.rate_limiter,
        hub.bus,
        post_rate_limit=s.post_rate_limit,
        comment_rate_limit=s.comment_rate_limit,
        like_rate_limit=s.like_rate_limit,
        media_deleted=hub.files.wake,
    )
    if s.sweep_interval > 0:
        hub.spawn(
            every(s.sweep_interval, hub.posts.purge_idempotency_keys, "idempotency key sweep"), "idempotency-sweeper"
        )


async def wire_search(hub: Hub, backends: Backends) -> None:
    """Search over accounts (posts join when they exist)."""
    from hub.services.search import SearchService
    from storage.postgres.search import PostgresSearchRepo

    hub.search = SearchService(PostgresSearchRepo(backends.db))


async def wire_feed(hub: Hub, backends: Backends) -> None:
    """The home feed: listens to new posts and graph changes (after posts and the personal room)."""
    from hub.services.feed import FeedService
    from storage.postgres.feed import PostgresFeedRepo

    hub.feed = FeedService(
        PostgresFeedRepo(backends.db), hub.feed_cache, hub.personal, hot_followers=hub.settings.feed_hot_followers
    )
    hub.posts.listeners.append(hub.feed)
    hub.social.listeners.append(hub.feed.graph_changed)
    hub.on_close(hub.feed.close)


async def wire_notifications(hub: Hub, backends: Backends) -> None:
    """Notifications: the posts' and the graph's activity, made into notifications by the job worker."""
    from hub.services.notifications import NotificationService
    from storage.postgres.notifications import PostgresNotificationRepo

    hub.notifications = NotificationService(
        PostgresNotificationRepo(backends.db), hub.posts.repo, hub.jobs, hub.bus, hub.metrics
    )
    hub.notifications.register(hub.worker)
    hub.posts.activity.append(hub.notifications.record)
    hub.social.activity.append(hub.notifications.record)


async def wire_moderation(hub: Hub, backends: Backends) -> None:
    """Roles, reports, moderation actions and the audit log (after posts, feed and notifications)."""
    from hub.services.moderation import ModerationService
    from storage.postgres.moderation import PostgresModerationRepo

    repo = PostgresModerationRepo(backends.db)

    def post_removed(post_id: str, author_id: str) -> None:
        for listener in hub.posts.listeners:
            listener.post_deleted(post_id, author_id)

    async def post_restored(post_id: str, author_id: str) -> None:
        record = await hub.posts.repo.get(post_id, author_id)
        if record is not None:
            for listener in hub.posts.listeners:
                listener.post_created(record)

    hub.moderation = ModerationService(
        repo,
        hub.bus,
        hub.rate_limiter,
        hub.metrics,
        report_rate_limit=hub.settings.report_rate_limit,
        notify=hub.notifications.record,
        post_removed=post_removed,
        post_restored=post_restored,
    )
    hub.notifications.moderators = repo.moderators


# Accounts whose feeds `hub batch feeds` rebuilds: a login within this many seconds; and how many a second.
FEED_BACKFILL_ACTIVE_SECONDS = 7 * 86_400
FEED_BACKFILL_PER_SECOND = 20.0


async def wire_batch(hub: Hub, backends: Backends) -> None:
    """The batch jobs (`hub batch <job>`), scheduled every HUB_BATCH_INTERVAL on one instance at a time."""
    from hub.services.batch import BatchJobs, Progress
    from storage.postgres.locks import PostgresAdvisoryLock

    s = hub.settings
    hub.batch = BatchJobs(PostgresAdvisoryLock(backends.db), hub.metrics)

    async def counters(progress: Progress) -> dict[str, int]:
        progress.update(0, 1)
        fixed = await hub.posts.repair_counters()
        progress.update(1, 1)
        return fixed

    async def tokens(progress: Progress) -> dict[str, int]:
        done = [0]

        def advance(n: int) -> None:
            done[0] += n
            progress.update(done[0])

        return await hub.identity.purge_tokens(advance)

    async def notifications(progress: Progress) -> dict[str, int]:
        return await hub.notifications.prune(s.notification_retention, progress.update)

    async def feeds(progress: Progress) -> dict[str, int]:
        return await hub.feed.backfill(FEED_BACKFILL_ACTIVE_SECONDS, FEED_BACKFILL_PER_SECOND, progress.update)

    for name, job in (("counters", counters), ("tokens", tokens), ("notifications", notifications), ("feeds", feeds)):
        hub.batch.add(name, job)
    if s.batch_interval > 0 and s.sweep_interval > 0:
        hub.spawn(hub.batch.schedule_forever(s.batch_interval), "batch-jobs")


# Capability wiring, in order: each adds its services, health checks and background loops to the hub.
Wiring = Callable[["Hub", "Backends"], Awaitable[None]]
CAPABILITIES: tuple[Wiring, ...] = (
    wire_worker,
    wire_identity_spaces_bins,
    wire_whiteboard,
    wire_files,
    wire_media_library,
    wire_social,
    wire_posts,
    wire_search,
    wire_personal,
    wire_feed,
    wire_notifications,
    wire_moderation,
    wire_batch,
    wire_worker_loop,
)
