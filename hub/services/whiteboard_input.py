"""Validation of untrusted whiteboard payloads and per-socket token buckets (pure, no I/O).

Everything a socket sends passes through here before it can reach a database or another socket, so
wrong types, NaN, huge numbers, NUL characters and oversized strokes end as a `validation_failed` ack.
"""

from __future__ import annotations

import math
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from hub.errors import RateLimited, ValidationFailed
from hub.ports.whiteboard import TEXT_TOOLS, Move, Stroke

TOOLS = frozenset({"pen", "marker", "highlighter", "line", "rect", "ellipse", "arrow", *TEXT_TOOLS})
MAX_COORD = 1_000_000.0
MAX_WIDTH = 200.0
MAX_IDS = 1_000
MAX_TEXT = 2_000
# A font size below this cannot be read, at any zoom a client offers.
MIN_FONT = 4.0
# Each axis of one transform's scale; together with the placement bounds of storage this keeps every
# element's numbers finite however often it is resized.
MIN_SCALE, MAX_SCALE = 0.01, 100.0
# How many points a text element takes: a label's top-left corner, a note's two opposite corners.
# (A shape is drawn from its first and last points.)
_POINTS = {"text": (1, 1), "note": (2, 2)}
# Text is what people type: line breaks and tabs, no other control character (NUL included).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# Used with fullmatch: `$` also matches before a trailing newline, which let "#000\n" through.
_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")
_SPACE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _bad(field: str, why: str) -> ValidationFailed:
    return ValidationFailed({field: why})


def _number(value: Any, field: str, low: float, high: float) -> float:
    # bool is an int subclass; True is not a coordinate.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(field, "must be a number")
    number = float(value) if abs(value) <= 1e300 else math.inf
    if not math.isfinite(number) or not low <= number <= high:
        raise _bad(field, f"must be between {low:g} and {high:g}")
    return number


