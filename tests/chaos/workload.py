"""The load of a chaos run, through the gateway: products and accounts set up
first, then orders of mixed outcomes (normal, declined, short of stock),
cancels at random moments, POSTs retried with the same Idempotency-Key, and a
few restocks; every answer is recorded for the invariant checks.

Authentication is on (SPEC 7): the gateway knows one API key per role the
load uses and one per customer (api_keys, api_keys_setting); the admin sets
up products, accounts and restocks, each customer orders and cancels for
itself, and the invariant checks read as a viewer."""
import heapq
import json
import os
import random
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal

import requests

TIMEOUT = (3, 15)  # connect, read (s)
POST_GIVE_UP_S = 120  # a POST retried this long without an answer is "unanswered"
CANCEL_GIVE_UP_S = 120
FINAL_STATUSES = ("INVENTORY_CONFIRMED", "FAILED", "CANCELLED")

RICH_BALANCE_CENTS = 100_000_000  # 1,000,000.00
POOR_BALANCE_CENTS = 3_000  # 30.00: a few orders, then declines
AMPLE_STOCK = 1_000_000
SCARCE_STOCK = {"scarce-1": 30, "scarce-2": 10}
RICH = [f"rich-{n:02d}" for n in range(1, 11)]
POOR = [f"poor-{n:02d}" for n in range(1, 5)]
DEFAULT_CREDIT_CUSTOMERS = ["default-01", "default-02"]  # no account: DEFAULT_CREDIT
STAFF = ("admin", "viewer")


def api_keys():
    """A fresh API key per staff role and per customer: {who: key}."""
    return {who: os.urandom(18).hex() for who in (*STAFF, *RICH, *POOR, *DEFAULT_CREDIT_CUSTOMERS)}


def api_keys_setting(keys):
    """The gateway's API_KEYS for `keys`: key:role, or key:customer:<id>."""
    return ",".join(f"{key}:{who}" if who in STAFF else f"{key}:customer:{who}" for who, key in keys.items())


def money(cents):
    """Cents as a JSON number with at most two decimals (repr of n/100 is
    the shortest string that reads back as the same double)."""
    return cents / 100


def cents_of(value):
    """A JSON money value (parsed as Decimal) in integer cents."""
    return int((Decimal(value) * 100).to_integral_value())


@dataclass
class OrderRecord:
    key: str
    customer: str
    items: list  # [(product_id, quantity, unit_price_cents)]
    scenario: str
    dup_mode: str = None  # None, "after", "concurrent"
    cancel_delay_s: float = None
    order_id: str = None
    answered_status: int = None
    rejected: tuple = None  # (status, body) of a 4xx answer
    gave_up: bool = False
    post_codes: list = field(default_factory=list)
    dup_ids: list = field(default_factory=list)
    created_at: float = None
    cancel_result: str = None  # accepted, conflict, ambiguous, not_found, gave_up
    cancel_codes: list = field(default_factory=list)

    @property
    def total_cents(self):
        return sum(q * p for _, q, p in self.items)

    def body(self):
        return json.dumps({
            "customer_id": self.customer,
            "items": [{"product_id": p, "quantity": q, "unit_price": money(c)} for p, q, c in self.items],
        })


