"""The least-privilege role of docs/operations.md, run as written, then used for real work."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from engine.domain.meta import event_meta
from tieout.bootstrap import Container, bootstrap
from tieout.settings import Settings

OPERATIONS = Path(__file__).parent.parent.parent / "docs" / "operations.md"
PG17 = 170_000
RULES = """
left: {id: txn_id}
right: {id: entry_id}
rules:
  - name: exact
    when: [{left: ref, right: ref, op: equals}]
"""


def documented_grants(role: str, database: str, server_version: int) -> list[str]:
    text = OPERATIONS.read_text(encoding="utf-8").split("## The least-privilege role", 1)[1]
    block = re.search(r"```sql\n(.*?)```", text, re.DOTALL)
    assert block is not None, "docs/operations.md has no SQL block for the role"
    sql = block.group(1)
    if server_version < PG17:  # the documented replacement for PostgreSQL 16 and older
        sql = sql.replace("GRANT MAINTAIN ON tieout_events", "GRANT UPDATE ON tieout_events")
    sql = sql.replace("tieout_app", role).replace("DATABASE tieout ", f'DATABASE "{database}" ')
    lines = [line for line in sql.splitlines() if not line.startswith("--")]
    return [statement.strip() for statement in "\n".join(lines).split(";") if statement.strip()]


@pytest.fixture
def app_role_url(container: Container, admin_database_url: str) -> Iterator[str]:
    """The test database, reached as a freshly made role with the documented grants."""
    role = f"tieout_app_{uuid.uuid4().hex[:8]}"
    parts = conninfo_to_dict(container.database_url)
    with psycopg.connect(container.database_url, autocommit=True) as conn:
        version = conn.info.server_version
        for statement in documented_grants(role, str(parts["dbname"]), version):
            conn.execute(statement.encode())
    parts["user"], parts["password"] = role, "change-me"
    yield make_conninfo("", **parts)
    with psycopg.connect(admin_database_url, autocommit=True) as conn:
        conn.execute(f'DROP OWNED BY "{role}" CASCADE'.encode())
    with psycopg.connect(container.database_url, autocommit=True) as conn:
        conn.execute(f'DROP OWNED BY "{role}" CASCADE'.encode())
        conn.execute(f'DROP ROLE "{role}"'.encode())


def test_the_app_role_does_the_work_and_cannot_change_the_log(
    app_role_url: str, settings: Settings, tmp_path: Path
) -> None:
    limited = settings.model_copy(update={"database_url": app_role_url, "migrate": False})
    built = bootstrap(limited)
    try:
        meta = event_meta(actor="user:alice@example.com", causation="test")
        project = built.app.create_project("p", meta)
        version = built.app.publish_ruleset(project, RULES, meta)
        left, right = tmp_path / "l.csv", tmp_path / "r.csv"
        left.write_text("txn_id,ref\n1,A\n", encoding="utf-8")
        right.write_text("entry_id,ref\n9,A\n", encoding="utf-8")
        sources = [built.app.register_source_file(project, path, meta) for path in (left, right)]
        job = built.app.request_job(project, sources[0], sources[1], version, meta)
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
