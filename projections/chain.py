"""The hash chain over the event log: one link per event, seals at intervals.

`ChainView` follows the log like any read model (registered in projections/registry.py) but
hashes each event's stored row, read back from `tieout_events`, rather than the decoded
event: an upcast or a re-encoding must not change what was chained. Every `SEAL_EVERY`
events it records a seal, signed with the deployment's key; backups seal the head too.
A rebuild recomputes the links but keeps the seals, so it cannot launder an edit that
happened before it. `verify` recomputes a range from the nearest seal before it and names
the first position where the log and the chain part (docs/backups.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import InterfaceError, OperationalError, Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.projection import Projection
from eventsourcing.utils import retry
from psycopg import Cursor
from psycopg.rows import DictRow

from engine.commitment import GENESIS, Seal, Signer, Verifier, chain_link, make_seal
from projections.names import (
    CHAIN_SEALS_TABLE,
    CHAIN_TABLE,
    CHAIN_TRACKING_TABLE,
    EVENTS_TABLE,
    Lock,
)

SEAL_EVERY = 1000
WRITE_LOCK = int(Lock.CHAIN_WRITE)
VERIFY_FETCH = 5000

HEAD = f"SELECT notification_id, ordinal, hash FROM {CHAIN_TABLE} ORDER BY ordinal DESC LIMIT 1"
NEW_EVENTS = f"""
SELECT notification_id, originator_id, originator_version, topic, state FROM {EVENTS_TABLE}
WHERE notification_id > %s AND notification_id <= %s ORDER BY notification_id
"""
COPY_LINKS = f"COPY {CHAIN_TABLE} (notification_id, ordinal, hash) FROM STDIN"
INSERT_SEAL = f"""
INSERT INTO {CHAIN_SEALS_TABLE}
    (notification_id, ordinal, hash, key_id, public_key, signature)
VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (notification_id) DO NOTHING
"""
# The log and the chain side by side: an event without a link, or a link without its event,
# is a row added or removed behind the chain's back.
BESIDE = f"""
SELECT coalesce(e.notification_id, c.notification_id) AS position,
       e.notification_id, e.originator_id, e.originator_version, e.topic, e.state,
       c.notification_id AS link_id, c.ordinal, c.hash
FROM (SELECT * FROM {EVENTS_TABLE} WHERE notification_id > %(start)s
        AND notification_id <= %(end)s) e
FULL JOIN (SELECT * FROM {CHAIN_TABLE} WHERE notification_id > %(start)s
        AND notification_id <= %(end)s) c ON c.notification_id = e.notification_id
