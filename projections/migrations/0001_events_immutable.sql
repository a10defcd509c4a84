-- The event log is append-only, enforced by the database and not only by convention.
-- UPDATE and DELETE are rejected row by row, TRUNCATE statement by statement.
-- (The table itself is created by eventsourcing's PostgresApplicationRecorder.)
-- Triggers are created only when missing, so a restart takes no lock on the log.
CREATE OR REPLACE FUNCTION tieout_reject_event_mutation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'tieout_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger
                   WHERE tgname = 'tieout_events_no_update_delete'
                     AND tgrelid = 'tieout_events'::regclass) THEN
        CREATE TRIGGER tieout_events_no_update_delete
            BEFORE UPDATE OR DELETE ON tieout_events
            FOR EACH ROW EXECUTE FUNCTION tieout_reject_event_mutation();
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger
                   WHERE tgname = 'tieout_events_no_truncate'
                     AND tgrelid = 'tieout_events'::regclass) THEN
        CREATE TRIGGER tieout_events_no_truncate
            BEFORE TRUNCATE ON tieout_events
            FOR EACH STATEMENT EXECUTE FUNCTION tieout_reject_event_mutation();
    END IF;
END;
$$;
