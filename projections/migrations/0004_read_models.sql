-- The analyst's read models (projections/results_view.py), kept by the projector in the
-- same transaction as their position in tieout_results_tracking (which eventsourcing's
-- PostgresTrackingRecorder creates). `tieout db rebuild-projections` empties them and
-- replays the log. Every index serves a query of projections/results_query.py; every
-- statement is idempotent.

CREATE TABLE IF NOT EXISTS tieout_rm_projects (
    project_id  uuid PRIMARY KEY,
    name        text        NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS tieout_rm_projects_name ON tieout_rm_projects (name, project_id);

CREATE TABLE IF NOT EXISTS tieout_rm_rulesets (
    project_id    uuid        NOT NULL,
    version       integer     NOT NULL,
    digest        text        NOT NULL,
    ruleset       jsonb       NOT NULL,
    published_at  timestamptz NOT NULL,
    published_by  text        NOT NULL DEFAULT '',
    PRIMARY KEY (project_id, version)
);

CREATE TABLE IF NOT EXISTS tieout_rm_sources (
    source_id     uuid PRIMARY KEY,
    project_id    uuid        NOT NULL,
    name          text        NOT NULL,
    file_format   text        NOT NULL,
    content_hash  text        NOT NULL,
    file_hash     text        NOT NULL,
    row_count     bigint      NOT NULL,
    columns       jsonb       NOT NULL,
    registered_at timestamptz NOT NULL,
    registered_by text        NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS tieout_rm_sources_project
    ON tieout_rm_sources (project_id, registered_at DESC, source_id DESC);

CREATE TABLE IF NOT EXISTS tieout_rm_jobs (
    job_id           uuid PRIMARY KEY,
    project_id       uuid        NOT NULL,
    status           text        NOT NULL,
    left_source_id   uuid        NOT NULL,
    right_source_id  uuid        NOT NULL,
    ruleset_version  integer     NOT NULL,
    idempotency_key  text        NOT NULL DEFAULT '',
    attempts         integer     NOT NULL DEFAULT 0,
    failures         integer     NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL,
    claimed_at       timestamptz,
    finished_at      timestamptz,
    counts           jsonb,
    decisions_hash   text,
    inputs_hash      text,
    engine_version   text,
    decision_batches integer,
    unmatched_batches integer,
    last_error       text        NOT NULL DEFAULT '',
    version          bigint      NOT NULL
);
CREATE INDEX IF NOT EXISTS tieout_rm_jobs_project
    ON tieout_rm_jobs (project_id, created_at DESC, job_id DESC);
CREATE INDEX IF NOT EXISTS tieout_rm_jobs_status
    ON tieout_rm_jobs (status, created_at DESC, job_id DESC);
CREATE INDEX IF NOT EXISTS tieout_rm_jobs_created
    ON tieout_rm_jobs (created_at DESC, job_id DESC);

-- A job's decisions and unmatched items are partitioned (projections/job_partitions.py,
-- ADR 0014): a job with many rows gets a partition of its own under the `_own` table,
-- its indexes built in one sort each when the job completes; smaller jobs share the
-- `_shared` table, whose indexes lead with job_id. Text columns compare bytewise
-- (COLLATE "C"): no query orders them for people, and index builds are faster.
--
-- A database made before the partitioning holds plain tables: the read models are
-- derived from the log, so they are emptied with their position and rebuilt.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_class WHERE oid = to_regclass('tieout_rm_decisions')
               AND relkind = 'r') THEN
        DROP TABLE tieout_rm_decisions, tieout_rm_unmatched;
        TRUNCATE tieout_rm_projects, tieout_rm_rulesets, tieout_rm_sources, tieout_rm_jobs;
        IF to_regclass('tieout_results_tracking') IS NOT NULL THEN
            DELETE FROM tieout_results_tracking;
        END IF;
    END IF;
END $$;

-- One row per decision row (a many-to-one group is several rows with one group_id).
-- row_no is the row's position in the job's recorded decisions: unique, stable, and the
-- tie-break of every ordering. The amounts and dates are the inputs' columns the ruleset
-- names (engine/worker/details.py). review_status: none, confirmed, rejected,
-- pending_approval, manual, unmatched; action_id: the action awaiting approval, if any.
CREATE TABLE IF NOT EXISTS tieout_rm_decisions (
    job_id        uuid             NOT NULL,
    row_no        bigint           NOT NULL,
    group_id      text COLLATE "C" NOT NULL,
    left_id       text COLLATE "C" NOT NULL,
    right_id      text COLLATE "C" NOT NULL,
    rule          text COLLATE "C" NOT NULL,
    confidence    double precision NOT NULL,
    status        text COLLATE "C" NOT NULL,
    review_status text COLLATE "C" NOT NULL DEFAULT 'none',
    left_amount   double precision,
    right_amount  double precision,
    left_date     date,
    right_date    date,
    action_id     text,
    reviewed_by   text,
    reviewed_at   timestamptz,
    own_partition boolean          NOT NULL DEFAULT false
) PARTITION BY LIST (own_partition);
CREATE TABLE IF NOT EXISTS tieout_rm_decisions_shared
    PARTITION OF tieout_rm_decisions FOR VALUES IN (false);
