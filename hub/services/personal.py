"""The personal room: events addressed to users, delivered to their sockets on every instance.

Every socket of a registered account joins the account's room (`hub.events.user_room`) on connect;
guests do not (they cannot follow anyone, so nothing is ever pushed to them; a guest who registers
joins with its next connection). A service publishes after its commit: on the user's topic for one
user (a notification), on `people_topic` with the recipients in `to` for many (a new post, to every
follower). Every instance's `PersonalRooms` hears it on the bus and hands it to the adapter's
deliverer, which emits once to the rooms of those users that have sockets there. Revocations travel
on the user's topic too but are the whiteboard service's (they close the sockets, which leaves the
room): only the `PERSONAL` types are delivered here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from hub.events import PERSONAL, BusEvent, people_topic, user_of
from hub.ports.infra import Bus

log = logging.getLogger(__name__)

# (user ids, Socket.IO event name, payload): emit to those users' sockets on this instance.
DeliverToUsers = Callable[[list[str], str, dict[str, Any]], Awaitable[None]]

# Recipients per bus event: a post to 5,000 followers is 5 events (each about 40 KB), not 5,000
# that every instance's every bus handler would look at.
RECIPIENTS_PER_EVENT = 1000

# What each personal event shows its recipient: the documented fields only (docs/realtime.md).
_FIELDS: dict[str, tuple[str, ...]] = {
    BusEvent.FEED_POST: ("id", "author"),
    BusEvent.NOTIFICATION: ("notification", "unread_count"),
}


class PersonalRooms:
    """Publishes personal events and delivers the bus's personal events to this instance's sockets."""

    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self._deliver: list[DeliverToUsers] = []
        bus.subscribe(self._on_bus)

    def add_deliverer(self, deliver: DeliverToUsers) -> None:
        self._deliver.append(deliver)

    async def feed_post(self, recipients: Iterable[str], post_id: str, author_id: str) -> None:
        """Tell each recipient's sockets, wherever they are connected, that `post_id` by `author_id` is
        new in their home feed. Call it after the post's commit."""
        to = list(recipients)
        await self._bus.publish_many(
            [
                (
                    people_topic(),
                    {
                        "type": BusEvent.FEED_POST,
                        "to": to[i : i + RECIPIENTS_PER_EVENT],
                        "id": post_id,
                        "author": author_id,
                    },
                )
                for i in range(0, len(to), RECIPIENTS_PER_EVENT)
            ]
        )

    async def _on_bus(self, topic: str, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if not isinstance(kind, str) or kind not in PERSONAL:
            return
        if topic == people_topic():
            to = event.get("to")
            users = [u for u in to if isinstance(u, str)] if isinstance(to, list) else []
        else:
            one = user_of(topic)
            users = [one] if one is not None else []
        if not users:
            return
        name = PERSONAL[BusEvent(kind)]
        payload = {key: event.get(key) for key in _FIELDS[kind]}
        for deliver in self._deliver:
            try:
                await deliver(users, name, payload)
            except Exception:
                log.exception("personal delivery failed", extra={"fields": {"event": name}})
