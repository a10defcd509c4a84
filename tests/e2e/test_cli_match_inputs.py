"""`tieout match` on customer-like CSVs (issue #3): columns empty in their first rows, a
column with no value, leading zeros, and phone numbers written as text on one side and
read as numbers on the other."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl

from engine.frames import INFER_ROWS

RUN_CLI = "from tieout.cli import main; main()"
ROWS = INFER_ROWS + 1_000
LATE_DOB = 1_200  # birth_date is empty in the first 1,200 rows
LATE_MEMBER = INFER_ROWS + 500  # member_no is empty in every row types are inferred from

RULES = """
left: {id: customer_id}
right: {id: account_id}
rules:
  - name: member
    when:
      - {left: member_no, right: membership, op: equals}
  - name: phone
    when:
      - {left: phone, right: tel, op: equals, normalize: [digits]}
  - name: dob-zip
    when:
      - {left: birth_date, right: dob, op: equals}
      - {left: postcode, right: zip, op: equals, normalize: [nospace, lower]}
  - name: fax
    when:
      - {left: fax, right: tel, op: equals}
"""


def tieout(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", RUN_CLI, *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)


def _inputs(tmp_path: Path) -> tuple[Path, Path]:
    """Left row i matches right row i by member number (late rows), by phone (every 3rd
    row: text on the left, an integer on the right) or by birth date and postcode."""
    left = [
        "customer_id,member_no,phone,birth_date,postcode,fax",
        *(
            f"{i},{'' if i < LATE_MEMBER else 900_000 + i},"
            f"{f'555-{i:03d}-{i:04d}' if i % 3 == 0 else ''},"
            f"{'' if i < LATE_DOB else f'19{50 + i % 40}-{1 + i % 12:02d}-{1 + i % 28:02d}'},"
            f"SW{i // 10} {i % 10}AA,"
            for i in range(ROWS)
        ),
    ]
    right = [
        "account_id,membership,tel,dob,zip",
        *(
            f"A{i},{900_000 + i if i >= LATE_MEMBER else ''},"
            f"{f'555{i:03d}{i:04d}' if i % 3 == 0 else ''},"
            f"19{50 + i % 40}-{1 + i % 12:02d}-{1 + i % 28:02d},sw{i // 10}{i % 10}aa"
            for i in range(ROWS)
        ),
    ]
    (tmp_path / "left.csv").write_text("\n".join(left) + "\n", encoding="utf-8")
    (tmp_path / "right.csv").write_text("\n".join(right) + "\n", encoding="utf-8")
    return tmp_path / "left.csv", tmp_path / "right.csv"


def test_late_values_and_mixed_phone_types_match(tmp_path: Path) -> None:
    left, right = _inputs(tmp_path)
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    out = tmp_path / "out"
    done = tieout("match", left, right, "--rules", rules, "--out", out)
    assert done.returncode == 0, done.stderr
    matches = pl.read_parquet(out / "matches.parquet")
    pairs = matches.select(pl.col("right_id") == "A" + pl.col("left_id"))
    assert pairs.to_series().all()
    by_rule = dict(matches.group_by("rule").len().iter_rows())
    assert by_rule["member"] == ROWS - LATE_MEMBER
    assert by_rule["phone"] == len([i for i in range(LATE_MEMBER) if i % 3 == 0])
    assert "fax" not in by_rule  # a column with no value matches nothing
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    # rows before LATE_DOB without a phone have no birth date: nothing to match them on
    assert summary["unmatched_left"] == len([i for i in range(LATE_DOB) if i % 3 != 0])


def test_mixed_types_without_normalize_exit_2_with_a_hint(tmp_path: Path) -> None:
    left, right = _inputs(tmp_path)
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES.replace(", normalize: [digits]", ""), encoding="utf-8")
    out = tmp_path / "out"
    done = tieout("match", left, right, "--rules", rules, "--out", out)
    assert done.returncode == 2
    assert done.stderr == (
        "error: rules[1].when[0]: cannot compare text column 'phone' with number column 'tel'"
        " (add normalize to compare them as text)\n"
    )
    assert not out.exists()
