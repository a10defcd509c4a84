"""Turning a user's file into a content-addressed Parquet object."""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from engine.errors import BadInputError
from engine.frames import frame_format, read_frame
from engine.ports import ObjectStore

CHUNK = 1 << 20


@dataclass(frozen=True)
class StoredSource:
    """What registering a file produced: where it is and what it holds."""

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


def store_source(path: Path, store: ObjectStore) -> StoredSource:
    """Read `path`, write it once as Parquet keyed by the Parquet's SHA-256."""
    file_format = frame_format(path)
    frame = read_frame(path)
    if frame.height == 0:
        raise BadInputError(f"{path}: no rows")
    file_hash = sha256_file(path)
    with tempfile.TemporaryDirectory(prefix="tieout-ingest-") as scratch:
        parquet = Path(scratch) / "source.parquet"
        frame.write_parquet(parquet, compression="zstd", statistics=True)
        content_hash = sha256_file(parquet)
        key = source_key(content_hash)
        if not store.exists(key):
            store.put_file(key, parquet)
    return StoredSource(
        content_hash=content_hash,
        file_hash=file_hash,
        file_format=file_format,
        row_count=frame.height,
        columns=[[name, str(dtype)] for name, dtype in frame.schema.items()],
        key=key,
    )


def load_source(store: ObjectStore, key: str) -> pl.DataFrame:
    """Read a stored source back into a frame."""
    with tempfile.TemporaryDirectory(prefix="tieout-load-") as scratch:
        local = Path(scratch) / "source.parquet"
        store.get_file(key, local)
        return pl.read_parquet(local)