def payload(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ValidationFailed({"payload": "must be an object"})
    return raw


def space_id(raw: dict[str, Any]) -> str:
    value = raw.get("space_id")
    if not isinstance(value, str) or not _SPACE_ID.fullmatch(value):
        raise _bad("space_id", "must be a space id")
    return value


def stroke_id(value: Any, field: str = "id") -> str:
    if not isinstance(value, str) or len(value) != 36:
        raise _bad(field, "must be a UUID")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise _bad(field, "must be a UUID") from None


def since(raw: dict[str, Any]) -> tuple[int, str] | None:
    value = raw.get("since")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _bad("since", "must be an object with seq and epoch")
    seq, epoch = value.get("seq"), value.get("epoch")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < 2**62:
        raise _bad("since.seq", "must be a non-negative integer")
    if not isinstance(epoch, str) or not 0 < len(epoch) <= 64 or "\x00" in epoch:
        raise _bad("since.epoch", "must be a string")
    return seq, epoch


def stroke(raw: dict[str, Any], max_points: int) -> Stroke:
    tool = raw.get("tool")
    if not isinstance(tool, str) or tool not in TOOLS:
        raise _bad("tool", f"must be one of {', '.join(sorted(TOOLS))}")
    color = raw.get("color")
    if not isinstance(color, str) or not _COLOR.fullmatch(color):
        raise _bad("color", "must be #rgb, #rrggbb or #rrggbbaa")
    width = _number(raw.get("width"), "width", 0.1, MAX_WIDTH)
    points_raw = raw.get("points")
    if not isinstance(points_raw, list) or not points_raw:
        raise _bad("points", "must be a non-empty list of [x, y] or [x, y, pressure]")
    if len(points_raw) > max_points:
        raise _bad("points", f"at most {max_points} points per stroke")
    points: list[list[float]] = []
    for point in points_raw:
        if not isinstance(point, list) or len(point) not in (2, 3):
            raise _bad("points", "each point is [x, y] or [x, y, pressure]")
        xy = [_number(point[0], "points", -MAX_COORD, MAX_COORD), _number(point[1], "points", -MAX_COORD, MAX_COORD)]
        if len(point) == 3:
            xy.append(_number(point[2], "points", 0.0, 1.0))
        points.append(xy)
    low, high = _POINTS.get(tool, (1, max_points))
    if not low <= len(points) <= high:
        count = f"{low}" if low == high else f"{low} to {high}"
        raise _bad("points", f"a {tool} takes {count} points")
    return Stroke(stroke_id(raw.get("id")), tool, color.lower(), width, points, _text(raw, tool, width))


def _text(raw: dict[str, Any], tool: str, width: float) -> str | None:
    value = raw.get("text")
    if tool not in TEXT_TOOLS:
        if value is not None:
            raise _bad("text", "only text and note elements carry text")
        return None
    if width < MIN_FONT:
        raise _bad("width", f"the font size of a {tool} is at least {MIN_FONT:g}")
    if value is None and tool == "note":
        return ""
    if not isinstance(value, str) or len(value) > MAX_TEXT or (tool == "text" and not value.strip()):
        raise _bad("text", f"must be a string of {1 if tool == 'text' else 0} to {MAX_TEXT} characters")
    if _CONTROL.search(value):
        raise _bad("text", "must not contain control characters other than line breaks and tabs")
    return value


def _scale(value: Any) -> tuple[float, float]:
    if value is None:
        return 1.0, 1.0
    if isinstance(value, list):
        if len(value) != 2:
            raise _bad("scale", "must be a number or [sx, sy]")
        return (_number(value[0], "scale", MIN_SCALE, MAX_SCALE), _number(value[1], "scale", MIN_SCALE, MAX_SCALE))
    factor = _number(value, "scale", MIN_SCALE, MAX_SCALE)
    return factor, factor


def move(raw: dict[str, Any]) -> Move:
    """A `transform` payload: {id, ids, dx, dy, scale?, origin?}."""
    change = stroke_id(raw.get("id"))
    ids = stroke_ids(raw)
    dx = _number(raw.get("dx", 0), "dx", -2 * MAX_COORD, 2 * MAX_COORD)
    dy = _number(raw.get("dy", 0), "dy", -2 * MAX_COORD, 2 * MAX_COORD)
    sx, sy = _scale(raw.get("scale"))
    origin = raw.get("origin", [0, 0])
    if not isinstance(origin, list) or len(origin) != 2:
        raise _bad("origin", "must be [x, y]")
    ox = _number(origin[0], "origin", -MAX_COORD, MAX_COORD)
    oy = _number(origin[1], "origin", -MAX_COORD, MAX_COORD)
    return Move(change, ids, dx, dy, sx, sy, ox, oy)


def restore(raw: dict[str, Any]) -> tuple[str, int, list[str] | None]:
    """A `restore` payload: {id, at, ids?} -> (change id, at, ids or None for the whole board)."""
    change = stroke_id(raw.get("id"))
    at = raw.get("at")
    if isinstance(at, bool) or not isinstance(at, int) or not 0 <= at < 2**62:
        raise _bad("at", "must be a seq (a non-negative integer)")
    return change, at, stroke_ids(raw) if raw.get("ids") is not None else None


def stroke_ids(raw: dict[str, Any]) -> list[str]:
    value = raw.get("ids")
    if not isinstance(value, list) or not value or len(value) > MAX_IDS:
        raise _bad("ids", f"must be a list of 1 to {MAX_IDS} element ids")
    return list(dict.fromkeys(stroke_id(v, "ids") for v in value))


def cursor(raw: dict[str, Any]) -> tuple[float, float]:
    return _number(raw.get("x"), "x", -MAX_COORD, MAX_COORD), _number(raw.get("y"), "y", -MAX_COORD, MAX_COORD)


class TokenBucket:
    """Classic token bucket: `rate` tokens per second, at most `burst` saved up."""

    __slots__ = ("_burst", "_clock", "_rate", "_stamp", "_tokens")

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._clock = clock
        self._stamp = clock()

    def take(self) -> None:
        """Spend one token or raise `RateLimited` (code rate_limited)."""
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens < 1.0:
            wait = (1.0 - self._tokens) / self._rate if self._rate > 0 else 60.0
            raise RateLimited(math.ceil(wait))
        self._tokens -= 1.0
