"""Benchmark: `tieout match` next to a DuckDB and a pandas baseline, on the same data and rules.

For each size, the bank-vs-ledger generator writes left.csv, right.csv and truth.csv; each
contender then runs end to end (CSV in, matches.parquet out) in a subprocess of its own,
one after the other, so its wall time and peak memory (ru_maxrss from wait4) are its own.
On Linux a child's ru_maxrss starts at its parent's high-water RSS (it survives exec), so
this parent never touches the data: generating and scoring run in spawned processes and
the parent imports neither polars nor numpy (as bench/generic.py does).
Precision, recall and F1 count every decision against the truth pairs; "auto precision"
counts only decisions with status `matched`.

    python bench/match.py [--rows 100000 1000000] [--out bench/out] [--only tieout duckdb]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

HERE = Path(__file__).resolve().parent
RULES = HERE.parent / "tieout" / "rulesets" / "bank_ledger.yaml"
CONTENDERS = ("tieout", "duckdb", "pandas")
HEADER = (
    "| rows/side | contender | time (s) | vs duckdb | peak MB | precision | recall | F1 |"
    " auto precision |"
)
T = TypeVar("T")


@dataclass(frozen=True)
class Figures:
    contender: str
    rows: int
    seconds: float
    peak_mb: float
    precision: float
    recall: float
    f1: float
    auto_precision: float
    decisions: int
    exit_code: int


def command(contender: str, left: Path, right: Path, out: Path) -> list[str]:
    if contender == "tieout":
        code = "from tieout.cli import main; main()"
        return [sys.executable, "-c", code, "match", str(left), str(right), "--rules", str(RULES),
                "--out", str(out)]  # fmt: skip
    script = HERE / f"baselines_{contender}.py"
    return [sys.executable, str(script), str(left), str(right), str(out)]


def run_one(contender: str, data: Path, rows: int) -> Figures:
    out = data / f"out-{contender}"
    started = time.perf_counter()
    child = subprocess.Popen(  # noqa: S603 - our own interpreter and scripts
        command(contender, data / "left.csv", data / "right.csv", out),
        stdout=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    quality = in_child(score, out / "matches.parquet", data / "truth.csv")
    return Figures(contender, rows, seconds, usage.ru_maxrss / 1024, *quality, child.returncode)


def in_child(function: Callable[..., T], *args: object) -> T:
    """Run `function(*args)` in a fresh interpreter, so this process's memory stays small."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(function, *args).result()


def write_bank_ledger(rows: int, seed: int, data: Path) -> None:
    from tieout.datagen import generate_bank_ledger  # noqa: PLC0415 - only in a child process

    generate_bank_ledger(rows, seed=seed).write_csv(data)


def score(matches_path: Path, truth_path: Path) -> tuple[float, float, float, float, int]:
    """precision, recall, F1, precision of `matched` decisions, number of decisions."""
    import polars as pl  # noqa: PLC0415 - only in a child process (see the docstring)

    from tieout.evaluation import accuracy  # noqa: PLC0415

    if not matches_path.exists():
        return (0.0, 0.0, 0.0, 0.0, 0)
    matches = pl.read_parquet(matches_path, columns=["left_id", "right_id", "status"])
    found = accuracy(matches, pl.read_csv(truth_path, columns=["left_id", "right_id"]))
    return (found.precision, found.recall, found.f1, found.auto_precision, found.decided_pairs)


def table(figures: list[Figures]) -> str:
    lines = [HEADER, "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    duck = {f.rows: f.seconds for f in figures if f.contender == "duckdb"}
    for f in figures:
        ratio = f"{f.seconds / duck[f.rows]:.2f}x" if f.rows in duck else "-"
        failed = "" if f.exit_code == 0 else f" (exit {f.exit_code})"
        lines.append(
            f"| {f.rows:,} | {f.contender}{failed} | {f.seconds:.1f} | {ratio} | {f.peak_mb:,.0f} "
            f"| {f.precision:.4f} | {f.recall:.4f} | {f.f1:.4f} | {f.auto_precision:.4f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--out", type=Path, default=HERE / "out")
    parser.add_argument("--only", nargs="+", choices=CONTENDERS, default=list(CONTENDERS))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    figures: list[Figures] = []
    for rows in args.rows:
        data = args.out / f"data-{rows}"
        started = time.perf_counter()
        in_child(write_bank_ledger, rows, args.seed, data)
        os.sync()  # the first contender must not pay for writing the data back to disk
        print(f"generated {rows:,} rows a side in {time.perf_counter() - started:.1f}s", flush=True)
        for contender in args.only:
            figures.append(run_one(contender, data, rows))
            print(json.dumps(asdict(figures[-1])), flush=True)
    report = table(figures)
    print(report)
    (args.out / "results.md").write_text(report + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
