"""The event store on a real PostgreSQL: write side, metadata, immutability."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from engine.domain.meta import event_meta
from engine.domain.project import Project
from engine.domain.source import Source
from engine.errors import BadInputError, NotFoundError
from tieout.bootstrap import Container, bootstrap
from tieout.settings import Settings

RULES = """
left:  {id: txn_id}
right: {id: entry_id}
rules:
  - name: exact-reference
    when:
      - {left: reference, right: ref, op: equals}
"""
META = event_meta(actor="user:alice@example.com", causation="test", request_id="req-1")


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_project_ruleset_versions_are_immutable_and_deduplicated(container: Container) -> None:
    app = container.app
    project_id = app.create_project("Bank rec", META)
    assert app.publish_ruleset(project_id, RULES, META) == 1
    assert app.publish_ruleset(project_id, RULES, META) == 1
    changed = RULES.replace("exact-reference", "exact-ref")
    assert app.publish_ruleset(project_id, changed, META) == 2
    assert app.get_ruleset(project_id, 1).rules[0].name == "exact-reference"
    with pytest.raises(NotFoundError):
        app.get_ruleset(project_id, 3)


def test_bad_ruleset_names_the_field_and_records_nothing(container: Container) -> None:
    app = container.app
    project_id = app.create_project("p", META)
    bad = RULES.replace("op: equals", "op: near")
    with pytest.raises(BadInputError, match=r"rules\[0\]\.when\[0\]"):
        app.publish_ruleset(project_id, bad, META)
    assert app.get_project(project_id).latest_ruleset_version == 0


def test_events_carry_metadata(container: Container) -> None:
    app = container.app
    project_id = app.create_project("p", META)
    (created,) = app.events.get(project_id)
    assert isinstance(created, Project.ProjectCreated)
    assert created.meta == META
    assert created.timestamp.tzinfo is not None


def test_source_is_stored_once_content_addressed(container: Container, tmp_path: Path) -> None:
    app = container.app
    project_id = app.create_project("p", META)
    csv = write_csv(tmp_path / "bank.csv", "txn_id,amount\n1,10.5\n2,20\n")
    first = app.register_source_file(project_id, csv, META)
    again = app.register_source_file(project_id, csv, META)
    assert first == again
    source = app.get_source(project_id, first)
    assert isinstance(source, Source)
    assert source.row_count == 2
    assert source.columns == [["txn_id", "Int64"], ["amount", "Float64"]]
    assert source.file_format == "csv"
    assert list(container.object_store.keys("sources/")) == [source.location]
    assert len(list(app.events.get(first))) == 1


def test_unreadable_source_records_nothing(container: Container, tmp_path: Path) -> None:
    app = container.app
    project_id = app.create_project("p", META)
    garbage = tmp_path / "broken.parquet"
    garbage.write_bytes(b"not parquet at all")
    with pytest.raises(BadInputError, match=r"broken\.parquet"):
        app.register_source_file(project_id, garbage, META)
    assert list(container.object_store.keys()) == []
    notifications = app.recorder.select_notifications(start=None, limit=100)
    assert [n.originator_id for n in notifications] == [project_id]


def test_foreign_source_is_not_found(container: Container, tmp_path: Path) -> None:
    app = container.app
    mine = app.create_project("mine", META)
    theirs = app.create_project("theirs", META)
    csv = write_csv(tmp_path / "a.csv", "id,x\n1,2\n")
    source_id = app.register_source_file(theirs, csv, META)
    with pytest.raises(NotFoundError):
        app.get_source(mine, source_id)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE tieout_events SET topic = 'forged'",
        "DELETE FROM tieout_events",
        "TRUNCATE tieout_events",
    ],
)
def test_database_rejects_changes_to_the_log(
    container: Container, database_url: str, statement: str
) -> None:
    container.app.create_project("p", META)
    with psycopg.connect(database_url) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute(statement)
        conn.rollback()
        count = conn.execute("SELECT count(*) FROM tieout_events").fetchone()
    assert count == (1,)


def test_restart_reuses_the_store_and_migrations_are_idempotent(
    container: Container, settings: Settings
) -> None:
    project_id = container.app.create_project("kept", META)
    again = bootstrap(settings)
    try:
        assert again.app.get_project(project_id).name == "kept"
    finally:
        again.close()


def test_large_events_are_stored_uncompressed(container: Container, database_url: str) -> None:
    """Migration 0008 (ADR 0022): a state past the TOAST threshold is stored as it is, even
    one pglz would shrink; the job's row batches, the only such events, are zstd already."""
    state = b'{"data": "' + b"a" * 100_000 + b'"}'
    with psycopg.connect(database_url) as conn:
        storage = conn.execute(
            "SELECT attstorage FROM pg_attribute"
            " WHERE attrelid = 'tieout_events'::regclass AND attname = 'state'"
        ).fetchone()
        conn.execute(
            "INSERT INTO tieout_events (originator_id, originator_version, topic, state)"
            " VALUES (gen_random_uuid(), 1, 'probe', %s)",
            (state,),
        )
        stored = conn.execute(
            "SELECT pg_column_compression(state), length(state) FROM tieout_events"
            " WHERE topic = 'probe'"
        ).fetchone()
    assert storage == ("e",)
    assert stored == (None, len(state))
