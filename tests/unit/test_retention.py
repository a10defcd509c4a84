"""Retention keeps the newest snapshot of each of the last N days, weeks, months and years,
and every parent a kept snapshot builds on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.errors import BadInputError
from snapshots.manifest import ChainPoint, Manifest
from snapshots.retention import Retention, to_keep

SEED = Retention.parse("7,4,12,5")


def snapshot(at: datetime, parent: str | None = None) -> Manifest:
    return Manifest(
        snapshot_id=f"{at:%Y%m%dT%H%M%S%fZ}-000000000001",
        kind="incremental" if parent else "full",
        parent=parent,
        created_at=at.isoformat(),
        schema_version="0004",
        after=0,
        through=1,
        events=1,
        start=ChainPoint(0, 0, "00"),
        seal={},
        chunks=[],
        blobs=[],
        encryption_key_id=None,
        seconds=0.0,
    )


def daily_fulls(days: int, end: datetime) -> list[Manifest]:
    return [snapshot(end - timedelta(days=day)) for day in range(days)]


def test_two_years_of_daily_snapshots_keep_the_seed_policy() -> None:
    end = datetime(2026, 12, 5, 3, tzinfo=UTC)
    found = daily_fulls(730, end)
    kept = {
        manifest.created.date()
        for manifest in found
        if manifest.snapshot_id in to_keep(found, SEED)
    }
    assert {end.date() - timedelta(days=day) for day in range(7)} <= kept  # 7 daily
    assert datetime(2026, 11, 30, tzinfo=UTC).date() in kept  # newest of a month
    assert datetime(2025, 12, 31, tzinfo=UTC).date() in kept  # newest of a year
    assert datetime(2025, 6, 15, tzinfo=UTC).date() not in kept
    assert 20 <= len(kept) <= 7 + 4 + 12 + 5


def test_a_kept_incremental_keeps_its_parents() -> None:
    start = datetime(2026, 12, 5, 0, tzinfo=UTC)
    full = snapshot(start)
    first = snapshot(start + timedelta(minutes=1), full.snapshot_id)
    second = snapshot(start + timedelta(minutes=2), first.snapshot_id)
    older = snapshot(start - timedelta(days=40))
    kept = to_keep([older, full, first, second], Retention.parse("1,0,0,0"))
    assert kept == {full.snapshot_id, first.snapshot_id, second.snapshot_id}


def test_the_newest_snapshot_is_always_kept() -> None:
    found = daily_fulls(3, datetime(2026, 12, 5, tzinfo=UTC))
    assert to_keep(found, Retention.parse("0,0,0,0")) == {found[0].snapshot_id}
    assert to_keep([], SEED) == set()


@pytest.mark.parametrize("text", ["7,4,12", "a,b,c,d", "7;4;12;5", "-1,4,12,5"])
def test_a_bad_policy_names_the_setting(text: str) -> None:
    with pytest.raises(BadInputError, match="TIEOUT_BACKUP_RETENTION"):
        Retention.parse(text)
