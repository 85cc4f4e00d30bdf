"""The benchmark's own tools work: the Node reference server and the load generator, for a few seconds.

Not a performance test: it proves the measuring instrument counts right (every expected delivery
arrives, acks come back, replay is complete) so a benchmark number is never an artefact of the tool.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import procs, provision


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
