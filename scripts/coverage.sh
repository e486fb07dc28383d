#!/usr/bin/env bash
# scripts/coverage.sh -- line and branch coverage of the C code (make coverage).
#
# Builds with gcov instrumentation (make COVERAGE=1: build/coverage), runs the
# unit, integration and black-box suites on that build (scripts/test.sh with
# OMS_TEST_BUILD=coverage), then gcovr (Debian) writes
#   build/coverage/report/index.html   the HTML report, file by file
#   build/coverage/summary.json        gcovr's per-file summary
# and prints a table: lines and branches of lib/ and of each service, and of
# every domain/ and application/ directory, then one summary line
# ("coverage: lines N% (a/b), branches N% (a/b)"). The run fails when a suite
# fails or when a directory falls below its floor in tests/coverage-floors.txt.
#
#   scripts/coverage.sh             everything above
#   scripts/coverage.sh --report    only the report, from the last run's data
#
# OMS_TEST_SLOT shifts the ports as for scripts/test.sh.
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO" || exit 1

BUILD_DIR=build/coverage
FLOORS=tests/coverage-floors.txt
# The components of the table, each a directory prefix.
COMPONENTS=(lib/oms lib/pulsar api-gateway/src services/order-service/src
    services/inventory-service/src services/payment-service/src)

note() { echo "coverage: $*"; }

run_suites() {
    # Counters of an earlier run would add to this one's.
    find "$BUILD_DIR" -name '*.gcda' -delete 2>/dev/null
    OMS_TEST_BUILD=coverage TEST_SUITES="build unit integration python-env blackbox" scripts/test.sh
}

# gcovr over every .gcda of the build; the tests' own sources and generated
# code (build/gen) are not counted.
collect() {
    if ! command -v gcovr >/dev/null; then
        note "gcovr is missing (scripts/deps.sh --test installs it)"
        return 1
    fi
    mkdir -p "$BUILD_DIR/report"
    gcovr --root "$REPO" --object-directory "$BUILD_DIR/obj" \
        --exclude '.*/tests/.*' --exclude 'build/.*' --exclude 'fuzz/.*' --exclude 'tools/.*' \
        --html-details "$BUILD_DIR/report/index.html" --html-title "OMS coverage" \
        --json-summary-pretty --json-summary "$BUILD_DIR/summary.json" \
        "$BUILD_DIR/obj" >/dev/null
}

# Prints the table and the summary line; exits 1 when a floor is not met.
report() {
    python3 - "$BUILD_DIR/summary.json" "$FLOORS" "${COMPONENTS[@]}" <<'EOF'
import json, os, sys

summary_path, floors_path, components = sys.argv[1], sys.argv[2], sys.argv[3:]
files = json.load(open(summary_path))["files"]

def totals(prefix):
    n = [0, 0, 0, 0]
    for f in files:
        if f["filename"].startswith(prefix + "/"):
            n[0] += f["line_covered"]; n[1] += f["line_total"]
            n[2] += f["branch_covered"]; n[3] += f["branch_total"]
    return n

def pct(a, b):
    return 100.0 * a / b if b else 100.0

layers = sorted({os.path.dirname(f["filename"]) for f in files
                 if os.path.basename(os.path.dirname(f["filename"])) in ("domain", "application")})
print(f"{'directory':44} {'lines':>16} {'branches':>16}")
for prefix in components + layers:
    lc, lt, bc, bt = totals(prefix)
    print(f"{prefix:44} {pct(lc, lt):6.1f}% {lc:4}/{lt:<4} {pct(bc, bt):6.1f}% {bc:4}/{bt:<4}")

failed = []
for raw in open(floors_path):
    line = raw.split("#", 1)[0].split()
    if not line:
        continue
    prefix, floor = line[0], float(line[1])
    lc, lt, _, _ = totals(prefix)
    if lt == 0:
        failed.append(f"{prefix}: no line measured (floor {floor}%)")
    elif pct(lc, lt) < floor:
        failed.append(f"{prefix}: lines {pct(lc, lt):.1f}% below the floor {floor}%")

lc = sum(f["line_covered"] for f in files); lt = sum(f["line_total"] for f in files)
bc = sum(f["branch_covered"] for f in files); bt = sum(f["branch_total"] for f in files)
print(f"coverage: lines {pct(lc, lt):.1f}% ({lc}/{lt}), branches {pct(bc, bt):.1f}% ({bc}/{bt})"
      + (f", {len(failed)} below the floor" if failed else ", every floor met"))
for why in failed:
    print("coverage: FLOOR " + why)
sys.exit(1 if failed else 0)
EOF
}

main() {
    local status=0
    case "${1:-}" in
        "") run_suites || status=1 ;;
        --report) ;;
        *)
            echo "usage: $0 [--report]" >&2
            exit 2
            ;;
    esac
    collect || return 1
    report || status=1
    note "HTML report: $BUILD_DIR/report/index.html"
    [ "$status" -eq 0 ] || note "FAILED (a suite or a floor, above)"
    return "$status"
}

main "$@"
