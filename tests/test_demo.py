"""`hub demo` loads the examples, and loading twice changes nothing."""

from __future__ import annotations

from hub.app import build_hub
from hub.demo import load_demo


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
