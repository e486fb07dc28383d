"""Every bad input of SPEC 2 is answered with its 4xx and the SPEC error body
(never a 500), through the gateway."""

import base64
import socket
import uuid
from decimal import Decimal
from urllib.parse import urlsplit

import pytest

from conftest import API_KEY, BASE_URL, assert_error, body_of

GOOD_ITEM = {"product_id": "product-1", "quantity": 1, "unit_price": 1}


def order_body(**changes):
    body = {"customer_id": "customer-bb", "items": [dict(GOOD_ITEM)]}
    body.update(changes)
    return body


def item(**changes):
    return dict(GOOD_ITEM, **changes)


def test_bad_json_is_400(system):
    assert_error(system.api.post("/orders", raw="{not json"), 400)
    assert_error(system.api.post("/orders", raw=""), 400)
    assert_error(system.api.post("/orders", raw="[1, 2]"), 400)


@pytest.mark.parametrize("missing", ["customer_id", "items"])
def test_missing_order_field_is_400(system, missing):
    body = order_body()
    del body[missing]
    assert_error(system.api.post("/orders", body), 400, field=missing)


@pytest.mark.parametrize("missing", ["product_id", "quantity"])
def test_missing_item_field_is_400(system, missing):
    bad = item()
    del bad[missing]
    assert_error(system.api.post("/orders", order_body(items=[bad])), 400, field=missing)


@pytest.mark.parametrize("quantity", [0, -1, 1.5, "2", 1_000_001, None])
def test_bad_quantity_is_400(system, quantity):
    assert_error(system.api.post("/orders", order_body(items=[item(quantity=quantity)])), 400, field="quantity")


# 10.0000000000000001 and 10.0099999999999999999 read as doubles are 10.00 and
# 10.01: the amount is judged on the number's text (review L1).
@pytest.mark.parametrize("price", ["10.999", "-1", "1000000.01", "\"10\"", "10.0000000000000001",
                                   "10.0099999999999999999", "1e400", "123456789012345678901234567890"])
def test_bad_unit_price_is_400(system, price):
    raw = ('{"customer_id": "customer-bb", "items": [{"product_id": "product-1", "quantity": 1, '
           f'"unit_price": {price}}}]}}')
    assert_error(system.api.post("/orders", raw=raw), 400, field="unit_price")


def post_raw_order(system, price, order_extra="", item_extra="", catalog_price=None):
    """POST /orders for a fresh product (at catalog_price, default the unit
    price as written) and funded customer, with the unit price and extra
    members written as raw JSON text."""
    product = system.make_product(stock=5, price=catalog_price or price)
    customer = system.make_customer(balance="100.00")
    raw = (f'{{"customer_id": "{customer}", {order_extra}"items": [{{"product_id": "{product}", "quantity": 1, '
           f'{item_extra}"unit_price": {price}}}]}}')
    return system.api.post("/orders", raw=raw)


# Zeros past the second decimal are exact: 10.500 is 10.50 (docs/architecture.md).
@pytest.mark.parametrize("price, total", [("10.500", "10.50"), ("1.05e1", "10.50"), ("1025e-2", "10.25")])
def test_exact_unit_prices_written_otherwise_are_accepted(system, price, total):
    response = post_raw_order(system, price, catalog_price=total)
    assert response.status_code == 201, response.text
    assert body_of(response)["total_amount"] == Decimal(total)


# The document allows extra properties: whatever they hold, they do not make
# a valid body invalid (issue 11: a huge integer, a NUL in a key).
def test_extra_properties_with_huge_numbers_or_nul_keys_are_ignored(system):
    response = post_raw_order(system, "1.25", order_extra='"note": 123456789012345678901234567890, '
                              '"x\\u0000y": 1e999, ', item_extra='"z": 1e-999, ')
    assert response.status_code == 201, response.text


# PostgreSQL refuses the timestamp of this cursor (22008): the client gets a
# 400 with a fixed sentence, not PostgreSQL's words (review L11).
def test_a_database_refusal_is_400_with_a_fixed_message(system):
    plain = f"900000000000000000:{uuid.uuid4()}".encode()
    cursor = base64.urlsafe_b64encode(plain).decode().rstrip("=")
    error = assert_error(system.api.get(f"/orders?cursor={cursor}"), 400)
    assert error["message"] == "a value is outside what the database accepts", error


def test_no_items_is_400(system):
    assert_error(system.api.post("/orders", order_body(items=[])), 400, field="items")


