"""GET /orders/{id}/timeline through the gateway (issue 13 item 1): one
order's path across the three services in time order -- the saga log,
each service's handling of each message (its inbox row; the participants'
through their GET /internal/inbox), dead letters -- with the trace id and
per step its attempts, duration and the saga's state before and after.

The test that must exist: the timeline of an order with a payment retry
and a cancel lists every hop in order. The retry is made by freezing
payment-service past SAGA_STEP_TIMEOUT_S (5 s in the tests), so the saga
sends PaymentRequested again."""

import json
import time

from conftest import OMS_RUN_DIR, assert_error, body_of

STEP_TIMEOUT_S = 5


def _timeline(system, order_id):
    r = system.api.get(f"/orders/{order_id}/timeline")
    assert r.status_code == 200, r.text
    return body_of(r)


def _index(entries, predicate, after=-1, what=""):
    for i, e in enumerate(entries):
        if i > after and predicate(e):
            return i
    raise AssertionError(f"no {what} after entry {after}: {entries}")


def test_timeline_of_an_order_with_a_payment_retry_and_a_cancel_lists_every_hop_in_order(system):
    product = system.make_product(stock=10, price="3.00")
    customer = system.make_customer(balance="100.00")
    with system.paused("payment"):
        order = system.create_order(customer, [{"product_id": product, "quantity": 1, "unit_price": 3.00}])
        time.sleep(STEP_TIMEOUT_S + 3)  # the deadline passes: PaymentRequested is sent again
    system.wait_status(order["id"], "INVENTORY_CONFIRMED")
    r = system.cancel(order["id"])
    assert r.status_code == 202, r.text
    system.wait_status(order["id"], "CANCELLED")

    doc = _timeline(system, order["id"])
    entries = doc["entries"]
    assert doc["order_id"] == order["id"] and doc["status"] == "CANCELLED"
    assert doc["trace_id"] == doc["saga_id"].replace("-", "") and len(doc["trace_id"]) == 32
    assert doc["participants"] == {"payment-service": "ok", "inventory-service": "ok"}, doc["participants"]
    # in time order
    times = [e["at_ms"] for e in entries]
    assert times == sorted(times), entries

    def sent(kind, step):
        return lambda e: e["service"] == "order-service" and e["kind"] == kind and e["step"] == step

    def handled_by(service, event_id):
        return lambda e: e["service"] == service and e["kind"] == "HANDLED" and e["event_id"] == event_id

    # payment: sent, sent again after the deadline, both handled by payment-service, the reply handled
    first = _index(entries, sent("COMMAND_SENT", "payment"), what="PaymentRequested")
    retry = _index(entries, sent("RETRY", "payment"), first, "the payment retry")
    payment_ids = [entries[first]["event_id"], entries[retry]["event_id"]]
    assert payment_ids[0] != payment_ids[1], "a retry is a new message (same command id, new event id)"
    for i, event_id in zip((first, retry), payment_ids):
        _index(entries, handled_by("payment-service", event_id), i, f"payment-service handling {event_id}")
    paid = _index(entries, lambda e: e["kind"] == "REPLY_RECEIVED" and e["to_state"] == "PAYMENT_CONFIRMED", retry,
                  "the payment reply")
    _index(entries, handled_by("order-service", entries[paid]["event_id"]), retry, "the reply's inbox row")
    # inventory: sent, handled by inventory-service, confirmed
    stock = _index(entries, sent("COMMAND_SENT", "inventory"), paid, "InventoryRequested")
    _index(entries, handled_by("inventory-service", entries[stock]["event_id"]), stock, "inventory's handling")
    confirmed = _index(entries, lambda e: e.get("to_state") == "INVENTORY_CONFIRMED", stock, "INVENTORY_CONFIRMED")
    # the cancel: release, then refund, each handled by its participant, then CANCELLED
    # the cancel request's audit row commits with the release it sends (its time is
    # taken a moment later in that transaction), before inventory-service handles it
    cancel = _index(entries, lambda e: e["kind"] == "OPERATOR_ACTION" and e["action"] == "order.cancel", confirmed,
                    "the cancel request (its audit row)")
    assert entries[cancel]["detail"] == "changed my mind" and entries[cancel]["role"] == "admin", entries[cancel]
    release = _index(entries, sent("COMPENSATION_SENT", "release"), confirmed, "the stock release")
    released = _index(entries, handled_by("inventory-service", entries[release]["event_id"]), release,
                      "the release's handling")
    assert cancel < released, entries
    refund = _index(entries, sent("COMPENSATION_SENT", "refund"), release, "the refund")
    _index(entries, handled_by("payment-service", entries[refund]["event_id"]), refund, "the refund's handling")
    _index(entries, lambda e: e.get("to_state") == "CANCELLED", refund, "CANCELLED")

    steps = {s["step"]: s for s in doc["steps"]}
    assert list(steps) == ["payment", "inventory", "release", "refund"], doc["steps"]
    assert steps["payment"]["attempts"] == 2, steps["payment"]
    assert steps["payment"]["duration_ms"] >= STEP_TIMEOUT_S * 1000, steps["payment"]
    assert steps["payment"]["state_before"] == "CREATED"
    assert steps["payment"]["state_after"] == "PAYMENT_CONFIRMED"
    assert steps["inventory"]["attempts"] == 1 and steps["inventory"]["state_after"] == "INVENTORY_CONFIRMED"
    assert steps["refund"]["state_after"] == "CANCELLED"
    assert set(payment_ids) <= set(doc["event_ids"])
    _assert_handled_lines_carry_the_trace(doc)


def _assert_handled_lines_carry_the_trace(doc):
    """issue 13 item 2: every message of the order carries the saga's
    traceparent, and each service's message_handled log line its trace_id."""
    seen = {}
    for name in ("order", "payment", "inventory"):
        path = OMS_RUN_DIR / "logs" / f"{name}.log"
        if not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            if doc["order_id"] not in line or '"message_handled"' not in line:
                continue
            record = json.loads(line[line.index("{"):])
            if record.get("order_id") == doc["order_id"]:
                seen.setdefault(name, set()).add(record.get("trace_id"))
    assert set(seen) == {"order", "payment", "inventory"}, seen
    assert all(ids == {doc["trace_id"]} for ids in seen.values()), seen


def test_timeline_of_an_unknown_order_is_404(system):
    assert_error(system.api.get("/orders/00000000-0000-4000-8000-000000000000/timeline"), 404)
    assert_error(system.api.get("/orders/not-a-uuid/timeline"), 404)


def test_internal_inbox_checks_its_input(system):
    for name in ("payment", "inventory", "order"):
        service = system.services[name]
        headers = {"X-OMS-Internal-Key": _internal_key(), "X-OMS-Role": "viewer", "X-OMS-Principal": "t"}
        assert_error(service.get("/internal/inbox?event_ids=nope", headers=headers), 400, "event_ids")
        many = ",".join(["00000000-0000-4000-8000-000000000000"] * 257)
        assert_error(service.get(f"/internal/inbox?event_ids={many}", headers=headers), 400, "event_ids")
        r = service.get("/internal/inbox?event_ids=00000000-0000-4000-8000-000000000000", headers=headers)
        assert r.status_code == 200 and body_of(r)["handled"] == [], r.text


def _internal_key():
    from conftest import OMS_RUN_DIR
    path = OMS_RUN_DIR / "internal-api-key"
    return path.read_text().strip() if path.is_file() else ""
