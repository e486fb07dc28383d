"""k8s/: schema validation (kubernetes-validate, strict) and the properties the
deployment promises (probes, security, scaling, network isolation, images)."""
import re

import kubernetes_validate
import pytest
import yaml

from deploy_helpers import REPO, kubectl_kustomize
import kustomize

NAMESPACE = "microservices"
SERVICES = ["order-service", "inventory-service", "payment-service"]
PROCESSES = ["api-gateway"] + SERVICES
MANIFEST_FILES = sorted(p for p in (REPO / "k8s").rglob("*.yaml") if p.name != "kustomization.yaml")
EXPECTED_FILES = {"namespace.yaml", "configmap.yaml", "secrets.yaml", "postgres.yaml", "pulsar.yaml",
                  "order-service.yaml", "inventory-service.yaml", "payment-service.yaml", "api-gateway.yaml"}
# The oldest Kubernetes minor a GKE release channel still runs, and the
# newest the schema package knows.
K8S_VERSIONS = ["1.33.0", kubernetes_validate.utils.latest_version()]


def objects_by(objects, kind):
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def pod_spec(obj):
    return obj["spec"]["template"]["spec"]


# Custom resources of the GKE overlay: GKE Managed Service for Prometheus
# (monitoring.yaml), the Gateway API and GKE's health check policy
# (public-https.yaml). No schema in kubernetes-validate: checked by
# test_gke_overlay_alerts_on_what_the_saga_refuses and
# test_gke_overlay_public_entry_is_https_only instead.
CRD_KINDS = {
    "monitoring.googleapis.com/": ("PodMonitoring", "Rules"),
    "gateway.networking.k8s.io/": ("Gateway", "HTTPRoute"),
    "networking.gke.io/": ("HealthCheckPolicy",),
}
CRD_GROUPS = tuple(CRD_KINDS)


def validate(obj, version, where):
    if obj["apiVersion"].startswith(CRD_GROUPS):
        group = next(g for g in CRD_GROUPS if obj["apiVersion"].startswith(g))
        assert obj["kind"] in CRD_KINDS[group], f"{where}: unexpected {obj['kind']}"
        assert set(obj) == {"apiVersion", "kind", "metadata", "spec"}, f"{where}: {obj['kind']} fields"
        return
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as e:
        pytest.fail(f"{where}: {obj['kind']}/{obj['metadata'].get('name')} invalid for {version}: {e.message} at {list(e.path)}")
    except kubernetes_validate.SchemaNotFoundError as e:
        pytest.fail(f"{where}: no schema for {obj['kind']} {obj['apiVersion']} in {version}: {e}")


