"""Dead letters and their redrive as a job (issue 12 items 4, 5;
docs/architecture.md, "Dead letters", "Bulk jobs"), through the gateway.

200 PaymentRequested commands fail in payment-service (a trigger of the
test refuses their payments: the cause), go to payment-commands-DLQ after
their redeliveries, are listed with their envelope and error, the cause is
removed, and a redrive job at 5/s sends them back: its progress is readable
while it runs, every one is handled once and charged once, a second redrive
of the same ids skips them all, and a copy of a handled message (the same
event_id, as a double delivery would be) charges nothing."""

import json
import os
import signal
import time
import uuid
from datetime import datetime, timezone

import pytest

import requests

from conftest import MESSAGE_BUS, SERVICE_URLS, body_of, money, unique, wait_for

COUNT = 200
RATE = 5


def envelope(order_id, customer_id):
    return json.dumps({
        "event_id": str(uuid.uuid4()),
        "event_type": "PaymentRequested",
        "saga_id": str(uuid.uuid4()),
        "order_id": order_id,
        "occurred_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "correlation_id": "",
        "payload": {"command_id": str(uuid.uuid4()), "customer_id": customer_id, "amount_cents": 100},
    })


def sql_text(s):
    assert "$dlq$" not in s
    return f"$dlq${s}$dlq$"


def publish_commands(system, messages):
    """Publishes (key, payload) pairs on payment-commands in one statement,
    as order-service's outbox relay would (the bus's own function)."""
    keys = ",".join(sql_text(k) for k, _ in messages)
    payloads = ",".join(sql_text(p) for _, p in messages)
    topics = ",".join("'payment-commands'" for _ in messages)
    system.psql("bus", f"SELECT oms_bus_publish(ARRAY[{topics}], ARRAY[{keys}], ARRAY[{payloads}], 'oms_bus_')")


def dead_letters_of(system, order_ids, status="dead"):
    """The dead letters of payment-commands whose order is one of order_ids."""
    found, cursor = [], None
    while True:
        query = f"/dead-letters?topic=payment-commands&status={status}&limit=500"
        r = system.api.get(query + (f"&cursor={cursor}" if cursor else ""))
        assert r.status_code == 200, r.text
        doc = body_of(r)
        assert all(d["topic"] == "payment-commands" and d["status"] == status for d in doc["dead_letters"])
        found += [d for d in doc["dead_letters"] if d["order_id"] in order_ids]
        cursor = doc["next_cursor"]
        if not cursor:
            return found


def payments_of(system, customer_id):
    return system.psql("payments", f"SELECT order_id, status, amount_cents FROM payments "
                                   f"WHERE customer_id = '{customer_id}'")


