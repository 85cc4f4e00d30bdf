"""`python -m bench.social`: the social read and write paths on a seeded data set.

    python -m bench.social                                  # 10,000 accounts, 1,000,000 posts, 200 follows each
    python -m bench.social --accounts 2000 --posts 100000   # a smaller set, same measurements
    python -m bench.social --pin --update-docs              # hub + PostgreSQL on CPU 0, load on CPU 1

The data set is written with COPY straight into a private PostgreSQL migrated by `hub migrate`:
accounts (one shared password hash), posts spread over 30 days (a fifth with hashtags, a tenth
unlisted, a tenth followers-only), `--follows` follows per account and a few hot accounts with
`--hot-followers` followers each; the denormalised counters are computed while seeding, so they are
consistent without the repair job (`--verify-counters` runs `hub batch counters` and reports what it
fixed: it must be nothing). Then one `hub serve` answers HTTP clients (httpx on asyncio, closed loop):
the home feed from a cold cache (every reader's first read after the hub started) and a warm one,
account and post search, and `POST /posts` by a hot author. Each is measured twice: with one client,
which is the latency a request has (the targets are judged on it), and with `--clients` at a time,
where each request also waits for the ones ahead of it on the server's one CPU: the throughput.
Routes the tree does not have (read from /openapi.json) are reported as not available.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import random
import shlex
import signal
import string
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench import procs, report

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DOCS = procs.REPO_ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- bench:social:begin -->", "<!-- bench:social:end -->"
PASSWORD = "bench-password"
CHUNK = 50_000
# The targets, p99 in ms; reported against, never asserted.
TARGETS = {"feed_warm": 10.0, "feed_cold": 50.0, "search_users": 50.0, "search_posts": 50.0, "post": 20.0}
ROUTES = {
    "feed_cold": ("get", "/feed"),
    "feed_warm": ("get", "/feed"),
    "search_users": ("get", "/search/users"),
    "search_posts": ("get", "/search/posts"),
    "post": ("post", "/posts"),
}
TITLES = {
    "feed_cold": "GET /feed, cold cache",
    "feed_warm": "GET /feed, warm cache",
    "search_users": "GET /search/users?q=",
    "search_posts": "GET /search/posts?q=",
    "post": "POST /posts, author with many followers",
}


@dataclass(frozen=True)
class Options:
    accounts: int = 10_000
    posts: int = 1_000_000
    follows: int = 200
    hot: int = 3
    hot_followers: int = 5_000
    readers: int = 300
    clients: int = 8
    duration: float = 20.0
    pin: bool = False
    verify_counters: bool = False
    seed: int = 13


# --- the data set --------------------------------------------------------------------------------


class Vocabulary:
    """Pronounceable pseudo-words, so that trigram search sees realistic selectivity."""

    def __init__(self, rng: random.Random, words: int = 3000, tags: int = 400) -> None:
        consonants, vowels = "bcdfghklmnprstvz", "aeiou"

        def word() -> str:
            return "".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(rng.randint(2, 4)))

        self.words = sorted({word() for _ in range(words)})
        self.tags = sorted({word() for _ in range(tags)})
        self.first = [w.capitalize() for w in self.words[:300]]
        self.last = [w.capitalize() for w in self.words[300:800]]


def handle(i: int, hot: int) -> str:
    return f"hot{i}" if i < hot else f"user{i:05d}"


@dataclass
class Plan:
    """Who follows whom and who wrote how many posts, decided before any row is written."""

    ids: list[uuid.UUID]
    followees: list[list[int]]
    authors: list[int]

    @property
    def followers_count(self) -> Counter[int]:
        return Counter(f for row in self.followees for f in row)


def plan(opts: Options, rng: random.Random) -> Plan:
    n = opts.accounts
    hot = min(opts.hot, n)
    ids = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(n)]
    per_account = min(opts.follows, n - 1)
    hot_fans = [set(rng.sample(range(hot, n), min(opts.hot_followers, n - hot))) for _ in range(hot)]
    followees: list[list[int]] = []
    for a in range(n):
        chosen = {h for h in range(hot) if a in hot_fans[h]}
        while len(chosen) < per_account:
            b = rng.randrange(hot, n) if n > hot else rng.randrange(n)
            if b != a:
                chosen.add(b)
        chosen.discard(a)
        followees.append(sorted(chosen))
    authors = [rng.randrange(n) for _ in range(opts.posts)]
    return Plan(ids, followees, authors)


def _text(rng: random.Random, vocab: Vocabulary) -> tuple[str, list[str]]:
    words = rng.choices(vocab.words, k=rng.randint(6, 30))
    tags: list[str] = []
    if rng.random() < 0.2:
        tags = sorted(set(rng.choices(vocab.tags, k=rng.randint(1, 2))))
        words += [f"#{t}" for t in tags]
    return " ".join(words), tags


async def seed(dsn: str, opts: Options) -> dict[str, Any]:
    """COPY the data set; returns seconds per table and the row counts."""
    from argon2 import PasswordHasher

    rng = random.Random(opts.seed)
    vocab = Vocabulary(rng)
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    p = plan(opts, rng)
    timings["plan_s"] = round(time.monotonic() - t0, 1)
    # One cheap hash for every account: logging the readers in must not cost minutes of Argon2.
    password_hash = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    followers = p.followers_count
    posts_count = Counter(p.authors)
    now = datetime.now(UTC)
    conn = await asyncpg.connect(dsn)
    try:
        t = time.monotonic()
        users = [
            (
                p.ids[i],
                handle(i, opts.hot),
                f"{rng.choice(vocab.first)} {rng.choice(vocab.last)}",
                password_hash,
                False,
                now - timedelta(days=60),
                followers[i],
                len(p.followees[i]),
                posts_count[i],
            )
            for i in range(opts.accounts)
        ]
        await conn.copy_records_to_table(
            "users",
            records=users,
            columns=[
                "id",
                "username",
                "display_name",
                "password_hash",
                "is_guest",
                "created_at",
                "followers_count",
                "following_count",
                "posts_count",
            ],
        )
        timings["users_s"] = round(time.monotonic() - t, 1)

        t = time.monotonic()
        edges = 0
        for rows in _chunks(
            (p.ids[a], p.ids[b], now - timedelta(days=30, seconds=rng.randrange(86_400 * 30)))
            for a, row in enumerate(p.followees)
            for b in row
        ):
            edges += len(rows)
            await conn.copy_records_to_table(
                "follows", records=rows, columns=["follower_id", "followee_id", "created_at"]
            )
        timings["follows_s"] = round(time.monotonic() - t, 1)
        _progress(f"{edges} follows in {timings['follows_s']} s")

        t = time.monotonic()
        tagged = 0
        # Distinct timestamps, newest last: the keyset order is the order they were written in.
        step_us = max(1, int(30 * 86_400 * 1_000_000 / max(1, opts.posts)))
        start = now - timedelta(days=30)
        for first in range(0, opts.posts, CHUNK):
            posts: list[tuple[Any, ...]] = []
            tags: list[tuple[Any, ...]] = []
            for k in range(first, min(opts.posts, first + CHUNK)):
                post_id = uuid.UUID(int=rng.getrandbits(128), version=4)
                text, hashtags = _text(rng, vocab)
                roll = rng.random()
                visibility = "unlisted" if roll < 0.1 else "followers" if roll < 0.2 else "public"
                created = start + timedelta(microseconds=k * step_us)
                posts.append((post_id, p.ids[p.authors[k]], text, visibility, created))
                tags += [(post_id, tag, pos) for pos, tag in enumerate(hashtags)]
            await conn.copy_records_to_table(
                "posts", records=posts, columns=["id", "author_id", "text", "visibility", "created_at"]
            )
            await conn.copy_records_to_table("post_hashtags", records=tags, columns=["post_id", "tag", "position"])
            tagged += len(tags)
            if (first // CHUNK) % 4 == 3:
                _progress(f"{first + len(posts)} posts in {time.monotonic() - t:.0f} s")
        timings["posts_s"] = round(time.monotonic() - t, 1)

        t = time.monotonic()
        await conn.execute("ANALYZE")
        timings["analyze_s"] = round(time.monotonic() - t, 1)
        size = await conn.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))")
    finally:
        await conn.close()
    timings["total_s"] = round(time.monotonic() - t0, 1)
    return {
        "timings": timings,
        "rows": {"users": opts.accounts, "follows": edges, "posts": opts.posts, "post_hashtags": tagged},
        "hot_followers": [followers[h] for h in range(min(opts.hot, opts.accounts))],
        "database_size": size,
        "words": vocab.words,
        "tags": vocab.tags,
        "first_names": vocab.first,
    }


def _progress(line: str) -> None:
    print(f"  {line}", file=sys.stderr, flush=True)


def _chunks(rows: Iterator[tuple[Any, ...]], size: int = CHUNK) -> Iterator[list[tuple[Any, ...]]]:
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# --- load ----------------------------------------------------------------------------------------


def _percentile(sorted_ms: list[float], q: float) -> float:
    index = min(len(sorted_ms) - 1, max(0, round(q * (len(sorted_ms) - 1))))
    return round(sorted_ms[index], 2)


def summarize(latencies_ms: list[float], errors: Counter[str], seconds: float) -> dict[str, Any]:
    ms = sorted(latencies_ms)
    out: dict[str, Any] = {"n": len(ms), "errors": dict(errors), "rps": round(len(ms) / seconds, 1) if seconds else 0}
    if ms:
        out.update(p50=_percentile(ms, 0.5), p90=_percentile(ms, 0.9), p99=_percentile(ms, 0.99), max=round(ms[-1], 2))
    return out


Request = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]


async def closed_loop(
    client: httpx.AsyncClient,
    make: Callable[[int], Request],
    clients: int,
    *,
    seconds: float | None = None,
    total: int | None = None,
) -> dict[str, Any]:
    """`clients` workers, each sending its next request when the last one answered.

    Runs for `seconds`, or until `total` requests were sent (the cold feed: each reader once).
    """
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    counter = iter(range(total if total is not None else sys.maxsize))
    started = time.monotonic()
    deadline = started + (seconds if seconds is not None else 600.0)

    async def worker() -> None:
        for i in counter:
            if time.monotonic() >= deadline:
                return
            request = make(i)
            t = time.perf_counter()
            try:
                response = await request(client)
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] += 1
                continue
            elapsed = (time.perf_counter() - t) * 1000
            if response.is_success:
                latencies.append(elapsed)
            else:
                errors[f"{response.status_code} {_code(response)}"] += 1

    await asyncio.gather(*(worker() for _ in range(clients)))
    return summarize(latencies, errors, time.monotonic() - started)


def _code(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    return str(error.get("code", "")) if isinstance(error, dict) else ""


async def login(client: httpx.AsyncClient, username: str) -> str:
    response = await client.post("/auth/login", json={"username": username, "password": PASSWORD})
    if response.status_code != 200:
        raise procs.BenchError(f"login {username}: {response.status_code} {response.text[:200]}")
    token: str = response.json()["access_token"]
    return token


async def measure(url: str, opts: Options, data: dict[str, Any]) -> dict[str, Any]:
    """Every measurement against a hub that has just started (its feed caches are empty)."""
    rng = random.Random(opts.seed + 1)
    limits = httpx.Limits(max_connections=opts.clients + 4, max_keepalive_connections=opts.clients + 4)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        spec = (await client.get("/openapi.json")).json()
        paths: dict[str, Any] = spec.get("paths", {})
        available = {key: route in paths and method in paths[route] for key, (method, route) in ROUTES.items()}
        hot = min(opts.hot, opts.accounts)
        readers = list(range(hot, opts.accounts))
        rng.shuffle(readers)
        readers = readers[: max(1, opts.readers)]
        sem = asyncio.Semaphore(opts.clients)

        async def token(i: int) -> str:
            async with sem:
                return await login(client, handle(i, opts.hot))

        reader_tokens = await asyncio.gather(*(token(i) for i in readers))
        hot_tokens = await asyncio.gather(*(token(i) for i in range(max(1, hot))))

        def auth(tok: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {tok}"}

        def feed(i: int) -> Request:
            tok = reader_tokens[i % len(reader_tokens)]
            return lambda c: c.get("/feed", params={"limit": 20}, headers=auth(tok))

        def feed_random(_: int) -> Request:
            return feed(rng.randrange(len(reader_tokens)))

        words: list[str] = data["words"]
        tags: list[str] = data["tags"]
        first: list[str] = data["first_names"]

        def user_query() -> str:
            roll = rng.random()
            if roll < 0.4:  # a name fragment anywhere (trigram index)
                name = rng.choice(first).lower()
                start = rng.randrange(max(1, len(name) - 3))
                return name[start : start + rng.randint(3, 5)]
            if roll < 0.7:  # a handle fragment
                return f"{rng.randrange(opts.accounts):05d}"[: rng.randint(3, 5)]
            return "us" if roll < 0.85 else rng.choice(string.ascii_lowercase) + rng.choice("aeiou")  # short: prefix

        def search_users(_: int) -> Request:
            tok, q = rng.choice(reader_tokens), user_query()
            return lambda c: c.get("/search/users", params={"q": q, "limit": 20}, headers=auth(tok))

        def search_posts(_: int) -> Request:
            tok = rng.choice(reader_tokens)
            q = f"#{rng.choice(tags)}" if rng.random() < 0.3 else rng.choice(words)
            return lambda c: c.get("/search/posts", params={"q": q, "limit": 20}, headers=auth(tok))

        def post(i: int) -> Request:
            tok = hot_tokens[i % len(hot_tokens)]
            text = " ".join(rng.choices(words, k=12)) + f" #{rng.choice(tags)} bench {i}"
            return lambda c: c.post("/posts", json={"text": text, "visibility": "public"}, headers=auth(tok))

        # The cold pass reads each reader's feed once: the first half alone, the second half loaded.
        half = (len(reader_tokens) + 1) // 2

        def feed_loaded(i: int) -> Request:
            return feed(half + i)

        results: dict[str, Any] = {}
        # The order matters: the cold pass must be every reader's first feed read since the hub
        # started, and posting comes last so that the feed figures are for the seeded data alone.
        timed = {"seconds": opts.duration}
        steps: list[tuple[str, Callable[[int], Request], Callable[[int], Request], dict[str, Any], dict[str, Any]]] = [
            ("feed_cold", feed, feed_loaded, {"total": half}, {"total": len(reader_tokens) - half}),
            ("feed_warm", feed_random, feed_random, timed, timed),
            ("search_users", search_users, search_users, timed, timed),
            ("search_posts", search_posts, search_posts, timed, timed),
            ("post", post, post, timed, timed),
        ]
        for key, alone, loaded, how, how_loaded in steps:
            if not available[key]:
                results[key] = {"available": False}
                print(f"  {key:<13} not available in this tree", file=sys.stderr, flush=True)
                continue
            r = results[key] = {"available": True, **await closed_loop(client, alone, 1, **how)}
            r["loaded"] = await closed_loop(client, loaded, opts.clients, **how_loaded)
            print(
                f"  {key:<13} 1 client: n={r['n']} p50={r.get('p50')} p99={r.get('p99')} errors={r['errors']};"
                f" {opts.clients} clients: n={r['loaded']['n']} p50={r['loaded'].get('p50')}"
                f" p99={r['loaded'].get('p99')} {r['loaded']['rps']} req/s errors={r['loaded']['errors']}",
                file=sys.stderr,
                flush=True,
            )
        results["readers"] = len(reader_tokens)
        return results


# --- the run -------------------------------------------------------------------------------------


def _machine() -> dict[str, Any]:
    """The machine as report.machine() describes it, without Node (this benchmark does not use it)."""
    import platform

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.machine(),
    )
    mem_kb = next(
        (
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        ),
        0,
    )
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def _hub_extra() -> dict[str, str]:
    """Raise every social write limit the tree has: one author posts far faster than a person."""
    from hub.config import Settings

    names = {f.name for f in dataclasses.fields(Settings)}
    wanted = ("post_rate_limit", "comment_rate_limit", "like_rate_limit", "follow_rate_limit", "media_rate_limit")
    return {f"HUB_{n.upper()}": "10000000/minute" for n in wanted if n in names}


def migrate(pg: procs.Postgres, workdir: Path) -> None:
    env = procs.hub_env(pg.dsn, procs._free_port(), workdir / "migrate-data")
    result = subprocess.run(
        [sys.executable, "-m", "hub.bootstrap.cli", "migrate"],
        env=env,
        cwd=procs.REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise procs.BenchError(f"hub migrate failed: {(result.stdout + result.stderr).strip()[-1500:]}")


def verify_counters(pg: procs.Postgres, workdir: Path, timeout: float = 1800) -> dict[str, Any]:
    """`hub batch counters` on the seeded data; past `timeout` its threads' stacks are in the error."""
    env = {**procs.hub_env(pg.dsn, procs._free_port(), workdir / "counters-data"), "PYTHONFAULTHANDLER": "1"}
    t = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub.bootstrap.cli", "batch", "counters"],
        env=env,
        cwd=procs.REPO_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack, then the process dies
        stdout, stderr = proc.communicate(timeout=30)
        raise procs.BenchError(f"hub batch counters still running after {timeout:.0f}s: {stderr[-3000:]}") from None
    if proc.returncode != 0:
        raise procs.BenchError(f"hub batch counters failed: {(stdout + stderr).strip()[-1500:]}")
    out: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    out["took_s"] = round(time.monotonic() - t, 1)
    return out


