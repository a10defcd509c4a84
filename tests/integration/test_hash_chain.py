"""The hash chain on a real PostgreSQL: every kind of tampering a superuser can do in SQL is
found and named, a clean log of 100k events raises no alarm, ranges start from seals."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from eventsourcing.persistence import Tracking

from engine.commitment import GENESIS, Signer, chain_link, make_seal
from engine.domain.meta import event_meta
from projections.chain import SEAL_EVERY, ChainView, Verdict
from projections.names import CHAIN_SEALS_TABLE, CHAIN_TABLE, EVENTS_TABLE
from projections.projector import catch_up, rebuild
from tieout.bootstrap import Container

META = event_meta(actor="user:auditor@example.com", causation="tests", request_id="r-1")
TOPIC = "engine.domain.project:Project.ProjectCreated"
TRIGGER = "tieout_events_no_update_delete"
LOG_SIZE = 2500
TEMPLATE = b'{"name": "", "meta": {"actor": "t"}}'


def fill_log(url: str, count: int) -> None:
    """`count` more events, copies of the first stored one under new streams and names,
    written with COPY: as fast as the log can take rows, and each one decodes."""
    with psycopg.connect(url) as conn:
        found = conn.execute(
            f"SELECT coalesce(max(notification_id), 0), (SELECT state FROM {EVENTS_TABLE}"
            f" ORDER BY notification_id LIMIT 1) FROM {EVENTS_TABLE}"
        ).fetchone()
        assert found is not None
        first, template = int(found[0]) + 1, json.loads(bytes(found[1] or TEMPLATE))
        columns = "notification_id, originator_id, originator_version, topic, state"
        with conn.cursor().copy(f"COPY {EVENTS_TABLE} ({columns}) FROM STDIN") as copy:
            for number in range(first, first + count):
                template["name"] = f"project {number}"
                copy.write_row((number, uuid4(), 1, TOPIC, json.dumps(template).encode()))
        conn.execute(f"SELECT setval('{EVENTS_TABLE}_notification_id_seq', {first + count})")


@contextmanager
def chain(container: Container) -> Iterator[tuple[object, ChainView]]:
    with container.projections.opened(container.projections.named("chain")) as (log, view):
        assert isinstance(view, ChainView)
        yield log, view


def verify(container: Container, start: int = 1, end: int | None = None) -> Verdict:
    with chain(container) as (log, view):
        head = log.recorder.max_notification_id() or 0  # type: ignore[attr-defined]
        view.extend(Tracking("Tieout", head))
        return view.verify(container.signer.verifier, start, end)


@contextmanager
def tampering(url: str) -> Iterator[psycopg.Connection[Any]]:
    """A superuser's session with the append-only trigger switched off."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"ALTER TABLE {EVENTS_TABLE} DISABLE TRIGGER {TRIGGER}")
        try:
            yield conn
        finally:
            conn.execute(f"ALTER TABLE {EVENTS_TABLE} ENABLE TRIGGER {TRIGGER}")


def flip_a_byte(conn: psycopg.Connection[Any]) -> None:
    conn.execute(
        f"UPDATE {EVENTS_TABLE} SET state = set_byte(state, 10, get_byte(state, 10) # 1)"
        " WHERE notification_id = 1500"
    )


def change_a_topic(conn: psycopg.Connection[Any]) -> None:
    conn.execute(
        f"UPDATE {EVENTS_TABLE} SET topic = 'engine.domain.project:Project.RulesetPublished'"
        " WHERE notification_id = 1700"
    )


def swap_two_states(conn: psycopg.Connection[Any]) -> None:
    conn.execute(
        f"UPDATE {EVENTS_TABLE} a SET state = b.state FROM {EVENTS_TABLE} b"
        " WHERE (a.notification_id, b.notification_id) IN ((1200, 1201), (1201, 1200))"
    )


def delete_a_row(conn: psycopg.Connection[Any]) -> None:
    conn.execute(f"DELETE FROM {EVENTS_TABLE} WHERE notification_id = 800")


