"""The services trust only the gateway (SPEC 7; security review H3): a service
reached directly, without the internal credential, answers 401 on every route
but /health, /ready and /metrics, and in a local run it listens on 127.0.0.1
only."""

import socket
import uuid

import pytest
import requests

from conftest import HTTP_TIMEOUT_S, SERVICE_URLS, assert_error, port_of

ORDER = str(uuid.uuid4())
ROUTES = {
    "order": [("POST", "/orders"), ("GET", "/orders"), ("GET", f"/orders/{ORDER}"),
              ("POST", f"/orders/{ORDER}/cancel"), ("GET", f"/orders/{ORDER}/saga"),
              ("GET", "/customers/c-1/orders"), ("GET", "/sagas"), ("GET", "/no-such-route")],
    "inventory": [("POST", "/products"), ("GET", "/products"), ("GET", "/products/product-1"),
                  ("PUT", "/products/product-1/price"), ("POST", "/products/product-1/stock"),
                  ("GET", f"/reservations?order_id={ORDER}")],
    "payment": [("POST", "/accounts"), ("GET", "/accounts/c-1"), ("GET", f"/payments?order_id={ORDER}")],
}
ADMIN = {"X-OMS-Role": "admin", "X-OMS-Principal": "local"}


def call(service, method, path, headers):
    body = "{}" if method in ("POST", "PUT") else None
    return requests.request(method, SERVICE_URLS[service] + path, data=body, timeout=HTTP_TIMEOUT_S,
                            headers={"Content-Type": "application/json", **headers})


@pytest.mark.parametrize("service", sorted(ROUTES))
def test_every_route_of_a_service_refuses_a_caller_without_the_internal_credential(system, service):
    forged = {**ADMIN, "X-OMS-Internal-Key": "not-the-key-" + uuid.uuid4().hex}
    for method, path in ROUTES[service]:
        for headers in (ADMIN, forged):
            r = call(service, method, path, headers)
            error = assert_error(r, 401)
            assert error["code"] == "unauthorized", (method, path, r.text)


@pytest.mark.parametrize("service", sorted(ROUTES))
def test_probes_and_metrics_stay_open_without_a_credential(system, service):
    for path in ("/health", "/ready", "/metrics"):
        r = requests.get(SERVICE_URLS[service] + path, timeout=HTTP_TIMEOUT_S)
        assert r.status_code == 200, (service, path, r.text)


def outward_address():
    """This machine's address on the way out (no packet is sent), or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


@pytest.mark.parametrize("service", sorted(ROUTES))
def test_in_a_local_run_a_service_listens_on_loopback_only(system, service):
    address = outward_address()
    if not address:
        pytest.skip("this machine has no address but loopback")
    with pytest.raises(OSError):
        socket.create_connection((address, int(port_of(SERVICE_URLS[service]))), timeout=3).close()
