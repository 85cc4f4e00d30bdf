"""Request/response pieces shared by several blueprints."""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    limit: int = Field(50, ge=1, le=100)
    cursor: str | None = Field(None, max_length=512)


class OutModel(BaseModel):
    """A response model read from a core record by attribute: `SpaceOut.model_validate(record)`.

    Each field is named once, here, and pydantic copies and checks it, so a record and its JSON cannot
    drift apart through a forgotten line of a hand-written copy. Fields the record does not carry are
    merged in by the caller (`model_validate({**record_fields(record), "link": ...})`).
    """

    model_config = ConfigDict(from_attributes=True)


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def record_fields(record: Any) -> dict[str, Any]:
    """A core record's fields as a dict, shallow: `dataclasses.asdict` deep-copies every value, which
    the response model then copies again (a tenth of a bin read's CPU went there)."""
    cls = type(record)
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(record))
    return {name: getattr(record, name) for name in names}


class TwoWayPageQuery(PageQuery):
    """A page of a newest-first list: `cursor` (a `next_cursor`) for older items, or `since` (a
    `prev_cursor`) for the items that arrived after it."""

    since: str | None = Field(None, max_length=512)
