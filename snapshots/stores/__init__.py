"""Object stores behind `engine.ports.ObjectStore`: a local directory and S3."""

from __future__ import annotations

from engine.errors import BadInputError
from engine.ports import ObjectStore
from snapshots.stores.local import LocalObjectStore
from snapshots.stores.s3 import S3ObjectStore


def open_object_store(location: str, *, s3_endpoint_url: str | None = None) -> ObjectStore:
    """The store for a location: `s3://bucket/prefix` or a directory path."""
    if location.startswith("s3://"):
        bucket, _, prefix = location.removeprefix("s3://").partition("/")
        if not bucket:
            raise BadInputError(f"object store {location!r}: no bucket named")
        return S3ObjectStore(bucket, prefix, endpoint_url=s3_endpoint_url)
    if "://" in location and not location.startswith("file://"):
        raise BadInputError(f"object store {location!r}: expected a directory or s3://bucket")
    return LocalObjectStore(location.removeprefix("file://"))


__all__ = ["LocalObjectStore", "S3ObjectStore", "open_object_store"]
