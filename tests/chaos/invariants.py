"""The invariants of SPEC section 6, checked after the run from the three
service databases, the bus and the API, plus snapshots during the run.

Table and column names follow services/*/migrations/001_init.sql and the
outbox/inbox and bus tables of lib/oms (outbox.c, inbox.c, bus_pg.c)."""
import subprocess
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import requests

from workload import FINAL_STATUSES, cents_of

FINAL_SQL = "('INVENTORY_CONFIRMED', 'FAILED', 'CANCELLED')"
SUBSCRIPTIONS = [("payment-commands", "payment-service"), ("inventory-commands", "inventory-service"),
                 ("payment-events", "order-service"), ("inventory-events", "order-service"),
                 ("product-events", "order-service")]
API_SAMPLE = 400  # orders whose payment and reservation are also read through the API


class Violations:
    """Every broken rule, by kind, with its evidence."""

    def __init__(self, log):
        self.items = []
        self.lock = threading.Lock()
        self.log = log

    def add(self, kind, detail):
        with self.lock:
            self.items.append({"kind": kind, "detail": detail})
            if sum(1 for v in self.items if v["kind"] == kind) <= 5:
                self.log(f"VIOLATION [{kind}] {detail}")

    def by_kind(self):
        return Counter(v["kind"] for v in self.items)


def quiet_state(cluster):
    """What is still moving: {} when the system is quiet."""
    busy = {}
    n = int(cluster.psql("orders", f"SELECT count(*) FROM orders WHERE status NOT IN {FINAL_SQL}")[0][0])
    if n:
        busy["orders not final"] = n
    for db in ("orders", "inventory", "payments"):
        n = int(cluster.psql(db, "SELECT count(*) FROM outbox")[0][0])
        if n:
            busy[f"{db} outbox"] = n
    if cluster.bus == "pg":
        n = int(cluster.psql("bus", "SELECT count(*) FROM bus_queue")[0][0])
        if n:
            busy["bus_queue"] = n
    else:
        for topic, sub in SUBSCRIPTIONS:
            backlog = pulsar_backlog(cluster, topic, sub)
            if backlog:
                busy[f"{topic}/{sub} backlog"] = backlog
    return busy


def pulsar_backlog(cluster, topic, subscription):
    stats = cluster.pulsar_admin(f"persistent/public/default/{topic}/stats")
    if stats is None:
        return 0
    return int(stats.get("subscriptions", {}).get(subscription, {}).get("msgBacklog", 0))


def wait_for_quiet(cluster, timeout_s, log):
    """Polls until quiet; returns (seconds taken or None, last busy state)."""
    started = time.time()
    last_print = 0
    busy = {"not checked": 1}
    while time.time() - started < timeout_s:
        try:
            busy = quiet_state(cluster)
        except (subprocess.SubprocessError, requests.RequestException) as e:
            busy = {"database or broker unreachable": str(e)[:200]}
        if not busy:
            return time.time() - started, {}
        if time.time() - last_print > 10:
            log(f"waiting for quiet: {busy}")
            last_print = time.time()
        time.sleep(1)
    busy = dict(busy)
    busy["diagnosis"] = diagnose(cluster)
    return None, busy


def diagnose(cluster):
    """Evidence for a run that did not reach quiet: long queries, sagas by
    state, queues by topic."""
    found = {}
    queries = {
        "long_queries": ("postgres", "SELECT datname, application_name, state, wait_event, "
                                     "round(extract(epoch FROM now() - query_start))::int, left(query, 160) "
                                     "FROM pg_stat_activity WHERE state <> 'idle' AND pid <> pg_backend_pid() "
                                     "AND now() - query_start > interval '30 seconds' ORDER BY query_start"),
        "sagas": ("orders", "SELECT state, current_step, attempts, count(*) FROM sagas "
                            f"WHERE state NOT IN {FINAL_SQL} GROUP BY 1, 2, 3 ORDER BY 4 DESC LIMIT 12"),
    }
    if cluster.bus == "pg":
        queries["bus_queue"] = ("bus", "SELECT topic, subscription, count(*), max(attempts), "
                                       "round(extract(epoch FROM now() - min(created_at)))::int FROM bus_queue GROUP BY 1, 2")
    for name, (db, sql) in queries.items():
        try:
            found[name] = cluster.psql(db, sql)
        except subprocess.SubprocessError as e:
            found[name] = f"could not query: {e}"
    return found


