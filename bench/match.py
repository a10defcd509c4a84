"""Benchmark: `tieout match` next to a DuckDB and a pandas baseline, on the same data and rules.

For each size, the bank-vs-ledger generator writes left.csv, right.csv and truth.csv; each
contender then runs end to end (CSV in, matches.parquet out) in a subprocess of its own,
one after the other, so its wall time and peak memory (ru_maxrss from wait4) are its own.
On Linux a child's ru_maxrss starts at its parent's high-water RSS (it survives exec), so
this parent never touches the data: generating and scoring run in spawned processes and
the parent imports neither polars nor numpy (as bench/generic.py does).
Precision, recall and F1 count every decision against the truth pairs; "auto precision"
counts only decisions with status `matched`, "auto recall" the true pairs among them.

With `--repeat N` the contenders run N times each, alternating (tieout, duckdb, tieout,
duckdb ...), and the table shows each one's median time and largest peak: on a shared
machine single runs move by 10-30%, and a ratio of medians of alternating runs moves far
less than the ratio of one run each.

With `--matrix` every distribution of bench/distributions.py (uniform, round amounts,
month-end dates, long text, popular references, non-ASCII text, a lopsided 1:5 ledger)
is generated at each size and run the same way; one table covers them all, each ratio
against the DuckDB run on the same data.

    python bench/match.py [--rows 100000 1000000] [--out bench/out] [--only tieout duckdb]
                          [--repeat 5] [--matrix [NAME ...]]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from harness import Figures, Run, in_child, score, tieout_command, timed

HERE = Path(__file__).resolve().parent
RULES = HERE.parent / "demo" / "rulesets" / "bank_ledger.yaml"
CONTENDERS = ("tieout", "duckdb", "pandas")
HEADER = (
    "| rows/side | contender | time (s) | vs duckdb | peak MB | precision | recall | F1 |"
    " auto precision | auto recall |"
)


MATRIX_HEADER = (
    "| distribution | rows/side | contender | time (s) | vs duckdb | peak MB | mem vs duckdb"
    " | precision | recall | F1 | auto precision | auto recall |"
)


def command(contender: str, left: Path, right: Path, out: Path) -> list[str]:
    if contender == "tieout":
        return tieout_command(left, right, RULES, out)
    script = HERE / f"baselines_{contender}.py"
    return [sys.executable, str(script), str(left), str(right), str(out)]


def run_alternating(
    contenders: list[str], data: Path, rows: int, repeat: int, distribution: str = "bank"
) -> list[Figures]:
    """Every contender `repeat` times, in turns; per contender the median time, the
    largest peak, the worst exit code, and the quality of its output (the same each run)."""
    runs: dict[str, list[Run]] = {contender: [] for contender in contenders}
    for turn in range(1, repeat + 1):
        for contender in contenders:
            out = data / f"out-{contender}"
            run = timed(command(contender, data / "left.csv", data / "right.csv", out))
            runs[contender].append(run)
            if repeat > 1:
                line = {"contender": contender, "data": data.name, "turn": turn, **asdict(run)}
                print(json.dumps(line), flush=True)
    figures = []
    for contender, done in runs.items():
        out = data / f"out-{contender}"
        quality = in_child(score, out / "matches.parquet", data / "truth.csv")
        seconds = statistics.median(run.seconds for run in done)
        peak = max(run.peak_mb for run in done)
        failed = max((run.exit_code for run in done), key=abs)
        figures.append(Figures(contender, distribution, rows, seconds, peak, *quality, failed))
    return figures


def write_bank_ledger(rows: int, seed: int, data: Path) -> None:
    from demo.datagen import generate_bank_ledger  # noqa: PLC0415 - only in a child process

    generate_bank_ledger(rows, seed=seed).write_csv(data)


def write_distribution(name: str, rows: int, seed: int, data: Path) -> None:
    from distributions import generate  # noqa: PLC0415 - only in a child process

    generate(name, rows, seed).write_csv(data)


def matrix_table(figures: list[Figures]) -> str:
    """One line per (distribution, contender): time and memory against DuckDB's on the
    same data, and the quality of the decisions."""
    lines = [
        MATRIX_HEADER,
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    duck = {(f.data, f.rows): f for f in figures if f.contender == "duckdb"}
    for f in figures:
        base = duck.get((f.data, f.rows))
        ratio = f"{f.seconds / base.seconds:.2f}x" if base else "-"
        memory = f"{f.peak_mb / base.peak_mb:.2f}x" if base else "-"
        failed = "" if f.exit_code == 0 else f" (exit {f.exit_code})"
        lines.append(
            f"| {f.data} | {f.rows:,} | {f.contender}{failed} | {f.seconds:.2f} | {ratio}"
            f" | {f.peak_mb:,.0f} | {memory} | {f.precision:.4f} | {f.recall:.4f} | {f.f1:.4f}"
            f" | {f.auto_precision:.4f} | {f.auto_recall:.4f} |"
        )
    return "\n".join(lines)


def generated(data: Path, writer: Callable[..., None], *args: object) -> None:
    """Generate into `data` in a child process, then sync, so that the first contender
    does not pay for writing the data back to disk."""
    started = time.perf_counter()
    in_child(writer, *args, data)
    os.sync()
    print(f"generated {data.name} in {time.perf_counter() - started:.1f}s", flush=True)


def table(figures: list[Figures]) -> str:
    lines = [HEADER, "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    duck = {f.rows: f.seconds for f in figures if f.contender == "duckdb"}
    for f in figures:
        ratio = f"{f.seconds / duck[f.rows]:.2f}x" if f.rows in duck else "-"
        failed = "" if f.exit_code == 0 else f" (exit {f.exit_code})"
        lines.append(
            f"| {f.rows:,} | {f.contender}{failed} | {f.seconds:.1f} | {ratio} | {f.peak_mb:,.0f} "
            f"| {f.precision:.4f} | {f.recall:.4f} | {f.f1:.4f} | {f.auto_precision:.4f} "
            f"| {f.auto_recall:.4f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--out", type=Path, default=HERE / "out")
    parser.add_argument("--only", nargs="+", choices=CONTENDERS, default=list(CONTENDERS))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=1, help="alternating runs per contender")
    parser.add_argument(
        "--matrix",
        nargs="*",
        metavar="NAME",
        help="run the distribution matrix (all of it, or the distributions named)",
    )
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat: must be at least 1")
    figures: list[Figures] = []
    for rows in args.rows:
        for name in _distributions(args.matrix):
            data = args.out / (f"data-{rows}" if name == "bank" else f"matrix-{name}-{rows}")
            if name == "bank":
                generated(data, write_bank_ledger, rows, args.seed)
            else:
                generated(data, write_distribution, name, rows, args.seed)
            for done in run_alternating(args.only, data, rows, args.repeat, name):
                figures.append(done)
                print(json.dumps(asdict(done)), flush=True)
    report = table(figures) if args.matrix is None else matrix_table(figures)
    if args.repeat > 1:
        report = f"Median time of {args.repeat} alternating runs per contender.\n\n{report}"
    print(report)
    (args.out / "results.md").write_text(report + "\n", encoding="utf-8")


def _distributions(matrix: list[str] | None) -> list[str]:
    """The data sets to run: the plain benchmark without `--matrix`, else the matrix."""
    if matrix is None:
        return ["bank"]
    from distributions import DISTRIBUTIONS  # noqa: PLC0415 - imports polars: only if asked

    unknown = sorted(set(matrix) - set(DISTRIBUTIONS))
    if unknown:
        raise SystemExit(f"--matrix: unknown distribution {unknown[0]!r}")
    return matrix or list(DISTRIBUTIONS)


if __name__ == "__main__":
    main()
