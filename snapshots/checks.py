"""Checking snapshots before anything is written: `fetch` downloads a snapshot and its parents
into a scratch directory and checks every manifest signature, chunk checksum, decryption,
row order and the chain end to end; only what passed is handed to a restore.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from engine.commitment import GENESIS, LogRow, Seal, link_row
from engine.errors import NotFoundError
from engine.ports import ObjectStore
from snapshots.backup import Keys, associated, manifests
from snapshots.chunks import key_id, open_chunk, unframe
from snapshots.errors import SnapshotError
from snapshots.manifest import BLOBS, Chunk, Manifest


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
        sealed = _checked_interval_seals(manifest, keys)
        for index, chunk in enumerate(manifest.chunks):
            plain, rows = _fetch_chunk(store, manifest, index, chunk, keys.encryption)
            for row in rows:
                if row.notification_id <= after:
                    raise SnapshotError(f"{chunk.key}: event {row.notification_id} out of order")
                link, ordinal, after = link_row(link, row), ordinal + 1, row.notification_id
                seal = sealed.get(after)
                if seal is not None and (seal.ordinal, seal.hash) != (ordinal, link):
                    raise SnapshotError(
                        f"{chunk.key}: event {after} does not recompute to its seal (altered)"
                    )
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
    seals = [found for manifest in chain for found in (*manifest.interval(), manifest.sealed())]
    return Fetched(chain, paths, blobs, seals)


def _checked_interval_seals(manifest: Manifest, keys: Keys) -> dict[int, Seal]:
    """The chain's seals the snapshot carries, each signed by the trusted key."""
    found = {}
    for seal in manifest.interval():
        if (problem := seal.problem(keys.trusted)) is not None:
            raise SnapshotError(f"snapshot {manifest.snapshot_id}: {problem}")
        found[seal.notification_id] = seal
    return found


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
    plain = open_chunk(stored, key, associated(manifest.snapshot_id, index))
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
