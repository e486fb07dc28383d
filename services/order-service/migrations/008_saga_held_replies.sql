-- Replies that came while an operator had paused their saga (issue 12 item
-- 2): kept here, in the order they came, and applied when it is resumed.
-- IF NOT EXISTS: it was 007_saga_held_replies on main for a moment.
CREATE TABLE IF NOT EXISTS saga_held_replies (
    saga_id      uuid NOT NULL REFERENCES sagas (id),
    seq          bigserial,
    event        text NOT NULL,
    step         text NOT NULL,
    command_id   uuid,
    success      boolean NOT NULL,
    has_amount   boolean NOT NULL,
    amount_cents bigint NOT NULL,
    reason       text,
    event_id     uuid,
    detail       text,
    held_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (saga_id, seq)
);
