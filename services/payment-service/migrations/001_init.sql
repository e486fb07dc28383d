-- payment-service: accounts, payments (one per order) and the account
-- ledger from which SPEC invariant 2 is checked:
--   sum(account_ledger.delta) of a customer = accounts.balance_cents, i.e.
--   OPENING - captured + refunded = balance, and balance is never negative.

CREATE TABLE accounts (
    customer_id   text PRIMARY KEY CHECK (length(customer_id) BETWEEN 1 AND 64),
    balance_cents bigint NOT NULL CHECK (balance_cents >= 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    modified_at   timestamptz NOT NULL DEFAULT now()
);

-- A DECLINED row with reason 'cancelled before payment' and amount 0 is the
-- tombstone of a refund that came before any payment; its customer may have
-- no account, hence no foreign key.
CREATE TABLE payments (
    payment_id   uuid PRIMARY KEY,
    order_id     uuid NOT NULL UNIQUE,
    customer_id  text NOT NULL,
    amount_cents bigint NOT NULL CHECK (amount_cents >= 0),
    status       text NOT NULL CHECK (status IN ('CAPTURED', 'DECLINED', 'REFUNDED')),
    reason       text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    modified_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE account_ledger (
    id          bigserial PRIMARY KEY,
    customer_id text NOT NULL REFERENCES accounts (customer_id),
    delta_cents bigint NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('OPENING', 'CAPTURE', 'REFUND')),
    order_id    uuid,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX account_ledger_customer ON account_ledger (customer_id);
