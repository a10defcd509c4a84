-- The review workflow's indexes (projections/review_view.py), on the shared partitions of
-- 0004_read_models.sql, which made the review columns. Every statement is idempotent;
-- every index serves a query of projections/results_query.py (review queue, exception
-- queue, review stats).

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

-- An item by its id: what a review of a group reopens or moves.
CREATE UNIQUE INDEX IF NOT EXISTS tieout_rm_unmatched_shared_item
    ON tieout_rm_unmatched_shared (job_id, side, item_id);
-- The exception queue: open items, oldest first (undated items last).
CREATE INDEX IF NOT EXISTS tieout_rm_unmatched_shared_open
    ON tieout_rm_unmatched_shared (job_id, item_date, row_no) WHERE state = 'open';
