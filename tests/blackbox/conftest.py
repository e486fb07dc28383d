"""Black-box tests of the whole system, through its HTTP API (SPEC section 2).

The system must be running (scripts/test.sh starts it with `scripts/oms.sh up`
on the test ports). Settings, from the environment:
  BASE_URL        the gateway (default http://127.0.0.1:18080)
  ORDER_URL, INVENTORY_URL, PAYMENT_URL   the services themselves
                  (defaults http://127.0.0.1:18001 / 18002 / 18003)
  OMS_RUN_DIR     state of that run (default <repo>/.run/test): pids/ are used
                  to pause, kill and restart processes
  PG_PORT         its PostgreSQL (default 25433), for the bus checks
  MESSAGE_BUS     pg | pulsar (default pg)
  API_KEY         sent as X-API-Key on every request when set: an admin key of
                  the gateway's API_KEYS (scripts/test.sh runs the suite with
                  authentication on)
  PSQL            the psql binary (default PostgreSQL 15's)
"""

import contextlib
import decimal
import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
BASE_URL = os.environ.get("BASE_URL", "http://127.0.0.1:18080").rstrip("/")
SERVICE_URLS = {
    "gateway": BASE_URL,
    "order": os.environ.get("ORDER_URL", "http://127.0.0.1:18001").rstrip("/"),
    "inventory": os.environ.get("INVENTORY_URL", "http://127.0.0.1:18002").rstrip("/"),
    "payment": os.environ.get("PAYMENT_URL", "http://127.0.0.1:18003").rstrip("/"),
}
OMS_RUN_DIR = Path(os.environ.get("OMS_RUN_DIR", REPO / ".run" / "test"))
PG_PORT = os.environ.get("PG_PORT", "25433")
MESSAGE_BUS = os.environ.get("MESSAGE_BUS", "pg")
# PostgreSQL 15's client by default; PSQL names another (CI's container job
# runs on a machine with another version).
PSQL = os.environ.get("PSQL", "/usr/lib/postgresql/15/bin/psql")
API_KEY = os.environ.get("API_KEY", "")

# Orders should end in well under 10 s each; the margin covers the ASan build
# on a 2-core machine and saga retries (SAGA_STEP_TIMEOUT_S is 5 in the tests).
ORDER_TIMEOUT_S = 30
FINAL_STATUSES = {"INVENTORY_CONFIRMED", "FAILED", "CANCELLED"}
HTTP_TIMEOUT_S = 15

D = decimal.Decimal


def money(value):
    """A JSON money value as an exact Decimal (the JSON is parsed with
    parse_float=Decimal, so no binary rounding happens on the way)."""
    return D(str(value)).quantize(D("0.01"))


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class Api:
    """A thin client of one base URL; JSON bodies parsed with exact decimals."""

    def __init__(self, base_url):
        self.base_url = base_url
        self.session = requests.Session()

    def request(self, method, path, body=None, headers=None, raw=None):
        all_headers = {"Content-Type": "application/json"}
        if API_KEY:
            all_headers["X-API-Key"] = API_KEY
        all_headers.update(headers or {})
        data = raw if raw is not None else (None if body is None else json.dumps(body))
        if data is None and method == "GET":
            all_headers.pop("Content-Type")
        return self.session.request(
            method, self.base_url + path, data=data, headers=all_headers, timeout=HTTP_TIMEOUT_S
        )

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)


def body_of(response):
    return json.loads(response.text, parse_float=D)


def assert_error(response, status, field=None):
    """The SPEC error body: {"error": {"code": str, "message": str, "field": str|null}}."""
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text}"
    doc = body_of(response)
    assert isinstance(doc.get("error"), dict), response.text
    error = doc["error"]
    assert isinstance(error.get("code"), str) and error["code"], response.text
    assert isinstance(error.get("message"), str) and error["message"], response.text
    assert "field" in error, response.text
    assert error["field"] is None or isinstance(error["field"], str)
    if field is not None:
        assert error["field"] and field in error["field"], f"field should name {field!r}: {response.text}"
    return error


