"""The audit trail (issue 12 item 7): every write a person asks for appends
exactly one row in its own transaction -- actor, role, action, target, reason,
state before and after, request id, time -- and a refused write none.
GET /audit merges the three services' rows by time, with filters and a cursor
(docs/architecture.md, "Audit trail")."""

from conftest import assert_error, body_of, money, unique


def audit(system, query):
    r = system.api.get(f"/audit?{query}")
    assert r.status_code == 200, r.text
    return body_of(r)


def rows_of(system, target):
    return audit(system, f"target={target}")["entries"]


def test_each_product_write_has_one_row_and_a_refused_one_none(system):
    product = system.make_product(stock=4, price="2.50")
    target = f"product:{product}"
    assert system.api.post(f"/products/{product}/stock", {"quantity": 3}).status_code == 200
    assert system.api.request("PUT", f"/products/{product}/price", {"price": 3.75}).status_code == 200
    # refused: a duplicate, a bad quantity, an unknown product, a bad price
    assert_error(system.api.post("/products", {"product_id": product, "name": "x", "stock": 1, "price": 1}), 409)
    assert_error(system.api.post(f"/products/{product}/stock", {"quantity": 0}), 400, field="quantity")
    assert_error(system.api.post(f"/products/{unique('ghost')}/stock", {"quantity": 1}), 404)
    assert_error(system.api.request("PUT", f"/products/{product}/price", {"price": -1}), 400, field="price")
    rows = rows_of(system, target)
    assert [r["action"] for r in rows] == ["product.create", "product.restock", "product.set_price"]
    create, restock, price = rows
    assert create["before"] is None and create["after"]["stock"] == 4
    assert restock["before"]["stock"] == 4 and restock["after"]["stock"] == 7
    assert money(price["before"]["price"]) == money("2.50") and money(price["after"]["price"]) == money("3.75")
    assert '"price":2.50' in system.api.get(f"/audit?target={target}").text  # money as exact decimals
    for r in rows:
        assert r["service"] == "inventory-service"
        assert r["target"] == target
        assert r["role"] == "admin" and r["actor"]
        assert r["request_id"] and r["at"].endswith("Z")
    # the request id is the one the gateway gave the client
    r = system.api.post(f"/products/{product}/stock", {"quantity": 1})
    assert r.status_code == 200
    last = rows_of(system, target)[-1]
    assert last["request_id"] == r.headers["X-Request-Id"]


def test_an_account_and_a_cancel_have_one_row_each(system):
    product = system.make_product(stock=5, price="1.00")
    customer = system.make_customer(balance="10.00")
    assert_error(system.api.post("/accounts", {"customer_id": customer, "balance": 1}), 409)
    [opened] = rows_of(system, f"account:{customer}")
    assert opened["service"] == "payment-service" and opened["action"] == "account.open"
    assert money(opened["after"]["balance"]) == money("10.00")
    order = system.create_order(customer, [{"product_id": product, "quantity": 1}])
    system.wait_status(order["id"], "INVENTORY_CONFIRMED")
    assert system.cancel(order["id"], reason="audit me").status_code == 202
    system.wait_status(order["id"], "CANCELLED")
    assert system.cancel(order["id"]).status_code == 409  # ended: refused, no row
    [cancel] = rows_of(system, f"order:{order['id']}")
    assert cancel["service"] == "order-service" and cancel["action"] == "order.cancel"
    assert cancel["reason"] == "audit me"
    assert cancel["before"] == {"status": "INVENTORY_CONFIRMED"}
    assert cancel["after"] == {"status": "COMPENSATING"}
    saga_id = cancel["saga_id"]
    assert saga_id
    assert [r["target"] for r in audit(system, f"saga_id={saga_id}")["entries"]] == [f"order:{order['id']}"]


def test_pages_merge_the_services_in_time_order(system):
    """Rows of two services, one page at a time with the cursor: every row
    once, in time order, whatever page it falls on."""
    before = audit(system, "limit=1")  # any row: the trail is not empty after the tests above
    assert "next_cursor" in before
    product = system.make_product(stock=1, price="1.00")
    customer = system.make_customer(balance="1.00")
    system.api.post(f"/products/{product}/stock", {"quantity": 1})
    since = rows_of(system, f"product:{product}")[0]["at"]
    seen, cursor = [], None
    for _ in range(50):
        page = audit(system, f"since={since}&limit=1" + (f"&cursor={cursor}" if cursor else ""))
        seen += page["entries"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    mine = [(r["target"], r["action"]) for r in seen if r["target"] in (f"product:{product}", f"account:{customer}")]
    assert mine == [(f"product:{product}", "product.create"), (f"account:{customer}", "account.open"),
                    (f"product:{product}", "product.restock")]
    times = [r["at_us"] for r in seen]
    assert times == sorted(times)
    assert len({(r["service"], r["id"]) for r in seen}) == len(seen)


def test_bad_filters_are_400(system):
    assert_error(system.api.get("/audit?saga_id=nope"), 400, field="saga_id")
    assert_error(system.api.get("/audit?limit=0"), 400, field="limit")
    assert_error(system.api.get("/audit?cursor=garbage"), 400, field="cursor")
    assert_error(system.api.get("/audit?since=not-a-time"), 400, field="since")