def insert_a_row(conn: psycopg.Connection[Any]) -> None:
    """Make room at 900 by moving every later event up one, then write a forged event."""
    shift = f"UPDATE {EVENTS_TABLE} SET notification_id = notification_id + %s WHERE "
    conn.execute(shift + "notification_id >= 900", (10**9,))
    conn.execute(shift + "notification_id >= %s", (1 - 10**9, 10**9))
    conn.execute(
        f"INSERT INTO {EVENTS_TABLE} VALUES (%s, 1, %s, %s, 900)",
        (uuid4(), TOPIC, b'{"name": "forged"}'),
    )


def reorder_rows(conn: psycopg.Connection[Any]) -> None:
    """Event 2100 moves after 2101..2105, which each move down one."""
    move = f"UPDATE {EVENTS_TABLE} SET notification_id = %s WHERE notification_id = %s"
    conn.execute(move, (-1, 2100))
    for number in range(2101, 2106):
        conn.execute(move, (number - 1, number))
    conn.execute(move, (2105, -1))


def cut_the_tail(conn: psycopg.Connection[Any]) -> None:
    conn.execute(f"DELETE FROM {EVENTS_TABLE} WHERE notification_id > 2300")


def cut_the_tail_and_its_links(conn: psycopg.Connection[Any]) -> None:
    """Cut events and links after 1500: the chain is consistent again, the seal at 2000 is
    not."""
    cut_the_tail(conn)
    conn.execute(f"DELETE FROM {EVENTS_TABLE} WHERE notification_id > 1500")
    conn.execute(f"DELETE FROM {CHAIN_TABLE} WHERE notification_id > 1500")


def rewrite_the_chain_too(conn: psycopg.Connection[Any]) -> None:
    """Edit event 1500 and recompute every later link: only the signed seal at 2000 is left
    to tell, and it does."""
    flip_a_byte(conn)
    rows = conn.execute(
        f"SELECT e.notification_id, originator_id, originator_version, topic, state, c.hash"
        f" FROM {EVENTS_TABLE} e JOIN {CHAIN_TABLE} c USING (notification_id)"
        " WHERE notification_id >= 1499 ORDER BY notification_id"
    ).fetchall()
    link = bytes(rows[0][5])
    for number, originator, version, topic, state, _ in rows[1:]:
        link = chain_link(link, number, originator, version, topic, state)
        conn.execute(
            f"UPDATE {CHAIN_TABLE} SET hash = %s WHERE notification_id = %s", (link, number)
        )


def forge_the_seals_too(conn: psycopg.Connection[Any]) -> None:
    """As above, and re-sign the seal at 2000 with a key of the tamperer's own."""
    rewrite_the_chain_too(conn)
    forger = Signer.generate()
    found = conn.execute(f"SELECT hash FROM {CHAIN_TABLE} WHERE notification_id = 2000")
    link = bytes(found.fetchone()[0])  # type: ignore[index]
    seal = make_seal(forger, 2000, 2000, link)
    conn.execute(
        f"UPDATE {CHAIN_SEALS_TABLE} SET hash = %s, key_id = %s, public_key = %s, signature = %s"
        " WHERE notification_id = 2000",
        (seal.hash, seal.key_id, seal.public_key, seal.signature),
    )


Tamper = Callable[[psycopg.Connection[Any]], None]


