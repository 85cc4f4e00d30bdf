"""Request/response pieces shared by several blueprints."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    limit: int = Field(50, ge=1, le=100)
    cursor: str | None = Field(None, max_length=512)


class OutModel(BaseModel):
    """A response model read from a core record by attribute: `SpaceOut.model_validate(record)`.

    Each field is named once, here, and pydantic copies and checks it, so a record and its JSON cannot
    drift apart through a forgotten line of a hand-written copy. Fields the record does not carry are
    merged in by the caller (`model_validate({**asdict(record), "link": ...})`).
    """

    model_config = ConfigDict(from_attributes=True)


class TwoWayPageQuery(PageQuery):
    """A page of a newest-first list: `cursor` (a `next_cursor`) for older items, or `since` (a
    `prev_cursor`) for the items that arrived after it."""

    since: str | None = Field(None, max_length=512)