def waiting_gauge(topic):
    """oms_dead_letters{topic} of order-service's /metrics (set every 5 s)."""
    text = requests.get(SERVICE_URLS["order"] + "/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith(f'oms_dead_letters{{topic="{topic}"}} '):
            return float(line.split()[-1])
    return None


def audit_rows(system, target):
    r = system.api.get(f"/audit?target={target}")
    assert r.status_code == 200, r.text
    return body_of(r)["entries"]


def poison(system, count):
    """`count` PaymentRequested commands of a new customer (balance 1000.00)
    that payment-service fails until they are dead letters (a trigger of
    the test refuses the customer's payments: the cause), then the cause
    removed. Returns the customer, the order ids and the dead letters."""
    customer = system.make_customer("1000.00")
    trigger = unique("bb_dlq_refuse").replace("-", "_")
    system.psql("payments", f"CREATE FUNCTION {trigger}() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN "
                            f"IF NEW.customer_id = '{customer}' THEN "
                            f"RAISE EXCEPTION 'payments of {customer} refused by the test'; END IF; "
                            f"RETURN NEW; END $f$")
    system.psql("payments", f"CREATE TRIGGER {trigger} BEFORE INSERT ON payments FOR EACH ROW "
                            f"EXECUTE FUNCTION {trigger}()")
    order_ids = {str(uuid.uuid4()) for _ in range(count)}
    try:
        publish_commands(system, [(o, envelope(o, customer)) for o in sorted(order_ids)])
        wait_for(f"{count} dead letters", lambda: len(dead_letters_of(system, order_ids)) == count or None,
                 timeout=120, interval=1)
    finally:
        system.psql("payments", f"DROP TRIGGER IF EXISTS {trigger} ON payments")
    assert not payments_of(system, customer)
    return customer, order_ids, dead_letters_of(system, order_ids)


def charged_once_each(system, customer, order_ids):
    """Every order paid once, CAPTURED, and the balance down by 1.00 each."""
    wait_for("every payment", lambda: len(payments_of(system, customer)) == len(order_ids) or None, timeout=60)
    rows = payments_of(system, customer)
    assert sorted(r[0] for r in rows) == sorted(order_ids)
    assert {r[1] for r in rows} == {"CAPTURED"}
    expected = money(1000 - len(order_ids))
    assert money(body_of(system.api.get(f"/accounts/{customer}"))["balance"]) == expected


@pytest.mark.skipif(MESSAGE_BUS != "pg", reason="dead-letter operations exist on the pg transport only so far")
def test_200_poison_messages_redriven_at_5_per_s_are_each_handled_and_charged_once(system):
    customer, order_ids, dead = poison(system, COUNT)
    assert len(dead) == COUNT
    sample = dead[0]
    assert sample["event_type"] == "PaymentRequested" and sample["subscription"] == "payment-service"
    assert sample["error"], sample
    assert sample["attempts"] >= 1 and sample["first_failure_at"] <= sample["last_failure_at"]
    assert json.loads(sample["payload"])["event_id"] == sample["event_id"]
    # The same failure of 200 orders is one fingerprint.
    assert len({d["fingerprint"] for d in dead}) == 1
    # Filters: by order and by event type.
    r = system.api.get(f"/dead-letters?order_id={sample['order_id']}")
    assert [d["id"] for d in body_of(r)["dead_letters"]] == [sample["id"]]
    r = system.api.get(f"/dead-letters?event_type=RefundRequested&order_id={sample['order_id']}")
    assert body_of(r)["dead_letters"] == []
    ids = sorted(d["id"] for d in dead)
    # The gauge counts them (refreshed every 5 s).
    waiting = wait_for("the gauge", lambda: (lambda v: v if v is not None and v >= COUNT else None)(
        waiting_gauge("payment-commands")), timeout=30)
    assert waiting_gauge("inventory-events") is not None  # every topic is exported, 0 or not

    # A dry run counts and samples, and starts nothing.
    r = system.api.post("/dead-letters/redrive", {"ids": ids, "rate_per_s": RATE, "dry_run": True})
    assert r.status_code == 200, r.text
    assert body_of(r)["count"] == COUNT and len(body_of(r)["samples"]) == 10
    assert len(dead_letters_of(system, order_ids)) == COUNT

    started = time.monotonic()
    r = system.api.post("/dead-letters/redrive", {"ids": ids, "rate_per_s": RATE, "reason": "cause fixed"})
    assert r.status_code == 202, r.text
    job_id = body_of(r)["job_id"]
    assert r.headers["Location"] == f"/jobs/{job_id}"
    # One audit row for the request (the items are the job's own record).
    [row] = audit_rows(system, f"job:{job_id}")
    assert row["action"] == "dead_letters.redrive" and row["reason"] == "cause fixed"
    assert row["after"]["items"] == COUNT and row["after"]["rate_per_s"] == RATE
    assert row["service"] == "order-service" and row["request_id"] == r.headers["X-Request-Id"]
    progress = []

    def finished():
        job = body_of(system.api.get(f"/jobs/{job_id}"))
        progress.append(job["done"])
        return job if job["state"] == "done" else None

    job = wait_for("the redrive job", finished, timeout=COUNT / RATE * 3, interval=0.5)
    took = time.monotonic() - started
    assert job["done"] == COUNT and job["failed"] == 0 and job["skipped"] == 0, job
    assert all(item["outcome"] == "done" for item in job["items"]) and len(job["items"]) == COUNT
    # Its pace: 200 at 5/s take about 40 s, and progress was visible meanwhile.
    assert took >= (COUNT - 1) / RATE * 0.9, took
    assert len({p for p in progress if 0 < p < COUNT}) >= 10, progress

    # Each handled once, charged once.
    charged_once_each(system, customer, order_ids)
    assert not dead_letters_of(system, order_ids)
    assert len(dead_letters_of(system, order_ids, status="redriven")) == COUNT
    wait_for("the gauge to drop", lambda: waiting_gauge("payment-commands") <= waiting - COUNT or None, timeout=30)

    # A second redrive of the same ids skips every one: redriven already.
    r = system.api.post("/dead-letters/redrive", {"ids": ids, "rate_per_s": 1000})
    assert r.status_code == 202, r.text
    assert body_of(r)["count"] == 0 and body_of(r)["job"]["state"] == "done"

    # A double delivery (the same event_id again) charges nothing: the inbox.
    system.psql("bus", f"INSERT INTO bus_dead_letter (topic, subscription, key, payload, reason, attempts) "
                       f"SELECT topic, subscription, key, payload, 'copy by the test', 1 FROM bus_dead_letter "
                       f"WHERE id = {ids[0]}")
    copy = [d for d in dead_letters_of(system, order_ids)]
    assert len(copy) == 1
    r = system.api.post("/dead-letters/redrive", {"ids": [copy[0]["id"]]})
    assert r.status_code == 202, r.text
    wait_for("the copy's job", lambda: body_of(system.api.get(f"/jobs/{body_of(r)['job_id']}"))["state"] == "done"
             or None)
    time.sleep(2)
    assert len(payments_of(system, customer)) == COUNT
    assert money(body_of(system.api.get(f"/accounts/{customer}"))["balance"]) == money(1000 - COUNT)
    assert not dead_letters_of(system, order_ids)


@pytest.mark.skipif(MESSAGE_BUS != "pg", reason="dead-letter operations exist on the pg transport only so far")
def test_a_redrive_job_survives_a_sigkill_of_order_service_and_charges_once(system):
    count = 60
    customer, order_ids, dead = poison(system, count)
    r = system.api.post("/dead-letters/redrive", {"ids": [d["id"] for d in dead], "rate_per_s": 10})
    assert r.status_code == 202, r.text
    job_id = body_of(r)["job_id"]
    wait_for("a third of the job", lambda: body_of(system.api.get(f"/jobs/{job_id}"))["done"] >= count // 3 or None)
    os.kill(system.pid("order"), signal.SIGKILL)
    time.sleep(1)
    system.restart_missing()
    job = wait_for("the job after the restart",
                   lambda: (lambda j: j if j["state"] == "done" else None)(body_of(system.api.get(f"/jobs/{job_id}"))),
                   timeout=count / 10 * 4 + 30, interval=0.5)
    assert job["failed"] == 0 and job["done"] + job["skipped"] == count, job
    # An item cut between its redrive and its record by the kill is found
    # redriven when the job resumes: at most that one is "skipped".
    skipped = [i for i in job["items"] if i["outcome"] == "skipped"]
    assert len(skipped) <= 1 and all(i["reason"] == "redriven already" for i in skipped), skipped
    charged_once_each(system, customer, order_ids)
    assert len(dead_letters_of(system, order_ids, status="redriven")) == count


@pytest.mark.skipif(MESSAGE_BUS != "pg", reason="dead-letter operations exist on the pg transport only so far")
def test_discard_needs_a_reason_and_keeps_the_record(system):
    order_id = str(uuid.uuid4())
    system.psql("bus", "INSERT INTO bus_dead_letter (topic, subscription, key, payload, reason, attempts) "
                       f"VALUES ('payment-commands-DLQ', 'payment-service', '{order_id}', 'not json', "
                       "'unparseable', 1)")
    r = system.api.get(f"/dead-letters?order_id={order_id}")
    [letter] = body_of(r)["dead_letters"]
    assert letter["event_type"] is None and letter["payload"] == "not json"
    r = system.api.post(f"/dead-letters/{letter['id']}/discard", {})
    assert r.status_code == 400 and body_of(r)["error"]["field"] == "reason"
    r = system.api.post(f"/dead-letters/{letter['id']}/discard", {"reason": "garbage from a test"})
    assert r.status_code == 200, r.text
    assert body_of(r)["status"] == "discarded" and body_of(r)["discard_reason"] == "garbage from a test"
    r = system.api.post(f"/dead-letters/{letter['id']}/discard", {"reason": "again"})
    assert r.status_code == 409 and body_of(r)["error"]["code"] == "not_dead"
    # One audit row for the discard; the refused ones (no reason, not dead) none.
    [row] = audit_rows(system, f"dead_letter:{letter['id']}")
    assert row["action"] == "dead_letter.discard" and row["reason"] == "garbage from a test"
    assert row["before"] == {"status": "dead"} and row["after"] == {"status": "discarded"}
    r = system.api.post("/dead-letters/redrive", {"ids": [letter["id"]]})
    assert r.status_code == 202 and body_of(r)["count"] == 0
    assert body_of(system.api.get(f"/dead-letters?order_id={order_id}"))["dead_letters"] == []
    r = system.api.get(f"/dead-letters?order_id={order_id}&status=discarded")
    assert [d["id"] for d in body_of(r)["dead_letters"]] == [letter["id"]]
    assert system.api.post("/dead-letters/999999999/discard", {"reason": "x"}).status_code == 404


@pytest.mark.skipif(MESSAGE_BUS != "pg", reason="dead-letter operations exist on the pg transport only so far")
def test_a_job_can_be_stopped_and_bad_requests_are_400(system):
    order_ids = [str(uuid.uuid4()) for _ in range(5)]
    for o in order_ids:
        system.psql("bus", "INSERT INTO bus_dead_letter (topic, subscription, key, payload, reason, attempts) "
                           f"VALUES ('inventory-commands-DLQ', 'inventory-service', '{o}', "
                           f"'{{\"order_id\": \"{o}\"}}', 'test', 1)")
    r = system.api.post("/dead-letters/redrive", {"filter": {"order_id": order_ids[0]}, "dry_run": True})
    assert r.status_code == 200 and body_of(r)["count"] == 1
    ids = [body_of(system.api.get(f"/dead-letters?order_id={o}"))["dead_letters"][0]["id"] for o in order_ids]
    r = system.api.post("/dead-letters/redrive", {"ids": ids, "rate_per_s": 1})
    assert r.status_code == 202
    job_id = body_of(r)["job_id"]
    r = system.api.post(f"/jobs/{job_id}/stop")
    assert r.status_code == 200, r.text
    assert body_of(r)["state"] == "stopped" and body_of(r)["pending"] >= 3
    pending = body_of(r)["pending"]
    time.sleep(2.5)
    job = body_of(system.api.get(f"/jobs/{job_id}"))
    assert job["state"] == "stopped" and job["pending"] == pending
    assert system.api.post(f"/jobs/{job_id}/stop").status_code == 409
    actions = [row["action"] for row in audit_rows(system, f"job:{job_id}")]
    assert actions == ["dead_letters.redrive", "job.stop"], actions
    assert job_id in [j["id"] for j in body_of(system.api.get("/jobs?state=stopped"))["jobs"]]
    assert system.api.get(f"/jobs/{uuid.uuid4()}").status_code == 404
    assert system.api.get("/jobs/not-a-job").status_code == 404
    for bad in ({}, {"ids": []}, {"ids": ["x"]}, {"ids": [1], "filter": {}}, {"ids": [1], "rate_per_s": 0},
                {"ids": [1], "rate_per_s": 1001}, {"ids": [1], "max": 0}, {"ids": [1], "dry_run": "yes"},
                {"filter": []}):
        r = system.api.post("/dead-letters/redrive", bad)
        assert r.status_code == 400, (bad, r.text)
    for query in ("status=gone", "limit=0", "limit=501", "cursor=abc", "since=not-a-time"):
        assert system.api.get(f"/dead-letters?{query}").status_code == 400, query


@pytest.mark.skipif(MESSAGE_BUS == "pg", reason="the pulsar transport's answer")
def test_on_pulsar_dead_letters_are_not_implemented_yet(system):
    r = system.api.get("/dead-letters")
    assert r.status_code == 501 and body_of(r)["error"]["code"] == "not_implemented"
