"""Two real `hub serve` processes sharing PostgreSQL and Redis; one is SIGKILLed, then restarted.

No acknowledged stroke is lost, its clients resume on the other instance with `since` and get exactly
what they missed, the dead process's presence disappears everywhere within the lease time, and the
restarted process serves again at the same address (REST, resume, fan-out across instances).
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from storage.postgres.server import free_port
from tests.support.realtime import Sock, connect, guest, space, stroke
from tests.support.server import wait_ready


async def _start(env: dict[str, str], port: int | None = None) -> tuple[asyncio.subprocess.Process, str]:
    port = port or free_port()
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "hub"),
        "serve",
        env={**env, "HUB_PORT": str(port)},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    await wait_ready(url, proc)
    return proc, url


class Hubs(list[tuple[asyncio.subprocess.Process, str]]):
    def __init__(self, env: dict[str, str], root: Path) -> None:
        super().__init__()
        self.env, self.root = env, root

    async def start(self, name: str, port: int | None = None) -> tuple[asyncio.subprocess.Process, str]:
        return await _start({**self.env, "HUB_DATA_DIR": str(self.root / name)}, port)

    async def restart(self, index: int) -> str:
        """Start hub `index` again where its clients knew it (after it was killed)."""
        old, url = self[index]
        assert old.returncode is not None
        self[index] = await self.start("abcdefgh"[index], int(url.rsplit(":", 1)[1]))
        return self[index][1]


@pytest.fixture
async def two_hubs(
    database_url: str,
    redis_service,
    redis_prefix: str,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> AsyncIterator[Hubs]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_service.url,
        "HUB_REDIS_PREFIX": redis_prefix,
        "HUB_SIGNING_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="),
        "HUB_PRESENCE_TTL": "3",
        "HUB_LOG_LEVEL": "WARNING",
        "HUB_RATE_LIMIT": "100000/minute",
        "HUB_AUTH_RATE_LIMIT": "100000/minute",
        "HUB_CONNECT_RATE_LIMIT": "100000/minute",
    }
    hubs = Hubs(env, tmp_path)
    for name in ("a", "b"):
        hubs.append(await hubs.start(name))
    yield hubs
    for proc, _ in hubs:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()


async def test_sigkill_loses_no_acknowledged_stroke_and_clients_resume(two_hubs) -> None:  # type: ignore[no-untyped-def]
    (proc_a, url_a), (_proc_b, url_b) = two_hubs
    async with httpx.AsyncClient(base_url=url_b) as rest:
        alice, bob, carol = await guest(rest, "Alice"), await guest(rest, "Bob"), await guest(rest, "Carol")
        sid = await space(rest, bob, alice, carol)

    on_a, stays_on_a = await connect(url_a, alice), await connect(url_a, carol)
    on_b = await connect(url_b, bob)
    for sock in (on_b, on_a, stays_on_a):  # Bob first, so he is told when the others arrive
        assert (await sock.call("join", {"space_id": sid}))["ok"]
    await on_b.wait_for("presence", lambda e: e["user"]["user_id"] == carol.user_id and e["action"] == "join")

    acked = []
    for _ in range(5):
        body = stroke(sid)
        ack = await on_a.call("stroke", body)
        assert ack["ok"], ack
        acked.append((body["id"], ack["seq"]))
    last_seq = acked[-1][1]
    for stroke_id, _ in acked:
        await on_b.wait_for("stroke", lambda e, i=stroke_id: e["id"] == i)
    epoch = (await on_b.call("join", {"space_id": sid}))["epoch"]

    proc_a.send_signal(signal.SIGKILL)
    await proc_a.wait()
    await asyncio.wait_for(on_a.disconnected.wait(), timeout=10)

    missed = []
    for _ in range(3):
        body = stroke(sid)
        ack = await on_b.call("stroke", body)
        assert ack["ok"], ack
        missed.append((body["id"], ack["seq"]))

    # Alice's client reconnects to the surviving instance and resumes from what it had.
    resumed = await Sock().connect(url_b, alice.token)
    ack = await resumed.call("join", {"space_id": sid, "since": {"seq": last_seq, "epoch": epoch}})
    assert ack["ok"] and ack["recovered"] is True, ack
    assert [(e["id"], e["seq"]) for e in ack["events"]] == missed

    # Every acknowledged stroke is durable: a fresh snapshot has all eight, in order.
    fresh = await Sock().connect(url_b, bob.token)
    snap = await fresh.call("join", {"space_id": sid})
    assert [(s["id"], s["seq"]) for s in snap["snapshot"]["strokes"]] == acked + missed

    # Carol never came back: her lease on the dead process expires and Bob sees her leave.
    await on_b.wait_for(
        "presence", lambda e: e["user"]["user_id"] == carol.user_id and e["action"] == "leave", timeout=15
    )

    # The killed instance is restarted at its address and serves again.
    url_a = await two_hubs.restart(0)
    async with httpx.AsyncClient(base_url=url_a) as rest:
        me = await rest.get("/auth/me", headers={"Authorization": f"Bearer {alice.token}"})
        assert me.status_code == 200, me.text
    back = await Sock().connect(url_a, alice.token)
    again = await back.call("join", {"space_id": sid, "since": {"seq": missed[-1][1], "epoch": epoch}})
    assert again["ok"] and again["recovered"] is True and again["events"] == [], again
    body = stroke(sid)
    after = await back.call("stroke", body)
    assert after["ok"] and after["seq"] == missed[-1][1] + 1, after
    # Across instances again: Bob, on the survivor, gets it once.
    await on_b.wait_for("stroke", lambda e: e["id"] == body["id"])
    assert [e["id"] for e in on_b.events["stroke"]].count(body["id"]) == 1
    final = await fresh.call("join", {"space_id": sid})
    assert [(s["id"], s["seq"]) for s in final["snapshot"]["strokes"]] == [*acked, *missed, (body["id"], after["seq"])]
    for sock in (back, resumed, fresh, on_b):
        await sock.close()