def test_more_than_100_items_is_400(system):
    items = [item(product_id=f"product-{i}") for i in range(101)]
    assert_error(system.api.post("/orders", order_body(items=items)), 400, field="items")


@pytest.mark.parametrize("customer_id", ["", "c" * 65, 42])
def test_bad_customer_id_is_400(system, customer_id):
    assert_error(system.api.post("/orders", order_body(customer_id=customer_id)), 400, field="customer_id")


@pytest.mark.parametrize("product_id", ["", "p" * 65])
def test_bad_product_id_is_400(system, product_id):
    assert_error(system.api.post("/orders", order_body(items=[item(product_id=product_id)])), 400,
                 field="product_id")


def test_ids_of_64_characters_are_accepted(system):
    product = system.make_product(stock=5, price="1")
    customer = "c" * 52 + uuid.uuid4().hex[:12]
    assert len(customer) == 64
    r = system.api.post("/orders", order_body(customer_id=customer, items=[item(product_id=product)]))
    assert r.status_code == 201, r.text


def _raw_post(path, body, content_type="application/json"):
    """POSTs with a plain socket, so a server that answers before reading the
    whole body (413) is seen as it answers."""
    url = urlsplit(BASE_URL)
    key = f"X-API-Key: {API_KEY}\r\n" if API_KEY else ""
    head = (f"POST {path} HTTP/1.1\r\nHost: {url.hostname}\r\nContent-Type: {content_type}\r\n{key}"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection((url.hostname, url.port), timeout=15) as s:
        try:
            s.sendall(head + body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        chunks = []
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except ConnectionResetError:
            pass
    response = b"".join(chunks).decode("utf-8", "replace")
    return int(response.split(" ", 2)[1]), response


def test_body_over_64_kib_is_413(system):
    filler = 64 * 1024 + 1 - len('{"customer_id": "", "items": []}')
    body = ('{"customer_id": "' + "x" * filler + '", "items": []}').encode()
    assert len(body) == 64 * 1024 + 1
    status, response = _raw_post("/orders", body)
    assert status == 413, response
    assert '"error"' in response


def test_body_of_exactly_64_kib_is_not_413(system):
    filler = 64 * 1024 - len('{"customer_id": "", "items": []}')
    body = ('{"customer_id": "' + "x" * filler + '", "items": []}').encode()
    status, response = _raw_post("/orders", body)
    assert status == 400, response


def test_wrong_content_type_is_415(system):
    r = system.api.post("/orders", order_body(), headers={"Content-Type": "text/plain"})
    assert_error(r, 415)


def test_unknown_path_is_404(system):
    assert_error(system.api.get("/no-such-thing"), 404)


def test_wrong_method_is_405(system):
    assert_error(system.api.request("DELETE", "/orders"), 405)
    assert_error(system.api.request("PUT", f"/orders/{uuid.uuid4()}"), 405)


def test_unknown_order_is_404(system):
    assert_error(system.api.get(f"/orders/{uuid.uuid4()}"), 404)
    assert_error(system.api.post(f"/orders/{uuid.uuid4()}/cancel", {"reason": "x"}), 404)


def test_malformed_order_id_is_4xx(system):
    r = system.api.get("/orders/not-a-uuid")
    assert r.status_code in (400, 404), r.text
    assert_error(r, r.status_code)


@pytest.mark.parametrize("limit", ["0", "501", "abc", "-1"])
def test_bad_limit_is_400(system, limit):
    assert_error(system.api.get(f"/orders?limit={limit}"), 400, field="limit")


def test_bad_product_and_account_bodies_are_400(system):
    assert_error(system.api.post("/products", {"product_id": "bb-neg", "name": "n", "stock": -1}), 400,
                 field="stock")
    assert_error(system.api.post("/products", {"name": "n", "stock": 1}), 400, field="product_id")
    assert_error(system.api.post("/accounts", raw='{"customer_id": "bb-acc", "balance": 1.234}'), 400,
                 field="balance")
    assert_error(system.api.post("/accounts", {"customer_id": "bb-acc", "balance": -5}), 400, field="balance")


def test_existing_product_and_account_are_409(system):
    product = system.make_product(stock=1, price="1")
    assert_error(system.api.post("/products", {"product_id": product, "name": "again", "stock": 1, "price": 1}), 409)
    customer = system.make_customer(balance="1.00")
    assert_error(system.api.post("/accounts", {"customer_id": customer, "balance": 1}), 409)
