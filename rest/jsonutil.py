"""orjson-based JSON for responses (datetimes as ISO 8601, UUIDs as strings)."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel
from sanic import HTTPResponse


def _default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, set | frozenset):
        return list(value)
    raise TypeError


def _encode(value: Any) -> bytes:
    return orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS)


def dumps(value: Any, **_: Any) -> str:
    return _encode(value).decode()


def json(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> HTTPResponse:
    # Straight to bytes: a model through its own compiled serializer (the same JSON as
    # model_dump(mode="json"), without the intermediate dicts), anything else through orjson.
    if isinstance(value, BaseModel):
        body = value.__pydantic_serializer__.to_json(value)
    else:
        body = _encode(value)
    return HTTPResponse(body, status=status, headers=headers, content_type="application/json")
