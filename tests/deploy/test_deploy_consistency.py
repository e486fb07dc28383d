"""The deployment files agree with the code and with docs/architecture.md:
- each process is given only environment variables it reads (as its binary
  lists them: --print-settings=json, process_settings.py), every variable it
  requires, and the same set by docker-compose.yml and k8s/;
- ports, probe paths, databases and service URLs agree across the Dockerfile,
  docker-compose.yml, k8s/ and docs/architecture.md."""
import re

import pytest
import yaml

from deploy_helpers import REPO
from process_settings import PROCESSES, SERVICES, settings_of


# ---- sources of truth ----

def architecture_table():
    """process -> (local port, container port, database) from docs/architecture.md."""
    text = (REPO / "docs/architecture.md").read_text()
    rows = {}
    for m in re.finditer(r"^\|\s*([a-z-]+)\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*`?([a-z]+)`?\s*\|\s*$", text, re.M):
        rows[m.group(1)] = (int(m.group(2)), int(m.group(3)), None if m.group(4) == "none" else m.group(4))
    return rows


def architecture_pulsar_ports():
    text = (REPO / "docs/architecture.md").read_text()
    m = re.search(r"^\|\s*Pulsar[^|]*\|\s*(\d+), admin (\d+)\s*\|\s*(\d+), (\d+)\s*\|", text, re.M)
    assert m, "docs/architecture.md: the Pulsar row of the port table changed shape"
    return {"broker": int(m.group(3)), "admin": int(m.group(4))}


def architecture_settings():
    text = (REPO / "docs/architecture.md").read_text()
    section = text.split("## Settings", 1)[1].split("\n## ", 1)[0]
    names = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", section))
    # READ_POSTGRES_HOST/`_PORT`/...: the shorthand of the document.
    for m in re.finditer(r"`(READ_)POSTGRES_HOST`((?:/`_[A-Z]+`)+)", section):
        for suffix in re.findall(r"`_([A-Z]+)`", m.group(2)):
            names.add(f"READ_POSTGRES_{suffix}")
    return names


def dockerfile_env():
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    names = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            for name, value in re.findall(r"([A-Z_][A-Z0-9_]*)=(\S+)", line):
                names[name] = value
    return names


@pytest.fixture(scope="module")
def reads():
    return {p: settings_of(REPO, p) for p in PROCESSES}


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def compose_env(compose, process):
    return compose["services"][process].get("environment", {})


def k8s_containers(objects):
    return {o["metadata"]["name"]: o["spec"]["template"]["spec"]["containers"][0]
            for o in objects if o["kind"] in ("Deployment", "StatefulSet")}


def k8s_env(container, configmaps):
    """name -> literal value, or the ConfigMap value it references, or
    ("secret", name, key)."""
    env = {}
    for e in container.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
        elif "configMapKeyRef" in e.get("valueFrom", {}):
            ref = e["valueFrom"]["configMapKeyRef"]
            env[e["name"]] = configmaps[ref["name"]]["data"][ref["key"]]
        elif "secretKeyRef" in e.get("valueFrom", {}):
            ref = e["valueFrom"]["secretKeyRef"]
            env[e["name"]] = ("secret", ref["name"], ref["key"])
        else:
            env[e["name"]] = None
    return env


@pytest.fixture(scope="module")
def k8s(base_objects):
    configmaps = {o["metadata"]["name"]: o for o in base_objects if o["kind"] == "ConfigMap"}
    containers = k8s_containers(base_objects)
    return {
        "containers": containers,
        "env": {name: k8s_env(c, configmaps) for name, c in containers.items()},
        "services": {o["metadata"]["name"]: o for o in base_objects if o["kind"] == "Service"},
        "workload_labels": {o["metadata"]["name"]: o["spec"]["template"]["metadata"]["labels"]
                            for o in base_objects if o["kind"] in ("Deployment", "StatefulSet")},
    }


# ---- settings given == settings read ----

