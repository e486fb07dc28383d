"""Bulk saga actions as durable jobs (issue 12 item 5; docs/architecture.md,
"Bulk jobs"): POST /sagas/bulk chooses the sagas GET /sagas would list,
a dry run counts them, a real run is a job that acts on each at its rate as
the single action (POST /sagas/{id}/actions) would, re-checks the filter for
each, survives a SIGKILL of order-service, and acts once per saga: each
order compensated once and its money given back once; each saga retried
once by a retry_now job.

The issue asks for 1,000 sagas at 10/s (100 s of job, more to set up on
the ASan build); these use 120 at 10/s and 60 at 20/s, which keeps the
suite's run time sane on a 2-core machine and still kills order-service
mid-job, and keeps the sagas short of their own deadline's compensation
(SAGA_STEP_TIMEOUT_S is 5 in the tests) while payment-service is frozen."""

import os
import signal
import subprocess
import time

from conftest import assert_error, body_of, money, wait_for

COUNT = 120
RATE = 10


def job_of(system, job_id):
    r = system.api.get(f"/jobs/{job_id}")
    assert r.status_code == 200, r.text
    return body_of(r)


def restart_order_service(system):
    """scripts/oms.sh up starts order-service again; it then waits for every
    process's /ready, which frozen payment-service never answers: give it a
    moment only, and wait for order-service through the gateway."""
    os.environ["OMS_READY_TIMEOUT_S"] = "3"
    try:
        system.restart_missing()
    except subprocess.CalledProcessError:
        pass
    finally:
        del os.environ["OMS_READY_TIMEOUT_S"]
    wait_for("order-service after its restart", lambda: system.api.get("/jobs").status_code == 200, timeout=60)


