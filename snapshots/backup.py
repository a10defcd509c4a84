"""Snapshots of the event log: taken in notification order into chunks, checked before use.

`take` streams the rows after the parent snapshot (all of them for a full one) into
compressed, checksummed, optionally encrypted chunks, recomputes the hash chain over them
on the way, and refuses to write a manifest unless the chain meets the seal it was given.
`fetch` downloads a snapshot and its parents into a scratch directory and checks every
manifest signature, chunk checksum, decryption, row order and the chain end to end; only
what passed is handed to a restore. docs/backups.md describes the format.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Protocol, cast

from engine.commitment import GENESIS, LogRow, Seal, Signer, Verifier, link_row
from engine.errors import NotFoundError
from engine.ports import ObjectStore
from snapshots.chunks import frame, key_id, open_chunk, seal_chunk, unframe
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


def manifests(store: ObjectStore) -> list[Manifest]:
    """Every snapshot in the store, oldest first (ids sort by time)."""
    found = []
    for key in store.keys(PREFIX):
        if key.endswith("/manifest.json"):
            with store.open(key) as stream:
                found.append(Manifest.from_bytes(stream.read(), key))
    return sorted(found, key=lambda manifest: manifest.snapshot_id)


def take(
    log: LogReader,
    seal: Seal,
    stores: Stores,
    keys: Keys,
    schema_version: str,
    *,
    full: bool = False,
) -> Manifest:
    """A snapshot of the events up to `seal` (full, or after the latest snapshot)."""
    started = time.perf_counter()
    earlier = [] if full else manifests(stores.backups)
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
        stored = seal_chunk(frame(self.rows), self.key, _associated(self.snapshot_id, index))
        key = chunk_key(self.snapshot_id, index)
        self.store.put_stream(key, io.BytesIO(stored))
        first, last = self.rows[0].notification_id, self.rows[-1].notification_id
        digest = hashlib.sha256(stored).hexdigest()
        self.chunks.append(Chunk(key, first, last, len(self.rows), len(stored), digest))
        self.rows, self.size = [], 0


def _associated(snapshot_id: str, index: int) -> bytes:
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


@dataclass(frozen=True)
class Fetched:
    """Snapshots checked end to end, their chunks' records and blobs in a scratch directory."""

    manifests: list[Manifest]
    chunks: list[Path]  # records (decrypted, decompressed), in log order
    blobs: dict[str, Path]  # object-store key -> checked file
    seals: list[Seal]

    @property
    def target(self) -> Manifest:
        return self.manifests[-1]

    def rows(self) -> Iterator[LogRow]:
        for path in self.chunks:
            yield from unframe(path.read_bytes())


def lineage(store: ObjectStore, snapshot_id: str | None) -> list[Manifest]:
    """The snapshot (default: the newest) and the parents it builds on, full one first."""
    known = {manifest.snapshot_id: manifest for manifest in manifests(store)}
    if not known:
        raise NotFoundError(f"no snapshot in {store.location}")
    current = known.get(snapshot_id or max(known))
    if current is None:
        raise NotFoundError(f"no snapshot {snapshot_id} in {store.location}")
    chain = [current]
    while chain[-1].parent is not None:
        parent = known.get(chain[-1].parent or "")
        if parent is None:
            raise SnapshotError(f"snapshot {chain[-1].snapshot_id}: its parent is missing")
        chain.append(parent)
    return list(reversed(chain))


