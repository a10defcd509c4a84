"""`tieout match LEFT RIGHT --rules RULES --out DIR`: stateless matching, no database.

Writes DIR/matches.parquet, DIR/unmatched.parquet and DIR/summary.json. The files are
written to a temporary directory next to DIR and moved in only when all of them are done,
so bad input or a crash leaves DIR without partial files.
"""

from __future__ import annotations

import importlib
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import polars as pl

from engine import matching
from engine.errors import BadInputError
from engine.frames import collect_frames, scan_frame
from engine.matching.result import MatchResult
from engine.matching.schemas import DONE
from tieout.allocator import return_free_memory
from tieout.cli.root import STATELESS, cli

if TYPE_CHECKING:
    from engine.matching.ruleset import Ruleset

Scans = tuple[pl.LazyFrame, pl.LazyFrame]
Report = Callable[[str, int, int], None]

OUTPUTS = ("matches.parquet", "unmatched.parquet", "summary.json")
# zstd at level 1 writes the 1M-row matches file faster than the default level 3 and
# about 8% smaller (ids compress as well either way); no statistics, nobody filters on them
PARQUET: dict[str, Any] = {"compression": "zstd", "compression_level": 1, "statistics": False}


@cli.command("match")
@click.argument("left", type=click.Path(path_type=Path))
@click.argument("right", type=click.Path(path_type=Path))
@click.option("--rules", "rules_path", required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path))
def match_command(left: Path, right: Path, rules_path: Path, out_dir: Path) -> str:
    """Match LEFT against RIGHT (CSV, Parquet or NDJSON) with a ruleset; write DIR."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        # both files' schemas are inferred while the ruleset's modules (pydantic) load:
        # polars works without the GIL, imports hold it (about 0.05 s each at 1M rows)
        scanning = [pool.submit(scan_frame, path) for path in (left, right)]
        ruleset = read_ruleset(rules_path)
        _check_out_dir(out_dir)
        scans = (scanning[0].result(), scanning[1].result())
    frames = list(_read_while_loading((left, right), scans, ruleset))
    with _progress() as report:
        # handed over, not kept: the matcher frees them once it has its sorted copies
        result = matching.match(frames.pop(0), frames.pop(0), ruleset, progress=report)
    summary = _summary(result, time.perf_counter() - started)
    write_outputs(result, summary, out_dir)
    click.echo(
        f"matched {summary['matched']}, suggested {summary['suggested']}, "
        f"unmatched {summary['unmatched_left']} left / {summary['unmatched_right']} right "
        f"in {summary['seconds']:.1f}s"
    )
    click.echo(str(out_dir))
    return STATELESS


def read_ruleset(path: Path) -> Ruleset:
    """Parse a ruleset file; a missing or unreadable file is bad input."""
    from engine.matching.ruleset import parse_ruleset  # noqa: PLC0415 - see match_command

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "unreadable"
        raise BadInputError(f"{path}: cannot read rules: {reason}") from None
    return parse_ruleset(text)


def read_inputs(
    paths: tuple[Path, Path], scans: Scans, ruleset: Ruleset
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Check the ruleset against both schemas, then read only the columns it uses, one
    file after the other, each in one chunk per column as the matcher keeps them."""
    ruleset.check_columns(scans[0].collect_schema(), scans[1].collect_schema())
    frames = collect_frames(
        [
            (paths[0], scans[0].select(ruleset.columns("left"))),
            (paths[1], scans[1].select(ruleset.columns("right"))),
        ],
        one_chunk=True,
    )
    return frames[0], frames[1]


def _read_while_loading(
    paths: tuple[Path, Path], scans: Scans, ruleset: Ruleset
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Read the inputs on a worker thread while this one loads the matcher's modules:
    polars reads without holding the GIL, so numpy's and rapidfuzz's start-up (about
    0.2 s) overlaps the reading instead of preceding it."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        reading = pool.submit(read_inputs, paths, scans, ruleset)
        importlib.import_module("engine.matching.waterfall")
        return reading.result()


def _check_out_dir(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise BadInputError(f"{out_dir}: --out exists and is not a directory")


def _summary(result: MatchResult, seconds: float) -> dict[str, Any]:
    summary = result.summary()
    summary["seconds"] = round(seconds, 3)
    return summary


def write_outputs(result: MatchResult, summary: dict[str, Any], out_dir: Path) -> None:
    """Write the three outputs next to DIR, then move them into DIR."""
    try:
        _write_outputs(result, summary, out_dir)
    except OSError as exc:
        raise BadInputError(f"{out_dir}: cannot write: {exc.strerror or exc}") from None


def _write_outputs(result: MatchResult, summary: dict[str, Any], out_dir: Path) -> None:
    parent = out_dir.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=parent))
    try:
        for frame, name in ((result.matches, OUTPUTS[0]), (result.unmatched, OUTPUTS[1])):
            frame.write_parquet(staging / name, **PARQUET)
        text = json.dumps(summary, indent=2, sort_keys=True) + "\n"
        (staging / OUTPUTS[2]).write_text(text, encoding="utf-8")
        _move_into_place(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _move_into_place(staging: Path, out_dir: Path) -> None:
    if not out_dir.exists():
        staging.chmod(0o755)  # mkdtemp makes it private; DIR is an ordinary directory
        staging.rename(out_dir)
        return
    for name in OUTPUTS:
        (staging / name).replace(out_dir / name)


@contextmanager
def _progress() -> Iterator[Report]:
    """The matcher's progress callback: a rich progress bar on stderr when stderr is a
    terminal. Either way, once the rules are done (DONE), the memory malloc holds free
    goes back to the system before the outputs are built (tieout.allocator)."""
    if not sys.stderr.isatty():
        yield _between_stages(None)
        return
    # imported here: rich costs 0.07 s of start-up, and most long runs are not on a terminal
    from rich.console import Console  # noqa: PLC0415
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: PLC0415

    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("matching", total=None)

        def show(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total)

        yield _between_stages(show)


def _between_stages(show: Report | None) -> Report:
    def report(stage: str, done: int, total: int) -> None:
        if stage == DONE:
            return_free_memory()
        if show is not None:
            show(stage, done, total)

    return report
