#!/usr/bin/env bash
# scripts/schemathesis.sh -- property-based API tests (schemathesis) of a
# running system through its gateway, against api-gateway/openapi.yaml.
#
#   BASE_URL=http://127.0.0.1:18080 scripts/schemathesis.sh [extra schemathesis args]
#
# Checks, for every operation of the document: no 5xx (not_a_server_error),
# every status documented (status_code_conformance), every body as the
# schema says (response_schema_conformance) and the documented content type.
# Examples are limited (SCHEMATHESIS_MAX_EXAMPLES, default 25 per
# operation) so that a run takes a few minutes; stateful links are not used.
# Exit status: schemathesis's (non-zero when a check failed).
# Settings: BASE_URL (default http://127.0.0.1:18080), API_KEY (sent as
# X-API-Key when set), SCHEMATHESIS_MAX_EXAMPLES, SCHEMATHESIS_WORKERS (2),
# SCHEMATHESIS_SEED (fixed by default: a run is reproducible), VENV (.venv).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

BASE_URL="${BASE_URL:-http://127.0.0.1:18080}"
VENV="${VENV:-$REPO/.venv}"
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-25}"
WORKERS="${SCHEMATHESIS_WORKERS:-2}"
SEED="${SCHEMATHESIS_SEED:-20261128}"

if [ ! -x "$VENV/bin/schemathesis" ]; then
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q -r tests/requirements-schema.txt
fi

curl -fsS -o /dev/null "$BASE_URL/health" || {
    echo "schemathesis: nothing answers at $BASE_URL/health (start the system: scripts/oms.sh up)" >&2
    exit 2
}

auth=()
[ -n "${API_KEY:-}" ] && auth=(-H "X-API-Key: $API_KEY")

# --hypothesis-derandomize with a seed: the same examples every run, so a
# failure is reproducible (the report prints a curl line for each).
exec "$VENV/bin/schemathesis" run api-gateway/openapi.yaml \
    --base-url "$BASE_URL" \
    --checks not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance \
    --hypothesis-max-examples "$MAX_EXAMPLES" \
    --hypothesis-seed "$SEED" \
    --hypothesis-suppress-health-check=too_slow,filter_too_much,data_too_large \
    --workers "$WORKERS" \
    --request-timeout 10000 \
    --show-trace \
    --no-color \
    "${auth[@]}" "$@"
