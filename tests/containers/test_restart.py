"""A service container killed mid-load (issue 15): the compose file's restart
policy brings it back and every saga that was accepted finishes, with the
money and the stock adding up (SPEC invariants 6.1, 6.2).

The container's process is killed with SIGKILL from the host, as a crash or
the OOM killer would: `podman kill` (like `docker kill`) counts as stopping
the container by hand, which no restart policy answers (podman 4.3 leaves it
stopped even with `always`).

CT_KILL_CONTAINER names the container to kill (containers.sh sets it to the
compose project's payment-service: sagas wait on it while it is down);
CT_ENGINE is podman (default) or docker (the GitHub workflow)."""
import os
import subprocess
import threading
import time

import pytest

from conftest import blackbox

ORDERS = 60
STOCK = 40
PRICE = "2.50"
CONTAINER = os.environ.get("CT_KILL_CONTAINER", "")
ENGINE = os.environ.get("CT_ENGINE", "podman")


def engine(*args):
    return subprocess.run([ENGINE, *args], check=True, capture_output=True, text=True, timeout=60).stdout.strip()


def crash(container):
    pid = engine("inspect", "--format", "{{.State.Pid}}", container)
    kill = ["kill", "-KILL", pid]
    # The engine's processes are root's: the workflow's runner is not.
    subprocess.run(kill if os.geteuid() == 0 else ["sudo", *kill], check=True, timeout=30)


def container_state():
    """(running, restart count, started at) of the container."""
    out = engine("inspect", "--format", "{{.State.Running}} {{.RestartCount}} {{.State.StartedAt}}", CONTAINER)
    running, count, started = out.split(" ", 2)
    return running == "true", int(count), started


@pytest.mark.skipif(not CONTAINER, reason="CT_KILL_CONTAINER is not set (containers.sh sets it)")
def test_a_killed_service_comes_back_and_every_saga_finishes(system):
    product = system.make_product(stock=STOCK, price=PRICE)
    customers = [system.make_customer(balance="1000.00") for _ in range(4)]
    _, restarts_before, started_before = container_state()
    accepted = []
    refused = []

    def place_orders():
        for i in range(ORDERS):
            r = system.api.post("/orders", {"customer_id": customers[i % len(customers)],
                                            "items": [{"product_id": product, "quantity": 1}]})
            if r.status_code == 201:
                accepted.append(blackbox.body_of(r)["id"])
            else:
                refused.append(r.status_code)
            time.sleep(0.05)

    load = threading.Thread(target=place_orders)
    load.start()
    time.sleep(1.0)
    crash(CONTAINER)
    load.join(timeout=120)
    assert not load.is_alive()

    # The restart policy (unless-stopped) starts it again: a new start, counted.
    def back():
        running, count, started = container_state()
        return running and (count > restarts_before or started != started_before)
    blackbox.wait_for(f"{CONTAINER} to be restarted by its restart policy", back, timeout=60, interval=0.5)

    assert accepted, f"no order was accepted: {refused}"
    final = {o: system.wait_status(o, blackbox.FINAL_STATUSES, timeout=180) for o in accepted}
    confirmed = [o for o in final.values() if o["status"] == "INVENTORY_CONFIRMED"]
    assert all(o["status"] in ("INVENTORY_CONFIRMED", "FAILED") for o in final.values()), \
        {o["status"] for o in final.values()}
    # 6.1: what was confirmed is what left the stock; every unit that could be
    # sold was (orders failed only for want of stock).
    assert system.stock(product) == STOCK - len(confirmed)
    assert len(confirmed) == min(STOCK, len(accepted))
    # 6.2: each customer paid exactly for its confirmed orders.
    for customer in customers:
        mine = [o for o in confirmed if o["customer_id"] == customer]
        expected = blackbox.money("1000.00") - len(mine) * blackbox.money(PRICE)
        assert system.balance(customer) == expected, customer