def run(opts: Options, workdir: Path) -> dict[str, Any]:
    """Seed, start a hub, measure; returns the whole result (an `error` key when a step failed)."""
    workdir.mkdir(parents=True, exist_ok=True)
    server_cpu = load_cpu = None
    if opts.pin and (os.cpu_count() or 1) >= 2:
        server_cpu, load_cpu = 0, 1
    result: dict[str, Any] = {"options": dataclasses.asdict(opts), "loadavg_start": report.loadavg(), "error": None}
    t0 = time.monotonic()
    # Processes inherit the affinity of the moment they start: PostgreSQL and the hub get CPU 0.
    procs.pin(server_cpu)
    pg = procs.Postgres()
    hub: procs.HubProcess | None = None
    try:
        pg.start()
        result["fsync"] = report.fsync_probe(pg.root)
        migrate(pg, workdir)
        procs.pin(load_cpu)
        print(f"seeding {opts.accounts} accounts, {opts.posts} posts", file=sys.stderr, flush=True)
        data = asyncio.run(seed(pg.dsn, opts))
        result["seed"] = {k: v for k, v in data.items() if k not in {"words", "tags", "first_names"}}
        print(f"  seeded in {data['timings']['total_s']} s: {data['timings']}", file=sys.stderr, flush=True)
        if opts.verify_counters:
            procs.pin(server_cpu)
            result["counters"] = verify_counters(pg, workdir, timeout=60 if opts.posts <= 10_000 else 1800)
        procs.pin(server_cpu)
        hub = procs.HubProcess(pg, workdir, _hub_extra())
        hub.start(start_timeout=120)
        procs.pin(load_cpu)
        result["loadavg_measure_start"] = report.loadavg()
        result["measurements"] = asyncio.run(measure(hub.url, opts, data))
    except (*procs.RUN_ERRORS, asyncpg.PostgresError) as exc:
        result["error"] = procs.error_text(exc)
    finally:
        procs.teardown(hub, pg)
    result["duration_s"] = round(time.monotonic() - t0, 1)
    result["loadavg_end"] = report.loadavg()
    return result


