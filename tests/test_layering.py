"""The core imports no web framework or driver; only its composition root wires implementations."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "sanic",
    "socketio",
    "engineio",
    "asyncpg",
    "redis",
    "aioboto3",
    "aiobotocore",
    "botocore",
    "boto3",
    "uvicorn",
    "rest",
    "realtime",
    "storage",
    "limits",
    "werkzeug",
}
COMPOSITION_ROOT = {"hub/app.py", "hub/wiring.py", "hub/asgi.py", "hub/cli.py", "hub/demo.py"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_core_imports_no_framework_or_driver() -> None:
    offenders = {}
    for path in sorted((ROOT / "hub").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel in COMPOSITION_ROOT:
            continue
        bad = _imports(path) & FORBIDDEN
        if bad:
            offenders[rel] = sorted(bad)
    assert offenders == {}


# The local-disk blob store's signed URLs are served by the hub itself: that route is the store's own HTTP
# face (like S3's endpoint), so it knows the store's type.
STORE_FACES = {"rest/routes/blobs.py"}


def test_adapters_do_not_import_storage() -> None:
    offenders = {}
    for package in ("rest", "realtime"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.relative_to(ROOT).as_posix() in STORE_FACES:
                continue
            bad = _imports(path) & {"storage", "asyncpg", "aioboto3", "botocore"}
            if bad:
                offenders[path.relative_to(ROOT).as_posix()] = sorted(bad)
    assert offenders == {}
