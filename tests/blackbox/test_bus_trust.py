"""The bus is not a back door (security review H4; docs/architecture.md,
"Replies the saga trusts"), on whichever transport the run uses: a service
cannot publish another's replies (pg: oms_bus_publish refuses the topic;
Pulsar: the broker refuses the producer), and a reply that does get in is
applied only when it answers a command of its saga. A genuine answer that
contradicts one the saga acted on marks the saga inconsistent."""

import json
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest

from conftest import MESSAGE_BUS, OMS_RUN_DIR, PG_AUTH_DIR, body_of, money, psql_as, wait_for

PULSAR_URL = os.environ.get("PULSAR_URL", "pulsar://127.0.0.1:6650")
PULSAR_TOKENS = Path(os.environ.get("PULSAR_DIR", OMS_RUN_DIR / "pulsar")) / "auth" / "tokens"
# No saga ever sent this command.
FORGED_COMMAND = "00000000-0000-4000-8000-0000000000f0"


def envelope(event_type, order, payload):
    """A message as a participant sends it (SPEC 4)."""
    return json.dumps({
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "saga_id": order["saga_id"],
        "order_id": order["id"],
        "occurred_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "correlation_id": "",
        "payload": payload,
    })


def publish_as(role, topic, key, text):
    """Publishes one message with `role`'s own credentials on the run's bus;
    returns None when the bus took it, else the refusal."""
    if MESSAGE_BUS == "pulsar":
        return _publish_pulsar(role, topic, key, text)
    if not (PG_AUTH_DIR / f"{role}.pgpass").exists():
        pytest.skip(f"no {PG_AUTH_DIR}: the system was not started by scripts/oms.sh")
    assert "$oms$" not in text
    done = psql_as(role, "bus", f"SELECT oms_bus_publish(ARRAY['{topic}'], ARRAY['{key}'], "
                                f"ARRAY[$oms${text}$oms$], 'oms_bus_')")
    return None if done.returncode == 0 else done.stderr


def _publish_pulsar(role, topic, key, text):
    pulsar = pytest.importorskip("pulsar")
    token = PULSAR_TOKENS / f"{role}.token"
    if not token.exists():
        pytest.skip(f"no {token}: the broker was not started by infrastructure/pulsar/pulsar.sh")
    client = pulsar.Client(PULSAR_URL, authentication=pulsar.AuthenticationToken(token.read_text().strip()),
                           operation_timeout_seconds=15)
    try:
        producer = client.create_producer(f"persistent://public/default/{topic}", batching_enabled=False)
        producer.send(text.encode(), partition_key=key, ordering_key=key)
        producer.close()
        return None
    except Exception as e:  # pylint: disable=broad-except  (the client raises its own types)
        return f"{type(e).__name__}: {e}"
    finally:
        client.close()


def saga_of(system, order_id):
    r = system.api.get(f"/orders/{order_id}/saga")
    assert r.status_code == 200, r.text
    return body_of(r)


def saga_kinds(system, order_id):
    return [step["kind"] for step in saga_of(system, order_id).get("steps", [])]


def command_of(system, order_id, step):
    rows = system.psql("orders", f"SELECT {step}_command_id FROM sagas WHERE order_id = '{order_id}'")
    assert rows and rows[0][0], f"the saga of {order_id} sent no {step} command"
    return rows[0][0]


def metric(system, name, label=""):
    """Sum of order-service's samples of `name` whose labels hold `label`."""
    r = system.services["order"].get("/metrics")
    assert r.status_code == 200, r.text
    total = 0.0
    for line in r.text.splitlines():
        if line.startswith(name) and line[len(name):len(name) + 1] in ("{", " ") and label in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def cents(amount):
    return int(money(amount) * 100)


def test_a_service_cannot_publish_another_services_reply(system):
    product = system.make_product(stock=5, price="15")
    customer = system.make_customer("100.00")
    with system.paused("payment"):
        order = system.create_order(customer, [{"product_id": product, "quantity": 1}])
        forged = envelope("PaymentProcessed", order, {
            "command_id": command_of(system, order["id"], "payment"), "success": True,
            "payment_id": str(uuid.uuid4()), "amount_cents": cents(order["total_amount"])})
        refusal = publish_as("inventory-service", "payment-events", order["id"], forged)
        assert refusal, "inventory-service published on payment-events"
        # refused for its rights, not for anything else
        assert any(word in refusal for word in ("may not publish", "Authorization", "authorized")), refusal
        assert system.order(order["id"])["status"] == "PENDING_PAYMENT"
    system.wait_status(order["id"], "INVENTORY_CONFIRMED")
    assert system.balance(customer) == money("85.00")