def wait_for(what, probe, timeout=ORDER_TIMEOUT_S, interval=0.2):
    """Calls probe() until it returns a truthy value; fails naming `what` and
    the last value seen."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}; last seen: {last!r}")
        time.sleep(interval)


class System:
    """The running system, as a client sees it, plus the few operator handles
    the fault tests need (pids, psql)."""

    def __init__(self):
        self.api = Api(BASE_URL)
        self.services = {name: Api(url) for name, url in SERVICE_URLS.items()}

    # -- data the tests make (unique ids, so runs never collide) --
    def make_product(self, stock, name="Black-box product", price="1.00"):
        """A product of the catalog at `price` (text, sent as a JSON number
        with exactly those digits), once order-service can take orders for
        it: its copy of the catalog got the price (SPEC 7)."""
        product_id = unique("bb-product")
        D(str(price))  # refuse anything that is not a decimal
        raw = json.dumps({"product_id": product_id, "name": name, "stock": stock, "price": 0}).replace(
            '"price": 0', f'"price": {price}')
        r = self.api.post("/products", raw=raw)
        assert r.status_code == 201, r.text
        self.wait_orderable(product_id)
        return product_id

    def wait_orderable(self, product_id):
        """Until order-service's copy of the catalog knows the product (a
        new product is orderable within a moment: docs/architecture.md)."""
        wait_for(f"{product_id} in order-service's catalog",
                 lambda: self.psql("orders", f"SELECT 1 FROM catalog_prices WHERE product_id = '{product_id}'"),
                 timeout=10, interval=0.05)

    def make_customer(self, balance):
        """An account with an opening balance given as text ("100.00"), sent
        as a JSON number with exactly those digits."""
        customer_id = unique("bb-customer")
        D(str(balance))  # refuse anything that is not a decimal
        raw = json.dumps({"customer_id": customer_id, "balance": 0}).replace('"balance": 0', f'"balance": {balance}')
        r = self.api.post("/accounts", raw=raw)
        assert r.status_code == 201, r.text
        return customer_id

    def stock(self, product_id):
        r = self.api.get(f"/products/{product_id}")
        assert r.status_code == 200, r.text
        return body_of(r)["stock"]

    def balance(self, customer_id):
        r = self.api.get(f"/accounts/{customer_id}")
        assert r.status_code == 200, r.text
        return money(body_of(r)["balance"])

    def payment(self, order_id):
        """The order's payment, or None when there is none."""
        r = self.api.get(f"/payments?order_id={order_id}")
        if r.status_code == 404:
            return None
        assert r.status_code == 200, r.text
        return single(body_of(r), "payments")

    def reservation(self, order_id):
        """The order's reservation, or None when there is none."""
        r = self.api.get(f"/reservations?order_id={order_id}")
        if r.status_code == 404:
            return None
        assert r.status_code == 200, r.text
        return single(body_of(r), "reservations")

    # -- orders --
    def create_order(self, customer_id, items, headers=None, expect=(201,)):
        r = self.api.post("/orders", {"customer_id": customer_id, "items": items}, headers=headers)
        assert r.status_code in expect, r.text
        return body_of(r)

    def order(self, order_id, query=""):
        r = self.api.get(f"/orders/{order_id}{query}")
        assert r.status_code == 200, r.text
        return body_of(r)

    def wait_status(self, order_id, statuses, timeout=ORDER_TIMEOUT_S):
        statuses = {statuses} if isinstance(statuses, str) else set(statuses)
        seen = {}

        def probe():
            seen["order"] = self.order(order_id)
            return seen["order"]["status"] in statuses

        try:
            wait_for(f"order {order_id} to reach {sorted(statuses)}", probe, timeout)
        except pytest.fail.Exception:
            status = seen.get("order", {}).get("status")
            pytest.fail(f"order {order_id} is {status}, expected {sorted(statuses)} within {timeout}s: {seen}")
        return seen["order"]

    def cancel(self, order_id, reason="changed my mind"):
        return self.api.post(f"/orders/{order_id}/cancel", {"reason": reason})

    # -- processes of the run (scripts/oms.sh keeps their pids) --
    def pid(self, name):
        path = OMS_RUN_DIR / "pids" / f"{name}.pid"
        if not path.exists():
            pytest.skip(f"no pid file {path}: the system was not started by scripts/oms.sh")
        return int(path.read_text().split()[0])  # "pid start-time"

    @contextlib.contextmanager
    def paused(self, name):
        """Freezes a process (SIGSTOP) for the block: a deterministic way to
        hold a saga in the step that process must answer."""
        pid = self.pid(name)
        os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(pid, signal.SIGCONT)

    def restart_missing(self):
        """`scripts/oms.sh up` starts again what is not running."""
        env = dict(os.environ)
        env.update(
            OMS_RUN_DIR=str(OMS_RUN_DIR),
            PG_PORT=PG_PORT,
            MESSAGE_BUS=MESSAGE_BUS,
            OMS_SKIP_BUILD="1",
            BIN_DIR=os.environ.get("BIN_DIR", str(REPO / "build" / "asan" / "bin")),
            GATEWAY_PORT=port_of(SERVICE_URLS["gateway"]),
            ORDER_PORT=port_of(SERVICE_URLS["order"]),
            INVENTORY_PORT=port_of(SERVICE_URLS["inventory"]),
            PAYMENT_PORT=port_of(SERVICE_URLS["payment"]),
        )
        subprocess.run([str(REPO / "scripts" / "oms.sh"), "up"], env=env, check=True, timeout=120)

    def psql(self, database, sql):
        """Runs sql on the run's PostgreSQL; returns the rows as lists of str."""
        out = subprocess.run(
            [PSQL, "-X", "-q", "-tA", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", PG_PORT,
             "-U", "postgres", "-d", database, "-c", sql],
            check=True, capture_output=True, text=True, timeout=30,
        ).stdout
        return [line.split("\t") for line in out.splitlines() if line]


