"""Which snapshots to keep: the newest of each of the last N days, weeks, months and years.

The seed policy keeps 7 daily, 4 weekly, 12 monthly and 5 yearly restore points
(TIEOUT_BACKUP_RETENTION). A kept snapshot keeps every parent it is built on, and the newest
snapshot is always kept, so every kept restore point stays restorable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from engine.errors import BadInputError
from engine.ports import ObjectStore
from snapshots.backup import manifests
from snapshots.manifest import BLOBS, Manifest, manifest_key

Period = Callable[[datetime], tuple[int, ...]]
PERIODS: dict[str, Period] = {
    "daily": lambda at: (at.year, at.month, at.day),
    "weekly": lambda at: at.isocalendar()[:2],
    "monthly": lambda at: (at.year, at.month),
    "yearly": lambda at: (at.year,),
}


@dataclass(frozen=True)
class Retention:
    daily: int
    weekly: int
    monthly: int
    yearly: int

    @classmethod
    def parse(cls, text: str) -> Retention:
        """`7,4,12,5`: daily, weekly, monthly and yearly counts."""
        parts = [part.strip() for part in text.split(",")]
        if len(parts) != len(PERIODS) or not all(part.isdigit() for part in parts):
            raise BadInputError(
                f"TIEOUT_BACKUP_RETENTION: {text!r} is not four counts"
                " (daily,weekly,monthly,yearly)"
            )
        daily, weekly, monthly, yearly = (int(part) for part in parts)
        return cls(daily, weekly, monthly, yearly)

    def count(self, period: str) -> int:
        return int(getattr(self, period))


def to_keep(snapshots: list[Manifest], policy: Retention) -> set[str]:
    """Ids of the snapshots to keep, parents included."""
    if not snapshots:
        return set()
    newest_first = sorted(snapshots, key=lambda manifest: manifest.snapshot_id, reverse=True)
    keep = {newest_first[0].snapshot_id}
    for period, bucket_of in PERIODS.items():
        seen: list[tuple[int, ...]] = []
        for manifest in newest_first:
            bucket = bucket_of(manifest.created)
            if bucket in seen:
                continue
            if len(seen) == policy.count(period):
                break
            seen.append(bucket)
            keep.add(manifest.snapshot_id)
    return _with_parents(keep, {manifest.snapshot_id: manifest for manifest in snapshots})


def _with_parents(keep: set[str], known: dict[str, Manifest]) -> set[str]:
    closed = set(keep)
    for snapshot_id in keep:
        parent = known[snapshot_id].parent
        while parent is not None and parent in known and parent not in closed:
            closed.add(parent)
            parent = known[parent].parent
    return closed


@dataclass(frozen=True)
class Pruned:
    kept: list[str]
    deleted: list[str]
    blobs_deleted: int


def prune(store: ObjectStore, keep: set[str], *, dry_run: bool = False) -> Pruned:
    """Delete the snapshots not in `keep` (manifest first: a snapshot without one does not
    exist), then the sources no kept snapshot refers to."""
    found = manifests(store, cached=True)
    doomed = [manifest for manifest in found if manifest.snapshot_id not in keep]
    kept = [manifest for manifest in found if manifest.snapshot_id in keep]
    referenced = {blob.key for manifest in kept for blob in manifest.blobs}
    unreferenced = [key for key in store.keys(BLOBS) if key not in referenced]
    if not dry_run:
        for manifest in doomed:
            store.delete(manifest_key(manifest.snapshot_id))
            for chunk in manifest.chunks:
                store.delete(chunk.key)
        for key in unreferenced:
            store.delete(key)
    return Pruned(
        [manifest.snapshot_id for manifest in kept],
        [manifest.snapshot_id for manifest in doomed],
        len(unreferenced),
    )