@pytest.mark.parametrize("process", PROCESSES)
def test_the_binary_lists_its_settings(process, reads):
    names = [r["name"] for r in reads[process].rows]
    assert "PORT" in names and "LOG_LEVEL" in names, names
    assert len(names) == len(set(names)), f"{process} lists a setting twice: {names}"


@pytest.mark.parametrize("process", PROCESSES)
def test_compose_gives_only_what_the_process_reads(process, compose, reads):
    given = set(compose_env(compose, process))
    extra = given - reads[process].names
    assert not extra, f"docker-compose.yml gives {process} variables it never reads: {sorted(extra)}"


@pytest.mark.parametrize("process", PROCESSES)
def test_k8s_gives_only_what_the_process_reads(process, k8s, reads):
    given = set(k8s["env"][process])
    extra = given - reads[process].names
    assert not extra, f"k8s gives {process} variables it never reads: {sorted(extra)}"


@pytest.mark.parametrize("process", PROCESSES)
def test_required_settings_are_given(process, compose, k8s, reads):
    image = set(dockerfile_env())
    for where, given in (("docker-compose.yml", set(compose_env(compose, process))),
                         ("k8s", set(k8s["env"][process]))):
        missing = reads[process].required - given - image
        assert not missing, f"{where} does not give {process} its required {sorted(missing)}"


@pytest.mark.parametrize("process", PROCESSES)
def test_compose_and_k8s_give_the_same_settings(process, compose, k8s):
    assert set(compose_env(compose, process)) == set(k8s["env"][process])


def test_image_settings_are_read_and_migrations_are_set(reads):
    image = dockerfile_env()
    everything = set().union(*(r.names for r in reads.values()))
    assert set(image) <= everything, f"the Dockerfile sets what no process reads: {sorted(set(image) - everything)}"
    for process in SERVICES:
        for name in reads[process].names:
            if name.endswith("MIGRATIONS_DIR"):
                assert image.get(name, "").startswith("/app/"), f"the image must set {name} for {process}"


def test_given_settings_are_documented(compose, k8s):
    documented = architecture_settings()
    for process in PROCESSES:
        given = set(compose_env(compose, process)) | set(k8s["env"][process])
        undocumented = given - documented
        assert not undocumented, f"{process}: not in docs/architecture.md Settings: {sorted(undocumented)}"


# ---- ports, probes, databases, URLs ----

def test_architecture_table_lists_every_process():
    table = architecture_table()
    assert set(PROCESSES) <= set(table), table


@pytest.mark.parametrize("process", PROCESSES)
def test_container_ports_agree(process, compose, k8s):
    _, container_port, _ = architecture_table()[process]
    svc = compose["services"][process]
    assert int(compose_env(compose, process)["PORT"]) == container_port
    assert int(svc["build"]["args"]["PORT"]) == container_port
    c = k8s["containers"][process]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    metrics = k8s["env"][process].get("METRICS_PORT")  # the services' management port (review H3)
    assert ports == ({"http": container_port} if metrics is None else {"http": container_port, "metrics": int(metrics)})
    assert compose_env(compose, process).get("METRICS_PORT") == metrics
    assert int(k8s["env"][process]["PORT"]) == container_port
    service = k8s["services"][process]
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] in ("http", container_port)


def test_dockerfile_port_and_healthcheck():
    text = (REPO / "Dockerfile").read_text()
    default = int(re.search(r"^ARG PORT=(\d+)$", text, re.M).group(1))
    table = architecture_table()
    assert default == table["order-service"][1] == table["inventory-service"][1] == table["payment-service"][1]
    assert re.search(r"^EXPOSE \$\{?PORT\}?$", text, re.M)
    health = re.search(r"^HEALTHCHECK .*?CMD (.*)$", text.replace("\\\n", " "), re.M | re.S).group(1)
    assert "http://127.0.0.1:${PORT}/health" in health


