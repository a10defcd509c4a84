"""Tamper evidence: the hash chain's link, Merkle trees over decisions, Ed25519 signatures.

Pure functions over bytes, so that a copy of the log, a backup or a proof file can be checked
anywhere, without the database. docs/backups.md states each formula.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple
from uuid import UUID

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from engine.errors import BadInputError

GENESIS = bytes(32)
"""The hash before the first event of the log."""

SEAL_CONTEXT = b"tieout-seal/v1"
ROOT_CONTEXT = b"tieout-job-root/v1"
LEAF_PREFIX = b"\x00"  # RFC 6962: leaves and inner nodes never hash alike
NODE_PREFIX = b"\x01"


def chain_link(
    previous: bytes,
    notification_id: int,
    originator_id: UUID,
    originator_version: int,
    topic: str,
    state: bytes,
) -> bytes:
    """h_n = sha256(h_{n-1} || id || originator || version || len topic || topic || len state
    || state), integers big-endian (ids and versions 8 bytes, the topic's length 4, the
    state's 8), the originator as its 16 bytes. The lengths make every split unambiguous."""
    topic_bytes = topic.encode("utf-8")
    digest = hashlib.sha256(previous)
    digest.update(struct.pack(">q", notification_id))
    digest.update(originator_id.bytes)
    digest.update(struct.pack(">qI", originator_version, len(topic_bytes)))
    digest.update(topic_bytes)
    digest.update(struct.pack(">Q", len(state)))
    digest.update(state)
    return digest.digest()


class LogRow(NamedTuple):
    """One stored event as the log holds it: what the chain hashes and backups carry."""

    notification_id: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes


def link_row(previous: bytes, row: LogRow) -> bytes:
    return chain_link(previous, *row)


def seal_message(notification_id: int, ordinal: int, chain_hash: bytes) -> bytes:
    """What a seal's signature covers: the position, how many events led there, the hash."""
    return SEAL_CONTEXT + struct.pack(">qq", notification_id, ordinal) + chain_hash


def root_message(job_id: UUID, leaves: int, root: bytes) -> bytes:
    """What a job commitment's signature covers."""
    return ROOT_CONTEXT + job_id.bytes + struct.pack(">q", leaves) + root


def merkle_leaf(canonical: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + canonical).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """The root over leaf hashes; an odd node is carried up unpaired. Empty: sha256 of ''."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    level = list(leaves)
    sha256 = hashlib.sha256
    while len(level) > 1:
        pairs = iter(level)  # one iterator zipped with itself: (0, 1), (2, 3), ...
        paired = [
            sha256(NODE_PREFIX + left + right).digest()
            for left, right in zip(pairs, pairs, strict=False)  # the odd one out: below
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def merkle_path(leaves: Sequence[bytes], index: int) -> list[tuple[str, bytes]]:
    """The siblings from leaf `index` up to the root: ("left"|"right", hash) each."""
    if not 0 <= index < len(leaves):
        raise BadInputError(f"leaf {index} is outside a tree of {len(leaves)} leaves")
    path: list[tuple[str, bytes]] = []
    level, position = list(leaves), index
    while len(level) > 1:
        sibling = position ^ 1
        if sibling < len(level):
            path.append(("left" if sibling < position else "right", level[sibling]))
        paired = [_node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level, position = paired, position // 2
    return path


def merkle_climb(leaf: bytes, path: Sequence[tuple[str, bytes]]) -> bytes:
    """The root that `leaf` and its sibling path lead to."""
    node = leaf
    for side, sibling in path:
        node = _node(sibling, node) if side == "left" else _node(node, sibling)
    return node


@dataclass(frozen=True)
class Seal:
    """The chain's hash after the event `notification_id`, the `ordinal`-th chained, signed."""

    notification_id: int
    ordinal: int
    hash: bytes
    key_id: str
    public_key: str
    signature: bytes

    def as_json(self) -> dict[str, Any]:
        return {
            "notification_id": self.notification_id,
            "ordinal": self.ordinal,
            "hash": self.hash.hex(),
            "key_id": self.key_id,
            "public_key": self.public_key,
            "signature": self.signature.hex(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Seal:
        return cls(
            notification_id=int(data["notification_id"]),
            ordinal=int(data["ordinal"]),
            hash=bytes.fromhex(data["hash"]),
            key_id=str(data["key_id"]),
            public_key=str(data["public_key"]),
            signature=bytes.fromhex(data["signature"]),
        )

    def problem(self, trusted: Verifier) -> str | None:
        """Why this seal cannot be trusted with `trusted`'s key, or None."""
        if self.key_id != trusted.key_id:
            return (
                f"seal at {self.notification_id} is signed by key {self.key_id},"
                f" not the trusted {trusted.key_id}"
            )
        message = seal_message(self.notification_id, self.ordinal, self.hash)
        if not trusted.verify(self.signature, message):
            return f"seal at {self.notification_id} has a bad signature"
        return None


def make_seal(signer: Signer, notification_id: int, ordinal: int, chain_hash: bytes) -> Seal:
    verifier = signer.verifier
    signature = signer.sign(seal_message(notification_id, ordinal, chain_hash))
    return Seal(notification_id, ordinal, chain_hash, verifier.key_id, verifier.text, signature)


@dataclass(frozen=True)
class Verifier:
    """An Ed25519 public key, named by its fingerprint (`key_id`)."""

    public_key: Ed25519PublicKey

    @classmethod
    def from_text(cls, text: str) -> Verifier:
        """A public key as base64 of its 32 raw bytes."""
        try:
            raw = base64.b64decode(text, validate=True)
            return cls(Ed25519PublicKey.from_public_bytes(raw))
        except ValueError:
            raise BadInputError("public key: expected base64 of 32 bytes") from None

    @property
    def raw(self) -> bytes:
        return self.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def text(self) -> str:
        return base64.b64encode(self.raw).decode("ascii")

    @property
    def key_id(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()[:16]

    def verify(self, signature: bytes, message: bytes) -> bool:
        try:
            self.public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class Signer:
    """An Ed25519 private key (TIEOUT_SIGNING_KEY, or the one kept under TIEOUT_HOME)."""

    private_key: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> Signer:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_text(cls, text: str, name: str = "signing key") -> Signer:
        """A private key as base64 of its 32-byte seed."""
        try:
            raw = base64.b64decode(text.strip(), validate=True)
            return cls(Ed25519PrivateKey.from_private_bytes(raw))
        except ValueError:
            raise BadInputError(f"{name}: expected base64 of a 32-byte Ed25519 seed") from None

    @property
    def text(self) -> str:
        raw = self.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return base64.b64encode(raw).decode("ascii")

    @property
    def verifier(self) -> Verifier:
        return Verifier(self.private_key.public_key())

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)
