"""Paths and helpers shared by the tests of tests/deploy (a module with a
name of its own, so that it never collides with another suite's conftest)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
ACTIONLINT_MODULE = "github.com/rhysd/actionlint/cmd/actionlint@v1.7.12"
SKIP_DIRS = {".git", ".venv", "build", ".run", "node_modules", "__pycache__"}


def find_tool(name):
    """The tool in the running Python's bin folder (the .venv), else on PATH."""
    candidate = VENV_BIN / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return shutil.which(name)


def kubectl_kustomize(path):
    """`kubectl kustomize PATH` as a list of objects, or None without kubectl."""
    kubectl = shutil.which("kubectl")
    if not kubectl:
        return None
    done = subprocess.run([kubectl, "kustomize", str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"kubectl kustomize {path} failed:\n{done.stderr}"
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def repo_files():
    """Tracked and new (not ignored) files; every file when git is missing."""
    done = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                          cwd=REPO, capture_output=True)
    if done.returncode == 0:
        return sorted({REPO / p for p in done.stdout.decode().split("\0") if p and (REPO / p).is_file()})
    return sorted(p for p in REPO.rglob("*") if p.is_file() and not SKIP_DIRS & set(p.relative_to(REPO).parts))
