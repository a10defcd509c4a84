"""Every Prometheus rule file passes `promtool check rules` (Debian's `prometheus` package,
installed by .ci/run). Under CI=true a missing promtool fails the build rather than skipping,
so the check can never silently stop running."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BROKEN = """
groups:
  - name: broken
    rules:
      - alert: Broken
        expr: sum(rate(tieout_jobs[5m]) >
"""


def rule_files() -> list[Path]:
    """Every YAML file under monitoring/ that holds rule groups."""
    found = []
    for path in sorted((ROOT / "monitoring").rglob("*.y*ml")):
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(loaded, dict) and "groups" in loaded:
            found.append(path)
    return found


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is not installed: .ci/run installs Debian's prometheus package")
        pytest.skip("promtool is not installed (apt-get install prometheus; CI installs it)")
    return found


def check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), "check", "rules", str(path)], capture_output=True, text=True, check=False
    )


def test_there_are_rule_files() -> None:
    assert ROOT / "monitoring" / "alerts.yaml" in rule_files()


@pytest.mark.parametrize("path", rule_files(), ids=lambda path: path.name)
def test_rule_file_passes_promtool(path: Path) -> None:
    checked = check(path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_promtool_rejects_a_broken_rule(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN, encoding="utf-8")
    assert check(broken).returncode != 0
