#!/usr/bin/env bash
# scripts/test.sh -- every test suite, in order (make test; CI runs it).
#
# Each suite runs even when an earlier one failed (when part of the build
# failed, the tests that did build still run; a missing binary is a failure);
# the run ends with a table (suite, result, seconds), a line
# "N passed, N failed", and a non-zero exit status when anything failed.
# Whatever it started (PostgreSQL, the four processes, Pulsar) is stopped on
# the way out, also after a failure or Ctrl-C.
#
# FORMAT_CHECK=report: the format suite only lists C files that differ from
# .clang-format (by default it fails on them; scripts/format.sh rewrites them).
#
# Adding a suite: one `suite NAME COMMAND...` line in main() (a function below
# or any script, e.g. `suite chaos-short scripts/chaos.sh --short`).
# TEST_SUITES="build unit" runs only the suites named (the later suites use the
# binaries of the build suite and the .venv of python-env as they are).
#
# The console suite needs build (it runs the asan binaries), not python-env.
# The test run uses its own ports and state, so it can run beside `make up`:
#   OMS_RUN_DIR=.run/test, PostgreSQL 25433, gateway 18080, services 18001-18003,
#   the http-server suite's own gateways 18090-18092,
#   Pulsar PULSAR_DIR=.run/test/pulsar (6650, TLS 6651, admin 8081, bookie 3181),
#   the containers suite's gateway 19080, PostgreSQL 26433, metrics 19090-19092;
#   all below
#   Linux's ephemeral range (32768-60999), where an outgoing connection could
#   hold a port just when a server wants to listen on it.
# OMS_TEST_SLOT=N (0-9, default 0) adds 100*N to every one of these ports (and
# to the chaos suite's), so that several checkouts on one machine can each run
# their tests at the same time.
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO" || exit 1

OMS_TEST_SLOT="${OMS_TEST_SLOT:-0}"
if ! [[ "$OMS_TEST_SLOT" =~ ^[0-9]$ ]]; then
    echo "test: OMS_TEST_SLOT=$OMS_TEST_SLOT: must be a digit from 0 to 9" >&2
    exit 2
fi
export OMS_TEST_SLOT
PORT_OFFSET=$((100 * OMS_TEST_SLOT))

export OMS_RUN_DIR="$REPO/.run/test"
export PG_PORT=$((25433 + PORT_OFFSET))
export GATEWAY_PORT=$((18080 + PORT_OFFSET)) ORDER_PORT=$((18001 + PORT_OFFSET))
export INVENTORY_PORT=$((18002 + PORT_OFFSET)) PAYMENT_PORT=$((18003 + PORT_OFFSET))
# OMS_TEST_BUILD=asan (default) tests the ASan+UBSan build; coverage the gcov
# one (make coverage: scripts/coverage.sh runs the suites on it).
OMS_TEST_BUILD="${OMS_TEST_BUILD:-asan}"
case "$OMS_TEST_BUILD" in
    asan) BUILD_FLAVOUR=SANITIZE=1 ;;
    coverage) BUILD_FLAVOUR=COVERAGE=1 ;;
    *)
        echo "test: OMS_TEST_BUILD=$OMS_TEST_BUILD: asan or coverage" >&2
        exit 2
        ;;
