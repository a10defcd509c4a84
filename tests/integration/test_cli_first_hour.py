"""A newcomer's first hour with the CLI (issue 17): no traceback, no silent wait, one line
for bad input. Each test runs the real `tieout` command as a subprocess."""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from uuid import UUID

import pytest
from jobs_helpers import META, Inputs, register_inputs, worker

from engine.domain.job import DEAD_LETTERED
from tieout.bootstrap import Container

TIEOUT = str(Path(sys.executable).parent / "tieout")
FAST = {"TIEOUT_POLL_SECONDS": "0.1", "TIEOUT_METRICS_PORT": "0"}
DUPLICATE_IDS = (
    "txn_id,booked,reference,amount,description\n"
    "B001,2026-10-01,INV-1001,1250.00,ACME CORP PAYMENT\n"
    "B001,2026-10-02,INV-1002,89.90,Globex subscription\n"
)


def tieout(
    env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TIEOUT, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The command failed as bad input: exit 2, one `error: ...` line, no traceback."""
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert "Traceback" not in done.stderr
    assert lines[-1].startswith("error: "), done.stderr
    return lines[-1]


@pytest.fixture
def inputs(container: Container, tmp_path: Path) -> Inputs:
    return register_inputs(container, tmp_path, rows=60)


def run_args(inputs: Inputs, left: UUID | None = None, version: int | None = None) -> list[str]:
    ids = (inputs.project_id, left or inputs.left_id, inputs.right_id)
    return ["jobs", "run", *map(str, ids), "--ruleset", str(version or inputs.version)]


def wait_with_worker(
    container: Container, env: dict[str, str], args: list[str]
) -> subprocess.CompletedProcess[str]:
    """`jobs run ... --wait` while an in-process worker (3 attempts allowed) runs the job."""
    waiting = subprocess.Popen(
        [TIEOUT, *args, "--wait"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert waiting.stderr is not None
    first = waiting.stderr.readline()  # the job id comes first, before any waiting
    assert first.startswith("job "), first
    ticking = worker(container, max_attempts=3)
    while waiting.poll() is None:
        ticking.tick()
        time.sleep(0.1)
    out, err = waiting.communicate()
    return subprocess.CompletedProcess(args, waiting.returncode, out, first + err)


def test_bad_input_in_a_job_fails_at_once_and_wait_exits_2(
    container: Container,
    inputs: Inputs,
    cli_env: dict[str, str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    duplicates = tmp_path / "duplicates.csv"
    duplicates.write_text(DUPLICATE_IDS, encoding="utf-8")
    left = container.app.register_source_file(inputs.project_id, duplicates, META)
    with caplog.at_level(logging.WARNING):
        done = wait_with_worker(container, cli_env | FAST, run_args(inputs, left=left))
    line = one_error_line(done)
    job_id = done.stdout.strip().splitlines()[-1]
    assert line == f"error: job {job_id} failed: left.id: column 'txn_id' repeats the id 'B001'"
    job = container.app.get_job(UUID(job_id))
    assert (job.status, job.attempts) == (DEAD_LETTERED, 1)  # no retry of bad input
    assert not [record for record in caplog.records if record.exc_info]  # no traceback


def test_a_missing_stored_object_is_retried_without_tracebacks(
    container: Container,
    inputs: Inputs,
    cli_env: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Unlike bad data, a missing object may come back (a restore, a remount): it is retried,
    each attempt one log line, and `--wait` ends with the reason as one line."""
    source = container.app.get_source(inputs.project_id, inputs.left_id)
    (Path(container.settings.object_store_location) / source.location).unlink()
    with caplog.at_level(logging.WARNING):
        done = wait_with_worker(container, cli_env | FAST, run_args(inputs))
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("error: job ")
    assert "ended dead_lettered: NotFoundError: object" in line
    job = container.app.get_job(UUID(done.stdout.strip().splitlines()[-1]))
    assert (job.status, job.attempts) == (DEAD_LETTERED, 3)
    assert not [record for record in caplog.records if record.exc_info]


def test_an_idempotency_key_reused_with_other_parameters_is_a_conflict(
    container: Container, inputs: Inputs, cli_env: dict[str, str]
) -> None:
    second = container.app.publish_ruleset(
        inputs.project_id,
        "left: {id: txn_id}\nright: {id: entry_id}\nrules:\n"
        "  - name: amount\n    when: [{left: amount, right: amount, op: equals}]\n",
        META,
    )
    key = ["--idempotency-key", "k1"]
    first = str(inputs.request(container, key="k1"))
    again = tieout(cli_env, *run_args(inputs), *key)
    assert again.stdout.splitlines()[-1] == first  # the same request: the same job
    line = one_error_line(tieout(cli_env, *run_args(inputs, version=second), *key))
    assert "idempotency key 'k1'" in line
    assert first in line


def waiting_for_a_worker(inputs: Inputs, cli_env: dict[str, str]) -> subprocess.Popen[str]:
    """`tieout jobs run --wait` against a server where no worker runs."""
    return subprocess.Popen(
        [TIEOUT, *run_args(inputs), "--wait"],
        env=cli_env | FAST,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_wait_without_a_worker_says_so_and_shows_the_id_first(
    inputs: Inputs, cli_env: dict[str, str]
) -> None:
    waiting = waiting_for_a_worker(inputs, cli_env)
    assert waiting.stderr is not None
    try:
        lines = [waiting.stderr.readline() for _ in range(3)]
    finally:
        waiting.terminate()
        waiting.wait(timeout=30)
    assert lines[0].startswith("job ")
    job_id = lines[0].split()[1]
    assert lines[1].strip() == "requested: waiting for a worker"
    assert lines[2].startswith(f"no worker has claimed job {job_id} after 5s")
    assert "tieout worker" in lines[2]


def test_ctrl_c_while_waiting_says_what_becomes_of_the_job(
    inputs: Inputs, cli_env: dict[str, str]
) -> None:
    waiting = waiting_for_a_worker(inputs, cli_env)
    assert waiting.stderr is not None
    try:
        first = waiting.stderr.readline()
        assert waiting.stderr.readline().strip() == "requested: waiting for a worker"
        waiting.send_signal(signal.SIGINT)
        _, rest = waiting.communicate(timeout=30)
    finally:
        waiting.kill()
    job_id = first.split()[1]
    assert waiting.returncode == 130
    assert rest.strip() == (
        f"stopped waiting for job {job_id}: it stays queued for the workers "
        f"(`tieout jobs show {job_id}`)"
    )


@pytest.mark.parametrize("process", ["worker", "projector"])
def test_a_metrics_port_in_use_is_one_line(process: str, cli_env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))  # noqa: S104 - prometheus_client binds every interface
        taken.listen()
        port = taken.getsockname()[1]
        done = tieout(cli_env | {"TIEOUT_METRICS_PORT": str(port)}, process, timeout=60)
    line = one_error_line(done)
    assert line.startswith(f"error: metrics port {port}: Address already in use")
    assert "TIEOUT_METRICS_PORT" in line


def test_a_bad_log_level_is_one_line() -> None:
    line = one_error_line(tieout({"TIEOUT_LOG_LEVEL": "LOUD", "PATH": ""}, "jobs", "list"))
    assert line.startswith("error: TIEOUT_LOG_LEVEL: 'LOUD' is not a logging level")


def test_bare_tieout_prints_its_help() -> None:
    done = tieout({"PATH": ""})
    assert done.returncode == 0
    assert done.stdout.startswith("Usage: tieout")
    assert "error" not in done.stderr


def test_unreadable_sources_name_the_problem(
    inputs: Inputs, cli_env: dict[str, str], tmp_path: Path
) -> None:
    project = str(inputs.project_id)
    line = one_error_line(tieout(cli_env, "sources", "add", project, str(tmp_path)))
    assert line == f"error: {tmp_path}: is a directory; give a CSV, Parquet or NDJSON file"
    broken = tmp_path / "broken.csv"
    broken.write_text('a,b\n1,2\n3,"x\n4,5\n', encoding="utf-8")
    line = one_error_line(tieout(cli_env, "sources", "add", project, str(broken)))
    assert "line 3: a quoted field is not closed" in line


def test_human_output_is_tables_without_python_reprs(
    container: Container, inputs: Inputs, cli_env: dict[str, str]
) -> None:
    done = wait_with_worker(container, cli_env | FAST, run_args(inputs))
    assert done.returncode == 0, done.stderr
    assert "completed: completed" not in done.stderr
    job_id = done.stdout.strip().splitlines()[-1]
    shown = tieout(cli_env, "jobs", "show", job_id).stdout
    for python_repr in ("{'", "None", "[{"):
        assert python_repr not in shown
    outcome = container.app.get_job(UUID(job_id)).outcome
    assert outcome is not None
    side = next(line.split() for line in shown.splitlines() if line.startswith("left "))
    rows, matched, unmatched = (int(cell.replace(",", "")) for cell in side[1:4])
    assert rows == matched + unmatched == outcome.counts["left_rows"]
    listed = tieout(cli_env, "jobs", "list").stdout.splitlines()
    assert listed[0].split()[:3] == ["job", "status", "attempts"]
    assert listed[1].split()[:2] == [job_id, "completed"]


def test_audit_events_says_how_far_behind_and_that_types_are_case_sensitive(
    cli_env: dict[str, str],
) -> None:
    assert tieout(cli_env, "projects", "create", "audited").returncode == 0
    done = tieout(cli_env, "audit", "events", "--type", "projectcreated")
    assert done.returncode == 0, done.stderr
    assert "events behind the log (is `tieout projector` running?)" in done.stderr
    assert "did you mean ProjectCreated?" in done.stderr


def test_serve_says_where_it_listens(cli_env: dict[str, str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    serving = subprocess.Popen(
        [TIEOUT, "serve", "--port", str(port)],
        env=cli_env | FAST,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert serving.stderr is not None
    try:
        first = serving.stderr.readline()
        second = serving.stderr.readline()
    finally:
        serving.terminate()
        serving.wait(timeout=30)
    assert first.startswith(f"tieout serve: listening on http://127.0.0.1:{port} ")
    assert second.startswith("tieout serve: database postgresql://")
