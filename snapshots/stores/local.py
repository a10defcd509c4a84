"""An object store in a local directory (the embedded default)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from engine.errors import BadInputError, NotFoundError

CHUNK = 1 << 20


class LocalObjectStore:
    """Keys are relative paths under a root directory; writes are atomic renames."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    @property
    def location(self) -> str:
        return self.root.as_uri()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise BadInputError(f"object key {key!r} leaves the store")
        return path

    def put_stream(self, key: str, stream: BinaryIO) -> None:
        """Written to a hidden partial file and renamed into place: all or nothing."""
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".partial-")
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(stream, out, CHUNK)
            Path(temp).replace(target)
        finally:
            Path(temp).unlink(missing_ok=True)

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        source = self._path(key)
        try:
            handle = source.open("rb")
        except (FileNotFoundError, IsADirectoryError):
            raise NotFoundError(f"object {key!r} not found in {self.location}") from None
        with handle:
            yield handle

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def keys(self, prefix: str = "") -> Iterator[str]:
        found = (
            path.relative_to(self.root).as_posix()
            for path in self.root.rglob("*")
            if path.is_file() and not path.name.startswith(".partial-")
        )
        yield from sorted(key for key in found if key.startswith(prefix))

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
