"""`hub demo` and `hub serve --demo/--examples DIR` load the examples, and loading twice changes nothing."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.bootstrap.app import build_hub
from hub.bootstrap.cli import _examples_dir, build_parser
from hub.bootstrap.demo import DEFAULT_DIR, ExamplesError, load_demo, load_examples
from storage.postgres.server import free_port

MARGARET = {
    "users": [{"username": "margaret", "password": "apollo-guidance", "display_name": "Margaret Hamilton"}],
    "spaces": [
        {
            "name": "Guidance computer",
            "owner": "margaret",
            "bins": [{"title": "P63", "author": "margaret", "content": "braking phase\n"}],
        }
    ],
}


async def test_demo_is_loaded_once(make_settings) -> None:  # type: ignore[no-untyped-def]
    hub = await build_hub(make_settings())
    try:
        first = await load_demo(hub)
        second = await load_demo(hub)
        assert len(first["spaces"]) == 2 and second["spaces"] == []
        grace = await hub.identity.authenticate((await hub.identity.login("grace", "compiler-1952")).access_token)
        spaces = (await hub.spaces.mine(grace, None, 10)).items
        assert sorted(s.name for s in spaces) == ["Compiler notebook", "Engine design review"]
        review = next(s for s in spaces if s.name == "Engine design review")
        bins = (await hub.bins.in_space(grace, review.id, None, 10)).items
        note = next(b for b in bins if b.title == "Note G")
        assert note.version == 2
    finally:
        await hub.close()


async def test_an_examples_directory_loads_every_file_once(make_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a-demo.json").write_text((DEFAULT_DIR / "demo.json").read_text())
    (tmp_path / "b-margaret.json").write_text(json.dumps(MARGARET))
    (tmp_path / "notes.txt").write_text("not an example")
    hub = await build_hub(make_settings())
    try:
        first = await load_examples(hub, tmp_path)
        assert [s["space"] for s in first["spaces"]] == [
            "Engine design review",
            "Compiler notebook",
            "Guidance computer",
        ]
        assert {u["username"] for u in first["users"]} == {"ada", "grace", "linus", "margaret"}
        assert (await load_examples(hub, tmp_path))["spaces"] == []
        margaret = await hub.identity.authenticate(
            (await hub.identity.login("margaret", "apollo-guidance")).access_token
        )
        assert [s.name for s in (await hub.spaces.mine(margaret, None, 10)).items] == ["Guidance computer"]
    finally:
        await hub.close()


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (None, "not a directory of examples"),
        ({}, "no *.json example files"),
        ({"x.json": "{not json"}, "x.json: Expecting property name"),
        ({"x.json": "[]"}, "x.json: not an examples file"),
        ({"x.json": json.dumps({"users": [], "spaces": [{"name": "s", "owner": "nobody"}]})}, "x.json: not an"),
        (
            {
                "x.json": json.dumps(
                    {"users": [{"username": "x", "password": "short", "display_name": "X"}], "spaces": []}
                )
            },
            "x.json: not an examples file (ValidationFailed",
        ),
        (
            {"x.json": json.dumps({**MARGARET, "spaces": [{**MARGARET["spaces"][0], "visibility": "everyone"}]})},
            "x.json: not an examples file (ValueError",
        ),
    ],
)
async def test_bad_examples_say_which_file_and_why(
    make_settings: Any, tmp_path: Path, files: dict[str, str] | None, message: str
) -> None:
    directory = tmp_path / "examples"
    if files is not None:
        directory.mkdir()
        for name, text in files.items():
            (directory / name).write_text(text)
    hub = await build_hub(make_settings())
    try:
        with pytest.raises(ExamplesError) as caught:
            await load_examples(hub, directory)
        assert message in str(caught.value)
    finally:
        await hub.close()


def test_serve_demo_means_the_shipped_examples() -> None:
    parser = build_parser()
    assert _examples_dir(parser.parse_args(["serve", "--demo"])) == DEFAULT_DIR
    assert _examples_dir(parser.parse_args(["serve", "--examples", "elsewhere"])) == Path("elsewhere")
    assert _examples_dir(parser.parse_args(["serve"])) is None
    assert (DEFAULT_DIR / "demo.json").is_file()


def _hub_command(*args: str) -> list[str]:
    return [str(Path(sys.executable).parent / "hub"), *args]


async def test_serve_examples_loads_them_and_says_where_it_listens(database_url: str, tmp_path: Path) -> None:
    examples = tmp_path / "mine"
    examples.mkdir()
    (examples / "margaret.json").write_text(json.dumps(MARGARET))
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "HUB_PORT": str(port),
        "HUB_DATA_DIR": str(tmp_path / "data"),
        "HUB_LOG_LEVEL": "WARNING",
    }
    proc = await asyncio.create_subprocess_exec(
        *_hub_command("serve", "--examples", str(examples)),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    try:
        output = b""
        async with asyncio.timeout(60):
            while b"listening on" not in output:
                line = await proc.stdout.readline()
                assert line, f"hub exited before it listened: {output.decode()}"
                output += line
        credentials = json.loads(output[: output.rindex(b"}") + 1])
        assert credentials["users"] == [{"username": "margaret", "password": "apollo-guidance"}]
        assert output.decode().splitlines()[-1] == (
            f"Collab Hub listening on http://127.0.0.1:{port} — open it in a browser"
        )
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=20) as c:
            login = await c.post("/auth/login", json={"username": "margaret", "password": "apollo-guidance"})
            assert login.status_code == 200, login.text
            mine = await c.get("/spaces", headers={"authorization": f"Bearer {login.json()['access_token']}"})
            assert [s["name"] for s in mine.json()["items"]] == ["Guidance computer"]
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), timeout=20)


async def test_serve_with_a_missing_examples_directory_fails_in_one_line(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        *_hub_command("serve", "--examples", str(tmp_path / "nowhere")),
        env={**os.environ, "HUB_DATA_DIR": str(tmp_path / "data")},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 2 and out == b""
    assert err.decode() == f"hub: examples: {tmp_path / 'nowhere'}: not a directory of examples\n"
