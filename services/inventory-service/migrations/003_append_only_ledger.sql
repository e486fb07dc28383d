-- The ledger is what SPEC invariant 1 is checked against, so the code it
-- audits may only add to it (review H5): an UPDATE, DELETE or TRUNCATE of
-- stock_ledger by the service's own role (a bug, an injected statement)
-- fails; a superuser may still repair by hand (lib/oms/outbox.c,
-- oms_make_append_only).
SELECT oms_make_append_only('stock_ledger');
