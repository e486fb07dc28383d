"""Places where schemathesis (issue 11) found api-gateway/openapi.yaml and the
server disagreeing, each now answered as the document says."""
import json

from conftest import assert_error, unique


def test_an_empty_idempotency_key_is_400_not_dropped_by_the_gateway(system):
    customer = system.make_customer(balance="10.00")
    r = system.api.post("/orders", {"customer_id": customer, "items": [{"product_id": "product-1", "quantity": 1}]},
                        headers={"Idempotency-Key": ""})
    assert_error(r, 400, "Idempotency-Key")


def test_include_saga_history_takes_true_or_false_only(system):
    customer = system.make_customer(balance="100.00")
    order = system.create_order(customer, [{"product_id": "product-1", "quantity": 1}],
                                headers={"Idempotency-Key": unique("doc")})
    for bad in ("null", "", "1", "yes"):
        assert_error(system.api.get(f"/orders/{order['id']}?include_saga_history={bad}"), 400, "include_saga_history")
    assert "saga_history" in system.order(order["id"], "?include_saga_history=true")
    assert "saga_history" not in system.order(order["id"], "?include_saga_history=false")


def test_an_opening_balance_is_bounded_as_documented(system):
    ok = system.api.post("/accounts", raw=json.dumps({"customer_id": unique("doc-rich"), "balance": 1000001}))
    assert ok.status_code == 201, ok.text  # the document's bound is 1,000,000,000.00
    too_much = system.api.post("/accounts", raw=json.dumps({"customer_id": unique("doc-richer"),
                                                             "balance": 1000000000.01}))
    assert_error(too_much, 400, "balance")


def test_an_empty_state_filter_of_sagas_is_no_filter(system):
    r = system.api.get("/sagas?state=&limit=1")
    assert r.status_code == 200, r.text