@pytest.mark.parametrize(
    ("tamper", "first_bad", "reason"),
    [
        (flip_a_byte, 1500, "differs from what was chained"),
        (change_a_topic, 1700, "differs from what was chained"),
        (swap_two_states, 1200, "differs from what was chained"),
        (delete_a_row, 800, "event missing"),
        (insert_a_row, 900, "differs from what was chained"),
        (reorder_rows, 2100, "differs from what was chained"),
        (cut_the_tail, 2301, "event missing"),
        (cut_the_tail_and_its_links, 2000, "sealed event missing"),
        (rewrite_the_chain_too, 2000, "does not match the chain"),
        (forge_the_seals_too, 2000, "signed by key"),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_tampering_in_sql_is_found_at_its_position(
    container: Container, database_url: str, tamper: Tamper, first_bad: int, reason: str
) -> None:
    fill_log(database_url, LOG_SIZE)
    assert verify(container).ok
    with tampering(database_url) as conn:
        tamper(conn)
    verdict = verify(container)
    assert not verdict.ok
    assert verdict.first_bad == first_bad, verdict.reason
    assert reason in verdict.reason


def test_a_clean_log_of_100k_events_verifies(container: Container, database_url: str) -> None:
    container.app.create_project("Real events too", META)
    fill_log(database_url, 100_000)
    verdict = verify(container)  # about 4 s here when the machine is quiet
    assert verdict.ok, verdict.reason
    assert verdict.events == 100_001
    assert verdict.seals == 100


def test_a_range_is_recomputed_from_the_seal_before_it(
    container: Container, database_url: str
) -> None:
    fill_log(database_url, LOG_SIZE)
    assert verify(container).ok
    with tampering(database_url) as conn:
        conn.execute(f"UPDATE {EVENTS_TABLE} SET topic = 'x' WHERE notification_id = 500")
    verdict = verify(container, start=1500, end=2200)
    assert verdict.ok
    assert verdict.events == 2200 - SEAL_EVERY  # from the seal at 1000, not from the start
    assert verify(container, start=400, end=600).first_bad == 500


def test_the_projector_chains_the_log_and_a_rebuild_keeps_the_seals(
    container: Container, database_url: str
) -> None:
    for number in range(3):
        container.app.create_project(f"project {number}", META)
    fill_log(database_url, SEAL_EVERY)
    registry = container.projections
    only_chain = type(registry)(
        registry.env,
        (registry.named("chain"),),
        "test",
        container.signer,
        registry.own_partition_rows,
    )
    assert catch_up(only_chain, 60) == 0
    with chain(container) as (_, view):
        head, ordinal, _ = view.head()
        seal = view.seal_at(SEAL_EVERY)
        assert seal is not None
    assert (head, ordinal) == (SEAL_EVERY + 3, SEAL_EVERY + 3)
    rebuilt = {done.projection: done.events for done in rebuild(only_chain)}
    assert rebuilt == {"chain": SEAL_EVERY + 3}
    with chain(container) as (_, view):
        assert view.seal_at(SEAL_EVERY) == seal
        assert view.verify(container.signer.verifier).ok


def test_the_first_link_hashes_from_the_genesis(container: Container) -> None:
    container.app.create_project("one", META)
    with chain(container) as (log, view):
        view.extend(Tracking("Tieout", 1))
        stored = log.recorder.select_notifications(start=1, limit=1)[0]  # type: ignore[attr-defined]
        expected = chain_link(
            GENESIS, 1, stored.originator_id, 1, stored.topic, bytes(stored.state)
        )
        assert view.head() == (1, 1, expected)


def test_cli_verify_exits_1_and_names_the_position(
    container: Container, database_url: str, cli_env: dict[str, str]
) -> None:
    fill_log(database_url, 50)
    command = [str(Path(sys.executable).parent / "tieout"), "audit", "verify"]
    clean = subprocess.run(command, env=cli_env, capture_output=True, text=True, check=False)
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout.startswith("chain intact: events 1..50")
    with tampering(database_url) as conn:
        conn.execute(f"DELETE FROM {EVENTS_TABLE} WHERE notification_id = 17")
    found = subprocess.run(command, env=cli_env, capture_output=True, text=True, check=False)
    assert found.returncode == 1
    assert found.stdout.strip() == (
        "TAMPERED at event 17: event missing: chained, but no longer in the log"
    )
    bad = subprocess.run(
        [*command, "--from", "9", "--to", "3"],
        env=cli_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: ")
