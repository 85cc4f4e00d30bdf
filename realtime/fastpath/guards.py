"""How the fast path says that part of it stands down: one warning, naming each part.

Every patch checks, by identity, that the library code it replaces is the code it was written
against, and otherwise leaves the library's path in place. That fallback keeps sockets working, but
it is slower and holds more memory per socket, so it must not go unnoticed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

log = logging.getLogger("realtime.fastpath")


def warn_inactive(parts: Sequence[str]) -> None:
    """One warning naming every part of the fast path that takes the library's path instead."""
    if parts:
        log.warning(
            "realtime fast path not active, using the library's slower path for: %s",
            "; ".join(parts),
            extra={"fields": {"inactive": list(parts)}},
        )
