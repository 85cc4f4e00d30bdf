"""Ports: the `typing.Protocol` seams between the core and its implementations in `storage/`.

Infrastructure ports live in :mod:`hub.ports.infra`; each capability keeps its repository ports in a
module of its own (identity, spaces, whiteboard, files).
"""

from hub.ports.infra import Bus, BusHandler, Database, HealthCheck, RateLimiter

__all__ = ["Bus", "BusHandler", "Database", "HealthCheck", "RateLimiter"]
