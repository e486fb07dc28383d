"""The order saga end to end (SPEC sections 2, 3, 5 and invariants 6.2, 6.3)."""

import uuid

from conftest import FINAL_STATUSES, assert_error, body_of, money, state_of


def test_health_ready_and_metrics_on_every_process(system):
    """SPEC 1: /health, /ready and /metrics on every process."""
    for name, api in system.services.items():
        r = api.get("/health")
        assert r.status_code == 200, f"{name}: {r.text}"
        assert body_of(r) == {"status": "ok"}, f"{name}: {r.text}"
        assert api.get("/ready").status_code == 200, name
        r = api.get("/metrics")
        assert r.status_code == 200, name
        assert r.headers["Content-Type"].startswith("text/plain"), name
        assert "# TYPE" in r.text, f"{name}: not Prometheus text"


def test_happy_path_confirms_pays_and_reserves(system):
    """SPEC 2 and 3: created, readable at once, then INVENTORY_CONFIRMED with
    the payment CAPTURED, the stock RESERVED and the saga log kept (SPEC 5)."""
    product = system.make_product(stock=10, price="10.25")
    customer = system.make_customer(balance="100.00")

    r = system.api.post("/orders", {"customer_id": customer,
                                    "items": [{"product_id": product, "quantity": 2, "unit_price": 10.25}]})
    assert r.status_code == 201, r.text
    created = body_of(r)
    order_id = created["id"]
    assert r.headers.get("Location", "").endswith(f"/orders/{order_id}")
    assert created["customer_id"] == customer
    assert money(created["total_amount"]) == money("20.50")
    assert len(created["items"]) == 1
    item = created["items"][0]
    assert (item["product_id"], item["quantity"], money(item["unit_price"])) == (product, 2, money("10.25"))
    for field in ("id", "customer_id", "status", "items", "total_amount", "saga_id", "failure_reason",
                  "cancellation_reason", "created_at", "modified_at"):
        assert field in created, f"order lacks {field}: {created}"

    # Readable the moment the POST returned.
    assert system.order(order_id)["id"] == order_id

    done = system.wait_status(order_id, "INVENTORY_CONFIRMED")
    assert done["failure_reason"] is None
    assert system.balance(customer) == money("79.50")
    assert system.stock(product) == 8
    payment = system.payment(order_id)
    assert payment["status"] == "CAPTURED"
    assert money(payment["amount"]) == money("20.50")
    assert state_of(system.reservation(order_id)) == "RESERVED"

    with_history = system.order(order_id, "?include_saga_history=true")
    assert isinstance(with_history.get("saga_history"), list) and with_history["saga_history"]
    saga = body_of(system.api.get(f"/orders/{order_id}/saga"))
    assert saga["order_id"] == order_id
    assert saga["saga_id"] == created["saga_id"]
    assert len(saga["steps"]) >= 4, "payment and inventory commands and replies at least"


def test_payment_declined_fails_and_takes_nothing(system):
    """SPEC 3: payment declined -> FAILED, nothing to give back."""
    product = system.make_product(stock=10, price="20")
    customer = system.make_customer(balance="5.00")
    order = system.create_order(customer, [{"product_id": product, "quantity": 1, "unit_price": 20}])

    failed = system.wait_status(order["id"], FINAL_STATUSES)
    assert failed["status"] == "FAILED"
    assert failed["failure_reason"]
    assert system.balance(customer) == money("5.00")
    assert system.stock(product) == 10
    payment = system.payment(order["id"])
    assert payment is None or payment["status"] == "DECLINED"
    assert state_of(system.reservation(order["id"])) in (None, "RELEASED", "FAILED")


def test_stock_short_refunds_and_fails(system):
    """SPEC 3: inventory refused -> refund -> FAILED; invariant 6.2."""
    product = system.make_product(stock=1, price="7.5")
    customer = system.make_customer(balance="100.00")
    order = system.create_order(customer, [{"product_id": product, "quantity": 2, "unit_price": 7.5}])

    failed = system.wait_status(order["id"], FINAL_STATUSES)
    assert failed["status"] == "FAILED"
    assert failed["failure_reason"]
    # The refund may land a moment after the status: the saga ends with it.
    assert system.balance(customer) == money("100.00")
    assert system.payment(order["id"])["status"] == "REFUNDED"
    assert system.stock(product) == 1


