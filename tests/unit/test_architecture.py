"""The import rules of DESIGN.md, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent.parent
FORBIDDEN_IN_ENGINE = {"psycopg", "psycopg_pool", "aiohttp", "boto3", "botocore"}
IMPURE_IN_MATCHING = {"time", "datetime", "random", "os", "pathlib", "tieout", "io"}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize(
    "path", sorted((ROOT / "engine").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_engine_imports_no_infrastructure(path: Path) -> None:
    assert not imported_roots(path) & FORBIDDEN_IN_ENGINE


@pytest.mark.parametrize(
    "path",
    sorted((ROOT / "engine" / "matching").rglob("*.py")),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_matcher_is_pure(path: Path) -> None:
    assert not imported_roots(path) & IMPURE_IN_MATCHING
