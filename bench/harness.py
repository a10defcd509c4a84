"""What the matcher benchmarks share: running a contender, keeping the parent small, scoring.

On Linux a child's ru_maxrss starts at its parent's high-water RSS (it survives exec), so a
benchmark's parent never touches the data: generating and scoring run in spawned processes
(`in_child`) and the parent imports neither polars nor numpy.

Importing polars sets polars' allocator settings in the process's environment
(`_RJEM_MALLOC_CONF`), which every child would inherit: `tieout match` then kept those
instead of its own (tieout/allocator.py), and peaked 40-60 MB higher than when started
from a shell. A contender gets the environment the benchmark was started with.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
JEMALLOC_CONF = "_RJEM_MALLOC_CONF"
_STARTED_WITH = os.environ.get(JEMALLOC_CONF)  # this module is imported before polars
Quality = tuple[float, float, float, float, float, int]
NO_QUALITY: Quality = (0.0, 0.0, 0.0, 0.0, 0.0, 0)


@dataclass(frozen=True)
class Figures:
    """One contender's result on one data set: `data` names the data set (a distribution
    of the matrix, or a ruleset), the time is a median when runs were repeated."""

    contender: str
    data: str
    rows: int
    seconds: float
    peak_mb: float
    precision: float
    recall: float
    f1: float
    auto_precision: float
    auto_recall: float
    decisions: int
    exit_code: int


@dataclass(frozen=True)
class Run:
    """A contender's wall time, peak memory (its own ru_maxrss) and exit code."""

    seconds: float
    peak_mb: float
    exit_code: int


def timed(command: list[str]) -> Run:
    """Run a command in a subprocess of its own, stdout discarded."""
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, env=_contender_env())  # noqa: S603
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    return Run(seconds, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status))


def _contender_env() -> dict[str, str]:
    """This process's environment with polars' allocator setting as it was at the start."""
    env = {name: value for name, value in os.environ.items() if name != JEMALLOC_CONF}
    if _STARTED_WITH is not None:
        env[JEMALLOC_CONF] = _STARTED_WITH
    return env


def tieout_command(left: Path, right: Path, rules: Path, out: Path) -> list[str]:
    """The real CLI, `tieout match LEFT RIGHT --rules RULES --out OUT`."""
    code = "from tieout.cli import main; main()"
    return [sys.executable, "-c", code, "match", str(left), str(right), "--rules", str(rules),
            "--out", str(out)]  # fmt: skip


def in_child(function: Callable[..., T], *args: object) -> T:
    """Run `function(*args)` in a fresh interpreter, so this process's memory stays small."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(function, *args).result()


def score(matches_path: Path, truth_path: Path) -> Quality:
    """precision, recall, F1, precision and recall of `matched` decisions, number of
    decisions."""
    import polars as pl  # noqa: PLC0415 - only in a child process (see the docstring)

    from demo.evaluation import accuracy  # noqa: PLC0415

    if not matches_path.exists():
        return NO_QUALITY
    matches = pl.read_parquet(matches_path, columns=["left_id", "right_id", "status"])
    found = accuracy(matches, pl.read_csv(truth_path, columns=["left_id", "right_id"]))
    return (
        found.precision,
        found.recall,
        found.f1,
        found.auto_precision,
        found.auto_recall,
        found.decided_pairs,
    )
