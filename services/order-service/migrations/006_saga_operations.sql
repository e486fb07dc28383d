-- Operating the sagas (issue 12 item 1): a saga an operator paused, why
-- its current step is not done yet (the deadline it missed, a participant's
-- refusal of a compensation), and an index for the oldest-first listing.
ALTER TABLE sagas
    ADD COLUMN paused boolean NOT NULL DEFAULT false,
    ADD COLUMN last_error text;

CREATE INDEX sagas_open_by_age ON sagas (created_at, id)
    WHERE state NOT IN ('FAILED', 'CANCELLED');