PG_AUTH_DIR = OMS_RUN_DIR / "pg-auth"


def psql_as(role, database, sql, passfile=True):
    """psql as `role` with its password file of the run (scripts/oms.sh,
    pg.sh) or none; returns the CompletedProcess (-tA output, '|' between
    columns)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    if passfile:
        env["PGPASSFILE"] = str(PG_AUTH_DIR / f"{role}.pgpass")
    env["PGCONNECT_TIMEOUT"] = "5"
    return subprocess.run([PSQL, "-X", "-w", "-tA", "-h", "127.0.0.1", "-p", PG_PORT, "-U", role, "-d", database,
                           "-c", sql], env=env, capture_output=True, text=True, timeout=30)


def port_of(url):
    return url.rsplit(":", 1)[1].split("/", 1)[0]


def single(doc, plural):
    """GET /payments?order_id= and /reservations?order_id= answer with the
    order's one document; a list (or {"payments": [...]}) of one is taken too."""
    if isinstance(doc, dict) and isinstance(doc.get(plural), list):
        doc = doc[plural]
    if isinstance(doc, list):
        assert len(doc) <= 1, f"more than one: {doc}"
        return doc[0] if doc else None
    return doc


def state_of(document):
    return document.get("state", document.get("status")) if document else None


@pytest.fixture(scope="session")
def system():
    s = System()
    for name, api in s.services.items():
        wait_for(f"{name} /ready at {api.base_url}", lambda api=api: _ready(api), timeout=60)
    return s


def _ready(api):
    try:
        return api.get("/ready").status_code == 200
    except requests.RequestException:
        return False
