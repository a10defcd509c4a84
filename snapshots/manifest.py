"""A snapshot's manifest: what it holds, how to check it, signed.

`snapshots/<id>/manifest.json` in the backup store. The signature (Ed25519, the
deployment's key) covers the canonical JSON of every other field, so a manifest from another
deployment, or one edited to match damaged chunks, is refused before anything is read.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from engine.commitment import Seal, Signer, Verifier
from snapshots.errors import SnapshotError

FORMAT = "tieout-snapshot/1"
PREFIX = "snapshots/"
BLOBS = "blobs/"


def manifest_key(snapshot_id: str) -> str:
    return f"{PREFIX}{snapshot_id}/manifest.json"


def chunk_key(snapshot_id: str, index: int) -> str:
    return f"{PREFIX}{snapshot_id}/chunk-{index:05d}.bin"


@dataclass(frozen=True)
class Chunk:
    """Events `first..last` (notification ids), `rows` of them; the stored object's size and
    SHA-256."""

    key: str
    first: int
    last: int
    rows: int
    bytes: int
    sha256: str


@dataclass(frozen=True)
class Blob:
    """A source the events refer to, copied from the object store (content-addressed)."""

    key: str
    bytes: int
    sha256: str


@dataclass(frozen=True)
class ChainPoint:
    """The chain after event `notification_id`, the `ordinal`-th: where a snapshot starts."""

    notification_id: int
    ordinal: int
    hash: str


@dataclass(frozen=True)
class Manifest:
    snapshot_id: str
    kind: str  # "full" | "incremental"
    parent: str | None
    created_at: str
    schema_version: str
    after: int  # the snapshot holds events with after < notification_id <= through
    through: int
    events: int
    start: ChainPoint
    seal: dict[str, Any]  # projections.chain.Seal as JSON: the chain at `through`, signed
    chunks: list[Chunk]
    blobs: list[Blob]
    encryption_key_id: str | None
    seconds: float
    interval_seals: list[dict[str, Any]] = field(default_factory=list)
    """The chain's own seals inside the range (every 1,000 events), as JSON, signed."""
    format: str = FORMAT
    signature: str = field(default="")

    @property
    def created(self) -> datetime:
        return datetime.fromisoformat(self.created_at)

    @property
    def stored_bytes(self) -> int:
        return sum(chunk.bytes for chunk in self.chunks)

    def sealed(self) -> Seal:
        return Seal.from_json(self.seal)

    def interval(self) -> list[Seal]:
        return [Seal.from_json(found) for found in self.interval_seals]

    def signed(self, signer: Signer) -> Manifest:
        signature = signer.sign(_canonical(self)).hex()
        return Manifest(**{**_fields(self), "signature": signature})

    def check(self, trusted: Verifier) -> None:
        """Refuse a manifest that is not ours, not signed by the trusted key, or edited."""
        if self.format != FORMAT:
            raise SnapshotError(f"snapshot {self.snapshot_id}: unknown format {self.format!r}")
        try:
            signature = bytes.fromhex(self.signature)
        except ValueError:
            signature = b""
        if not trusted.verify(signature, _canonical(self)):
            raise SnapshotError(
                f"snapshot {self.snapshot_id}: manifest not signed by the trusted key"
                f" {trusted.key_id} (foreign or edited)"
            )
        if (problem := self.sealed().problem(trusted)) is not None:
            raise SnapshotError(f"snapshot {self.snapshot_id}: {problem}")

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), indent=2, sort_keys=True).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes, key: str) -> Manifest:
        try:
            raw = json.loads(data)
            return cls(
                **{
                    **raw,
                    "start": ChainPoint(**raw["start"]),
                    "chunks": [Chunk(**chunk) for chunk in raw["chunks"]],
                    "blobs": [Blob(**blob) for blob in raw["blobs"]],
                }
            )
        except (ValueError, TypeError, KeyError):
            raise SnapshotError(f"{key}: not a readable snapshot manifest") from None


def _fields(manifest: Manifest) -> dict[str, Any]:
    return {name: getattr(manifest, name) for name in manifest.__dataclass_fields__}


def _canonical(manifest: Manifest) -> bytes:
    content = asdict(manifest)
    content.pop("signature")
    return json.dumps(content, sort_keys=True, separators=(",", ":")).encode("utf-8")
