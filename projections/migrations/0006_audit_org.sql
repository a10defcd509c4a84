-- The organization of audit index rows that belong to no project: an organization's own
-- events, and those of its users and API keys (projections/audit_rows.py). An organization's
-- admins and auditors read these beside the events of its projects; another organization's
-- never. Every statement is idempotent.
--
-- The organization is read from each event, so rows indexed before the column existed are
-- indexed again: when this script adds the column it empties the index and its position,
-- as `tieout db rebuild-projections` does, and the projector replays the log into it (a
-- projector running meanwhile notices and starts over). Until it has caught up,
-- `/api/ready` answers 503.
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM information_schema.columns
        WHERE table_schema = current_schema()
          AND table_name = 'tieout_audit_index'
          AND column_name = 'org_id'
    ) THEN
        ALTER TABLE tieout_audit_index ADD COLUMN org_id uuid;
        TRUNCATE tieout_audit_index;
        IF to_regclass('tieout_audit_index_tracking') IS NOT NULL THEN
            DELETE FROM tieout_audit_index_tracking;
        END IF;
    END IF;
END
$$;

-- An organization's events that belong to no project, newest first (the audit page's order).
CREATE INDEX IF NOT EXISTS tieout_audit_index_org
    ON tieout_audit_index (org_id, notification_id) WHERE project_id IS NULL;
