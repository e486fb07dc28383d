"""Fixtures of the HTTP server suite: the api-gateway process of the release
build (build/release/bin), started alone with the settings a test needs.

Why the release build: what is measured here is what a deployment gets --
resident memory with 10,000 connections and latency under a slow-client
attack. ASan's shadow memory and quarantine would make the memory figure
meaningless and its slowdown the latency one. The same server code runs
under ASan in the unit tests (lib/oms/tests/unit/test_http.c: deadlines,
per-address cap, parking) and in the black-box suite.

The gateway needs no upstream for what is asked here: /health is answered on
its event loop, /openapi.yaml by a handler thread. Ports come from
OMS_TEST_SLOT (scripts/test.sh): 18090-18092 + 100 * slot. Attackers use
other loopback source addresses (127.0.0.2 and up), so that the per-address
cap does not touch the real client on 127.0.0.1.
"""
import http.client
import json
import os
import resource
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BINARY = REPO / "build" / "release" / "bin" / "api-gateway"
SLOT = int(os.environ.get("OMS_TEST_SLOT", "0"))
BASE_PORT = 18090 + 100 * SLOT


def raise_open_file_limit(needed):
    """This process holds the attackers' sockets: `needed` descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed and (hard == resource.RLIM_INFINITY or hard >= needed):
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    elif soft < needed:
        pytest.fail(f"this test needs {needed} open files; the hard limit (ulimit -Hn) is {hard}")


class Gateway:
    """One api-gateway process; its log (JSON lines) in log_path."""

    def __init__(self, name, port, tmp_path, env):
        self.port = port
        self.log_path = tmp_path / f"{name}.log"
        self.cwd = tmp_path / name  # no .env there
        self.cwd.mkdir()
        full_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PORT": str(port),
            "LOG_LEVEL": "info",
            "OMS_LOCAL_RUN": "1",  # no credential source needed: every request is admin's
            "ORDER_SERVICE_URL": "http://127.0.0.1:9",
            "INVENTORY_SERVICE_URL": "http://127.0.0.1:9",
            "PAYMENT_SERVICE_URL": "http://127.0.0.1:9",
        }
        full_env.update(env)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([str(BINARY)], cwd=self.cwd, env=full_env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.scheme = "https" if "TLS_CERT_FILE" in env else "http"
        deadline = time.monotonic() + 20
        while not self.listening():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"the gateway did not start:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.05)

    def listening(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            return True
        except OSError:
            return False

    def rss_kib(self):
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def threads(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/task"))

    def get(self, path, timeout=5, headers=None):
        """GET on a fresh connection from 127.0.0.1: (status, headers, body, seconds)."""
        started = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path, headers=headers or {})
            r = conn.getresponse()
            body = r.read()
            return r.status, dict(r.getheaders()), body, time.monotonic() - started
        finally:
            conn.close()

    def log_lines(self):
        self.log.flush()
        lines = []
        for raw in self.log_path.read_bytes().splitlines():
            lines.append(json.loads(raw))  # every line must be one JSON object
        return lines

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture
def start_gateway(tmp_path):
    if not BINARY.exists():
        pytest.fail(f"{BINARY} is missing: run `make` first (the build suite of make test does)")
    started = []

    def start(name, port_offset=0, **env):
        g = Gateway(name, BASE_PORT + port_offset, tmp_path, {k: str(v) for k, v in env.items()})
        started.append(g)
        return g

    yield start
    for g in started:
        g.stop()


def open_from(address, port, count, first=b""):
    """`count` connections from the loopback address `address`, each having
    sent `first`; the ones the server refused at once are closed and left out."""
    socks = []
    for _ in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((address, 0))
        try:
            s.connect(("127.0.0.1", port))
            if first:
                s.sendall(first)
        except OSError:
            s.close()
            continue
        socks.append(s)
    return socks


def still_open(sock):
    """Whether the server has not closed the connection (no EOF, no reset)."""
    sock.setblocking(False)
    try:
        sock.recv(1)  # EOF, or an answer to a request that is not complete: closed
        return False
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        sock.setblocking(True)
