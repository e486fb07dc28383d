"""Review M3: a service never commits a request's work after the gateway may
have answered 504. Each service's DB_COMMIT_DEADLINE_MS plus its
DB_STATEMENT_TIMEOUT_MS (the longest the COMMIT's round trip may take) stays
below the gateway's UPSTREAM_TIMEOUT_MS, and DB_LOCK_TIMEOUT_MS below the
statement timeout, with the binaries' defaults and as docker-compose.yml and
k8s set them (docs/architecture.md, "Time limits in the database")."""
import re

import pytest

from deploy_helpers import REPO
from process_settings import SERVICES, run, settings_of
from test_deploy_consistency import compose, compose_env, k8s  # noqa: F401 (fixtures)

GATEWAY = "api-gateway"
LIMITS = ("DB_STATEMENT_TIMEOUT_MS", "DB_LOCK_TIMEOUT_MS", "DB_COMMIT_DEADLINE_MS")


@pytest.fixture(scope="module")
def defaults():
    names = {GATEWAY: ("UPSTREAM_TIMEOUT_MS",), **{s: LIMITS for s in SERVICES}}
    return {p: {n: int(settings_of(REPO, p).row(n)["default"]) for n in ns} for p, ns in names.items()}


def given(env, name, default):
    """The value a deployment gives (compose's ${VAR:-default} as its default),
    else the binary's default."""
    value = env.get(name)
    if value is None:
        return default
    m = re.fullmatch(r"\$\{[A-Z_]+:-(\d+)\}", str(value))
    return int(m.group(1) if m else value)


def effective(defaults, env_of):
    return {p: {n: given(env_of(p), n, d) for n, d in names.items()} for p, names in defaults.items()}


def assert_limits_hold(values, where):
    upstream = values[GATEWAY]["UPSTREAM_TIMEOUT_MS"]
    for service in SERVICES:
        v = values[service]
        assert v["DB_LOCK_TIMEOUT_MS"] < v["DB_STATEMENT_TIMEOUT_MS"], (where, service, v)
        assert v["DB_COMMIT_DEADLINE_MS"] + v["DB_STATEMENT_TIMEOUT_MS"] < upstream, (where, service, v, upstream)


def test_the_defaults_keep_a_timed_out_request_from_being_applied_later(defaults):
    assert_limits_hold(effective(defaults, lambda p: {}), "defaults")


def test_compose_keeps_them(defaults, compose):  # noqa: F811
    assert_limits_hold(effective(defaults, lambda p: compose_env(compose, p)), "docker-compose.yml")


def test_k8s_keeps_them(defaults, k8s):  # noqa: F811
    assert_limits_hold(effective(defaults, lambda p: k8s["env"][p]), "k8s")


def test_a_lock_timeout_not_below_the_statement_timeout_stops_the_service():
    done = run(REPO, "inventory-service", [], env={"OMS_LOCAL_RUN": "1", "DB_LOCK_TIMEOUT_MS": "2000",
                                                   "DB_STATEMENT_TIMEOUT_MS": "2000"})
    assert done.returncode == 2, done.stderr
    assert "DB_LOCK_TIMEOUT_MS" in done.stderr and "below DB_STATEMENT_TIMEOUT_MS" in done.stderr, done.stderr
