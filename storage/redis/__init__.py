"""Redis backends for the scaled mode (several hub processes sharing one Redis)."""