def table(result: dict[str, Any]) -> list[list[str]]:
    """[measurement, n, p50, p99, target p99, verdict, loaded p50, loaded p99, loaded req/s, errors] rows:
    one client first (the verdict is its p99's), then `--clients` at a time."""
    rows: list[list[str]] = []
    measured = result.get("measurements") or {}
    for key, title in TITLES.items():
        r = measured.get(key)
        target = f"<= {TARGETS[key]:g} ms"
        if r is None or not r.get("available"):
            rows.append([title, "-", "-", "-", target, "not available" if r else "not run", "-", "-", "-", "-"])
            continue
        p99 = r.get("p99")
        verdict = "n/a" if p99 is None else "meets" if p99 <= TARGETS[key] else "misses"
        loaded = r.get("loaded") or {}
        errors = Counter(r["errors"]) + Counter(loaded.get("errors") or {})
        rows.append(
            [
                title,
                str(r["n"]),
                _ms(r.get("p50")),
                _ms(p99),
                target,
                verdict,
                _ms(loaded.get("p50")),
                _ms(loaded.get("p99")),
                f"{loaded.get('rps', 0):g}",
                ", ".join(f"{k}: {v}" for k, v in errors.items()) or "0",
            ]
        )
    return rows


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"


HEADER = [
    "measurement",
    "requests",
    "p50",
    "p99",
    "target (p99)",
    "",
    "loaded p50",
    "loaded p99",
    "loaded req/s",
    "errors",
]


