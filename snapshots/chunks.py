"""A snapshot chunk: log rows framed, zstd-compressed, optionally AES-GCM-encrypted.

Stored layout: `TOC1` | format version (1 byte) | encrypted flag (1 byte) | plain length
(8 bytes, big-endian) | body. The body is the zstd frame of the records, or, encrypted,
a 12-byte nonce followed by AES-GCM's ciphertext and tag, with the snapshot id and the
chunk's index as associated data, so a chunk cannot be moved to another place or snapshot.
Each record is `>q16sqIQ` (id, stream, version, topic length, state length), the topic, the
state. docs/backups.md describes the whole format.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterator
from uuid import UUID

import pyarrow as pa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from engine.commitment import LogRow
from snapshots.errors import SnapshotError

MAGIC = b"TOC1"
VERSION = 1
HEADER = struct.Struct(">4sBBQ")
RECORD = struct.Struct(">q16sqIQ")
NONCE_BYTES = 12
# The log's states are mostly compressed Arrow already: speed over ratio.
CODEC = pa.Codec("zstd", compression_level=1)


def key_id(key: bytes) -> str:
    """Names an encryption key in manifests without revealing it."""
    return hashlib.sha256(b"tieout-backup-key/v1" + key).hexdigest()[:16]


def frame(rows: list[LogRow]) -> bytes:
    parts = []
    for row in rows:
        topic = row.topic.encode("utf-8")
        parts.append(
            RECORD.pack(
                row.notification_id,
                row.originator_id.bytes,
                row.originator_version,
                len(topic),
                len(row.state),
            )
        )
        parts.extend((topic, row.state))
    return b"".join(parts)


def unframe(plain: bytes) -> Iterator[LogRow]:
    offset, end = 0, len(plain)
    while offset < end:
        if end - offset < RECORD.size:
            raise SnapshotError("chunk ends inside a record")
        number, originator, version, topic_len, state_len = RECORD.unpack_from(plain, offset)
        offset += RECORD.size
        if offset + topic_len + state_len > end:
            raise SnapshotError("chunk ends inside a record")
        topic = plain[offset : offset + topic_len].decode("utf-8")
        offset += topic_len
        state = plain[offset : offset + state_len]
        offset += state_len
        yield LogRow(number, UUID(bytes=originator), version, topic, state)


def seal_chunk(plain: bytes, key: bytes | None, associated: bytes) -> bytes:
    """The stored bytes of a chunk whose records are `plain`."""
    body = bytes(CODEC.compress(plain, asbytes=True))
    if key is not None:
        nonce = os.urandom(NONCE_BYTES)
        body = nonce + AESGCM(key).encrypt(nonce, body, associated)
    return HEADER.pack(MAGIC, VERSION, int(key is not None), len(plain)) + body


def open_chunk(stored: bytes, key: bytes | None, associated: bytes) -> bytes:
    """The records of a stored chunk; SnapshotError when it is damaged or the key is wrong."""
    if len(stored) < HEADER.size:
        raise SnapshotError("chunk is truncated")
    magic, version, encrypted, plain_len = HEADER.unpack_from(stored)
    if magic != MAGIC or version != VERSION:
        raise SnapshotError("not a Tieout snapshot chunk")
    body = stored[HEADER.size :]
    if encrypted:
        if key is None:
            raise SnapshotError("chunk is encrypted and TIEOUT_BACKUP_KEY is not set")
        try:
            body = AESGCM(key).decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:], associated)
        except InvalidTag:
            raise SnapshotError("chunk does not decrypt: wrong key or damaged") from None
    try:
        plain = CODEC.decompress(body, decompressed_size=plain_len, asbytes=True)
    except (OSError, ValueError, pa.ArrowException):
        raise SnapshotError("chunk does not decompress: damaged") from None
    if len(plain) != plain_len:
        raise SnapshotError("chunk decompresses to the wrong length")
    return bytes(plain)
