"""The whiteboard over REST: the board now or after any change, its history, and an SVG export."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sanic import Blueprint, HTTPResponse, Request
from sanic.response import raw

from hub.services.board import BoardService
from hub.services.whiteboard import stroke_event
from rest.auth import authenticate
from rest.body import query
from rest.context import hub
from rest.jsonutil import json
from rest.openapi import endpoint
from rest.schemas import PageQuery

bp = Blueprint("board")


class BoardQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    at: int | None = Field(None, ge=0, le=2**62, description="The board right after this change (a seq).")


class BoardOut(BaseModel):
    seq: int = Field(description="The change the board is shown after.")
    epoch: str
    strokes: list[dict[str, Any]] = Field(description="As in a join's snapshot (docs/realtime.md), in seq order.")


class ChangeOut(BaseModel):
    seq: int
    kind: str = Field(description="stroke, erase, clear, undo, transform or restore")
    author_id: str | None
    strokes: int = Field(description="How many elements the change drew (1), took off, moved or restored.")
    at: datetime | None = Field(description="When; unknown (null) for removals recorded before it was kept.")


class ChangePage(BaseModel):
    items: list[ChangeOut]
    next_cursor: str | None


def _board(request: Request) -> BoardService:
    service: BoardService = hub(request).board
    return service


@endpoint(
    bp,
    "GET",
    "/spaces/{space_id}/board",
    summary="The whiteboard now, or with at=<seq> as it was right after that change (members).",
    query=BoardQuery,
    response=BoardOut,
    errors=(404, 410),
)
async def get_board(request: Request, space_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    q = query(request, BoardQuery)
    position, strokes = await _board(request).board(principal, space_id, q.at)
    # `BoardOut`'s shape, encoded by orjson: validating and serialising hundreds of untyped stroke
    # dicts through the model took 4 of a 10 ms answer.
    body = {
        "seq": position.seq,
        "epoch": position.epoch,
        "strokes": [stroke_event(space_id, s.seq, s.author_id, s.stroke) for s in strokes],
    }
    return json(body)


@endpoint(
    bp,
    "GET",
    "/spaces/{space_id}/board/history",
    summary="The whiteboard's changes, newest first: each stroke drawn, each erase, clear, undo, move and restore.",
    query=PageQuery,
    response=ChangePage,
    errors=(404, 410),
)
async def board_history(request: Request, space_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    q = query(request, PageQuery)
    page = await _board(request).changes(principal, space_id, limit=q.limit, cursor=q.cursor)
    items = [ChangeOut(seq=c.seq, kind=c.kind, author_id=c.author_id, strokes=c.strokes, at=c.at) for c in page.items]
    return json(ChangePage(items=items, next_cursor=page.next_cursor))


@endpoint(
    bp,
    "GET",
    "/spaces/{space_id}/board.svg",
    summary="The whiteboard as an SVG image, drawn from the stored strokes (members).",
    errors=(404, 410),
    content="svg",
)
async def board_svg(request: Request, space_id: str) -> HTTPResponse:
    principal = await authenticate(request)
    svg = await _board(request).svg(principal, space_id)
    return raw(
        svg.encode(),
        content_type="image/svg+xml",
        headers={
            "Content-Disposition": 'attachment; filename="board.svg"',
            # Opened on its own, the image can run nothing and load nothing.
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
        },
    )
