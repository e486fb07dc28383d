#!/usr/bin/env bash
# Compares the project's C Pulsar client with the official Python client
# (pulsar-client) in one run, against the broker that is already running:
# each client produces and consumes N keyed messages of one size on a fresh
# topic (oms-pulsar perf, and tests/pulsar_interop/bench_python_client.py
# which mirrors it); the Python client also with producer batching, which
# oms-pulsar perf has no switch for. Prints a table; exit 1 if a run failed.
#
#   scripts/pulsar-bench.sh [--count N] [--payload-size BYTES] [--keys K]
#
# Environment: PULSAR_URL (pulsar://127.0.0.1:6650), PULSAR_AUTH_TOKEN_FILE
# (the local broker's superuser token when unset: both clients use it), OMS_BIN_DIR
# (build/asan/bin: build a release binary for real numbers, e.g.
# OMS_BIN_DIR=build/release/bin), PYTHON (.venv/bin/python).
# Start a broker first: infrastructure/pulsar/pulsar.sh start
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO_ROOT

count=20000
size=100
keys=100
while [[ $# -gt 0 ]]; do
  case "$1" in
    --count) count="$2"; shift 2 ;;
    --payload-size|--size) size="$2"; shift 2 ;;
    --keys) keys="$2"; shift 2 ;;
    *) echo "usage: $0 [--count N] [--payload-size BYTES] [--keys K]" >&2; exit 2 ;;
  esac
done

readonly URL="${PULSAR_URL:-pulsar://127.0.0.1:6650}"
bin_dir="${OMS_BIN_DIR:-build/asan/bin}"
[[ "$bin_dir" == /* ]] || bin_dir="$REPO_ROOT/$bin_dir"
readonly CLI="$bin_dir/oms-pulsar"
readonly PYTHON="${PYTHON:-$REPO_ROOT/.venv/bin/python}"
readonly PY_BENCH="$REPO_ROOT/tests/pulsar_interop/bench_python_client.py"

"$REPO_ROOT/infrastructure/pulsar/pulsar.sh" status >/dev/null 2>&1 || {
  echo "no ready Pulsar broker; run infrastructure/pulsar/pulsar.sh start" >&2
  exit 1
}
if [[ -z "${PULSAR_AUTH_TOKEN_FILE:-}" ]] && PULSAR_AUTH_TOKEN_FILE="$(
    "$REPO_ROOT/infrastructure/pulsar/pulsar.sh" token-file admin 2>/dev/null)"; then
  export PULSAR_AUTH_TOKEN_FILE
fi
[[ -x "$PYTHON" ]] || {
  echo "$PYTHON missing: python3 -m venv .venv && .venv/bin/pip install -r tests/requirements-pulsar.txt" >&2
  exit 1
}

results="$(mktemp)"
trap 'rm -f "$results"' EXIT

# Runs one benchmark; its last stdout line must be the JSON result. A failed
# run is recorded as such so that the table still shows the other runs.
run_one() {
  local label="$1"
  shift
  local out status=0
  echo "running: $label" >&2
  out="$("$@" 2>/dev/null)" || status=$?
  local json
  json="$(printf '%s\n' "$out" | grep '^{' | tail -n 1 || true)"
  if [[ -z "$json" ]]; then
    json='{}'
  fi
  printf '%s\t%s\t%s\n' "$label" "$status" "$json" >> "$results"
}

topic_for() {
  printf 'persistent://public/default/bench-%s-%s-%s\n' "$1" "$$" "$RANDOM"
}

common=(--url "$URL" --count "$count" --payload-size "$size" --key-prefix key- --keys "$keys")
if [[ -x "$CLI" ]]; then
  run_one "C (oms-pulsar)" "$CLI" perf "${common[@]}" --topic "$(topic_for c)"
else
  echo "$CLI missing (make SANITIZE=1 build/asan/bin/oms-pulsar); C rows skipped" >&2
fi
run_one "Python (pulsar-client)" "$PYTHON" "$PY_BENCH" "${common[@]}" --topic "$(topic_for py)"
run_one "Python (pulsar-client) batched" "$PYTHON" "$PY_BENCH" "${common[@]}" --topic "$(topic_for pyb)" --batch

"$PYTHON" - "$results" "$count" "$size" "$keys" <<'PY'
import json, sys

path, count, size, keys = sys.argv[1:]
print("\n%s keyed messages of %s bytes over %s keys, produce + consume on one topic\n" % (count, size, keys))
print("%-32s %9s %9s %9s %12s  %s" % ("client", "produced", "consumed", "seconds", "msg/s", "status"))
failed = False
with open(path) as results:
    for line in results:
        label, status, raw = line.rstrip("\n").split("\t", 2)
        try:
            r = json.loads(raw)
        except ValueError:
            r = {}
        ok = status == "0" and r.get("consumed") == int(count)
        failed |= not ok
        print("%-32s %9s %9s %9s %12s  %s" % (
            label, r.get("produced", "-"), r.get("consumed", "-"), r.get("seconds", "-"),
            r.get("msg_per_s", "-"), "ok" if ok else "FAILED (exit %s)" % status))
sys.exit(1 if failed else 0)
PY
