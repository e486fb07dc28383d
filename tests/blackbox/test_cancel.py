"""Cancelling an order in each status (SPEC 2 cancel, SPEC 3, invariant 6.3).

A saga is held in a status deterministically by freezing (SIGSTOP) the service
that must answer next; it is thawed (SIGCONT) once the cancel is in."""

from conftest import assert_error, body_of, money, state_of


def _order_for_cancel(system):
    product = system.make_product(stock=10, price="12.34")
    customer = system.make_customer(balance="100.00")
    return product, customer, [{"product_id": product, "quantity": 3, "unit_price": 12.34}]


def _assert_cancelled_with_everything_back(system, order_id, product, customer):
    cancelled = system.wait_status(order_id, "CANCELLED")
    assert cancelled["cancellation_reason"] == "changed my mind"
    assert system.balance(customer) == money("100.00")
    assert system.stock(product) == 10
    payment = system.payment(order_id)
    assert payment is None or payment["status"] in ("REFUNDED", "DECLINED")
    assert state_of(system.reservation(order_id)) in (None, "RELEASED", "FAILED")


def _cancel_accepted(system, order_id):
    r = system.cancel(order_id)
    assert r.status_code == 202, r.text
    assert body_of(r)["status"] in ("COMPENSATING", "CANCELLED")


def test_cancel_while_pending_payment(system):
    """SPEC 3: cancel in PENDING_PAYMENT; a payment captured late is refunded."""
    product, customer, items = _order_for_cancel(system)
    with system.paused("payment"):
        order = system.create_order(customer, items)
        system.wait_status(order["id"], "PENDING_PAYMENT")
        _cancel_accepted(system, order["id"])
    _assert_cancelled_with_everything_back(system, order["id"], product, customer)


def test_cancel_while_payment_confirmed(system):
    """SPEC 3: cancel in PAYMENT_CONFIRMED: the payment is refunded."""
    product, customer, items = _order_for_cancel(system)
    with system.paused("inventory"):
        order = system.create_order(customer, items)
        system.wait_status(order["id"], "PAYMENT_CONFIRMED")
        _cancel_accepted(system, order["id"])
    _assert_cancelled_with_everything_back(system, order["id"], product, customer)


def test_cancel_when_inventory_confirmed(system):
    """SPEC 3: cancel of a successful order releases the stock, then refunds."""
    product, customer, items = _order_for_cancel(system)
    order = system.create_order(customer, items)
    system.wait_status(order["id"], "INVENTORY_CONFIRMED")
    assert system.balance(customer) == money("62.98")
    assert system.stock(product) == 7
    _cancel_accepted(system, order["id"])
    _assert_cancelled_with_everything_back(system, order["id"], product, customer)
    assert system.payment(order["id"])["status"] == "REFUNDED"
    assert state_of(system.reservation(order["id"])) == "RELEASED"


def test_cancel_of_an_ended_order_is_409(system):
    """SPEC 2: 409 when the order already ended in FAILED or CANCELLED."""
    product = system.make_product(stock=10, price="1")
    poor = system.make_customer(balance="0.00")
    failed = system.create_order(poor, [{"product_id": product, "quantity": 1, "unit_price": 1}])
    system.wait_status(failed["id"], "FAILED")
    assert_error(system.cancel(failed["id"]), 409)

    rich = system.make_customer(balance="10.00")
    order = system.create_order(rich, [{"product_id": product, "quantity": 1, "unit_price": 1}])
    system.wait_status(order["id"], "INVENTORY_CONFIRMED")
    _cancel_accepted(system, order["id"])
    system.wait_status(order["id"], "CANCELLED")
    assert_error(system.cancel(order["id"]), 409)