def test_idempotency_key_returns_the_first_order_and_charges_once(system):
    """SPEC 2: a retried POST with the same Idempotency-Key is the same order."""
    product = system.make_product(stock=10, price="30")
    customer = system.make_customer(balance="100.00")
    key = {"Idempotency-Key": str(uuid.uuid4())}
    items = [{"product_id": product, "quantity": 1, "unit_price": 30}]

    first = system.create_order(customer, items, headers=key)
    again = system.create_order(customer, items, headers=key, expect=(200, 201))
    assert again["id"] == first["id"]
    system.wait_status(first["id"], "INVENTORY_CONFIRMED")
    after = system.create_order(customer, items, headers=key, expect=(200, 201))
    assert after["id"] == first["id"]
    # SPEC 7: the same key with another body
    other = system.api.post("/orders", {"customer_id": customer, "items": [dict(items[0], quantity=2)]},
                            headers=key)
    assert_error(other, 422, "Idempotency-Key")
    assert body_of(other)["error"]["code"] == "idempotency_key_reused"

    assert system.balance(customer) == money("70.00")
    assert system.stock(product) == 9
    listed = body_of(system.api.get(f"/customers/{customer}/orders"))
    assert listed["customer_id"] == customer
    assert listed["total_orders"] == 1
    assert [o["id"] for o in listed["orders"]] == [first["id"]]


def test_list_orders_newest_first_with_cursor(system):
    """SPEC 2: GET /orders?customer_id=&limit=&cursor= pages newest first."""
    product = system.make_product(stock=10, price="1")
    customer = system.make_customer(balance="100.00")
    ids = [system.create_order(customer, [{"product_id": product, "quantity": 1, "unit_price": 1}])["id"]
           for _ in range(3)]

    page = body_of(system.api.get(f"/orders?customer_id={customer}&limit=2"))
    assert [o["id"] for o in page["orders"]] == [ids[2], ids[1]]
    assert page["next_cursor"]
    rest = body_of(system.api.get(f"/orders?customer_id={customer}&limit=2&cursor={page['next_cursor']}"))
    assert [o["id"] for o in rest["orders"]] == [ids[0]]
    assert rest["next_cursor"] is None
    for order_id in ids:
        system.wait_status(order_id, "INVENTORY_CONFIRMED")


def test_new_customer_gets_an_account_with_the_default_credit(system):
    """SPEC 2 (payments): a customer with no account is opened with
    DEFAULT_CREDIT (1000.00 in a local run unless set, SPEC 7), so the README's first curl works."""
    product = system.make_product(stock=5, price="0.99")
    customer = f"bb-new-{uuid.uuid4().hex[:12]}"
    order = system.create_order(customer, [{"product_id": product, "quantity": 1, "unit_price": 0.99}])
    system.wait_status(order["id"], "INVENTORY_CONFIRMED")
    assert system.balance(customer) == money("999.01")


def test_restock_adds_to_what_can_be_reserved(system):
    """SPEC 2 (inventory) and invariant 6.1: initial + restocks - reserved = stock."""
    product = system.make_product(stock=1, price="1")
    r = system.api.post(f"/products/{product}/stock", {"quantity": 4})
    assert r.status_code == 200, r.text
    assert system.stock(product) == 5
    customer = system.make_customer(balance="100.00")
    order = system.create_order(customer, [{"product_id": product, "quantity": 3, "unit_price": 1}])
    system.wait_status(order["id"], "INVENTORY_CONFIRMED")
    doc = body_of(system.api.get(f"/products/{product}"))
    assert (doc["stock"], doc["reserved"]) == (2, 3)


def test_status_filter_and_saga_listing(system):
    """SPEC 2: GET /orders?status= filters; SPEC 5: GET /sagas answers."""
    product = system.make_product(stock=5, price="1")
    customer = system.make_customer(balance="0.00")
    order = system.create_order(customer, [{"product_id": product, "quantity": 1, "unit_price": 1}])
    system.wait_status(order["id"], "FAILED")
    failed = body_of(system.api.get(f"/orders?customer_id={customer}&status=FAILED"))
    assert [o["id"] for o in failed["orders"]] == [order["id"]]
    confirmed = body_of(system.api.get(f"/orders?customer_id={customer}&status=INVENTORY_CONFIRMED"))
    assert confirmed["orders"] == []
    r = system.api.get("/sagas?stuck=true")
    assert r.status_code == 200, r.text


def test_status_never_moves_backwards(system):
    """SPEC 3: the saga log's state changes only move forward."""
    rank = {"CREATED": 0, "PENDING_PAYMENT": 1, "PAYMENT_CONFIRMED": 2, "INVENTORY_CONFIRMED": 3,
            "COMPENSATING": 4, "FAILED": 5, "CANCELLED": 5}
    product = system.make_product(stock=5, price="2")
    customer = system.make_customer(balance="50.00")
    order = system.create_order(customer, [{"product_id": product, "quantity": 1, "unit_price": 2}])
    system.wait_status(order["id"], "INVENTORY_CONFIRMED")
    assert system.cancel(order["id"]).status_code == 202
    system.wait_status(order["id"], "CANCELLED")
    steps = body_of(system.api.get(f"/orders/{order['id']}/saga"))["steps"]
    states = [s.get("to_state") for s in steps if s.get("to_state")]
    assert states, steps
    assert [rank[s] for s in states] == sorted(rank[s] for s in states), states
