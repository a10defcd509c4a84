"""The one home of the names that the database holds: tables and advisory-lock keys.

eventsourcing derives the events table from the application's name (`Tieout` ->
`tieout_events`) and keys every tracking row by it, so both are spelled here once.
Advisory-lock keys are allocated in `Lock`; `@unique` refuses a duplicate at import.
"""

from __future__ import annotations

from enum import IntEnum, unique

APPLICATION_NAME = "Tieout"
EVENTS_TABLE = f"{APPLICATION_NAME.lower()}_events"
JOB_QUEUE_TABLE = "tieout_job_queue"
AUDIT_INDEX_TABLE = "tieout_audit_index"
AUDIT_INDEX_TRACKING_TABLE = f"{AUDIT_INDEX_TABLE}_tracking"


@unique
class Lock(IntEnum):
    """PostgreSQL advisory-lock keys (`pg_advisory_lock(key)`), one per purpose."""

    MIGRATIONS = 7_202_611  # one migrator at a time
    SCHEMA = 7_202_612  # one process creating the event store's tables
    AUDIT_INDEX_WRITE = 7_202_613  # one writer of the audit index at a time
