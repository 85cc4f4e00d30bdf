"""The board's past and its picture, over REST: the board as it was after any change, the list of its
changes, and an SVG drawn from the stored strokes.

Every change of a board already has its gap-free `seq` (hub.services.whiteboard), and every element
keeps its lives (when it was on the board, and where: storage/migrations/0019_board_edits.sql): the
board after change N is the lives that cover N, indexed reads and no replay. Members only; anyone
else gets the answer of a space that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from hub.errors import InvalidCursor, ValidationFailed
from hub.models import Principal
from hub.ports.whiteboard import BoardChange, BoardPosition, StoredStroke, Stroke, StrokeStore
from hub.services.spaces import SpaceService

# The board's world (web/static/js/canvas.js): what an export shows at least.
WORLD_W, WORLD_H = 1600, 1000
# Strokes drawn with this tool are see-through (as the client paints them).
_SEE_THROUGH = {"highlighter": 0.35}


@dataclass(frozen=True, slots=True)
class ChangesPage:
    items: list[BoardChange]
    next_cursor: str | None  # the seq below which the next (older) page starts


class BoardService:
    def __init__(self, spaces: SpaceService, strokes: StrokeStore) -> None:
        self.spaces = spaces
        self.strokes = strokes

    async def board(
        self, principal: Principal, space_id: str, at: int | None = None
    ) -> tuple[BoardPosition, list[StoredStroke]]:
        """The board now, or right after change `at` (the same shape as a join's snapshot)."""
        await self.spaces.access(principal, space_id)
        if at is None:
            return await self.strokes.snapshot(space_id)
        if at < 0:
            raise ValidationFailed({"at": "must be 0 or more"})
        return await self.strokes.board_at(space_id, at)

    async def changes(self, principal: Principal, space_id: str, *, limit: int, cursor: str | None) -> ChangesPage:
        """The board's changes, newest first: who drew or removed what, and when."""
        await self.spaces.access(principal, space_id)
        before = None
        if cursor is not None:
            if not cursor.isdigit() or len(cursor) > 18:
                raise InvalidCursor("The cursor is invalid.")
            before = int(cursor)
        rows = await self.strokes.changes(space_id, before, limit + 1)
        more = len(rows) > limit
        items = rows[:limit]
        return ChangesPage(items, str(items[-1].seq) if more and items else None)

    async def svg(self, principal: Principal, space_id: str) -> str:
        _position, strokes = await self.board(principal, space_id)
        return render_svg(strokes)


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _text(stroke: Stroke, x: float, y: float, fill: str) -> str:
    """Text as SVG text: one <tspan> per line, every character escaped (it is the typist's)."""
    size = stroke.width
    lines = (stroke.text or "").split("\n")
    spans = "".join(
        f'<tspan x="{_num(x)}" dy="{_num(size * 1.25 if n else size)}">{escape(line)}</tspan>'
        for n, line in enumerate(lines)
    )
    return (
        f'<text x="{_num(x)}" y="{_num(y)}" font-family="sans-serif" font-size="{_num(size)}" '
        f'fill="{escape(fill)}" xml:space="preserve">{spans}</text>'
    )


def _shape(s: StoredStroke) -> str:
    stroke = s.stroke
    pts = [(float(p[0]), float(p[1])) for p in stroke.points]  # [x, y] or [x, y, pressure]
    if stroke.tool == "text":
        return _text(stroke, pts[0][0], pts[0][1], stroke.color)
    if stroke.tool == "note":
        (x0, y0), (x1, y1) = pts[0], pts[-1]
        x, y, w, h = min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0)
        pad = stroke.width / 2
        return (
            f'<g><rect x="{_num(x)}" y="{_num(y)}" width="{_num(w)}" height="{_num(h)}" rx="4" '
            f'fill="{escape(stroke.color)}" stroke="#00000022"/>{_text(stroke, x + pad, y + pad, "#1f2937")}</g>'
        )
    paint = f'stroke="{escape(stroke.color)}" stroke-width="{_num(stroke.width)}" fill="none"'
    opacity = _SEE_THROUGH.get(stroke.tool)
    if opacity is not None:
        paint += f' opacity="{opacity}"'
    (x0, y0), (x1, y1) = pts[0], pts[-1]
    if len(pts) == 1:
        return f'<circle cx="{_num(x0)}" cy="{_num(y0)}" r="{_num(stroke.width / 2)}" fill="{escape(stroke.color)}"/>'
    if stroke.tool == "line":
        return f'<line x1="{_num(x0)}" y1="{_num(y0)}" x2="{_num(x1)}" y2="{_num(y1)}" {paint}/>'
    if stroke.tool == "rect":
        x, y, w, h = min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0)
        return f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(w)}" height="{_num(h)}" {paint}/>'
    if stroke.tool == "ellipse":
        cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, abs(x1 - x0) / 2, abs(y1 - y0) / 2
        return f'<ellipse cx="{_num(cx)}" cy="{_num(cy)}" rx="{_num(rx)}" ry="{_num(ry)}" {paint}/>'
    if stroke.tool == "arrow":
        return (
            f'<line x1="{_num(x0)}" y1="{_num(y0)}" x2="{_num(x1)}" y2="{_num(y1)}" {paint} marker-end="url(#arrow)"/>'
        )
    path = " ".join(f"{_num(x)},{_num(y)}" for x, y in pts)
    return f'<polyline points="{path}" {paint} stroke-linecap="round" stroke-linejoin="round"/>'


def render_svg(strokes: list[StoredStroke]) -> str:
    """The board as a standalone SVG: shapes only (no script, no links, no external reference), every
    attribute value escaped; the view covers the world and whatever was drawn beyond it."""
    xs = [float(p[0]) for s in strokes for p in s.stroke.points]
    ys = [float(p[1]) for s in strokes for p in s.stroke.points]
    for s in strokes:
        if s.stroke.tool == "text":  # a label runs right and down from its point (an estimate of its box)
            lines = (s.stroke.text or "").split("\n")
            xs.append(float(s.stroke.points[0][0]) + max(map(len, lines)) * s.stroke.width * 0.6)
            ys.append(float(s.stroke.points[0][1]) + len(lines) * s.stroke.width * 1.25)
    pad = max((s.stroke.width for s in strokes), default=0.0)
    left, top = min([0.0, *(x - pad for x in xs)]), min([0.0, *(y - pad for y in ys)])
    right, bottom = max([WORLD_W, *(x + pad for x in xs)]), max([WORLD_H, *(y + pad for y in ys)])
    width, height = right - left, bottom - top
    shapes = "".join(_shape(s) for s in sorted(strokes, key=lambda s: s.seq))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{_num(left)} {_num(top)} {_num(width)} {_num(height)}" '
        f'width="{_num(width)}" height="{_num(height)}">'
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="8" refY="5" markerWidth="6" markerHeight="6" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="context-stroke"/></marker></defs>'
        f'<rect x="{_num(left)}" y="{_num(top)}" width="{_num(width)}" height="{_num(height)}" fill="#ffffff"/>'
        f"{shapes}</svg>"
    )
