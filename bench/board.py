"""`python -m bench.board`: reading a long whiteboard history over REST.

    python -m bench.board                       # a board with 100,000 changes
    python -m bench.board --changes 10000 --pin --update-docs

One `hub serve` on a private durable PostgreSQL (as `bench.social`); an account and a space made over
HTTP, then the board's history written with COPY: `--changes` changes, each a stroke of 20 points,
except every tenth, which erases an earlier stroke that is still on the board, every 25th, which moves
one, and, with
`--clear-every N`, every Nth, which clears the board (as a team does between sessions). Then one client in a
closed loop, `--duration` seconds each: `GET /spaces/{id}/board?at=<a random change>` (the target:
p99 <= 50 ms), the board now, a page of `/board/history` at a random cursor, and `/board.svg`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shlex
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench import procs, report
from bench.social import closed_loop

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DOCS = procs.REPO_ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- bench:board:begin -->", "<!-- bench:board:end -->"
TARGET_MS = 50.0


async def seed(
    dsn: str, space_id: str, author: str, changes: int, clear_every: int, rng: random.Random, move_every: int = 25
) -> dict[str, Any]:
    """COPY `changes` board changes into the space's board, as the hub stores them; returns what was written.

    Every `move_every`th change moves a stroke on the board (ending its life there and starting another,
    `whiteboard_lives`), every tenth erases one, every `clear_every`th clears the board; every removal
    and move is also a row of `whiteboard_edits`, as the hub writes it.
    """
    conn = await asyncpg.connect(dsn)
    started = time.monotonic()
    try:
        rows: list[list[Any]] = []  # whiteboard_strokes
        lives: list[list[Any]] = []  # whiteboard_lives
        edits: list[list[Any]] = []  # whiteboard_edits
        # The strokes on the board: row index -> index of its open later life (None: its first life).
        live: dict[int, int | None] = {}
        placement: dict[int, tuple[float, float]] = {}
        removed = cleared = moved = 0
        now = datetime.now(UTC) - timedelta(days=1)
        me = uuid.UUID(author)

        def end(victim: int, seq: int, reason: str) -> None:
            life = live.pop(victim)
            if life is None:
                rows[victim][8], rows[victim][9], rows[victim][10] = seq, reason, now + timedelta(seconds=seq)
            else:
                lives[life][3] = seq

        for seq in range(1, changes + 1):
            when = now + timedelta(seconds=seq)
            if clear_every and seq % clear_every == 0 and live:
                victims = sorted(live)
                for victim in victims:
                    end(victim, seq, "clear")
                edits.append([space_id, seq, "clear", me, when, [rows[v][1] for v in victims], None, None])
                cleared += len(victims)
                continue
            if seq % 10 == 0 and live:
                victim = rng.choice(list(live))
                end(victim, seq, "erase")
                edits.append([space_id, seq, "erase", me, when, [rows[victim][1]], None, None])
                removed += 1
                continue
            if move_every and seq % move_every == 0 and live:
                victim = rng.choice(list(live))
                end(victim, seq, "transform")
                dx, dy = rng.uniform(-50, 50), rng.uniform(-50, 50)
                tx, ty = placement.get(victim, (0.0, 0.0))
                placement[victim] = (tx + dx, ty + dy)
                lives.append([space_id, rows[victim][1], seq, None, 1.0, 1.0, tx + dx, ty + dy])
                live[victim] = len(lives) - 1
                edits.append(
                    [space_id, seq, "transform", me, when, [rows[victim][1]], [dx, dy, 1, 1, 0, 0], uuid.uuid4()]
                )
                moved += 1
                continue
            x, y = rng.uniform(0, 1500), rng.uniform(0, 900)
            points = [[round(x + i * 4, 1), round(y + rng.uniform(-3, 3), 1)] for i in range(20)]
            rows.append(
                [space_id, uuid.uuid4(), seq, me, "pen", "#1f2937", 4.0, json.dumps(points), None, None, None, when]
            )
            live[len(rows) - 1] = None
        await conn.execute(
            "INSERT INTO whiteboards (space_id, epoch, seq) VALUES ($1, $2, $3) "
            "ON CONFLICT (space_id) DO UPDATE SET seq = EXCLUDED.seq",
            space_id,
            uuid.uuid4().hex,
            changes,
        )
        await conn.copy_records_to_table(
            "whiteboard_strokes",
            records=[tuple(r) for r in rows],
            columns=[
                "space_id",
                "id",
                "seq",
                "author_id",
                "tool",
                "color",
                "width",
                "points",
                "removed_seq",
                "removed_reason",
                "removed_at",
                "created_at",
            ],
        )
        await conn.copy_records_to_table(
            "whiteboard_lives",
            records=[tuple(r) for r in lives],
            columns=["space_id", "id", "from_seq", "to_seq", "sx", "sy", "tx", "ty"],
        )
        await conn.copy_records_to_table(
            "whiteboard_edits",
            records=[tuple(r) for r in edits],
            columns=["space_id", "seq", "kind", "author_id", "at", "ids", "params", "client_id"],
        )
        for table in ("whiteboard_strokes", "whiteboard_lives", "whiteboard_edits"):
            await conn.execute(f"ANALYZE {table}")
    finally:
        await conn.close()
    return {
        "changes": changes,
        "strokes": len(rows),
        "erased": removed,
        "cleared": cleared,
        "moved": moved,
        "seed_s": round(time.monotonic() - started, 1),
    }


async def measure(url: str, pg: procs.Postgres, duration: float, changes: int, clear_every: int) -> dict[str, Any]:
    rng = random.Random(7)
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        r = await client.post(
            "/auth/register",
            json={"username": "boardbench", "password": "correct horse battery", "display_name": "Bench"},
        )
        r.raise_for_status()
        token, user_id = r.json()["access_token"], r.json()["user"]["id"]
        headers = {"Authorization": f"Bearer {token}"}
        r = await client.post("/spaces", json={"name": "History", "ttl_seconds": 86_400}, headers=headers)
        r.raise_for_status()
        space_id = r.json()["id"]
        seeded = await seed(pg.dsn, space_id, user_id, changes, clear_every, rng)
        base = f"/spaces/{space_id}/board"

        def at(_: int) -> Any:
            n = rng.randrange(1, changes + 1)
            return lambda c: c.get(base, params={"at": n}, headers=headers)

        def history(_: int) -> Any:
            n = rng.randrange(2, changes + 1)
            return lambda c: c.get(f"{base}/history", params={"cursor": str(n), "limit": 50}, headers=headers)

        steps = {
            "at": at,
            "now": lambda _: lambda c: c.get(base, headers=headers),
            "history": history,
            "svg": lambda _: lambda c: c.get(f"{base}.svg", headers=headers),
        }
        results: dict[str, Any] = {"seed": seeded}
        for key, make in steps.items():
            results[key] = await closed_loop(client, make, 1, seconds=duration)
            print(f"  {key:<8} {results[key]}", file=sys.stderr, flush=True)
        sizes = await client.get(base, headers=headers)
        results["live_strokes"] = len(sizes.json()["strokes"])
        return results


def run(changes: int, duration: float, pin: bool, workdir: Path, clear_every: int = 0) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    server_cpu = load_cpu = None
    if pin and (os.cpu_count() or 1) >= 2:
        server_cpu, load_cpu = 0, 1
    result: dict[str, Any] = {
        "changes": changes,
        "clear_every": clear_every,
        "duration": duration,
        "pin": pin,
        "error": None,
    }
    t0 = time.monotonic()
    procs.pin(server_cpu)
    pg = procs.Postgres()
    hub: procs.HubProcess | None = None
    try:
        pg.start()
        hub = procs.HubProcess(pg, workdir)
        hub.start(start_timeout=120)
        procs.pin(load_cpu)
        result["measurements"] = asyncio.run(measure(hub.url, pg, duration, changes, clear_every))
    except (*procs.RUN_ERRORS, asyncpg.PostgresError) as exc:
        result["error"] = procs.error_text(exc)
    finally:
        procs.teardown(hub, pg)
    result["duration_s"] = round(time.monotonic() - t0, 1)
    return result


TITLES = {
    "at": "GET /spaces/{id}/board?at=<random change>",
    "now": "GET /spaces/{id}/board",
    "history": "GET /spaces/{id}/board/history?limit=50 (random cursor)",
    "svg": "GET /spaces/{id}/board.svg",
}


def docs_section(result: dict[str, Any], command: str, stamp: str) -> str:
    m = result.get("measurements") or {}
    seed_info = m.get("seed", {})
    where = "hub and PostgreSQL on CPU 0, client on CPU 1" if result["pin"] else "not pinned"
    clears = f"every {result['clear_every']:,} changes" if result.get("clear_every") else "never"
    lines = [
        f"Run {stamp} ({result['duration_s']} s): `{command}`",
        "",
        f"A board of {seed_info.get('changes', 0):,} changes ({seed_info.get('strokes', 0):,} strokes of 20 "
        f"points, {seed_info.get('moved', 0):,} moves, {seed_info.get('erased', 0):,} erased, "
        f"{seed_info.get('cleared', 0):,} cleared {clears}; "
        f"{m.get('live_strokes', 0):,} on the board now); one "
        f"client, closed loop, {result['duration']:g} s each; {where}.",
        "",
        "| request | requests | p50 | p99 | target (p99) | errors |",
        "|---|---|---|---|---|---|",
    ]
    for key, title in TITLES.items():
        r = m.get(key) or {}
        target = f"<= {TARGET_MS:g} ms" if key == "at" else ""
        errors = ", ".join(f"{k}: {v}" for k, v in (r.get("errors") or {}).items()) or "0"
        lines.append(
            f"| {title} | {r.get('n', '-')} | {r.get('p50', '-')} ms | {r.get('p99', '-')} ms | {target} | {errors} |"
        )
    if result.get("error"):
        lines += ["", f"The run stopped: {result['error']}"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.board", description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=100_000)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per measurement")
    parser.add_argument(
        "--clear-every", type=int, default=0, help="a clear every N changes (0: never; every stroke stays or is erased)"
    )
    parser.add_argument("--pin", action="store_true", help="hub and PostgreSQL on CPU 0, the client on CPU 1")
    parser.add_argument("--update-docs", action="store_true", help=f"write the board section of {DOCS.name}")
    args = parser.parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    command = "python -m bench.board " + shlex.join(list(argv if argv is not None else sys.argv[1:]))
    result = run(args.changes, args.duration, args.pin, RESULTS_DIR / f"board-logs-{stamp}", args.clear_every)
    out = RESULTS_DIR / f"board-{stamp}.json"
    out.write_text(json.dumps(result, indent=1, default=str))
    section = docs_section(result, command.strip(), stamp)
    print(section)
    if args.update_docs:
        report.update_docs(DOCS, section, BEGIN, END)
    return 1 if result["error"] else 0


if __name__ == "__main__":
    sys.exit(main())
