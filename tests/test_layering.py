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
# The composition root is the one package of the core that imports adapters and implementations.
COMPOSITION_ROOT = ROOT / "hub" / "bootstrap"
ADAPTERS = ("rest", "realtime")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _modules(path: Path) -> set[str]:
    """Full dotted names of the absolute imports of `path`, wherever they stand (TYPE_CHECKING too)."""
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_core_imports_no_framework_or_driver() -> None:
    offenders = {}
    for path in sorted((ROOT / "hub").rglob("*.py")):
        if path.is_relative_to(COMPOSITION_ROOT):
            continue
        bad = _imports(path) & FORBIDDEN
        if bad:
            offenders[path.relative_to(ROOT).as_posix()] = sorted(bad)
    assert offenders == {}


def test_nothing_imports_the_composition_root() -> None:
    """Only the composition root knows itself: importing it would import every adapter and driver."""
    offenders = {}
    for path in sorted(p for package in ("hub", *ADAPTERS, "storage") for p in (ROOT / package).rglob("*.py")):
        if path.is_relative_to(COMPOSITION_ROOT):
            continue
        bad = {name for name in _modules(path) if name == "hub.bootstrap" or name.startswith("hub.bootstrap.")}
        if bad:
            offenders[path.relative_to(ROOT).as_posix()] = sorted(bad)
    assert offenders == {}


def test_adapters_never_import_each_other() -> None:
    offenders = {}
    for package in ADAPTERS:
        others = set(ADAPTERS) - {package}
        for path in sorted((ROOT / package).rglob("*.py")):
            bad = _imports(path) & others
            if bad:
                offenders[path.relative_to(ROOT).as_posix()] = sorted(bad)
    assert offenders == {}


def test_adapters_do_not_import_storage() -> None:
    """Not even the local store's own /blobs routes: they know the store only as `SignedUrlFace`."""
    offenders = {}
    for package in ADAPTERS:
        for path in sorted((ROOT / package).rglob("*.py")):
            bad = _imports(path) & {"storage", "asyncpg", "aioboto3", "botocore"}
            if bad:
                offenders[path.relative_to(ROOT).as_posix()] = sorted(bad)
    assert offenders == {}


def _app_ctx_uses(path: Path) -> list[int]:
    """Lines that read Sanic's untyped `app.ctx` (`request.app.ctx`, `app.ctx`)."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute) and node.attr == "ctx":
            owner = node.value
            if (isinstance(owner, ast.Attribute) and owner.attr == "app") or (
                isinstance(owner, ast.Name) and owner.id == "app"
            ):
                lines.append(node.lineno)
    return lines


def test_rest_reaches_the_hub_through_its_typed_accessor() -> None:
    offenders = {}
    for path in sorted((ROOT / "rest").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel == "rest/context.py":
            continue
        uses = _app_ctx_uses(path)
        if uses:
            offenders[rel] = uses
    assert offenders == {}
