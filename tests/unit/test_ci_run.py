""".ci/run in CI does not quietly test something else when a server tool is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

CI_RUN = Path(__file__).resolve().parents[2] / ".ci" / "run"


def ci_run(tools: Path) -> subprocess.CompletedProcess[str]:
    """.ci/run with CI=true, no TIEOUT_ variable, and only `tools` on the PATH."""
    for tool in ("bash", "dirname", "make"):  # make: were it reached, the test would see it
        found = shutil.which(tool)
        assert found is not None
        (tools / tool).symlink_to(found)
    env = {key: value for key, value in os.environ.items() if not key.startswith("TIEOUT_")}
    return subprocess.run(
        [str(tools / "bash"), str(CI_RUN)],
        env=env | {"CI": "true", "PATH": str(tools), "MAKEFLAGS": "--dry-run"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_missing_pg_isready_fails_ci_loudly(tmp_path: Path) -> None:
    """With CI=true and no pg_isready on the PATH, the run stops before `make test`."""
    tools = tmp_path / "bin"
    tools.mkdir()
    done = ci_run(tools)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "pg_isready not found" in done.stderr
    assert "make test" not in done.stdout + done.stderr
    assert "database mode" not in done.stdout


def test_a_server_that_does_not_answer_fails_ci_loudly(tmp_path: Path) -> None:
    """With CI=true, a pg_isready that finds no server (exit status 2, "no response")
    stops the run before `make test` rather than falling back to the embedded server.
    The pg_isready here is a script: the server on 127.0.0.1:5432 may well answer."""
    tools = tmp_path / "bin"
    tools.mkdir()
    pg_isready = tools / "pg_isready"
    pg_isready.write_text("#!/bin/sh\nexit 2\n")
    pg_isready.chmod(0o755)
    done = ci_run(tools)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "no PostgreSQL server answers on 127.0.0.1:5432" in done.stderr
    assert "make test" not in done.stdout + done.stderr
    assert "database mode" not in done.stdout


def test_a_local_cluster_that_is_down_is_started_first(tmp_path: Path) -> None:
    """With CI=true, an installed local cluster that does not answer is started with
    pg_ctlcluster before the check: the run goes on against it. The tools are scripts:
    pg_isready answers once the stand-in pg_ctlcluster has "started" the cluster."""
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("cut", "sort", "seq", "sleep"):
        found = shutil.which(tool)
        assert found is not None
        (tools / tool).symlink_to(found)
    started = tmp_path / "started"
    scripts = {
        "pg_isready": f'#!/bin/sh\n[ -e "{started}" ] && exit 0\nexit 2\n',
        "pg_lsclusters": "#!/bin/sh\necho '15  main    5432 down   postgres /var/lib 1.log'\n",
        "pg_ctlcluster": f'#!/bin/sh\n[ "$2" = 15 ] && [ "$4" = start ] && : > "{started}"\n',
    }
    for name, text in scripts.items():
        (tools / name).write_text(text)
        (tools / name).chmod(0o755)
    done = ci_run(tools)
    assert started.exists()
    assert "started the local PostgreSQL 15 cluster" in done.stdout
    assert "database mode: PostgreSQL server at 127.0.0.1:5432" in done.stdout
