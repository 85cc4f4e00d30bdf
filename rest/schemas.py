"""Request/response pieces shared by several blueprints."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    limit: int = Field(50, ge=1, le=100)
    cursor: str | None = Field(None, max_length=512)
