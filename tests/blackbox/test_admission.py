"""Admission control (issue 14 item 2): past MAX_SAGAS_IN_FLIGHT sagas in
flight, POST /orders answers 503 with Retry-After at once, through the
gateway, and stores nothing; once the sagas in flight finish, new orders are
taken again, the refused request's Idempotency-Key included.

order-service is restarted with a small bound for this test and restarted
again without it afterwards."""

import os
import signal
import time

import pytest

from conftest import FINAL_STATUSES, body_of, wait_for

IN_FLIGHT_SQL = ("SELECT count(*) FROM sagas"
                 " WHERE deadline IS NOT NULL AND state NOT IN ('FAILED', 'CANCELLED')")


def _in_flight(system):
    return int(system.psql("orders", IN_FLIGHT_SQL)[0][0])


def _stable_in_flight(system):
    """The count once it has not moved for 2 s."""
    last, since = _in_flight(system), time.monotonic()
    deadline = since + 30
    while time.monotonic() - since < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
        now = _in_flight(system)
        if now != last:
            last, since = now, time.monotonic()
    return last


def _restart_order_service(system, monkeypatch, bound):
    """Stops order-service (SIGTERM) and starts it again through
    scripts/oms.sh up (which waits for every process: none may be paused),
    with MAX_SAGAS_IN_FLIGHT=bound (None: the default)."""
    pid = system.pid("order")
    os.kill(pid, signal.SIGTERM)

    def gone():
        try:
            os.kill(pid, 0)
            return False
        except ProcessLookupError:
            return True
    wait_for("order-service stopped", gone, timeout=30)
    if bound is None:
        monkeypatch.delenv("MAX_SAGAS_IN_FLIGHT", raising=False)
    else:
        monkeypatch.setenv("MAX_SAGAS_IN_FLIGHT", str(bound))
    system.restart_missing()


def _metric(text, name):
    for line in text.splitlines():
        if line.startswith(name):
            return float(line.rsplit(" ", 1)[1])
    return None


@pytest.mark.slow
def test_past_the_bound_post_orders_answers_503_and_loses_nothing(system, monkeypatch):
    product = system.make_product(stock=100, price="2")
    customer = system.make_customer(balance="1000.00")
    items = [{"product_id": product, "quantity": 1, "unit_price": 2}]
    order_api = system.services["order"]
    try:
        # Sagas left in flight by earlier tests (a paused one, say) count
        # too: the bound leaves room for two more.
        base = _stable_in_flight(system)
        _restart_order_service(system, monkeypatch, base + 2)
        with system.paused("payment"):
            accepted = [system.create_order(customer, items)["id"] for _ in range(2)]

            started = time.monotonic()
            refused = system.api.post("/orders", {"customer_id": customer, "items": items},
                                      headers={"Idempotency-Key": "admission-retry-1"})
            assert time.monotonic() - started < 2  # at once, not after a timeout
            assert refused.status_code == 503, refused.text
            assert int(refused.headers["Retry-After"]) >= 1
            error = body_of(refused)["error"]
            assert error["code"] == "overloaded"
            assert "nothing was stored" in error["message"]

            listed = body_of(system.api.get(f"/customers/{customer}/orders"))
            assert sorted(o["id"] for o in listed["orders"]) == sorted(accepted)

            metrics = order_api.get("/metrics").text
            assert _metric(metrics, 'oms_orders_refused_total{reason="overload"}') >= 1
            assert _metric(metrics, "oms_sagas_in_flight") >= base + 2

        # payment-service goes on (SIGCONT): the accepted orders finish ...
        final = [system.wait_status(order_id, FINAL_STATUSES) for order_id in accepted]
        assert all(o["status"] == "INVENTORY_CONFIRMED" for o in final), [o["status"] for o in final]

        # ... and the refused request, retried with its key, is taken.
        def retried():
            r = system.api.post("/orders", {"customer_id": customer, "items": items},
                                headers={"Idempotency-Key": "admission-retry-1"})
            return r if r.status_code == 201 else None
        created = body_of(wait_for("the refused order taken on a retry", retried, timeout=30))
        assert system.wait_status(created["id"], FINAL_STATUSES)["status"] == "INVENTORY_CONFIRMED"
        listed = body_of(system.api.get(f"/customers/{customer}/orders"))
        assert listed["total_orders"] == 3
        assert system.balance(customer) == 1000 - 3 * 2
    finally:
        _restart_order_service(system, monkeypatch, None)
