"""Snapshots on a real PostgreSQL, to a local directory and to S3 (moto's server): full and
incremental, restored into a fresh database with nothing lost, and every damaged, truncated,
reordered, foreign or wrong-key snapshot refused before a row is written."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from jobs_helpers import META, register_inputs
from moto.server import ThreadedMotoServer
from net_helpers import free_port
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pydantic import SecretStr

import projections.chain
import snapshots.backup
from engine.errors import BadInputError
from projections.names import (
    AUDIT_INDEX_TABLE,
    CHAIN_SEALS_TABLE,
    CHAIN_TABLE,
    EVENTS_TABLE,
    JOB_QUEUE_TABLE,
)
from snapshots.errors import SnapshotError
from tieout import backups
from tieout.bootstrap import Container, bootstrap
from tieout.settings import Settings
from tieout.workers import run_until_done

TIEOUT = str(Path(sys.executable).parent / "tieout")
KEY_A = SecretStr(base64.b64encode(b"a" * 32).decode())
KEY_B = SecretStr(base64.b64encode(b"b" * 32).decode())


@pytest.fixture
def empty_url(admin_database_url: str) -> Iterator[str]:
    """A second fresh database: where restores go."""
    name = f"tieout_r_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_database_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = conninfo_to_dict(admin_database_url)
    parts["dbname"] = name
    yield make_conninfo("", **parts)
    with psycopg.connect(admin_database_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Several chunks even for a small log, so order and truncation can be tested."""
    monkeypatch.setattr(snapshots.backup, "CHUNK_BYTES", 4096)


def with_backups(settings: Settings, tmp_path: Path, **extra: Any) -> Settings:
    return settings.model_copy(update={"backup_store": str(tmp_path / "backups"), **extra})


def run_a_job(container: Container, tmp_path: Path, rows: int = 400) -> None:
    inputs = register_inputs(container, tmp_path / f"job-{uuid.uuid4().hex[:6]}", rows=rows)
    job = run_until_done(container, inputs.request(container), lambda _: None, 120)
    assert job.status == "completed"


def snapshot_of(url: str) -> dict[str, Any]:
    """What must survive a restore: the log byte for byte, the chain, the job queue, the
    audit index."""
    with psycopg.connect(url) as conn:

        def one(query: str) -> Any:
            found = conn.execute(query).fetchone()
            return found[0] if found else None

        return {
            "log": one(
                f"SELECT md5(string_agg(notification_id || originator_id::text"
                f" || originator_version || topic || md5(state), ',' ORDER BY notification_id))"
                f" FROM {EVENTS_TABLE}"
            ),
            "events": one(f"SELECT count(*) FROM {EVENTS_TABLE}"),
            "head": one(f"SELECT encode(hash, 'hex') FROM {CHAIN_TABLE} ORDER BY ordinal DESC"),
            "jobs": one(
                f"SELECT string_agg(job_id || status, ',' ORDER BY job_id) FROM {JOB_QUEUE_TABLE}"
            ),
            "audit": one(f"SELECT count(*) FROM {AUDIT_INDEX_TABLE}"),
        }


def test_full_then_incremental_restores_everything(
    settings: Settings, tmp_path: Path, empty_url: str, database_url: str
) -> None:
    configured = with_backups(settings, tmp_path)
    built = bootstrap(configured)
    try:
        run_a_job(built, tmp_path)
        full = backups.create(built, full=False)
        run_a_job(built, tmp_path, rows=300)
        built.app.create_project("after the full one", META)
        incremental = backups.create(built, full=False)
        nothing_new = backups.create(built, full=False)
    finally:
        built.close()
    assert full.kind == "full"
    assert incremental.kind == "incremental"
    assert incremental.parent == full.snapshot_id
    assert incremental.after == full.through
    assert nothing_new.events == 0
    assert len(full.blobs) == 2
    assert len(incremental.blobs) == 2  # the second job's sources are new content
    done = backups.restore(configured, empty_url, None)
    assert done.verdict.ok
    assert done.events == full.events + incremental.events
    restored, original = snapshot_of(empty_url), snapshot_of(database_url)
    assert restored["audit"] == restored["events"]
    assert restored.pop("audit") >= original.pop("audit")
    assert restored == original


def test_a_restore_is_refused_into_a_database_that_is_not_empty(
    settings: Settings, tmp_path: Path, database_url: str
) -> None:
    configured = with_backups(settings, tmp_path)
    built = bootstrap(configured)
    try:
        built.app.create_project("p", META)
        backups.create(built, full=True)
    finally:
        built.close()
    with pytest.raises(BadInputError, match="is not empty"):
        backups.restore(configured, database_url, None)
    with pytest.raises(BadInputError, match="--into: not a PostgreSQL URL"):
        backups.restore(configured, "not a url", None)


