"""200 concurrent orders for 50 units in stock (SPEC invariants 6.1, 6.2, 6.3)."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import FINAL_STATUSES, Api, BASE_URL, body_of, money

ORDERS = 200
STOCK = 50
CUSTOMERS = 20
OPENING = money("1000.00")


@pytest.mark.slow
def test_no_oversell_under_concurrent_orders(system):
    product = system.make_product(stock=STOCK, price="1.25")
    customers = [system.make_customer(balance=str(OPENING)) for _ in range(CUSTOMERS)]

    def place(i):
        api = Api(BASE_URL)  # a session per thread
        r = api.post("/orders", {"customer_id": customers[i % CUSTOMERS],
                                 "items": [{"product_id": product, "quantity": 1, "unit_price": 1.25}]})
        assert r.status_code == 201, r.text
        return body_of(r)["id"]

    with ThreadPoolExecutor(max_workers=32) as pool:
        order_ids = list(pool.map(place, range(ORDERS)))
    assert len(set(order_ids)) == ORDERS

    final = {order_id: system.wait_status(order_id, FINAL_STATUSES, timeout=180) for order_id in order_ids}
    confirmed = [o for o in final.values() if o["status"] == "INVENTORY_CONFIRMED"]
    others = [o for o in final.values() if o["status"] != "INVENTORY_CONFIRMED"]
    assert all(o["status"] == "FAILED" for o in others), {o["status"] for o in others}

    # 6.1: never oversold, and every unit that could be sold was sold.
    assert system.stock(product) == STOCK - len(confirmed)
    assert len(confirmed) == STOCK

    # 6.2: opening - captured + refunded = balance, per customer.
    for customer in customers:
        mine = [o for o in final.values() if o["customer_id"] == customer]
        paid = sum((money(o["total_amount"]) for o in mine if o["status"] == "INVENTORY_CONFIRMED"), money(0))
        assert system.balance(customer) == OPENING - paid, customer

    # 6.3: a confirmed order holds one captured payment of its total; a failed one none.
    for order_id, order in final.items():
        payment = system.payment(order_id)
        if order["status"] == "INVENTORY_CONFIRMED":
            assert payment["status"] == "CAPTURED"
            assert money(payment["amount"]) == money(order["total_amount"])
        else:
            assert payment is None or payment["status"] in ("REFUNDED", "DECLINED"), payment