def test_a_bulk_compensate_of_stuck_sagas_survives_a_sigkill_and_acts_once_per_saga(system):
    product = system.make_product(stock=COUNT * 2, price="1.00")
    customer = system.make_customer("1000.00")
    # payment-service frozen: every saga waits in PENDING_PAYMENT.
    with system.paused("payment"):
        orders = [system.create_order(customer, [{"product_id": product, "quantity": 1}])["id"]
                  for _ in range(COUNT)]
        filter_ = {"state": "PENDING_PAYMENT", "customer_id": customer}
        r = system.api.post("/sagas/bulk", {"filter": filter_, "action": "compensate", "dry_run": True,
                                            "reason": "payments down"})
        assert r.status_code == 200, r.text
        assert body_of(r)["count"] == COUNT and len(body_of(r)["samples"]) == 10
        assert body_of(r)["samples"][0]["state"] == "PENDING_PAYMENT"
        r = system.api.post("/sagas/bulk", {"filter": filter_, "action": "compensate", "rate_per_s": RATE,
                                            "reason": "payments down"})
        assert r.status_code == 202, r.text
        job_id = body_of(r)["job_id"]
        assert body_of(r)["job"]["filter"] == filter_
        wait_for("a third of the job", lambda: job_of(system, job_id)["done"] >= COUNT // 3 or None, timeout=60)
        os.kill(system.pid("order"), signal.SIGKILL)
        time.sleep(1)
        restart_order_service(system)
        job = wait_for("the job after the restart",
                       lambda: (lambda j: j if j["state"] == "done" else None)(job_of(system, job_id)),
                       timeout=COUNT / RATE * 4 + 60, interval=0.5)
    assert job["failed"] == 0 and job["done"] + job["skipped"] == COUNT, job
    # An item cut between its cancel and its record by the kill no longer
    # matches the filter when the job resumes: at most that one is skipped.
    skipped = [i for i in job["items"] if i["outcome"] == "skipped"]
    assert len(skipped) <= 1, skipped
    assert sorted(i["target"] for i in job["items"]) == sorted(orders)
    for order_id in orders:
        system.wait_status(order_id, "CANCELLED", timeout=120)
    # Given back once: the balance is whole, each payment captured then refunded at most once.
    assert money(body_of(system.api.get(f"/accounts/{customer}"))["balance"]) == money("1000.00")
    rows = system.psql("payments", f"SELECT status, count(*) FROM payments WHERE customer_id = '{customer}' "
                                   "GROUP BY status")
    assert sum(int(n) for _, n in rows) <= COUNT and {s for s, _ in rows} <= {"REFUNDED", "DECLINED"}, rows
    # One audit row per saga's compensate (POST /sagas/{id}/actions' own), by the job; one for the job.
    for order_id in orders[:10]:
        saga_id = body_of(system.api.get(f"/orders/{order_id}/saga"))["saga_id"]
        rows = body_of(system.api.get(f"/audit?target=saga:{saga_id}"))["entries"]
        assert [c["action"] for c in rows] == ["saga.compensate"], rows
        assert rows[0]["reason"] == "payments down" and rows[0]["request_id"] == f"job:{job_id}"
    [row] = body_of(system.api.get(f"/audit?target=job:{job_id}"))["entries"]
    assert row["action"] == "sagas.bulk" and row["after"]["items"] == COUNT


def test_bulk_requests_are_checked(system):
    for bad, field in (({"action": "compensate", "reason": "x"}, "filter"),
                       ({"filter": {}, "action": "skip_payment", "reason": "x"}, "action"),
                       ({"filter": {}, "action": "resolve_manually", "reason": "x"}, "action"),
                       ({"filter": {}, "action": "redrive", "reason": "x"}, "action"),
                       ({"filter": {}, "action": "compensate"}, "reason"),
                       ({"filter": {"stuck": "yes"}, "action": "compensate", "reason": "x"}, "filter.stuck"),
                       ({"filter": {}, "action": "compensate", "reason": "x", "rate_per_s": 0}, "rate_per_s"),
                       ({"filter": {}, "action": "compensate", "reason": "x", "max": 10001}, "max"),
                       ({"filter": {"state": "NOPE"}, "action": "compensate", "reason": "x"}, "state")):
        assert_error(system.api.post("/sagas/bulk", bad), 400, field=field)
    # A filter nothing matches: a job with nothing to do, done at once.
    r = system.api.post("/sagas/bulk", {"filter": {"customer_id": "nobody-at-all"}, "action": "compensate",
                                        "reason": "x"})
    assert r.status_code == 202 and body_of(r)["count"] == 0 and body_of(r)["job"]["state"] == "done"


def test_a_bulk_retry_now_acts_once_per_saga_across_a_sigkill(system):
    """retry_now leaves a saga in its state (the filter still matches it
    after the action), so only the version the item committed before acting
    keeps a resumed job from retrying a saga twice."""
    count, rate = 60, 20
    product = system.make_product(stock=count * 2, price="1.00")
    customer = system.make_customer("1000.00")
    with system.paused("payment"):
        orders = [system.create_order(customer, [{"product_id": product, "quantity": 1}])["id"]
                  for _ in range(count)]
        r = system.api.post("/sagas/bulk", {"filter": {"state": "PENDING_PAYMENT", "customer_id": customer},
                                            "action": "retry_now", "rate_per_s": rate, "reason": "processor back"})
        assert r.status_code == 202, r.text
        job_id = body_of(r)["job_id"]
        wait_for("a third of the job", lambda: job_of(system, job_id)["done"] >= count // 3 or None, timeout=60)
        os.kill(system.pid("order"), signal.SIGKILL)
        time.sleep(1)
        restart_order_service(system)
        job = wait_for("the job after the restart",
                       lambda: (lambda j: j if j["state"] == "done" else None)(job_of(system, job_id)),
                       timeout=count / rate * 4 + 60, interval=0.5)
        retried = {}
        for order_id in orders:
            steps = body_of(system.api.get(f"/orders/{order_id}/saga"))["steps"]
            retried[order_id] = sum(1 for st in steps if st["kind"] == "RETRY" and "retry_now by" in (st["detail"] or ""))
    assert job["failed"] == 0 and job["done"] + job["skipped"] == count, job
    assert max(retried.values()) == 1, retried  # never twice
    done = {i["target"] for i in job["items"] if i["outcome"] == "done"}
    assert all(retried[o] == 1 for o in done), retried
    skipped = [i for i in job["items"] if i["outcome"] == "skipped"]
    # the kill's item, and any saga a deadline resend moved on meanwhile
    assert len(skipped) <= count // 10, skipped
    for order_id in orders:
        system.wait_status(order_id, {"INVENTORY_CONFIRMED", "FAILED", "CANCELLED"}, timeout=120)
    # Charged once whatever was resent: the payments are keyed by order.
    rows = system.psql("payments", f"SELECT count(*), count(DISTINCT order_id) FROM payments "
                                   f"WHERE customer_id = '{customer}'")
    assert rows[0][0] == rows[0][1], rows
