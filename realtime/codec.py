"""orjson for Socket.IO/Engine.IO packets: faster, and strict where the stdlib is lax.

The stdlib `json` accepts NaN and Infinity and integers of any size; orjson refuses them at the
socket boundary (a decode error is a `ValueError`, which the server turns into a dropped packet).
"""

from __future__ import annotations

from typing import Any

import orjson


class OrjsonCodec:
    """The subset of the `json` module that python-socketio and python-engineio call."""

    @staticmethod
    def dumps(obj: Any, **_: Any) -> str:
        return orjson.dumps(obj).decode()

    @staticmethod
    def loads(text: str | bytes, **_: Any) -> Any:
        return orjson.loads(text)
