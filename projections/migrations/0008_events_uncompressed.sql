-- An event's stored state is kept as it is, without PostgreSQL's TOAST compression (ADR
-- 0022): the only events past the TOAST threshold (2 kB) are a job's row batches, already
-- zstd-compressed, which pglz tried and failed to shrink on every insert: 0.23 s of the
-- server's CPU per million decisions recorded, while the recording and the read models'
-- staging share the cores. Rows already stored keep their storage. Set only when not yet
-- set, so a restart takes no lock on the log.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_attribute
               WHERE attrelid = 'tieout_events'::regclass
                 AND attname = 'state'
                 AND attstorage <> 'e') THEN
        ALTER TABLE tieout_events ALTER COLUMN state SET STORAGE EXTERNAL;
    END IF;
END;
$$;
