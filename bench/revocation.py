"""`python -m bench.revocation`: what the revocation check costs on the authenticate hot path.

Runs in one process against a private PostgreSQL: `authenticate` with a warm revocation cache (the
common case: no I/O), with the cache off (one indexed query per call, what a cold instance pays once
per login and TTL), and, given `--redis`, the three Redis GETs per call of the former deny-list.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable

from bench import procs
from hub.bootstrap.app import build_hub
from hub.config import load_settings


async def _per_call_us(call: Callable[[], Awaitable[object]], calls: int) -> tuple[float, float]:
    """(median, p99) microseconds of one call, over `calls` sequential calls."""
    for _ in range(min(200, calls)):
        await call()
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1e6)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99)]


async def _hub_rows(dsn: str, ttl: float, calls: int) -> list[tuple[str, float, float]]:
    settings = load_settings(
        environ={},
        database_url=dsn,
        migrate_on_start=True,
        sweep_interval=0,
        data_dir=tempfile.mkdtemp(prefix="hub-bench-"),
        log_level="WARNING",
        revocation_cache_ttl=ttl,
    )
    hub = await build_hub(settings)
    try:
        token = (await hub.identity.guest("bench")).access_token
        if not ttl:
            return [
                (
                    "authenticate, cache off (PostgreSQL)",
                    *await _per_call_us(lambda: hub.identity.authenticate(token), calls),
                )
            ]
        signer = hub.identity.signer
        return [
            ("authenticate, cache warm", *await _per_call_us(lambda: hub.identity.authenticate(token), calls)),
            (
                "token signature only",
                *await _per_call_us(lambda: asyncio.sleep(0, signer.verify(token, "access")), calls),
            ),
        ]
    finally:
        await hub.close()


async def _main(dsn: str, calls: int, redis_url: str) -> None:
    rows = await _hub_rows(dsn, 5.0, calls) + await _hub_rows(dsn, 0.0, calls)
    if redis_url:
        from redis.asyncio import Redis

        redis = Redis.from_url(redis_url)
        prefix = "bench" + secrets.token_hex(4)

        async def three_gets() -> None:
            for key in ("deny:x", "nbf:y", "sid:z"):
                await redis.get(f"{prefix}:{key}")

        try:
            rows.append(("former deny-list: 3 Redis GETs", *await _per_call_us(three_gets, calls)))
        finally:
            await redis.aclose()
    print(f"{'path':40} {'median us':>10} {'p99 us':>10}   ({calls} sequential calls)")
    for label, median, p99 in rows:
        print(f"{label:40} {median:10.1f} {p99:10.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--redis", default="", help="a Redis URL for the former deny-list's cost")
    args = parser.parse_args()
    pg = procs.Postgres()
    pg.start()
    try:
        asyncio.run(_main(pg.dsn, args.calls, args.redis))
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
