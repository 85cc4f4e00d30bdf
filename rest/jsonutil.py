"""orjson-based JSON for responses (datetimes as ISO 8601, UUIDs as strings)."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel
from sanic import HTTPResponse
from sanic.response import json as _json


def _default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, set | frozenset):
        return list(value)
    raise TypeError


def dumps(value: Any, **_: Any) -> str:
    return orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS).decode()


def json(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> HTTPResponse:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    return _json(value, status=status, headers=headers, dumps=dumps)
