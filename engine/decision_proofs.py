"""A job's signed commitment to its decisions, and inclusion proofs for single decisions.

Each decision row (in the order the job recorded them) is a Merkle leaf:
`sha256(0x00 || canonical)`, where canonical is the compact UTF-8 JSON object
`{"index", "group_id", "left_id", "right_id", "rule", "confidence_millionths", "status"}`
in that key order (ids and the group as strings, the confidence rounded to millionths).
`JobCompleted` carries the root, the number of leaves and an Ed25519 signature over
`"tieout-job-root/v1" || job id || leaves || root`. A proof file holds one decision's rows,
each with its sibling path, the root and the signature: it verifies with nothing else
(docs/backups.md).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import numpy as np
import polars as pl

from engine.commitment import (
    LEAF_PREFIX,
    Signer,
    Verifier,
    merkle_climb,
    merkle_leaf,
    merkle_path,
    merkle_root,
    root_message,
)
from engine.errors import BadInputError, NotFoundError
from engine.matching.schemas import CONFIDENCE, GROUP_ID, LEFT_ID, RIGHT_ID, RULE, STATUS

try:
    from engine import _merkle
except ImportError:  # built without a C compiler or OpenSSL's headers: hashlib hashes
    _merkle = None  # type: ignore[assignment]

NATIVE = _merkle is not None
"""Whether `root_of` hashes in C, with the GIL released (engine/_merkle.c, ADR 0021)."""
LEAF_ROWS = 131_072
"""Rows made canonical and hashed at a time by `root_of` in C: about 20 MB of text."""
PROOF_FORMAT = "tieout-proof/1"
FIELDS = ("index", GROUP_ID, LEFT_ID, RIGHT_ID, RULE, "confidence_millionths", STATUS)
LEAF_COLUMNS = [GROUP_ID, LEFT_ID, RIGHT_ID, RULE, CONFIDENCE, STATUS]
"""The decision columns the leaves read."""


class ProofInvalidError(BadInputError):
    """The proof was read, and does not hold."""


@dataclass(frozen=True)
class Commitment:
    """What JobCompleted records about the decisions: root, leaves, signature, key."""

    root: str
    leaves: int
    key_id: str
    public_key: str
    signature: str


def _canonical(matches: pl.DataFrame, first: int = 0) -> pl.Series:
    """Each decision row as the compact JSON object its leaf hashes, keys in FIELDS order;
    `first`: the index of the frame's first row in the job's decisions."""
    row = pl.struct(
        pl.int_range(first, first + pl.len(), dtype=pl.Int64).alias("index"),
        pl.col(GROUP_ID).cast(pl.String),
        pl.col(LEFT_ID).cast(pl.String),
        pl.col(RIGHT_ID).cast(pl.String),
        pl.col(RULE).cast(pl.String),
        (pl.col(CONFIDENCE) * 1_000_000).round().cast(pl.Int64).alias("confidence_millionths"),
        pl.col(STATUS).cast(pl.String),
    )
    return matches.select(row.struct.json_encode().alias("row")).get_column("row")


def canonical_rows(matches: pl.DataFrame) -> list[str]:
    """Each decision row as the compact JSON object its leaf hashes (polars encodes a
    million rows in a fraction of what Python's json takes)."""
    if matches.is_empty():
        return []
    return _canonical(matches).to_list()


def leaf_of(row: dict[str, Any]) -> bytes:
    """The leaf of a decision row given as a mapping (a proof's), encoded as polars does."""
    ordered = {name: row[name] for name in FIELDS}
    return merkle_leaf(json.dumps(ordered, separators=(",", ":"), ensure_ascii=False).encode())


def leaves_of(matches: pl.DataFrame) -> list[bytes]:
    """The leaf of every decision row: polars prefixes and encodes the rows, so Python makes
    one call per row, the hash's own (`merkle_leaf` of each canonical row)."""
    if matches.is_empty():
        return []
    prefixed = (LEAF_PREFIX.decode() + _canonical(matches)).cast(pl.Binary)
    sha256 = hashlib.sha256
    return [sha256(message).digest() for message in prefixed.to_list()]


def root_of(matches: pl.DataFrame) -> tuple[bytes, int]:
    """The Merkle root over a job's decisions and the number of its leaves; in C where
    `_merkle` is built (the same root: tests/unit/test_merkle_native.py), LEAF_ROWS rows
    at a time, so that their text never exists for all rows at once."""
    if _merkle is None or matches.is_empty():
        leaves = leaves_of(matches)
        return merkle_root(leaves), len(leaves)
    # the worker's alone (`tieout audit` checks proofs without it): 0.2 s to import
    import pyarrow as pa  # noqa: PLC0415

    hashed = bytearray()
    for first in range(0, matches.height, LEAF_ROWS):
        rows = _canonical(matches.slice(first, LEAF_ROWS), first).to_arrow()
        if rows.type != pa.large_string():  # what polars gives today, without a copy
            rows = rows.cast(pa.large_string())
        _, offsets, data = rows.buffers()
        count = len(rows) + 1
        at = np.frombuffer(offsets, dtype=np.int64, count=count, offset=rows.offset * 8)
        hashed += _merkle.leaves(data, at)
    return _merkle.root(bytes(hashed)), matches.height


def sign_root(job_id: UUID, root: bytes, leaves: int, signer: Signer) -> Commitment:
    """The commitment to a root computed by `root_of`, signed."""
    verifier = signer.verifier
    signature = signer.sign(root_message(job_id, leaves, root))
    return Commitment(root.hex(), leaves, verifier.key_id, verifier.text, signature.hex())


def commit(job_id: UUID, matches: pl.DataFrame, signer: Signer) -> Commitment:
    """The signed Merkle root over a job's decisions."""
    return sign_root(job_id, *root_of(matches), signer)


def prove(
    job_id: UUID, matches: pl.DataFrame, group: str, commitment: Commitment
) -> dict[str, Any]:
    """A proof that every row of decision `group` is in the job's committed result."""
    rows = canonical_rows(matches)
    leaves = [merkle_leaf(text.encode()) for text in rows]
    if merkle_root(leaves).hex() != commitment.root:
        raise BadInputError(f"job {job_id}: its recorded decisions do not match its root")
    groups = matches.get_column(GROUP_ID).cast(pl.String)
    picked = [int(index) for index in (groups == group).arg_true()]
    if not picked:
        raise NotFoundError(f"job {job_id} has no decision with group_id {group!r}")
    return {
        "format": PROOF_FORMAT,
        "job_id": str(job_id),
        "root": commitment.root,
        "leaves": commitment.leaves,
        "key_id": commitment.key_id,
        "public_key": commitment.public_key,
        "signature": commitment.signature,
        "decisions": [
            {
                "row": json.loads(rows[index]),
                "path": [[side, node.hex()] for side, node in merkle_path(leaves, index)],
            }
            for index in picked
        ],
    }


@dataclass(frozen=True)
class Checked:
    job_id: str
    rows: int
    key_id: str


def check_proof(proof: dict[str, Any], trusted: Verifier | None) -> Checked:
    """Verify a proof offline; BadInputError naming the first thing that does not hold.

    With `trusted`, the root must be signed by that key; without, by the key the proof
    names (then only its fingerprint ties it to a deployment)."""
    try:
        if proof["format"] != PROOF_FORMAT:
            raise BadInputError(f"not a Tieout proof ({proof['format']!r})")
        job_id, root = UUID(proof["job_id"]), bytes.fromhex(proof["root"])
        key = trusted or Verifier.from_text(proof["public_key"])
        signed = key.verify(
            bytes.fromhex(proof["signature"]), root_message(job_id, int(proof["leaves"]), root)
        )
        if not signed:
            raise ProofInvalidError(f"the root is not signed by key {key.key_id}")
        for decision in proof["decisions"]:
            row = decision["row"]
            path = [(str(side), bytes.fromhex(node)) for side, node in decision["path"]]
            if merkle_climb(leaf_of(row), path) != root:
                raise ProofInvalidError(
                    f"decision row {row['index']} does not lead to the signed root"
                )
    except (KeyError, TypeError, ValueError) as exc:
        raise BadInputError(f"not a readable proof: {exc}") from None
    return Checked(str(job_id), len(proof["decisions"]), key.key_id)
