"""The least-privilege role of docs/operations.md, run as written, then used for real work."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from engine.domain.job import COMPLETED
from engine.domain.meta import event_meta
from projections.names import UNLOGGED_MARK_TABLE
from projections.projector import catch_up
from projections.results_query import DecisionFilters, UnmatchedFilters
from tieout.bootstrap import Container, bootstrap
from tieout.settings import Settings
from tieout.workers import run_until_done

OPERATIONS = Path(__file__).parent.parent.parent / "docs" / "operations.md"
PG17 = 170_000
RULES = """
left: {id: txn_id}
right: {id: entry_id}
rules:
  - name: exact
    when: [{left: ref, right: ref, op: equals}]
"""


def documented_grants(
    roles: dict[str, str], database: str, server_version: int, block: int = 0
) -> list[str]:
    """The statements of the section's SQL block `block` (0: the app role's, 1: the
    projector's), with the documented role names replaced by `roles`' values."""
    text = OPERATIONS.read_text(encoding="utf-8").split("## The least-privilege role", 1)[1]
    text = text.split("\n## ", 1)[0]
    blocks = re.findall(r"```sql\n(.*?)```", text, re.DOTALL)
    assert len(blocks) == 2, "docs/operations.md has no SQL blocks for the two roles"
    sql = blocks[block]
    if server_version < PG17:  # the documented replacement for PostgreSQL 16 and older
        sql = sql.replace("GRANT MAINTAIN ON tieout_events", "GRANT UPDATE ON tieout_events")
    for documented, role in roles.items():
        sql = sql.replace(documented, role)
    sql = sql.replace("DATABASE tieout ", f'DATABASE "{database}" ')
    lines = [line for line in sql.splitlines() if not line.startswith("--")]
    return [statement.strip() for statement in "\n".join(lines).split(";") if statement.strip()]


@pytest.fixture
def role_urls(container: Container, admin_database_url: str) -> Iterator[tuple[str, str]]:
    """The test database, reached as two freshly made roles with the documented grants:
    the app role's URL and the projector's."""
    suffix = uuid.uuid4().hex[:8]
    roles = {"tieout_app": f"tieout_app_{suffix}", "tieout_projector": f"tieout_proj_{suffix}"}
    parts = conninfo_to_dict(container.database_url)
    with psycopg.connect(container.database_url, autocommit=True) as conn:
        version = conn.info.server_version
        for block in (0, 1):
            for statement in documented_grants(roles, str(parts["dbname"]), version, block):
                conn.execute(statement.encode())
    urls = [
        make_conninfo("", **(parts | {"user": role, "password": "change-me"}))
        for role in roles.values()
    ]
    yield urls[0], urls[1]
    for url in (admin_database_url, container.database_url):
        with psycopg.connect(url, autocommit=True) as conn:
            for role in roles.values():
                conn.execute(f'DROP OWNED BY "{role}" CASCADE'.encode())
    with psycopg.connect(container.database_url, autocommit=True) as conn:
        for role in reversed(roles.values()):
            conn.execute(f'DROP ROLE "{role}"'.encode())


@pytest.fixture
def app_role_url(role_urls: tuple[str, str]) -> str:
    return role_urls[0]


def test_the_app_role_does_the_work_and_cannot_change_the_log(
    app_role_url: str, settings: Settings, tmp_path: Path
) -> None:
    limited = settings.model_copy(update={"database_url": app_role_url, "migrate": False})
    built = bootstrap(limited)
    try:
        job = request_job(built, tmp_path, "txn_id,ref\n1,A\n")
        assert built.queue.entry(job) is not None
    finally:
        built.close()
    with psycopg.connect(app_role_url, autocommit=True) as conn:
        for statement in ("UPDATE tieout_events SET topic = 'x'", "DELETE FROM tieout_events"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement.encode())
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(b"TRUNCATE tieout_events")
        assert conn.execute(b"SELECT count(*) FROM tieout_events").fetchone() == (5,)


def test_the_projector_role_keeps_the_read_models_and_their_partitions(
    role_urls: tuple[str, str], settings: Settings, tmp_path: Path
) -> None:
    """The worker runs as the app role; the projector, as its own role, stages the job's
    rows and attaches them as the job's partitions (a threshold of one row), and rebuilds
    the read models after a crash emptied the unlogged ones (its mark gone, ADR 0019)."""
    app_url, projector_url = role_urls
    app = bootstrap(settings.model_copy(update={"database_url": app_url, "migrate": False}))
    try:
        job = request_job(app, tmp_path, "txn_id,ref\n1,A\n2,B\n")
        assert run_until_done(app, job, timeout_seconds=60).status == COMPLETED
    finally:
        app.close()
    projector_settings = settings.model_copy(
        update={"database_url": projector_url, "migrate": False, "own_partition_rows": 1}
    )
    projector = bootstrap(projector_settings)
    try:
        assert catch_up(projector.projections, 60) == 0
        page = projector.results.decisions(job, DecisionFilters(), 10)
        assert [(item["left_id"], item["right_id"]) for item in page.items] == [("1", "9")]
        open_items = projector.results.unmatched(job, UnmatchedFilters(), 10).items
        assert [(item["side"], item["id"]) for item in open_items] == [("left", "2")]
        with psycopg.connect(str(settings.database_url), autocommit=True) as conn:
            conn.execute(f"DELETE FROM {UNLOGGED_MARK_TABLE}".encode())  # as a crash does
        assert catch_up(projector.projections, 60) == 0
        assert projector.results.decisions(job, DecisionFilters(), 10).items == page.items
    finally:
        projector.close()
    with psycopg.connect(projector_url) as conn:
        owners = conn.execute(
            "SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = ANY(%s::regclass[])",
            (["tieout_rm_decisions_own", "tieout_rm_unmatched_own"],),
        ).fetchall()
    assert sorted(name for name, _ in owners) == [
        f"tieout_rm_decisions_{job.hex}",
        f"tieout_rm_unmatched_{job.hex}",
    ]
    assert {owner for _, owner in owners} == {conninfo_to_dict(projector_url)["user"]}


def request_job(built: Container, directory: Path, left_csv: str) -> UUID:
    """A project, its ruleset, a left source of `left_csv` and a right source of one row
    (ref A), and a job on them: what a user of the app role does."""
    meta = event_meta(actor="user:alice@example.com", causation="test")
    project = built.app.create_project("p", meta)
    version = built.app.publish_ruleset(project, RULES, meta)
    left, right = directory / "l.csv", directory / "r.csv"
    left.write_text(left_csv, encoding="utf-8")
    right.write_text("entry_id,ref\n9,A\n", encoding="utf-8")
    sources = [built.app.register_source_file(project, path, meta) for path in (left, right)]
    return built.app.request_job(project, sources[0], sources[1], version, meta)
