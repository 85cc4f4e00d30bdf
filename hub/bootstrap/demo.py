"""Example users, spaces and bins from `examples/`, so a newcomer sees a populated hub.

A directory of examples holds JSON files of the shape of `examples/demo.json` (users, then spaces with
members and bins); `load_examples` loads each file in name order. Loading is idempotent: users that
already exist are logged in instead of created, and a space is created only when its owner has no
space of that name yet.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.errors import Conflict, ValidationFailed
from hub.models import Principal, Role, Visibility

if TYPE_CHECKING:
    from hub.runtime import Hub

# The source tree's examples/; an installed hub (the container image) finds them in the working directory.
_SOURCE_EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DEFAULT_DIR = _SOURCE_EXAMPLES if _SOURCE_EXAMPLES.is_dir() else Path("examples")
DEFAULT_FILE = DEFAULT_DIR / "demo.json"


class ExamplesError(ValueError):
    """An examples directory or file that cannot be loaded; the message says which and why."""


def example_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise ExamplesError(f"{directory}: not a directory of examples")
    files = sorted(directory.glob("*.json"))
    if not files:
        raise ExamplesError(f"{directory}: no *.json example files")
    return files


async def _principal(hub: Hub, user: dict[str, Any]) -> Principal:
    try:
        issued = await hub.identity.register(user["username"], user["password"], user["display_name"])
    except Conflict:
        issued = await hub.identity.login(user["username"], user["password"])
    return await hub.identity.authenticate(issued.access_token)


async def load_examples(hub: Hub, directory: Path = DEFAULT_DIR) -> dict[str, Any]:
    """Load every example file of `directory`; the users (with passwords) and the spaces created."""
    users: list[dict[str, str]] = []
    spaces: list[dict[str, str]] = []
    for path in example_files(directory):
        loaded = await load_demo(hub, path)
        users += [u for u in loaded["users"] if u not in users]
        spaces += loaded["spaces"]
    return {"users": users, "spaces": spaces}


async def load_demo(hub: Hub, path: Path = DEFAULT_FILE) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExamplesError(f"{path}: {exc}") from None
    try:
        return await _load(hub, data)
    except (KeyError, TypeError, AttributeError, ValueError, ValidationFailed) as exc:
        # ValueError: an unknown visibility or role; ValidationFailed: a field the services refuse.
        raise ExamplesError(f"{path}: not an examples file ({type(exc).__name__}: {exc})") from None


async def _load(hub: Hub, data: dict[str, Any]) -> dict[str, Any]:
    people = {u["username"]: await _principal(hub, u) for u in data["users"]}
    created: list[dict[str, str]] = []
    for spec in data["spaces"]:
        owner = people[spec["owner"]]
        existing = await hub.spaces.mine(owner, None, 100)
        if any(s.name == spec["name"] for s in existing.items):
            continue
        space = await hub.spaces.create(
            owner,
            name=spec["name"],
            ttl_seconds=hub.settings.space_max_ttl,
            visibility=Visibility(spec.get("visibility", "private")),
            link_role=Role(spec.get("link_role", "viewer")),
        )
        for username, role in spec.get("members", {}).items():
            await hub.spaces.repo.add_member(space.id, people[username].user_id, role)
        for bin_spec in spec.get("bins", []):
            record = await hub.bins.create(
                people[bin_spec["author"]],
                space.id,
                title=bin_spec["title"],
                content=bin_spec["content"],
                language=bin_spec.get("language", "text"),
                burn_after_reading=False,
                expires_in=None,
            )
            for edit in bin_spec.get("edits", []):
                record = await hub.bins.update(
                    people[edit["author"]],
                    space.id,
                    record.id,
                    expected_version=record.version,
                    title=None,
                    content=edit["content"],
                    language=None,
                )
        created.append({"space": space.name, "link": hub.spaces.link(space.id)})
    return {"users": [{"username": u["username"], "password": u["password"]} for u in data["users"]], "spaces": created}
