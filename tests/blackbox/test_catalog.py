"""Catalog prices (SPEC 2 and 7; security review C2): products carry a price
that only inventory (an admin) sets, and an order takes it -- a unit_price left
out is the catalog's, a different one is 409 price_changed with the current
price, a product the catalog does not know is 409 unknown_product. The order
never waits for inventory-service: order-service keeps a copy of the prices
(docs/architecture.md, "Catalog prices")."""

import time
import uuid

from conftest import assert_error, body_of, money, unique


def order_of(system, customer, product, **item):
    line = {"product_id": product, "quantity": 1, **item}
    return system.api.post("/orders", {"customer_id": customer, "items": [line]})


def test_a_product_carries_its_price(system):
    product = system.make_product(stock=3, price="12.30")
    assert money(body_of(system.api.get(f"/products/{product}"))["price"]) == money("12.30")
    listed = body_of(system.api.get("/products"))["products"]
    assert money(next(p for p in listed if p["product_id"] == product)["price"]) == money("12.30")


def test_the_demo_products_have_their_demo_prices(system):
    """SPEC 2: product-1 at 10.50, product-2 at 5.25 in a local run."""
    assert money(body_of(system.api.get("/products/product-1"))["price"]) == money("10.50")
    assert money(body_of(system.api.get("/products/product-2"))["price"]) == money("5.25")


def test_a_product_needs_a_price_within_bounds(system):
    for body, field in [({"product_id": unique("p"), "name": "x", "stock": 1}, "price"),
                        ({"product_id": unique("p"), "name": "x", "stock": 1, "price": -1}, "price"),
                        ({"product_id": unique("p"), "name": "x", "stock": 1, "price": 1000000.01}, "price")]:
        assert_error(system.api.post("/products", body), 400, field=field)
    assert_error(system.api.post("/products", raw='{"product_id": "p-x", "name": "x", "stock": 1, "price": 1.001}'),
                 400, field="price")


def test_a_unit_price_left_out_is_the_catalogs(system):
    product = system.make_product(stock=5, price="7.25")
    customer = system.make_customer(balance="100.00")
    r = system.api.post("/orders", {"customer_id": customer,
                                    "items": [{"product_id": product, "quantity": 2}]})
    assert r.status_code == 201, r.text
    order = body_of(r)
    assert money(order["items"][0]["unit_price"]) == money("7.25")
    assert money(order["total_amount"]) == money("14.50")
    system.wait_status(order["id"], "INVENTORY_CONFIRMED")
    assert system.balance(customer) == money("85.50")


def test_a_price_of_the_clients_own_is_refused_and_takes_nothing(system):
    """C2: unit_price 0 for a product of 10.00, the whole stock: 409 with
    the current price; no order, no reservation, no money moves."""
    product = system.make_product(stock=1005, price="10.00")
    customer = system.make_customer(balance="50.00")
    r = order_of(system, customer, product, quantity=1005, unit_price=0)
    error = assert_error(r, 409, field="items[0].unit_price")
    assert error["code"] == "price_changed"
    assert "10.00" in error["message"]
    assert system.stock(product) == 1005
    assert system.balance(customer) == money("50.00")
    listed = body_of(system.api.get(f"/orders?customer_id={customer}"))["orders"]
    assert listed == []


def test_a_new_price_applies_to_the_next_order(system):
    product = system.make_product(stock=5, price="4.00")
    r = system.api.request("PUT", f"/products/{product}/price", {"price": 4.40})
    assert r.status_code == 200, r.text
    assert money(body_of(r)["price"]) == money("4.40")
    customer = system.make_customer(balance="100.00")
    deadline = time.monotonic() + 10
    while True:  # until order-service's copy has the new price
        r = order_of(system, customer, product, unit_price=4.40)
        if r.status_code != 409 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert r.status_code == 201, r.text
    stale = order_of(system, customer, product, unit_price=4.00)
    error = assert_error(stale, 409, field="items[0].unit_price")
    assert error["code"] == "price_changed" and "4.40" in error["message"]
    assert_error(system.api.request("PUT", "/products/no-such-product/price", {"price": 1}), 404)
    assert_error(system.api.request("PUT", f"/products/{product}/price", {"price": "4.40"}), 400, field="price")


def test_a_product_unknown_to_the_catalog_is_409(system):
    error = assert_error(order_of(system, "c-" + uuid.uuid4().hex[:8], "no-such-" + uuid.uuid4().hex[:8]), 409,
                         field="items[0].product_id")
    assert error["code"] == "unknown_product"


def test_a_product_created_a_moment_ago_is_orderable_within_5_seconds(system):
    """The bound docs/architecture.md states: the price reaches order-service
    through inventory's outbox and the bus, normally in well under a second."""
    product = unique("bb-fresh")
    customer = system.make_customer(balance="100.00")
    r = system.api.post("/products", {"product_id": product, "name": "fresh", "stock": 1, "price": 2})
    assert r.status_code == 201, r.text
    created = time.monotonic()
    while True:
        r = order_of(system, customer, product, unit_price=2)
        if r.status_code != 409:
            break
        assert body_of(r)["error"]["code"] == "unknown_product", r.text
        assert time.monotonic() - created < 5, "the product is not orderable 5 s after its creation"
        time.sleep(0.05)
    assert r.status_code == 201, r.text
