"""`hub` command line: serve, migrate, admin, config, errors, demo, worker, batch."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from hub.bootstrap.demo import ExamplesError
from hub.config import ConfigError, Settings, load_settings
from hub.logs import configure_logging


def _settings(args: argparse.Namespace, **overrides: Any) -> Settings:
    return load_settings(config_path=args.config, **{k: v for k, v in overrides.items() if v is not None})


def _browser_url(settings: Settings, port: int) -> str:
    """The address a person on this machine opens (a wildcard bind is reachable on loopback)."""
    if settings.public_url:
        return settings.base_url
    host = "127.0.0.1" if settings.host in ("", "0.0.0.0", "::") else settings.host
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def _announce(settings: Settings, port: int, workers: int = 1) -> None:
    extra = f" ({workers} workers)" if workers > 1 else ""
    print(f"Collab Hub listening on {_browser_url(settings, port)}{extra} — open it in a browser", flush=True)


def _examples_dir(args: argparse.Namespace) -> Path | None:
    from hub.bootstrap.demo import DEFAULT_DIR

    if args.examples:
        return Path(args.examples)
    return DEFAULT_DIR if getattr(args, "demo", False) else None


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from realtime.fastpath import UVICORN_WS
    from rest.protocol import JsonErrorHttpToolsProtocol

    settings = _settings(args, host=args.host, port=args.port, workers=args.workers)
    configure_logging(settings.log_level, settings.log_json)
    if settings.workers > 1 and (settings.embedded_database or not settings.redis_url):
        raise ConfigError("HUB_WORKERS: more than one worker needs DATABASE_URL and REDIS_URL")
    if settings.workers > 1 and settings.metrics_address is not None:
        # Every worker process would bind the same address; only the first could.
        raise ConfigError("HUB_METRICS_LISTEN: one address per process; run one `hub serve` per port instead")
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "loop": "uvloop",
        # httptools, answering requests that are not valid HTTP with the hub's JSON error (rest/protocol.py).
        "http": JsonErrorHttpToolsProtocol,
        # uvicorn's websockets sans-io protocol with lean per-connection state (realtime/fastpath/).
        "ws": UVICORN_WS,
        # Measured: browsers offer permessage-deflate and it multiplies tail latency on the
        # whiteboard fan-out; strokes are small msgpack frames that barely compress.
        "ws_per_message_deflate": False,
        "ws_max_size": settings.ws_max_message_bytes,
        # Engine.IO runs its own ping/pong (HUB_WS_PING_*); uvicorn's WebSocket pings would be a second
        # heartbeat with a timer per socket (memory and wake-ups on every idle connection).
        "ws_ping_interval": None,
        "ws_ping_timeout": None,
        "lifespan": "on",
        "timeout_graceful_shutdown": settings.graceful_shutdown_seconds,
        "log_config": None,
        "access_log": False,
        "proxy_headers": settings.trust_forwarded,
        "server_header": False,
    }
    examples = _examples_dir(args)
    if examples is not None:
        print(json.dumps(asyncio.run(_load_demo(settings, examples)), indent=2))
    if settings.workers > 1:
        # Each worker rebuilds its settings from the same environment and config file.
        os.environ.update({"HUB_HOST": settings.host, "HUB_PORT": str(settings.port)})
        if args.config:
            os.environ["HUB_CONFIG"] = args.config
        # The supervisor binds the socket before it starts the workers.
        _announce(settings, settings.port, settings.workers)
        uvicorn.run("hub.bootstrap.asgi:factory", factory=True, workers=settings.workers, **common)
        return 0
    from hub.bootstrap.asgi import create_app

    class AnnouncingServer(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                bound = [s.getsockname()[1] for server in self.servers for s in server.sockets or ()]
                _announce(settings, bound[0] if bound else settings.port)

    server = AnnouncingServer(uvicorn.Config(create_app(settings), **common))
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    # Like uvicorn.run: a server that never started (port taken, startup failed) is a failure.
    return 0 if server.started else 3


@contextlib.asynccontextmanager
async def _database(settings: Settings, *, migrated: bool = True) -> AsyncIterator[str]:
    """The DSN of the hub's database (`migrated` first): DATABASE_URL; else the embedded PostgreSQL of the
    data directory, the one a running embedded hub serves, or one started for the command and stopped after."""
    from storage.postgres.migrate import migrate as apply

    async def migrate(dsn: str) -> None:
        if migrated:
            await apply(dsn)

    if settings.database_url:
        await migrate(settings.database_url)
        yield settings.database_url
        return
    from storage.postgres.server import PostgresServer, ensure_database, running_dsn

    data = settings.data_path / "postgres"
    dsn = running_dsn(data, "hub")
    if dsn is not None:
        await migrate(dsn)
        yield dsn
        return
    server = PostgresServer(data)
    admin = await asyncio.to_thread(server.start)
    try:
        await ensure_database(admin, "hub")
        await migrate(server.dsn("hub"))
        yield server.dsn("hub")
    finally:
        await asyncio.to_thread(server.stop)


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = _settings(args)
    configure_logging(settings.log_level, settings.log_json)

    async def run() -> list[int]:
        from storage.postgres.migrate import migrate

        async with _database(settings, migrated=False) as dsn:
            return await migrate(dsn)

    applied = asyncio.run(run())
    print(json.dumps({"applied": applied}))
    return 0


def cmd_admin(args: argparse.Namespace) -> int:
    """`hub admin grant <handle> moderator|admin` and `hub admin revoke <handle>`."""
    from hub.errors import UserNotFound
    from hub.ports.moderation import AccountRole
    from hub.services.moderation import set_role_by_handle

    settings = _settings(args)
    configure_logging(settings.log_level, settings.log_json)
    role = AccountRole(args.role) if args.action == "grant" else AccountRole.USER

    async def run() -> dict[str, str]:
        from storage.postgres.db import PostgresDatabase
        from storage.postgres.moderation import PostgresModerationRepo

        async with _database(settings) as dsn:
            db = await PostgresDatabase.connect(dsn, min_size=1, max_size=1)
            try:
                staff = await set_role_by_handle(PostgresModerationRepo(db), args.handle, role)
            finally:
                await db.close()
        return {"id": staff.id, "handle": staff.handle, "role": staff.role.value}

    try:
        print(json.dumps(asyncio.run(run())))
    except UserNotFound:
        print(f"hub: admin: no account has the handle {args.handle!r}", file=sys.stderr)
        return 2
    return 0


async def _load_demo(settings: Settings, directory: Path) -> dict[str, Any]:
    from hub.bootstrap.app import build_hub
    from hub.bootstrap.demo import example_files, load_examples

    example_files(directory)  # a wrong directory fails before the hub starts
    hub = await build_hub(settings)
    try:
        return await load_examples(hub, directory)
    finally:
        await hub.close()


def cmd_demo(args: argparse.Namespace) -> int:
    from hub.bootstrap.demo import DEFAULT_DIR

    settings = _settings(args)
    configure_logging(settings.log_level, settings.log_json)
    print(json.dumps(asyncio.run(_load_demo(settings, _examples_dir(args) or DEFAULT_DIR)), indent=2))
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    if args.reference:
        from hub.config_docs import reference_table

        print(reference_table())
        return 0
    if args.env_example:
        from hub.config_docs import example_env

        sys.stdout.write(example_env())
        return 0
    settings = _settings(args)
    print(json.dumps(settings.redacted(), indent=2, sort_keys=True))
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """Consume jobs (media, notifications) from the shared Redis stream until SIGINT/SIGTERM."""
    import signal
    import socket

    settings = _settings(args)
    configure_logging(settings.log_level, settings.log_json)
    if not settings.redis_url or settings.embedded_database:
        raise ConfigError("hub worker: needs DATABASE_URL and REDIS_URL (the embedded hub runs its own worker)")

    async def run() -> None:
        from hub.bootstrap.app import build_hub

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        hub = await build_hub(settings)
        try:
            await hub.worker.run(f"{socket.gethostname()}-{os.getpid()}", stop)
        finally:
            await hub.close()

    asyncio.run(run())
    return 0


def cmd_errors(args: argparse.Namespace) -> int:
    from hub.errors_docs import errors_reference

    if args.reference:
        sys.stdout.write(errors_reference())
        return 0
    from hub.errors import codes

    for code, cls in codes().items():
        print(f"{cls.status} {code}")
    return 0


BATCH_JOBS = {
    "counters": "recompute posts, likes, comments, followers, following counts; report what drifted",
    "tokens": "delete expired refresh tokens and revocations no token needs any more",
    "notifications": "delete read notifications older than HUB_NOTIFICATION_RETENTION",
    "feeds": "rebuild the cached home feeds of accounts active in the last 7 days, paced",
}


def cmd_batch(args: argparse.Namespace) -> int:
    """Run one batch job now; progress on standard error, the outcome as JSON on standard output."""
    from hub.bootstrap.progress import TerminalProgress

    settings = _settings(args, sweep_interval=0.0)
    configure_logging(settings.log_level, settings.log_json)

    async def run() -> dict[str, int]:
        from hub.bootstrap.app import build_hub

        hub = await build_hub(settings)
        try:
            with TerminalProgress(args.job) as progress:
                return await hub.batch.run(args.job, progress)
        finally:
            await hub.close()

    done = asyncio.run(run())
    # `fixed` for counters (what drifted), the items deleted or rebuilt for the others.
    key = "fixed" if args.job == "counters" else "done"
    print(json.dumps({"job": args.job, key: done, "total": sum(done.values())}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hub", description="Realtime collaboration hub.")
    parser.add_argument("--config", help="TOML configuration file (also HUB_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve HTTP and Socket.IO")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    serve.add_argument("--demo", action="store_true", help="load the example users, spaces and bins of examples/")
    serve.add_argument("--examples", metavar="DIR", help="load the examples of DIR (JSON files shaped like examples/)")
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    admin = sub.add_parser("admin", help="account roles (works beside a running embedded hub)")
    admin_sub = admin.add_subparsers(dest="action", required=True)
    grant = admin_sub.add_parser("grant", help="make an account a moderator or an admin")
    grant.add_argument("handle")
    grant.add_argument("role", choices=["moderator", "admin"])
    grant.set_defaults(func=cmd_admin)
    revoke = admin_sub.add_parser("revoke", help="make an account a plain user again")
    revoke.add_argument("handle")
    revoke.set_defaults(func=cmd_admin)
    demo = sub.add_parser("demo", help="load example users, spaces and bins")
    demo.add_argument("--examples", metavar="DIR", help="load the examples of DIR instead of examples/")
    demo.set_defaults(func=cmd_demo)
    config = sub.add_parser("config", help="print the effective configuration, secrets redacted")
    config.add_argument("--reference", action="store_true", help="print the settings reference (Markdown)")
    config.add_argument("--env-example", action="store_true", help="print every environment variable at its default")
    config.set_defaults(func=cmd_config)
    errors = sub.add_parser("errors", help="list every error code and its HTTP status")
    errors.add_argument("--reference", action="store_true", help="print the error code reference (Markdown)")
    errors.set_defaults(func=cmd_errors)
    sub.add_parser(
        "worker", help="process background jobs: media, notifications (scaled mode: Redis and PostgreSQL)"
    ).set_defaults(func=cmd_worker)
    batch = sub.add_parser("batch", help="maintenance jobs").add_subparsers(dest="job", required=True)
    for job, text in BATCH_JOBS.items():
        batch.add_parser(job, help=text).set_defaults(func=cmd_batch)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"hub: configuration error: {exc}", file=sys.stderr)
        return 2
    except ExamplesError as exc:
        print(f"hub: examples: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