def damage_a_chunk(store: Path) -> None:
    chunk = min(store.rglob("chunk-00001.bin"))
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 1
    chunk.write_bytes(bytes(data))


def truncate_a_chunk(store: Path) -> None:
    chunk = max(store.rglob("chunk-*.bin"))
    chunk.write_bytes(chunk.read_bytes()[:-100])


def swap_two_chunks(store: Path) -> None:
    first, second = sorted(store.rglob("chunk-*.bin"))[:2]
    scratch = first.with_name("scratch")
    first.rename(scratch)
    second.rename(first)
    scratch.rename(second)


def lose_a_chunk(store: Path) -> None:
    sorted(store.rglob("chunk-*.bin"))[1].unlink()


Damage = Callable[[Path], None]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (damage_a_chunk, "checksum mismatch"),
        (truncate_a_chunk, "checksum mismatch"),
        (swap_two_chunks, "checksum mismatch"),
        (lose_a_chunk, "is missing"),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_a_damaged_snapshot_is_refused_and_nothing_is_written(
    settings: Settings,
    tmp_path: Path,
    empty_url: str,
    small_chunks: None,
    damage: Damage,
    message: str,
) -> None:
    configured = with_backups(settings, tmp_path)
    built = bootstrap(configured)
    try:
        for number in range(30):
            built.app.create_project(f"project {number}", META)
        assert len(backups.create(built, full=True).chunks) >= 3
    finally:
        built.close()
    damage(tmp_path / "backups")
    with pytest.raises(SnapshotError, match=message) as refused:
        backups.restore(configured, empty_url, None)
    assert "\n" not in str(refused.value)
    assert_nothing_written(empty_url)


def assert_nothing_written(url: str) -> None:
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        ).fetchone()
    assert tables == (0,)


def test_an_edited_manifest_and_a_reordered_log_are_refused(
    settings: Settings, tmp_path: Path, empty_url: str, small_chunks: None
) -> None:
    """Edits that keep every checksum right: a manifest rewritten to list the chunks in
    another order (its signature fails), and chunks re-cut in another order by someone
    holding the key (the chain fails)."""
    configured = with_backups(settings, tmp_path)
    built = bootstrap(configured)
    try:
        for number in range(30):
            built.app.create_project(f"project {number}", META)
        manifest = backups.create(built, full=True)
    finally:
        built.close()
    path = tmp_path / "backups" / "snapshots" / manifest.snapshot_id / "manifest.json"
    text = path.read_text()
    chunks = manifest.chunks
    path.write_text(text.replace(chunks[0].sha256, "X").replace(chunks[1].sha256, chunks[0].sha256))
    with pytest.raises(SnapshotError, match="not signed by the trusted key"):
        backups.restore(configured, empty_url, None)
    assert_nothing_written(empty_url)


def test_a_foreign_snapshot_and_a_wrong_key_are_refused(
    settings: Settings, tmp_path: Path, empty_url: str
) -> None:
    signing = SecretStr(base64.b64encode(os.urandom(32)).decode())
    configured = with_backups(settings, tmp_path, signing_key=signing, backup_key=KEY_A)
    built = bootstrap(configured)
    try:
        built.app.create_project("p", META)
        encrypted = backups.create(built, full=True)
    finally:
        built.close()
    assert encrypted.encryption_key_id is not None
    stored = next((tmp_path / "backups").rglob("chunk-00000.bin")).read_bytes()
    assert b"ProjectCreated" not in stored
    foreign = configured.model_copy(
        update={"signing_key": SecretStr(base64.b64encode(b"f" * 32).decode())}
    )
    with pytest.raises(SnapshotError, match="not signed by the trusted key"):
        backups.restore(foreign, empty_url, None)
    wrong_key = configured.model_copy(update={"backup_key": KEY_B})
    with pytest.raises(SnapshotError, match="encrypted with key"):
        backups.restore(wrong_key, empty_url, None)
    no_key = configured.model_copy(update={"backup_key": None})
    with pytest.raises(SnapshotError, match="set TIEOUT_BACKUP_KEY"):
        backups.restore(no_key, empty_url, None)
    assert_nothing_written(empty_url)
    assert backups.restore(configured, empty_url, None).events == encrypted.events == 1


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def test_snapshots_to_s3_restore(
    settings: Settings, tmp_path: Path, empty_url: str, database_url: str, s3_endpoint: str
) -> None:
    import boto3  # noqa: PLC0415 - only this test talks to S3 directly

    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket="backups")
    configured = settings.model_copy(
        update={
            "backup_store": "s3://backups/tieout",
            "s3_endpoint_url": s3_endpoint,
            "backup_key": KEY_A,
        }
    )
    built = bootstrap(configured)
    try:
        run_a_job(built, tmp_path, rows=200)
        backups.create(built, full=False)
        built.app.create_project("later", META)
        backups.create(built, full=False)
        assert len(backups.check(built, None).manifests) == 2
    finally:
        built.close()
    done = backups.restore(configured, empty_url, None)
    assert done.verdict.ok
    restored, original = snapshot_of(empty_url), snapshot_of(database_url)
    restored.pop("audit"), original.pop("audit")
    assert restored == original


