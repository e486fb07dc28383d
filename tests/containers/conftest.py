"""Tests of the system running in containers (infrastructure/containers/
containers.sh runs them against a compose project or a kube-played pod).
The black-box suite's client and fixtures (tests/blackbox/conftest.py) are
reused as they are: BASE_URL, PG_PORT, API_KEY and the rest come from the
environment the same way."""
import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "blackbox_support", Path(__file__).resolve().parents[1] / "blackbox" / "conftest.py")
blackbox = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(blackbox)

system = blackbox.system
