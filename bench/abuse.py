"""`python -m bench.abuse`: what unauthenticated Engine.IO abuse costs a running hub.

Runs `hub serve` (production settings, a private durable PostgreSQL, as `bench.run` does) and, with no
login at all:
- `posts`: opens N long-polling sessions and sends each a POST over the message limit (70,001 bytes
  against the default 65,536), C at a time; every request has a deadline, so one
  the hub never answers counts as `unanswered` instead of hanging the run;
- `frames`: opens a WebSocket, never sends a Socket.IO CONNECT, and sends F invalid frames (`hello`);
and reports the hub's resident memory (VmRSS) before and after the POSTs (once every client is gone)
and the bytes each part added to the hub's log.

    python -m bench.abuse                         # 1,000 POSTs, 50 at a time, 200 frames
    python -m bench.abuse --posts 5000 --frames 1000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import orjson
import websockets.asyncio.client
from websockets.exceptions import ConnectionClosed

from bench import procs

EIO = "/socket.io/?EIO=4&transport=polling"


def _rss_kb(pid: int) -> int:
    match = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) if match else 0


async def _oversized_post(url: str, size: int, deadline: float) -> str:
    """One session, one oversized POST: the status code, or `unanswered` past `deadline` seconds."""
    async with httpx.AsyncClient(base_url=url, timeout=deadline) as c:
        try:
            r = await c.get(EIO)
            sid = orjson.loads(r.text[1:])["sid"]
            r = await c.post(f"{EIO}&sid={sid}", content=b"4" + b"x" * (size - 1))
        except httpx.TimeoutException:
            return "unanswered"
        except httpx.TransportError:
            return "connection_error"
        return str(r.status_code)


async def _posts(url: str, count: int, concurrency: int, size: int, deadline: float) -> dict[str, int]:
    outcomes: dict[str, int] = {}
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            outcome = await _oversized_post(url, size, deadline)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1

    await asyncio.gather(*(one() for _ in range(count)))
    return outcomes


async def _frames(url: str, count: int, deadline: float) -> dict[str, Any]:
    """Invalid frames from a socket that never connects: how many went out before the hub closed it."""
    sent, closed_by_hub = 0, False
    async with websockets.asyncio.client.connect(
        url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket",
        open_timeout=deadline,
    ) as ws:
        await asyncio.wait_for(ws.recv(), deadline)  # Engine.IO OPEN
        for _ in range(count):
            try:
                await ws.send("hello")
            except ConnectionClosed:
                closed_by_hub = True
                break
            sent += 1
        if not closed_by_hub:
            with contextlib.suppress(TimeoutError, ConnectionClosed):
                async with asyncio.timeout(deadline):
                    while True:
                        await ws.recv()
            closed_by_hub = ws.close_code is not None
    return {"sent": sent, "closed_by_hub": closed_by_hub}


async def _settle(url: str) -> None:
    """Give the hub a moment with no abusive client connected (a few health checks, bounded)."""
    async with httpx.AsyncClient(base_url=url, timeout=5) as c:
        for _ in range(5):
            await c.get("/healthz")
            await asyncio.sleep(0.2)


def run(posts: int, concurrency: int, size: int, frames: int, deadline: float) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="hub-bench-abuse-"))
    pg = procs.Postgres()
    pg.start()
    try:
        with procs.hub_server(pg, workdir) as hub:
            log = next(workdir.glob("hub-*.log"))
            # Warm-up: the allocator's and the interpreter's one-off growth is not what is measured.
            asyncio.run(_posts(hub.url, min(100, posts), concurrency, size, deadline))
            asyncio.run(_settle(hub.url))
            rss_before, log_before = _rss_kb(hub.pid), log.stat().st_size
            outcomes = asyncio.run(_posts(hub.url, posts, concurrency, size, deadline))
            asyncio.run(_settle(hub.url))
            rss_after, log_after_posts = _rss_kb(hub.pid), log.stat().st_size
            flood = asyncio.run(_frames(hub.url, frames, deadline))
            asyncio.run(_settle(hub.url))
            log_after_frames = log.stat().st_size
    finally:
        pg.stop()
    return {
        "posts": {
            "count": posts,
            "concurrency": concurrency,
            "bytes_each": size,
            "outcomes": outcomes,
            "rss_before_kb": rss_before,
            "rss_after_kb": rss_after,
            "rss_growth_kb": rss_after - rss_before,
            "log_bytes": log_after_posts - log_before,
        },
        "frames": {**flood, "tried": frames, "log_bytes": log_after_frames - log_after_posts},
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.abuse", description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1000, help="oversized long-polling POSTs (default 1000)")
    parser.add_argument("--concurrency", type=int, default=50, help="POSTs in flight at once (default 50)")
    parser.add_argument("--size", type=int, default=70_001, help="bytes per POST body (default 70001)")
    parser.add_argument("--frames", type=int, default=200, help="invalid WebSocket frames (default 200)")
    parser.add_argument("--deadline", type=float, default=3.0, help="seconds before a request is unanswered")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.posts, args.concurrency, args.size, args.frames, args.deadline), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
