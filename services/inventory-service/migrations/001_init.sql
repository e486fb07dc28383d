-- inventory-service: products, reservations (one per order) and the stock
-- ledger from which SPEC invariant 1 is checked:
--   sum(stock_ledger.delta) of a product = products.stock, and
--   INITIAL + RESTOCK - quantities of RESERVED reservations = products.stock.

CREATE TABLE products (
    product_id  text PRIMARY KEY CHECK (length(product_id) BETWEEN 1 AND 64),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    stock       bigint NOT NULL CHECK (stock >= 0),
    reserved    bigint NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    modified_at timestamptz NOT NULL DEFAULT now()
);

-- state FAILED records a request that could not be met, so that the same
-- request is answered the same way; it holds no lines.
CREATE TABLE reservations (
    order_id    uuid PRIMARY KEY,
    state       text NOT NULL CHECK (state IN ('RESERVED', 'RELEASED', 'FAILED')),
    reason      text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    modified_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE reservation_items (
    order_id   uuid NOT NULL REFERENCES reservations (order_id),
    product_id text NOT NULL REFERENCES products (product_id),
    quantity   bigint NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_id, product_id)
);

CREATE TABLE stock_ledger (
    id         bigserial PRIMARY KEY,
    product_id text NOT NULL REFERENCES products (product_id),
    delta      bigint NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('INITIAL', 'RESTOCK', 'RESERVE', 'RELEASE')),
    order_id   uuid,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stock_ledger_product ON stock_ledger (product_id);
