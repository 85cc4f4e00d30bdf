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
    # Per dispatch as Sanic calls it (the event, whether it may fail, and the condition, such as each
    # middleware run's {"attach_to": ...}): True when Sanic would answer None without running anything.
    # One dict lookup per dispatch; formatting the event and asking the router cost 11 % of `/healthz`.
    quiet: dict[tuple[Any, ...], bool] = {}

    def answers_none(event: str | Enum, fail_not_found: bool, condition: dict[str, str] | None) -> bool:
        if app.debug:  # Sanic logs each missing signal when debugging
            return False
        name = router.format_event(event)
        # Sanic answers None for a missing event only when it may not fail: the same cases here.
        if fail_not_found and not (name.split(".", 1)[0] in RESERVED_NAMESPACES and not router.allow_fail_builtin):
            return False
        try:
            router.get(name, condition=condition)
        except NotFound:
            return True
        return False

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
            quiet.clear()  # routes may still be added (or the router was reset)
        elif inline:
            key = (event, fail_not_found) if condition is None else (event, fail_not_found, *condition.items())
            skip = quiet.get(key)
            if skip is None:
                skip = quiet[key] = answers_none(event, fail_not_found, condition)
            if skip:
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
