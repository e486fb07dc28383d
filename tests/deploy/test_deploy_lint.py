"""Linters: hadolint on every Dockerfile, shellcheck on every shell script."""
import subprocess

import pytest

from deploy_helpers import REPO, repo_files

def is_shell_script(path):
    if path.suffix in (".sh", ".bash"):
        return True
    try:
        with open(path, "rb") as f:
            first = f.readline(200)
    except OSError:
        return False
    return first.startswith(b"#!") and any(s in first for s in (b"bash", b"/sh", b"env sh", b"dash"))


FILES = repo_files()
DOCKERFILES = [p for p in FILES if p.name == "Dockerfile" or p.name.startswith("Dockerfile.")
               or p.name.endswith(".Dockerfile")]
SCRIPTS = [p for p in FILES if is_shell_script(p)]


def test_there_is_a_dockerfile():
    assert DOCKERFILES


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: str(p.relative_to(REPO)))
def test_hadolint(hadolint, path):
    done = subprocess.run([hadolint, str(path)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: str(p.relative_to(REPO)))
def test_shellcheck(shellcheck, path):
    # -x follows `source`d files; the folder of the script resolves relative ones.
    done = subprocess.run([shellcheck, "-x", "-P", "SCRIPTDIR", str(path)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_compose_init_script_is_executable():
    # The postgres image executes +x scripts and sources the others.
    script = REPO / "infrastructure/postgres/docker-init/create-multiple-databases.sh"
    assert script.stat().st_mode & 0o111
