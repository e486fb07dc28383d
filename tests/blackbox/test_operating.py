"""Operating the sagas (issue 12): stuck reasons, filters and metrics of
GET /sagas, through the gateway, with a participant frozen (SIGSTOP).

SAGA_STEP_TIMEOUT_S is 5 in the tests: a command without a reply is sent
again after 5 s, then 10 s, ..."""

import datetime
import re

from conftest import FINAL_STATUSES, body_of, unique, wait_for

STEP_TIMEOUT_S = 5


def saga_of(system, order_id):
    r = system.api.get(f"/orders/{order_id}/saga")
    assert r.status_code == 200, r.text
    doc = body_of(r)
    assert r.headers.get("ETag") == f'"{doc["version"]}"', r.headers
    return doc


def sagas(system, query):
    r = system.api.get(f"/sagas?{query}")
    assert r.status_code == 200, r.text
    return body_of(r)


def at(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def order_items(system):
    product = system.make_product(stock=100, price="2.50")
    customer = system.make_customer(balance="1000.00")
    return customer, [{"product_id": product, "quantity": 1, "unit_price": 2.5}]


def test_a_frozen_payment_service_shows_as_retrying_then_finishes(system):
    customer, items = order_items(system)
    with system.paused("payment"):
        order = system.create_order(customer, items)
        # within one deadline (and the scanner's tick) the command went again
        saga = wait_for("the saga to show retrying",
                        lambda: (lambda s: s if s["stuck_reason"] == "retrying" else None)(saga_of(system, order["id"])),
                        timeout=STEP_TIMEOUT_S * 3)
        assert saga["current_step"] == "payment"
        assert saga["attempts"] == 2
        assert saga["customer_id"] == customer
        assert at(saga["next_attempt_at"]) > at(saga["created_at"])
        assert saga["next_attempt_at"] == saga["deadline"]
        assert re.search(r"no reply to the payment command before its deadline", saga["last_error"]), saga
        listed = sagas(system, f"stuck_reason=retrying&step=payment&customer_id={customer}")
        assert [s["order_id"] for s in listed["sagas"]] == [order["id"]]
        assert listed["sagas"][0]["attempts"] == 2
        assert sagas(system, f"customer_id={customer}&stuck=true&count_only=true") == {"count": 1}
        metrics = system.services["order"].get("/metrics").text
        assert "oms_sagas_stuck{" in metrics and "oms_saga_age_seconds_bucket{" in metrics
    done = system.wait_status(order["id"], FINAL_STATUSES, timeout=STEP_TIMEOUT_S * 6)
    assert done["status"] == "INVENTORY_CONFIRMED"
    saga = saga_of(system, order["id"])
    assert saga["stuck_reason"] is None and saga["last_error"] is None
    assert sagas(system, f"customer_id={customer}&stuck=true&count_only=true") == {"count": 0}


def test_sagas_page_oldest_first_and_filters_refuse_nonsense(system):
    customer, items = order_items(system)
    ids = [system.create_order(customer, items)["id"] for _ in range(3)]
    for order_id in ids:
        system.wait_status(order_id, FINAL_STATUSES)
    seen, cursor = [], None
    for _ in range(5):
        page = sagas(system, f"customer_id={customer}&sort=age&limit=2" + (f"&cursor={cursor}" if cursor else ""))
        seen += [s["order_id"] for s in page["sagas"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids  # created one after the other: oldest first, each once
    assert sagas(system, f"customer_id={customer}&older_than=1d&count_only=true") == {"count": 0}
    assert sagas(system, f"order_id={ids[1]}")["sagas"][0]["order_id"] == ids[1]
    for bad in ("stuck_reason=bored", "older_than=10", "sort=price", "step=shipping", "cursor=%21%21",
                "count_only=maybe", "limit=501", f"order_id={unique('x')}"):
        r = system.api.get(f"/sagas?{bad}")
        assert r.status_code == 400, (bad, r.text)
        assert body_of(r)["error"]["field"] == bad.split("=")[0], r.text
