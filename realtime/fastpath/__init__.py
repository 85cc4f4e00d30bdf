"""The realtime fast path: patches of python-engineio, python-socketio and uvicorn internals for speed."""
