"""`python -m bench.run` (`make bench`): the whiteboard fan-out benchmark, hub against the Node reference.

For every scenario and repetition both servers run, one after the other (the order flips on every
repetition so neither always gets the warmer machine), each in a fresh process with the same load
generator settings. The table shows the median of the repetitions and the ratio hub/node.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import procs, provision, report
from bench.scenarios import Scenario, scenarios

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DOCS = procs.REPO_ROOT / "docs" / "performance.md"
TARGETS = ("node", "hub")


def _run_one(sc: Scenario, target: str, workdir: Path, pg: procs.Postgres | None) -> dict[str, Any]:
    started = time.monotonic()
    try:
        if target == "node":
            with procs.reference_server(workdir) as server:
                rooms = provision.reference_rooms(sc.rooms, sc.clients, sc.key)
                result = _loadgen(sc, server, rooms, workdir)
        else:
            if pg is None:
                raise procs.BenchError("no PostgreSQL for the hub")
            with procs.hub_server(pg, workdir) as server:
                rooms = provision.hub_rooms(server.url, sc.rooms, sc.clients, sc.key)
                result = _loadgen(sc, server, rooms, workdir)
    except (procs.BenchError, httpx.HTTPError, OSError) as exc:
        # One failed server/scenario is a row in the table, not the end of the run.
        message = str(exc) if isinstance(exc, procs.BenchError) else f"{type(exc).__name__}: {exc}"
        result = {"error": message}
    result["target"] = target
    result["wall_s"] = round(time.monotonic() - started, 1)
    status = f"error: {result['error'][:200]}" if result.get("error") else "ok"
    print(f"  {sc.key:<8} {target:<5} {result['wall_s']:>6.1f}s  {status}", file=sys.stderr, flush=True)
    return result


def _loadgen(sc: Scenario, server: procs.Server, rooms: provision.Rooms, workdir: Path) -> dict[str, Any]:
    config = {
        **sc.loadgen,
        "url": server.url,
        "rooms": rooms,
        "serverPid": server.pid,
        "auxPids": server.aux_pids,
    }
    return procs.run_loadgen(config, workdir, sc.max_seconds)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short steps and fewer sockets (< 1 min)")
    parser.add_argument("--only", nargs="*", default=None, help="scenario keys: fanout steady small idle crowd replay")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="servers and PostgreSQL on CPU 0, the load generator on CPU 1 (needs two CPUs)",
    )
    parser.add_argument("--target", choices=("both", *TARGETS), default="both")
    parser.add_argument("--repeat", type=int, default=1, help="repetitions per scenario (median reported)")
    parser.add_argument("--update-docs", action="store_true", help=f"rewrite the results in {DOCS.name}")
    args = parser.parse_args(argv)

    chosen = [s for s in scenarios(args.quick) if (s.by_default if args.only is None else s.key in args.only)]
    if not chosen:
        parser.error("no scenario selected")
    targets = TARGETS if args.target == "both" else (args.target,)
    procs.ensure_node_deps()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    workdir = RESULTS_DIR / f"logs-{stamp}"
    workdir.mkdir(parents=True, exist_ok=True)
    command = "python -m bench.run " + shlex.join(list(argv if argv is not None else sys.argv[1:]))
    meta = {"started": stamp, "command": command.strip(), "quick": args.quick, "machine": report.machine()}
    # The machine may be shared: the load average before and after tells a noisy run from a clean one.
    meta["loadavg_start"] = report.loadavg()

    # Processes inherit the affinity they start with: PostgreSQL and every server get CPU 0.
    pinned = args.pin and (os.cpu_count() or 1) >= 2
    if pinned:
        os.sched_setaffinity(0, {0})
        procs.LOADGEN_CPU = 1
    meta["pinned"] = pinned

    pg: procs.Postgres | None = None
    pg_error = ""
    if "hub" in targets:
        pg = procs.Postgres()
        try:
            pg.start()
            meta["fsync"] = report.fsync_probe(pg.root)
        except Exception as exc:  # the reference half of the run is still worth having
            pg_error, pg = f"private PostgreSQL did not start: {exc}", None

    results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    t0 = time.monotonic()
    try:
        for sc in chosen:
            print(f"{sc.key}: {sc.title}", file=sys.stderr, flush=True)
            runs: dict[str, list[dict[str, Any]]] = {t: [] for t in targets}
            for rep in range(max(1, args.repeat)):
                for target in targets if rep % 2 == 0 else tuple(reversed(targets)):
                    if target == "hub" and pg is None:
                        runs[target].append({"error": pg_error, "target": target})
                        continue
                    runs[target].append(_run_one(sc, target, workdir, pg))
            results[sc.key] = runs
    finally:
        if pg is not None:
            pg.stop()
        if pinned:
            os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
    meta["duration_s"] = round(time.monotonic() - t0, 1)
    meta["loadavg_end"] = report.loadavg()

    table = report.rows(chosen, results)
    print()
    print(report.plain(table))
    document = {"meta": meta, "results": results}
    out = RESULTS_DIR / f"{stamp}{'-quick' if args.quick else ''}.json"
    out.write_text(json.dumps(document, indent=1))
    (RESULTS_DIR / "latest.json").write_text(json.dumps(document, indent=1))
    print(f"\nresults: {out.relative_to(procs.REPO_ROOT)} ({meta['duration_s']}s)")
    if args.update_docs:
        report.update_docs(DOCS, _docs_section(meta, table))
        print(f"updated {DOCS.relative_to(procs.REPO_ROOT)}")
    return 0


def _docs_section(meta: dict[str, Any], table: list[list[str]]) -> str:
    m = meta["machine"]
    return "\n".join(
        [
            f"Run {meta['started']} ({'quick' if meta['quick'] else 'full'}, {meta['duration_s']} s): "
            f"`{meta['command']}`",
            "",
            f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['ram_gib']} GiB RAM, Linux {m['kernel']}, "
            f"Python {m['python']}, Node {m['node']}, socket.io {m['socket.io']}; "
            + (
                "servers and PostgreSQL pinned to CPU 0, the load generator to CPU 1."
                if meta.get("pinned")
                else "not pinned."
            ),
            f"Load average (1 min) at start/end: {meta['loadavg_start']}/{meta['loadavg_end']}; "
            f"8 KiB write+fsync on the database's disk: {_fsync(meta)}.",
            "",
            report.markdown(table),
        ]
    )


def _fsync(meta: dict[str, Any]) -> str:
    probe = meta.get("fsync")
    return f"p50 {probe['p50_ms']} ms, max {probe['max_ms']} ms" if probe else "not measured"


if __name__ == "__main__":
    sys.exit(main())
