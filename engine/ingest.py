"""Turning an uploaded stream into a content-addressed Parquet object.

A source arrives as a binary stream with a declared format: a local file, standard input,
an HTTP body or an object in another bucket. A local file is read where it lies; any other
stream is spooled to a scratch file in chunks while it is hashed (CSV type inference reads
the start of the input twice, so it needs a seekable copy). The input is then converted to
Parquet by polars' streaming engine, so memory stays bounded whatever the input's size.
The Parquet's SHA-256 is its key in the object store and the source's content hash: the
same bytes give the same source, wherever they came from.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import polars as pl

from engine.errors import BadInputError
from engine.frames import READERS, frame_format, require_file, sink_parquet
from engine.ports import ObjectStore

CHUNK = 1 << 20
FORMATS = ("csv", "ndjson", "parquet")
EXTENSIONS = {"csv": ".csv", "ndjson": ".ndjson", "parquet": ".parquet"}


@dataclass(frozen=True)
class Upload:
    """A source as it arrives: its name, its format and its bytes.

    `path` is set when the bytes are a local file, which is then read in place.
    """

    name: str
    file_format: str
    stream: BinaryIO
    path: Path | None = None

    def __post_init__(self) -> None:
        if self.file_format not in FORMATS:
            known = ", ".join(FORMATS)
            raise BadInputError(f"format: {self.file_format!r} is not one of {known}")


@contextmanager
def open_upload(path: Path, file_format: str | None = None) -> Iterator[Upload]:
    """A local file as an upload; the format follows its extension unless given."""
    require_file(path)
    file_format = file_format or frame_format(path)
    with path.open("rb") as stream:
        yield Upload(path.name, file_format, stream, path)


@dataclass(frozen=True)
class StoredSource:
    """What registering an upload produced: where it is and what it holds."""

    content_hash: str
    file_hash: str
    file_format: str
    row_count: int
    columns: list[list[str]]
    key: str


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def source_key(content_hash: str) -> str:
    """Where a source's Parquet copy lives in the object store."""
    return f"sources/sha256/{content_hash}.parquet"


def store_source(upload: Upload, store: ObjectStore) -> StoredSource:
    """Convert the upload to Parquet and store it once, keyed by the Parquet's SHA-256."""
    with tempfile.TemporaryDirectory(prefix="tieout-ingest-") as scratch:
        local, file_hash = _local_copy(upload, Path(scratch))
        parquet = Path(scratch) / "source.parquet"
        try:
            rows = sink_parquet(local, parquet)
        except BadInputError as exc:
            raise BadInputError(str(exc).replace(str(local), upload.name)) from None
        if rows == 0:
            raise BadInputError(f"{upload.name}: no rows")
        columns = pl.scan_parquet(parquet).collect_schema()
        content_hash = sha256_file(parquet)
        key = source_key(content_hash)
        if not store.exists(key):
            with parquet.open("rb") as handle:
                store.put_stream(key, handle)
    return StoredSource(
        content_hash=content_hash,
        file_hash=file_hash,
        file_format=upload.file_format,
        row_count=rows,
        columns=[[name, str(dtype)] for name, dtype in columns.items()],
        key=key,
    )


def _local_copy(upload: Upload, scratch: Path) -> tuple[Path, str]:
    """A local file holding the upload's bytes, and their SHA-256.

    A local file whose extension names its format is used in place; anything else is
    spooled in chunks to a scratch file named for the declared format.
    """
    if upload.path is not None and READERS.get(upload.path.suffix.lower()) == upload.file_format:
        return upload.path, sha256_file(upload.path)
    target = scratch / f"input{EXTENSIONS[upload.file_format]}"
    digest = hashlib.sha256()
    with target.open("wb") as out:
        while chunk := upload.stream.read(CHUNK):
            digest.update(chunk)
            out.write(chunk)
    return target, digest.hexdigest()


def load_source(store: ObjectStore, key: str) -> pl.DataFrame:
    """Read a stored source back into a frame."""
    with store.open(key) as stream:
        return pl.read_parquet(stream)
