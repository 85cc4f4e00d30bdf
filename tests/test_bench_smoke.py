"""The benchmark's own tools work: the Node reference server, the load generator and the soak, for seconds.

Not a performance test: it proves the measuring instrument counts right (every expected delivery
arrives, acks come back, replay is complete) so a benchmark number is never an artefact of the tool.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench import board, procs, provision, rest, soak, social


@pytest.fixture(scope="module")
def node_ready() -> None:
    try:
        procs.ensure_node_deps()
    except procs.BenchError as exc:
        pytest.fail(f"benchmark tooling unavailable: {exc}")


def test_reference_fanout_counts_every_delivery(node_ready: None, tmp_path: Path) -> None:
    with procs.reference_server(tmp_path) as server:
        rooms = provision.reference_rooms(rooms=2, clients=6, tag="smoke")
        report = procs.run_loadgen(
            {
                "mode": "fanout",
                "url": server.url,
                "rooms": rooms,
                "senders": 2,
                "serverPid": server.pid,
                "steps": [{"rate": 40, "duration": 1.0}],
                "drainMs": 2000,
            },
            tmp_path,
            max_seconds=20,
        )
    assert report["error"] is None, report
    assert report["connected"] == 12
    (step,) = report["steps"]
    assert step["strokes_sent"] >= 60  # 2 rooms x 40/s x 1 s, minus start-up jitter
    assert step["acked"] == step["strokes_sent"]
    # Each stroke reaches the 5 other members of its room, exactly once, never its sender.
    assert step["deliveries_expected"] == 5 * step["acked"]
    assert step["deliveries_received"] == step["deliveries_expected"]
    assert step["loss"] == 0 and step["duplicates"] == 0 and step["echoes"] == 0
    assert step["out_of_order"] == 0
    assert step["delivery_ms"]["n"] == step["deliveries_received"]
    assert 0 < step["delivery_ms"]["p50"] <= step["delivery_ms"]["p99"] <= step["delivery_ms"]["max"]
    assert step["server_cpu_pct"] is not None and step["loadgen_cpu_pct"] is not None
    assert report["rss_before_kb"] > 0


def test_idle_sockets_then_a_timed_shutdown(node_ready: None, tmp_path: Path) -> None:
    with procs.reference_server(tmp_path) as server:
        report = procs.run_loadgen(
            {
                "mode": "idle",
                "url": server.url,
                "rooms": provision.reference_rooms(rooms=2, clients=5, tag="smoke"),
                "serverPid": server.pid,
                "idleHoldMs": 300,
                "stopServer": True,
            },
            tmp_path,
            max_seconds=30,
        )
        assert report["error"] is None and report["connected"] == 10, report
        # SIGTERM reached the server with its sockets connected, and it exited before the deadline.
        assert isinstance(report["shutdown_ms"], int | float) and report["shutdown_ms"] >= 0, report
        assert report["connect_ms"] > 0 and report["server_cpu_pct"] is not None, report


def test_reference_replay_is_complete(node_ready: None, tmp_path: Path) -> None:
    with procs.reference_server(tmp_path) as server:
        report = procs.run_loadgen(
            {
                "mode": "replay",
                "url": server.url,
                "rooms": provision.reference_rooms(1, 2, "smoke"),
                "serverPid": server.pid,
                "replay": {"events": 200, "joins": 2, "window": 16},
            },
            tmp_path,
            max_seconds=20,
        )
    assert report["error"] is None, report
    assert report["events_written"] == 200
    assert report["replay_checks"] == {"recovered": 2, "complete": 2, "contiguous": 2, "failures": {}}
    assert report["replay_ms"]["n"] == 2


def test_hub_soak_delivers_every_acked_stroke_through_a_redis_restart_and_a_hub_kill(
    node_ready: None, tmp_path: Path
) -> None:
    """`bench.soak` in miniature: two hubs on one PostgreSQL and Redis; Redis restarted, then one hub
    SIGKILLed mid-run.

    The dead hub's clients reconnect by themselves and resume, and the soak's counts add up: every
    expected delivery is live, replayed or in a snapshot, none lost, no stroke under two seqs. Strokes
    whose fan-out Redis could not carry reach the others all the same: their seq gap makes the clients
    join again from their mark, as the web client does.
    """
    opts = soak.Options(
        seconds=16,
        clients=8,
        rooms=2,
        rate=120,
        faults=("redis", "kill"),
        redis_at=0.1,
        redis_down=1.5,
        kill_at=0.35,
        hub_down=2,
        drain_s=20,
        sample_s=2,
    )
    result = soak.run(opts, tmp_path)
    lg = result.get("loadgen") or {}
    summary = "\n".join(soak.summary_lines(result))
    assert result.get("error") is None and lg.get("error") is None, summary
    actions = ["redis stop", "redis start", "hub1 SIGKILL", "hub1 start"]
    assert [f["action"] for f in result["faults"]] == actions, summary
    assert "error" not in result["faults"][3], summary
    # Members alternate between the hubs, so the 4 on hub1 lost their socket and came back.
    assert lg["clients"] == 8 and lg["connected_at_end"] == 8, summary
    assert sum(lg["disconnects"].values()) == 4 and lg["reconnects"] >= 4, summary
    assert lg["recovered_joins"] + lg["snapshot_joins"] >= 4, summary
    assert lg["unacked"] == 0 and lg["acked"] == lg["strokes_sent"] > 0, summary
    assert lg["deliveries_expected"] == 3 * lg["acked"], summary
    delivered = lg["delivered_live"] + lg["delivered_by_replay"] + lg["delivered_by_snapshot"]
    assert lg["lost"] == 0 and delivered == lg["deliveries_expected"], summary
    assert lg["duplicates"] == 0 and lg["echoes"] == 0 and lg["unknown_events"] == 0, summary
    assert lg["delivery_ms"]["n"] == lg["delivered_live"], summary
    # Every live delivery is either within one hub or across the two (through Redis), and both happen.
    same, cross = lg["delivery_ms_same_hub"]["n"], lg["delivery_ms_cross_hub"]["n"]
    assert same + cross == lg["delivered_live"] and same > 0 and cross > 0, summary
    cpu = soak.cpu_per_delivery(result)
    assert cpu["hubs"] is not None and cpu["hubs"] > 0 and cpu["postgres"] is not None, summary
    # The killed hub came back; on a busy machine its start-up may outlast the strokes, so it need not
    # have been sampled under load.
    assert result["faults"][3]["took_s"] is not None, summary
    assert {p["process"] for p in result["processes"]} >= {"hub0", "hub1"}, summary
    assert all(p["rss_start_kb"] > 0 and p["fds_start"] > 0 for p in result["processes"]), summary
    assert result["verdict"]["ran"], summary


def test_social_benchmark_reports_every_figure(tmp_path: Path) -> None:
    """`bench.social` in miniature: COPY seeding with consistent counters, then every measurement.

    Routes the tree has answer without a single error; the ones it lacks are reported as not
    available, never as a figure.
    """
    opts = social.Options(
        accounts=200,
        posts=2_000,
        follows=20,
        hot=2,
        hot_followers=150,
        readers=40,
        clients=4,
        duration=3,
        verify_counters=True,
    )
    result = social.run(opts, tmp_path)
    assert result["error"] is None, result
    assert result["seed"]["rows"] == {
        "users": 200,
        "follows": 200 * 20,
        "posts": 2_000,
        "post_hashtags": result["seed"]["rows"]["post_hashtags"],
    }
    assert result["seed"]["rows"]["post_hashtags"] > 0
    assert result["seed"]["hot_followers"] == [150, 150]
    # Seeded counters are already right: the repair job finds nothing to fix.
    assert result["counters"]["total"] == 0, result["counters"]
    measured = result["measurements"]
    # Posting and account search exist in every tree this benchmark runs on.
    assert measured["post"]["available"] and measured["search_users"]["available"]
    for key in social.TITLES:
        figure = measured[key]
        if not figure["available"]:
            continue
        for run in (figure, figure["loaded"]):  # one client, then `clients` at a time
            assert run["errors"] == {}, (key, run)
            assert run["n"] > 0, (key, run)
            assert 0 < run["p50"] <= run["p99"] <= run["max"], (key, run)
    # The cold pass is exactly one feed read per reader, half of them alone.
    if measured["feed_cold"]["available"]:
        cold = measured["feed_cold"]
        assert cold["n"] == cold["loaded"]["n"] == measured["readers"] // 2 == 20
    section = social.docs_section(result, "python -m bench.social --accounts 200", "stamp", social._machine())
    for title in social.TITLES.values():
        assert title in section


WRK_OUTPUT = """Running 3s test @ http://127.0.0.1:40000/healthz
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.80ms  812.51us  11.02ms   88.10%
    Req/Sec     6.66k   310.27     7.01k    80.00%
  Latency Distribution
     50%  750.00us
     75%    4.92ms
     90%    5.31ms
     99%    1.20s
  19997 requests in 3.00s, 3.05MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:   6665.43
