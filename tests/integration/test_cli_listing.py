"""What a newcomer creates can be found again (issue 17): `projects list`, `sources list`,
`rulesets list/show` and `tieout status`, as the real command runs them."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from psycopg.conninfo import conninfo_to_dict

from projections.projector import catch_up
from tieout.bootstrap import Container

TIEOUT = str(Path(sys.executable).parent / "tieout")
EXAMPLES = Path(__file__).parent.parent.parent / "examples"


def tieout(
    env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TIEOUT, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def created(env: dict[str, str], *args: str) -> str:
    """Run a command that creates something; its last line is the new id."""
    done = tieout(env, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def as_json(env: dict[str, str], *args: str) -> Any:
    done = tieout(env, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_what_was_created_can_be_listed_and_found_by_name(
    container: Container, cli_env: dict[str, str], tmp_path: Path
) -> None:
    october = created(cli_env, "projects", "create", "October bank rec")
    created(cli_env, "projects", "create", "November bank rec")
    assert created(cli_env, "rulesets", "publish", october, str(EXAMPLES / "rules.yaml")) == "1"
    left = created(cli_env, "sources", "add", october, str(EXAMPLES / "bank.csv"))
    stale = tieout(cli_env, "projects", "list")
    assert "events behind the log (is `tieout projector` running?)" in stale.stderr
    catch_up(container.projections, 30)

    found = as_json(cli_env, "projects", "list", "--name", "Oct")
    assert found == {"items": [found["items"][0]], "next_cursor": None}
    assert (found["items"][0]["project_id"], found["items"][0]["name"]) == (
        october,
        "October bank rec",
    )
    first = as_json(cli_env, "projects", "list", "--limit", "1")
    assert first["next_cursor"]
    second = as_json(cli_env, "projects", "list", "--limit", "1", "--cursor", first["next_cursor"])
    assert [page["items"][0]["name"] for page in (first, second)] == [
        "November bank rec",
        "October bank rec",
    ]

    sources = as_json(cli_env, "sources", "list", october)
    assert [(item["source_id"], item["name"]) for item in sources["items"]] == [(left, "bank.csv")]
    table = tieout(cli_env, "sources", "list", october).stdout.splitlines()
    assert table[0].split()[:4] == ["source", "name", "format", "rows"]
    assert table[1].startswith(left)
    versions = as_json(cli_env, "rulesets", "list", october)
    assert [item["version"] for item in versions["items"]] == [1]
    assert versions["next_cursor"] is None

    shown = tieout(cli_env, "rulesets", "show", october, "1")
    assert shown.returncode == 0, shown.stderr
    (tmp_path / "again.yaml").write_text(shown.stdout, encoding="utf-8")
    republished = created(cli_env, "rulesets", "publish", october, str(tmp_path / "again.yaml"))
    assert republished == "1"  # what `show` prints is the same ruleset


def test_listing_what_does_not_exist_is_one_line(cli_env: dict[str, str]) -> None:
    project = created(cli_env, "projects", "create", "empty")
    unknown = "00000000-0000-0000-0000-000000000001"
    for args in (
        ("sources", "list", unknown),
        ("rulesets", "list", unknown),
        ("rulesets", "show", project, "3"),
    ):
        done = tieout(cli_env, *args)
        assert done.returncode == 2, done.stderr
        assert done.stderr.splitlines()[-1].startswith("error: ")
        assert "Traceback" not in done.stderr


def test_status_says_where_the_data_is_and_what_runs(
    container: Container, cli_env: dict[str, str]
) -> None:
    created(cli_env, "projects", "create", "an event for the read models to catch up on")
    report = as_json(cli_env, "status")
    assert report["database"]["embedded"] is False
    assert report["database"]["name"] == conninfo_to_dict(container.database_url)["dbname"]
    assert "password" not in report["database"]["url"]
    assert report["processes"]["worker"]["running"] is False
    assert report["processes"]["projector"]["running"] is False
    assert min(report["projection_lag_events"].values()) > 0
    human = tieout(cli_env, "status").stdout
    assert "not running: start one with `tieout worker`" in human
    assert "(no projector is running: `tieout projector`)" in human

    env = cli_env | {"TIEOUT_POLL_SECONDS": "0.1", "TIEOUT_METRICS_PORT": "0"}
    processes = [subprocess.Popen([TIEOUT, name], env=env) for name in ("worker", "projector")]
    try:
        report = _eventually(cli_env)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
    assert report["processes"]["worker"]["running"] is True
    assert report["processes"]["projector"]["running"] is True


def _eventually(env: dict[str, str], seconds: float = 30) -> Any:
    """`tieout status --json` once it sees a worker and a projector connected."""
    deadline = time.monotonic() + seconds
    while True:
        report = as_json(env, "status")
        running = report["processes"]
        if running["worker"]["running"] and running["projector"]["running"]:
            return report
        assert time.monotonic() < deadline, report
        time.sleep(0.3)