CREATE TABLE IF NOT EXISTS tieout_rm_decisions_own
    PARTITION OF tieout_rm_decisions FOR VALUES IN (true) PARTITION BY LIST (job_id);

-- The shared partitions' indexes. A job's own partition has the same ones without the
-- leading job_id (JobTable.indexes in projections/job_partitions.py; a test compares),
-- those led by a column of few values split into partial indexes by value (ADR 0016).
CREATE UNIQUE INDEX IF NOT EXISTS tieout_rm_decisions_shared_row
    ON tieout_rm_decisions_shared (job_id, row_no);
-- Pages are ordered by confidence, highest first, then row_no. The key is indexed as
-- (-confidence, row_no), both ascending, so that a cursor is one row comparison
-- `(-confidence, row_no) > (-c, r)` the index starts from, however deep the page.
CREATE INDEX IF NOT EXISTS tieout_rm_decisions_shared_confidence
    ON tieout_rm_decisions_shared (job_id, (-confidence), row_no);
CREATE INDEX IF NOT EXISTS tieout_rm_decisions_shared_status
    ON tieout_rm_decisions_shared (job_id, status, (-confidence), row_no);
CREATE INDEX IF NOT EXISTS tieout_rm_decisions_shared_rule
    ON tieout_rm_decisions_shared (job_id, rule, (-confidence), row_no);
CREATE INDEX IF NOT EXISTS tieout_rm_decisions_shared_review
    ON tieout_rm_decisions_shared (job_id, review_status, (-confidence), row_no);
CREATE INDEX IF NOT EXISTS tieout_rm_decisions_shared_group
    ON tieout_rm_decisions_shared (job_id, group_id);

-- An item's state: open (in the exception queue), pending (in a manual match awaiting
-- approval) or matched (in a manual match). Items of rejected or unmatched groups are
-- added as open rows, with the reason `rejected` or `unmatched`.
CREATE TABLE IF NOT EXISTS tieout_rm_unmatched (
    job_id        uuid             NOT NULL,
    row_no        bigint           NOT NULL,
    side          text COLLATE "C" NOT NULL,
    item_id       text COLLATE "C" NOT NULL,
    reason        text COLLATE "C" NOT NULL,
    amount        double precision,
    item_date     date,
    state         text COLLATE "C" NOT NULL DEFAULT 'open',
    reason_code   text,
    note          text,
    explained_by  text,
    assignee      text,
    own_partition boolean          NOT NULL DEFAULT false
) PARTITION BY LIST (own_partition);
CREATE TABLE IF NOT EXISTS tieout_rm_unmatched_shared
    PARTITION OF tieout_rm_unmatched FOR VALUES IN (false);
CREATE TABLE IF NOT EXISTS tieout_rm_unmatched_own
    PARTITION OF tieout_rm_unmatched FOR VALUES IN (true) PARTITION BY LIST (job_id);

CREATE UNIQUE INDEX IF NOT EXISTS tieout_rm_unmatched_shared_row
    ON tieout_rm_unmatched_shared (job_id, row_no);
CREATE INDEX IF NOT EXISTS tieout_rm_unmatched_shared_side
    ON tieout_rm_unmatched_shared (job_id, side, row_no);
CREATE INDEX IF NOT EXISTS tieout_rm_unmatched_shared_age
    ON tieout_rm_unmatched_shared (job_id, item_date, row_no);
-- INCLUDE (amount): the job's open-items stats read this index alone.
CREATE INDEX IF NOT EXISTS tieout_rm_unmatched_shared_side_age
    ON tieout_rm_unmatched_shared (job_id, side, item_date, row_no) INCLUDE (amount);

-- The staging tables of jobs whose rows are still arriving, and the rows each holds.
CREATE TABLE IF NOT EXISTS tieout_rm_staged (
    table_name text PRIMARY KEY,
    job_id     uuid   NOT NULL,
    rows       bigint NOT NULL
);
-- The distinct values ("column=value") of the columns whose indexes a job's own partition
-- splits by value (ByValue in projections/job_partitions.py).
ALTER TABLE tieout_rm_staged ADD COLUMN IF NOT EXISTS key_values text[] NOT NULL DEFAULT '{}';

-- The key that signs pagination cursors, made once per database so that every process
-- (API, CLI) accepts the cursors of the others, and a cursor cannot be forged or moved to
-- another job or filter.
CREATE TABLE IF NOT EXISTS tieout_rm_cursor_key (
    id  boolean PRIMARY KEY DEFAULT true CHECK (id),
    key text NOT NULL
);
INSERT INTO tieout_rm_cursor_key (key)
SELECT replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '')  -- strong random
ON CONFLICT DO NOTHING;
