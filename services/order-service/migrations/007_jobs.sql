-- Bulk jobs (issue 12 item 5; docs/architecture.md, "Bulk jobs"): a job and
-- its items, each settled with an outcome and a reason. The runner locks a
-- due running job (FOR UPDATE SKIP LOCKED) for the time of one item, so a
-- stop waits for that item and two processes never act on one job at once.
CREATE TABLE jobs (
    id uuid PRIMARY KEY,
    kind text NOT NULL,
    state text NOT NULL CHECK (state IN ('running', 'stopped', 'done')),
    filter_topic text,
    filter_event_type text,
    filter_order_id text,
    filter_since text,
    rate_per_s int NOT NULL CHECK (rate_per_s > 0),
    total int NOT NULL,
    done int NOT NULL DEFAULT 0,
    failed int NOT NULL DEFAULT 0,
    skipped int NOT NULL DEFAULT 0,
    reason text,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    next_due_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_running ON jobs (next_due_at) WHERE state = 'running';
CREATE INDEX jobs_created ON jobs (created_at DESC);

CREATE TABLE job_items (
    job_id uuid NOT NULL REFERENCES jobs (id),
    seq int NOT NULL,
    target text NOT NULL,
    outcome text NOT NULL DEFAULT 'pending' CHECK (outcome IN ('pending', 'done', 'failed', 'skipped')),
    reason text,
    acted_at timestamptz,
    PRIMARY KEY (job_id, seq)
);
CREATE INDEX job_items_pending ON job_items (job_id, seq) WHERE outcome = 'pending';
