"""Implementations of the hub's ports: PostgreSQL, Redis and in-memory backends, blob stores."""
