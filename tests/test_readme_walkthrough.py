"""The README's curl walkthrough and its Files section, run verbatim by bash against a running hub (only
the address changes): every step works, the stale edit is a real 409, the upload goes to the absolute
URL the hub signed, and no step uses a token that an earlier step logged out."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from hub.config import Settings
from tests.support.browser import WebHub

README = Path(__file__).resolve().parent.parent / "README.md"

# Where jq is missing, a stand-in for the few filters the walkthrough uses (paths such as
# `.upload.url`, and the fields-to-`-F` pipeline), so the commands still run as written.
JQ_STAND_IN = r"""
import json, re, sys
args = sys.argv[1:]
raw = "-r" in args
program = [a for a in args if a != "-r"][0]
value = json.load(sys.stdin)
def path(v, p):
    for key, index in re.findall(r"\.(\w+)(?:\[(\d+)\])?", p):
        v = v[key] if index == "" else v[key][int(index)]
    return v
if "to_entries" in program:
    out = " ".join(f"-F {k}={v}" for k, v in path(value, program.split("|")[0]).items())
else:
    out = path(value, program.strip())
print(out if raw and isinstance(out, str) else json.dumps(out))
"""


def walkthrough(base_url: str) -> str:
    """The shell blocks from "Walkthrough with curl" up to "Social API", pointed at `base_url`."""
    text = README.read_text()
    section = text[text.index("## Walkthrough with curl") : text.index("## Social API")]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    assert len(blocks) >= 2, "the walkthrough and the Files section each have a shell block"
    return "\n".join(blocks).replace("localhost:8000", base_url.removeprefix("http://"))


async def test_the_readme_walkthrough_runs_verbatim(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    env = dict(os.environ)
    if shutil.which("jq") is None:
        shim = tmp_path / "bin" / "jq"
        shim.parent.mkdir()
        shim.write_text(f"#!{sys.executable}\n{JQ_STAND_IN}")
        shim.chmod(0o755)
        env["PATH"] = f"{shim.parent}{os.pathsep}{env['PATH']}"
    async with WebHub(make_settings) as hub:
        script = "set -euo pipefail\n" + walkthrough(hub.url)
        proc = await asyncio.create_subprocess_exec(
            "bash", "-c", script, cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        async with asyncio.timeout(120):
            out, _ = await proc.communicate()
    output = out.decode()
    assert proc.returncode == 0, output
    # The invite's landing, then the real conflict: Bob's stale edit, with the current version.
    assert '"space_name":"Design review"' in output, output
    assert '"code":"version_conflict"' in output and '"current_version":2' in output, output
    assert "second draft" in output and "bob was here" not in output, output  # Alice's text stands
    # Logging out ended only the second session: exactly one step (the check after it) is refused.
    assert output.count('"code":"token_revoked"') == 1, output
    assert "token_invalid" not in output and '"code":"internal"' not in output, output
    # The upload went to the store's absolute URL, completed, and downloads by redirect.
    assert '"filename":"plan.pdf"' in output and '"status":"ready"' in output, output
    assert "HTTP/1.1 302" in output and re.search(r"^location: http", output, re.M | re.I), output
