-- Bulk saga actions (issue 12 item 5; docs/architecture.md, "Bulk jobs"):
-- the GET /sagas filter a job's items were chosen by, re-checked for each
-- item when its turn comes, and the role of who asked (the item's action
-- runs as that principal, so the same rules and audit apply as to one
-- saga's action).
ALTER TABLE jobs ADD COLUMN filter_state text,
    ADD COLUMN filter_step text,
    ADD COLUMN filter_stuck_reason text,
    ADD COLUMN filter_customer_id text,
    ADD COLUMN filter_older_than text,
    ADD COLUMN filter_stuck text,
    ADD COLUMN created_role text NOT NULL DEFAULT 'operator';
ALTER TABLE jobs ALTER COLUMN created_role DROP DEFAULT;
