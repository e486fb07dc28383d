"""The Dockerfile without a Docker engine: the build context that
.dockerignore leaves has every file `make` needs for each image, the
SERVICE argument accepts exactly the four processes, and the runtime stage
installs the Debian package of every shared library a built binary links."""
import fnmatch
import functools
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from deploy_helpers import REPO, repo_files

PROCESSES = ["api-gateway", "order-service", "inventory-service", "payment-service"]
DOCKERFILE = (REPO / "Dockerfile").read_text()
# In debian:bookworm-slim already (essential packages).
BASE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g"}


def dockerignore_patterns():
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [l.strip() for l in lines if l.strip() and not l.startswith("#")]


def ignored(rel, patterns):
    """Docker's rule as used here: a pattern excludes a path that matches it,
    or whose parent folder does (`**/` matches any depth); no `!` patterns."""
    assert not any(p.startswith("!") for p in patterns), "extend ignored() for ! patterns"
    parts = rel.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    for pattern in patterns:
        for prefix in prefixes:
            if fnmatch.fnmatchcase(prefix, pattern):
                return True
            if pattern.startswith("**/") and fnmatch.fnmatchcase(prefix.split("/")[-1], pattern[3:]):
                return True
    return False


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    """A copy of the build context: the repository less .dockerignore."""
    patterns = dockerignore_patterns()
    root = tmp_path_factory.mktemp("docker-context")
    for path in repo_files():
        rel = str(path.relative_to(REPO))
        if ignored(rel, patterns):
            continue
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return root


def test_context_leaves_out_local_state_and_secrets():
    patterns = dockerignore_patterns()
    for rel in (".env", ".git/config", ".venv/bin/python", "build/release/bin/api-gateway", ".run/pg/x"):
        assert ignored(rel, patterns), rel
    for rel in ("Makefile", "mk/common.mk", "lib/oms/pg_pool.c", "scripts/deps.sh",
                "services/order-service/migrations/001_init.sql", "api-gateway/openapi.yaml"):
        assert not ignored(rel, patterns), rel


@pytest.mark.parametrize("process", PROCESSES)
def test_make_finds_everything_in_the_context(context, process):
    """`make -n` of the image's target in the context: every included
    module.mk and every source the target needs must be there."""
    done = subprocess.run(["make", "-n", f"build/release/bin/{process}"], cwd=context,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"build/release/bin/{process}" in done.stdout


def test_build_stage_uses_deps_script_and_the_make_target():
    assert "scripts/deps.sh --build-only" in DOCKERFILE
    assert 'make -j2 "build/release/bin/$SERVICE"' in DOCKERFILE
    m = re.search(r'case "\$SERVICE" in\s*\\\s*([a-z|-]+)\)', DOCKERFILE)
    assert m and sorted(m.group(1).split("|")) == sorted(PROCESSES)


def runtime_packages():
    runtime = DOCKERFILE.split("AS runtime", 1)[1].replace("\\\n", " ")
    m = re.search(r"apt-get install -y --no-install-recommends ([^&]+)&&", runtime)
    assert m, "runtime stage: apt-get install line not found"
    return set(m.group(1).split())


@functools.lru_cache(maxsize=None)
def ldconfig_cache():
    return subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout


@functools.lru_cache(maxsize=None)
def package_of_library(soname):
    paths = [line.split("=>")[-1].strip() for line in ldconfig_cache().splitlines()
             if line.strip().startswith(soname + " ")]
    for path in paths:
        for candidate in {path, str(Path(path).resolve()), path.replace("/lib/", "/usr/lib/", 1)}:
            found = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
            if found.returncode == 0:
                return found.stdout.split(":")[0].strip()
    return None


@pytest.mark.parametrize("process", PROCESSES)
def test_runtime_stage_has_every_linked_library(process):
    binary = REPO / "build/release/bin" / process
    if not binary.is_file():
        pytest.skip(f"{binary.relative_to(REPO)} not built (make {binary.relative_to(REPO)})")
    if not shutil.which("dpkg") or not shutil.which("objdump"):
        pytest.skip("needs dpkg and objdump (binutils)")
    dump = subprocess.run(["objdump", "-p", str(binary)], capture_output=True, text=True, check=True).stdout
    needed = re.findall(r"^\s*NEEDED\s+(\S+)$", dump, re.M)
    assert needed
    installed = runtime_packages() | BASE_PACKAGES
    for soname in needed:
        package = package_of_library(soname)
        assert package, f"{soname}: no Debian package found"
        assert package in installed, f"{process} links {soname} from {package}, not installed in the runtime stage"
