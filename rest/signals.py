"""Sanic's lifecycle signals, dispatched only when something listens.

Every request dispatches about ten `http.*` events inline (routing before and after, handler before and
after, lifecycle request and response, ...). With no handler, each dispatch routes the event, raises
`NotFound`, catches it and raises it again with a formatted message before giving up: 18 % of the CPU
of a `/healthz` answer (py-spy, docs/performance.md "REST reads"). Once the signal router is finalized
(at start-up) the set of events with handlers cannot change, so whether one has handlers is asked
once per event and remembered; an event without any then returns at once, exactly as Sanic would have
answered it (None), and every other dispatch goes through Sanic unchanged.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from sanic import Sanic
from sanic.signals import RESERVED_NAMESPACES
from sanic_routing.exceptions import NotFound


def skip_unhandled_signals(app: Sanic) -> None:
    router = app.signal_router
    dispatch = router.dispatch
    # Keyed by the event and its condition: each middleware run dispatches `http.middleware.*` with
    # {"attach_to": ...}, and a handler may be registered for one condition and not another.
    handled: dict[tuple[str, tuple[tuple[str, str], ...]], bool] = {}

    def has_handlers(event: str, condition: dict[str, str] | None) -> bool:
        key = (event, tuple(sorted(condition.items())) if condition else ())
        known = handled.get(key)
        if known is None:
            try:
                router.get(event, condition=condition)
                known = True
            except NotFound:
                known = False
            handled[key] = known
        return known

    async def dispatch_if_handled(
        event: str | Enum,
        *,
        context: dict[str, Any] | None = None,
        condition: dict[str, str] | None = None,
        fail_not_found: bool = True,
        inline: bool = False,
        reverse: bool = False,
    ) -> Any:
        if not router.finalized:
            handled.clear()  # routes may still be added (or the router was reset)
        elif inline and not app.debug:
            name = router.format_event(event)
            # Sanic answers None for a missing event only when it may not fail: the same cases here.
            quiet = not fail_not_found or (
                name.split(".", 1)[0] in RESERVED_NAMESPACES and not router.allow_fail_builtin
            )
            if quiet and not has_handlers(name, condition):
                return None
        return await dispatch(
            event,
            context=context,
            condition=condition,
            fail_not_found=fail_not_found,
            inline=inline,
            reverse=reverse,
        )

    router.dispatch = dispatch_if_handled  # type: ignore[method-assign]
