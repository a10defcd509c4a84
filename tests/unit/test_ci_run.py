""".ci/run in CI does not quietly test something else when a server tool is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

CI_RUN = Path(__file__).resolve().parents[2] / ".ci" / "run"


def test_a_missing_pg_isready_fails_ci_loudly(tmp_path: Path) -> None:
    """With CI=true and no pg_isready on the PATH, the run stops before `make test`."""
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("bash", "dirname", "make"):  # make: were it reached, the test would see it
        found = shutil.which(tool)
        assert found is not None
        (tools / tool).symlink_to(found)
    env = {key: value for key, value in os.environ.items() if not key.startswith("TIEOUT_")}
    done = subprocess.run(
        [str(tools / "bash"), str(CI_RUN)],
        env=env | {"CI": "true", "PATH": str(tools), "MAKEFLAGS": "--dry-run"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "pg_isready not found" in done.stderr
    assert "make test" not in done.stdout + done.stderr
    assert "database mode" not in done.stdout
