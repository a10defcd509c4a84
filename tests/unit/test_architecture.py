"""The import rules of docs/architecture.md ("Who owns what"), checked on the source."""

from __future__ import annotations

import ast
import re
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


PRODUCT = ("tieout", "engine", "projections", "api", "snapshots", "demo")
COMPOSITION_ROOT = ROOT / "tieout" / "bootstrap.py"
# What only the composition root may construct: datastores, recorders, applications,
# infrastructure factories, projection runners and the adapters over them.
BUILT_ONLY_BY_BOOTSTRAP = {
    "PostgresDatastore",
    "PostgresFactory",
    "InfrastructureFactory",
    "PostgresApplicationRecorder",
    "PostgresFencedRecorder",
    "PostgresTrackingRecorder",
    "POPOApplicationRecorder",
    "InMemoryFencedRecorder",
    "AuditIndexView",
    "Application",
    "Tieout",
    "TieoutLog",
    "ProjectionRunner",
    "PostgresJobQueue",
    "AuditQueries",
    "ResultQueries",
    "ProjectionLags",
    "ActivityQueries",
    "Catalog",
    "Tenancy",
    "Projections",
}
# Connections by URL happen only while bootstrapping: the embedded server's set-up and the
# schema lock and migrations, both called from bootstrap alone.
CONNECTS_BY_URL = {ROOT / "projections" / "database.py", ROOT / "tieout" / "embedded.py"}


def product_modules() -> list[Path]:
    return sorted(path for package in PRODUCT for path in (ROOT / package).rglob("*.py"))


def constructed(path: Path) -> set[str]:
    """Names called anywhere in the module: `Name(...)`, `module.Name(...)`, `Name[T](...)`,
    `Name.construct(...)`."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "construct":
            func = func.value
        if isinstance(func, ast.Subscript):
            func = func.value
        if isinstance(func, ast.Name):
            found.add(func.id)
        elif isinstance(func, ast.Attribute) and not _is_aiohttp(func.value):
            found.add(func.attr)
    return found


def _is_aiohttp(node: ast.expr) -> bool:
    """`web.Application()` is aiohttp's application, not an event-sourced one."""
    return isinstance(node, ast.Name) and node.id == "web"


def connects(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "connect"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "psycopg"
        ):
            return True
    return False


@pytest.mark.parametrize("path", product_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_only_bootstrap_builds_adapters(path: Path) -> None:
    if path == COMPOSITION_ROOT:
        return
    assert not constructed(path) & BUILT_ONLY_BY_BOOTSTRAP
    assert path in CONNECTS_BY_URL or not connects(path)


def test_the_adapter_check_sees_what_it_looks_for() -> None:
    assert {"Tieout", "ProjectionRunner", "PostgresFencedRecorder"} <= constructed(COMPOSITION_ROOT)
    assert {"InfrastructureFactory"} <= constructed(COMPOSITION_ROOT)
    assert connects(ROOT / "projections" / "database.py")


@pytest.mark.parametrize(
    "path", sorted((ROOT / "api").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_the_api_does_not_reach_into_the_cli(path: Path) -> None:
    assert not any(name.startswith("tieout.cli") for name in imported_modules(path))


FORBIDDEN_IN_API = {"psycopg", "psycopg_pool", "sqlalchemy", "asyncpg"}
SQL = re.compile(
    r"\b(SELECT\b[\s\S]*\bFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM"
    r"|CREATE\s+(TABLE|INDEX)|ALTER\s+TABLE|TRUNCATE\s+\w+)\b"
)
"""SQL as this code base writes it (keywords in capitals), in any string of a module."""


def sql_strings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value)
    ]


@pytest.mark.parametrize(
    "path", sorted((ROOT / "api").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_the_api_writes_no_sql(path: Path) -> None:
    """`api` calls application services and query functions; the SQL lives in
    `projections` (docs/architecture.md), and no database driver is imported here."""
    assert not imported_roots(path) & FORBIDDEN_IN_API
    assert sql_strings(path) == []


def test_the_sql_check_sees_what_it_looks_for() -> None:
    assert sql_strings(ROOT / "projections" / "catalog.py")
    assert sql_strings(ROOT / "projections" / "audit.py")
    assert "psycopg" in imported_roots(ROOT / "projections" / "catalog.py")
    assert not SQL.search("Select the rows the caller may see, from the read models")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_advisory_lock_keys_are_unique_across_the_code() -> None:
    """Every key is allocated in projections.names.Lock, and no two purposes share one."""
    from projections.names import Lock  # noqa: PLC0415

    assert len({int(lock) for lock in Lock}) == len(Lock.__members__)
    literal = re.compile(r"\b7_?202_?6\d\d\b")
    strays = [
        str(path.relative_to(ROOT))
        for path in product_modules()
        if path.name != "names.py" and literal.search(path.read_text(encoding="utf-8"))
    ]
    assert strays == []
    sql = list((ROOT / "projections").rglob("*.sql"))
    assert not [path for path in sql if "pg_advisory" in path.read_text(encoding="utf-8")]


def test_table_names_are_spelled_once() -> None:
    """Python code names the events table through projections.names, not as a literal."""
    strays = [
        str(path.relative_to(ROOT))
        for path in product_modules()
        if path.name != "names.py" and '"tieout_events"' in path.read_text(encoding="utf-8")
    ]
    assert strays == []