def plain(rows: list[list[str]]) -> str:
    all_rows = [HEADER, *rows]
    widths = [max(len(r[i]) for r in all_rows) for i in range(len(HEADER))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in all_rows)


def markdown(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def docs_section(result: dict[str, Any], command: str, stamp: str, machine: dict[str, Any]) -> str:
    opts, seed_info = result["options"], result.get("seed") or {}
    timings = seed_info.get("timings", {})
    rows = seed_info.get("rows", {})
    lines = [
        f"Run {stamp} ({result['duration_s']} s): `{command}`",
        "",
        f"Machine: {machine['nproc']} CPUs ({machine['cpu']}), {machine['ram_gib']} GiB RAM, Linux "
        f"{machine['kernel']}, Python {machine['python']}; "
        f"{'hub and PostgreSQL on CPU 0, load on CPU 1' if opts['pin'] else 'not pinned'}. Load average "
        f"(1 min) at start / when measuring / at end: {result['loadavg_start']} / "
        f"{result.get('loadavg_measure_start', 'n/a')} / {result['loadavg_end']}; 8 KiB write+fsync on the "
        f"database's disk: {_fsync(result.get('fsync'))}.",
        "",
        f"Data set: {rows.get('users', 0):,} accounts, {rows.get('posts', 0):,} posts "
        f"({rows.get('post_hashtags', 0):,} hashtags), {rows.get('follows', 0):,} follows, "
        f"{len(seed_info.get('hot_followers', []))} hot accounts with "
        f"{', '.join(f'{n:,}' for n in seed_info.get('hot_followers', []))} followers; "
        f"{seed_info.get('database_size', '?')} on disk. Seeded with COPY in {timings.get('total_s', '?')} s "
        f"(users {timings.get('users_s', '?')} s, follows {timings.get('follows_s', '?')} s, posts "
        f"{timings.get('posts_s', '?')} s, ANALYZE {timings.get('analyze_s', '?')} s).",
        "",
        f"Closed loop, {opts['duration']:g} s per measurement: one client (p50, p99: the latency a request "
        f'has, judged against the target), then {opts["clients"]} at a time ("loaded": each request also '
        "waits for those ahead of it on the server's CPU). The cold feed is each of "
        f"{(result.get('measurements') or {}).get('readers', '?')} readers' first read after the hub "
        "started, half of them alone and half loaded.",
        "",
        markdown(table(result)),
    ]
    if result.get("error"):
        lines += ["", f"The run stopped: {result['error']}"]
    return "\n".join(lines)


def _fsync(probe: dict[str, float] | None) -> str:
    return f"p50 {probe['p50_ms']} ms, max {probe['max_ms']} ms" if probe else "not measured"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.social", description=__doc__.splitlines()[0])
    d = Options()
    parser.add_argument("--accounts", type=int, default=d.accounts)
    parser.add_argument("--posts", type=int, default=d.posts)
    parser.add_argument("--follows", type=int, default=d.follows, help="follows per account")
    parser.add_argument("--hot", type=int, default=d.hot, help="accounts with --hot-followers followers")
    parser.add_argument("--hot-followers", type=int, default=d.hot_followers)
    parser.add_argument("--readers", type=int, default=d.readers, help="accounts reading feeds and searching")
    parser.add_argument("--clients", type=int, default=d.clients, help="concurrent HTTP clients")
    parser.add_argument("--duration", type=float, default=d.duration, help="seconds per measurement")
    parser.add_argument("--pin", action="store_true", help="hub and PostgreSQL on CPU 0, load on CPU 1")
    parser.add_argument("--verify-counters", action="store_true", help="run `hub batch counters` after seeding")
    parser.add_argument("--update-docs", action="store_true", help=f"write the Social section of {DOCS.name}")
    args = parser.parse_args(argv)
    if args.accounts < 2 or args.posts < 0 or args.follows < 0:
        parser.error("need at least 2 accounts and no negative sizes")
    opts = Options(
        accounts=args.accounts,
        posts=args.posts,
        follows=args.follows,
        hot=args.hot,
        hot_followers=args.hot_followers,
        readers=args.readers,
        clients=args.clients,
        duration=args.duration,
        pin=args.pin,
        verify_counters=args.verify_counters,
    )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    workdir = RESULTS_DIR / f"social-logs-{stamp}"
    command = "python -m bench.social " + shlex.join(list(argv if argv is not None else sys.argv[1:]))
    result = run(opts, workdir)
    result["command"] = command.strip()
    result["machine"] = machine = _machine()
    print()
    print(plain(table(result)))
    out = RESULTS_DIR / f"social-{stamp}.json"
    out.write_text(json.dumps(result, indent=1))
    print(f"\nresults: {out.relative_to(procs.REPO_ROOT)} ({result['duration_s']} s)")
    if result["error"]:
        print(f"error: {result['error']}", file=sys.stderr)
    if args.update_docs:
        report.update_docs(DOCS, docs_section(result, result["command"], stamp, machine), BEGIN, END)
        print(f"updated {DOCS.relative_to(procs.REPO_ROOT)}")
    return 1 if result["error"] else 0


if __name__ == "__main__":
    sys.exit(main())
