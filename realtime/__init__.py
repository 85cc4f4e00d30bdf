"""Socket.IO adapter: connection auth, whiteboard events, presence and fan-out.

`server.py`, `engine.py` and `fanout.py` are the adapter; `fastpath/` holds the patches of library
internals that make it fast and small per socket, each falling back to the library's own path.
"""
