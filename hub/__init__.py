"""Core of the collaboration hub: configuration, errors, models, services and ports.

Nothing here imports a web framework or a driver, except the composition root
(:mod:`hub.bootstrap`), which wires adapters and implementations together.
"""

__version__ = "0.1.0"
