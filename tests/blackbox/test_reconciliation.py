"""Reconciliation (issue 12 item 6; SPEC section 6 across the three
databases): POST /reconciliation/run checks every product (invariant 1),
every customer (invariant 2) and every settled order (invariant 3), and
GET /reconciliation gives the last run. A deliberate corruption, made as the
PostgreSQL superuser behind the services' backs, is reported with the right
ids within one run; repaired, it is gone at the next."""

from conftest import body_of


def run(system):
    r = system.api.post("/reconciliation/run", {})
    assert r.status_code == 200, r.text
    doc = body_of(r)
    assert doc["status"] in ("consistent", "violations"), doc
    return doc


def about(doc, invariant, subject):
    return [v for v in doc["violations"] if v["invariant"] == invariant and v["subject"] == subject]


def settled_order(system):
    product = system.make_product(stock=10, price="4.00")
    customer = system.make_customer(balance="100.00")
    order = system.create_order(customer, [{"product_id": product, "quantity": 2}])
    system.wait_status(order["id"], "INVENTORY_CONFIRMED")
    return product, customer, order["id"]


def test_a_corrupted_balance_and_stock_row_are_reported_with_their_ids(system):
    product, customer, order_id = settled_order(system)
    clean = run(system)
    assert not about(clean, "balance", customer) and not about(clean, "stock", product)
    assert not about(clean, "order", order_id)
    assert clean["checked"]["orders"] >= 1
    system.psql("payments", f"UPDATE accounts SET balance_cents = balance_cents + 700 WHERE customer_id = '{customer}'")
    system.psql("inventory", f"UPDATE products SET stock = stock - 3 WHERE product_id = '{product}'")
    try:
        found = run(system)
        [balance] = about(found, "balance", customer)
        assert order_id in balance["order_ids"]
        assert balance["facts"]["balance"] == 9900 and balance["facts"]["expected_balance"] == 9200
        [stock] = about(found, "stock", product)
        assert order_id in stock["order_ids"]
        assert stock["facts"]["stock"] == 5 and stock["facts"]["expected_stock"] == 8
        assert found["status"] == "violations"
        last = body_of(system.api.get("/reconciliation"))
        assert last["run"] == found["run"] and about(last, "balance", customer)
        metrics = system.api.get("/metrics").text
        assert 'oms_invariant_violations{invariant="balance"}' in metrics
        assert 'oms_invariant_violations{invariant="balance"} 0' not in metrics
    finally:
        system.psql("payments", f"UPDATE accounts SET balance_cents = balance_cents - 700 WHERE customer_id = '{customer}'")
        system.psql("inventory", f"UPDATE products SET stock = stock + 3 WHERE product_id = '{product}'")
    repaired = run(system)
    assert not about(repaired, "balance", customer) and not about(repaired, "stock", product)


def test_a_settled_order_that_holds_nothing_is_reported_with_its_id(system):
    product, customer, order_id = settled_order(system)
    system.psql("inventory", f"UPDATE reservations SET state = 'RELEASED' WHERE order_id = '{order_id}'")
    try:
        found = run(system)
        [order] = about(found, "order", order_id)
        assert order["order_ids"] == [order_id]
        assert "RESERVED" in order["detail"]
        assert order["facts"]["reservation"]["state"] == "RELEASED"
        assert about(found, "stock", product)  # its stock no longer adds up either
    finally:
        system.psql("inventory", f"UPDATE reservations SET state = 'RESERVED' WHERE order_id = '{order_id}'")
    assert not about(run(system), "order", order_id)