def test_every_expected_manifest_exists():
    names = {p.name for p in MANIFEST_FILES}
    assert EXPECTED_FILES <= names, f"missing: {EXPECTED_FILES - names}"


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("path", MANIFEST_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_manifest_file_validates(path, version):
    docs = kustomize.load_yaml_docs(path)
    assert docs, f"{path} is empty"
    for obj in docs:
        validate(obj, version, path.name)


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_kustomize_outputs_validate(base_objects, gke_objects, version):
    for where, objects in (("k8s/", base_objects), ("k8s/overlays/gke", gke_objects)):
        assert objects
        for obj in objects:
            validate(obj, version, where)


@pytest.mark.parametrize("folder", ["k8s", "k8s/overlays/gke"])
def test_test_kustomize_agrees_with_kubectl(folder):
    real = kubectl_kustomize(REPO / folder)
    if real is None:
        pytest.skip("kubectl not installed: tests/deploy/kustomize.py alone renders k8s/")
    ours = kustomize.build(REPO / folder)
    by_key = lambda objs: {kustomize.key(o): o for o in objs}  # noqa: E731
    assert set(by_key(real)) == set(by_key(ours))
    for k, obj in by_key(real).items():
        assert obj == by_key(ours)[k], f"{k} differs between kubectl kustomize and tests/deploy/kustomize.py"


def test_everything_in_the_namespace(base_objects):
    kinds = {o["kind"] for o in base_objects}
    assert "Namespace" in kinds
    for obj in base_objects:
        if obj["kind"] == "Namespace":
            assert obj["metadata"]["name"] == NAMESPACE
        else:
            assert obj["metadata"].get("namespace") == NAMESPACE, kustomize.key(obj)


def test_each_process_is_a_hardened_deployment(base_objects):
    deployments = objects_by(base_objects, "Deployment")
    assert set(deployments) == set(PROCESSES)
    for name, d in deployments.items():
        spec = d["spec"]
        assert spec["replicas"] == 2, name
        assert spec["strategy"]["type"] == "RollingUpdate", name
        assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0, name
        assert spec["selector"]["matchLabels"].items() <= d["spec"]["template"]["metadata"]["labels"].items()
        pod = pod_spec(d)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 10001  # the image's user (Dockerfile)
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        (c,) = pod["containers"]
        sc = c["securityContext"]
        assert sc["runAsNonRoot"] is True and sc["readOnlyRootFilesystem"] is True
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(c["resources"][kind]), f"{name} {kind}"
        assert c["readinessProbe"]["httpGet"]["path"] == "/ready"
        assert c["livenessProbe"]["httpGet"]["path"] == "/health"
        port_names = {p["name"]: p["containerPort"] for p in c["ports"]}
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            if probe in c:
                assert c[probe]["httpGet"]["port"] in port_names, f"{name} {probe}"
        assert c["image"] == f"oms/{name}:latest"


def test_data_stores_are_statefulsets_with_volumes_and_headless_services(base_objects):
    sets = objects_by(base_objects, "StatefulSet")
    services = objects_by(base_objects, "Service")
    assert set(sets) == {"postgres", "pulsar"}
    for name, s in sets.items():
        assert s["spec"]["serviceName"] == name
        assert services[name]["spec"]["clusterIP"] == "None", f"{name} Service must be headless"
        templates = s["spec"]["volumeClaimTemplates"]
        assert templates, name
        mounts = {m["name"] for m in pod_spec(s)["containers"][0]["volumeMounts"]}
        assert {t["metadata"]["name"] for t in templates} <= mounts
        pod = pod_spec(s)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["containers"][0]["securityContext"]["allowPrivilegeEscalation"] is False


def test_postgres_creates_each_database_with_the_compose_script(base_objects):
    script = (REPO / "infrastructure/postgres/docker-init/create-multiple-databases.sh").read_text()
    init = objects_by(base_objects, "ConfigMap")["postgres-init"]
    assert init["data"]["create-multiple-databases.sh"] == script, \
        "k8s/base/postgres.yaml's postgres-init differs from infrastructure/postgres/docker-init/"
    pg = pod_spec(objects_by(base_objects, "StatefulSet")["postgres"])
    env = {e["name"]: e for e in pg["containers"][0]["env"]}
    entries = [e.split(":") for e in env["POSTGRES_SERVICE_DATABASES"]["value"].split(",")]
    assert [e[0] for e in entries] == ["orders", "inventory", "payments", "bus"]
    # each service's role owns its database and logs in with the password
    # the postgres pod sets (least privilege, review H5)
    deployments = objects_by(base_objects, "Deployment")
    for db, owner, *others in entries:
        for role in [owner, *others]:
            var = role.upper().replace("-", "_") + "_DB_PASSWORD"
            assert env[var]["valueFrom"]["secretKeyRef"] == {"name": "oms-db-roles", "key": var}
            service = {e["name"]: e for e in pod_spec(deployments[role])["containers"][0]["env"]}
            assert service["POSTGRES_USER"]["value"] == role
            assert service["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "oms-db-roles", "key": var}
    mounts = {m["mountPath"]: m["name"] for m in pg["containers"][0]["volumeMounts"]}
    volumes = {v["name"]: v for v in pg["volumes"]}
    assert volumes[mounts["/docker-entrypoint-initdb.d"]]["configMap"]["name"] == "postgres-init"


def test_pulsar_broker_runs_with_authentication_and_authorization(base_objects):
    """Review H4: the broker of k8s/ starts through container-broker.sh (token
    authentication, per-topic grants from permissions.txt), copied into the
    ConfigMap pulsar-broker, and each service holds only its own token."""
    broker = objects_by(base_objects, "ConfigMap")["pulsar-broker"]["data"]
    for name in ("container-broker.sh", "permissions.txt"):
        assert broker[name] == (REPO / "infrastructure/pulsar" / name).read_text(), \
            f"k8s/base/pulsar.yaml's pulsar-broker {name} differs from infrastructure/pulsar/{name}"
    spec = pod_spec(objects_by(base_objects, "StatefulSet")["pulsar"])
    (c,) = spec["containers"]
    assert c["command"] == ["bash", "/oms/pulsar/container-broker.sh"]
    assert c["readinessProbe"]["exec"]["command"] == ["test", "-f", "/tmp/oms-broker-ready"]
    env = {e["name"]: e.get("value") for e in c["env"]}
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes[mounts["/oms/pulsar"]]["configMap"]["name"] == "pulsar-broker"
    key_dir, key_file = env["PULSAR_TOKEN_SECRET_KEY_FILE"].rsplit("/", 1)
    assert volumes[mounts[key_dir]]["secret"]["secretName"] == "oms-pulsar-auth" and key_file == "token-secret.key"
    admin_dir, admin_file = env["PULSAR_ADMIN_TOKEN_FILE"].rsplit("/", 1)
    admin = volumes[mounts[admin_dir]]["secret"]
    assert admin["secretName"] == "oms-pulsar-tokens"
    assert admin["items"] == [{"key": "admin.token", "path": admin_file}]

    deployments = objects_by(base_objects, "Deployment")
    for name in ("order-service", "inventory-service", "payment-service"):
        spec = pod_spec(deployments[name])
        (c,) = spec["containers"]
        env = {e["name"]: e.get("value") for e in c["env"]}
        token_dir, token_file = env["PULSAR_AUTH_TOKEN_FILE"].rsplit("/", 1)
        mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
        secret = {v["name"]: v for v in spec["volumes"]}[mounts[token_dir]]["secret"]
        assert secret["secretName"] == "oms-pulsar-tokens"
        assert secret["items"] == [{"key": f"{name}.token", "path": token_file}], f"{name} sees another token"
    gateway = pod_spec(deployments["api-gateway"])["containers"][0]
    assert "PULSAR_AUTH_TOKEN_FILE" not in {e["name"] for e in gateway["env"]}


def test_gateway_is_the_only_load_balancer(base_objects):
    services = objects_by(base_objects, "Service")
    lbs = [n for n, s in services.items() if s["spec"].get("type") == "LoadBalancer"]
    assert lbs == ["api-gateway"]


def test_pdb_and_hpa_for_each_deployment(base_objects):
    pdbs = objects_by(base_objects, "PodDisruptionBudget")
    hpas = objects_by(base_objects, "HorizontalPodAutoscaler")
    deployments = objects_by(base_objects, "Deployment")
    for name, d in deployments.items():
        pdb = pdbs[name]
        assert pdb["spec"]["selector"]["matchLabels"] == d["spec"]["selector"]["matchLabels"]
        assert pdb["spec"]["minAvailable"] < d["spec"]["replicas"], "the PDB must allow a drain"
        hpa = hpas[name]
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert hpa["spec"]["minReplicas"] == d["spec"]["replicas"] <= hpa["spec"]["maxReplicas"]
        for c in pod_spec(d)["containers"]:
            assert "cpu" in c["resources"]["requests"], "CPU utilisation needs a CPU request"


# ---- NetworkPolicy: a small evaluator of the ingress rules used here ----

def labels_match(selector, labels):
    if selector is None:
        return False
    for k, v in selector.get("matchLabels", {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions", []):
        value = labels.get(expr["key"])
        op = expr["operator"]
        if op == "In" and value not in expr["values"]:
            return False
        if op == "NotIn" and value in expr["values"]:
            return False
        if op == "Exists" and expr["key"] not in labels:
            return False
        if op == "DoesNotExist" and expr["key"] in labels:
            return False
    return True


def peer_allows(peer, source):
    """source: dict(namespace=..., labels=..., ns_labels=...)."""
    if "ipBlock" in peer:
        return source["namespace"] is None
    ns_sel = peer.get("namespaceSelector")
    pod_sel = peer.get("podSelector")
    if ns_sel is None:
        in_ns = source["namespace"] == NAMESPACE
    else:
        in_ns = source["namespace"] is not None and labels_match(ns_sel, source["ns_labels"])
    if not in_ns:
        return False
    return pod_sel is None or labels_match(pod_sel, source["labels"])


def policy_allows(policies, direction, pod_labels, port, peer):
    """Whether the policies let a pod with pod_labels take (Ingress) or open
    (Egress) a connection on port from or to peer (dict(namespace=...,
    labels=..., ns_labels=...)). A pod no policy of that direction selects
    is open."""
    rules_key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    selecting = [p for p in policies if labels_match(p["spec"]["podSelector"], pod_labels)
                 and direction in p["spec"].get("policyTypes", ["Ingress"])]
    if not selecting:
        return True
    for p in selecting:
        for rule in p["spec"].get(rules_key, []):
            ports = rule.get("ports")
            if ports and not any(pp.get("port") == port for pp in ports):
                continue
            peers = rule.get(peers_key)
            if not peers or any(peer_allows(one, peer) for one in peers):
                return True
    return False


def allowed(policies, dest_labels, port, source):
    return policy_allows(policies, "Ingress", dest_labels, port, source)


def egress_allowed(policies, source_labels, port, dest):
    return policy_allows(policies, "Egress", source_labels, port, dest)


def test_egress_only_where_the_design_needs_it(base_objects):
    policies = [o for o in base_objects if o["kind"] == "NetworkPolicy"]
    pods = {o["metadata"]["name"]: o["spec"]["template"]["metadata"]["labels"]
            for o in base_objects if o["kind"] in ("Deployment", "StatefulSet")}
    ns_labels = {"kubernetes.io/metadata.name": NAMESPACE}
    internet = dict(namespace=None, labels={}, ns_labels={})
    dns = dict(namespace="kube-system", labels={"k8s-app": "kube-dns"},
               ns_labels={"kubernetes.io/metadata.name": "kube-system"})

    def pod(name):
        return dict(namespace=NAMESPACE, labels=pods[name], ns_labels=ns_labels)

    for name, labels in pods.items():
        assert egress_allowed(policies, labels, 53, dns), f"{name} cannot resolve names"
        for port in (80, 443, 5432, 8000):
            assert not egress_allowed(policies, labels, port, internet), f"{name} reaches the internet on {port}"
    for s in SERVICES:
        assert egress_allowed(policies, pods["api-gateway"], 8000, pod(s))
        assert egress_allowed(policies, pods[s], 5432, pod("postgres"))
        assert egress_allowed(policies, pods[s], 6650, pod("pulsar"))
        assert not egress_allowed(policies, pods[s], 8080, pod("pulsar")), "the broker's admin API"
        for other in SERVICES:
            assert not egress_allowed(policies, pods[s], 8000, pod(other)), f"{s} -> {other}"
    assert not egress_allowed(policies, pods["api-gateway"], 5432, pod("postgres"))
    assert not egress_allowed(policies, pods["api-gateway"], 6650, pod("pulsar"))
    for store in ("postgres", "pulsar"):
        for s in SERVICES:
            assert not egress_allowed(policies, pods[store], 8000, pod(s))


def test_network_policies_isolate_as_designed(base_objects):
    policies = [o for o in base_objects if o["kind"] == "NetworkPolicy"]
    pods = {}
    for o in base_objects:
        if o["kind"] in ("Deployment", "StatefulSet"):
            pods[o["metadata"]["name"]] = o["spec"]["template"]["metadata"]["labels"]
    ns_labels = {"kubernetes.io/metadata.name": NAMESPACE}
    outside = dict(namespace=None, labels={}, ns_labels={})
    other_ns = dict(namespace="default", labels={}, ns_labels={"kubernetes.io/metadata.name": "default"})
    monitoring = dict(namespace="gmp-system", labels={}, ns_labels={"kubernetes.io/metadata.name": "gmp-system"})

    def pod(name):
        return dict(namespace=NAMESPACE, labels=pods[name], ns_labels=ns_labels)

    # Every pod is covered by the default deny.
    for name, labels in pods.items():
        assert allowed(policies, labels, 1, outside) is False, f"{name} open on a random port"
    assert allowed(policies, pods["api-gateway"], 8080, outside)
    assert allowed(policies, pods["api-gateway"], 8080, other_ns)
    for s in SERVICES:
        assert allowed(policies, pods[s], 8000, pod("api-gateway"))
        assert allowed(policies, pods[s], 9090, monitoring), "/metrics scrapes"
        assert not allowed(policies, pods[s], 8000, monitoring), "the monitoring namespaces reach the API"
        assert not allowed(policies, pods[s], 9090, pod("api-gateway"))
        assert not allowed(policies, pods[s], 8000, outside)
        assert not allowed(policies, pods[s], 8000, other_ns)
        for other in SERVICES:
            if other != s:
                assert not allowed(policies, pods[s], 8000, pod(other)), f"{other} -> {s}"
        assert allowed(policies, pods["postgres"], 5432, pod(s))
        assert allowed(policies, pods["pulsar"], 6650, pod(s))
    for source in (outside, other_ns, pod("api-gateway")):
        assert not allowed(policies, pods["postgres"], 5432, source)
        assert not allowed(policies, pods["pulsar"], 6650, source)
        assert not allowed(policies, pods["pulsar"], 8080, source)


def test_secrets_hold_placeholders_only():
    for obj in kustomize.load_yaml_docs(REPO / "k8s/base/secrets.yaml"):
        assert obj["kind"] == "Secret"
        assert "data" not in obj, "base64 data hides what a value is: use stringData placeholders"
        for k, v in obj["stringData"].items():
            assert "change-me" in v, f"{obj['metadata']['name']}.{k} is not a placeholder"
    for path in MANIFEST_FILES:
        if path.name == "secrets.yaml":
            continue
        for obj in kustomize.load_yaml_docs(path):
            assert obj["kind"] != "Secret", f"{path}: Secrets belong in secrets.yaml"


def test_gke_overlay_uses_artifact_registry_and_no_placeholder_secret(gke_objects):
    assert not [o for o in gke_objects if o["kind"] == "Secret"]
    images = {}
    for o in gke_objects:
        for c in kustomize.containers_of(o):
            images[o["metadata"]["name"]] = c["image"]
    for name in PROCESSES:
        assert re.fullmatch(rf"REGION-docker\.pkg\.dev/PROJECT_ID/REPOSITORY/{name}:[\w.-]+", images[name]), images[name]
    assert images["postgres"].startswith("postgres:15")
    assert images["pulsar"].startswith("apachepulsar/pulsar:4.0.")


def test_gke_overlay_public_entry_is_https_only(gke_objects):
    """Review H6: on GKE the only way in from outside is HTTPS."""
    services = objects_by(gke_objects, "Service")
    public = [n for n, s in services.items() if s["spec"].get("type") in ("LoadBalancer", "NodePort")]
    assert public == [], f"plain Services exposed outside the cluster: {public}"
    gateways = objects_by(gke_objects, "Gateway")
    assert list(gateways) == ["oms-public"]
    listeners = gateways["oms-public"]["spec"]["listeners"]
    assert [(l["protocol"], l["port"]) for l in listeners] == [("HTTPS", 443)]
    tls = listeners[0]["tls"]
    assert tls["mode"] == "Terminate"
    assert tls["certificateRefs"] == [{"kind": "Secret", "name": "oms-gateway-tls"}]

    routes = objects_by(gke_objects, "HTTPRoute")
    assert list(routes) == ["oms-api"]
    route = routes["oms-api"]["spec"]
    assert [p["name"] for p in route["parentRefs"]] == ["oms-public"]
    (rule,) = route["rules"]
    (backend,) = rule["backendRefs"]
    target = services[backend["name"]]["spec"]
    assert target["selector"] == {"app.kubernetes.io/name": "api-gateway"}
    assert [(p["port"], p["targetPort"]) for p in target["ports"]] == [(backend["port"], "http")]
    headers = [h for f in rule["filters"] if f["type"] == "ResponseHeaderModifier"
               for h in f["responseHeaderModifier"]["set"]]
    assert {"name": "Strict-Transport-Security", "value": "max-age=31536000; includeSubDomains"} in headers

    (policy,) = objects_by(gke_objects, "HealthCheckPolicy").values()
    assert policy["spec"]["targetRef"] == {"group": "", "kind": "Service", "name": backend["name"]}
    assert policy["spec"]["default"]["config"]["httpHealthCheck"]["requestPath"] == "/ready"


def test_gke_overlay_alerts_on_what_the_saga_refuses(gke_objects):
    """The saga's refusals of bus messages raise alerts (docs/architecture.md,
    "Replies the saga trusts"), on metrics the services really export."""
    monitors = objects_by(gke_objects, "PodMonitoring")
    assert set(monitors) == {"oms-services", "oms-gateway"}
    services = monitors["oms-services"]["spec"]
    assert services["selector"]["matchExpressions"] == [
        {"key": "app.kubernetes.io/name", "operator": "In", "values": SERVICES}]
    assert services["endpoints"] == [{"port": "metrics", "path": "/metrics", "interval": "30s"}]
    gateway = monitors["oms-gateway"]["spec"]
    assert gateway["selector"]["matchLabels"] == {"app.kubernetes.io/name": "api-gateway"}
    assert gateway["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s"}]
    rules = [r for o in gke_objects if o["kind"] == "Rules"
             for g in o["spec"]["groups"] for r in g["rules"]]
    alerts = {r["alert"]: r["expr"] for r in rules}
    assert 'order_saga_steps_total{kind="INCONSISTENT"}' in alerts["OmsSagaInconsistent"]
    assert 'order_saga_steps_total{kind="REJECTED_REPLY"}' in alerts["OmsSagaRepliesRejected"]
    assert "saga_messages_misrouted_total" in alerts["OmsMessagesMisrouted"]
    sources = "".join(p.read_text() for p in (REPO / "services" / "order-service" / "src").rglob("*.c"))
    sources += (REPO / "lib" / "oms" / "saga_bus.c").read_text()
    for metric in ("order_saga_steps_total", "saga_messages_misrouted_total"):
        assert f'"{metric}"' in sources, metric
    domain = (REPO / "services" / "order-service" / "src" / "domain" / "saga.c").read_text()
    for kind in ("INCONSISTENT", "REJECTED_REPLY"):
        assert f'"{kind}"' in domain, kind
    # the operators' alerts (issue 12 item 1) on the sagas' gauges
    for name in ("OmsSagaCompensationBlocked", "OmsSagasRetrying", "OmsSagasPausedLong"):
        assert "oms_sagas_stuck" in alerts[name], name
    assert "oms_saga_age_seconds" in alerts["OmsSagasOld"]
    assert "oms_dead_letters" in alerts["OmsDeadLetters"]
    for metric in ("oms_sagas_stuck", "oms_saga_age_seconds", "oms_dead_letters"):
        assert f'"{metric}"' in sources, metric
    for reason in re.findall(r'reason=~?"([^"]+)"', "".join(alerts.values())):
        for name in reason.split("|"):
            assert f'"{name}"' in domain, name
    for o in monitors.values():
        assert o["metadata"]["namespace"] == NAMESPACE
    # the services' NetworkPolicies let Managed Prometheus (gmp-system) scrape
    # (the gateway's port is open to all)
    for name in SERVICES:
        assert "gmp-system" in (REPO / "k8s" / "base" / f"{name}.yaml").read_text(), name


def test_only_the_gateway_reaches_a_services_api_port(base_objects):
    """Review H3: the monitoring namespaces reach the services' metrics port
    (METRICS_PORT: /health, /ready, /metrics only), never the API port."""
    deployments = objects_by(base_objects, "Deployment")
    policies = objects_by(base_objects, "NetworkPolicy")
    for name in SERVICES:
        container = pod_spec(deployments[name])["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert int(env["PORT"]) == ports["http"] and int(env["METRICS_PORT"]) == ports["metrics"]
        assert ports["http"] != ports["metrics"]
        rules = policies[f"{name}-ingress"]["spec"]["ingress"]
        for rule in rules:
            opened = {p["port"] for p in rule["ports"]}
            peers = rule["from"]
            if opened == {ports["http"]}:
                assert peers == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "api-gateway"}}}], name
            else:
                assert opened == {ports["metrics"]}, (name, rule)
                assert all("namespaceSelector" in peer for peer in peers), (name, rule)


def test_pulsar_and_postgres_versions_match_compose(base_objects):
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    sets = objects_by(base_objects, "StatefulSet")
    pulsar_image = pod_spec(sets["pulsar"])["containers"][0]["image"]
    env_example = dict(line.split("=", 1) for line in (REPO / ".env.example").read_text().splitlines()
                       if line and not line.startswith("#"))
    assert pulsar_image == env_example["PULSAR_IMAGE"]
    assert compose["services"]["pulsar"]["image"] == "${PULSAR_IMAGE:-%s}" % env_example["PULSAR_IMAGE"]
    postgres_image = pod_spec(sets["postgres"])["containers"][0]["image"]
    assert postgres_image == env_example["POSTGRES_IMAGE"]
    assert compose["services"]["postgres"]["image"] == "${POSTGRES_IMAGE:-%s}" % postgres_image
