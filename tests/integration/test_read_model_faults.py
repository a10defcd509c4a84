"""The read models under kill -9: the projector is killed again and again while it catches
up on a log holding over 200k decisions; after a final run every view equals a clean
rebuild and the tracked position equals the head of the log."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from jobs_helpers import register_inputs, worker

from projections.projector import rebuild
from tieout.bootstrap import Container

TIEOUT = Path(sys.executable).parent / "tieout"
VIEWS = (
    "tieout_rm_jobs",
    "tieout_rm_decisions",
    "tieout_rm_staged",
    "tieout_rm_unmatched",
    "tieout_rm_sources",
)
MIN_DECISIONS = 200_000


def view_digest(url: str) -> dict[str, tuple[int, str]]:
    """Each view's row count and a hash of its rows in a fixed order."""
    with psycopg.connect(url) as conn:
        found = {}
        for table in VIEWS:
            row = conn.execute(
                f"SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') "
                f"FROM {table} t"
            ).fetchone()
            assert row is not None
            found[table] = (int(row[0]), str(row[1]))
        return found


def differing_rows(url: str) -> list[tuple[object, ...]]:
    """Decision rows in one of the two copies and not in the other (a few, for the report)."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "(SELECT 'faulted', * FROM after_faults EXCEPT "
            " SELECT 'faulted', * FROM tieout_rm_decisions) UNION ALL "
            "(SELECT 'rebuilt', * FROM tieout_rm_decisions EXCEPT "
            " SELECT 'rebuilt', * FROM after_faults) ORDER BY 3, 1 LIMIT 6"
        ).fetchall()


def tracked_and_head(url: str) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT (SELECT coalesce(max(notification_id), 0) FROM tieout_results_tracking), "
            "(SELECT max(notification_id) FROM tieout_events)"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def own_partitions(url: str) -> int:
    """Jobs' own partitions, of decisions and unmatched items."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_inherits WHERE inhparent IN "
            "('tieout_rm_decisions_own'::regclass, 'tieout_rm_unmatched_own'::regclass)"
        ).fetchone()
    return int(row[0]) if row else 0


def test_kill_9_during_catch_up_loses_and_repeats_nothing(
    container: Container, cli_env: dict[str, str], tmp_path: Path
) -> None:
    inputs = register_inputs(container, tmp_path, rows=210_000)
    job_id = inputs.request(container)
    assert worker(container, batch_size=5_000).tick()
    matches, _ = container.app.recorded_decisions(job_id)
    assert matches.height >= MIN_DECISIONS
    env = cli_env | {"TIEOUT_METRICS_PORT": "0"}
    url = container.database_url
    rng = random.Random(11)  # noqa: S311 - when to kill, not a secret
    kills, progressed = 0, [tracked_and_head(url)[0]]
    head = tracked_and_head(url)[1]
    while kills < 4 and progressed[-1] < head:
        projector = subprocess.Popen(
            [str(TIEOUT), "projector", "--poll-seconds", "0.1"],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while tracked_and_head(url)[0] <= progressed[-1] and time.monotonic() < deadline:
            time.sleep(0.05)
        # mid-way through the next transaction (staging rows, or publishing them), or between
        time.sleep(rng.uniform(0.0, 0.05))
        projector.send_signal(signal.SIGKILL)
        projector.wait(timeout=10)
        kills += 1
        progressed.append(tracked_and_head(url)[0])
    log = tmp_path / "projector.log"
    with log.open("wb") as out:
        final = subprocess.Popen(
            [str(TIEOUT), "projector", "--poll-seconds", "0.1"],
            env=env | {"TIEOUT_LOG_LEVEL": "INFO"},
            stderr=out,
        )
    try:
        deadline = time.monotonic() + 240
        following = "results following the log"  # caught up, and its signal handler is set
        while (
            following not in log.read_text() or tracked_and_head(url)[0] < tracked_and_head(url)[1]
        ):
            assert time.monotonic() < deadline, "the projector never reached the head"
            assert final.poll() is None, "the projector exited"
            time.sleep(0.2)
    finally:
        final.send_signal(signal.SIGTERM)
        assert final.wait(timeout=30) == 0
    assert kills >= 2, f"the projector caught up before it could be killed twice: {progressed}"
    assert any(0 < position < head for position in progressed), progressed
    after_faults = view_digest(url)
    assert after_faults["tieout_rm_decisions"][0] == matches.height
    assert after_faults["tieout_rm_staged"][0] == 0
    assert own_partitions(url) == 1  # the job's decisions; its unmatched items are fewer
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE after_faults AS SELECT * FROM tieout_rm_decisions")
    rebuild(container.projections)
    assert differing_rows(url) == []
    assert view_digest(url) == after_faults
    assert own_partitions(url) == 1  # the rebuild dropped the partition and made it again
    tracked, head = tracked_and_head(url)
    assert tracked == head
