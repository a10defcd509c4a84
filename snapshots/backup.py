"""Snapshots of the event log: taken in notification order into chunks, checked before use.

`take` streams the rows after the parent snapshot (all of them for a full one) into
compressed, checksummed, optionally encrypted chunks, recomputes the hash chain over them
on the way, and refuses to write a manifest unless the chain meets the seal it was given.
Checking a snapshot is `snapshots/checks.py`, retention `snapshots/retention.py`.
docs/backups.md describes the format.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO, Protocol, cast

from engine.commitment import GENESIS, LogRow, Seal, Signer, Verifier, link_row
from engine.ports import ObjectStore
from snapshots.chunks import frame, key_id, seal_chunk
from snapshots.errors import SnapshotError
from snapshots.manifest import (
    BLOBS,
    PREFIX,
    Blob,
    ChainPoint,
    Chunk,
    Manifest,
    chunk_key,
    manifest_key,
)

CHUNK_BYTES = 32 << 20  # records per chunk before compression; S3 uploads it in parts
SOURCE_TOPIC_SUFFIX = ":Source.SourceRegistered"


class LogReader(Protocol):
    def rows(self, after: int, through: int) -> Iterator[LogRow]: ...


@dataclass(frozen=True)
class Keys:
    """What signs and encrypts (taking), or what is trusted and decrypts (checking)."""

    signer: Signer
    encryption: bytes | None

    @property
    def trusted(self) -> Verifier:
        return self.signer.verifier


@dataclass(frozen=True)
class Stores:
    objects: ObjectStore  # where the sources live
    backups: ObjectStore  # TIEOUT_BACKUP_STORE


_READ: dict[tuple[str, str], Manifest] = {}
"""Manifests this process has read, by (store, key). A manifest is written once and never
changed, so the schedule lists keys each round but reads only new manifests: a week of
snapshots a minute is about ten thousand of them."""


def manifests(store: ObjectStore, *, cached: bool = False) -> list[Manifest]:
    """Every snapshot in the store, oldest first (ids sort by time). `cached` reuses what
    this process read before; checks before a restore always read afresh."""
    found, listed = [], set()
    for key in store.keys(PREFIX):
        if not key.endswith("/manifest.json"):
            continue
        listed.add((store.location, key))
        manifest = _READ.get((store.location, key)) if cached else None
        if manifest is None:
            with store.open(key) as stream:
                manifest = Manifest.from_bytes(stream.read(), key)
            _READ[(store.location, key)] = manifest
        found.append(manifest)
    for gone in [item for item in _READ if item[0] == store.location and item not in listed]:
        del _READ[gone]
    return sorted(found, key=lambda manifest: manifest.snapshot_id)


def take(
    log: LogReader,
    seal: Seal,
    stores: Stores,
    keys: Keys,
    schema_version: str,
    *,
    full: bool = False,
    interval_seals: Callable[[int], list[Seal]] = lambda _after: [],
) -> Manifest:
    """A snapshot of the events up to `seal` (full, or after the latest snapshot)."""
    started = time.perf_counter()
    earlier = [] if full else manifests(stores.backups, cached=True)
    parent = earlier[-1] if earlier else None
    if parent and parent.through > seal.notification_id:
        raise SnapshotError(
            f"snapshot {parent.snapshot_id} reaches event {parent.through}, beyond the chain's"
            f" head {seal.notification_id}: was the database restored from an older backup?"
        )
    start = _start_of(parent)
    now = datetime.now(UTC)
    snapshot_id = f"{now:%Y%m%dT%H%M%S%fZ}-{seal.notification_id:012d}"
    writer = _ChunkWriter(snapshot_id, stores.backups, keys.encryption, start)
    for row in log.rows(start.notification_id, seal.notification_id):
        writer.add(row)
    writer.flush()
    if writer.link != seal.hash or writer.ordinal != seal.ordinal:
        raise SnapshotError(
            f"the log does not recompute to the chain's seal at event {seal.notification_id}:"
            " run `tieout audit verify`"
        )
    blobs = [_copy_blob(stores, key, digest) for key, digest in sorted(writer.sources.items())]
    manifest = Manifest(
        snapshot_id=snapshot_id,
        kind="incremental" if parent else "full",
        parent=parent.snapshot_id if parent else None,
        created_at=now.isoformat(),
        schema_version=schema_version,
        after=start.notification_id,
        through=seal.notification_id,
        events=writer.ordinal - start.ordinal,
        start=start,
        seal=seal.as_json(),
        chunks=writer.chunks,
        blobs=blobs,
        encryption_key_id=key_id(keys.encryption) if keys.encryption else None,
        seconds=round(time.perf_counter() - started, 3),
        interval_seals=[
            found.as_json()
            for found in interval_seals(start.notification_id)
            if found.notification_id < seal.notification_id
        ],
    ).signed(keys.signer)
    stores.backups.put_stream(manifest_key(snapshot_id), io.BytesIO(manifest.to_bytes()))
    return manifest


def _start_of(parent: Manifest | None) -> ChainPoint:
    if parent is None:
        return ChainPoint(0, 0, GENESIS.hex())
    seal = parent.sealed()
    return ChainPoint(seal.notification_id, seal.ordinal, seal.hash.hex())


class _ChunkWriter:
    """Cuts rows into chunks, stores each, and follows the chain over them."""

    def __init__(
        self, snapshot_id: str, store: ObjectStore, key: bytes | None, start: ChainPoint
    ) -> None:
        self.snapshot_id, self.store, self.key = snapshot_id, store, key
        self.link, self.ordinal = bytes.fromhex(start.hash), start.ordinal
        self.rows: list[LogRow] = []
        self.size = 0
        self.chunks: list[Chunk] = []
        self.sources: dict[str, str] = {}

    def add(self, row: LogRow) -> None:
        self.link = link_row(self.link, row)
        self.ordinal += 1
        if row.topic.endswith(SOURCE_TOPIC_SUFFIX):
            state = json.loads(row.state)
            self.sources[str(state["location"])] = str(state["content_hash"])
        self.rows.append(row)
        self.size += len(row.state) + len(row.topic) + 48
        if self.size >= CHUNK_BYTES:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        index = len(self.chunks)
        stored = seal_chunk(frame(self.rows), self.key, associated(self.snapshot_id, index))
        key = chunk_key(self.snapshot_id, index)
        self.store.put_stream(key, io.BytesIO(stored))
        first, last = self.rows[0].notification_id, self.rows[-1].notification_id
        digest = hashlib.sha256(stored).hexdigest()
        self.chunks.append(Chunk(key, first, last, len(self.rows), len(stored), digest))
        self.rows, self.size = [], 0


def associated(snapshot_id: str, index: int) -> bytes:
    return f"{snapshot_id}/{index}".encode()


def _copy_blob(stores: Stores, key: str, digest: str) -> Blob:
    """Copy a source into the backup store once (its key names its content)."""
    target = BLOBS + key
    if stores.backups.exists(target):
        return Blob(target, 0, digest)
    with stores.objects.open(key) as stream:
        reader = _Hashing(stream)
        stores.backups.put_stream(target, cast("BinaryIO", reader))
    if reader.digest.hexdigest() != digest:
        stores.backups.delete(target)
        raise SnapshotError(f"source {key} in the object store does not match its hash")
    return Blob(target, reader.size, digest)


class _Hashing(io.RawIOBase):
    """A read-through stream that hashes what passes."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.digest = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.stream.read(len(buffer))
        buffer[: len(data)] = data
        self.digest.update(data)
        self.size += len(data)
        return len(data)
