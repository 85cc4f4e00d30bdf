"""Turning load-generator reports into the comparison table, the machine description and the docs."""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.procs import NODE_DIR
from bench.scenarios import Scenario

BEGIN, END = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"


def machine() -> dict[str, Any]:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    sio = json.loads((NODE_DIR / "node_modules" / "socket.io" / "package.json").read_text())["version"]
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "node": node,
        "socket.io": sio,
    }


def fsync_probe(directory: Path, rounds: int = 20) -> dict[str, float]:
    """Latency of an 8 KiB write + fsync where PostgreSQL keeps its WAL: the floor of a durable commit."""
    path = directory / "fsync-probe"
    timings: list[float] = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for _ in range(rounds):
            start = time.perf_counter()
            os.write(fd, b"\0" * 8192)
            os.fsync(fd)
            timings.append((time.perf_counter() - start) * 1000)
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
    return {"p50_ms": round(statistics.median(timings), 2), "max_ms": round(max(timings), 2)}


def loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:.0f}"


def rows(scenarios: list[Scenario], results: dict[str, dict[str, list[dict[str, Any]]]]) -> list[list[str]]:
    """[scenario/metric, target, node, hub, hub/node] per metric; the median over repetitions."""
    table: list[list[str]] = []
    for sc in scenarios:
        runs = results.get(sc.key)
        if runs is None:
            continue
        errors = {t: next((r["error"] for r in runs.get(t, []) if r.get("error")), None) for t in ("node", "hub")}
        table.append([f"**{sc.title}**", "", "", "", ""])
        for metric in sc.metrics:
            node = _median([metric.read(r) for r in runs.get("node", []) if not r.get("error")])
            hub = _median([metric.read(r) for r in runs.get("hub", []) if not r.get("error")])
            ratio = f"{hub / node:.2f}" if hub is not None and node else "n/a"
            table.append([metric.label, metric.target, _fmt(node), _fmt(hub), ratio])
        for target, error in errors.items():
            if error:
                table.append([f"  {target} error", "", "", "", _short(error)])
    return table


def _short(text: str, size: int = 90) -> str:
    text = re.sub(r"\s+", " ", text).replace("|", "/")
    return text if len(text) <= size else text[: size - 1] + "…"


def markdown(table: list[list[str]]) -> str:
    header = ["scenario / metric", "target", "node 4.8 (reference)", "hub", "hub/node"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in table]
    return "\n".join(lines)


def plain(table: list[list[str]]) -> str:
    header = ["scenario / metric", "target", "node", "hub", "hub/node"]
    body = [[cell.strip("*") for cell in row] for row in table]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    widths[0] = min(widths[0], 72)
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    for row in body:
        if not any(row[1:]):
            out.append(row[0])
        else:
            out.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    return "\n".join(out)


def update_docs(path: Path, section: str, begin: str = BEGIN, end_marker: str = END) -> None:
    """Replace a generated section of docs/performance.md (between the markers)."""
    text = path.read_text() if path.exists() else ""
    block = f"{begin}\n{section.strip()}\n{end_marker}"
    if begin in text and end_marker in text:
        start, end = text.index(begin), text.index(end_marker) + len(end_marker)
        text = text[:start] + block + text[end:]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)
