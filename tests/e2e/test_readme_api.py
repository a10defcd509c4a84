"""The README's HTTP API walkthrough, run as written (with a free port) on the embedded
default: a token, a project, a ruleset, two uploads, a job, its results and the export."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent.parent


def walkthrough() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The HTTP API, with curl", 1)[1]
    block = re.search(r"```console\n(.*?)```", section, re.DOTALL)
    assert block is not None, "README's API walkthrough has no console block"
    return [line.removeprefix("$ ") for line in block.group(1).splitlines() if line]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_api_walkthrough_runs_as_written(embedded_home: Path, tmp_path: Path) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    port = str(free_port())
    commands = [line.replace("8080", port) for line in walkthrough()]
    script = "set -euo pipefail\n" + "\n".join(commands)
    env = {key: value for key, value in os.environ.items() if not key.startswith("TIEOUT_")}
    env["TIEOUT_HOME"] = str(embedded_home)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert '"rule":' in done.stdout
    exported = (tmp_path / "matches.csv").read_text(encoding="utf-8").splitlines()
    assert exported[0].startswith("row_no,")
    assert len(exported) > 1
