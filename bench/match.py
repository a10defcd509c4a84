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
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from harness import in_child, score, tieout_command, timed

HERE = Path(__file__).resolve().parent
RULES = HERE.parent / "tieout" / "rulesets" / "bank_ledger.yaml"
CONTENDERS = ("tieout", "duckdb", "pandas")
HEADER = (
    "| rows/side | contender | time (s) | vs duckdb | peak MB | precision | recall | F1 |"
    " auto precision |"
)


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
        return tieout_command(left, right, RULES, out)
    script = HERE / f"baselines_{contender}.py"
    return [sys.executable, str(script), str(left), str(right), str(out)]


def run_one(contender: str, data: Path, rows: int) -> Figures:
    out = data / f"out-{contender}"
    run = timed(command(contender, data / "left.csv", data / "right.csv", out))
    quality = in_child(score, out / "matches.parquet", data / "truth.csv")
    return Figures(contender, rows, run.seconds, run.peak_mb, *quality, run.exit_code)


def write_bank_ledger(rows: int, seed: int, data: Path) -> None:
    from tieout.datagen import generate_bank_ledger  # noqa: PLC0415 - only in a child process

    generate_bank_ledger(rows, seed=seed).write_csv(data)


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
