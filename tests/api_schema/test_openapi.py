"""Property-based tests of the public API against api-gateway/openapi.yaml
(schemathesis), through a running gateway.

For every operation of the document, generated requests (valid and, for
bodies and parameters, schema-conforming edge cases) must get: no 5xx, a
documented status code, the documented content type, and a body that
matches the documented schema.

  BASE_URL=http://127.0.0.1:18080 .venv/bin/pytest -q tests/api_schema

Settings: BASE_URL (default http://127.0.0.1:18080), API_KEY (sent as
X-API-Key when set), SCHEMATHESIS_MAX_EXAMPLES (per operation, default 15).
The same checks as a command line, with schemathesis's own report:
scripts/schemathesis.sh.
"""

import os
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

REPO = Path(__file__).resolve().parents[2]
BASE_URL = os.environ.get("BASE_URL", "http://127.0.0.1:18080").rstrip("/")
API_KEY = os.environ.get("API_KEY", "")
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "15"))
CHECKS = (not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance)

schema = schemathesis.from_path(str(REPO / "api-gateway" / "openapi.yaml"), base_url=BASE_URL)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
def test_operation_conforms(case):
    headers = {"X-API-Key": API_KEY} if API_KEY else None
    response = case.call(headers=headers, timeout=10)
    case.validate_response(response, checks=CHECKS)
