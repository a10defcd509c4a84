"""A large job's decision root is hashed in a child process: the same root as in the
calling thread, and a child that dies costs a rehash, never a wrong or missing root."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import numpy as np
import polars as pl
import pytest

from engine.decision_proofs import root_of
from engine.worker.roots import RootHasher


def decisions(rows: int, seed: int = 7) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    left = [f"L{n}" for n in range(rows)]
    return pl.DataFrame(
        {
            "group_id": left,
            "left_id": left,
            "right_id": [f"R{n}" for n in rng.permutation(rows)],
            "rule": rng.choice(["exact", "fuzzy"], rows).tolist(),
            "confidence": rng.random(rows),
            "status": rng.choice(["matched", "suggested"], rows).tolist(),
            "scores": [[0.5]] * rows,  # a column the leaves do not read
        }
    )


@pytest.fixture
def hasher() -> Iterator[RootHasher]:
    roots = RootHasher(offload_rows=2)
    yield roots
    roots.close()


def child_pid(roots: RootHasher) -> int:
    pid = roots._executor().submit(os.getpid).result()
    assert pid != os.getpid()
    return pid


@pytest.mark.parametrize("rows", [0, 1, 2, 3, 257])
def test_the_child_hashes_the_root_the_thread_does(hasher: RootHasher, rows: int) -> None:
    frame = decisions(rows)
    assert hasher.start(frame)() == root_of(frame)
    assert root_of(frame)[1] == rows


def test_a_child_killed_between_jobs_is_replaced(hasher: RootHasher) -> None:
    frame = decisions(500)
    hasher.warm(10)
    first = child_pid(hasher)
    os.kill(first, signal.SIGKILL)
    assert hasher.start(frame)() == root_of(frame)
    assert child_pid(hasher) != first


def test_a_child_killed_while_hashing_costs_a_rehash_in_the_thread(hasher: RootHasher) -> None:
    frame = decisions(200_000)
    pid = child_pid(hasher)
    pending = hasher.start(frame)
    os.kill(pid, signal.SIGKILL)
    assert pending() == root_of(frame)


def test_small_jobs_start_no_child() -> None:
    roots = RootHasher(offload_rows=1_000)
    roots.warm(999)
    assert roots.start(decisions(999))() == root_of(decisions(999))
    assert roots._pool is None
    roots.close()
