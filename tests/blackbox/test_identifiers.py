"""Review L2: ids clients choose (customer, product, Idempotency-Key) are
letters, digits, '.', '_', ':' and '-', and not "." or "..": anything else is
400 with the error body naming the field, through the gateway."""
import json

import pytest

from conftest import assert_error, unique

BAD_IDS = ["a/b", "..", ".", "a b", "a?b", "a#b", "caf\u00e9", "a\u202eb", "a\tb", "x" * 65]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_a_product_id_outside_the_charset_is_400(system, bad):
    r = system.api.post("/products", raw=json.dumps({"product_id": bad, "name": "n", "stock": 1, "price": 1}))
    assert_error(r, 400, "product_id")


@pytest.mark.parametrize("bad", BAD_IDS)
def test_a_customer_id_outside_the_charset_is_400(system, bad):
    r = system.api.post("/accounts", raw=json.dumps({"customer_id": bad, "balance": 1}))
    assert_error(r, 400, "customer_id")
    product = "product-1"
    r = system.api.post("/orders", {"customer_id": bad, "items": [{"product_id": product, "quantity": 1}]},
                        headers={"Idempotency-Key": unique("l2")})
    assert_error(r, 400, "customer_id")


@pytest.mark.parametrize("bad", ["a/b", "a b", "..", "a?b", "x" * 129])
def test_an_idempotency_key_outside_the_charset_is_400(system, bad):
    customer = system.make_customer(balance="10.00")
    r = system.api.request("POST", "/orders", raw=json.dumps(
        {"customer_id": customer, "items": [{"product_id": "product-1", "quantity": 1}]}),
        headers={"Idempotency-Key": bad})
    assert_error(r, 400, "Idempotency-Key")


def test_plain_ids_with_dots_colons_and_underscores_are_accepted(system):
    product = unique("l2.ok_x:1")
    r = system.api.post("/products", raw=json.dumps({"product_id": product, "name": "n", "stock": 1, "price": 1}))
    assert r.status_code == 201, r.text
    assert system.stock(product) == 1
