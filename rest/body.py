"""Request body and query parsing with hard limits, then typed validation.

Hostile input gets a 4xx with a stable code and never reaches a service: non-JSON content types
(415), oversize bodies (413), malformed JSON (400 `invalid_json`), nesting deeper than the limit
(400 `json_too_deep`), NUL characters (400 `nul_byte`), numbers beyond ±2^53 (400
`number_out_of_range`), and schema violations (422 with one message per field).
"""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from sanic import Request

from hub.errors import BadRequest, InvalidJson, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from rest import context

M = TypeVar("M", bound=BaseModel)
MAX_SAFE_NUMBER = 2**53


def _check_tree(value: Any, max_depth: int) -> None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            if depth > max_depth:
                raise BadRequest("The JSON body is nested too deeply.", code="json_too_deep")
            for key, child in node.items():
                if "\x00" in key:
                    raise BadRequest("NUL characters are not allowed.", code="nul_byte")
                stack.append((child, depth + 1))
        elif isinstance(node, list):
            if depth > max_depth:
                raise BadRequest("The JSON body is nested too deeply.", code="json_too_deep")
            stack.extend((child, depth + 1) for child in node)
        elif isinstance(node, str):
            if "\x00" in node:
                raise BadRequest("NUL characters are not allowed.", code="nul_byte")
        elif isinstance(node, int | float) and not isinstance(node, bool) and abs(node) > MAX_SAFE_NUMBER:
            raise BadRequest("A number is out of range.", code="number_out_of_range")


def loads_checked(raw: bytes, max_depth: int) -> Any:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        message = str(exc)
        if "depth" in message or "recursion" in message:
            raise BadRequest("The JSON body is nested too deeply.", code="json_too_deep") from None
        if "infinity" in message:
            raise BadRequest("A number is out of range.", code="number_out_of_range") from None
        raise InvalidJson(details={"reason": message.split(":")[0][:200]}) from None
    _check_tree(value, max_depth)
    return value


def validation_fields(exc: ValidationError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for err in exc.errors(include_url=False, include_input=False):
        loc = ".".join(str(p) for p in err["loc"]) or "body"
        fields.setdefault(loc, err["msg"])
    return fields


def validate(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(validation_fields(exc)) from None


def json_body(request: Request, model: type[M]) -> M:
    """Parse and validate the request's JSON body as `model`."""
    settings = context.settings(request)
    content_type = (request.content_type or "").split(";")[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise UnsupportedMediaType()
    raw = request.body or b""
    if len(raw) > settings.body_limit_bytes:
        raise PayloadTooLarge(details={"limit_bytes": settings.body_limit_bytes})
    if not raw.strip():
        raw = b"{}"
    return validate(model, loads_checked(raw, settings.json_max_depth))


def query(request: Request, model: type[M]) -> M:
    """Validate query parameters (last value wins) as `model`."""
    data: dict[str, Any] = {}
    for key, values in request.args.items():
        value = values[-1]
        if "\x00" in key or "\x00" in value:
            raise BadRequest("NUL characters are not allowed.", code="nul_byte")
        data[key] = value
    return validate(model, data)
