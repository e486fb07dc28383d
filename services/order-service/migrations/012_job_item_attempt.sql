-- A bulk saga action's item remembers the saga version it is about to act
-- on, committed before the action (docs/architecture.md, "Bulk jobs"): after
-- a kill between the action and the item's record, the job acts again only
-- with If-Match that version, so a saga is acted on at most once per job.
ALTER TABLE job_items ADD COLUMN attempt_version bigint;
