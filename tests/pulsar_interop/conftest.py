"""Fixtures for the interoperability tests between the project's C Pulsar
client (its CLI, oms-pulsar) and the official Apache Pulsar client.

Needs a running broker (infrastructure/pulsar/pulsar.sh start) and a built
CLI (make SANITIZE=1 build/asan/bin/oms-pulsar). Environment:

  PULSAR_URL          pulsar://127.0.0.1:6650
  PULSAR_ADMIN_URL    http://127.0.0.1:8081
  OMS_BIN_DIR         build/asan/bin (relative to the repository root)
  PULSAR_INTEROP_COUNT  messages per test, 1000
  PULSAR_ADMIN_TOKEN_FILE  the broker's superuser token (both clients use it)
"""

import os
import urllib.error
import uuid

import pulsar
import pytest

from pulsar_interop_util import (
    ADMIN_TOKEN_FILE,
    PULSAR_ADMIN_URL,
    PULSAR_URL,
    admin_get,
    client_authentication,
    oms_pulsar_path,
)

RUN_ID = uuid.uuid4().hex[:8]

# The C CLI (oms-pulsar, run as a subprocess) reads its token from here: it
# uses topics no service role may use, as the superuser.
if ADMIN_TOKEN_FILE:
    os.environ["PULSAR_AUTH_TOKEN_FILE"] = ADMIN_TOKEN_FILE


@pytest.fixture(scope="session")
def broker():
    """The broker must be up and have public/default; fail loudly otherwise."""
    try:
        namespaces = admin_get("/admin/v2/namespaces/public")
    except (urllib.error.URLError, OSError) as error:
        pytest.fail(
            "no Pulsar broker at %s (%s); start one with infrastructure/pulsar/pulsar.sh start"
            % (PULSAR_ADMIN_URL, error)
        )
    assert "public/default" in namespaces
    return PULSAR_URL


@pytest.fixture(scope="session")
def oms_pulsar():
    """Path of the C client's CLI."""
    path = oms_pulsar_path()
    if not os.access(path, os.X_OK):
        pytest.fail("%s is missing; build it with make SANITIZE=1 build/asan/bin/oms-pulsar" % path)
    return str(path)


@pytest.fixture
def client(broker):
    c = pulsar.Client(broker, authentication=client_authentication(),
                      logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Warn))
    yield c
    c.close()


@pytest.fixture
def topic(request):
    """A topic name no other run or test uses."""
    name = request.node.name.replace("[", "-").replace("]", "").replace("_", "-")
    return "persistent://public/default/interop-%s-%s-%s" % (name, RUN_ID, uuid.uuid4().hex[:6])


@pytest.fixture
def message_count():
    return int(os.environ.get("PULSAR_INTEROP_COUNT", "1000"))
