#!/usr/bin/env bash
# scripts/chaos.sh -- make chaos: the invariants of SPEC section 6 under faults.
#
#   scripts/chaos.sh [--asan] [--short] [--orders N] [any other tests/chaos/chaos.py flag]
#
#   --asan     use the ASan+UBSan build (build/asan/bin) instead of build/release/bin
#   --short    600 orders and fewer faults, a few minutes (the suite of make test)
#   --orders N orders to send (default 5000)
#
# Builds the four programs and loadgen (unless OMS_SKIP_BUILD=1), makes the
# Python environment .venv when requests is missing from it, and runs
# tests/chaos/chaos.py, which starts its own PostgreSQL (port 25434, below the
# ephemeral range where an outgoing connection could hold it; state in
# .run/chaos), two instances of each service and a gateway (ports 19001-19013,
# 19080), injects faults under load, and checks the invariants. The report is
# printed and written to .run/chaos/report.json; logs are in .run/chaos/logs.
# Exit status: 0 pass, 1 an invariant was broken or quiet was not reached,
# 2 the run could not be done.
#
# Environment: MESSAGE_BUS=pg|pulsar (default pg); BIN_DIR (as set by
# scripts/test.sh) or CHAOS_BIN_DIR choose other binaries; CHAOS_RUN_DIR and
# CHAOS_PG_PORT move the run's state and PostgreSQL.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

VENV="$REPO/.venv"
RUN_DIR="${CHAOS_RUN_DIR:-$REPO/.run/chaos}"
# OMS_TEST_SLOT=N (as in scripts/test.sh) shifts every port of the run by 100*N.
PORT_OFFSET=$((100 * ${OMS_TEST_SLOT:-0}))
export CHAOS_PORT_OFFSET="$PORT_OFFSET"
PG_PORT_CHAOS="${CHAOS_PG_PORT:-$((25434 + PORT_OFFSET))}"
export PULSAR_BOOKIE_PORT=$((13181 + PORT_OFFSET))
PROGRAM_NAMES=(api-gateway order-service inventory-service payment-service loadgen)

say() { echo "chaos: $*"; }
die() {
    echo "chaos: $*" >&2
    exit 2
}

asan=0
args=()
for arg in "$@"; do
    case "$arg" in
        --asan) asan=1 ;;
        *) args+=("$arg") ;;
    esac
done

if [ -n "${CHAOS_BIN_DIR:-}" ]; then
    bin_dir="$CHAOS_BIN_DIR"
elif [ "$asan" = 1 ]; then
    bin_dir="build/asan/bin"
else
    bin_dir="${BIN_DIR:-build/release/bin}"
fi
[[ "$bin_dir" = /* ]] || bin_dir="$REPO/$bin_dir"

build() {
    [ "${OMS_SKIP_BUILD:-0}" = 1 ] && return 0
    local flavour=() targets=() name
    case "$bin_dir" in
        "$REPO/build/asan/bin") flavour=(SANITIZE=1) ;;
        "$REPO/build/release/bin") ;;
        *)
            say "$bin_dir is not a build of this Makefile: not building"
            return 0
            ;;
    esac
    for name in "${PROGRAM_NAMES[@]}"; do
        targets+=("${bin_dir#"$REPO/"}/$name")
    done
    say "building ${targets[*]}"
    make -s -j2 "${flavour[@]}" "${targets[@]}"
}

python_env() {
    if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import requests' 2>/dev/null; then
        return 0
    fi
    say "making $VENV"
    python3 -m venv "$VENV"
    local requirements=(-r tests/requirements-chaos.txt)
    [ -f tests/requirements.txt ] && requirements+=(-r tests/requirements.txt)
    "$VENV/bin/pip" install -q --disable-pip-version-check "${requirements[@]}"
}

# The driver stops its PostgreSQL itself; this is for a driver that was killed.
stop_postgres() {
    OMS_RUN_DIR="$RUN_DIR" PG_PORT="$PG_PORT_CHAOS" "$REPO/infrastructure/postgres/pg.sh" stop >/dev/null 2>&1 || true
}

main() {
    build || die "the build failed"
    for name in api-gateway order-service inventory-service payment-service; do
        [ -x "$bin_dir/$name" ] || die "$bin_dir/$name is missing"
    done
    python_env || die "could not make the Python environment $VENV"
    if [ "$bin_dir" = "$REPO/build/asan/bin" ]; then
        export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
        export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
    fi
    trap stop_postgres EXIT
    # In the background so that a SIGTERM to this script reaches the driver,
    # which then stops everything it started.
    "$VENV/bin/python" -u tests/chaos/chaos.py --bin-dir "$bin_dir" --run-dir "$RUN_DIR" \
        --pg-port "$PG_PORT_CHAOS" --pulsar-port $((16650 + PORT_OFFSET)) \
        --pulsar-admin-port $((18081 + PORT_OFFSET)) --bus "${MESSAGE_BUS:-pg}" "${args[@]}" &
    local child=$! status=0
    trap 'kill -TERM "$child" 2>/dev/null || true' INT TERM HUP
    while :; do
        status=0
        wait "$child" || status=$?
        # wait returns early (status > 128) when a trapped signal arrives.
        kill -0 "$child" 2>/dev/null || break
    done
    return "$status"
}

main
