-- The audit index: one row per event in tieout_events, for the auditor's questions (who did
-- what, when, on whose request, in which project). The projector (projections/audit.py)
-- writes it in the same transaction as its position in tieout_audit_index_tracking, which
-- eventsourcing's PostgresTrackingRecorder creates. `tieout db rebuild-projections` empties
-- both and replays the log. Every statement is idempotent.
CREATE TABLE IF NOT EXISTS tieout_audit_index (
    notification_id    bigint PRIMARY KEY,
    originator_id      uuid        NOT NULL,
    originator_version bigint      NOT NULL,
    event_type         text        NOT NULL,
    topic              text        NOT NULL,
    actor              text        NOT NULL DEFAULT '',
    request_id         text        NOT NULL DEFAULT '',
    causation          text        NOT NULL DEFAULT '',
    occurred_at        timestamptz,  -- NULL only for an event whose state cannot be decoded
    project_id         uuid
);

CREATE INDEX IF NOT EXISTS tieout_audit_index_actor_time
    ON tieout_audit_index (actor, occurred_at);
CREATE INDEX IF NOT EXISTS tieout_audit_index_type_time
    ON tieout_audit_index (event_type, occurred_at);
CREATE INDEX IF NOT EXISTS tieout_audit_index_request
    ON tieout_audit_index (request_id);
CREATE INDEX IF NOT EXISTS tieout_audit_index_project_time
    ON tieout_audit_index (project_id, occurred_at);
CREATE INDEX IF NOT EXISTS tieout_audit_index_time
    ON tieout_audit_index (occurred_at);
-- An aggregate's history, and how later events inherit their stream's project.
CREATE INDEX IF NOT EXISTS tieout_audit_index_originator
    ON tieout_audit_index (originator_id, originator_version);
