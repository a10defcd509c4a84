"""Merkle commitments and inclusion proofs: every leaf of every tree size proves, and any
change to a row, a path, the root or the signature is caught."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import polars as pl
import pytest

from engine.commitment import (
    Signer,
    merkle_climb,
    merkle_leaf,
    merkle_path,
    merkle_root,
)
from engine.decision_proofs import (
    Commitment,
    ProofInvalidError,
    check_proof,
    commit,
    leaves_of,
    prove,
)
from engine.domain.job import Job
from engine.errors import BadInputError, NotFoundError

SAMPLES = Path(__file__).parent.parent / "samples" / "events"
SIGNER = Signer.generate()


@pytest.mark.parametrize("size", range(1, 18))
def test_every_leaf_of_every_size_climbs_to_the_root(size: int) -> None:
    leaves = [merkle_leaf(str(number).encode()) for number in range(size)]
    root = merkle_root(leaves)
    for index, leaf in enumerate(leaves):
        assert merkle_climb(leaf, merkle_path(leaves, index)) == root
    assert merkle_climb(merkle_leaf(b"other"), merkle_path(leaves, 0)) != root or size == 0


def test_leaves_and_nodes_never_hash_alike() -> None:
    left, right = merkle_leaf(b"a"), merkle_leaf(b"b")
    assert merkle_root([left, right]) != merkle_leaf(left + right)


def decisions() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "left_id": ["1", "2", "3", "4", "5"],
            "right_id": ["a", "b", 'c"é', "d", "e"],
            "group_id": [0, 1, 2, 2, 3],
            "rule": ["exact", "exact", "split", "split", "fuzzy"],
            "confidence": [1.0, 0.95, 0.9, 0.9, 0.8123456],
            "status": ["matched", "matched", "matched", "matched", "suggested"],
        }
    )


def proof_of(group: str) -> tuple[UUID, dict[str, Any]]:
    job_id = uuid4()
    commitment = commit(job_id, decisions(), SIGNER)
    return job_id, prove(job_id, decisions(), group, commitment)


def test_a_proof_of_a_group_holds_offline() -> None:
    job_id, proof = proof_of("2")
    assert len(proof["decisions"]) == 2  # a many-to-one group: both rows
    checked = check_proof(json.loads(json.dumps(proof)), SIGNER.verifier)
    assert (checked.job_id, checked.rows, checked.key_id) == (
        str(job_id),
        2,
        SIGNER.verifier.key_id,
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p["decisions"][0]["row"].update(confidence_millionths=1), "does not lead"),
        (lambda p: p["decisions"][0]["row"].update(right_id="z"), "does not lead"),
        (lambda p: p["decisions"][0]["path"].pop(), "does not lead"),
        (lambda p: p.update(leaves=4), "not signed"),
        (lambda p: p.update(job_id=str(uuid4())), "not signed"),
        (lambda p: p.update(root="00" * 32), "not signed"),
    ],
)
def test_a_changed_proof_fails(change: Any, message: str) -> None:
    _, proof = proof_of("2")
    changed = copy.deepcopy(proof)
    change(changed)
    with pytest.raises(ProofInvalidError, match=message):
        check_proof(changed, None)


def test_a_proof_signed_by_another_key_fails_against_the_trusted_one() -> None:
    _, proof = proof_of("1")
    assert check_proof(proof, None).key_id == SIGNER.verifier.key_id
    with pytest.raises(ProofInvalidError, match="not signed"):
        check_proof(proof, Signer.generate().verifier)


def test_unknown_groups_unreadable_proofs_and_a_wrong_root_are_refused() -> None:
    job_id = uuid4()
    commitment = commit(job_id, decisions(), SIGNER)
    with pytest.raises(NotFoundError):
        prove(job_id, decisions(), "9", commitment)
    other = Commitment(**{**commitment.__dict__, "root": "00" * 32})
    with pytest.raises(BadInputError, match="do not match its root"):
        prove(job_id, decisions(), "1", other)
    with pytest.raises(BadInputError, match="not a readable proof"):
        check_proof({"format": "tieout-proof/1"}, None)


def test_leaves_are_the_canonical_rows() -> None:
    leaves = leaves_of(decisions())
    expected = (
        '{"index":2,"group_id":"2","left_id":"3","right_id":"c\\"é","rule":"split",'
        '"confidence_millionths":900000,"status":"matched"}'
    )
    assert leaves[2] == merkle_leaf(expected.encode())


def test_job_completed_v1_is_upcast_without_a_commitment() -> None:
    from test_event_samples import load  # noqa: PLC0415 - the samples' own loader

    event = load(SAMPLES / "Job.JobCompleted.v1.json")
    assert isinstance(event, Job.JobCompleted)
    assert event.commitment == {}
