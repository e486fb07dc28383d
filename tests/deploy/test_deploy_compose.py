"""docker-compose.yml: parses with .env.example as .env, and is the design
(PostgreSQL 15 with the four databases, Pulsar standalone, the services on
MESSAGE_BUS=pulsar, only the gateway published, health-gated start order)."""
import re
import shutil
import subprocess

import pytest
import yaml

from deploy_helpers import REPO

SERVICES = ["order-service", "inventory-service", "payment-service"]
PROCESSES = SERVICES + ["api-gateway"]
PULSAR_SECRET_FILES = ["token-secret.key", "admin.token"] + [f"{name}.token" for name in SERVICES]


def compose_config(docker_compose, tmp_path, env_text):
    """`docker-compose config` in a copy of the files it reads, with env_text
    as the .env (so a developer's own .env never changes the result)."""
    work = tmp_path / "repo"
    work.mkdir()
    shutil.copy(REPO / "docker-compose.yml", work / "docker-compose.yml")
    shutil.copytree(REPO / "infrastructure", work / "infrastructure")
    (work / ".env").write_text(env_text)
    # Stand-ins for make-credentials.sh's files (compose checks they exist).
    secrets = work / "secrets" / "pulsar"
    secrets.mkdir(parents=True)
    for name in PULSAR_SECRET_FILES:
        (secrets / name).write_text("test-only\n")
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(tmp_path)}
    return subprocess.run([docker_compose, "-f", "docker-compose.yml", "config"], cwd=work, env=env,
                          capture_output=True, text=True, timeout=120)


def volume_targets(service):
    """target -> (type, source); docker-compose 1.x prints the short form
    "source:target[:mode]", 2.x the long one."""
    result = {}
    for v in service.get("volumes", []):
        if isinstance(v, str):
            parts = v.split(":")
            source, target = parts[0], parts[1]
            kind = "bind" if source.startswith(("/", ".")) else "volume"
        else:
            source, target, kind = v.get("source"), v["target"], v["type"]
        result[target] = (kind, source)
    return result


@pytest.fixture(scope="module")
def config(docker_compose, tmp_path_factory):
    done = compose_config(docker_compose, tmp_path_factory.mktemp("compose"), (REPO / ".env.example").read_text())
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)


def test_config_parses_with_env_example(config):
    assert set(config["services"]) == {"postgres", "pulsar"} | set(PROCESSES)


def test_a_missing_password_stops_compose(docker_compose, tmp_path):
    env_text = "\n".join(line for line in (REPO / ".env.example").read_text().splitlines()
                         if not line.startswith("POSTGRES_PASSWORD="))
    done = compose_config(docker_compose, tmp_path, env_text)
    assert done.returncode != 0
    assert "POSTGRES_PASSWORD" in done.stderr