def test_the_cli_creates_lists_verifies_and_restores(
    cli_env: dict[str, str], tmp_path: Path, empty_url: str, container: Container
) -> None:
    container.app.create_project("p", META)
    env = cli_env | {"TIEOUT_BACKUP_STORE": str(tmp_path / "cli-backups")}

    def tieout(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([TIEOUT, *args], env=env, capture_output=True, text=True, check=False)

    created = tieout("backup", "create")
    assert created.returncode == 0, created.stderr
    snapshot_id = created.stdout.strip().splitlines()[-1]
    listed = tieout("backup", "list", "--json")
    assert snapshot_id in listed.stdout
    assert tieout("backup", "verify").stdout.startswith(f"snapshot {snapshot_id} intact")
    restored = tieout("backup", "restore", "--into", empty_url)
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.strip().splitlines()[-1].startswith("RTO ")
    again = tieout("backup", "restore", "--into", empty_url)
    assert again.returncode == 2
    assert again.stderr.startswith("error: ")
    assert "is not empty" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    shutil.rmtree(tmp_path / "cli-backups" / "snapshots")
    missing = tieout("backup", "verify")
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: no snapshot in")
    env |= {
        "TIEOUT_BACKUP_STORE": "s3://nowhere/backups",
        "TIEOUT_S3_ENDPOINT_URL": "http://127.0.0.1:1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    unreachable = tieout("backup", "list")
    assert unreachable.returncode == 2
    assert unreachable.stderr.startswith("error: backup store: Could not connect")
    assert len(unreachable.stderr.strip().splitlines()) == 1


def test_a_snapshot_reveals_a_tail_cut_that_the_chain_alone_cannot(
    settings: Settings, tmp_path: Path, database_url: str
) -> None:
    """A superuser removes the newest events together with their links and seals: the live
    chain is consistent again, but the snapshot's seal, kept elsewhere, still names them."""
    configured = with_backups(settings, tmp_path)
    built = bootstrap(configured)
    try:
        for number in range(5):
            built.app.create_project(f"project {number}", META)
        manifest = backups.create(built, full=True)
        assert backups.live_log_problem(built, backups.check(built, None)) is None
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f"ALTER TABLE {EVENTS_TABLE} DISABLE TRIGGER USER")
            conn.execute(f"DELETE FROM {EVENTS_TABLE} WHERE notification_id > 3")
            conn.execute(f"DELETE FROM {CHAIN_TABLE} WHERE notification_id > 3")
            conn.execute(f"DELETE FROM {CHAIN_SEALS_TABLE} WHERE notification_id > 3")
            conn.execute(f"ALTER TABLE {EVENTS_TABLE} ENABLE TRIGGER USER")
        assert backups.verify_chain(built).ok  # consistent with itself again
        problem = backups.live_log_problem(built, backups.check(built, None))
    finally:
        built.close()
    assert problem is not None
    assert f"no longer holds event {manifest.through}" in problem


def test_the_chains_own_seals_travel_with_the_snapshot(
    settings: Settings,
    tmp_path: Path,
    empty_url: str,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(projections.chain, "SEAL_EVERY", 5)
    configured = with_backups(settings, tmp_path)
    built = bootstrap(configured)
    try:
        for number in range(12):
            built.app.create_project(f"project {number}", META)
        manifest = backups.create(built, full=True)
    finally:
        built.close()
    assert [seal.notification_id for seal in manifest.interval()] == [5, 10]
    backups.restore(configured, empty_url, None)
    query = f"SELECT notification_id, hash, signature FROM {CHAIN_SEALS_TABLE} ORDER BY 1"
    with psycopg.connect(database_url) as source, psycopg.connect(empty_url) as target:
        assert source.execute(query).fetchall() == target.execute(query).fetchall()
