"""The GitHub Actions workflows: actionlint, and the pipeline the deployment
docs promise."""
import re
import subprocess

import yaml

from deploy_helpers import REPO

WORKFLOWS = sorted((REPO / ".github/workflows").glob("*.y*ml"))
PROCESSES = ["api-gateway", "order-service", "inventory-service", "payment-service"]


def test_actionlint(actionlint):
    assert WORKFLOWS
    done = subprocess.run([actionlint, "-no-color", *map(str, WORKFLOWS)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def load_ci():
    return yaml.safe_load((REPO / ".github/workflows/ci.yml").read_text())


def steps_text(job):
    return "\n".join(str(s.get("run", "")) + " " + str(s.get("uses", "")) for s in job["steps"])


def test_triggers_and_test_job():
    ci = load_ci()
    triggers = ci.get("on", ci.get(True))  # YAML 1.1 reads `on` as True
    assert {"push", "pull_request"} <= set(triggers)
    test = ci["jobs"]["test"]
    text = steps_text(test)
    assert "actions/checkout" in text
    assert "scripts/deps.sh" in text
    assert re.search(r"^make test\s*$", text, re.M)


def test_images_are_built_for_every_process_and_pushed_on_main_only():
    job = load_ci()["jobs"]["images"]
    services = [m["service"] for m in job["strategy"]["matrix"]["include"]]
    assert sorted(services) == sorted(PROCESSES)
    build = [s for s in job["steps"] if str(s.get("uses", "")).startswith("docker/build-push-action")]
    assert len(build) == 1
    assert "IS_MAIN_PUSH" in str(build[0]["with"]["push"])
    assert "SERVICE=${{ matrix.service }}" in build[0]["with"]["build-args"]


def test_deploy_job_rolls_out_every_workload():
    ci = load_ci()
    deploy = ci["jobs"]["deploy"]
    assert "refs/heads/main" in deploy["if"] and "push" in deploy["if"]
    text = steps_text(deploy)
    assert "google-github-actions/get-gke-credentials" in text
    assert "kubectl apply -k k8s/overlays/gke" in text
    assert "kustomize edit set image" in text
    for name in ("statefulset/postgres", "statefulset/pulsar"):
        assert f"rollout status {name}" in text
    assert 'rollout status "deployment/${name}"' in text
    loop = re.search(r"for name in ([a-z -]+); do\s+kubectl -n microservices rollout status", text)
    assert loop and sorted(loop.group(1).split()) == sorted(PROCESSES)


def test_no_secret_in_workflow_files():
    for path in WORKFLOWS:
        text = path.read_text()
        assert not re.search(r"-----BEGIN [A-Z ]*PRIVATE KEY-----", text)
        assert not re.search(r'"private_key"\s*:', text)
        for m in re.finditer(r"(?im)^\s*(password|api_keys|credentials_json|token)\s*:\s*(\S.*)$", text):
            assert m.group(2).startswith("${{ secrets."), f"{path.name}: {m.group(0).strip()}"