def test_env_example_lists_every_variable_compose_uses():
    text = (REPO / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", text))
    listed = {line.split("=", 1)[0] for line in (REPO / ".env.example").read_text().splitlines()
              if line and not line.startswith("#")}
    assert used <= listed, f"missing from .env.example: {sorted(used - listed)}"
    assert listed <= used, f".env.example lists variables compose never uses: {sorted(listed - used)}"


def test_postgres_creates_the_four_databases(config):
    pg = config["services"]["postgres"]
    assert pg["image"] == "postgres:15"
    assert pg["environment"]["POSTGRES_SERVICE_DATABASES"] == (
        "orders:order-service,inventory:inventory-service,payments:payment-service,"
        "bus:order-service:inventory-service:payment-service")
    mounts = volume_targets(pg)
    assert mounts["/docker-entrypoint-initdb.d"][1].endswith("infrastructure/postgres/docker-init")
    script = REPO / "infrastructure/postgres/docker-init/create-multiple-databases.sh"
    assert script.is_file()
    assert mounts["/var/lib/postgresql/data"] == ("volume", "postgres-data")
    assert "healthcheck" in pg


def test_pulsar_standalone_with_security_and_a_healthcheck(config):
    """Review H4: the broker authenticates tokens and authorizes per topic
    (container-broker.sh), and is healthy only once its grants are made."""
    pulsar = config["services"]["pulsar"]
    assert re.fullmatch(r"apachepulsar/pulsar:4\.0\.\d+", pulsar["image"])
    assert pulsar["command"] == ["bash", "/oms/pulsar/container-broker.sh"]
    assert "/tmp/oms-broker-ready" in pulsar["healthcheck"]["test"]
    mounts = volume_targets(pulsar)
    assert mounts["/pulsar/data"] == ("volume", "pulsar-data")
    assert mounts["/oms/pulsar"][0] == "bind" and mounts["/oms/pulsar"][1].endswith("infrastructure/pulsar")
    env = pulsar["environment"]
    assert env["PULSAR_ADVERTISED_ADDRESS"] == "pulsar"
    assert env["PULSAR_TOKEN_SECRET_KEY_FILE"] == "/run/secrets/pulsar_token_secret_key"
    assert env["PULSAR_ADMIN_TOKEN_FILE"] == "/run/secrets/pulsar_admin_token"
    assert secret_names(pulsar) == {"pulsar_token_secret_key", "pulsar_admin_token"}


def secret_names(service):
    return {s if isinstance(s, str) else s["source"] for s in service.get("secrets", [])}


def test_each_service_holds_only_its_own_pulsar_token(config):
    files = {name: spec["file"] for name, spec in config["secrets"].items()}
    for name in SERVICES:
        s = config["services"][name]
        (secret,) = secret_names(s)
        assert files[secret].endswith(f"secrets/pulsar/{name}.token")
        assert s["environment"]["PULSAR_AUTH_TOKEN_FILE"] == f"/run/secrets/{secret}"
    assert not secret_names(config["services"]["api-gateway"])
    assert not secret_names(config["services"]["postgres"])


def test_the_broker_script_refuses_missing_and_placeholder_credentials(tmp_path):
    script = REPO / "infrastructure/pulsar/container-broker.sh"
    key = tmp_path / "key"
    admin = tmp_path / "admin.token"
    admin.write_text("eyJ.test.only\n")
    base = {"PATH": "/usr/bin:/bin", "PULSAR_ADVERTISED_ADDRESS": "pulsar",
            "PULSAR_ADMIN_TOKEN_FILE": str(admin), "PULSAR_TOKEN_SECRET_KEY_FILE": str(key)}
    for content, said in ((None, "missing"), ("change-me-key\n", "placeholder")):
        if content is not None:
            key.write_text(content)
        done = subprocess.run(["bash", str(script)], cwd=tmp_path, env=base, capture_output=True,
                              text=True, timeout=30)
        assert done.returncode == 2, done.stderr
        assert "PULSAR_TOKEN_SECRET_KEY_FILE" in done.stderr and said in done.stderr


def test_services_use_pulsar_and_wait_for_healthy_dependencies(config):
    for name in SERVICES:
        s = config["services"][name]
        assert s["environment"]["MESSAGE_BUS"] == "pulsar"
        assert s["depends_on"] == {"postgres": {"condition": "service_healthy"},
                                   "pulsar": {"condition": "service_healthy"}}
        assert s["build"]["args"]["SERVICE"] == name
        assert "ports" not in s, f"{name} must not be published"
    gw = config["services"]["api-gateway"]
    assert gw["depends_on"] == {n: {"condition": "service_healthy"} for n in SERVICES}
    assert gw["build"]["args"]["SERVICE"] == "api-gateway"
    assert [(p["published"], p["target"]) for p in gw["ports"]] == [(8080, 8080)]
    for name in ("postgres", "pulsar"):
        assert "ports" not in config["services"][name]


def test_named_volumes(config):
    assert set(config["volumes"]) == {"postgres-data", "pulsar-data"}


def test_each_database_is_used_by_its_service(config):
    dbs = {name: config["services"][name]["environment"]["POSTGRES_DB"] for name in SERVICES}
    assert dbs == {"order-service": "orders", "inventory-service": "inventory", "payment-service": "payments"}


def test_each_service_logs_in_as_its_own_role(config):
    """Least privilege (review H5): no service uses the superuser; each has
    its own role, whose password the postgres container sets."""
    pg = config["services"]["postgres"]["environment"]
    for name in SERVICES:
        env = config["services"][name]["environment"]
        assert env["POSTGRES_USER"] == name
        var = name.upper().replace("-", "_") + "_DB_PASSWORD"
        assert env["POSTGRES_PASSWORD"] == pg[var]
        assert env["POSTGRES_PASSWORD"] != pg["POSTGRES_PASSWORD"]


@pytest.mark.parametrize("var", ["ORDER_SERVICE_DB_PASSWORD", "INVENTORY_SERVICE_DB_PASSWORD",
                                 "PAYMENT_SERVICE_DB_PASSWORD", "API_KEYS", "INTERNAL_API_KEY"])
def test_a_missing_secret_stops_compose(docker_compose, tmp_path, var):
    env_text = "\n".join(line for line in (REPO / ".env.example").read_text().splitlines()
                         if not line.startswith(var + "="))
    done = compose_config(docker_compose, tmp_path, env_text)
    assert done.returncode != 0
    assert var in done.stderr
