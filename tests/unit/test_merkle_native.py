"""The decision root hashed in C (`engine._merkle`) is engine.commitment's root, byte for
byte, whatever the rows' text and count."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import _merkle, decision_proofs
from engine.commitment import merkle_leaf, merkle_root
from engine.decision_proofs import leaves_of, root_of


def decisions(ids: list[str], seed: int = 3) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "group_id": ids,
            "left_id": ids,
            "right_id": [text[::-1] for text in ids],
            "rule": rng.choice(["exact", "fuzzy"], len(ids)).tolist(),
            "confidence": rng.random(len(ids)),
            "status": rng.choice(["matched", "suggested"], len(ids)).tolist(),
        },
        schema_overrides={"group_id": pl.String, "left_id": pl.String, "right_id": pl.String},
    )


def test_the_extension_is_built() -> None:
    """Every machine the suite runs on builds it (this module's import fails first where
    it is not): the tests below would otherwise compare Python with itself."""
    assert decision_proofs.NATIVE
    assert vars(decision_proofs)["_merkle"] is _merkle


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(max_size=30), max_size=70))
def test_root_is_the_python_root(ids: list[str]) -> None:
    """Any ids (quotes, escapes, non-ASCII and astral characters among them), any count:
    odd levels carry their last node up as the Python tree does."""
    frame = decisions(ids)
    leaves = leaves_of(frame)
    assert root_of(frame) == (merkle_root(leaves), len(leaves))


@pytest.mark.parametrize("rows", [decision_proofs.LEAF_ROWS - 1, decision_proofs.LEAF_ROWS * 2 + 1])
def test_rows_hashed_in_slices_keep_their_index(rows: int) -> None:
    """Past LEAF_ROWS the rows are made canonical a slice at a time: each leaf still hashes
    the row's index in the whole job, not in its slice."""
    frame = decisions([f"T{n}" for n in range(rows)])
    leaves = leaves_of(frame)
    assert root_of(frame) == (merkle_root(leaves), rows)


def test_leaves_are_each_rows_hash() -> None:
    rows = [b"", b"a", b'{"index":0}', "é𝄞".encode()]
    offsets = np.cumsum([0, *(len(row) for row in rows)]).astype(np.int64)
    hashed = _merkle.leaves(b"".join(rows), offsets)
    assert [hashed[i * 32 : (i + 1) * 32] for i in range(len(rows))] == [
        merkle_leaf(row) for row in rows
    ]
    assert _merkle.root(hashed) == merkle_root([merkle_leaf(row) for row in rows])


@pytest.mark.parametrize(
    ("data", "offsets"),
    [
        (b"abc", np.array([0, 2, 1], dtype=np.int64)),  # not ascending
        (b"abc", np.array([0, 4], dtype=np.int64)),  # past the data
        (b"abc", np.array([-1, 2], dtype=np.int64)),
        (b"abc", np.zeros(0, dtype=np.int64)),  # not even n + 1 = 1
    ],
)
def test_bad_offsets_raise(data: bytes, offsets: np.ndarray) -> None:
    with pytest.raises(ValueError, match="offsets"):
        _merkle.leaves(data, offsets)


@pytest.mark.parametrize(
    "offsets", [np.zeros(2, dtype=np.int32), np.zeros(2, dtype=np.float64), b"\0" * 16]
)
def test_offsets_of_another_type_raise(offsets: object) -> None:
    with pytest.raises(TypeError, match="int64"):
        _merkle.leaves(b"abc", offsets)  # type: ignore[arg-type]


@pytest.mark.parametrize("leaves", [b"", b"x" * 31, b"x" * 33])
def test_a_root_needs_whole_leaves(leaves: bytes) -> None:
    with pytest.raises(ValueError, match="leaves"):
        _merkle.root(leaves)
