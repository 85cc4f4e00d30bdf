"""Blob stores: S3-compatible (aioboto3) and local disk (HMAC-signed URLs served by the hub)."""
