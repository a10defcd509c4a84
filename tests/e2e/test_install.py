"""How Tieout installs (issue 17, ADR 0011): `make run` brings the runtime dependencies only,
and the wheel puts one top-level package, `tieout`, into site-packages."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).parent.parent.parent
PRIVATE = ("engine", "projections", "api", "snapshots", "demo")
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]


def test_make_run_installs_the_runtime_dependencies_only() -> None:
    planned = subprocess.run(
        ["make", "-n", "-B", "run"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    installs = [line for line in planned.splitlines() if "pip install" in line]
    assert installs, planned
    assert not [line for line in installs if "[dev]" in line], installs
    tested = subprocess.run(
        ["make", "-n", "-B", "test"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "pip install --quiet -e '.[dev]'" in tested


def test_the_wheel_installs_beside_another_engine_package(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, source / name)
    # the wheel builds its own extension (an editable install keeps one beside the source)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.so")
    for name in ("tieout", *PRIVATE):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    dist = tmp_path / "dist"
    subprocess.run([*PIP, "wheel", "--no-deps", "-w", str(dist), str(source)], check=True)
    (wheel,) = dist.glob("tieout-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    tops = {name.split("/", 1)[0] for name in names}
    assert tops == {"tieout", f"tieout-{wheel.name.split('-')[1]}.dist-info"}
    native = sorted(name for name in names if name.endswith(".so"))
    assert [name.split(".", 1)[0] for name in native] == [
        "tieout/_packages/engine/_merkle",
        "tieout/_packages/engine/matching/_jaro",
    ]
    stubs = {"tieout/_packages/engine/_merkle.pyi", "tieout/_packages/engine/matching/_jaro.pyi"}
    assert stubs <= set(names)

    site = tmp_path / "site"
    (site / "engine").mkdir(parents=True)
    other = 'OWNER = "another distribution"\n'
    (site / "engine" / "__init__.py").write_text(other, encoding="utf-8")
    install = [*PIP, "install", "--no-deps", "--no-index", "--target", str(site), str(wheel)]
    subprocess.run(install, check=True)
    assert (site / "engine" / "__init__.py").read_text(encoding="utf-8") == other

    env = {key: value for key, value in os.environ.items() if not key.startswith("TIEOUT_")}
    env["PYTHONPATH"] = str(site)
    examples = ROOT / "examples"
    run = (
        "import tieout.cli, engine, engine.matching._jaro as jaro, engine._merkle as merkle; "
        "print(engine.__file__); print(merkle.__file__); print(jaro.__file__); "
        "tieout.cli.main(['match', *__import__('sys').argv[1:]])"
    )
    args = [str(examples / "bank.csv"), str(examples / "ledger.csv")]
    args += ["--rules", str(examples / "rules.yaml"), "--out", str(tmp_path / "out")]
    done = subprocess.run(
        [sys.executable, "-c", run, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    printed = done.stdout.splitlines()
    assert printed[0] == str(site / "tieout" / "_packages" / "engine" / "__init__.py")
    assert printed[1:3] == [str(site / name) for name in native]
    assert (tmp_path / "out" / "summary.json").is_file()
