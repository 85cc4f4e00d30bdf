"""The personal room: events addressed to one user, delivered to that user's sockets on every instance.

Every socket of a registered account joins the account's room (`hub.events.user_room`) on connect;
guests do not (they cannot follow anyone, so nothing is ever pushed to them; a guest who registers
joins with its next connection). A service publishes on the user's topic after its commit; every
instance's `PersonalRooms` hears it on the bus and hands it to the adapter's deliverer, which emits
to the room's local sockets. Revocations travel on the same topic but are the whiteboard service's
(they close the sockets, which leaves the room): only the `PERSONAL` types are delivered here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from hub.events import PERSONAL, BusEvent, user_of, user_topic
from hub.ports.infra import Bus

log = logging.getLogger(__name__)

# (user id, Socket.IO event name, payload): emit to that user's sockets on this instance.
DeliverToUser = Callable[[str, str, dict[str, Any]], Awaitable[None]]

# What each personal event shows its recipient: the documented fields only (docs/realtime.md).
_FIELDS: dict[str, tuple[str, ...]] = {
    BusEvent.FEED_POST: ("id", "author"),
    BusEvent.NOTIFICATION: ("notification", "unread_count"),
}


class PersonalRooms:
    """Publishes personal events and delivers the bus's personal events to this instance's sockets."""

    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self._deliver: list[DeliverToUser] = []
        bus.subscribe(self._on_bus)

    def add_deliverer(self, deliver: DeliverToUser) -> None:
        self._deliver.append(deliver)

    async def feed_post(self, recipients: Iterable[str], post_id: str, author_id: str) -> None:
        """Tell each recipient's sockets, wherever they are connected, that `post_id` by `author_id` is
        new in their home feed. Call it after the post's commit."""
        event = {"type": BusEvent.FEED_POST, "id": post_id, "author": author_id}
        await self._bus.publish_many([(user_topic(user_id), event) for user_id in recipients])

    async def _on_bus(self, topic: str, event: dict[str, Any]) -> None:
        user_id = user_of(topic)
        kind = event.get("type")
        if user_id is None or not isinstance(kind, str) or kind not in PERSONAL:
            return
        name = PERSONAL[BusEvent(kind)]
        payload = {key: event.get(key) for key in _FIELDS[kind]}
        for deliver in self._deliver:
            try:
                await deliver(user_id, name, payload)
            except Exception:
                log.exception("personal delivery failed", extra={"fields": {"event": name}})
