"""Bus topics and event names are declared once, in hub/events.py, and built nowhere else."""

from __future__ import annotations

import ast
from pathlib import Path

from hub import events
from hub.events import (
    ClientEvent,
    board_of,
    board_topic,
    people_topic,
    space_of,
    space_topic,
    user_of,
    user_room,
    user_topic,
)
from hub.services.whiteboard import WhiteboardService
from realtime.server import handlers

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("hub", "rest", "realtime", "storage", "bench", "tests", "examples")
# The declarations, and this file's pin of their wire values.
EXEMPT = {"hub/events.py", "tests/test_events.py"}
# Taken from the module itself, so a new topic family is checked as soon as it is declared there.
PREFIXES = tuple(build("") for build in (space_topic, board_topic, user_topic))


def _sources() -> list[Path]:
    paths = [p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))]
    return [p for p in paths if p.relative_to(ROOT).as_posix() not in EXEMPT]


def _topic_literals(tree: ast.AST) -> list[int]:
    """Lines of string literals (or f-strings) that start like a topic, and of slices of a `topic`."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr) and node.values:
            first = node.values[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str) and first.value.startswith(PREFIXES):
                lines.append(node.lineno)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith(PREFIXES):
            lines.append(node.lineno)
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
            target = node.value
            name = target.id if isinstance(target, ast.Name) else getattr(target, "attr", "")
            if "topic" in name.lower():
                lines.append(node.lineno)
    return sorted(set(lines))


def test_topics_are_built_only_in_hub_events() -> None:
    offenders = {}
    for path in _sources():
        lines = _topic_literals(ast.parse(path.read_text(), str(path)))
        if lines:
            offenders[path.relative_to(ROOT).as_posix()] = lines
    assert offenders == {}


def test_the_check_sees_the_forms_it_forbids() -> None:
    forbidden = [f'f"{PREFIXES[0]}{{space_id}}"', repr(PREFIXES[1] + "x"), "topic[6:]", "self.topic[3:]"]
    for source in forbidden:
        assert _topic_literals(ast.parse(source)) == [1], source
    assert _topic_literals(ast.parse('space_topic(space_id)\n"spaces: 3"\nparts[1:]')) == []


def test_each_topic_parses_back_to_its_id_and_only_its_own_family() -> None:
    assert space_of(space_topic("s1")) == "s1"
    assert board_of(board_topic("s1")) == "s1"
    assert user_of(user_topic("u1")) == "u1"
    assert space_of(board_topic("s1")) is None
    assert board_of(space_topic("s1")) is None
    assert user_of(space_topic("s1")) is None
    assert space_of("") is None
    assert None is space_of(people_topic()) is board_of(people_topic()) is user_of(people_topic())


def test_wire_names_are_unchanged() -> None:
    # These values are the protocol of docs/realtime.md and of the bus between versions.
    assert [space_topic("a"), board_topic("a"), user_topic("a")] == ["space:a", "wb:a", "user:a"]
    assert people_topic() == "people"
    assert sorted(ClientEvent) == [
        "auth", "clear", "cursor", "erase", "join", "leave", "restore", "stroke", "transform", "undo",
    ]  # fmt: skip
    assert sorted(events.ServerEvent) == [
        "clear",
        "cursor",
        "erase",
        "feed_post",
        "kicked",
        "notification",
        "presence",
        "restore",
        "stroke",
        "transform",
    ]
    assert user_room("a") == "user:a"
    assert events.PERSONAL == {"feed_post": "feed_post", "notification": "notification"}
    assert events.BusEvent.BOARD_RELAY == "wb"
    assert events.RELAYED <= set(events.BusEvent)


def test_every_client_event_has_a_handler() -> None:
    # The table only reads bound methods, so an instance without its state is enough.
    table = handlers(object.__new__(WhiteboardService))
    assert set(table) == set(ClientEvent)
    assert table[ClientEvent.AUTH].__name__ == "reauthenticate"
