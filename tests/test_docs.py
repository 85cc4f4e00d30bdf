"""The README's configuration reference lists every setting."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from hub.config import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_is_documented() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [f.name for f in fields(Settings) if f.name != "extra" and f"| {f.name} |" not in readme]
    assert missing == [], f"document these settings in README.md: {missing}"


def test_quick_start_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()
