"""Claims the docs make that no other test held to (README, docs/jobs.md, docs/events.md,
docs/matching.md, projections/database.py)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path
from uuid import UUID

import polars as pl
import psycopg
import pytest
from jobs_helpers import META, Inputs, register_inputs, worker
from threads import Threads

from engine.domain.job import CANCELLED
from engine.matching import match
from engine.matching.ruleset import ruleset_from_dict
from projections.projector import catch_up
from tieout.bootstrap import Container
from tieout.cli import main


@pytest.fixture
def cli(cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """`main([...])` in this process runs against the test database."""
    for key, value in cli_env.items():
        monkeypatch.setenv(key, value)


def run_cli(args: list[str]) -> int:
    with pytest.raises(SystemExit) as done:
        main(args)
    return int(done.value.code or 0)


def test_audit_events_are_listed_newest_first(
    container: Container, cli: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """README: `tieout audit events` "queries the audit index, newest first"."""
    for number in range(4):
        container.app.create_project(f"p{number}", META)
    catch_up(container.projections, 30)
    capsys.readouterr()
    assert run_cli(["audit", "events", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    times = [row["occurred_at"] for row in rows]
    assert len(rows) == 4
    assert times == sorted(times, reverse=True)
    assert [row["originator_version"] for row in rows] == [1, 1, 1, 1]


def test_jobs_show_json_lists_each_failure(
    container: Container, tmp_path: Path, cli: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/jobs.md: every failure is listed under `failures_history` in `jobs show --json`."""
    inputs = register_inputs(container, tmp_path, rows=50)
    job_id = inputs.request(container)
    stored = container.app.get_source(inputs.project_id, inputs.left_id).location
    (Path(container.settings.object_store_location) / stored).write_bytes(b"PAR1 not parquet")
    runner = worker(container, max_attempts=2)
    for _ in range(3):
        runner.tick()
    capsys.readouterr()
    assert run_cli(["jobs", "show", str(job_id), "--json"]) == 0
    history = json.loads(capsys.readouterr().out)["failures_history"]
    assert [failure["attempt"] for failure in history] == [1, 2]
    assert all("parquet" in failure["error"].lower() for failure in history), history


def test_run_wait_exits_1_when_the_job_ends_otherwise(
    container: Container,
    tmp_path: Path,
    cli: None,
    threads: Threads,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """docs/jobs.md: `--wait` exits 1 when the job ended otherwise than completed (here:
    cancelled while it waited), and still prints the job's id last."""
    inputs = register_inputs(container, tmp_path, rows=50)
    threads.start(cancel_when_requested, container, inputs)
    ids = (inputs.project_id, inputs.left_id, inputs.right_id)
    args = ["jobs", "run", *map(str, ids), "--ruleset", str(inputs.version), "--wait"]
    assert run_cli(args) == 1
    threads.join()
    out, err = capsys.readouterr()
    job_id = UUID(out.strip().splitlines()[-1])
    assert container.app.get_job(job_id).status == CANCELLED
    assert f"job {job_id} ended cancelled" in err


def cancel_when_requested(container: Container, inputs: Inputs) -> None:
    deadline = time.monotonic() + 30
    while not (entries := container.queue.entries(project_id=inputs.project_id)):
        assert time.monotonic() < deadline, "the job was never requested"
        time.sleep(0.05)
    container.app.cancel_job(entries[0].job_id, "test", META)


RULES = """left: {id: a}
right: {id: b}
rules:
  - name: r
    when:
      - {left: x, right: y, op: equals}
"""


def test_publishing_an_identical_ruleset_records_nothing(container: Container) -> None:
    """docs/events.md: identical content returns that version and records nothing."""
    app = container.app
    project = app.create_project("rules", META)
    text = RULES
    assert app.publish_ruleset(project, text, META) == 1
    before = app.recorder.max_notification_id()
    reordered = text.replace("left: {id: a}\nright: {id: b}", "right: {id: b}\nleft: {id: a}")
    assert app.publish_ruleset(project, reordered, META) == 1
    assert app.recorder.max_notification_id() == before


def test_nan_never_matches() -> None:
    """docs/matching.md: a row with NaN in a column a rule reads is no candidate, not even
    for another NaN (which `equals` would pair if NaN were a value like any other)."""
    ruleset = ruleset_from_dict(
        {
            "left": {"id": "id"},
            "right": {"id": "id"},
            "rules": [
                {"name": "eq", "when": [{"left": "x", "right": "x", "op": "equals"}]},
                {
                    "name": "near",
                    "when": [{"left": "y", "right": "y", "op": "within", "tolerance": 1e9}],
                },
            ],
        }
    )
    nan = math.nan
    left = pl.DataFrame({"id": ["L1", "L2"], "x": [nan, 1.0], "y": [nan, nan]})
    right = pl.DataFrame({"id": ["R1", "R2"], "x": [nan, 2.0], "y": [nan, 5.0]})
    result = match(left, right, ruleset)
    assert result.matches.height == 0, result.matches
    assert result.unmatched.height == 4


def test_migrations_are_safe_when_several_processes_start_at_once(
    settings: object, database_url: str, tmp_path: Path
) -> None:
    """projections/database.py: creating the tables and migrating runs under a lock, so
    processes starting together on an empty database all start."""
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from tieout.bootstrap import bootstrap\n"
        "from tieout.settings import Settings\n"
        "url, home, gate = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])\n"
        "count = int(sys.argv[4])\n"
        "settings = Settings(home=home, database_url=url, object_store=str(home / 'objects'))\n"
        "(gate / home.name).touch()  # imported: wait for the others, then start together\n"
        "while len(list(gate.iterdir())) < count:\n"
        "    time.sleep(0.005)\n"
        "bootstrap(settings).close()\n"
    )
    gate = tmp_path / "gate"
    gate.mkdir()
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code, database_url, str(tmp_path / f"p{n}"), str(gate), "3"],
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    errors = [process.communicate(timeout=120)[1] for process in processes]
    assert [process.returncode for process in processes] == [0] * 3, errors
    with psycopg.connect(database_url) as conn:
        found = conn.execute("SELECT to_regclass('tieout_events') IS NOT NULL").fetchone()
    assert found == (True,)
