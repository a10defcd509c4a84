"""Benchmark on another domain: customer records (bench/people.py) matched with a plain ruleset.

The ruleset (bench/people_rules.yaml) uses only `equals` and `similar` over integer, text
and date columns with nulls. For each size, the generator writes left.csv, right.csv and
truth.csv; each contender then runs end to end (CSV in, matches.parquet out) in a
subprocess of its own, one after the other, so its wall time and peak memory (ru_maxrss
from wait4) are its own. On Linux a child's ru_maxrss starts at its parent's high-water
RSS (the parent's memory is recorded when the child execs), so this parent never touches
the data: generating and scoring run in spawned processes and the parent imports neither
polars nor numpy (a child of it reports about 12 MB for `python -c pass`).

Contenders: `tieout` (the real CLI), `duckdb` (bench/people_duckdb.py, the same rules in
SQL) and `tieout-tsr` (Tieout only: rule 3 scored with token_sort_ratio, which DuckDB has
no equivalent of).

`--similar-rows N` adds a separate experiment at N rows a side with a ruleset of a single
`similar` condition (bench/people_name_only.yaml): a full left x right matrix.

    python bench/generic.py [--rows 100000 1000000] [--similar-rows 20000] [--only tieout duckdb]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

from harness import NO_QUALITY, Figures, in_child, score, tieout_command, timed

HERE = Path(__file__).resolve().parent
RULES = {
    "plain": HERE / "people_rules.yaml",
    "tsr": HERE / "people_rules_tsr.yaml",
    "name-only": HERE / "people_name_only.yaml",
}
CONTENDERS = ("tieout", "duckdb", "tieout-tsr")
HEADER = (
    "| rows/side | ruleset | contender | time (s) | vs duckdb | peak MB | precision | recall"
    " | F1 | auto precision | decisions |"
)


def command(contender: str, ruleset: str, data: Path, out: Path) -> list[str]:
    left, right = data / "left.csv", data / "right.csv"
    if contender == "duckdb":
        script = HERE / "people_duckdb.py"
        return [sys.executable, str(script), str(left), str(right), str(out), ruleset]
    return tieout_command(left, right, RULES["tsr" if contender == "tieout-tsr" else ruleset], out)


def run_one(contender: str, ruleset: str, data: Path, rows: int) -> Figures:
    out = data / f"out-{ruleset}-{contender}"
    run = timed(command(contender, ruleset, data, out))
    quality = (
        in_child(score, out / "matches.parquet", data / "truth.csv")
        if run.exit_code == 0
        else NO_QUALITY
    )
    return Figures(contender, ruleset, rows, run.seconds, run.peak_mb, *quality, run.exit_code)


def table(figures: list[Figures]) -> str:
    lines = [HEADER, "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    duck = {(f.rows, f.data): f.seconds for f in figures if f.contender == "duckdb"}
    for f in figures:
        key = (f.rows, f.data)
        ratio = f"{f.seconds / duck[key]:.2f}x" if key in duck else "-"
        failed = "" if f.exit_code == 0 else f" (exit {f.exit_code})"
        lines.append(
            f"| {f.rows:,} | {f.data} | {f.contender}{failed} | {f.seconds:.1f} | {ratio} "
            f"| {f.peak_mb:,.0f} | {f.precision:.4f} | {f.recall:.4f} | {f.f1:.4f} "
            f"| {f.auto_precision:.4f} | {f.decisions:,} |"
        )
    return "\n".join(lines)


def write_people(rows: int, seed: int, data: Path) -> None:
    from people import generate_people  # noqa: PLC0415 - only in a child process

    generate_people(rows, seed=seed).write_csv(data)


def generate(rows: int, seed: int, out: Path) -> Path:
    data = out / f"people-{rows}"
    started = time.perf_counter()
    in_child(write_people, rows, seed, data)
    os.sync()  # the first contender must not pay for writing the data back to disk
    print(f"generated {rows:,} rows a side in {time.perf_counter() - started:.1f}s", flush=True)
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--similar-rows", type=int, default=20_000, help="0: skip")
    parser.add_argument("--out", type=Path, default=HERE / "out")
    parser.add_argument("--only", nargs="+", choices=CONTENDERS, default=list(CONTENDERS))
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    figures: list[Figures] = []
    for rows in args.rows:
        data = generate(rows, args.seed, args.out)
        for contender in args.only:
            figures.append(run_one(contender, "plain", data, rows))
            print(json.dumps(asdict(figures[-1])), flush=True)
    if args.similar_rows:
        data = generate(args.similar_rows, args.seed, args.out)
        for contender in ("tieout", "duckdb"):
            if contender in args.only:
                figures.append(run_one(contender, "name-only", data, args.similar_rows))
                print(json.dumps(asdict(figures[-1])), flush=True)
    report = table(figures)
    print(report)
    (args.out / "generic.md").write_text(report + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
