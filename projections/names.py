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
RESULTS_PROJECTION = "tieout_results"  # the analyst's read models: its tracking table's prefix
RESULTS_TRACKING_TABLE = f"{RESULTS_PROJECTION}_tracking"
PROJECTS_TABLE = "tieout_rm_projects"
RULESETS_TABLE = "tieout_rm_rulesets"
SOURCES_TABLE = "tieout_rm_sources"
JOBS_TABLE = "tieout_rm_jobs"
DECISIONS_TABLE = "tieout_rm_decisions"  # partitioned by job: projections/job_partitions.py
UNMATCHED_TABLE = "tieout_rm_unmatched"  # partitioned by job, as the decisions
STAGED_TABLE = "tieout_rm_staged"  # the staging tables of jobs whose rows are arriving
CURSOR_KEY_TABLE = "tieout_rm_cursor_key"
UNLOGGED_MARK_TABLE = "tieout_rm_unlogged_mark"  # gone after a crash: projections/results_view.py
RESULTS_TABLES = (
    PROJECTS_TABLE,
    RULESETS_TABLE,
    SOURCES_TABLE,
    JOBS_TABLE,
    DECISIONS_TABLE,
    UNMATCHED_TABLE,
    STAGED_TABLE,
)
CHAIN_TABLE = "tieout_chain"
CHAIN_TRACKING_TABLE = f"{CHAIN_TABLE}_tracking"
CHAIN_SEALS_TABLE = "tieout_chain_seals"


@unique
class Lock(IntEnum):
    """PostgreSQL advisory-lock keys (`pg_advisory_lock(key)`), one per purpose."""

    MIGRATIONS = 7_202_611  # one migrator at a time
    SCHEMA = 7_202_612  # one process creating the event store's tables
    AUDIT_INDEX_WRITE = 7_202_613  # one writer of the audit index at a time
    CHAIN_WRITE = 7_202_614  # one writer of the hash chain at a time
    BACKUP = 7_202_616  # one process taking or pruning snapshots at a time
    RESULTS_WRITE = 7_202_615  # one writer of the analyst's read models at a time
