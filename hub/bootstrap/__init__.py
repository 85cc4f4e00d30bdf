"""The composition root: the one part of `hub/` that imports adapters, drivers and implementations.

`app.build_hub` picks the backends from the settings and wires the capabilities (`wiring`); `asgi`
mounts the REST and Socket.IO adapters on it; `cli` is the `hub` command; `demo` loads the examples.
"""
