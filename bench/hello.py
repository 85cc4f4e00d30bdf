"""The REST benchmark's floor: a bare Sanic hello-world, served by uvicorn as the hub is (ASGI, no
middleware, no logging), so that the hub's figures read as a fraction of what the stack itself can do."""

from __future__ import annotations

from sanic import Request, Sanic
from sanic.response import HTTPResponse, json

app = Sanic("bench_hello")
app.config.ACCESS_LOG = False


@app.get("/hello")
async def hello(request: Request) -> HTTPResponse:
    return json({"hello": "world"})