class SnapshotSampler:
    """During the run, checks invariants 1 and 2 inside one database
    snapshot each (the ledger tells restocks and openings, so no client-side
    knowledge is needed): "hold at every moment"."""

    def __init__(self, cluster, violations, interval_s, stop):
        self.cluster = cluster
        self.violations = violations
        self.interval_s = interval_s
        self.stop = stop
        self.samples = 0
        self.failed = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._main, name="snapshots", daemon=True)

    def start(self):
        self._thread.start()

    def finish(self):
        self._done.set()
        self._thread.join()

    def _main(self):
        while not self._done.wait(self.interval_s) and not self.stop.is_set():
            try:
                self.check_once()
                self.samples += 1
            except subprocess.SubprocessError:
                self.failed += 1  # the database is being faulted: next time

    def check_once(self):
        rows = self.cluster.psql("inventory", """
            SELECT p.product_id, p.stock, p.reserved,
                   COALESCE((SELECT sum(delta) FROM stock_ledger l
                             WHERE l.product_id = p.product_id AND kind IN ('INITIAL', 'RESTOCK')), 0),
                   COALESCE((SELECT sum(i.quantity) FROM reservation_items i JOIN reservations r USING (order_id)
                             WHERE i.product_id = p.product_id AND r.state = 'RESERVED'), 0)
            FROM products p""")
        for product, stock, reserved, supplied, held in rows:
            if int(supplied) - int(held) != int(stock) or int(stock) < 0:
                self.violations.add("snapshot-stock", f"{product}: initial+restocks {supplied} - RESERVED {held} "
                                    f"!= stock {stock} (reserved column {reserved}), in one snapshot during the run")
        rows = self.cluster.psql("payments", """
            SELECT a.customer_id, a.balance_cents,
                   COALESCE((SELECT sum(delta_cents) FROM account_ledger l
                             WHERE l.customer_id = a.customer_id AND kind = 'OPENING'), 0),
                   COALESCE((SELECT sum(amount_cents) FROM payments p
                             WHERE p.customer_id = a.customer_id AND p.status = 'CAPTURED'), 0)
            FROM accounts a""")
        for customer, balance, opening, captured in rows:
            if int(opening) - int(captured) != int(balance) or int(balance) < 0:
                self.violations.add("snapshot-balance", f"{customer}: opening {opening} - CAPTURED {captured} "
                                    f"!= balance {balance}, in one snapshot during the run")


def _rows_by_key(rows):
    return {r[0]: r for r in rows}


