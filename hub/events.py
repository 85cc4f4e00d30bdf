"""Every bus topic and event name of the hub, declared once.

Three kinds of names cross a process boundary and must never drift between the code that sends them
and the code that receives them (as Centrifuge keeps its disconnect codes in one `disconnect.go`):

- bus topics: built and parsed only here (`space_topic`, `board_topic`, `user_topic`,
  `people_topic`, and the parsers `space_of`, `board_of`, `user_of`), never with an f-string or a
  slice at a call site;
  likewise the Socket.IO room of a user's sockets (`user_room`);
- bus event types (`BusEvent`): the `type` of the domain events services publish after a commit;
- Socket.IO event names: those a client sends (`ClientEvent`) and those the server emits
  (`ServerEvent`, plus the domain events in `RELAYED`, emitted under their bus type; `PERSONAL`
  names what a user's topic carries to that user's sockets).

The values are part of the wire protocol (docs/realtime.md) and of the bus between instances of
different versions during a rolling deploy: rename a member freely, never change a value.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

__all__ = [
    "PERSONAL",
    "RELAYED",
    "BusEvent",
    "ClientEvent",
    "ServerEvent",
    "board_of",
    "board_topic",
    "people_topic",
    "space_of",
    "space_topic",
    "user_of",
    "user_room",
    "user_topic",
]

_SPACE: Final = "space:"
_BOARD: Final = "wb:"
_USER: Final = "user:"
_PEOPLE: Final = "people"


def space_topic(space_id: str) -> str:
    """The topic of a space's domain events (bins, files, members, the space itself)."""
    return _SPACE + space_id


def board_topic(space_id: str) -> str:
    """The topic on which instances relay a whiteboard room's live events to each other."""
    return _BOARD + space_id


def user_topic(user_id: str) -> str:
    """The topic of one user's events: the revocations of their logins and what `PERSONAL` pushes
    to their sockets."""
    return _USER + user_id


def people_topic() -> str:
    """The topic of personal events addressed to a list of users at once (their `to`): a new post
    reaches thousands of followers as a few events rather than one per follower."""
    return _PEOPLE


def user_room(user_id: str) -> str:
    """The Socket.IO room every socket of a registered account joins on connect (named as its topic)."""
    return _USER + user_id


def _id_in(prefix: str, topic: str) -> str | None:
    return topic[len(prefix) :] if topic.startswith(prefix) else None


def space_of(topic: str) -> str | None:
    """The space id of a `space_topic`, else None."""
    return _id_in(_SPACE, topic)


def board_of(topic: str) -> str | None:
    """The space id of a `board_topic`, else None."""
    return _id_in(_BOARD, topic)


def user_of(topic: str) -> str | None:
    """The user id of a `user_topic`, else None."""
    return _id_in(_USER, topic)


class BusEvent(StrEnum):
    """The `type` of an event on the bus."""

    # On `space_topic`, published by the service that committed the change.
    SPACE_UPDATED = "space_updated"
    SPACE_EXPIRED = "space_expired"
    SPACE_DELETED = "space_deleted"
    SPACE_TAKEN_DOWN = "space_taken_down"  # by a moderator: gone for its members until restored
    MEMBER_JOINED = "member_joined"
    MEMBER_ROLE_CHANGED = "member_role_changed"
    MEMBER_REMOVED = "member_removed"
    BIN_CREATED = "bin_created"
    BIN_UPDATED = "bin_updated"
    BIN_DELETED = "bin_deleted"
    FILE_UPLOADED = "file_uploaded"
    FILE_PROCESSED = "file_processed"
    FILE_DELETED = "file_deleted"
    # On `user_topic`.
    SESSION_REVOKED = "session_revoked"
    USER_REVOKED = "user_revoked"
    NOTIFICATION = "notification"  # a new notification: {notification, unread_count}
    # On `people_topic`: a new post in the home feeds of the users in `to`: {to, id, author}.
    FEED_POST = "feed_post"
    # On the author's `user_topic`, after the commit, for the feed and its caches:
    # {type, post_id, author_id, visibility, reply_to, created_at (ISO 8601)}; POST_DELETED carries
    # {type, post_id, author_id}. Never relayed to sockets as they are: a reader decides who may see them.
    POST_CREATED = "post_created"
    POST_UPDATED = "post_updated"
    POST_DELETED = "post_deleted"
    # On `board_topic`: an envelope carrying a `ServerEvent` (or a batch of them) to other instances.
    BOARD_RELAY = "wb"


class ClientEvent(StrEnum):
    """A Socket.IO event a client sends; each has an ack."""

    JOIN = "join"
    LEAVE = "leave"
    STROKE = "stroke"
    ERASE = "erase"
    CLEAR = "clear"
    UNDO = "undo"
    TRANSFORM = "transform"
    RESTORE = "restore"
    CURSOR = "cursor"
    AUTH = "auth"


class ServerEvent(StrEnum):
    """A Socket.IO event the server emits (besides the `RELAYED` domain events).

    The board changes are also the `type` of the events in the replay buffer and a join's ack.
    """

    STROKE = "stroke"
    ERASE = "erase"
    CLEAR = "clear"
    TRANSFORM = "transform"
    RESTORE = "restore"
    CURSOR = "cursor"
    PRESENCE = "presence"
    KICKED = "kicked"
    FEED_POST = "feed_post"  # to the personal room: {id, author}
    NOTIFICATION = "notification"  # to the personal room: {notification, unread_count}


# Domain events every socket in the space's room sees, emitted under their bus type.
RELAYED: Final = frozenset(
    {
        BusEvent.BIN_CREATED,
        BusEvent.BIN_UPDATED,
        BusEvent.BIN_DELETED,
        BusEvent.SPACE_UPDATED,
        BusEvent.SPACE_EXPIRED,
        BusEvent.SPACE_DELETED,
        BusEvent.SPACE_TAKEN_DOWN,
        BusEvent.FILE_UPLOADED,
        BusEvent.FILE_PROCESSED,
        BusEvent.FILE_DELETED,
        BusEvent.MEMBER_JOINED,
        BusEvent.MEMBER_REMOVED,
        BusEvent.MEMBER_ROLE_CHANGED,
    }
)

# Events on a user's topic that reach every socket of that user on every instance, and what they
# are emitted as (with the fields the protocol documents, nothing else of the bus event).
PERSONAL: Final = {
    BusEvent.FEED_POST: ServerEvent.FEED_POST,
    BusEvent.NOTIFICATION: ServerEvent.NOTIFICATION,
}
