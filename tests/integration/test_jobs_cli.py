"""`tieout jobs ...` and `tieout worker` as a user runs them (subprocesses, real PostgreSQL)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from uuid import UUID

import polars as pl
import pytest
from jobs_helpers import Inputs, recorded_frames, register_inputs, worker
from polars.testing import assert_frame_equal

from demo.narrated import demo_ruleset_text
from engine.domain.job import DEAD_LETTERED
from tieout.bootstrap import Container

TIEOUT = str(Path(sys.executable).parent / "tieout")
FAST = {
    "TIEOUT_POLL_SECONDS": "0.1",
    "TIEOUT_HEARTBEAT_SECONDS": "0.2",
    "TIEOUT_RETRY_BACKOFF_SECONDS": "0",
    "TIEOUT_MAX_ATTEMPTS": "1",
    "TIEOUT_METRICS_PORT": "0",
    "TIEOUT_DECISION_BATCH_SIZE": "100",
}


def tieout(
    env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TIEOUT, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture
def inputs(container: Container, tmp_path: Path) -> Inputs:
    return register_inputs(container, tmp_path, rows=300)


def run_args(inputs: Inputs) -> list[str]:
    ids = (inputs.project_id, inputs.left_id, inputs.right_id)
    return ["jobs", "run", *map(str, ids), "--ruleset", str(inputs.version)]


def test_run_wait_show_and_list(
    container: Container, inputs: Inputs, cli_env: dict[str, str]
) -> None:
    env = cli_env | FAST
    worker = subprocess.Popen([TIEOUT, "worker"], env=env, stderr=subprocess.PIPE)
    try:
        done = tieout(env, *run_args(inputs), "--wait")
    finally:
        worker.terminate()
        assert worker.wait(timeout=30) == 0
    assert done.returncode == 0, done.stderr
    job_id = done.stdout.strip().splitlines()[-1]
    assert "completed" in done.stderr
    shown = tieout(env, "jobs", "show", job_id, "--json")
    view = json.loads(shown.stdout)
    assert view["id"] == job_id
    assert (view["status"], view["attempts"]) == ("completed", 1)
    assert set(view["counts"]) >= {"matched", "suggested", "unmatched_left", "unmatched_right"}
    outcome = container.app.get_job(UUID(job_id)).outcome
    assert outcome is not None
    assert view["decisions_hash"] == outcome.decisions_hash
    listed = json.loads(tieout(env, "jobs", "list", "--json").stdout)
    assert [entry["id"] for entry in listed] == [job_id]
    assert_same_as_tieout_match(container, UUID(job_id), env, inputs.directory)


def assert_same_as_tieout_match(
    container: Container, job_id: UUID, env: dict[str, str], directory: Path
) -> None:
    """The job's recorded decisions are what `tieout match` writes for the same inputs."""
    rules = directory / "rules.yaml"
    rules.write_text(demo_ruleset_text(), encoding="utf-8")
    out = directory / "match-out"
    args = (str(directory / "left.csv"), str(directory / "right.csv"))
    assert tieout(env, "match", *args, "--rules", str(rules), "--out", str(out)).returncode == 0
    matches, unmatched = recorded_frames(container, container.app.get_job(job_id))
    expected = pl.read_parquet(out / "matches.parquet")
    assert_frame_equal(matches.select(expected.columns), expected)
    assert_frame_equal(unmatched, pl.read_parquet(out / "unmatched.parquet"))


def test_dead_letter_listed_and_redriven_by_cli(
    container: Container, inputs: Inputs, cli_env: dict[str, str]
) -> None:
    env = cli_env | FAST
    job_id = tieout(env, *run_args(inputs)).stdout.strip().splitlines()[-1]
    source = container.app.get_source(inputs.project_id, inputs.left_id)
    stored = Path(container.settings.object_store_location) / source.location
    good = stored.read_bytes()
    stored.write_bytes(b"corrupt")
    worker(container, max_attempts=1).tick()
    dlq = json.loads(tieout(env, "jobs", "dlq", "--json").stdout)
    assert [(entry["id"], entry["status"]) for entry in dlq] == [(job_id, DEAD_LETTERED)]
    stored.write_bytes(good)
    assert tieout(env, "jobs", "redrive", job_id).returncode == 0
    again = tieout(env, "jobs", "redrive", job_id)
    assert again.returncode == 2
    assert again.stderr.startswith("error: ")
    worker(container, max_attempts=1).tick()
    assert container.app.get_job(UUID(job_id)).status == "completed"


def test_bad_input_exits_2_with_one_line(inputs: Inputs, cli_env: dict[str, str]) -> None:
    args = run_args(inputs)
    args[-1] = "99"
    done = tieout(cli_env, *args)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ruleset version 99 not found")
    assert tieout(cli_env, "jobs", "show", "not-a-uuid").returncode == 2
    cancelled = tieout(cli_env, "jobs", "cancel", str(inputs.project_id))
    assert (cancelled.returncode, cancelled.stderr.count("\n")) == (2, 1)
