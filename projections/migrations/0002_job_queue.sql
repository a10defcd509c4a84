-- The job queue: one row per job, written in the same transaction as the job's events
-- (projections/job_recorder.py), plus heartbeats and progress, which are not events.
-- Counter columns (attempts, failures, takeovers, dead_letters) only ever grow, so metrics
-- computed from them at scrape time survive restarts and are right across many workers.
CREATE TABLE IF NOT EXISTS tieout_job_queue (
    job_id         uuid PRIMARY KEY,
    project_id     uuid        NOT NULL,
    status         text        NOT NULL,
    attempts       integer     NOT NULL DEFAULT 0,
    failures       integer     NOT NULL DEFAULT 0,
    takeovers      integer     NOT NULL DEFAULT 0,
    dead_letters   integer     NOT NULL DEFAULT 0,
    lease_token    text,
    worker         text        NOT NULL DEFAULT '',
    heartbeat_at   timestamptz,
    available_at   timestamptz NOT NULL DEFAULT now(),
    phase          text        NOT NULL DEFAULT '',
    rows_processed bigint      NOT NULL DEFAULT 0,
    rows_total     bigint      NOT NULL DEFAULT 0,
    last_error     text        NOT NULL DEFAULT '',
    started_at     timestamptz,
    finished_at    timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS tieout_job_queue_status_available
    ON tieout_job_queue (status, available_at);
CREATE INDEX IF NOT EXISTS tieout_job_queue_project_created
    ON tieout_job_queue (project_id, created_at);
