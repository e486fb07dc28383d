"""Review M6: the Pulsar distribution is verified against a pinned SHA-512
before it is extracted (infrastructure/pulsar/pulsar.sh), and Maven fails on a
checksum that differs from Central's."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from deploy_helpers import REPO

PULSAR_SH = REPO / "infrastructure/pulsar/pulsar.sh"
M2 = Path(os.environ.get("MAVEN_REPO_LOCAL", Path.home() / ".m2/repository"))
TARBALL = M2 / "org/apache/pulsar/pulsar-server-distribution/4.0.8/pulsar-server-distribution-4.0.8-bin.tar.gz"


def verify(path, env=None):
    return subprocess.run(["bash", str(PULSAR_SH), "verify-dist", str(path)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PULSAR_VERSION": "4.0.8", **(env or {})})


def test_a_tampered_tarball_fails_the_checksum(tmp_path):
    fake = tmp_path / "pulsar-server-distribution-4.0.8-bin.tar.gz"
    fake.write_bytes(b"not the distribution\n")
    done = verify(fake)
    assert done.returncode != 0
    assert "SHA-512 mismatch" in done.stderr + done.stdout


def test_another_version_needs_its_own_pin(tmp_path):
    fake = tmp_path / "x.tar.gz"
    fake.write_bytes(b"x")
    done = subprocess.run(["bash", str(PULSAR_SH), "verify-dist", str(fake)], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PULSAR_VERSION": "4.0.9"})
    assert done.returncode != 0 and "PULSAR_DIST_SHA512" in done.stderr + done.stdout


@pytest.mark.skipif(not TARBALL.is_file(), reason="the 4.0.8 distribution is not in the Maven cache")
def test_the_fetched_distribution_matches_the_pin(tmp_path):
    assert verify(TARBALL).returncode == 0
    # one byte changed in a copy: refused
    copy = tmp_path / TARBALL.name
    shutil.copyfile(TARBALL, copy)
    with open(copy, "r+b") as f:
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 1]))
    assert verify(copy).returncode != 0


def test_maven_runs_with_strict_checksums():
    text = PULSAR_SH.read_text()
    assert "(-B -q -C " in text
