"""Gateways of the tests' own in front of the running services (SPEC 7).

scripts/test.sh runs this suite while `scripts/oms.sh up` runs the system on
the test ports. Each test starts the api-gateway binary (BIN_DIR, the asan
build) with the settings it needs -- API keys, JWT keys, a rate limit, a
service URL that is down or a capturing server -- and talks to it directly.
Settings, from the environment:
  BIN_DIR         where api-gateway is (default <repo>/build/asan/bin)
  ORDER_URL, INVENTORY_URL, PAYMENT_URL   the running services
  OMS_RUN_DIR     the run's state: the gateways' logs go to its logs/, where
                  scripts/test.sh looks for sanitizer reports
"""

import http.server
import json
import os
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
BIN_DIR = Path(os.environ.get("BIN_DIR", REPO / "build" / "asan" / "bin"))
OMS_RUN_DIR = Path(os.environ.get("OMS_RUN_DIR", REPO / ".run" / "test"))
SERVICE_URLS = {
    "ORDER_SERVICE_URL": os.environ.get("ORDER_URL", "http://127.0.0.1:18001"),
    "INVENTORY_SERVICE_URL": os.environ.get("INVENTORY_URL", "http://127.0.0.1:18002"),
    "PAYMENT_SERVICE_URL": os.environ.get("PAYMENT_URL", "http://127.0.0.1:18003"),
}
HTTP_TIMEOUT_S = 15

def run_internal_key():
    """The internal credential the run's services accept (scripts/oms.sh
    makes it in OMS_RUN_DIR): the tests' gateways present it as the run's
    gateway does."""
    path = OMS_RUN_DIR / "internal-api-key"
    return path.read_text().strip() if path.is_file() else "internal-" + uuid.uuid4().hex


INTERNAL_KEY = run_internal_key()

# The keys of the tests' gateways: one per role, two customers.
KEYS = {
    "alice": "k-alice-" + uuid.uuid4().hex,
    "bob": "k-bob-" + uuid.uuid4().hex,
    "viewer": "k-viewer-" + uuid.uuid4().hex,
    "operator": "k-operator-" + uuid.uuid4().hex,
    "admin": "k-admin-" + uuid.uuid4().hex,
}
ALICE = "sec-alice-" + uuid.uuid4().hex[:8]
BOB = "sec-bob-" + uuid.uuid4().hex[:8]
API_KEYS = ",".join([
    f"{KEYS['alice']}:customer:{ALICE}",
    f"{KEYS['bob']}:customer:{BOB}",
    f"{KEYS['viewer']}:viewer",
    f"{KEYS['operator']}:operator",
    f"{KEYS['admin']}:admin",
])


# The gateways' ports: below Linux's ephemeral range (an outgoing connection
# could take a port picked there before the gateway binds it), in the test
# slot's own block (scripts/test.sh: OMS_TEST_SLOT=N shifts every port by 100*N;
# 18040-18079 is used by no other suite).
PORT_BASE = 18040 + 100 * int(os.environ.get("OMS_TEST_SLOT", "0"))
PORT_COUNT = 40
_next_port = [0]


def free_port():
    """The next port of the block that nobody listens on now."""
    for _ in range(PORT_COUNT):
        port = PORT_BASE + _next_port[0] % PORT_COUNT
        _next_port[0] += 1
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise AssertionError(f"no free port in {PORT_BASE}-{PORT_BASE + PORT_COUNT - 1}")


def base_env():
    """A clean environment: nothing of the caller's credentials leaks in."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["LOG_LEVEL"] = "info"
    return env


class Gateway:
    """One api-gateway process on a port of its own."""

    def __init__(self, settings, tmp_dir):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = base_env()
        env.update(SERVICE_URLS)
        env.update(PORT=str(self.port), SERVICE_NAME="api-gateway", UPSTREAM_TIMEOUT_MS="3000")
        env.update({k: str(v) for k, v in settings.items() if v is not None})
        log_dir = OMS_RUN_DIR / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"security-gateway-{self.port}.log"
        self.log = open(self.log_path, "ab")
        # A directory of its own: no developer's .env is read.
        self.proc = subprocess.Popen([str(BIN_DIR / "api-gateway")], env=env, cwd=tmp_dir,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.session = requests.Session()
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"the gateway exited ({self.proc.returncode}): {self.log_path.read_text()}")
            try:
                if requests.get(self.url + "/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the gateway did not start: {self.log_path.read_text()}")
            time.sleep(0.05)

    def request(self, method, path, body=None, headers=None, key=None, raw=None):
        all_headers = dict(headers or {})
        if key:
            all_headers["X-API-Key"] = key
        data = raw if raw is not None else (None if body is None else json.dumps(body))
        if data is not None:
            all_headers.setdefault("Content-Type", "application/json")
        return self.session.request(method, self.url + path, data=data, headers=all_headers,
                                    timeout=HTTP_TIMEOUT_S)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        return self.proc.returncode


def gateways_in(make_dir):
    """start(**settings) -> a running Gateway in a folder from make_dir(),
    and stop_all() to stop them (checked to exit cleanly: a sanitizer
    report fails it)."""
    started = []

    def start(**settings):
        settings.setdefault("INTERNAL_API_KEY", INTERNAL_KEY)
        settings.setdefault("RATE_LIMIT_RPS", "0")  # on by default here: the tests send bursts
        g = Gateway(settings, make_dir())
        started.append(g)
        return g

    def stop_all():
        for g in started:
            code = g.stop()
            assert code == 0, f"the gateway exited with {code}: see {g.log_path}"

    return start, stop_all


@pytest.fixture
def start_gateway(tmp_path):
    """start_gateway(**settings) -> a running Gateway, stopped after the test."""
    start, stop_all = gateways_in(lambda: tmp_path)
    yield start
    stop_all()


@pytest.fixture(scope="module")
def start_module_gateway(tmp_path_factory):
    """The same, for a gateway that serves a whole test module."""
    start, stop_all = gateways_in(lambda: tmp_path_factory.mktemp("gateway"))
    yield start
    stop_all()


def run_gateway_expecting_failure(settings, tmp_path):
    """Starts the binary with `settings` and returns (exit status, output)."""
    env = base_env()
    env.update(SERVICE_URLS)
    env.update(PORT=str(free_port()))
    env.update(settings)
    proc = subprocess.run([str(BIN_DIR / "api-gateway")], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=30)
    return proc.returncode, proc.stdout + proc.stderr


class Capture:
    """An HTTP server standing in for every service: answers 200 {} and keeps
    the headers of each request it got. With `tls` (an ssl.SSLContext) it
    speaks HTTPS."""

    def __init__(self, tls=None):
        self.requests = []
        capture = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                capture.requests.append({"method": self.command, "path": self.path,
                                         "headers": dict(self.headers.items()), "body": body})
                payload = b"{}"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def capture():
    c = Capture()
    yield c
    c.stop()
