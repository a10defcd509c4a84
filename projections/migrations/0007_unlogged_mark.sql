-- The mark of the read models' unlogged tables (ADR 0019): a job's staging tables and own
-- partitions are unlogged, and crash recovery of the server empties every unlogged table,
-- this one included. The results view writes its one row whenever the read models are
-- whole (projections/results_view.py); finding the row gone, it rebuilds them from the
-- log before it writes again. Created empty: an existing database is marked by its
-- projector's next catch-up, before it makes an unlogged table.
CREATE UNLOGGED TABLE IF NOT EXISTS tieout_rm_unlogged_mark (
    whole boolean PRIMARY KEY DEFAULT true CHECK (whole)
);
