"""The README's configuration reference is generated from the settings and kept in sync."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from hub.config import Settings
from hub.config_docs import SETTING_DOCS, reference_table

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_is_documented() -> None:
    missing = [f.name for f in fields(Settings) if not SETTING_DOCS.get(f.name)]
    assert missing == [], f"add a line for these settings to hub/config_docs.py: {missing}"


def test_readme_reference_is_current() -> None:
    readme = (ROOT / "README.md").read_text()
    assert reference_table() in readme, "regenerate the README table with `hub config --reference`"


def test_quick_start_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()
