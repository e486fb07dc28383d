"""Faults: a crash of order-service mid-saga (SPEC 5, invariant 6.4) and a
message delivered twice (SPEC 4: at least once delivery, exactly once effect)."""

import os
import signal
import threading
import time

import pytest

from conftest import MESSAGE_BUS, FINAL_STATUSES, Api, BASE_URL, body_of, money, wait_for


@pytest.mark.slow
def test_order_service_killed_mid_saga_resumes_every_saga(system):
    product = system.make_product(stock=1000, price="3")
    customer = system.make_customer(balance="10000.00")
    accepted = []

    def place_orders():
        api = Api(BASE_URL)
        for _ in range(40):
            try:
                r = api.post("/orders", {"customer_id": customer,
                                         "items": [{"product_id": product, "quantity": 2, "unit_price": 3}]})
            except Exception:  # the gateway may drop the request the crash cut
                continue
            if r.status_code == 201:
                accepted.append(body_of(r)["id"])

    # payment-service frozen: every accepted saga waits in PENDING_PAYMENT
    # when order-service dies, and the replies pile up while it is down.
    with system.paused("payment"):
        placer = threading.Thread(target=place_orders)
        placer.start()
        wait_for("some orders accepted", lambda: len(accepted) >= 15, timeout=60, interval=0.05)
        os.kill(system.pid("order"), signal.SIGKILL)
    placer.join(timeout=120)
    time.sleep(1)
    system.restart_missing()

    # Every order the system accepted (201) reaches a final status, none lost.
    assert len(accepted) >= 15
    final = [system.wait_status(order_id, FINAL_STATUSES, timeout=90) for order_id in accepted]
    assert all(o["status"] == "INVENTORY_CONFIRMED" for o in final), [o["status"] for o in final]

    # A POST cut by the crash may still have been stored: it must finish too,
    # and the books must balance over every order the customer has.
    listed = body_of(system.api.get(f"/customers/{customer}/orders"))
    everything = [system.wait_status(o["id"], FINAL_STATUSES, timeout=90) for o in listed["orders"]]
    assert set(accepted) <= {o["id"] for o in everything}
    assert listed["total_orders"] == len(everything) <= 40
    assert all(o["status"] == "INVENTORY_CONFIRMED" for o in everything), [o["status"] for o in everything]
    assert system.stock(product) == 1000 - 2 * len(everything)
    assert system.balance(customer) == money("10000.00") - money(6) * len(everything)


def _bus_rows(system, topic, order_id, event_type):
    payload_type = system.psql(
        "bus", "SELECT data_type FROM information_schema.columns "
               "WHERE table_name = 'bus_queue' AND column_name = 'payload'")[0][0]
    payload = "convert_from(payload, 'UTF8')" if payload_type == "bytea" else "payload::text"
    return system.psql(
        "bus", f"SELECT id FROM bus_queue WHERE topic = '{topic}' AND key::text = '{order_id}' "
               f"AND {payload} LIKE '%\"{event_type}\"%' ORDER BY id")


def _duplicate_bus_row(system, row_id):
    """Inserts a copy of one bus_queue row: the same message, delivered again."""
    columns = [row[0] for row in system.psql(
        "bus", "SELECT column_name FROM information_schema.columns WHERE table_name = 'bus_queue' "
               "AND column_name <> 'id' ORDER BY ordinal_position")]
    listed = ", ".join(f'"{c}"' for c in columns)
    system.psql("bus", f"INSERT INTO bus_queue ({listed}) SELECT {listed} FROM bus_queue WHERE id = {int(row_id)}")


@pytest.mark.skipif(MESSAGE_BUS != "pg", reason="copies a row of the pg transport's bus_queue; "
                                                 "Pulsar redelivery is covered by the Pulsar suites")
def test_same_message_twice_charges_once_and_reserves_once(system):
    product = system.make_product(stock=10, price="15")
    customer = system.make_customer(balance="100.00")

    with system.paused("inventory"):
        with system.paused("payment"):
            order = system.create_order(customer, [{"product_id": product, "quantity": 2, "unit_price": 15}])
            order_id = order["id"]
            rows = wait_for("PaymentRequested in bus_queue",
                            lambda: _bus_rows(system, "payment-commands", order_id, "PaymentRequested"))
            _duplicate_bus_row(system, rows[0][0])
        system.wait_status(order_id, "PAYMENT_CONFIRMED")
        rows = wait_for("InventoryRequested in bus_queue",
                        lambda: _bus_rows(system, "inventory-commands", order_id, "InventoryRequested"))
        _duplicate_bus_row(system, rows[0][0])
    system.wait_status(order_id, "INVENTORY_CONFIRMED")

    # Both copies handled (none left in the queue), with one effect each.
    wait_for("the duplicates consumed", lambda: not system.psql(
        "bus", f"SELECT 1 FROM bus_queue WHERE key::text = '{order_id}' "
               "AND topic IN ('payment-commands', 'inventory-commands')"))
    assert system.balance(customer) == money("70.00")
    assert system.stock(product) == 8
    assert system.payment(order_id)["status"] == "CAPTURED"
    assert system.order(order_id)["status"] == "INVENTORY_CONFIRMED"


def test_a_post_the_gateway_gave_up_on_is_retried_safely_with_its_key(system):
    """Review M2: order-service frozen past the gateway's timeout, POST
    /orders gets 504 saying the order may exist and to retry with the same
    Idempotency-Key; the retry, once the service is back, answers the one
    order (the first request's, if the service did take it) and never makes
    a second one or charges twice."""
    product = system.make_product(stock=10, price="4")
    customer = system.make_customer(balance="100.00")
    key = {"Idempotency-Key": "m2-" + os.urandom(8).hex()}
    body = {"customer_id": customer, "items": [{"product_id": product, "quantity": 1}]}
    with system.paused("order"):
        first = system.api.post("/orders", body, headers=key)
        assert first.status_code in (502, 504), first.text
        assert "Idempotency-Key" in body_of(first)["error"]["message"], first.text

    def retry():  # 409 request_in_progress while the first one finishes
        r = system.api.post("/orders", body, headers=key)
        return r if r.status_code in (200, 201) else None

    order = body_of(wait_for("the retry answered", retry, timeout=30, interval=0.5))
    system.wait_status(order["id"], "INVENTORY_CONFIRMED")
    listed = body_of(system.api.get(f"/customers/{customer}/orders"))
    assert [o["id"] for o in listed["orders"]] == [order["id"]]
    assert system.balance(customer) == money("96.00")
    assert system.stock(product) == 9
