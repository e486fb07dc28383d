-- tools/bench/ceiling_schema.sql -- the tables the order-creation transaction
-- writes, for the pgbench ceiling of `make bench` (scripts/bench.sh).
--
-- A copy of services/order-service/migrations/001_init.sql (orders,
-- order_items, idempotency_keys, sagas, saga_step_log, order_view, with the
-- same keys, checks and indexes) and of the outbox table of lib/oms/outbox.c,
-- so that every insert pays for the same indexes and constraints as the real
-- one. Applied to a scratch database that bench.sh drops and re-creates.

CREATE TABLE orders (
    id                  uuid PRIMARY KEY,
    customer_id         text NOT NULL CHECK (length(customer_id) BETWEEN 1 AND 64),
    status              text NOT NULL,
    total_cents         bigint NOT NULL CHECK (total_cents >= 0),
    saga_id             uuid NOT NULL,
    failure_reason      text,
    cancellation_reason text,
    created_at          timestamptz NOT NULL,
    modified_at         timestamptz NOT NULL
);

CREATE TABLE order_items (
    order_id         uuid NOT NULL REFERENCES orders (id),
    line             integer NOT NULL,
    product_id       text NOT NULL CHECK (length(product_id) BETWEEN 1 AND 64),
    quantity         bigint NOT NULL CHECK (quantity BETWEEN 1 AND 1000000),
    unit_price_cents bigint NOT NULL CHECK (unit_price_cents BETWEEN 0 AND 100000000),
    PRIMARY KEY (order_id, line)
);

CREATE TABLE idempotency_keys (
    key          text PRIMARY KEY,
    request_hash text NOT NULL,
    order_id     uuid NOT NULL REFERENCES orders (id) DEFERRABLE INITIALLY DEFERRED,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sagas (
    id               uuid PRIMARY KEY,
    order_id         uuid NOT NULL UNIQUE REFERENCES orders (id),
    state            text NOT NULL,
    current_step     text NOT NULL,
    target_state     text,
    command_id       uuid,
    attempts         integer NOT NULL DEFAULT 0,
    deadline         timestamptz,
    version          bigint NOT NULL DEFAULT 0,
    payment_captured boolean NOT NULL DEFAULT false,
    stock_reserved   boolean NOT NULL DEFAULT false,
    correlation_id   text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    modified_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sagas_due ON sagas (deadline)
    WHERE deadline IS NOT NULL AND state NOT IN ('FAILED', 'CANCELLED');
CREATE INDEX sagas_state ON sagas (state);

CREATE TABLE saga_step_log (
    saga_id    uuid NOT NULL REFERENCES sagas (id),
    seq        integer NOT NULL,
    at         timestamptz NOT NULL,
    kind       text NOT NULL,
    step       text NOT NULL,
    from_state text NOT NULL,
    to_state   text NOT NULL,
    event_id   uuid,
    detail     text,
    PRIMARY KEY (saga_id, seq)
);

CREATE TABLE order_view (
    id                  uuid PRIMARY KEY,
    customer_id         text NOT NULL,
    status              text NOT NULL,
    created_at          timestamptz NOT NULL,
    modified_at         timestamptz NOT NULL,
    total_cents         bigint NOT NULL,
    saga_id             uuid NOT NULL,
    failure_reason      text,
    cancellation_reason text,
    items               jsonb NOT NULL
);
CREATE INDEX order_view_newest ON order_view (created_at DESC, id DESC);
CREATE INDEX order_view_customer ON order_view (customer_id, created_at DESC, id DESC);
CREATE INDEX order_view_status ON order_view (status, created_at DESC, id DESC);

-- lib/oms/outbox.c, migration 000_oms_outbox_inbox.
CREATE TABLE outbox (
    id bigserial PRIMARY KEY,
    topic text NOT NULL,
    key text NOT NULL,
    payload text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now());