esac
export BIN_DIR="$REPO/build/$OMS_TEST_BUILD/bin"
export OMS_SKIP_BUILD=1
export PULSAR_DIR="$OMS_RUN_DIR/pulsar"
export PULSAR_HOST=127.0.0.1 PULSAR_PORT=$((6650 + PORT_OFFSET))
export PULSAR_ADMIN_PORT=$((8081 + PORT_OFFSET)) PULSAR_BOOKIE_PORT=$((3181 + PORT_OFFSET))
export PULSAR_TLS_PORT=$((6651 + PORT_OFFSET))
export PULSAR_URL="pulsar://127.0.0.1:$PULSAR_PORT"
export PULSAR_ADMIN_URL="http://127.0.0.1:$PULSAR_ADMIN_PORT"
# The broker runs with authentication (pulsar.sh): the tests' own clients
# use its superuser's token; each service gets its own role's (oms.sh).
export PULSAR_ADMIN_TOKEN_FILE="$PULSAR_DIR/auth/tokens/admin.token"
export SAGA_STEP_TIMEOUT_S="${SAGA_STEP_TIMEOUT_S:-5}"
# A compensation shows compensation_blocked after its second send, and
# payment-service's test switch makes refunds fail while this file exists
# (tests/blackbox/test_operating.py; a local run only).
export SAGA_COMPENSATION_MAX_ATTEMPTS="${SAGA_COMPENSATION_MAX_ATTEMPTS:-2}"
export PAYMENT_TEST_FAIL_REFUNDS_FILE="$OMS_RUN_DIR/fail-refunds"
# A killed consumer (the recovery and chaos tests kill them) holds its key on
# the pg bus until its lease ends: keep that short in tests.
export BUS_LEASE_S="${BUS_LEASE_S:-10}"
export LOG_LEVEL="${LOG_LEVEL:-info}"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# What the pytest suites read (tests/blackbox/conftest.py).
# The test cluster's superuser password, for psql and the integration tests
# (pg.sh makes it; every role needs a password), and its other roles' files.
export PGPASSFILE="$OMS_RUN_DIR/pg-auth/postgres.pgpass"
export OMS_PG_AUTH_DIR="$OMS_RUN_DIR/pg-auth"
export BASE_URL="http://127.0.0.1:$GATEWAY_PORT"
export ORDER_URL="http://127.0.0.1:$ORDER_PORT"
export INVENTORY_URL="http://127.0.0.1:$INVENTORY_PORT"
export PAYMENT_URL="http://127.0.0.1:$PAYMENT_PORT"

PG_SH="$REPO/infrastructure/postgres/pg.sh"
PULSAR_SH="$REPO/infrastructure/pulsar/pulsar.sh"
OMS_SH="$REPO/scripts/oms.sh"
VENV="$REPO/.venv"
PYTEST=("$VENV/bin/python" -m pytest -q -ra --durations=5 -p no:cacheprovider)

RESULTS=()
PASSED=0
FAILED=0
SKIPPED=0
VENV_OK=0
PULSAR_STARTED=0

# suite NAME COMMAND...: runs COMMAND, records PASS/FAIL (exit 77 = SKIP) and
# its seconds.
suite() {
    local name="$1" started=$SECONDS status result
    shift
    if [ -n "${TEST_SUITES:-}" ] && [[ " $TEST_SUITES " != *" $name "* ]]; then
        return 0
    fi
    echo
    echo "=================== $name ==================="
    "$@"
    status=$?
    case "$status" in
        0) result=PASS; PASSED=$((PASSED + 1)) ;;
        77) result=SKIP; SKIPPED=$((SKIPPED + 1)) ;;
        *) result="FAIL ($status)"; FAILED=$((FAILED + 1)) ;;
    esac
    echo "=== $name: $result"
    RESULTS+=("$(printf '%-22s %-10s %6d' "$name" "$result" $((SECONDS - started)))")
}

note() { echo "test: $*"; }

needs_venv() {
    [ "$VENV_OK" = 1 ] && return 0
    note "not run: the Python environment could not be made"
    return 1
}

# Runs each binary of a Makefile list (UNIT_TESTS, ...); fails when the list is
# empty, a binary is missing, or one fails.
run_binaries() {
    local list="$1" failures=0 binaries binary
    binaries="$(make -s "$BUILD_FLAVOUR" "print-$list")" || return 1
    if [ -z "$binaries" ]; then
        note "no $list in the Makefile"
        return 1
    fi
    for binary in $binaries; do
        echo "--- $binary"
        if [ ! -x "$binary" ]; then
            note "missing: $binary (did not build)"
            failures=$((failures + 1))
        elif ! "$binary"; then
            note "FAILED: $binary"
            failures=$((failures + 1))
        fi
    done
    [ "$failures" -eq 0 ]
}

# pytest, with "no tests collected" (exit 5) counted as a failure.
run_pytest() {
    needs_venv || return 1
    "${PYTEST[@]}" "$@"
}

suite_build() {
    local status=0
    make -k -j2 "$BUILD_FLAVOUR" tests programs || status=1
    # The release binaries (the http-server and deploy suites use them).
    [ "$OMS_TEST_BUILD" = asan ] && { make -k -j2 programs || status=1; }
    return "$status"
}

suite_unit() {
    run_binaries UNIT_TESTS
}

