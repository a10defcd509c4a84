"""What a newcomer creates can be found again (issue 17): `projects list`, `sources list`,
`rulesets list/show` and `tieout status`, as the real command runs them."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from uuid import UUID

from psycopg.conninfo import conninfo_to_dict

from engine.domain.meta import event_meta
from projections.projector import catch_up
from tieout.bootstrap import Container

TIEOUT = str(Path(sys.executable).parent / "tieout")
EXAMPLES = Path(__file__).parent.parent.parent / "examples"
META = event_meta(actor="user:newcomer@example.com", causation="test")


def tieout(
    env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TIEOUT, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def as_json(env: dict[str, str], *args: str) -> Any:
    done = tieout(env, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_what_was_created_can_be_listed_and_found_by_name(
    container: Container, cli_env: dict[str, str]
) -> None:
    app = container.app
    october = str(app.create_project("October bank rec", META))
    app.create_project("November bank rec", META)
    rules = (EXAMPLES / "rules.yaml").read_text(encoding="utf-8")
    app.publish_ruleset(UUID(october), rules, META)
    left = str(app.register_source_file(UUID(october), EXAMPLES / "bank.csv", META))
    stale = tieout(cli_env, "projects", "list", "--name", "Oct", "--json")
    assert "events behind the log (is `tieout projector` running?)" in stale.stderr
    catch_up(container.projections, 30)

    found = as_json(cli_env, "projects", "list", "--name", "Oct")
    assert found == {"items": [found["items"][0]], "next_cursor": None}
    assert (found["items"][0]["project_id"], found["items"][0]["name"]) == (
        october,
        "October bank rec",
    )
    first = as_json(cli_env, "projects", "list", "--limit", "1")
    second = as_json(cli_env, "projects", "list", "--limit", "1", "--cursor", first["next_cursor"])
    assert [page["items"][0]["name"] for page in (first, second)] == [
        "November bank rec",
        "October bank rec",
    ]

    table = tieout(cli_env, "sources", "list", october).stdout.splitlines()
    assert table[0].split()[:4] == ["source", "name", "format", "rows"]
    assert table[1].split()[:2] == [left, "bank.csv"]
    versions = as_json(cli_env, "rulesets", "list", october)
    assert (versions["items"][0]["version"], versions["next_cursor"]) == (1, None)

    shown = tieout(cli_env, "rulesets", "show", october, "1")
    assert shown.returncode == 0, shown.stderr
    assert app.publish_ruleset(UUID(october), shown.stdout, META) == 1  # the same ruleset

    done = tieout(cli_env, "sources", "list", "00000000-0000-0000-0000-000000000001")
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines()[-1].startswith("error: project ")
    assert "Traceback" not in done.stderr


def test_status_says_where_the_data_is_and_what_runs(
    container: Container, cli_env: dict[str, str]
) -> None:
    container.app.create_project("an event for the read models to catch up on", META)
    human = tieout(cli_env, "status").stdout
    assert "not running: start one with `tieout worker`" in human
    assert "not running: start it with `tieout projector`" in human
    assert "1 events behind the log (no projector is running: `tieout projector`)" in human

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
    assert report["database"]["embedded"] is False
    assert report["database"]["name"] == conninfo_to_dict(container.database_url)["dbname"]
    assert "password" not in report["database"]["url"]


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
