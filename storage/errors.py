"""Which driver exceptions mean "a backing service is unreachable", for the adapters' last resort.

Repositories translate their own driver's errors at the boundary (`storage/postgres/db.py`,
`storage/blobs/s3.py`, `storage/redis/*`); this catches what slips past them (a call outside a
repository, a library that talks to Redis itself) so that an outage is a 503 with Retry-After, never
a 500. The adapters get it through the hub (`Hub.unavailable`), so they need no driver imports.
"""

from __future__ import annotations

import errno
import sys

from hub.errors import HubError, ServiceUnavailable


def _driver_errors() -> tuple[type[BaseException], ...]:
    """Connection-level errors of the drivers this process has loaded (only those can have raised).

    Looked up on the error path, so that importing this module loads no driver (the embedded mode
    never needs botocore).
    """
    found: list[type[BaseException]] = [ConnectionError, TimeoutError]
    if "redis" in sys.modules:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        found += [RedisConnectionError, RedisTimeoutError]
    if "asyncpg" in sys.modules:
        import asyncpg

        found += [
            asyncpg.exceptions.PostgresConnectionError,
            asyncpg.exceptions.CannotConnectNowError,
            asyncpg.exceptions.InterfaceError,
        ]
    if "botocore" in sys.modules:
        from botocore.exceptions import ConnectionError as BotoConnectionError
        from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

        found += [BotoConnectionError, EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError]
    return tuple(found)


# OSErrors that are about the network; a missing file or a full disk is a bug or an operator's problem.
_NETWORK_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EPIPE,
        errno.ENOTCONN,
        errno.ETIMEDOUT,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ENETDOWN,
        errno.EHOSTDOWN,
        errno.EADDRNOTAVAIL,
    }
)


def _unwrap(exc: BaseException) -> BaseException:
    if "limits" in sys.modules:
        from limits.errors import StorageError

        if isinstance(exc, StorageError):
            return exc.storage_error  # the rate limiter's wrapper around its driver's exception
    return exc


def as_unavailable(exc: BaseException) -> HubError | None:
    """`ServiceUnavailable` when `exc` (or what it wraps) is a dependency being unreachable, else None."""
    drivers = _driver_errors()
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 5:
        current = _unwrap(current)
        if isinstance(current, drivers) or (isinstance(current, OSError) and current.errno in _NETWORK_ERRNOS):
            return ServiceUnavailable()
        current = current.__cause__  # an explicit `raise ... from`: what a wrapper says it wraps
        seen += 1
    return None
