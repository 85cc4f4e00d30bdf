"""Structured JSON logging: one line per request and named events (`space_created`, …)."""

from __future__ import annotations

import itertools
import logging
import secrets
import sys
import time
from typing import Any

import orjson

EVENT_LOGGER = "hub.events"

# A request id needs to be unique, not secret: a random prefix per process and a counter. Reading
# os.urandom for every request (`secrets.token_hex`) was 3 % of a `/healthz` answer's CPU.
_PROCESS = secrets.token_hex(5)
_COUNTER = itertools.count(1)


def new_request_id() -> str:
    """24 hex characters, unique across the hub's processes and their restarts."""
    return f"{_PROCESS}{next(_COUNTER):014x}"


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object per line; `extra={"fields": {...}}` is merged in."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            payload.update(fields)
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(payload, default=str).decode()


def configure_logging(level: str = "INFO", json_lines: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if json_lines else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Framework loggers duplicate our access line; keep their warnings only.
    for noisy in ("sanic.access", "uvicorn.access", "engineio.server", "socketio.server"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def log_event(event: str, /, **fields: Any) -> None:
    """Log a named domain event, e.g. ``log_event("space_created", space_id=...)``."""
    logging.getLogger(EVENT_LOGGER).info(event, extra={"fields": {**fields, "event": event}})
