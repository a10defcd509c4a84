-- The review workflow's read models (projections/review_view.py), on the tables of
-- 0004_read_models.sql. Every statement is idempotent; every index serves a query of
-- projections/results_query.py (review queue, exception queue, review stats).

-- A decision row's review status (tieout_rm_decisions.review_status, made in
-- 0004_read_models.sql): none, confirmed, rejected, pending_approval, manual, unmatched;
-- `action_id` is the pending action awaiting approval, if any.

-- The review queue: suggestions nobody has decided, and actions awaiting approval,
-- by confidence or by amount (the larger side, highest first).
CREATE INDEX IF NOT EXISTS tieout_rm_decisions_shared_queue_confidence
    ON tieout_rm_decisions_shared (job_id, (-confidence), row_no)
    WHERE review_status = 'pending_approval' OR (status = 'suggested' AND review_status = 'none');
CREATE INDEX IF NOT EXISTS tieout_rm_decisions_shared_queue_amount
    ON tieout_rm_decisions_shared (
        job_id,
        (-greatest(abs(coalesce(left_amount, 0)), abs(coalesce(right_amount, 0)))),
        row_no
    )
    WHERE review_status = 'pending_approval' OR (status = 'suggested' AND review_status = 'none');

-- An item's state: open (in the exception queue), pending (in a manual match awaiting
-- approval) or matched (in a manual match). Items of rejected or unmatched groups are
-- added as open rows, with the reason `rejected` or `unmatched`.
ALTER TABLE tieout_rm_unmatched ADD COLUMN IF NOT EXISTS state text NOT NULL DEFAULT 'open';
ALTER TABLE tieout_rm_unmatched ADD COLUMN IF NOT EXISTS reason_code text;
ALTER TABLE tieout_rm_unmatched ADD COLUMN IF NOT EXISTS note text;
ALTER TABLE tieout_rm_unmatched ADD COLUMN IF NOT EXISTS explained_by text;
ALTER TABLE tieout_rm_unmatched ADD COLUMN IF NOT EXISTS assignee text;
CREATE UNIQUE INDEX IF NOT EXISTS tieout_rm_unmatched_item
    ON tieout_rm_unmatched (job_id, side, item_id);
-- The exception queue: open items, oldest first (undated items last).
CREATE INDEX IF NOT EXISTS tieout_rm_unmatched_open
    ON tieout_rm_unmatched (job_id, item_date, row_no) WHERE state = 'open';
