"""Ownership where the data lives (SPEC 7; security review C1, C2, H3): what a
customer reaches of another customer's order, saga, payment, account and
lists, through every route -- first through a gateway with API keys, then
straight at the services with the internal credential and a customer's
identity headers, which shows that each service decides by itself and does
not lean on the gateway's route table. Also: no free money (only an admin
opens an account, directly or not), and a customer's POST /orders needs an
Idempotency-Key, which is its own."""

import json
import threading
import time
import uuid

import pytest
import requests

from conftest import ALICE, API_KEYS, BOB, HTTP_TIMEOUT_S, INTERNAL_KEY, KEYS, SERVICE_URLS

FINAL = {"INVENTORY_CONFIRMED", "FAILED", "CANCELLED"}
ITEM = {"product_id": "product-1", "quantity": 1, "unit_price": 10.50}


@pytest.fixture(scope="module")
def gateway(start_module_gateway):
    return start_module_gateway(API_KEYS=API_KEYS)


def as_key(gateway, who, method, path, body=None, headers=None):
    return gateway.request(method, path, body, key=KEYS[who], headers=headers)


def new_key():
    return {"Idempotency-Key": uuid.uuid4().hex}


def wait_final(gateway, who, order_id):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        order = as_key(gateway, who, "GET", f"/orders/{order_id}").json()
        if order["status"] in FINAL:
            return order
        time.sleep(0.2)
    raise AssertionError(f"order {order_id} did not end: {order}")


@pytest.fixture(scope="module")
def alices_order(gateway):
    """Alice's account (opened by the admin) and an order of hers, ended."""
    for customer in (ALICE, BOB):
        r = as_key(gateway, "admin", "POST", "/accounts", {"customer_id": customer, "balance": 100})
        assert r.status_code in (201, 409), r.text
    r = as_key(gateway, "alice", "POST", "/orders", {"items": [ITEM]}, headers=new_key())
    assert r.status_code == 201, r.text
    assert r.json()["customer_id"] == ALICE
    return wait_final(gateway, "alice", r.json()["id"])


def test_bob_reaches_nothing_of_alices_order_through_any_route(gateway, alices_order):
    order_id = alices_order["id"]
    for method, path in [("GET", f"/orders/{order_id}"), ("GET", f"/orders/{order_id}?include_saga_history=true"),
                         ("GET", f"/orders/{order_id}?wait=final&timeout_s=1"),
                         ("GET", f"/orders/{order_id}/events?timeout_s=1"), ("GET", f"/orders/{order_id}/timeline"),
                         ("GET", f"/orders/{order_id}/saga"), ("POST", f"/orders/{order_id}/cancel"),
                         ("GET", f"/payments?order_id={order_id}"), ("GET", f"/accounts/{ALICE}"),
                         ("GET", f"/customers/{ALICE}/orders")]:
        r = as_key(gateway, "bob", method, path, {"reason": "mine now"} if method == "POST" else None)
        assert r.status_code == 404, (method, path, r.status_code, r.text)
    for query in ("", f"?customer_id={ALICE}", "?limit=500"):
        listed = as_key(gateway, "bob", "GET", f"/orders{query}")
        assert listed.status_code == 200, listed.text
        assert all(o["customer_id"] == BOB for o in listed.json()["orders"]), listed.text
    # alice's own view is untouched, and she sees her own things
    assert as_key(gateway, "alice", "GET", f"/orders/{order_id}").json()["status"] == alices_order["status"]
    assert as_key(gateway, "alice", "GET", f"/payments?order_id={order_id}").status_code == 200
    assert as_key(gateway, "alice", "GET", f"/orders/{order_id}/saga").status_code == 200
    waited = as_key(gateway, "alice", "GET", f"/orders/{order_id}?wait=final&timeout_s=1")
    assert waited.status_code == 200 and waited.json()["status"] == alices_order["status"], waited.text
    timeline = as_key(gateway, "alice", "GET", f"/orders/{order_id}/timeline")
    assert timeline.status_code == 200 and timeline.json()["order_id"] == order_id, timeline.text
    events = as_key(gateway, "alice", "GET", f"/orders/{order_id}/events?timeout_s=1")
    assert events.status_code == 200 and "event: status" in events.text, events.text