class FinalCheck:
    """Everything after quiet: SPEC 6.1-6.5 from the databases and the API."""

    def __init__(self, cluster, workload, faults, violations, default_credit_cents, log, quiet=True):
        self.quiet = quiet  # not quiet: what still moves is not compared with the API
        self.c = cluster
        self.w = workload
        self.faults = faults
        self.v = violations
        self.default_credit_cents = default_credit_cents
        self.log = log
        self.status_counts = Counter()
        self.failure_reasons = Counter()

    def run(self):
        self.load()
        self.check_orders()
        self.check_stock()
        self.check_balances()
        self.check_payments_and_reservations()
        self.check_requests()
        self.check_cancels()
        self.check_queues()
        self.check_api()

    # ----------------------------------------------------------- the data

    def load(self):
        """Each database is read in one snapshot, so that its tables agree."""
        orders, items, keys = self.c.psql_snapshot("orders", [
            # orders and order_view side by side: the read model is compared row by row
            "SELECT coalesce(o.id, v.id), o.customer_id, o.status, o.total_cents, o.failure_reason, "
            "o.cancellation_reason, v.status FROM orders o FULL JOIN order_view v ON v.id = o.id",
            "SELECT order_id, product_id, sum(quantity) FROM order_items GROUP BY 1, 2",
            "SELECT key, order_id FROM idempotency_keys"])
        self.orders = {r[0]: {"customer": r[1], "status": r[2], "total": int(r[3]), "failure": r[4],
                              "cancellation": r[5]}
                       for r in orders if r[2] != ""}
        self.views = {r[0]: r[6] for r in orders if r[6] != ""}
        self.order_items = defaultdict(Counter)
        for order_id, product, quantity in items:
            self.order_items[order_id][product] += int(quantity)
        self.keys = {r[0]: r[1] for r in keys}

        payments, accounts, ledger = self.c.psql_snapshot("payments", [
            "SELECT payment_id, order_id, customer_id, amount_cents, status FROM payments",
            "SELECT customer_id, balance_cents FROM accounts",
            "SELECT customer_id, kind, sum(delta_cents) FROM account_ledger GROUP BY 1, 2"])
        self.payments = defaultdict(list)
        for pid, order_id, customer, amount, status in payments:
            self.payments[order_id].append({"id": pid, "customer": customer, "amount": int(amount), "status": status})
        self.accounts = {r[0]: int(r[1]) for r in accounts}
        self.account_ledger = defaultdict(Counter)
        for customer, kind, total in ledger:
            self.account_ledger[customer][kind] = int(total)

        reservations, reserved_items, products, stock_ledger = self.c.psql_snapshot("inventory", [
            "SELECT order_id, state FROM reservations",
            "SELECT order_id, product_id, quantity FROM reservation_items",
            "SELECT product_id, stock, reserved FROM products",
            "SELECT product_id, kind, sum(delta) FROM stock_ledger GROUP BY 1, 2"])
        self.reservations = {r[0]: r[1] for r in reservations}
        self.reservation_items = defaultdict(Counter)
        for order_id, product, quantity in reserved_items:
            self.reservation_items[order_id][product] += int(quantity)
        self.products = {r[0]: (int(r[1]), int(r[2])) for r in products}
        self.stock_ledger = defaultdict(Counter)
        for product, kind, total in stock_ledger:
            self.stock_ledger[product][kind] = int(total)
        for status in self.orders.values():
            self.status_counts[status["status"]] += 1
            if status["status"] == "FAILED":
                self.failure_reasons[status["failure"] or "(none)"] += 1

    # ------------------------------------------------------------- 6.4, 6.5

    def check_orders(self):
        for order_id, o in self.orders.items():
            if o["status"] not in FINAL_STATUSES:
                self.v.add("order-not-final", f"order {order_id} is {o['status']} after the run")
            view = self.views.get(order_id)
            if view != o["status"]:
                self.v.add("read-model", f"order {order_id}: orders.status {o['status']} but order_view {view}")
        for order_id in self.views:
            if order_id not in self.orders:
                self.v.add("read-model", f"order_view has {order_id}, orders has not")

    def check_requests(self):
        """6.5: every answered POST is an order, once; no order nobody asked for."""
        ours = {}
        for rec in self.w.records:
            if rec.order_id is not None:
                ours[rec.order_id] = rec
                if rec.order_id not in self.orders:
                    self.v.add("order-lost", f"POST (key {rec.key}) answered {rec.answered_status} with order "
                               f"{rec.order_id}, which is not in the orders table")
                elif self.keys.get(rec.key) not in (None, rec.order_id):
                    self.v.add("idempotency", f"key {rec.key}: answered {rec.order_id}, stored {self.keys[rec.key]}")
                elif self.orders[rec.order_id]["total"] != rec.total_cents:
                    self.v.add("order-total", f"order {rec.order_id}: total_cents {self.orders[rec.order_id]['total']}"
                               f" != {rec.total_cents} asked for")
                elif self.order_items[rec.order_id] != _items_counter(rec.items):
                    self.v.add("order-items", f"order {rec.order_id}: items {dict(self.order_items[rec.order_id])} "
                               f"!= asked {dict(_items_counter(rec.items))}")
        unanswered_keys = {rec.key for rec in self.w.records if rec.order_id is None}
        from_unanswered = {self.keys[k] for k in unanswered_keys if k in self.keys}
        for order_id in self.orders:
            if order_id not in ours and order_id not in from_unanswered:
                self.v.add("order-unasked", f"order {order_id} matches no POST of this run (a request applied twice?)")
        key_of_order = Counter(self.keys.values())
        for order_id, n in key_of_order.items():
            if n > 1:
                self.v.add("idempotency", f"order {order_id} is stored under {n} idempotency keys")

    # ------------------------------------------------------------------ 6.1

    def restocks_of(self, product):
        """Restocks: the ledger's, when within what the API answered (a
        restock with no answer may or may not have happened)."""
        ledger = self.stock_ledger[product]["RESTOCK"]
        low = self.w.restocked[product]
        high = low + self.w.restock_ambiguous[product]
        if not low <= ledger <= high:
            self.v.add("restock", f"{product}: ledger has {ledger} restocked, the API confirmed {low} "
                       f"(+{high - low} unanswered)")
        return ledger

    def check_stock(self):
        held = Counter()
        for order_id, state in self.reservations.items():
            if state == "RESERVED":
                held.update(self.reservation_items[order_id])
        for product, initial in self.w.products.items():
            if product not in self.products:
                self.v.add("stock", f"product {product} is missing")
                continue
            stock, reserved = self.products[product]
            restocks = self.restocks_of(product)
            expected = initial + restocks - held[product]
            if stock != expected or stock < 0:
                self.v.add("stock", f"{product}: initial {initial} + restocks {restocks} - "
                           f"RESERVED {held[product]} = {expected}, but stock is {stock}")
            if reserved != held[product]:
                self.v.add("stock-reserved-column", f"{product}: reserved column {reserved} != RESERVED quantities {held[product]}")
            if self.stock_ledger[product]["INITIAL"] != initial:
                self.v.add("stock-ledger", f"{product}: ledger INITIAL {self.stock_ledger[product]['INITIAL']} != {initial}")
            if sum(self.stock_ledger[product].values()) != stock:
                self.v.add("stock-ledger", f"{product}: ledger sums to {sum(self.stock_ledger[product].values())}, stock is {stock}")

    # ------------------------------------------------------------------ 6.2

    def check_balances(self):
        for customer, opening in self.w.opening.items():
            charged = [p for ps in self.payments.values() for p in ps if p["customer"] == customer]
            if customer not in self.accounts:
                if any(p["status"] in ("CAPTURED", "REFUNDED") for p in charged):
                    self.v.add("balance", f"{customer} was charged but has no account")
                continue
            if opening is None:
                opening = self.default_credit_cents
            captured = sum(p["amount"] for p in charged if p["status"] in ("CAPTURED", "REFUNDED"))
            refunded = sum(p["amount"] for p in charged if p["status"] == "REFUNDED")
            balance = self.accounts[customer]
            if opening - captured + refunded != balance or balance < 0:
                self.v.add("balance", f"{customer}: opening {opening} - captured {captured} + refunded {refunded} "
                           f"= {opening - captured + refunded}, but balance is {balance} (cents)")
            ledger = self.account_ledger[customer]
            if ledger["OPENING"] != opening:
                self.v.add("balance-ledger", f"{customer}: ledger OPENING {ledger['OPENING']} != {opening}")
            if sum(ledger.values()) != balance:
                self.v.add("balance-ledger", f"{customer}: ledger sums to {sum(ledger.values())}, balance is {balance}")
        for customer in self.accounts:
            if customer not in self.w.opening:
                self.v.add("balance", f"account {customer} was not opened by this run")

    # ------------------------------------------------------------------ 6.3

    def check_payments_and_reservations(self):
        for order_id, o in self.orders.items():
            payments = self.payments.get(order_id, [])
            if len(payments) > 1:
                self.v.add("payment-doubled", f"order {order_id} has {len(payments)} payments: {payments}")
            captured = [p for p in payments if p["status"] == "CAPTURED"]
            reservation = self.reservations.get(order_id)
            items = self.reservation_items.get(order_id, Counter())
            if o["status"] == "INVENTORY_CONFIRMED":
                if len(captured) != 1 or captured[0]["amount"] != o["total"]:
                    self.v.add("confirmed-payment", f"order {order_id} INVENTORY_CONFIRMED, total {o['total']}: "
                               f"payments {payments}")
                if reservation != "RESERVED" or items != self.order_items[order_id]:
                    self.v.add("confirmed-reservation", f"order {order_id} INVENTORY_CONFIRMED: reservation "
                               f"{reservation} items {dict(items)}, order items {dict(self.order_items[order_id])}")
            elif o["status"] in ("FAILED", "CANCELLED"):
                if captured:
                    self.v.add("final-holds-money", f"order {order_id} {o['status']} ({o['failure'] or o['cancellation']})"
                               f" holds a CAPTURED payment {captured}")
                if reservation == "RESERVED":
                    self.v.add("final-holds-stock", f"order {order_id} {o['status']} ({o['failure'] or o['cancellation']})"
                               f" holds a RESERVED reservation {dict(items)}")
            for p in payments:
                if p["customer"] != o["customer"]:
                    self.v.add("payment-customer", f"order {order_id} of {o['customer']} paid by {p['customer']}")
        for order_id in self.payments:
            if order_id not in self.orders:
                self.v.add("payment-orphan", f"payment for order {order_id}, which does not exist")
        for order_id in self.reservations:
            if order_id not in self.orders:
                self.v.add("reservation-orphan", f"reservation for order {order_id}, which does not exist")

    def check_cancels(self):
        for rec in self.w.records:
            if rec.order_id is None or rec.order_id not in self.orders:
                continue
            status = self.orders[rec.order_id]["status"]
            if rec.cancel_result == "accepted" and status in FINAL_STATUSES and status != "CANCELLED":
                self.v.add("cancel", f"cancel of {rec.order_id} answered 202 but the order ended {status} "
                           f"({self.orders[rec.order_id]['failure']})")
            if status == "CANCELLED" and rec.cancel_result not in ("accepted", "ambiguous", "gave_up"):
                self.v.add("cancel", f"order {rec.order_id} is CANCELLED but no cancel was accepted "
                           f"(answers {rec.cancel_codes})")

    # ----------------------------------------------------------------- bus

    def check_queues(self):
        for db in ("orders", "inventory", "payments"):
            n = int(self.c.psql(db, "SELECT count(*) FROM outbox")[0][0])
            if n:
                self.v.add("outbox-not-drained", f"{db}: {n} outbox rows left")
        if self.c.bus == "pg":
            for topic, sub, n in self.c.psql("bus", "SELECT topic, subscription, count(*) FROM bus_queue GROUP BY 1, 2"):
                self.v.add("bus-queue-not-drained", f"{topic}/{sub}: {n} messages left")
            expected = {key for _, _, key in self.faults.poison_keys}
            seen = set()
            for topic, sub, key, reason, payload in self.c.psql(
                    "bus", "SELECT topic, subscription, key, reason, left(payload, 300) FROM bus_dead_letter"):
                if key in expected:
                    seen.add(key)
                else:
                    self.v.add("dead-letter", f"{topic}/{sub} key {key}: {reason}; payload {payload}")
            for key in expected - seen:
                self.v.add("poison-lost", f"poison message {key} is not in bus_dead_letter (dropped or stuck)")
        else:
            for topic, sub in SUBSCRIPTIONS:
                backlog = pulsar_backlog(self.c, topic, sub)
                if backlog:
                    self.v.add("bus-queue-not-drained", f"{topic}/{sub}: backlog {backlog}")
                stats = self.c.pulsar_admin(f"persistent/public/default/{topic}-DLQ/internalStats")
                if stats and int(stats.get("numberOfEntries", 0)):
                    self.v.add("dead-letter", f"{topic}-DLQ holds {stats['numberOfEntries']} messages")

    # ----------------------------------------------------------------- API

    def check_api(self):
        """The same facts as the API tells them, through the gateway."""
        gw = self.w.gateway
        answered = [rec for rec in self.w.records if rec.order_id is not None]
        session = threading.local()

        def get(path):
            s = getattr(session, "s", None) or requests.Session()
            session.s = s
            for _ in range(5):
                try:
                    r = s.get(gw + path, timeout=(3, 15), headers={"X-API-Key": self.w.keys["viewer"]})
                    if r.status_code < 500:
                        return r
                except requests.RequestException:
                    pass
                time.sleep(0.5)
            return None

        def check_order(rec):
            r = get(f"/orders/{rec.order_id}")
            if r is None or r.status_code != 200:
                self.v.add("api-order", f"GET /orders/{rec.order_id}: {'no answer' if r is None else r.status_code}")
                return
            doc = r.json(parse_float=Decimal)
            db = self.orders.get(rec.order_id)
            if not self.quiet:
                return  # its status may have moved since the database was read
            if doc.get("status") not in FINAL_STATUSES or (db and doc.get("status") != db["status"]):
                self.v.add("api-order", f"GET /orders/{rec.order_id}: status {doc.get('status')}, database "
                           f"{db and db['status']}")
            if cents_of(doc.get("total_amount", -1)) != rec.total_cents:
                self.v.add("api-order", f"GET /orders/{rec.order_id}: total_amount {doc.get('total_amount')}")

        def check_money_and_stock(rec):
            db = self.orders.get(rec.order_id)
            if db is None:
                return
            r = get(f"/payments?order_id={rec.order_id}")
            payments = self.payments.get(rec.order_id, [])
            if r is not None and r.status_code == 200 and payments:
                doc = r.json(parse_float=Decimal)
                if doc.get("status") != payments[0]["status"] or cents_of(doc.get("amount", -1)) != payments[0]["amount"]:
                    self.v.add("api-payment", f"GET /payments?order_id={rec.order_id}: {doc}, database {payments}")
            elif r is None or (r.status_code != 404 or payments):
                self.v.add("api-payment", f"GET /payments?order_id={rec.order_id}: "
                           f"{'no answer' if r is None else r.status_code}, database {payments}")
            r = get(f"/reservations?order_id={rec.order_id}")
            state = self.reservations.get(rec.order_id)
            if state == "FAILED":
                state = None  # a refused request's record: the API shows no reservation (404)
            if r is not None and r.status_code == 200 and state:
                doc = r.json()
                if doc.get("state") != state:
                    self.v.add("api-reservation", f"GET /reservations?order_id={rec.order_id}: {doc}, database {state}")
            elif r is None or (r.status_code != 404 or state):
                self.v.add("api-reservation", f"GET /reservations?order_id={rec.order_id}: "
                           f"{'no answer' if r is None else r.status_code}, database {state}")

        if not self.quiet:  # a system that is still busy answers slowly: a sample will do
            answered = answered[:: max(1, len(answered) // API_SAMPLE)]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(check_order, answered))
            if not self.quiet:
                return  # payments, stock and balances still move: compared only once quiet
            list(pool.map(check_money_and_stock, answered[:: max(1, len(answered) // API_SAMPLE)]))
        for product in self.w.products:
            r = get(f"/products/{product}")
            if r is None or r.status_code != 200 or r.json().get("stock") != self.products.get(product, (None,))[0]:
                self.v.add("api-product", f"GET /products/{product}: {r and r.status_code} {r and r.text[:200]}, "
                           f"database {self.products.get(product)}")
        for customer in self.w.opening:
            if customer not in self.accounts:
                continue
            r = get(f"/accounts/{customer}")
            if r is None or r.status_code != 200 or cents_of(r.json(parse_float=Decimal).get("balance", -1)) != self.accounts[customer]:
                self.v.add("api-account", f"GET /accounts/{customer}: {r and r.status_code} {r and r.text[:200]}, "
                           f"database {self.accounts[customer]} cents")


def _items_counter(items):
    c = Counter()
    for product, quantity, _ in items:
        c[product] += quantity
    return c
