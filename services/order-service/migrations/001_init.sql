-- order-service: the write model (orders, sagas, saga log, idempotency keys)
-- and the read model (order_view). The outbox and inbox tables come from
-- lib/oms (applied first by oms_pg_migrate).

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

-- A retried POST /orders with the same Idempotency-Key finds its first order
-- here; request_hash tells a retry from a different request.
CREATE TABLE idempotency_keys (
    key          text PRIMARY KEY,
    request_hash text NOT NULL,
    order_id     uuid NOT NULL REFERENCES orders (id) DEFERRABLE INITIALLY DEFERRED,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- One row of current state per saga (SPEC section 5). `version` grows on
-- every change; the row is locked (FOR UPDATE) while a command decides.
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

-- The deadline scanner's query: unfinished sagas by deadline.
CREATE INDEX sagas_due ON sagas (deadline)
    WHERE deadline IS NOT NULL AND state NOT IN ('FAILED', 'CANCELLED');
CREATE INDEX sagas_state ON sagas (state);

-- Append-only log of every saga step.
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

-- The read model (CQRS), written in the same transaction as every order
-- change, read on its own connections.
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