def test_the_gateway_bounds_the_requests_that_wait(start_gateway, alices_order):
    """A long poll or an event stream holds a gateway handler thread: with
    HTTP_THREADS=2 one may wait at once, the next is 503 with Retry-After,
    and a request that does not wait is still served."""
    small = start_gateway(API_KEYS=API_KEYS, HTTP_THREADS="2")
    order_id = alices_order["id"]
    # alice has every event: the stream waits for the next one, to its timeout
    waiting = {"Last-Event-ID": "1000000"}
    answer = {}
    first = threading.Thread(target=lambda: answer.update(r=as_key(
        small, "alice", "GET", f"/orders/{order_id}/events?timeout_s=3", headers=waiting)))
    first.start()
    time.sleep(1)
    refused = [as_key(small, "alice", "GET", f"/orders/{order_id}/events?timeout_s=3", headers=waiting),
               # a settled order's long poll would answer at once, but it takes a place too
               as_key(small, "alice", "GET", f"/orders/{order_id}?wait=final&timeout_s=3")]
    served = as_key(small, "alice", "GET", f"/orders/{order_id}")
    first.join(20)
    for r in refused:
        assert r.status_code == 503 and r.json()["error"]["code"] == "too_many_waiting", r.text
        assert r.headers.get("Retry-After") == "1"
    assert served.status_code == 200, served.text
    assert answer["r"].status_code == 200 and answer["r"].text.startswith("retry:"), answer["r"].text
    again = as_key(small, "alice", "GET", f"/orders/{order_id}/events?timeout_s=1", headers=waiting)
    assert again.status_code == 200, again.text


def test_a_customer_cannot_mint_money(gateway):
    """C2: an opening balance is an admin's to give, at the gateway and at the
    payment service itself."""
    customer = "mint-" + uuid.uuid4().hex[:8]
    r = as_key(gateway, "alice", "POST", "/accounts", {"customer_id": customer, "balance": 1000000})
    assert r.status_code == 403, r.text
    direct = service_call("payment", "POST", "/accounts", customer_headers(ALICE),
                          {"customer_id": ALICE, "balance": 1000000})
    assert direct.status_code == 403, direct.text
    assert as_key(gateway, "admin", "GET", f"/accounts/{customer}").status_code == 404


def test_a_customers_order_needs_an_idempotency_key(gateway):
    r = as_key(gateway, "alice", "POST", "/orders", {"items": [ITEM]})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "idempotency_key_required"
    assert r.json()["error"]["field"] == "Idempotency-Key"


def test_an_idempotency_key_is_its_principals_own(gateway):
    """SPEC 7 (review M1, M2): bob's request under alice's key is bob's own
    new order, never alice's; alice's retry is her first order whether she
    names herself or not (the canonical body); another body under her key is
    422 idempotency_key_reused."""
    key = new_key()
    first = as_key(gateway, "alice", "POST", "/orders", {"items": [ITEM]}, headers=key)
    assert first.status_code == 201, first.text
    retry = as_key(gateway, "alice", "POST", "/orders", {"customer_id": ALICE, "items": [ITEM]}, headers=key)
    assert retry.status_code == 200, retry.text
    assert retry.json()["id"] == first.json()["id"]
    bobs = as_key(gateway, "bob", "POST", "/orders", {"items": [ITEM]}, headers=key)
    assert bobs.status_code == 201, bobs.text
    assert bobs.json()["id"] != first.json()["id"]
    assert bobs.json()["customer_id"] == BOB
    other = as_key(gateway, "alice", "POST", "/orders", {"items": [dict(ITEM, quantity=2)]}, headers=key)
    assert other.status_code == 422, other.text
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert other.json()["error"]["field"] == "Idempotency-Key"
    for who in ("alice", "bob"):
        wait_final(gateway, who, (first if who == "alice" else bobs).json()["id"])


