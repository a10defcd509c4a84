"""Peak memory of registering a CSV source, streamed, against reading it whole.

For each size, a bank-statement CSV of about that many megabytes is written, then two
child processes convert it to the stored Parquet (each measured alone, by its own peak
resident set size):

- `stream`: `engine.ingest.store_source` on the file read as a stream (as `tieout sources
  add - --format csv` reads standard input): spooled while hashed, converted by polars'
  streaming engine;
- `whole`: the file read into one frame and written as Parquet (how sources were
  registered before streaming ingest), the baseline.

    .venv/bin/python bench/ingest.py --mb 100 1000
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from demo.datagen import generate_bank_ledger

SAMPLER = """
import resource
import threading

peak_anon = 0


def sample():
    global peak_anon
    while True:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("RssAnon:"):
                    peak_anon = max(peak_anon, int(line.split()[1]))
        threading.Event().wait(0.02)


threading.Thread(target=sample, daemon=True).start()
"""

STREAM = (
    SAMPLER
    + """
import sys
from pathlib import Path
from engine.ingest import Upload, store_source
from snapshots.stores import LocalObjectStore
with open(sys.argv[1], "rb") as handle:
    stored = store_source(Upload("bank.csv", "csv", handle), LocalObjectStore(sys.argv[2]))
print(stored.row_count, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, peak_anon)
"""
)

WHOLE = (
    SAMPLER
    + """
import sys
import polars as pl
from engine.frames import read_frame
from pathlib import Path
frame = read_frame(Path(sys.argv[1]))
frame.write_parquet(Path(sys.argv[2]) / "whole.parquet", compression="zstd", statistics=True)
print(frame.height, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, peak_anon)
"""
)


def write_csv(path: Path, megabytes: int) -> int:
    """A CSV of about `megabytes` MB: the demo's bank statement, repeated."""
    bank = generate_bank_ledger(200_000, seed=7).left
    block = bank.write_csv().encode()
    header, _, body = block.partition(b"\n")
    rows_per_block = bank.height
    target = megabytes * 1_000_000
    written, rows = 0, 0
    with path.open("wb") as out:
        out.write(header + b"\n")
        while written < target:
            out.write(body)
            written += len(body)
            rows += rows_per_block
    return rows


def run(script: str, csv: Path, scratch: Path) -> tuple[float, float, float, int]:
    """Seconds, peak resident and peak anonymous megabytes, and rows of one child process.

    Resident memory counts the pages of the input that polars maps from the page cache
    (reclaimable, shared with the cache); anonymous memory is what the process allocated
    itself, sampled every 20 ms.
    """
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our own script
        [sys.executable, "-c", script, str(csv), str(scratch)],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = time.perf_counter() - started
    rows, peak_kb, anon_kb = done.stdout.split()
    return seconds, int(peak_kb) / 1024, int(anon_kb) / 1024, int(rows)


def memory(measured: tuple[float, float, float, int]) -> str:
    return f"{measured[1]:,.0f} ({measured[2]:,.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, nargs="+", default=[100, 1000])
    args = parser.parse_args()
    print(
        f"{'size':>8} {'rows':>12} {'stream s':>9} {'stream MB':>10} {'whole s':>8} {'whole MB':>9}"
    )
    for megabytes in sorted(args.mb):
        with tempfile.TemporaryDirectory(prefix="tieout-bench-ingest-") as scratch:
            csv = Path(scratch) / "bank.csv"
            rows = write_csv(csv, megabytes)
            size = csv.stat().st_size / 1_000_000
            stream = run(STREAM, csv, Path(scratch) / "objects")
            whole = run(WHOLE, csv, Path(scratch))
            check = pl.scan_parquet(Path(scratch) / "whole.parquet").select(pl.len()).collect()
            if not stream[3] == whole[3] == check.item() == rows:
                raise SystemExit(f"row counts differ: {stream[3]}, {whole[3]}, {rows}")
            print(
                f"{size:>6.0f}MB {rows:>12,} {stream[0]:>9.1f} {memory(stream):>13} "
                f"{whole[0]:>8.1f} {memory(whole):>13}"
            )


if __name__ == "__main__":
    main()