def test_a_reply_that_answers_no_command_of_the_saga_is_rejected(system):
    """payment-service's own credentials, its own topic: a confirmation of a
    command the saga never sent, one of another amount, and a payment reply
    sent on inventory-events change nothing; the genuine answer then does."""
    product = system.make_product(stock=5, price="15")
    customer = system.make_customer("100.00")
    misrouted_before = metric(system, "saga_messages_misrouted_total", 'event_type="PaymentProcessed"')
    with system.paused("payment"):
        order = system.create_order(customer, [{"product_id": product, "quantity": 1}])
        total = cents(order["total_amount"])
        genuine = command_of(system, order["id"], "payment")
        replies = [
            ("payment-service", "payment-events", {"command_id": FORGED_COMMAND, "success": True,
                                                   "payment_id": str(uuid.uuid4()), "amount_cents": total}),
            ("payment-service", "payment-events", {"command_id": genuine, "success": True,
                                                   "payment_id": str(uuid.uuid4()), "amount_cents": 1}),
        ]
        for role, topic, payload in replies:
            assert publish_as(role, topic, order["id"], envelope("PaymentProcessed", order, payload)) is None
        wait_for("two REJECTED_REPLY rows in the saga log",
                 lambda: saga_kinds(system, order["id"]).count("REJECTED_REPLY") == 2, timeout=20)
        # inventory-service may publish on inventory-events, not a payment reply
        misrouted = envelope("PaymentProcessed", order, {"command_id": genuine, "success": True,
                                                         "payment_id": str(uuid.uuid4()), "amount_cents": total})
        assert publish_as("inventory-service", "inventory-events", order["id"], misrouted) is None
        wait_for("the misrouted reply counted",
                 lambda: metric(system, "saga_messages_misrouted_total",
                                'event_type="PaymentProcessed"') > misrouted_before, timeout=20)
        assert system.order(order["id"])["status"] == "PENDING_PAYMENT"
        assert saga_of(system, order["id"])["inconsistent"] is False
    if MESSAGE_BUS == "pg":
        dead = system.psql("bus", "SELECT count(*) FROM bus_dead_letter WHERE subscription = 'order-service' "
                                  f"AND key::text = '{order['id']}'")
        assert int(dead[0][0]) == 3, dead
    system.wait_status(order["id"], "INVENTORY_CONFIRMED")
    assert system.balance(customer) == money("85.00")
    assert saga_kinds(system, order["id"]).count("REJECTED_REPLY") == 2


def test_a_decline_after_a_forged_confirmation_marks_the_saga_inconsistent(system):
    """The review's case: a compromised payment-service confirms a payment it
    never took (the right command, the right amount: nothing to reject);
    the genuine payment then declines. The saga compensates as for any
    decline and says it was contradicted, where an operator and an alert
    look."""
    product = system.make_product(stock=5, price="15")
    customer = system.make_customer("1.00")
    inconsistent_before = metric(system, "order_saga_steps_total", 'kind="INCONSISTENT"')
    with system.paused("payment"):
        order = system.create_order(customer, [{"product_id": product, "quantity": 1}])
        forged = envelope("PaymentProcessed", order, {
            "command_id": command_of(system, order["id"], "payment"), "success": True,
            "payment_id": str(uuid.uuid4()), "amount_cents": cents(order["total_amount"])})
        assert publish_as("payment-service", "payment-events", order["id"], forged) is None
        system.wait_status(order["id"], {"PAYMENT_CONFIRMED", "INVENTORY_CONFIRMED"})
    wait_for("the saga marked inconsistent", lambda: saga_of(system, order["id"])["inconsistent"], timeout=30)
    saga = saga_of(system, order["id"])
    assert "payment" in saga["inconsistency"], saga
    assert "INCONSISTENT" in [step["kind"] for step in saga["steps"]]
    r = system.api.get("/sagas?inconsistent=true")
    assert r.status_code == 200, r.text
    assert order["id"] in [s["order_id"] for s in body_of(r)["sagas"]]
    assert all(s["inconsistent"] for s in body_of(r)["sagas"])
    assert metric(system, "order_saga_steps_total", 'kind="INCONSISTENT"') > inconsistent_before
    assert system.balance(customer) == money("1.00")  # the genuine payment never took anything
    assert system.payment(order["id"])["status"] == "DECLINED"


def test_a_plain_order_is_neither_rejected_nor_inconsistent(system):
    """The genuine replies of an order pass every check."""
    product = system.make_product(stock=5, price="2.50")
    customer = system.make_customer("100.00")
    order = system.create_order(customer, [{"product_id": product, "quantity": 2}])
    system.wait_status(order["id"], "INVENTORY_CONFIRMED")
    saga = saga_of(system, order["id"])
    assert saga["inconsistent"] is False and saga["inconsistency"] is None
    assert "REJECTED_REPLY" not in [step["kind"] for step in saga["steps"]]
    r = system.api.get("/sagas?inconsistent=true")
    assert r.status_code == 200, r.text
    assert order["id"] not in [s["order_id"] for s in body_of(r)["sagas"]]
