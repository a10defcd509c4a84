"""The backup schedule on a real PostgreSQL: a full snapshot, then incrementals, retention,
metrics, one process at a time, and failures counted rather than fatal."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO

import pytest
from prometheus_client import CollectorRegistry
from threads import Threads

from engine.domain.meta import event_meta
from engine.errors import BadInputError
from projections.names import Lock
from snapshots.backup import manifests
from tieout import backups
from tieout.bootstrap import Container, bootstrap
from tieout.settings import Settings

META = event_meta(actor="user:ops@example.com", causation="tests")


@pytest.fixture
def built(settings: Settings, tmp_path: Path) -> Iterator[Container]:
    configured = settings.model_copy(
        update={"backup_store": str(tmp_path / "backups"), "backup_retention": "1,0,0,0"}
    )
    container = bootstrap(configured)
    yield container
    container.close()


def value(registry: CollectorRegistry, name: str) -> float:
    found = registry.get_sample_value(name)
    assert found is not None, name
    return found


def test_rounds_take_a_full_then_incrementals_and_set_the_metrics(built: Container) -> None:
    registry = CollectorRegistry()
    metrics = backups.BackupMetrics(registry)
    built.app.create_project("one", META)
    first = backups.scheduled_round(built, metrics)
    built.app.create_project("two", META)
    second = backups.scheduled_round(built, metrics)
    assert first is not None
    assert second is not None
    assert (first.kind, second.kind) == ("full", "incremental")
    assert second.parent == first.snapshot_id
    assert time.time() - value(registry, "tieout_backup_last_success_timestamp_seconds") < 60
    assert value(registry, "tieout_backup_last_bytes") == second.stored_bytes
    assert value(registry, "tieout_backup_snapshots") == 2  # the parent stays with its child


def test_one_process_at_a_time(built: Container) -> None:
    with built.event_log.exclusive(Lock.BACKUP) as held:
        assert held
        assert backups.scheduled_round(built, backups.BackupMetrics(CollectorRegistry())) is None
        with pytest.raises(BadInputError, match="another process"):
            backups.create(built, full=True)


def test_prune_keeps_the_policy_and_drops_unreferenced_sources(
    built: Container, tmp_path: Path
) -> None:
    source = tmp_path / "left.csv"
    source.write_text("id,amount\n1,2\n", encoding="utf-8")
    project = built.app.create_project("p", META)
    built.app.register_source_file(project, source, META)
    old = backups.create(built, full=True)
    newer = backups.create(built, full=True)
    assert newer.blobs[0].key == old.blobs[0].key
    dry = backups.prune(built, dry_run=True)
    assert dry.deleted == [old.snapshot_id]
    assert len(manifests(built.backup_store)) == 2
    done = backups.prune(built)
    assert (done.kept, done.deleted, done.blobs_deleted) == (
        [newer.snapshot_id],
        [old.snapshot_id],
        0,
    )
    assert [found.snapshot_id for found in manifests(built.backup_store)] == [newer.snapshot_id]
    assert not list(built.backup_store.keys(f"snapshots/{old.snapshot_id}/"))
    assert backups.check(built, None).target.snapshot_id == newer.snapshot_id


def test_a_failing_round_is_counted_and_the_schedule_goes_on(
    settings: Settings, tmp_path: Path, threads: Threads
) -> None:
    same_place = settings.model_copy(
        update={"backup_store": settings.object_store_location, "backup_interval_seconds": 0.05}
    )
    container = bootstrap(same_place)
    registry = CollectorRegistry()
    stop = threading.Event()
    try:
        threads.start(backups.run_schedule, container, stop, backups.BackupMetrics(registry))
        deadline = time.monotonic() + 60
        while (
            time.monotonic() < deadline
            and (registry.get_sample_value("tieout_backup_failures_total") or 0) < 2
        ):
            threads.check()  # a schedule that died fails now, not at the deadline
            time.sleep(0.05)
    finally:
        stop.set()
        try:
            threads.join(10)
        finally:
            container.close()
    assert value(registry, "tieout_backup_failures_total") >= 2
    assert value(registry, "tieout_backup_last_success_timestamp_seconds") == 0


def test_the_schedule_reads_each_manifest_once(
    built: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    metrics = backups.BackupMetrics(CollectorRegistry())
    for _ in range(3):
        built.app.create_project("p", META)
        backups.scheduled_round(built, metrics)
    opened: list[str] = []
    real_open = built.backup_store.open

    def counting_open(key: str) -> AbstractContextManager[BinaryIO]:
        opened.append(key)
        return real_open(key)

    monkeypatch.setattr(built.backup_store, "open", counting_open)
    assert len(manifests(built.backup_store, cached=True)) == 3
    assert opened == []
    assert len(manifests(built.backup_store)) == 3  # checks read afresh
    assert len(opened) == 3