class Workload:
    def __init__(self, gateway, orders, rate, workers, cancel_share, dup_share, seed, stop, log, violation, keys):
        self.gateway = gateway
        self.orders_wanted = orders
        self.rate = rate
        self.workers = workers
        self.cancel_share = cancel_share
        self.dup_share = dup_share
        self.rng = random.Random(seed)
        self.rng_lock = threading.Lock()
        self.stop = stop
        self.log = log
        self.violation = violation
        self.local = threading.local()
        self.codes = Counter()  # "POST /orders 201" -> n
        self.codes_lock = threading.Lock()
        self.records = []
        self.products = {}  # product_id -> initial stock
        self.prices = {}  # product_id -> catalog price cents
        self.rich, self.poor, self.default_credit_customers = [], [], []
        self.opening = {}  # customer_id -> opening balance cents (None: DEFAULT_CREDIT)
        self.restocked = Counter()  # product -> quantity confirmed by a 200
        self.restock_ambiguous = Counter()  # product -> quantity with no clear answer
        self._cancels = []  # heap of (due time, seq, record)
        self._cancel_lock = threading.Condition()
        self._cancel_seq = 0
        self.loading = False
        self.keys = keys

    # ----------------------------------------------------------------- HTTP

    def session(self):
        s = getattr(self.local, "session", None)
        if s is None:
            s = requests.Session()
            self.local.session = s
        return s

    def request(self, method, path, label, who="admin", headers=None, **kw):
        """One HTTP request with `who`'s API key; returns the response or
        None on a transport error."""
        headers = dict(headers or {}, **{"X-API-Key": self.keys[who]})
        try:
            r = self.session().request(method, self.gateway + path, timeout=TIMEOUT, headers=headers, **kw)
        except requests.RequestException:
            self.count(f"{label} transport-error")
            self.local.session = None  # the connection may be half-dead
            return None
        self.count(f"{label} {r.status_code}")
        return r

    def count(self, what):
        with self.codes_lock:
            self.codes[what] += 1

    def pick(self, fn, *args):
        with self.rng_lock:
            return fn(*args)

    # ---------------------------------------------------------------- setup

    def setup(self):
        """Products and accounts through the API (before any fault)."""
        for n in range(1, 5):
            self.products[f"ample-{n}"] = AMPLE_STOCK
        self.products.update(SCARCE_STOCK)
        for product, stock in self.products.items():
            # The catalog's price (SPEC 7): every order of the product is at it.
            self.prices[product] = self.rng.randint(1, 2000)
            self._create("/products", {"product_id": product, "name": f"chaos {product}", "stock": stock,
                                       "price": money(self.prices[product])})
        self.rich, self.poor, self.default_credit_customers = RICH, POOR, DEFAULT_CREDIT_CUSTOMERS
        for customer in self.rich:
            self._create("/accounts", {"customer_id": customer, "balance": money(RICH_BALANCE_CENTS)})
            self.opening[customer] = RICH_BALANCE_CENTS
        for customer in self.poor:
            self._create("/accounts", {"customer_id": customer, "balance": money(POOR_BALANCE_CENTS)})
            self.opening[customer] = POOR_BALANCE_CENTS
        for customer in self.default_credit_customers:
            self.opening[customer] = None

    def _create(self, path, body):
        deadline = time.time() + 30
        while True:
            r = self.request("POST", path, f"POST {path}", json=body)
            if r is not None and r.status_code == 201:
                return
            if time.time() > deadline:
                detail = "no answer" if r is None else f"{r.status_code} {r.text[:200]}"
                raise RuntimeError(f"setup: POST {path} {body}: {detail}")
            time.sleep(0.5)

    # --------------------------------------------------------------- orders

    def make_order(self):
        rng = self.rng
        with self.rng_lock:
            roll = rng.random()
            ample = [p for p in self.products if p.startswith("ample-")]
            scarce = list(SCARCE_STOCK)
            if roll < 0.60:
                scenario = "normal"
                customer = rng.choice(self.rich + self.default_credit_customers)
                lines = rng.sample(ample, rng.randint(1, 3))
                items = [(p, rng.randint(1, 3), self.prices[p]) for p in lines]
                if rng.random() < 0.02:  # the same product on two lines
                    items.append((items[0][0], 1, self.prices[items[0][0]]))
            elif roll < 0.78:
                scenario = "poor-customer"
                customer = rng.choice(self.poor)
                product = rng.choice(ample)
                items = [(product, rng.randint(1, 2), self.prices[product])]
            elif roll < 0.93:
                scenario = "scarce-stock"
                customer = rng.choice(self.rich)
                product = rng.choice(scarce)
                items = [(product, rng.randint(1, 3), self.prices[product])]
                if rng.random() < 0.5:
                    extra = rng.choice(ample)
                    items.append((extra, 1, self.prices[extra]))
            else:
                scenario = "poor-and-scarce"
                customer = rng.choice(self.poor)
                product = rng.choice(scarce)
                items = [(product, 1, self.prices[product])]
            rec = OrderRecord(key=str(uuid.uuid4()), customer=customer, items=items, scenario=scenario)
            if rng.random() < self.dup_share:
                rec.dup_mode = rng.choice(["after", "concurrent"])
            if rng.random() < self.cancel_share:
                # Half soon after creation (racing the saga), half later.
                rec.cancel_delay_s = rng.uniform(0, 0.3) if rng.random() < 0.5 else rng.uniform(1, 10)
        return rec

    def post_until_answered(self, rec, label):
        """POSTs rec with its Idempotency-Key until a definitive answer;
        returns the order id answered, or None (rejected or no answer)."""
        started = time.time()
        tries = 0
        while not self.stop.is_set():
            r = self.request("POST", "/orders", label, who=rec.customer, data=rec.body(),
                             headers={"Content-Type": "application/json", "Idempotency-Key": rec.key})
            tries += 1
            if r is not None:
                rec.post_codes.append(r.status_code)
            if r is not None and r.status_code in (200, 201):
                try:
                    order = r.json(parse_float=Decimal)
                    return order, r.status_code
                except ValueError:
                    self.violation("post-answer", f"order key {rec.key}: {r.status_code} with a body that is not JSON: {r.text[:200]}")
                    return None, r.status_code
            if r is not None and r.status_code == 409:
                time.sleep(self.pick(random.Random.uniform, self.rng, 0.1, 0.5))
                continue
            if r is not None and 400 <= r.status_code < 500 and r.status_code != 429:
                rec.rejected = (r.status_code, r.text[:300])
                return None, r.status_code
            if time.time() - started > POST_GIVE_UP_S:
                return None, None
            time.sleep(min(2.0, 0.05 * (2 ** min(tries, 6))))
        return None, None

    def place(self, rec):
        """One order: POST (and its duplicates), then maybe a cancel later."""
        if rec.dup_mode == "concurrent":
            box = {}
            twin = threading.Thread(target=lambda: box.update(result=self.post_until_answered(rec, "POST /orders (duplicate)")))
            twin.start()
            order, status = self.post_until_answered(rec, "POST /orders")
            twin.join()
            dup_order = box.get("result", (None, None))[0]
            if dup_order is not None:
                rec.dup_ids.append(str(dup_order.get("id")))
        else:
            order, status = self.post_until_answered(rec, "POST /orders")
        if order is None:
            if rec.rejected is None:
                rec.gave_up = True
            else:
                self.violation("post-rejected", f"a valid order (key {rec.key}, {rec.body()}) was rejected: {rec.rejected}")
            return
        rec.order_id = str(order.get("id"))
        rec.answered_status = status
        rec.created_at = time.time()
        self._check_answer(rec, order)
        if rec.dup_mode == "after":
            again, _ = self.post_until_answered(rec, "POST /orders (duplicate)")
            if again is not None:
                rec.dup_ids.append(str(again.get("id")))
        for other in rec.dup_ids:
            if other != rec.order_id:
                self.violation("idempotency", f"Idempotency-Key {rec.key} answered two orders: {rec.order_id} and {other}")
        if self.pick(random.Random.random, self.rng) < 0.2:
            r = self.request("GET", f"/orders/{rec.order_id}", "GET /orders/{id} (after POST)", who=rec.customer)
            if r is not None and r.status_code == 404:
                self.violation("read-after-write", f"order {rec.order_id} answered 201 but GET says 404")
        if rec.cancel_delay_s is not None:
            self.schedule_cancel(rec)

    def _check_answer(self, rec, order):
        problems = []
        if cents_of(order.get("total_amount", -1)) != rec.total_cents:
            problems.append(f"total_amount {order.get('total_amount')} != {rec.total_cents / 100:.2f}")
        if order.get("customer_id") != rec.customer:
            problems.append(f"customer_id {order.get('customer_id')!r} != {rec.customer!r}")
        if problems:
            self.violation("post-answer", f"order {rec.order_id}: " + "; ".join(problems))

    # -------------------------------------------------------------- cancels

    def schedule_cancel(self, rec):
        with self._cancel_lock:
            self._cancel_seq += 1
            heapq.heappush(self._cancels, (rec.created_at + rec.cancel_delay_s, self._cancel_seq, rec))
            self._cancel_lock.notify()

    def _cancel_loop(self, pool, done):
        while not self.stop.is_set():
            with self._cancel_lock:
                if not self._cancels:
                    if done.is_set():
                        return
                    self._cancel_lock.wait(0.2)
                    continue
                due, _, rec = self._cancels[0]
                wait = due - time.time()
                if wait > 0:
                    self._cancel_lock.wait(min(wait, 0.2))
                    continue
                heapq.heappop(self._cancels)
            pool.submit(self.cancel, rec)

    def cancel(self, rec):
        started = time.time()
        unclear = False
        tries = 0
        while not self.stop.is_set():
            r = self.request("POST", f"/orders/{rec.order_id}/cancel", "POST /orders/{id}/cancel", who=rec.customer,
                             json={"reason": "chaos: changed my mind"})
            tries += 1
            if r is not None:
                rec.cancel_codes.append(r.status_code)
            if r is not None and r.status_code == 202:
                rec.cancel_result = "accepted"
                return
            if r is not None and r.status_code == 409:
                rec.cancel_result = "ambiguous" if unclear else "conflict"
                return
            if r is not None and r.status_code == 404:
                rec.cancel_result = "not_found"
                self.violation("cancel-404", f"cancel of accepted order {rec.order_id} answered 404")
                return
            # A 5xx or no answer: the cancel may or may not have been applied.
            unclear = True
            if time.time() - started > CANCEL_GIVE_UP_S:
                rec.cancel_result = "gave_up"
                return
            time.sleep(min(2.0, 0.05 * (2 ** min(tries, 6))))

    # ------------------------------------------------------------- restocks

    def _restock_loop(self, interval_s):
        while not self.stop.wait(interval_s) and self.loading:
            product = self.pick(random.Random.choice, self.rng, list(SCARCE_STOCK))
            quantity = self.pick(random.Random.randint, self.rng, 1, 5)
            # Never retried: a restock has no idempotency key, so a retry of
            # an unanswered one could count twice.
            r = self.request("POST", f"/products/{product}/stock", "POST /products/{id}/stock",
                             json={"quantity": quantity})
            if r is not None and r.status_code == 200:
                self.restocked[product] += quantity
            elif r is not None and 400 <= r.status_code < 500:
                self.violation("restock", f"restock of {product} by {quantity} answered {r.status_code}: {r.text[:200]}")
            else:
                self.restock_ambiguous[product] += quantity

    # ------------------------------------------------------------------ run

    def run(self, restock_interval_s=3.0):
        """Places every order at `rate` per second; returns when every order
        and every cancel has its answer."""
        self.loading = True
        done_placing = threading.Event()
        restocker = threading.Thread(target=self._restock_loop, args=(restock_interval_s,), name="restock", daemon=True)
        restocker.start()
        with ThreadPoolExecutor(self.workers, thread_name_prefix="order") as orders_pool, \
                ThreadPoolExecutor(8, thread_name_prefix="cancel") as cancel_pool:
            canceller = threading.Thread(target=self._cancel_loop, args=(cancel_pool, done_placing),
                                         name="cancels", daemon=True)
            canceller.start()
            started = time.time()
            futures = []
            for n in range(self.orders_wanted):
                if self.stop.is_set():
                    break
                due = started + n / self.rate
                delay = due - time.time()
                if delay > 0:
                    time.sleep(delay)
                rec = self.make_order()
                self.records.append(rec)
                futures.append(orders_pool.submit(self.place, rec))
                if n and n % 500 == 0:
                    self.log(f"load: {n} orders sent")
            for f in futures:
                f.result()
            done_placing.set()
            with self._cancel_lock:
                self._cancel_lock.notify_all()
            canceller.join()
        self.loading = False
        restocker.join(timeout=30)
