-- tests/console/seed_orders.sql -- :n finished orders written straight into
-- order-service's database (write model, saga, its log and the read model),
-- as order-service itself leaves them, for the console's 100,000-order test.
-- They are final (no deadline), so no process acts on them. Customers
-- bulk-0 .. bulk-999, one order every 25 s going back from an hour ago.
BEGIN;
CREATE TEMP TABLE seed ON COMMIT DROP AS
SELECT i, gen_random_uuid() AS id, gen_random_uuid() AS saga_id, 'bulk-' || (i % 1000) AS customer_id,
       CASE WHEN i % 100 < 90 THEN 'INVENTORY_CONFIRMED' WHEN i % 100 < 97 THEN 'FAILED' ELSE 'CANCELLED' END AS status,
       now() - interval '1 hour' - i * interval '25 seconds' AS created_at
FROM generate_series(1, :n) AS i;

INSERT INTO orders (id, customer_id, status, total_cents, saga_id, failure_reason, cancellation_reason, created_at,
                    modified_at)
SELECT id, customer_id, status, 1050, saga_id, CASE status WHEN 'FAILED' THEN 'payment declined' END,
       CASE status WHEN 'CANCELLED' THEN 'seeded' END, created_at, created_at + interval '300 ms'
FROM seed;
INSERT INTO order_items (order_id, line, product_id, quantity, unit_price_cents)
SELECT id, 1, 'product-1', 1, 1050 FROM seed;
INSERT INTO sagas (id, order_id, state, current_step, attempts, deadline, version, payment_captured, stock_reserved,
                   created_at, modified_at)
SELECT saga_id, id, status, 'none', 0, NULL, 3, status = 'INVENTORY_CONFIRMED', status = 'INVENTORY_CONFIRMED',
       created_at, created_at + interval '300 ms'
FROM seed;
INSERT INTO saga_step_log (saga_id, seq, at, kind, step, from_state, to_state, event_id, detail)
SELECT saga_id, 1, created_at, 'STATE_CHANGED', 'payment', 'CREATED', 'PENDING_PAYMENT', NULL, 'CREATED -> PENDING_PAYMENT'
FROM seed
UNION ALL
SELECT saga_id, 2, created_at, 'COMMAND_SENT', 'payment', 'CREATED', 'PENDING_PAYMENT', gen_random_uuid(),
       'PaymentRequested sent (command ' || gen_random_uuid() || ', attempt 1): order stored'
FROM seed
UNION ALL
SELECT saga_id, 3, created_at + interval '150 ms', 'REPLY_RECEIVED', 'none', 'PENDING_PAYMENT', status,
       gen_random_uuid(), 'PaymentProcessed ' || CASE status WHEN 'FAILED' THEN 'declined' ELSE 'success' END
FROM seed
UNION ALL
SELECT saga_id, 4, created_at + interval '300 ms', 'STATE_CHANGED', 'none', 'PENDING_PAYMENT', status, NULL,
       'PENDING_PAYMENT -> ' || status
FROM seed;
INSERT INTO order_view (id, customer_id, status, created_at, modified_at, total_cents, saga_id, failure_reason,
                        cancellation_reason, items)
SELECT id, customer_id, status, created_at, created_at + interval '300 ms', 1050, saga_id,
       CASE status WHEN 'FAILED' THEN 'payment declined' END, CASE status WHEN 'CANCELLED' THEN 'seeded' END,
       '[{"product_id": "product-1", "quantity": 1, "unit_price_cents": 1050}]'::jsonb
FROM seed;
COMMIT;
ANALYZE orders;
ANALYZE order_items;
ANALYZE sagas;
ANALYZE saga_step_log;
ANALYZE order_view;