def test_a_customer_may_cancel_its_own_completed_order(gateway):
    """SPEC 3 keeps a cancel possible in any non-final status, so a customer
    cancels its INVENTORY_CONFIRMED order too and gets its money back."""
    r = as_key(gateway, "alice", "POST", "/orders", {"items": [ITEM]}, headers=new_key())
    assert r.status_code == 201, r.text
    order = wait_final(gateway, "alice", r.json()["id"])
    if order["status"] != "INVENTORY_CONFIRMED":
        pytest.skip(f"the order ended {order['status']}: {order.get('failure_reason')}")
    before = as_key(gateway, "alice", "GET", f"/accounts/{ALICE}").json()["balance"]
    r = as_key(gateway, "alice", "POST", f"/orders/{order['id']}/cancel", {"reason": "changed my mind"})
    assert r.status_code == 202, r.text
    assert wait_final(gateway, "alice", order["id"])["status"] == "CANCELLED"
    after = as_key(gateway, "alice", "GET", f"/accounts/{ALICE}").json()["balance"]
    assert float(after) == pytest.approx(float(before) + 10.50)


# ---- the services themselves, without the gateway's route table ----

def customer_headers(customer):
    return {"X-OMS-Internal-Key": INTERNAL_KEY, "X-OMS-Role": "customer", "X-OMS-Subject": customer,
            "X-OMS-Principal": "key:" + uuid.uuid4().hex[:16]}


def service_call(service, method, path, headers, body=None):
    url = SERVICE_URLS[f"{service.upper()}_SERVICE_URL"] + path
    data = None if body is None else json.dumps(body)
    return requests.request(method, url, data=data, timeout=HTTP_TIMEOUT_S,
                            headers={"Content-Type": "application/json", **headers})


def test_each_service_decides_ownership_itself(alices_order):
    """bob's identity, straight at the services (as a gateway with a wrong
    route table would send it): every route answers as SPEC 7 says."""
    order_id, bob = alices_order["id"], customer_headers(BOB)
    expected = [
        ("order", "GET", f"/orders/{order_id}", None, 404),
        ("order", "GET", f"/orders/{order_id}/saga", None, 404),
        ("order", "GET", f"/orders/{order_id}?wait=final&timeout_s=1", None, 404),
        ("order", "GET", f"/orders/{order_id}/events?timeout_s=1", None, 404),
        ("order", "GET", f"/orders/{order_id}/timeline", None, 404),
        ("order", "GET", f"/internal/inbox?event_ids={order_id}", None, 403),
        ("payment", "GET", f"/internal/inbox?event_ids={order_id}", None, 403),
        ("inventory", "GET", f"/internal/inbox?event_ids={order_id}", None, 403),
        ("order", "POST", f"/orders/{order_id}/cancel", {"reason": "x"}, 404),
        ("order", "GET", f"/customers/{ALICE}/orders", None, 404),
        ("order", "POST", "/orders", {"customer_id": ALICE, "items": [ITEM]}, 403),
        ("order", "GET", "/sagas", None, 403),
        ("payment", "GET", f"/payments?order_id={order_id}", None, 404),
        ("payment", "GET", f"/accounts/{ALICE}", None, 404),
        ("payment", "POST", "/accounts", {"customer_id": BOB, "balance": 5}, 403),
        ("inventory", "POST", "/products", {"product_id": "p-" + uuid.uuid4().hex[:8], "name": "x", "stock": 1,
                                            "price": 1}, 403),
        ("inventory", "POST", "/products/product-1/stock", {"quantity": 1}, 403),
        ("inventory", "GET", f"/reservations?order_id={order_id}", None, 403),
    ]
    for service, method, path, body, status in expected:
        headers = dict(bob, **new_key()) if path == "/orders" else bob
        r = service_call(service, method, path, headers, body)
        assert r.status_code == status, (service, method, path, r.status_code, r.text)
    listed = service_call("order", "GET", f"/orders?customer_id={ALICE}", bob)
    assert listed.status_code == 200, listed.text
    assert all(o["customer_id"] == BOB for o in listed.json()["orders"]), listed.text
    assert service_call("inventory", "GET", "/products/product-1", bob).status_code == 200
