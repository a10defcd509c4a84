"""`tieout projector` under faults: kill -9 mid-way, and its connections terminated.

Events are appended while the projector runs. Whatever happens to it, the index must end
with exactly one row per event of the log, none missing.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from threads import Threads

from engine.domain.meta import event_meta
from engine.domain.project import Project
from tieout.bootstrap import Container

META = event_meta(actor="service:fault-test", causation="test")
TIEOUT = Path(sys.executable).parent / "tieout"
FOLLOWING = "following the log from event"


def start_projector(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(TIEOUT), "projector", "--poll-seconds", "0.1"], env=env, stderr=out
        )


def stop_projector(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=20)


def index_state(url: str) -> tuple[int, int, int]:
    """(rows, distinct notification ids, events in the log)."""
    with psycopg.connect(url) as conn:
        found = conn.execute(
            "SELECT count(*), count(DISTINCT notification_id),"
            " (SELECT count(*) FROM tieout_events) FROM tieout_audit_index"
        ).fetchone()
    assert found is not None
    return found[0], found[1], found[2]


def missing_ids(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT notification_id FROM tieout_events EXCEPT"
            " SELECT notification_id FROM tieout_audit_index"
        ).fetchall()
    return [row[0] for row in rows]


def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def logged(log: Path, text: str, times: int) -> Callable[[], bool]:
    return lambda: log.read_text().count(text) >= times


def grown_past(url: str, rows: int) -> Callable[[], bool]:
    return lambda: index_state(url)[0] > rows


def append(container: Container, transactions: int, per_transaction: int = 20) -> None:
    for number in range(transactions):
        projects = [Project(name=f"p{number}-{each}", meta=META) for each in range(per_transaction)]
        container.app.save(*projects)


@contextmanager
def appending(container: Container) -> Iterator[threading.Event]:
    """Append events in the background until the block ends."""
    done = threading.Event()

    def write() -> None:
        while not done.is_set():
            append(container, 1)
            time.sleep(0.005)

    writer = Threads()
    writer.start(write)
    try:
        yield done
    finally:
        done.set()
        writer.join(timeout=10)  # a failed append fails the test


def test_kill_9_mid_way_loses_and_repeats_nothing(
    container: Container, cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = cli_env | {"TIEOUT_METRICS_PORT": "0", "TIEOUT_LOG_LEVEL": "INFO"}
    url = container.database_url
    append(container, 20)
    positions: list[int] = []
    with appending(container):
        for round_ in range(3):
            log = tmp_path / f"projector-{round_}.log"
            process = start_projector(env, log)
            assert wait_for(logged(log, FOLLOWING, 1), 20), log.read_text()
            assert wait_for(grown_past(url, index_state(url)[0] + 20), 20)
            process.kill()  # SIGKILL while it tails the log: events keep arriving
            process.wait(timeout=10)
            positions.append(index_state(url)[0])
    log = tmp_path / "projector.log"
    process = start_projector(env, log)
    try:
        assert wait_for(lambda: len(set(index_state(url))) == 1, 30), index_state(url)
    finally:
        assert stop_projector(process) == 0, log.read_text()
    rows, distinct, events = index_state(url)
    assert rows == distinct == events > positions[-1] > positions[0]
    assert missing_ids(url) == []


def test_terminated_connections_are_recovered_in_process(
    container: Container, cli_env: dict[str, str], tmp_path: Path
) -> None:
    name = f"tieout-projector-{uuid.uuid4().hex[:8]}"
    env = cli_env | {"TIEOUT_METRICS_PORT": "0", "TIEOUT_LOG_LEVEL": "INFO", "PGAPPNAME": name}
    url, log = container.database_url, tmp_path / "projector.log"
    projections = len(container.projections.specs)  # each follows the log on a thread
    append(container, 5)
    process = start_projector(env, log)
    try:
        for round_ in range(2):
            following = logged(log, FOLLOWING, projections * (round_ + 1))
            assert wait_for(following, 30), log.read_text()
            assert terminate_backends(url, name) >= 1
            append(container, 5)
            assert wait_for(lambda: len(set(index_state(url))) == 1, 30), log.read_text()
            assert process.poll() is None
    finally:
        assert stop_projector(process) == 0, log.read_text()
    # both terminations were noticed and recovered from inside the same process
    assert log.read_text().count("projector stopped") >= 2, log.read_text()
    assert missing_ids(url) == []


def terminate_backends(url: str, application_name: str) -> int:
    """Kill the projector's connections from an admin connection (never our own)."""
    with psycopg.connect(url, autocommit=True) as conn:
        found = conn.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = %s AND pid <> pg_backend_pid()",
            (application_name,),
        ).fetchone()
    assert found is not None
    return int(found[0])
