"""Route declaration that doubles as the OpenAPI 3.1 description.

`endpoint()` registers a handler on a blueprint and attaches its `Operation` (request model, response
model, query model, error statuses, auth). `build_openapi()` walks the app's routes, so the document
can never list a route that does not exist or miss one that does.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel
from sanic import Blueprint, Sanic

F = TypeVar("F", bound=Callable[..., Any])

_PARAM = re.compile(r"\{(\w+)\}")
_COMMON_ERRORS = (400, 429, 500)
_REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    302: "Found",
    304: "Not Modified",
    400: "Bad request",
    401: "Unauthenticated",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    410: "Gone",
    412: "Precondition failed",
    413: "Payload too large",
    415: "Unsupported media type",
    416: "Range not satisfiable",
    422: "Validation failed",
    428: "Precondition required",
    429: "Rate limited",
    500: "Internal error",
    503: "Unavailable",
}


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: dict[str, Any]
    request_id: str


class ErrorBody(BaseModel):
    """Every 4xx/5xx body."""

    error: ErrorDetail


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str
    summary: str
    tags: tuple[str, ...]
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    errors: tuple[int, ...] = ()
    auth: bool = True
    content: Literal["json", "text", "redirect", "empty", "html", "svg", "any"] = "json"
    extra_responses: dict[int, str] = field(default_factory=dict)
    # Response headers of the success answer: name -> description.
    headers: dict[str, str] = field(default_factory=dict)


def endpoint(
    bp: Blueprint,
    method: str,
    path: str,
    *,
    summary: str,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    errors: tuple[int, ...] = (),
    auth: bool = True,
    content: Literal["json", "text", "redirect", "empty", "html", "svg", "any"] = "json",
    headers: dict[str, str] | None = None,
) -> Callable[[F], F]:
    """Register `handler` for `method path` (OpenAPI-style `{param}` path) and describe it."""

    def decorate(handler: F) -> F:
        op = Operation(
            method=method.upper(),
            path=path,
            summary=summary,
            tags=(bp.name,),
            body=body,
            query=query,
            response=response,
            status=status,
            errors=errors,
            auth=auth,
            content=content,
            headers=headers or {},
        )
        handler.__openapi__ = op  # type: ignore[attr-defined]
        sanic_path = _PARAM.sub(r"<\1:str>", path)
        bp.add_route(handler, sanic_path, methods=[op.method], name=handler.__name__, strict_slashes=False)
        return handler

    return decorate


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
    for name, definition in schema.pop("$defs", {}).items():
        components[name] = definition
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _input_schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="validation")
    for name, definition in schema.pop("$defs", {}).items():
        components[name] = definition
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def operations(app: Sanic) -> list[Operation]:
    seen: dict[tuple[str, str], Operation] = {}
    for route in app.router.routes:
        op = getattr(route.handler, "__openapi__", None)
        if isinstance(op, Operation):
            seen[(op.method, op.path)] = op
    return sorted(seen.values(), key=lambda o: (o.path, o.method))


@dataclass(frozen=True, slots=True)
class SettingLimit:
    model: type[BaseModel]
    field: str
    keyword: str  # a JSON Schema keyword: maxLength, maximum
    setting: str  # a `hub.config.Settings` field


_SETTING_LIMITS: list[SettingLimit] = []


def limited_by_setting(model: type[BaseModel], field: str, keyword: str, setting: str) -> None:
    """Declare that `model.field`'s `keyword` is what the hub's setting `setting` says: the model keeps
    a fixed ceiling (so a body is bounded before it reaches a service), the service enforces the
    setting, and the document shows the setting's value, as this hub enforces it."""
    _SETTING_LIMITS.append(SettingLimit(model, field, keyword, setting))


def _apply_settings(components: dict[str, Any], settings: Any) -> None:
    for limit in _SETTING_LIMITS:
        schema = components.get(limit.model.__name__)
        if schema is None:
            continue
        prop = schema["properties"][limit.field]
        value = getattr(settings, limit.setting)
        for part in (prop, *prop.get("anyOf", ())):
            if limit.keyword in part:
                part[limit.keyword] = value


