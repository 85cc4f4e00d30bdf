"""Typed, frozen settings: defaults < TOML file < environment.

Secrets (database and Redis URLs carry passwords, S3 keys, the token signing key) are read only from
the environment; a secret found in a config file is refused so it never lands in a repository.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit


class ConfigError(Exception):
    """An invalid setting; the message names the setting and is safe to print as one line."""


Environment = Literal["development", "production", "test"]

# Settings whose value is secret: environment only, redacted by `hub config`.
SECRET_FIELDS = frozenset(
    {
        "database_url",
        "redis_url",
        "s3_access_key",
        "s3_secret_key",
        "signing_key",
        "verification_keys",
        "blob_secret",
        "metrics_token",
    }
)

# Settings that are read from conventional unprefixed environment variables.
PLAIN_ENV_NAMES = {
    "database_url": "DATABASE_URL",
    "redis_url": "REDIS_URL",
    "s3_endpoint": "S3_ENDPOINT",
    "s3_region": "S3_REGION",
    "s3_bucket": "S3_BUCKET",
    "s3_access_key": "S3_ACCESS_KEY",
    "s3_secret_key": "S3_SECRET_KEY",
    "s3_path_style": "S3_PATH_STYLE",
}


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting of the hub. Field docs live in the README's configuration reference."""

    env: Environment = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    public_url: str = ""
    data_dir: str = ".hub"
    log_level: str = "INFO"
    log_json: bool = True
    debug_errors: bool = False
    # /metrics: a bearer token on the main port, and/or a separate (private) listen address.
    metrics_token: str = ""
    metrics_listen: str = ""

    # Services. Empty means "embedded": private PostgreSQL, in-memory bus, local-disk blobs.
    database_url: str = ""
    redis_url: str = ""
    redis_prefix: str = "hub"
    redis_max_connections: int = 32
    redis_pool_timeout: float = 2.0
    s3_endpoint: str = ""
    s3_region: str = "us-east-1"
    s3_bucket: str = ""
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_path_style: bool = True

    db_pool_min: int = 1
    db_pool_max: int = 10
    db_command_timeout: float = 10.0
    migrate_on_start: bool = True

    # HTTP hardening.
    cors_origins: tuple[str, ...] = ()
    body_limit_bytes: int = 1_048_576
    json_max_depth: int = 32
    rate_limit: str = "600/minute"
    auth_rate_limit: str = "30/minute"
    connect_rate_limit: str = "60/minute"
    trust_forwarded: bool = False
    graceful_shutdown_seconds: int = 5

    # Identity.
    signing_key: str = ""
    verification_keys: str = ""
    access_token_ttl: int = 900
    refresh_token_ttl: int = 2_592_000
    token_audience: str = "collab-hub"
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19_456
    argon2_parallelism: int = 1
    # Seconds an instance trusts its cached "not revoked" answer when a revocation's bus event is lost.
    revocation_cache_ttl: float = 5.0

    # Spaces and bins.
    space_default_ttl: int = 7 * 86_400
    space_max_ttl: int = 90 * 86_400
    sweep_interval: float = 30.0
    bin_max_chars: int = 100_000
    # Seconds an instance trusts a cached bin read when the bus event of a change to it is lost.
    bin_cache_ttl: float = 5.0

    # Realtime.
    ws_max_message_bytes: int = 65_536
    ws_ping_interval: int = 25
    ws_max_backlog_bytes: int = 4_194_304
    ws_ping_timeout: int = 20
    ws_max_decode_packets: int = 256
    ws_connect_timeout: float = 5.0
    replay_max_events: int = 2_000
    replay_max_age: int = 3_600
    resume_max_events: int = 10_000
    presence_ttl: int = 30
    stroke_max_points: int = 5_000
    stroke_rate: float = 60.0
    stroke_burst: int = 120
    cursor_rate: float = 30.0
    cursor_burst: int = 60
    group_commit_ms: float = 1.0
    stroke_queue_max_wait_ms: float = 2_000.0

    # Files.
    file_max_bytes: int = 1_073_741_824
    space_quota_bytes: int = 5_368_709_120
    upload_url_ttl: int = 300
    download_url_ttl: int = 300
    multipart_threshold: int = 67_108_864
    multipart_part_bytes: int = 16_777_216
    content_type_allow: tuple[str, ...] = ()
    content_type_deny: tuple[str, ...] = ("text/html", "application/xhtml+xml", "image/svg+xml")
    # HMAC key of the local-disk blob store's signed URLs; empty: generated once into the data dir.
    blob_secret: str = ""
    # Pending uploads (multipart ones especially) are aborted by the sweeper after this long.
    upload_abandon_after: int = 86_400
    media_max_pixels: int = 40_000_000
    media_max_bytes: int = 52_428_800
    job_max_attempts: int = 5
    job_visibility_timeout: int = 120

    # Social.
    max_following: int = 5_000
    follow_rate_limit: str = "120/minute"
    feed_cache_items: int = 800
    feed_cache_ttl: int = 86_400
    feed_hot_followers: int = 1_000
    media_upload_max_bytes: int = 10_485_760
    media_unattached_ttl: int = 86_400
    media_rate_limit: str = "60/minute"
    post_rate_limit: str = "30/minute"
    comment_rate_limit: str = "60/minute"
    like_rate_limit: str = "300/minute"
    report_rate_limit: str = "20/hour"
    notification_retention: int = 90 * 86_400
    batch_interval: int = 3_600

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def embedded_database(self) -> bool:
        return not self.database_url

    @property
    def uses_redis(self) -> bool:
        return bool(self.redis_url)

    @property
    def uses_s3(self) -> bool:
        return bool(self.s3_endpoint or self.s3_bucket)

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def metrics_address(self) -> tuple[str, int] | None:
        """(host, port) of the separate metrics listener, or None when /metrics is on the main port."""
        if not self.metrics_listen:
            return None
        host, _, port = self.metrics_listen.strip().rpartition(":")
        return host.strip("[]") or "0.0.0.0", int(port)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser().resolve()

    def redacted(self) -> dict[str, Any]:
        """The effective settings with every secret hidden, for `hub config` and start-up logs."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in SECRET_FIELDS and value:
                value = _redact_url(value) if "://" in str(value) else "***"
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out


def _redact_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _coerce(name: str, raw: Any, annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if annotation is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigError(f"{name}: expected true or false, got {raw!r}")
    if annotation is int:
        if isinstance(raw, bool):
            raise ConfigError(f"{name}: expected an integer, got {raw!r}")
        try:
            return int(str(raw).replace("_", "").strip())
        except ValueError:
            raise ConfigError(f"{name}: expected an integer, got {raw!r}") from None
    if annotation is float:
        try:
            value = float(str(raw).strip())
        except ValueError:
            raise ConfigError(f"{name}: expected a number, got {raw!r}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ConfigError(f"{name}: expected a finite number, got {raw!r}")
        return value
    if annotation is str:
        if not isinstance(raw, str | int | float):
            raise ConfigError(f"{name}: expected a string, got {raw!r}")
        return str(raw)
    if origin is tuple:
        items = raw if isinstance(raw, list | tuple) else str(raw).split(",")
        return tuple(str(i).strip() for i in items if str(i).strip())
    if origin is Literal:
        allowed = typing.get_args(annotation)
        if raw not in allowed:
            raise ConfigError(f"{name}: expected one of {', '.join(allowed)}, got {raw!r}")
        return raw
    raise ConfigError(f"{name}: unsupported setting type")  # pragma: no cover - programming error


def _env_name(field_name: str) -> str:
    return f"HUB_{field_name.upper()}"


def _validate(s: Settings) -> None:
    positive = [
        "port",
        "workers",
        "db_pool_max",
        "redis_max_connections",
        "redis_pool_timeout",
        "body_limit_bytes",
        "json_max_depth",
        "access_token_ttl",
        "refresh_token_ttl",
        "space_default_ttl",
        "space_max_ttl",
        "bin_max_chars",
        "ws_max_message_bytes",
        "ws_max_backlog_bytes",
        "ws_connect_timeout",
        "replay_max_events",
        "presence_ttl",
        "stroke_max_points",
        "file_max_bytes",
        "upload_url_ttl",
        "download_url_ttl",
        "multipart_part_bytes",
        "graceful_shutdown_seconds",
        "max_following",
        "feed_cache_items",
        "feed_cache_ttl",
        "feed_hot_followers",
        "media_upload_max_bytes",
        "media_unattached_ttl",
        "notification_retention",
    ]
    for name in positive:
        if getattr(s, name) <= 0:
            raise ConfigError(f"{_env_name(name)}: must be greater than zero, got {getattr(s, name)}")
    if not 0 < s.port < 65536:
        raise ConfigError(f"HUB_PORT: must be between 1 and 65535, got {s.port}")
    if s.metrics_listen:
        host, sep, port = s.metrics_listen.strip().rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"HUB_METRICS_LISTEN: expected host:port (e.g. 127.0.0.1:9100), got {s.metrics_listen!r}")
        if (host or "0.0.0.0") == s.host and int(port) == s.port:
            raise ConfigError("HUB_METRICS_LISTEN: must differ from HUB_HOST:HUB_PORT")
    if s.space_default_ttl > s.space_max_ttl:
        raise ConfigError("HUB_SPACE_DEFAULT_TTL: must not exceed HUB_SPACE_MAX_TTL")
    if s.upload_url_ttl > 3600 or s.download_url_ttl > 3600:
        raise ConfigError("HUB_UPLOAD_URL_TTL/HUB_DOWNLOAD_URL_TTL: presigned URLs live at most 3600 s")
    if s.media_upload_max_bytes > s.media_max_bytes:
        # The worker would refuse to read what the upload accepted.
        raise ConfigError("HUB_MEDIA_UPLOAD_MAX_BYTES: must not exceed HUB_MEDIA_MAX_BYTES")
    if not 5 * 1024**2 <= s.multipart_part_bytes <= 5 * 1024**3:
        raise ConfigError("HUB_MULTIPART_PART_BYTES: S3 parts must be between 5 MiB and 5 GiB")
    if s.stroke_queue_max_wait_ms < 0:
        raise ConfigError("HUB_STROKE_QUEUE_MAX_WAIT_MS: must not be negative (0 turns the limit off)")
    if not 0 <= s.bin_cache_ttl <= 300:
        raise ConfigError("HUB_BIN_CACHE_TTL: must be between 0 and 300 seconds")
    if not 0 <= s.revocation_cache_ttl <= 300:
        raise ConfigError("HUB_REVOCATION_CACHE_TTL: must be between 0 and 300 seconds")
    if s.argon2_memory_kib < 19_456 or s.argon2_time_cost < 2:
        raise ConfigError("HUB_ARGON2_*: below OWASP minimums (memory 19456 KiB, time cost 2)")
    for origin in s.cors_origins:
        if origin == "null" or (origin == "*" and s.production):
            raise ConfigError(f"HUB_CORS_ORIGINS: origin {origin!r} is not allowed")
        if origin != "*" and not origin.startswith(("http://", "https://")):
            raise ConfigError(f"HUB_CORS_ORIGINS: {origin!r} is not an http(s) origin")
    if s.production and not s.signing_key and not s.embedded_database:
        raise ConfigError("HUB_SIGNING_KEY: required in production with an external database")
    if s.signing_key and not s.signing_key.lstrip().startswith("-----BEGIN"):
        try:
            seed = base64.urlsafe_b64decode(s.signing_key.strip() + "=" * (-len(s.signing_key.strip()) % 4))
        except (ValueError, binascii.Error):
            seed = b""
        if len(seed) != 32:
            raise ConfigError("HUB_SIGNING_KEY: expected an Ed25519 PEM key or a base64url 32-byte seed")
    for url_field, schemes in (("database_url", ("postgres", "postgresql")), ("redis_url", ("redis", "rediss"))):
        value = getattr(s, url_field)
        if value and urlsplit(value).scheme not in schemes:
            env = PLAIN_ENV_NAMES[url_field]
            raise ConfigError(f"{env}: expected a {schemes[0]}:// URL")


def load_settings(
    environ: Mapping[str, str] | None = None,
    config_path: str | os.PathLike[str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build settings from defaults, then the TOML file, then the environment, then `overrides`.

    `environ` is injectable so tests never touch the process environment.
    """
    env = dict(os.environ if environ is None else environ)
    hints = typing.get_type_hints(Settings)
    values: dict[str, Any] = {}
    known = {f.name for f in fields(Settings)}

    path = config_path or env.get("HUB_CONFIG")
    if path:
        try:
            with open(path, "rb") as fh:
                document = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"HUB_CONFIG: file not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"HUB_CONFIG: invalid TOML in {path}: {exc}") from None
        table = document.get("hub", document)
        for key, raw in table.items():
            if key not in known:
                raise ConfigError(f"{path}: unknown setting {key!r}")
            if key in SECRET_FIELDS:
                raise ConfigError(f"{path}: {key} is a secret; set it in the environment instead")
            values[key] = _coerce(key, raw, hints[key])

    for name in known:
        for env_name in (_env_name(name), PLAIN_ENV_NAMES.get(name)):
            if env_name and env_name in env:
                values[name] = _coerce(env_name, env[env_name], hints[name])

    for name, raw in overrides.items():
        if name not in known:
            raise ConfigError(f"unknown setting {name!r}")
        values[name] = raw if not isinstance(raw, str) else _coerce(name, raw, hints[name])

    settings = Settings(**values)
    _validate(settings)
    return settings


def replace(settings: Settings, **changes: Any) -> Settings:
    """A copy with some fields changed (validated like a fresh load)."""
    updated = dataclasses.replace(settings, **changes)
    _validate(updated)
    return updated


__all__ = ["SECRET_FIELDS", "ConfigError", "Settings", "load_settings", "replace"]
