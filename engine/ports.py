"""Ports: the interfaces the domain needs from the outside world."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol


class ObjectStore(Protocol):
    """A flat key -> bytes store (a local directory, S3, MinIO)."""

    @property
    def location(self) -> str:
        """Where the store lives, e.g. `file:///data/objects` or `s3://bucket/prefix`."""
        ...

    def put_file(self, key: str, path: Path) -> None:
        """Store the file at `path` under `key`, atomically (all or nothing)."""
        ...

    def get_file(self, key: str, path: Path) -> None:
        """Copy the object `key` to the local file `path`."""
        ...

    def exists(self, key: str) -> bool:
        """Whether an object is stored under `key`."""
        ...

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Every key that starts with `prefix`, in lexical order."""
        ...

    def delete(self, key: str) -> None:
        """Remove an object (only retention of backups does this; sources are kept)."""
        ...