def build_openapi(app: Sanic, *, title: str, version: str, server_url: str, settings: Any = None) -> dict[str, Any]:
    """The OpenAPI document of the app's endpoints; with `settings`, the limits declared with
    `limited_by_setting` read as this hub enforces them."""
    components: dict[str, Any] = {}
    error_ref = _schema(ErrorBody, components)
    paths: dict[str, dict[str, Any]] = {}
    for op in operations(app):
        item: dict[str, Any] = {
            "operationId": op.method.lower() + "_" + re.sub(r"[^a-z0-9]+", "_", op.path.lower()).strip("_"),
            "summary": op.summary,
            "tags": list(op.tags),
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string", "maxLength": 200}}
                for name in _PARAM.findall(op.path)
            ],
            "responses": {},
        }
        if op.query is not None:
            schema = op.query.model_json_schema()
            required = set(schema.get("required", []))
            for name, prop in schema.get("properties", {}).items():
                item["parameters"].append({"name": name, "in": "query", "required": name in required, "schema": prop})
        if op.body is not None:
            item["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _input_schema(op.body, components)}},
            }
        if op.auth:
            item["security"] = [{"bearer": []}]
        ok: dict[str, Any] = {"description": _REASONS.get(op.status, "OK")}
        if op.response is not None:
            ok["content"] = {"application/json": {"schema": _schema(op.response, components)}}
        elif op.content == "text":
            ok["content"] = {"text/plain": {"schema": {"type": "string"}}}
        elif op.content == "html":
            ok["content"] = {"text/html": {"schema": {"type": "string"}}}
        elif op.content == "svg":
            ok["content"] = {"image/svg+xml": {"schema": {"type": "string"}}}
        elif op.content == "json":
            ok["content"] = {"application/json": {"schema": {"type": "object"}}}
        elif op.content == "redirect":
            ok["headers"] = {"Location": {"schema": {"type": "string"}}}
        for name, description in op.headers.items():
            ok.setdefault("headers", {})[name] = {"description": description, "schema": {"type": "string"}}
        item["responses"][str(op.status)] = ok
        statuses = set(_COMMON_ERRORS) | set(op.errors)
        if op.auth:
            statuses.add(401)
        if op.body is not None:
            statuses |= {413, 415, 422}
        if op.query is not None:
            statuses.add(422)
        for status in sorted(statuses):
            item["responses"][str(status)] = {
                "description": _REASONS.get(status, "Error"),
                "content": {"application/json": {"schema": error_ref}},
            }
        paths.setdefault(op.path, {})[op.method.lower()] = item
    if settings is not None:
        _apply_settings(components, settings)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


def render_docs(spec: dict[str, Any]) -> str:
    """The API reference page: Swagger UI (vendored under /static, run by /static/js/docs.js, so the
    strict CSP holds: no inline script or style, no CDN), over a script-free table of every operation
    that stays for a browser without JavaScript."""
    rows = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            codes = ", ".join(sorted(op["responses"]))
            auth = "yes" if op.get("security") else "no"
            rows.append(
                f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}</code></td>"
                f"<td>{html.escape(op.get('summary', ''))}</td><td>{auth}</td><td>{codes}</td></tr>"
            )
    title = html.escape(spec["info"]["title"])
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width, initial-scale=1'>"
        f"<title>{title} API</title><link rel=stylesheet href=/static/vendor/swagger-ui/swagger-ui.css>"
        "<link rel=stylesheet href=/static/docs.css></head><body>"
        "<div id=swagger-ui></div>"
        f"<main id=fallback><h1>{title} API</h1><p>Machine-readable: <a href=/openapi.json>/openapi.json</a></p>"
        "<table><thead><tr><th>Method</th><th>Path</th><th>Summary</th><th>Auth</th><th>Responses</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></main>"
        "<script src=/static/vendor/swagger-ui/swagger-ui-bundle.js></script>"
        "<script src=/static/js/docs.js></script></body></html>"
    )
