"""Example users, spaces and bins from `examples/`, so a newcomer sees a populated hub.

Loading is idempotent: users that already exist are logged in instead of created, and a space is
created only when its owner has no space of that name yet.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hub.app import Hub
from hub.errors import Conflict
from hub.models import Principal, Role, Visibility

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "examples" / "demo.json"


async def _principal(hub: Hub, user: dict[str, Any]) -> Principal:
    try:
        issued = await hub.identity.register(user["username"], user["password"], user["display_name"])
    except Conflict:
        issued = await hub.identity.login(user["username"], user["password"])
    return await hub.identity.authenticate(issued.access_token)


async def load_demo(hub: Hub, path: Path = DEFAULT_FILE) -> dict[str, Any]:
    data = json.loads(path.read_text("utf-8"))
    people = {u["username"]: await _principal(hub, u) for u in data["users"]}
    created: list[dict[str, str]] = []
    for spec in data["spaces"]:
        owner = people[spec["owner"]]
        existing = await hub.spaces.mine(owner, None, 100)
        if any(s.name == spec["name"] for s in existing.items):
            continue
        space = await hub.spaces.create(
            owner, name=spec["name"], ttl_seconds=hub.settings.space_max_ttl,
            visibility=Visibility(spec.get("visibility", "private")), link_role=Role(spec.get("link_role", "viewer")),
        )
        for username, role in spec.get("members", {}).items():
            await hub.spaces.repo.add_member(space.id, people[username].user_id, role)
        for bin_spec in spec.get("bins", []):
            record = await hub.bins.create(
                people[bin_spec["author"]], space.id, title=bin_spec["title"], content=bin_spec["content"],
                language=bin_spec.get("language", "text"), burn_after_reading=False, expires_in=None,
            )
            for edit in bin_spec.get("edits", []):
                record = await hub.bins.update(
                    people[edit["author"]], space.id, record.id, expected_version=record.version,
                    title=None, content=edit["content"], language=None,
                )
        created.append({"space": space.name, "link": hub.spaces.link(space.id)})
    return {"users": [{"username": u["username"], "password": u["password"]} for u in data["users"]],
            "spaces": created}
