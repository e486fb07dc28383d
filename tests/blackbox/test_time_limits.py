"""Review M3 (and the timeout half of M2): a request blocked in the database
fails, with nothing applied, before the gateway gives up on it, so that "the
gateway answered 504" never means "applied later without the client knowing".

The services' connections carry DB_LOCK_TIMEOUT_MS (1000) and
DB_STATEMENT_TIMEOUT_MS (1500), and a request's transaction commits within
DB_COMMIT_DEADLINE_MS (3000) or is rolled back; the gateway's
UPSTREAM_TIMEOUT_MS is 5000."""

import subprocess
import time

from conftest import PG_PORT, PSQL, body_of, money

GATEWAY_TIMEOUT_S = 5.0


class HeldLock:
    """A psql session holding a lock taken by `sql` (a row's `SELECT ... FOR
    UPDATE`, as the review's reproduction did, or a table lock) until it is
    released (COMMIT)."""

    def __init__(self, database, sql):
        self.session = subprocess.Popen(
            [PSQL, "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", PG_PORT, "-U", "postgres",
             "-d", database],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.session.stdin.write(f"BEGIN;\n{sql};\nSELECT 'locked';\n")
        self.session.stdin.flush()
        lines = []
        while not lines or lines[-1] != "locked":  # after what `sql` printed
            line = self.session.stdout.readline()
            assert line, (lines, self.session.stderr.read())
            lines.append(line.strip())

    def release(self):
        if self.session.poll() is None:
            self.session.communicate("COMMIT;\n", timeout=30)


def test_a_restock_behind_a_held_row_lock_fails_at_once_and_is_never_applied_later(system):
    product = system.make_product(stock=5)
    # The id is a test-made one of [a-z0-9-]: no quoting needed.
    lock = HeldLock("inventory", f"SELECT 1 FROM products WHERE product_id = '{product}' FOR UPDATE")
    try:
        started = time.monotonic()
        r = system.api.post(f"/products/{product}/stock", {"quantity": 4})
        took = time.monotonic() - started
        # The service gave up (lock_timeout), not the gateway: a 409 telling
        # that nothing was applied, well within the gateway's timeout.
        assert r.status_code == 409, r.text
        assert "nothing was applied" in body_of(r)["error"]["message"], r.text
        assert took < GATEWAY_TIMEOUT_S - 1, took
        # Hold the lock past the gateway's timeout, as in the review (where the
        # restock was applied 14 s later): nothing is waiting to apply it.
        time.sleep(GATEWAY_TIMEOUT_S + 1 - took)
    finally:
        lock.release()
    time.sleep(1)
    assert system.stock(product) == 5
    # The retry works, and counts once.
    r = system.api.post(f"/products/{product}/stock", {"quantity": 4})
    assert r.status_code == 200, r.text
    assert system.stock(product) == 9


def test_an_order_behind_a_held_row_lock_fails_or_completes_once_and_the_retry_gives_the_one_order(system):
    """POST /orders while another transaction holds a lock that keeps every
    Idempotency-Key from being claimed: the create transaction cannot finish;
    the answer comes before the gateway's timeout with nothing applied, and
    the retry with the same key gives one order, charged once."""
    product = system.make_product(stock=10, price="3")
    customer = system.make_customer(balance="100.00")
    key = {"Idempotency-Key": "m3-" + str(time.time_ns())}
    body = {"customer_id": customer, "items": [{"product_id": product, "quantity": 1}]}
    lock = HeldLock("orders", "LOCK TABLE idempotency_keys IN SHARE ROW EXCLUSIVE MODE")
    try:
        started = time.monotonic()
        first = system.api.post("/orders", body, headers=key)
        took = time.monotonic() - started
        assert took < GATEWAY_TIMEOUT_S - 1, (took, first.text)
        time.sleep(GATEWAY_TIMEOUT_S + 1 - took)
    finally:
        lock.release()
    assert first.status_code == 409, first.text
    assert body_of(system.api.get(f"/customers/{customer}/orders"))["orders"] == []
    retry = system.api.post("/orders", body, headers=key)
    assert retry.status_code == 201, retry.text
    order_id = body_of(retry)["id"]
    system.wait_status(order_id, "INVENTORY_CONFIRMED")
    listed = body_of(system.api.get(f"/customers/{customer}/orders"))
    assert [o["id"] for o in listed["orders"]] == [order_id]
    assert system.balance(customer) == money("97.00")
