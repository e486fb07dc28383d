-- Sagas with a message in a dead-letter queue (issue 12 item 1,
-- waiting_on_dead_letter): the orders whose commands or replies sit dead in
-- the bus, with how many; replaced as a whole every 10 s from the bus's dead
-- letters by order-service (saga_metrics.c).
CREATE TABLE IF NOT EXISTS saga_dead_letters (
    order_id     uuid PRIMARY KEY,
    dead_letters integer NOT NULL,
    refreshed_at timestamptz NOT NULL DEFAULT now()
);