ORDER BY position
"""


@dataclass(frozen=True)
class Verdict:
    """What `verify` found: the range checked, and the first bad position if any."""

    start: int
    end: int
    events: int
    seals: int
    head: bytes
    first_bad: int | None = None
    reason: str = ""
    unchained: int = 0

    @property
    def ok(self) -> bool:
        return self.first_bad is None


class ChainView(PostgresTrackingRecorder):
    """`tieout_chain` (a link per event), `tieout_chain_seals`, and the tracking rows."""

    signer: Signer | None = None

    def use_signer(self, signer: Signer) -> None:
        """The key interval seals are signed with (the container's)."""
        self.signer = signer

    def position(self, application: str) -> int:
        return self.max_tracking_id(application) or 0

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def reset(self, application: str) -> None:
        """Forget the links and the position; the signed seals stay, to check the rebuild."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            curs.execute(f"TRUNCATE {CHAIN_TABLE}")
            curs.execute(
                f"DELETE FROM {CHAIN_TRACKING_TABLE} WHERE application_name = %s", (application,)
            )

    def project(self, events: Sequence[tuple[Any, int]], tracking: Tracking) -> int:
        """Chain every event up to `tracking` (the decoded events are not needed)."""
        del events
        return int(self.extend(tracking))

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def extend(self, tracking: Tracking) -> int:
        """Link every event after the chain's head up to `tracking.notification_id`, and
        record the position, in one transaction; returns links written."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            head = curs.execute(HEAD).fetchone()
            after, ordinal, link = (
                (int(head["notification_id"]), int(head["ordinal"]), bytes(head["hash"]))
                if head
                else (0, 0, GENESIS)
            )
            if tracking.notification_id <= after:
                return 0
            rows = curs.execute(NEW_EVENTS, (after, tracking.notification_id)).fetchall()
            links, seals = [], []
            for row in rows:
                link = _link(link, row)
                ordinal += 1
                links.append((row["notification_id"], ordinal, link))
                if ordinal % SEAL_EVERY == 0 and self.signer is not None:
                    seal = make_seal(self.signer, row["notification_id"], ordinal, link)
                    seals.append(_seal_params(seal))
            with curs.copy(
                f"COPY {CHAIN_TABLE} (notification_id, ordinal, hash) FROM STDIN"
            ) as copy:
                for item in links:
                    copy.write_row(item)
            if seals:
                curs.executemany(INSERT_SEAL, seals)
            self._insert_tracking(curs, tracking)
        return len(links)

    def head(self) -> tuple[int, int, bytes]:
        """(notification id, ordinal, hash) of the last link; (0, 0, GENESIS) when empty."""
        with self.datastore.transaction(commit=False) as curs:
            found = curs.execute(HEAD).fetchone()
        if not found:
            return 0, 0, GENESIS
        return int(found["notification_id"]), int(found["ordinal"]), bytes(found["hash"])

    def seal_head(self, signer: Signer) -> Seal:
        """Sign and record a seal at the chain's head (a backup's end); returns it."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            found = curs.execute(HEAD).fetchone()
            position, ordinal, link = (
                (int(found["notification_id"]), int(found["ordinal"]), bytes(found["hash"]))
                if found
                else (0, 0, GENESIS)
            )
            seal = make_seal(signer, position, ordinal, link)
            curs.execute(INSERT_SEAL, _seal_params(seal))
        return self.seal_at(position) or seal

    def keep(self, seals: Sequence[Seal]) -> None:
        """Record seals made elsewhere (a restored snapshot's), for the rebuild to meet."""
        with self.datastore.transaction(commit=True) as curs:
            curs.executemany(INSERT_SEAL, [_seal_params(seal) for seal in seals])

    def link_at(self, notification_id: int) -> tuple[int, bytes] | None:
        """(ordinal, hash) of the link of event `notification_id`, if the chain holds one."""
        with self.datastore.transaction(commit=False) as curs:
            found = curs.execute(
                f"SELECT ordinal, hash FROM {CHAIN_TABLE} WHERE notification_id = %s",
                (notification_id,),
            ).fetchone()
        return (int(found["ordinal"]), bytes(found["hash"])) if found else None

    def seal_at(self, notification_id: int) -> Seal | None:
        with self.datastore.transaction(commit=False) as curs:
            found = curs.execute(
                f"SELECT * FROM {CHAIN_SEALS_TABLE} WHERE notification_id = %s", (notification_id,)
            ).fetchone()
        return _seal(found) if found else None

    def seals(self, start: int = 0, end: int | None = None) -> list[Seal]:
        """Seals at positions in [start, end], in order."""
        with self.datastore.transaction(commit=False) as curs:
            found = curs.execute(
                f"SELECT * FROM {CHAIN_SEALS_TABLE} WHERE notification_id >= %s"
                " AND notification_id <= %s ORDER BY notification_id",
                (start, end if end is not None else 2**62),
            ).fetchall()
        return [_seal(row) for row in found]

    def verify(self, trusted: Verifier, start: int = 1, end: int | None = None) -> Verdict:
        """Recompute the chain over events [start, end] from the nearest seal before `start`
        (or the beginning) and compare it with every link and seal on the way."""
        chain_end, _, _ = self.head()
        end = chain_end if end is None else min(end, chain_end)
        anchor = self._anchor(trusted, start)
        if isinstance(anchor, Verdict):
            return anchor
        after, ordinal, link = anchor
        seals = {seal.notification_id: seal for seal in self.seals(after + 1, end)}
        checked = 0
        with self.datastore.transaction(commit=False) as curs:
            for row in _beside(curs, after, end):
                problem = _compare(row, link, ordinal)
                position = int(row["position"])
                if problem:
                    return Verdict(start, end, checked, 0, link, position, problem)
                link, ordinal = bytes(row["hash"]), ordinal + 1
                checked += 1
                seal = seals.get(position)
                if seal and (bad := _seal_problem(seal, trusted, link, ordinal)):
                    return Verdict(start, end, checked, 0, link, position, bad)
            beyond = curs.execute(
                f"SELECT count(*) AS n FROM {EVENTS_TABLE} WHERE notification_id > %s", (end,)
            ).fetchone()
        beyond_head = self.seals(chain_end + 1) if end == chain_end else []
        if beyond_head:
            first = beyond_head[0].notification_id
            reason = "sealed event missing: the log and its chain were cut after it was sealed"
            return Verdict(start, end, checked, 0, link, first, reason)
        unchained = int(beyond["n"]) if beyond else 0
        return Verdict(start, end, checked, len(seals), link, unchained=unchained)

    def _anchor(self, trusted: Verifier, start: int) -> tuple[int, int, bytes] | Verdict:
        """Where recomputing starts: the last good seal before `start`, or the genesis."""
        for seal in reversed(self.seals(0, start - 1)):
            if seal.problem(trusted) is None:
                return seal.notification_id, seal.ordinal, seal.hash
        return 0, 0, GENESIS


class ChainProjection(Projection[ChainView]):
    """Chains every event, whatever its type."""

    name = CHAIN_TABLE  # the view's table prefix: tieout_chain_tracking
    topics = ()

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        del domain_event
        self.view.extend(tracking)


def _link(previous: bytes, row: DictRow) -> bytes:
    return chain_link(
        previous,
        int(row["notification_id"]),
        UUID(str(row["originator_id"])),
        int(row["originator_version"]),
        row["topic"] or "",
        bytes(row["state"] or b""),
    )


def _beside(curs: Cursor[DictRow], start: int, end: int) -> Iterator[DictRow]:
    """Events and links in (start, end], merged by position, fetched in slices."""
    with curs.connection.cursor(name="tieout_chain_verify", row_factory=curs.row_factory) as named:
        named.itersize = VERIFY_FETCH
        named.execute(BESIDE, {"start": start, "end": end})
        yield from named


def _compare(row: DictRow, previous: bytes, ordinal: int) -> str | None:
    if row["notification_id"] is None:
        return "event missing: chained, but no longer in the log"
    if row["link_id"] is None:
        return "event not in the chain: added to the log behind the chain's back"
    if int(row["ordinal"]) != ordinal + 1:
        return f"link {row['ordinal']} follows link {ordinal}: the chain was edited"
    if _link(previous, row) != bytes(row["hash"]):
        return "event differs from what was chained (its id, stream, version, topic or state)"
    return None


def _seal_problem(seal: Seal, trusted: Verifier, link: bytes, ordinal: int) -> str | None:
    if (bad := seal.problem(trusted)) is not None:
        return bad
    if seal.hash != link or seal.ordinal != ordinal:
        return f"seal at {seal.notification_id} does not match the chain: the chain was rewritten"
    return None


def _seal_params(seal: Seal) -> tuple[object, ...]:
    return (
        seal.notification_id,
        seal.ordinal,
        seal.hash,
        seal.key_id,
        seal.public_key,
        seal.signature,
    )


def _seal(row: DictRow) -> Seal:
    return Seal(
        notification_id=int(row["notification_id"]),
        ordinal=int(row["ordinal"]),
        hash=bytes(row["hash"]),
        key_id=str(row["key_id"]),
        public_key=str(row["public_key"]),
        signature=bytes(row["signature"]),
    )
