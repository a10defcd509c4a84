"""The README's quickstart, run as written against a real PostgreSQL."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent.parent
AFTERWARDS = (
    'echo "project=$PROJECT"',
    # a job requested without --wait on the embedded default says what will run it
    'echo "queued: $(tieout jobs run "$PROJECT" "$LEFT" "$RIGHT" --ruleset 1 2>&1 >/dev/null)"',
)


def quickstart_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quickstart", 1)[1]
    block = re.search(r"```console\n(.*?)```", section, re.DOTALL)
    assert block is not None, "README's quickstart has no console block"
    return [line.removeprefix("$ ") for line in block.group(1).splitlines() if line]


def test_quickstart_runs_as_written(embedded_home: Path, tmp_path: Path) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    venv_bin = Path(sys.executable).parent
    (tmp_path / ".venv").symlink_to(venv_bin.parent)  # the clone's .venv, as make creates it
    commands = quickstart_commands()
    assert len(commands) >= 4
    script = "set -euo pipefail\n" + "\n".join([*commands, *AFTERWARDS])
    env = {key: value for key, value in os.environ.items() if not key.startswith("TIEOUT_")}
    env.pop("VIRTUAL_ENV", None)
    env["TIEOUT_HOME"] = str(embedded_home)
    # As in a new shell: `tieout` is on the PATH only once the quickstart activates .venv.
    paths = env.get("PATH", "").split(os.pathsep)
    env["PATH"] = os.pathsep.join(path for path in paths if Path(path) != venv_bin)
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"project=[0-9a-f-]{36}", done.stdout)
    assert '"status": "completed"' in done.stdout
    assert "JobCompleted" in done.stdout
    assert re.search(
        r"database +postgresql://\S+ \(embedded, under TIEOUT_HOME/pgdata", done.stdout
    )
    assert re.search(r"queued: job \S+ is queued; it runs when `tieout worker`", done.stdout)
    assert (tmp_path / "out" / "matches.parquet").is_file()
    assert (tmp_path / "out" / "summary.json").is_file()