def test_probe_paths_are_the_documented_ones(k8s):
    spec = REPO.parent / "shared" / "SPEC.md"
    if spec.is_file():  # the development workspace's contract
        text = spec.read_text()
        assert "`GET /health`" in text and "`GET /ready`" in text
    for process in PROCESSES:
        c = k8s["containers"][process]
        assert c["livenessProbe"]["httpGet"]["path"] == "/health"
        assert c["readinessProbe"]["httpGet"]["path"] == "/ready"


def test_gateway_published_port(compose, k8s):
    _, container_port, _ = architecture_table()["api-gateway"]
    assert [p.split(":")[-1] for p in compose["services"]["api-gateway"]["ports"]] == [str(container_port)]
    lb = k8s["services"]["api-gateway"]["spec"]
    assert lb["type"] == "LoadBalancer" and lb["ports"][0]["targetPort"] in ("http", container_port)


def url_target(url):
    m = re.fullmatch(r"http://([a-z0-9-]+):(\d+)", url)
    assert m, f"{url}: expected http://host:port"
    return m.group(1), int(m.group(2))


@pytest.mark.parametrize("service", SERVICES)
def test_gateway_urls_reach_the_services(service, compose, k8s):
    var = service.split("-")[0].upper() + "_SERVICE_URL"
    _, container_port, _ = architecture_table()[service]
    # compose: the compose service name and the container port.
    for url in compose_env(compose, "api-gateway")[var].split(","):
        assert url_target(url) == (service, container_port)
    # k8s: a Service that selects the service's pods, on a port that leads to it.
    for url in k8s["env"]["api-gateway"][var].split(","):
        host, port = url_target(url)
        svc = k8s["services"][host]["spec"]
        assert svc["selector"].items() <= k8s["workload_labels"][service].items()
        (sp,) = [p for p in svc["ports"] if p["port"] == port]
        assert sp["targetPort"] in ("http", container_port)


@pytest.mark.parametrize("service", SERVICES)
def test_databases_agree(service, compose, k8s):
    _, _, database = architecture_table()[service]
    assert compose_env(compose, service)["POSTGRES_DB"] == database
    assert k8s["env"][service]["POSTGRES_DB"] == database
    # database:owner[:role...]: the service owns its database and may enter the bus
    entries = compose_env(compose, "postgres")["POSTGRES_SERVICE_DATABASES"].split(",")
    created = {e.split(":")[0]: e.split(":")[1:] for e in entries}
    assert created[database] == [service]
    assert service in created["bus"]
    assert k8s["env"]["postgres"]["POSTGRES_SERVICE_DATABASES"].split(",") == entries
    assert compose_env(compose, service)["POSTGRES_USER"] == k8s["env"][service]["POSTGRES_USER"] == service


@pytest.mark.parametrize("service", SERVICES)
def test_data_store_addresses_agree(service, compose, k8s):
    pulsar = architecture_pulsar_ports()
    env = compose_env(compose, service)
    assert env["POSTGRES_HOST"] == "postgres" and int(env["POSTGRES_PORT"]) == 5432
    assert env["PULSAR_HOST"] == "pulsar" and int(env["PULSAR_PORT"]) == pulsar["broker"]
    kenv = k8s["env"][service]
    pg_svc = k8s["services"][kenv["POSTGRES_HOST"]]["spec"]
    assert int(kenv["POSTGRES_PORT"]) in [p["port"] for p in pg_svc["ports"]]
    assert pg_svc["selector"].items() <= k8s["workload_labels"]["postgres"].items()
    pulsar_svc = k8s["services"][kenv["PULSAR_HOST"]]["spec"]
    assert int(kenv["PULSAR_PORT"]) in [p["port"] for p in pulsar_svc["ports"]]
    assert kenv["MESSAGE_BUS"] == "pulsar"
    ports = {p["name"]: p["containerPort"] for p in k8s["containers"]["pulsar"]["ports"]}
    assert ports == {"pulsar": pulsar["broker"], "http": pulsar["admin"]}
