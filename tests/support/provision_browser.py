"""Make sure the browser tests have a Chromium: `python -m tests.support.provision_browser` (`make browser`).

In order: a system Chromium; as root on Debian, the `chromium` package; Playwright's own build
(`playwright install chromium`). When none of them works it stops with one line saying what to
install, so the browser tests are never skipped silently. `tests/support/browser.py` launches the
system executable when there is one and Playwright's build otherwise, the same choice as here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

SYSTEM_PATHS = ("/usr/bin/chromium",)
APT_ENV = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}


def system_chromium() -> str | None:
    """The system's Chromium executable, if any (None: use Playwright's own build)."""
    found = shutil.which("chromium")
    if found:
        return found
    return next((p for p in SYSTEM_PATHS if os.access(p, os.X_OK)), None)


def _playwright_chromium() -> str | None:
    """Playwright's downloaded Chromium, if it is installed."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        path = p.chromium.executable_path
    return path if path and Path(path).exists() else None


def _run(*argv: str) -> bool:
    # Quiet: success is reported by the caller, failure by the single line below.
    try:
        done = subprocess.run(argv, env=APT_ENV, capture_output=True, check=False)
        return done.returncode == 0
    except OSError:
        return False


def _apt_install() -> bool:
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    if not (root and Path("/etc/debian_version").exists() and shutil.which("apt-get")):
        return False
    print("browser: installing Debian's chromium package (apt-get)", flush=True)
    return _run("apt-get", "update", "-qq") and _run("apt-get", "install", "-y", "-qq", "chromium")


def provision() -> str:
    """Describe the Chromium the tests will use, installing one when needed; SystemExit when impossible."""
    if path := system_chromium():
        return f"system Chromium {path}"
    if _apt_install() and (path := system_chromium()):
        return f"system Chromium {path} (installed now)"
    if path := _playwright_chromium():
        return f"Playwright's Chromium {path}"
    print("browser: installing Playwright's Chromium (playwright install chromium)", flush=True)
    if _run(sys.executable, "-m", "playwright", "install", "chromium") and (path := _playwright_chromium()):
        return f"Playwright's Chromium {path} (installed now)"
    raise SystemExit(
        "browser: no Chromium for the browser tests: install the 'chromium' package "
        f"(apt-get install chromium) or run '{sys.executable} -m playwright install chromium'"
    )


if __name__ == "__main__":
    print(f"browser: {provision()}")
