"""Whiteboard fan-out benchmark: the hub against a reference Node socket.io server (`python -m bench.run`)."""