Transfer/sec:      1.02MB
"""


def test_rest_benchmark_reads_wrk_as_printed() -> None:
    figures = rest.parse_wrk(WRK_OUTPUT)
    assert figures == {
        "rps": 6665.43,
        "requests": 19997,
        "p50": 0.75,
        "p75": 4.92,
        "p90": 5.31,
        "p99": 1200.0,
        "non_2xx_3xx": 7,
        "socket_errors": 3,
    }
    with pytest.raises(procs.BenchError):
        rest.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused")


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (apt-get install wrk)")
def test_rest_benchmark_reports_every_route(tmp_path: Path) -> None:
    """`bench.rest` in miniature: every route answers without an error and the table has each one."""
    result = rest.run(rest.Options(seconds=1, repeat=1, connections=4), tmp_path)
    assert result["error"] is None, result["error"]
    runs = result["runs"]
    assert set(runs) == {"hello", "healthz", "bin", "bin_304", "bin_raw", "spaces"}
    for name, [figures] in runs.items():
        assert figures["rps"] > 0 and figures["non_2xx_3xx"] == 0 and figures["socket_errors"] == 0, (name, figures)
        assert figures["server_cpu_us_per_request"] > 0, (name, figures)
    rows = rest.table(result)
    assert [row[0] for row in rows] == list(runs)
    section = rest.docs_section(result, "python -m bench.rest --seconds 1", "stamp")
    assert "| bin |" in section and "x hello" in section


def test_board_benchmark_reports_every_figure(tmp_path: Path) -> None:
    """`bench.board` in miniature: a board of 2,000 changes, every request answered without an error."""
    result = board.run(2_000, 1.0, False, tmp_path, clear_every=0)
    assert result["error"] is None, result
    measured = result["measurements"]
    # Every tenth change erases, every 25th that is not also a tenth moves (40 of them): the rest draw.
    assert measured["seed"] == {**measured["seed"], "changes": 2_000, "erased": 200, "moved": 40, "strokes": 1_760}
    assert measured["live_strokes"] == 1_760 - 200  # a move keeps its stroke on the board
    for key in board.TITLES:
        assert measured[key]["errors"] == {} and measured[key]["n"] > 0, (key, measured[key])
    section = board.docs_section(result, "python -m bench.board --changes 2000", "stamp")
    assert all(title in section for title in board.TITLES.values())
