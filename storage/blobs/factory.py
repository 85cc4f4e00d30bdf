"""Choose the blob store from the settings: S3 when an endpoint or bucket is configured, else local disk."""

from __future__ import annotations

from hub.config import ConfigError, Settings
from hub.ports.files import BlobStore


async def open_blob_store(settings: Settings, *, create_bucket: bool = True) -> BlobStore:
    if settings.uses_s3:
        if not settings.s3_bucket:
            raise ConfigError("S3_BUCKET: required when S3_ENDPOINT is set")
        from storage.blobs.s3 import S3BlobStore

        return await S3BlobStore.open(
            endpoint=settings.s3_endpoint,
            region=settings.s3_region,
            bucket=settings.s3_bucket,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            path_style=settings.s3_path_style,
            create_bucket=create_bucket,
        )
    from storage.blobs.local import LocalBlobStore
    from storage.blobs.signing import Signer, load_secret

    key = load_secret(settings.data_path, settings.blob_secret)
    # Without a configured public URL the links are relative ("/blobs/..."): the browser resolves them
    # against the hub's own origin, which is right behind any proxy; a guessed host:port would not be.
    return LocalBlobStore(settings.data_path / "blobs", Signer(key), settings.public_url)
