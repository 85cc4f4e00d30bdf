"""In-process backends for the embedded mode (one hub process)."""
