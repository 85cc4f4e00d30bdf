"""Which driver exceptions mean "a backing service is unreachable", for the adapters' last resort.

Repositories translate their own driver's errors at the boundary (`storage/postgres/db.py`,
`storage/blobs/s3.py`, `storage/redis/*`); this catches what slips past them (a call outside a
repository, a library that talks to Redis itself) so that an outage is a 503 with Retry-After, never
a 500. The adapters get it through the hub (`Hub.unavailable`), so they need no driver imports.
"""

from __future__ import annotations

import errno

import asyncpg
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError
from limits.errors import StorageError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from hub.errors import HubError, ServiceUnavailable

_DRIVER = (
    RedisConnectionError,
    RedisTimeoutError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.InterfaceError,
    BotoConnectionError,
    EndpointConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
    ConnectionError,
    TimeoutError,
)
# OSErrors that are about the network; a missing file or a full disk is a bug or an operator's problem.
_NETWORK_ERRNOS = frozenset({
    errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE, errno.ENOTCONN,
    errno.ETIMEDOUT, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENETDOWN, errno.EHOSTDOWN,
    errno.EADDRNOTAVAIL,
})


def as_unavailable(exc: BaseException) -> HubError | None:
    """`ServiceUnavailable` when `exc` (or what it wraps) is a dependency being unreachable, else None."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 5:
        if isinstance(current, StorageError):
            current = current.storage_error
        if isinstance(current, _DRIVER) or (
            isinstance(current, OSError) and current.errno in _NETWORK_ERRNOS
        ):
            return ServiceUnavailable()
        current = current.__cause__  # an explicit `raise ... from`: what a wrapper says it wraps
        seen += 1
    return None