def fetch(store: ObjectStore, snapshot_id: str | None, keys: Keys, scratch: Path) -> Fetched:
    """Download and check everything a restore of `snapshot_id` needs; write nothing else."""
    chain = lineage(store, snapshot_id)
    for manifest in chain:
        manifest.check(keys.trusted)
        _check_key(manifest, keys.encryption)
    link, ordinal, after = GENESIS, 0, 0
    paths: list[Path] = []
    for manifest in chain:
        if (manifest.after, bytes.fromhex(manifest.start.hash)) != (after, link):
            raise SnapshotError(f"snapshot {manifest.snapshot_id} does not follow its parent")
        for index, chunk in enumerate(manifest.chunks):
            plain, rows = _fetch_chunk(store, manifest, index, chunk, keys.encryption)
            for row in rows:
                if row.notification_id <= after:
                    raise SnapshotError(f"{chunk.key}: event {row.notification_id} out of order")
                link, ordinal, after = link_row(link, row), ordinal + 1, row.notification_id
            path = scratch / f"{len(paths):06d}.records"
            path.write_bytes(plain)
            paths.append(path)
        seal = manifest.sealed()
        if (after, ordinal, link) != (seal.notification_id, seal.ordinal, seal.hash):
            raise SnapshotError(
                f"snapshot {manifest.snapshot_id}: its events do not recompute to its sealed"
                " chain (truncated, reordered or altered)"
            )
    blobs = _fetch_blobs(store, chain, scratch)
    return Fetched(chain, paths, blobs, [manifest.sealed() for manifest in chain])


def _check_key(manifest: Manifest, key: bytes | None) -> None:
    wanted = manifest.encryption_key_id
    if wanted and key is None:
        raise SnapshotError(f"snapshot {manifest.snapshot_id} is encrypted: set TIEOUT_BACKUP_KEY")
    if wanted and key_id(key or b"") != wanted:
        raise SnapshotError(
            f"snapshot {manifest.snapshot_id} is encrypted with key {wanted},"
            f" not TIEOUT_BACKUP_KEY's {key_id(key or b'')}"
        )


def _fetch_chunk(
    store: ObjectStore, manifest: Manifest, index: int, chunk: Chunk, key: bytes | None
) -> tuple[bytes, list[LogRow]]:
    try:
        with store.open(chunk.key) as stream:
            stored = stream.read()
    except NotFoundError:
        raise SnapshotError(f"{chunk.key} is missing") from None
    if len(stored) != chunk.bytes or hashlib.sha256(stored).hexdigest() != chunk.sha256:
        raise SnapshotError(f"{chunk.key}: checksum mismatch (damaged or truncated)")
    plain = open_chunk(stored, key, _associated(manifest.snapshot_id, index))
    rows = list(unframe(plain))
    span = (rows[0].notification_id, rows[-1].notification_id) if rows else (0, 0)
    if len(rows) != chunk.rows or span != (chunk.first, chunk.last):
        raise SnapshotError(f"{chunk.key}: holds other events than its manifest says")
    return plain, rows


def _fetch_blobs(store: ObjectStore, chain: list[Manifest], scratch: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    folder = scratch / "blobs"
    folder.mkdir(exist_ok=True)
    for blob in (blob for manifest in chain for blob in manifest.blobs):
        source_key = blob.key.removeprefix(BLOBS)
        if source_key in found:
            continue
        path = folder / blob.sha256
        try:
            with store.open(blob.key) as stream, path.open("wb") as out:
                digest = hashlib.sha256()
                while data := stream.read(1 << 20):
                    digest.update(data)
                    out.write(data)
        except NotFoundError:
            raise SnapshotError(f"{blob.key} is missing") from None
        if digest.hexdigest() != blob.sha256:
            raise SnapshotError(f"{blob.key}: checksum mismatch (damaged)")
        found[source_key] = path
    return found


@dataclass(frozen=True)
class Pruned:
    kept: list[str]
    deleted: list[str]
    blobs_deleted: int


def prune(store: ObjectStore, keep: set[str], *, dry_run: bool = False) -> Pruned:
    """Delete the snapshots not in `keep` (manifest first: a snapshot without one does not
    exist), then the sources no kept snapshot refers to."""
    found = manifests(store)
    doomed = [manifest for manifest in found if manifest.snapshot_id not in keep]
    kept = [manifest for manifest in found if manifest.snapshot_id in keep]
    referenced = {blob.key for manifest in kept for blob in manifest.blobs}
    unreferenced = [key for key in store.keys(BLOBS) if key not in referenced]
    if not dry_run:
        for manifest in doomed:
            store.delete(manifest_key(manifest.snapshot_id))
            for chunk in manifest.chunks:
                store.delete(chunk.key)
        for key in unreferenced:
            store.delete(key)
    return Pruned(
        [manifest.snapshot_id for manifest in kept],
        [manifest.snapshot_id for manifest in doomed],
        len(unreferenced),
    )
