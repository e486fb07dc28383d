"""Helpers shared by the Pulsar interoperability tests and the benchmark."""

import json
import os
import pathlib
import subprocess
import urllib.request

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
PULSAR_URL = os.environ.get("PULSAR_URL", "pulsar://127.0.0.1:6650")
PULSAR_ADMIN_URL = os.environ.get("PULSAR_ADMIN_URL", "http://127.0.0.1:8081").rstrip("/")
# The broker's superuser token (infrastructure/pulsar/pulsar.sh makes it);
# unset when the broker runs without authentication.
ADMIN_TOKEN_FILE = os.environ.get("PULSAR_ADMIN_TOKEN_FILE") or None

# Words that mean a sanitizer caught something in the C client.
SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer", "runtime error:")


def oms_pulsar_path():
    """Path of the C client's CLI: $OMS_BIN_DIR/oms-pulsar (default build/asan/bin)."""
    bin_dir = pathlib.Path(os.environ.get("OMS_BIN_DIR", "build/asan/bin"))
    if not bin_dir.is_absolute():
        bin_dir = REPO_ROOT / bin_dir
    return bin_dir / "oms-pulsar"


def admin_token():
    """The superuser's token, or None without authentication."""
    if not ADMIN_TOKEN_FILE:
        return None
    with open(ADMIN_TOKEN_FILE, encoding="ascii") as f:
        return f.read().strip()


def client_authentication():
    """What pulsar.Client(authentication=...) takes for the superuser."""
    import pulsar  # pylint: disable=import-outside-toplevel

    token = admin_token()
    return pulsar.AuthenticationToken(token) if token else None


def admin_get(path):
    """GET a JSON document from the broker's admin API (as the superuser)."""
    request = urllib.request.Request(PULSAR_ADMIN_URL + path)
    token = admin_token()
    if token:
        request.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def short_topic_name(full_topic):
    """persistent://public/default/x -> x (the admin API takes the short name)."""
    return full_topic.rsplit("/", 1)[-1]


def topic_stats(topic):
    return admin_get("/admin/v2/persistent/public/default/%s/stats" % short_topic_name(topic))


def topic_internal_stats(topic):
    return admin_get("/admin/v2/persistent/public/default/%s/internalStats" % short_topic_name(topic))


def assert_no_sanitizer_report(stderr):
    for marker in SANITIZER_MARKERS:
        assert marker not in stderr, "the C client reported a sanitizer error:\n" + stderr[-4000:]


def parse_key_payload_lines(stdout):
    """Lines "<key>\\t<payload>" as printed by oms-pulsar consume -> [(key, payload)]."""
    records = []
    for line in stdout.splitlines():
        if not line:
            continue
        key, tab, payload = line.partition("\t")
        assert tab, "line without a tab from oms-pulsar: %r" % line
        records.append((key, payload))
    return records


def run_cli(args, timeout):
    """Runs oms-pulsar to completion; returns the CompletedProcess (text mode)."""
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
