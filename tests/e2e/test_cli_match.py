"""`tieout match` as a user runs it: the output contract and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from demo.datagen import generate_bank_ledger

RULES = Path(__file__).parents[2] / "demo" / "rulesets" / "bank_ledger.yaml"
RUN_CLI = "from tieout.cli import main; main()"


def tieout(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", RUN_CLI, *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return generate_bank_ledger(2_000, seed=11).write_csv(tmp_path_factory.mktemp("data"))


def test_match_writes_the_three_contract_outputs(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = tieout("match", *inputs, "--rules", RULES, "--out", out)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == str(out)
    matches = pl.read_parquet(out / "matches.parquet")
    assert list(matches.schema.items())[:6] == [
        ("left_id", pl.String()),
        ("right_id", pl.String()),
        ("group_id", pl.String()),
        ("rule", pl.String()),
        ("confidence", pl.Float64()),
        ("status", pl.String()),
    ]
    assert set(matches["status"]) <= {"matched", "suggested"}
    assert matches["confidence"].is_between(0, 1).all()
    unmatched = pl.read_parquet(out / "unmatched.parquet")
    assert unmatched.columns == ["side", "id", "reason"]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    for key in ("left_rows", "right_rows", "matched", "suggested", "seconds", "rules"):
        assert key in summary
    assert summary["unmatched_left"] + summary["matched_left"] == summary["left_rows"] == 2_000
    assert summary["matched"] + summary["suggested"] == matches.height


def test_the_same_input_in_another_format_gives_identical_bytes(
    inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    left, right = inputs
    shuffled = tmp_path / "right.parquet"
    pl.read_csv(right, try_parse_dates=True).reverse().write_parquet(shuffled)
    first, second = tmp_path / "a", tmp_path / "b"
    assert tieout("match", left, right, "--rules", RULES, "--out", first).returncode == 0
    assert tieout("match", left, shuffled, "--rules", RULES, "--out", second).returncode == 0
    for name in ("matches.parquet", "unmatched.parquet"):
        assert (first / name).read_bytes() == (second / name).read_bytes()


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing-file", "error: nowhere.csv: no such file"),
        ("unknown-column", "error: rules[0].when[0].left: unknown column 'refrence'"),
        ("bad-rule", "error: rules[0].when[0].op: unknown op 'near'"),
        ("unreadable-csv", "error: "),
        ("missing-rules", "error: "),
        ("unknown-extension", "error: "),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    inputs: tuple[Path, Path], tmp_path: Path, case: str, message: str
) -> None:
    left, right = inputs
    rules = RULES
    text = RULES.read_text(encoding="utf-8")
    if case == "missing-file":
        left = Path("nowhere.csv")
    elif case in {"unknown-column", "bad-rule"}:
        rules = tmp_path / "rules.yaml"
        old, new = ("left: reference", "left: refrence")
        if case == "bad-rule":
            old, new = ("op: equals, normalize", "op: near, normalize")
        rules.write_text(text.replace(old, new, 1), encoding="utf-8")
    elif case == "unreadable-csv":
        left = tmp_path / "broken.csv"
        left.write_bytes(b'txn_id,amount\n1,2\n\xff\xfe\x00,"unterminated\n3,4,5,6\n')
    elif case == "missing-rules":
        rules = tmp_path / "nope.yaml"
    else:
        left = tmp_path / "left.xlsx"
        left.write_text("x", encoding="utf-8")
    out = tmp_path / "out"
    done = tieout("match", left, right, "--rules", rules, "--out", out)
    assert done.returncode == 2
    assert done.stderr.startswith(message)
    assert len(done.stderr.splitlines()) == 1
    assert "Traceback" not in done.stderr
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]


def test_an_existing_out_dir_keeps_its_other_files(
    inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    assert tieout("match", *inputs, "--rules", RULES, "--out", out).returncode == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "matches.parquet",
        "notes.txt",
        "summary.json",
        "unmatched.parquet",
    ]
