"""The release binaries carry Debian's hardening (security review L6): a
position-independent executable, relocations read-only before main
(RELRO + BIND_NOW), stack canaries and the checked (_FORTIFY_SOURCE) variants
of the string and format functions. Reads the binaries `make` built in
build/release (the build suite of `make test` makes them) with readelf."""
import re
import shutil
import subprocess

import pytest

from deploy_helpers import REPO

PROGRAMS = ["api-gateway", "order-service", "inventory-service", "payment-service"]
RELEASE_BIN = REPO / "build" / "release" / "bin"


def readelf(*args):
    tool = shutil.which("readelf")
    if not tool:
        pytest.fail("readelf not found: apt-get install binutils (build-essential)")
    done = subprocess.run([tool, "-W", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(params=PROGRAMS)
def binary(request):
    path = RELEASE_BIN / request.param
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make` first (the build suite of make test does)")
    return str(path)


def test_position_independent(binary):
    assert "DYN (Position-Independent Executable file)" in readelf("-h", binary)


def test_relro_and_bind_now(binary):
    assert re.search(r"^\s*GNU_RELRO\s", readelf("-l", binary), re.MULTILINE)
    dynamic = readelf("-d", binary)
    assert re.search(r"\(FLAGS\)\s.*\bBIND_NOW\b", dynamic) or re.search(r"\(FLAGS_1\)\s.*\bNOW\b", dynamic), dynamic


def test_stack_protector_and_fortify(binary):
    imported = set(re.findall(r"\b(__\w+_chk(?:_fail)?)\b", readelf("--dyn-syms", binary)))
    assert "__stack_chk_fail" in imported
    fortified = imported - {"__stack_chk_fail"}
    assert fortified, "no __*_chk function imported: built without -D_FORTIFY_SOURCE?"


def test_not_a_sanitizer_build(binary):
    assert "__asan_init" not in readelf("--dyn-syms", binary)
