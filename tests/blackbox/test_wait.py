"""Clients wait for the end without a polling loop (issue 13 item 3), through
the gateway: GET /orders/{id}?wait=final&timeout_s=N (a long poll that
answers at the order's settled status, or as it is at the timeout) and
GET /orders/{id}/events (server-sent events of the status changes, each
once and in order, resumed with Last-Event-ID as an EventSource does).

A saga is held in a step by freezing (SIGSTOP) the service that must answer."""

import json
import threading
import time

from conftest import API_KEY, BASE_URL, FINAL_STATUSES, assert_error, body_of

import requests


def _order(system):
    product = system.make_product(stock=10, price="2.50")
    customer = system.make_customer(balance="100.00")
    return customer, [{"product_id": product, "quantity": 2, "unit_price": 2.50}]


def _headers(extra=None):
    headers = {"X-API-Key": API_KEY} if API_KEY else {}
    headers.update(extra or {})
    return headers


def _long_poll(order_id, timeout_s):
    started = time.monotonic()
    r = requests.get(f"{BASE_URL}/orders/{order_id}?wait=final&timeout_s={timeout_s}", headers=_headers(),
                     timeout=timeout_s + 15)
    return r, time.monotonic() - started


def test_long_poll_answers_at_the_final_status(system):
    customer, items = _order(system)
    answer = {}
    with system.paused("payment"):
        order = system.create_order(customer, items)
        waiter = threading.Thread(target=lambda: answer.update(result=_long_poll(order["id"], 30)))
        waiter.start()
        time.sleep(2)
        assert "result" not in answer, "the long poll answered while the saga waited for payment-service"
        thawed = time.monotonic()
    waiter.join(40)
    r, _ = answer["result"]
    assert r.status_code == 200, r.text
    assert body_of(r)["status"] in FINAL_STATUSES
    assert body_of(r)["status"] == system.order(order["id"])["status"]
    # it answered when the order settled, not at its timeout
    assert time.monotonic() - thawed < 20


def test_long_poll_answers_as_it_is_at_the_timeout(system):
    customer, items = _order(system)
    with system.paused("payment"):
        order = system.create_order(customer, items)
        system.wait_status(order["id"], "PENDING_PAYMENT")
        r, took = _long_poll(order["id"], 2)
    assert r.status_code == 200, r.text
    assert body_of(r)["status"] == "PENDING_PAYMENT"
    assert 1.8 <= took < 10, took


def test_long_poll_of_a_settled_order_answers_at_once(system):
    customer, items = _order(system)
    order = system.create_order(customer, items)
    system.wait_status(order["id"], FINAL_STATUSES)
    r, took = _long_poll(order["id"], 30)
    assert r.status_code == 200 and body_of(r)["status"] in FINAL_STATUSES, r.text
    assert took < 5, took


def test_waiting_refuses_bad_parameters(system):
    customer, items = _order(system)
    order_id = system.create_order(customer, items)["id"]
    assert_error(system.api.get(f"/orders/{order_id}?wait=forever"), 400, "wait")
    for bad in ("31", "-1", "x", "1.5", ""):
        assert_error(system.api.get(f"/orders/{order_id}?wait=final&timeout_s={bad}"), 400, "timeout_s")
        assert_error(system.api.get(f"/orders/{order_id}/events?timeout_s={bad}"), 400, "timeout_s")
    assert_error(system.api.get(f"/orders/{order_id}/events", headers={"Last-Event-ID": "abc"}), 400,
                 "Last-Event-ID")
    unknown = "00000000-0000-4000-8000-000000000000"
    assert_error(system.api.get(f"/orders/{unknown}?wait=final&timeout_s=1"), 404)
    assert_error(system.api.get(f"/orders/{unknown}/events?timeout_s=1"), 404)


class EventSource:
    """What a browser's EventSource does: reads the stream, keeps the last
    event id, reconnects with Last-Event-ID when the stream ends."""

    def __init__(self, url):
        self.url = url
        self.last_id = None
        self.events = []  # (id, event, data)
        self.ended = False
        self.connections = 0

    def read_once(self, timeout_s=30):
        headers = _headers({"Accept": "text/event-stream"})
        if self.last_id is not None:
            headers["Last-Event-ID"] = self.last_id
        r = requests.get(f"{self.url}?timeout_s={timeout_s}", headers=headers, stream=True, timeout=timeout_s + 15)
        self.connections += 1
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"].startswith("text/event-stream"), r.headers
        fields = {}
        for line in r.iter_lines(decode_unicode=True):
            if line == "":
                if "data" in fields:
                    kind = fields.get("event", "message")
                    if "id" in fields:
                        self.last_id = fields["id"]
                    self.events.append((fields.get("id"), kind, json.loads(fields["data"])))
                    self.ended = self.ended or kind == "end"
                fields = {}
                continue
            name, _, value = line.partition(":")
            fields[name] = value[1:] if value.startswith(" ") else value
        r.close()

    def statuses(self):
        return [data["status"] for _, kind, data in self.events if kind == "status"]


def test_events_deliver_each_status_change_once_in_order(system):
    customer, items = _order(system)
    with system.paused("payment"):
        order = system.create_order(customer, items)
        source = EventSource(f"{BASE_URL}/orders/{order['id']}/events")
        source.read_once()
        assert source.statuses()[0] == "CREATED"
        assert source.statuses()[-1] in ("CREATED", "PENDING_PAYMENT")
    deadline = time.monotonic() + 60
    cancelled = False
    while not source.ended and time.monotonic() < deadline:
        source.read_once()
        if not cancelled and "INVENTORY_CONFIRMED" in source.statuses():
            r = system.cancel(order["id"])
            assert r.status_code == 202, r.text
            cancelled = True
    assert source.ended, source.events
    assert source.statuses() == ["CREATED", "PENDING_PAYMENT", "PAYMENT_CONFIRMED", "INVENTORY_CONFIRMED",
                                 "COMPENSATING", "CANCELLED"], source.events
    ids = [int(event_id) for event_id, kind, _ in source.events if kind == "status"]
    assert ids == sorted(set(ids)), ids  # each once, in order
    # each event names the status it left, which is the one before it
    status_events = [data for _, kind, data in source.events if kind == "status"]
    for before, after in zip(status_events, status_events[1:]):
        assert after["previous_status"] == before["status"], status_events
    assert status_events[-1]["final"] is True
    # a client that reconnects after the end gets only the end, at once
    started = time.monotonic()
    source.read_once()
    assert time.monotonic() - started < 5
    assert source.events[-1][1] == "end"
    assert source.statuses()[-1] == "CANCELLED" and source.statuses().count("CANCELLED") == 1


def test_events_wait_for_the_next_change(system):
    customer, items = _order(system)
    with system.paused("payment"):
        order = system.create_order(customer, items)
        system.wait_status(order["id"], "PENDING_PAYMENT")
        source = EventSource(f"{BASE_URL}/orders/{order['id']}/events")
        source.read_once()
        assert source.statuses() == ["CREATED", "PENDING_PAYMENT"]
        # nothing new: the stream holds until its timeout, then ends empty
        started = time.monotonic()
        source.read_once(timeout_s=2)
        assert 1.8 <= time.monotonic() - started < 10
        assert source.statuses() == ["CREATED", "PENDING_PAYMENT"]
        answer = {}
        reader = threading.Thread(target=lambda: answer.update(done=source.read_once()))
        reader.start()
        time.sleep(1)
    reader.join(40)
    assert "done" in answer
    assert source.statuses()[:3] == ["CREATED", "PENDING_PAYMENT", "PAYMENT_CONFIRMED"], source.events
