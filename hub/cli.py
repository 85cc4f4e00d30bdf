"""`hub` command line: serve, migrate, config, demo, worker."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from hub.config import ConfigError, Settings, load_settings
from hub.logs import configure_logging


def _settings(args: argparse.Namespace, **overrides: Any) -> Settings:
    return load_settings(config_path=args.config, **{k: v for k, v in overrides.items() if v is not None})


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from realtime.lean import UVICORN_WS
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
        # uvicorn's websockets sans-io protocol with lean per-connection state (realtime/lean.py).
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
    if args.demo:
        print(json.dumps(asyncio.run(_load_demo(settings)), indent=2))
    if settings.workers > 1:
        # Each worker rebuilds its settings from the same environment and config file.
        os.environ.update({"HUB_HOST": settings.host, "HUB_PORT": str(settings.port)})
        if args.config:
            os.environ["HUB_CONFIG"] = args.config
        uvicorn.run("hub.asgi:factory", factory=True, workers=settings.workers, **common)
    else:
        from hub.asgi import create_app

        uvicorn.run(create_app(settings), **common)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = _settings(args)
    configure_logging(settings.log_level, settings.log_json)

    async def run() -> list[int]:
        from storage.postgres.migrate import migrate

        if settings.database_url:
            return await migrate(settings.database_url)
        from storage.postgres.server import PostgresServer, ensure_database

        server = PostgresServer(settings.data_path / "postgres")
        admin = await asyncio.to_thread(server.start)
        try:
            await ensure_database(admin, "hub")
            return await migrate(server.dsn("hub"))
        finally:
            await asyncio.to_thread(server.stop)

    applied = asyncio.run(run())
    print(json.dumps({"applied": applied}))
    return 0


async def _load_demo(settings: Settings) -> dict[str, Any]:
    from hub.app import build_hub
    from hub.demo import load_demo

    hub = await build_hub(settings)
    try:
        return await load_demo(hub)
    finally:
        await hub.close()


def cmd_demo(args: argparse.Namespace) -> int:
    settings = _settings(args)
    configure_logging(settings.log_level, settings.log_json)
    print(json.dumps(asyncio.run(_load_demo(settings)), indent=2))
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
    """Consume media jobs from the shared Redis stream until SIGINT/SIGTERM."""
    import signal
    import socket

    settings = _settings(args)
    configure_logging(settings.log_level, settings.log_json)
    if not settings.redis_url or settings.embedded_database:
        raise ConfigError("hub worker: needs DATABASE_URL and REDIS_URL (the embedded hub runs its own worker)")

    async def run() -> None:
        from hub.app import build_hub

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        hub = await build_hub(settings)
        try:
            await hub.media.run(f"{socket.gethostname()}-{os.getpid()}", stop)
        finally:
            await hub.close()

    asyncio.run(run())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hub", description="Realtime collaboration hub.")
    parser.add_argument("--config", help="TOML configuration file (also HUB_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve HTTP and Socket.IO")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    serve.add_argument("--demo", action="store_true", help="load example users, spaces and bins")
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    sub.add_parser("demo", help="load example users, spaces and bins").set_defaults(func=cmd_demo)
    config = sub.add_parser("config", help="print the effective configuration, secrets redacted")
    config.add_argument("--reference", action="store_true", help="print the settings reference (Markdown)")
    config.add_argument(
        "--env-example", action="store_true", help="print every environment variable at its default"
    )
    config.set_defaults(func=cmd_config)
    sub.add_parser("worker", help="process media jobs (scaled mode: Redis and PostgreSQL)").set_defaults(
        func=cmd_worker
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"hub: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
