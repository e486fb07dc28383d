-- Compensations that keep failing (issue 12 item 3): the steps whose
-- obligation (stock release, refund) an admin settled by hand, as bits
-- 1 << step (release 3, refund 4); the saga log's MANUAL_RESOLUTION rows say
-- what, with which evidence, by whom and why.
ALTER TABLE sagas ADD COLUMN IF NOT EXISTS resolved_manually integer NOT NULL DEFAULT 0;
