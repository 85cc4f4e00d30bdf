"""One line of documentation per setting: the source of the README's configuration reference."""

from __future__ import annotations

from dataclasses import fields

from hub.config import PLAIN_ENV_NAMES, SECRET_FIELDS, Settings

SETTING_DOCS: dict[str, str] = {
    "env": "`development`, `production` (HSTS, no `*` CORS, signing key required with external DB) or `test`",
    "host": "Listen address",
    "port": "Listen port",
    "workers": "Worker processes (more than 1 needs DATABASE_URL and REDIS_URL)",
    "public_url": "Public base URL used in links (default `http://host:port`)",
    "data_dir": "Embedded mode: private PostgreSQL, blobs, generated keys",
    "log_level": "Log level",
    "log_json": "One JSON object per log line",
    "debug_errors": "Show exception names in 500 bodies (never in production)",
    "metrics_token": "If set, `/metrics` on the main port answers only `Authorization: Bearer <token>`",
    "metrics_listen": (
        "`host:port` of a separate listener serving only the metrics (`/metrics` on the main port then "
        "answers 404); empty = `/metrics` on the main port"
    ),
    "database_url": "PostgreSQL URL; empty = private embedded PostgreSQL",
    "redis_url": "Redis URL; empty = in-memory pub/sub, presence, replay, rate limits",
    "redis_prefix": "Prefix of every Redis key and channel",
    "redis_max_connections": (
        "Redis connections per hub process (the bus subscription holds one), and as many again for its rate"
        " limiter; beyond them callers wait"
    ),
    "redis_pool_timeout": (
        "Seconds a caller waits for a free Redis connection before the request is refused like an outage (503)"
    ),
    "s3_endpoint": "S3-compatible endpoint; empty (with no bucket) = local-disk blob store",
    "s3_region": "S3 region",
    "s3_bucket": "Bucket for uploads",
    "s3_access_key": "S3 access key",
    "s3_secret_key": "S3 secret key",
    "s3_path_style": "Path-style bucket addressing",
    "db_pool_min": "Minimum pool connections",
    "db_pool_max": "Maximum pool connections",
    "db_command_timeout": "Seconds before a query is cancelled (503)",
    "migrate_on_start": "Apply migrations at start-up (under an advisory lock)",
    "cors_origins": "Comma-separated allowed origins (`null` always refused)",
    "body_limit_bytes": "Maximum request body",
    "json_max_depth": "Maximum JSON nesting",
    "rate_limit": "Per-IP limit for every route except probes",
    "auth_rate_limit": "Per-IP limit for credential routes",
    "connect_rate_limit": "Per-IP limit for Socket.IO connects (refused with rate_limited)",
    "trust_forwarded": "Trust one proxy's X-Forwarded-For/Proto",
    "graceful_shutdown_seconds": "Seconds to drain connections (long-polls included) on shutdown",
    "signing_key": "Ed25519 private key (PEM or base64url seed); empty = generated once into the data dir (0600)",
    "verification_keys": "Comma-separated base64url Ed25519 public keys still accepted (rotation)",
    "access_token_ttl": "Access token lifetime (s)",
    "refresh_token_ttl": "Refresh token lifetime (s)",
    "token_audience": "`aud` claim",
    "argon2_time_cost": "Argon2id iterations (>= 2)",
    "argon2_memory_kib": "Argon2id memory (>= 19456 KiB)",
    "argon2_parallelism": "Argon2id lanes",
    "revocation_cache_ttl": (
        'Seconds (0 to 300) an instance may trust its cached "not revoked" answer; revocations reach every '
        "instance at once over the bus, this bounds the delay when a bus message is lost (0 = ask the "
        "database on every request)"
    ),
    "space_default_ttl": "Default space lifetime (s)",
    "space_max_ttl": "Maximum space lifetime (s)",
    "sweep_interval": "Seconds between expiry sweeps",
    "bin_max_chars": "Maximum bin content length",
    "bin_cache_ttl": (
        "Seconds (0 to 300) an instance may answer a member's bin read from its memory; every change to the "
        "bin, the space or its members reaches every instance at once over the bus, this bounds the delay when "
        "a bus message is lost (0 = read PostgreSQL on every request)"
    ),
    "ws_max_message_bytes": "Maximum Socket.IO message/HTTP buffer",
    "ws_ping_interval": "Engine.IO ping interval (s)",
    "ws_max_backlog_bytes": "Unsent bytes a socket may fall behind before it is disconnected (it resumes on reconnect)",
    "ws_ping_timeout": "Engine.IO ping timeout (s)",
    "ws_max_decode_packets": "Packets per long-poll payload",
    "ws_connect_timeout": "Seconds a new realtime connection has to complete its Socket.IO CONNECT before it is closed",
    "replay_max_events": "Replay buffer length per space",
    "replay_max_age": "Replay buffer age (s)",
    "resume_max_events": (
        "Resumes the replay buffer cannot answer are read from PostgreSQL up to this many missed events"
        " (0: a snapshot instead)"
    ),
    "presence_ttl": "Presence lease (s)",
    "stroke_max_points": "Maximum points per stroke",
    "stroke_rate": "Strokes per second per socket",
    "stroke_burst": "Stroke burst per socket",
    "cursor_rate": "Cursor updates per second per socket",
    "cursor_burst": "Cursor burst per socket",
    "group_commit_ms": "Stroke group-commit window (ms)",
    "stroke_queue_max_wait_ms": (
        "Strokes are refused with `overloaded` while the oldest one waiting for its commit has waited this long"
        " (ms, 0: never)"
    ),
    "file_max_bytes": "Maximum file size",
    "space_quota_bytes": "Storage quota per space",
    "upload_url_ttl": "Presigned upload URL lifetime (s, <= 3600)",
    "download_url_ttl": "Presigned download URL lifetime (s)",
    "multipart_threshold": "Files above this use multipart uploads",
    "multipart_part_bytes": "Multipart part size (5 MiB to 5 GiB; larger when a file needs over 10,000 parts)",
    "content_type_allow": "If set, only these content types",
    "content_type_deny": "Content types refused",
    "blob_secret": "HMAC key of the local-disk blob store's signed URLs; empty = generated once into the data dir",
    "upload_abandon_after": "Seconds after which unfinished uploads (multipart included) are aborted",
    "media_max_pixels": "Largest image (pixels) the media worker decodes (decompression-bomb guard)",
    "media_max_bytes": "Largest image file (bytes) the media worker reads",
    "job_max_attempts": "Media job attempts before dead-lettering",
    "job_visibility_timeout": "Seconds before an unacknowledged media job is retried by another worker",
    "max_following": "Accounts one account may follow (past it: 409 `follow_limit`)",
    "follow_rate_limit": "Per-account limit on follow, block and mute writes and follow-request answers",
    "feed_cache_items": "Entries kept in each account's cached home feed (older pages are read from the database)",
    "feed_cache_ttl": "Seconds an account's cached home feed outlives its last read (then rebuilt on demand)",
    "feed_hot_followers": (
        "Authors with more followers are not written into each follower's cached feed; reads merge their posts"
    ),
    "media_upload_max_bytes": "Largest image (bytes) an account may upload to its media (`/media/upload`)",
    "media_unattached_ttl": "Seconds after which media no post and no profile uses are deleted",
    "media_rate_limit": "Per-account limit on media uploads started",
    "post_rate_limit": "Per-account limit on creating, editing and deleting posts (429 with `Retry-After`)",
    "comment_rate_limit": "Per-account limit on writing and deleting comments",
    "like_rate_limit": "Per-account limit on likes and unlikes",
    "report_rate_limit": "Per-account limit on reports filed (`POST /reports`)",
    "notification_retention": "Seconds read notifications are kept (`hub batch notifications` prunes older ones)",
    "batch_interval": (
        "Seconds between runs of the batch jobs (counters, tokens, notifications, feeds) by the maintenance "
        "loop, one instance at a time; 0 turns the schedule off"
    ),
}


