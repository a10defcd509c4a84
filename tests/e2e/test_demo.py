"""`tieout demo` end to end, small, against the test database."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path


def test_demo_reconciles_and_reports_against_truth(cli_env: dict[str, str]) -> None:
    tieout = Path(sys.executable).parent / "tieout"
    done = subprocess.run(
        [str(tieout), "demo", "--rows", "3000"],
        env=cli_env | {"COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=240,  # below pytest's 300 s, so that a hang fails here with the output so far
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "exact-reference" in out
    precision = re.search(r"precision ([0-9.]+) · recall ([0-9.]+)", out)
    assert precision is not None, out
    assert float(precision.group(1)) >= 0.99
    assert float(precision.group(2)) >= 0.99
    assert re.search(r"project [0-9a-f-]{36}", out)
    assert re.search(r"job [0-9a-f-]{36} · completed after 1 attempt", out)
    assert_sides_add_up(out)
    assert re.search(r"^  tieout jobs show [0-9a-f-]{36}", out, re.MULTILINE)  # a next step
    snapshot = r"^Snapshot \S+ \(full\): [0-9,]+ events.*verified with 1 snapshot"
    assert re.search(snapshot, out, re.MULTILINE)
    assert re.search(r"^Hash chain intact: [0-9,]+ events rehashed", out, re.MULTILINE)
    for step in ("confirm +│ alice", "reject +│ alice", "approve +│ bob +│ alice's match"):
        assert re.search(step, out), out
    assert re.search(r"^Review items now: .*approved by cli:bob", out, re.MULTILINE)


def assert_sides_add_up(out: str) -> None:
    """Each side's rows are matched automatically, suggested or unmatched, once: the demo's
    numbers add up against the rows generated, and the rules' totals against the bank."""
    sides = {}
    for label in ("bank statement", "ledger"):
        line = next(line for line in out.splitlines() if line.startswith(f"│ {label}"))
        rows, auto, suggested, unmatched = (
            int(number.replace(",", "")) for number in re.findall(r"[0-9][0-9,]*", line)
        )
        assert rows == auto + suggested + unmatched, line
        sides[label] = (auto, suggested)
    rules = [
        [int(number.replace(",", "")) for number in re.findall(r"[0-9][0-9,]*", line)]
        for line in out.splitlines()
        if re.match(r"^│ [a-z-]+ +│ +[0-9]", line)
    ]
    assert rules
    assert tuple(map(sum, zip(*rules, strict=True))) == sides["bank statement"]


def test_demo_rejects_too_few_rows(cli_env: dict[str, str]) -> None:
    tieout = Path(sys.executable).parent / "tieout"
    done = subprocess.run(
        [str(tieout), "demo", "--rows", "3"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "--rows" in done.stderr