suite_integration() {
    "$PG_SH" destroy >/dev/null
    "$PG_SH" start || return 1
    POSTGRES_HOST=127.0.0.1 POSTGRES_PORT="$PG_PORT" POSTGRES_USER=postgres PG_TLS_DIR="$("$PG_SH" tls-dir)" \
        run_binaries INTEGRATION_TESTS
    local status=$?
    "$PG_SH" stop
    return "$status"
}

suite_venv() {
    local stamp="$VENV/.requirements.sha1" sum
    sum="$(cat tests/requirements*.txt | sha1sum | cut -d' ' -f1)"
    if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$sum" ]; then
        note "$VENV is up to date"
    else
        local requirements=(-r tests/requirements.txt) extra
        for extra in tests/requirements-pulsar.txt tests/requirements-deploy.txt \
            tests/requirements-schema.txt tests/requirements-chaos.txt; do
            [ -f "$extra" ] && requirements+=(-r "$extra")
        done
        python3 -m venv "$VENV" || return 1
        "$VENV/bin/pip" install -q --disable-pip-version-check "${requirements[@]}" || return 1
        echo "$sum" >"$stamp"
    fi
    VENV_OK=1
}

# The black-box suite against the whole system (asan build) on MESSAGE_BUS=$1,
# with authentication on: the gateway gets one admin key made for the run
# (API_KEYS), which the suites send (API_KEY).
suite_blackbox() {
    needs_venv || return 1
    local bus="$1" status key
    key="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    # A fresh cluster: integration tests may have left their own tables behind.
    [ "$bus" = pg ] && "$PG_SH" destroy >/dev/null
    rm -rf "$OMS_RUN_DIR/logs" "$OMS_RUN_DIR/logs-$bus"
    if ! API_KEYS="$key:admin" MESSAGE_BUS="$bus" "$OMS_SH" up; then
        show_logs
        MESSAGE_BUS="$bus" "$OMS_SH" down
        return 1
    fi
    API_KEYS="$key:admin" API_KEY="$key" MESSAGE_BUS="$bus" run_pytest tests/blackbox
    status=$?
    # Once, on the embedded default: the OpenAPI document against the running
    # gateway (schemathesis), and the gateway's credentials and roles (SPEC 7,
    # with gateways of its own in front of the same services).
    if [ "$bus" = pg ] && [ -d tests/api_schema ]; then
        API_KEY="$key" run_pytest tests/api_schema || status=1
    fi
    if [ "$bus" = pg ] && [ -d tests/security ]; then
        run_pytest tests/security || status=1
    fi
    [ "$status" -ne 0 ] && show_logs
    MESSAGE_BUS="$bus" "$OMS_SH" down || status=1
    if grep -l -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$OMS_RUN_DIR"/logs/*.log 2>/dev/null; then
        note "a sanitizer reported errors in the logs above ($OMS_RUN_DIR/logs)"
        status=1
    fi
    # Keep this run's logs apart from the next one's.
    mkdir -p "$OMS_RUN_DIR/logs-$bus"
    mv "$OMS_RUN_DIR"/logs/*.log "$OMS_RUN_DIR/logs-$bus/" 2>/dev/null
    return "$status"
}

# The web console in headless Debian chromium (tests/console: node's test
# runner and playwright-core from npm, with its lockfile; no browser
# download) against the whole system with one API key per role.
# Screenshots of each page: build/test-artifacts/console/.
suite_console() {
    local status admin operator viewer
    if ! command -v node >/dev/null || ! command -v npm >/dev/null || [ ! -x /usr/bin/chromium ]; then
        note "node, npm or /usr/bin/chromium is missing (scripts/deps.sh --test installs them)"
        return 1
    fi
    (cd tests/console && npm ci --no-audit --no-fund --loglevel=error) || return 1
    admin="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    operator="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    viewer="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    "$PG_SH" destroy >/dev/null
    rm -rf "$OMS_RUN_DIR/logs"
    export API_KEYS="$admin:admin,$operator:operator,$viewer:viewer"
    if ! "$OMS_SH" up; then
        show_logs
        "$OMS_SH" down
        unset API_KEYS
        return 1
    fi
    ADMIN_KEY="$admin" OPERATOR_KEY="$operator" VIEWER_KEY="$viewer" \
        ARTIFACTS_DIR="$REPO/build/test-artifacts/console" \
        node --test --test-concurrency=1 tests/console/console.test.mjs
    status=$?
    [ "$status" -ne 0 ] && show_logs
    "$OMS_SH" down || status=1
    unset API_KEYS
    if grep -l -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$OMS_RUN_DIR"/logs/*.log 2>/dev/null; then
        note "a sanitizer reported errors in the logs above ($OMS_RUN_DIR/logs)"
        status=1
    fi
    return "$status"
}

# The last lines of each process's log, to see why a black-box test failed.
show_logs() {
    local log
    for log in "$OMS_RUN_DIR"/logs/*.log; do
        [ -f "$log" ] || continue
        echo "--- last lines of $log"
        tail -n 40 "$log"
    done
}

suite_pulsar() {
    if [ ! -x "$PULSAR_SH" ]; then
        note "$PULSAR_SH is missing"
        return 1
    fi
    "$PULSAR_SH" start || return 1
    PULSAR_STARTED=1
    local status=0
    run_binaries PULSAR_TESTS || status=1
    if [ -d tests/pulsar_interop ]; then
        run_pytest tests/pulsar_interop || status=1
    fi
    suite_blackbox pulsar || status=1
    "$PULSAR_SH" stop || status=1
    PULSAR_STARTED=0
    return "$status"
}

# The HTTP server against slow, idle and many clients and over TLS
# (tests/http_server: the release gateway alone; about 30 s).
suite_http_server() {
    run_pytest tests/http_server
}

suite_deploy() {
    if [ ! -d tests/deploy ]; then
        note "no tests/deploy"
        return 77
    fi
    run_pytest tests/deploy
}

# The C layout against .clang-format (scripts/format.sh --check): a file that
# differs fails the suite (FORMAT_CHECK=report only lists it, e.g. while a
# change is in progress).
suite_format() {
    local status
    scripts/format.sh --check
    status=$?
    [ "$status" -eq 0 ] && return 0
    if [ "$status" -eq 1 ] && [ "${FORMAT_CHECK:-strict}" = report ]; then
        note "layout differences reported only (FORMAT_CHECK=report)"
        return 0
    fi
    return "$status"
}

# The images built and run with podman: docker-compose.yml on both buses
# (infrastructure/containers/containers.sh; as root,
# which installs podman on a fresh machine; its ports shift with the slot).
suite_containers() {
    needs_venv || return 1
    if [ "${OMS_CONTAINERS_SUITE:-}" = skip ]; then
        note "not run: OMS_CONTAINERS_SUITE=skip (GitHub's test job: its containers job runs them with Docker)"
        return 77
    fi
    if [ "$(id -u)" -ne 0 ]; then
        note "not run: the container tests run podman as root"
        return 77
    fi
    infrastructure/containers/containers.sh test
}

cleanup() {
    "$OMS_SH" down >/dev/null 2>&1
    "$PG_SH" stop >/dev/null 2>&1
    [ "$PULSAR_STARTED" = 1 ] && "$PULSAR_SH" stop >/dev/null 2>&1
    return 0
}

summary() {
    echo
    echo "=================== summary ==================="
    printf '%-22s %-10s %6s\n' suite result seconds
    local line
    for line in "${RESULTS[@]}"; do echo "$line"; done
    printf '%-22s %-10s %6d\n' total "" "$SECONDS"
    [ "$SKIPPED" -gt 0 ] && echo "$SKIPPED skipped"
    echo "$PASSED passed, $FAILED failed"
}

main() {
    trap cleanup EXIT
    trap 'cleanup; exit 130' INT TERM
    mkdir -p "$OMS_RUN_DIR"
    # Suites left out by TEST_SUITES are taken as done by the caller.
    if [ -n "${TEST_SUITES:-}" ]; then
        [[ " $TEST_SUITES " == *" python-env "* ]] || VENV_OK=1
    fi
    suite deps scripts/deps.sh --test
    suite format suite_format
    suite build suite_build
    suite unit suite_unit
    suite integration suite_integration
    suite python-env suite_venv
    suite http-server suite_http_server
    suite blackbox suite_blackbox pg
    suite console suite_console
    suite pulsar suite_pulsar
    suite deploy suite_deploy
    suite containers suite_containers
    suite chaos-short scripts/chaos.sh --short
    suite fuzz-short scripts/fuzz.sh --short
    # Last, with its own gcov build: unit, integration and black-box again,
    # then the coverage table and its floors (about 6 minutes).
    suite coverage scripts/coverage.sh
    summary
    [ "$FAILED" -eq 0 ]
}

main "$@"