def env_name(name: str) -> str:
    return PLAIN_ENV_NAMES.get(name, f"HUB_{name.upper()}")


def reference_table() -> str:
    """The Markdown table printed by `hub config --reference` and kept in README.md."""
    lines = ["| setting | environment | default | meaning |", "|---|---|---|---|"]
    for f in fields(Settings):
        default = f.default
        shown = ",".join(default) if isinstance(default, tuple) else default
        shown = f"`{shown}`" if shown not in ("", ()) else ""
        secret = " (secret: environment only)" if f.name in SECRET_FIELDS else ""
        doc = SETTING_DOCS.get(f.name, "")
        lines.append(f"| {f.name} | `{env_name(f.name)}` | {shown} | {doc}{secret} |")
    return "\n".join(lines)


def example_env() -> str:
    """deploy/example.env, printed by `hub config --env-example`: every setting, commented out at its default."""
    lines = [
        "# Collab Hub settings: every environment variable with its default and meaning.",
        "# Generated by `hub config --env-example`; uncomment and edit what you change.",
        "# Lines marked (secret) are read only from the environment, never from a config file.",
        "# Empty DATABASE_URL, REDIS_URL and S3_* select the embedded mode.",
    ]
    for f in fields(Settings):
        default = f.default
        shown = ",".join(default) if isinstance(default, tuple) else default
        if isinstance(shown, bool):
            shown = "true" if shown else "false"
        secret = " (secret)" if f.name in SECRET_FIELDS else ""
        doc = SETTING_DOCS.get(f.name, "").replace("`", "")
        lines += ["", f"# {doc}{secret}", f"# {env_name(f.name)}={shown}"]
    return "\n".join(lines) + "\n"
