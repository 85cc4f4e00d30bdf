"""Socket.IO adapter: connection auth, whiteboard events, presence and fan-out."""
