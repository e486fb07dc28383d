#!/usr/bin/env bash
# scripts/bench.sh -- `make bench`: one command, one report.
#
#   1. builds the release binaries (make programs, loadgen included);
#   2. the ceiling: pgbench on the bench PostgreSQL with a script shaped like
#      the order-creation transaction (tools/bench/order_create.pgbench on the
#      tables of tools/bench/ceiling_schema.sql), at each client count;
#   3. starts the system (scripts/oms.sh up) on its own ports and run dir,
#      seeds products with huge stock, and for each client count runs a
#      closed-loop load through the gateway (tools/loadgen), waits until every
#      order of the run is final, and reads from the orders database the sagas
#      completed per second and the create-to-final latencies; peak RSS
#      (VmHWM, reset before each run) and CPU seconds of every process;
#   4. an open-loop run at BENCH_OPEN_FRACTION (0.8) of the best sagas/s;
#   5. the same closed-loop runs with MESSAGE_BUS=pulsar when a broker can be
#      started (infrastructure/pulsar/pulsar.sh), else a printed reason;
#   6. the report: a table on the terminal, build/bench/report.json,
#      build/bench/chart.png and docs/benchmarks.md (tools/bench/report.py).
# The system is always stopped at the end, also on failure or Ctrl-C.
#
# Settings (environment), with defaults:
#   BENCH_SECONDS=20            length of each load run
#   BENCH_CLIENTS="1 8 32 128 256"  closed-loop client counts (pg bus); at 256
#                               admission control refuses orders (503,
#                               refused/s apart from accepted/s; loadgen's
#                               clients wait the Retry-After)
#   BENCH_PULSAR_CLIENTS="1 8 32 128"  the same on Pulsar
#   BENCH_PULSAR=auto           auto: run on Pulsar when a broker can start; 0: skip
#   BENCH_PGBENCH_SECONDS=10    length of each pgbench run
#   BENCH_DRAIN_TIMEOUT_S=120   how long to wait for a run's orders to be final
#   BENCH_OPEN_FRACTION=0.8     the open-loop rate, as a fraction of the best pg sagas/s
#   BENCH_FRESH=1               1: a new PostgreSQL cluster (and Pulsar data) per bench
#   BENCH_DOCS=1                0: do not rewrite docs/benchmarks.md
#   OMS_RUN_DIR=.run/bench PG_PORT=25436 GATEWAY_PORT=28080 ORDER_PORT=28001
#   INVENTORY_PORT=28002 PAYMENT_PORT=28003 BENCH_PULSAR_PORT=26650
#   BENCH_PULSAR_ADMIN_PORT=28081 LOG_LEVEL=warn DEFAULT_CREDIT=1000000000.00
# The ports sit below Linux's ephemeral range (32768-60999): the
# Pulsar broker opens many local connections, and one of them once held a
# port in that range just when a service (or PostgreSQL) wanted to listen on it.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

export OMS_RUN_DIR="${OMS_RUN_DIR:-$REPO/.run/bench}"
mkdir -p "$OMS_RUN_DIR"
OMS_RUN_DIR="$(cd "$OMS_RUN_DIR" && pwd)"
export PG_PORT="${PG_PORT:-25436}"
# The cluster's superuser password (pg.sh), for psql and pgbench.
export PGPASSFILE="$OMS_RUN_DIR/pg-auth/postgres.pgpass"
export GATEWAY_PORT="${GATEWAY_PORT:-28080}"
export ORDER_PORT="${ORDER_PORT:-28001}"
export INVENTORY_PORT="${INVENTORY_PORT:-28002}"
export PAYMENT_PORT="${PAYMENT_PORT:-28003}"
export PULSAR_PORT="${BENCH_PULSAR_PORT:-26650}"
export PULSAR_ADMIN_PORT="${BENCH_PULSAR_ADMIN_PORT:-28081}"
export PULSAR_BOOKIE_PORT="${BENCH_PULSAR_BOOKIE_PORT:-23181}"
export PULSAR_DIR="$OMS_RUN_DIR/pulsar"
export PULSAR_HOST=127.0.0.1
# Logging off the hot path: services still log warnings and errors.
export LOG_LEVEL="${LOG_LEVEL:-warn}"
# Every client of the bench comes from 127.0.0.1: no per-address connection
# cap (it guards a public listener against one address taking many).
export HTTP_PER_IP_CONNECTIONS="${HTTP_PER_IP_CONNECTIONS:-0}"
# Every customer's account opens with enough credit for any number of orders.
export DEFAULT_CREDIT="${DEFAULT_CREDIT:-1000000000.00}"
export BIN_DIR="$REPO/build/release/bin"
export OMS_SKIP_BUILD=1

BENCH_SECONDS="${BENCH_SECONDS:-20}"
BENCH_CLIENTS="${BENCH_CLIENTS:-1 8 32 128 256}"
BENCH_PULSAR_CLIENTS="${BENCH_PULSAR_CLIENTS:-1 8 32 128}"
BENCH_PULSAR="${BENCH_PULSAR:-auto}"
BENCH_PGBENCH_SECONDS="${BENCH_PGBENCH_SECONDS:-10}"
BENCH_DRAIN_TIMEOUT_S="${BENCH_DRAIN_TIMEOUT_S:-120}"
BENCH_OPEN_FRACTION="${BENCH_OPEN_FRACTION:-0.8}"
BENCH_FRESH="${BENCH_FRESH:-1}"
BENCH_DOCS="${BENCH_DOCS:-1}"

OUT="$REPO/build/bench"
RUNS="$OUT/runs.jsonl"
CEILING="$OUT/ceiling.jsonl"
META="$OUT/meta.json"
PG_SH="$REPO/infrastructure/postgres/pg.sh"
PULSAR_SH="$REPO/infrastructure/pulsar/pulsar.sh"
OMS_SH="$REPO/scripts/oms.sh"
LOADGEN="$BIN_DIR/loadgen"
PYTHON="$REPO/.venv/bin/python"
GATEWAY_URL="http://127.0.0.1:$GATEWAY_PORT"
RUN_ID="$(date -u +%H%M%S)"
PRODUCTS="bench-product-1,bench-product-2,bench-product-3,bench-product-4,bench-product-5,bench-product-6,bench-product-7,bench-product-8"
SERVICES=(gateway order inventory payment)
FINAL_STATES="('INVENTORY_CONFIRMED', 'FAILED', 'CANCELLED')"

say() { echo "bench: $*" >&2; }
die() {
    echo "bench: $*" >&2
    exit 1
}

for setting in BENCH_SECONDS BENCH_PGBENCH_SECONDS BENCH_DRAIN_TIMEOUT_S; do
    [[ "${!setting}" =~ ^[1-9][0-9]*$ ]] || die "$setting=${!setting}: must be a whole number of seconds"
done
if ! [[ "$BENCH_OPEN_FRACTION" =~ ^(0\.[0-9]*[1-9][0-9]*|1(\.0+)?)$ ]]; then
    die "BENCH_OPEN_FRACTION=$BENCH_OPEN_FRACTION: must be a fraction above 0 and at most 1"
fi
for clients in $BENCH_CLIENTS $BENCH_PULSAR_CLIENTS; do
    if ! [[ "$clients" =~ ^[1-9][0-9]*$ ]] || [ "$clients" -gt 1024 ]; then
        die "client count $clients: must be 1 to 1024"
    fi
done

psql_bench() {
    local db="$1"
    shift
    psql -X -q -tA -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "$db" "$@"
}

# ---- the environment ------------------------------------------------------

python_ready() { [ -x "$PYTHON" ] && "$PYTHON" -c 'import matplotlib' 2>/dev/null; }

prepare_python() {
    python_ready && return 0
    say "installing tests/requirements-bench.txt into .venv"
    [ -x "$PYTHON" ] || python3 -m venv "$REPO/.venv"
    "$REPO/.venv/bin/pip" install -q --disable-pip-version-check -r "$REPO/tests/requirements-bench.txt"
}

build() {
    say "building the release binaries (make programs)"
    make -s -j2 programs
    [ -x "$LOADGEN" ] || die "$LOADGEN is missing after make programs"
}

stop_everything() {
    local status=$?
    trap - EXIT INT TERM
    stop_sampler
    say "stopping the system"
    MESSAGE_BUS=pulsar "$OMS_SH" down >&2 || true
    exit "$status"
}

# ---- measurements of processes ----------------------------------------------

pid_of() {
    local file="$OMS_RUN_DIR/pids/$1.pid" pid
    [ -f "$file" ] || return 0
    read -r pid _ <"$file" || true
    echo "${pid:-}"
}

postmaster_pid() {
    local data
    data="$(psql_bench postgres -c 'SHOW data_directory')"
    head -n 1 "$data/postmaster.pid" 2>/dev/null || true
}

# utime + stime of one process, in clock ticks.
cpu_ticks_of() {
    awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

# The PostgreSQL server: the postmaster and every child (backends, WAL writer...).
postgres_ticks() {
    local pm="$1" total=0 child
    [ -n "$pm" ] || {
        echo 0
        return
    }
    total=$(cpu_ticks_of "$pm")
    for child in $(ps --ppid "$pm" -o pid= 2>/dev/null); do
        total=$((total + $(cpu_ticks_of "$child")))
    done
    echo "$total"
}

# Busy and total jiffies of the whole machine (/proc/stat, first line).
machine_ticks() {
    awk '/^cpu / { idle = $5 + $6; total = 0; for (i = 2; i <= NF; i++) total += $i; print total - idle, total }' /proc/stat
}

# JSON object {gateway: ticks, ..., postgres: ticks, machine_busy, machine_total}.
cpu_snapshot() {
    local pm="$1" name pid busy total
    printf '{'
    for name in "${SERVICES[@]}"; do
        pid="$(pid_of "$name")"
        printf '"%s":%s,' "$name" "$([ -n "$pid" ] && cpu_ticks_of "$pid" || echo 0)"
    done
    read -r busy total < <(machine_ticks)
    printf '"postgres":%s,"machine_busy":%s,"machine_total":%s}' "$(postgres_ticks "$pm")" "$busy" "$total"
}

# Peak RSS is measured per run: "5" in clear_refs resets VmHWM to the current RSS.
reset_peak_rss() {
    local name pid
    for name in "${SERVICES[@]}"; do
        pid="$(pid_of "$name")"
        if [ -n "$pid" ]; then
            { echo 5 >"/proc/$pid/clear_refs"; } 2>/dev/null || true
        fi
    done
}

peak_rss_kib() {
    local name pid kib
    printf '{'
    local first=1
    for name in "${SERVICES[@]}"; do
        pid="$(pid_of "$name")"
        kib=0
        [ -n "$pid" ] && kib="$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)"
        [ "$first" = 1 ] || printf ','
        first=0
        printf '"%s":%s' "$name" "${kib:-0}"
    done
    printf '}'
}

# ---- the ceiling: pgbench -----------------------------------------------------

run_ceiling() {
    say "ceiling: pgbench, the order-creation transaction, ${BENCH_PGBENCH_SECONDS}s per client count"
    psql_bench postgres -c "DROP DATABASE IF EXISTS bench_ceiling" -c "CREATE DATABASE bench_ceiling"
    psql_bench bench_ceiling -f "$REPO/tools/bench/ceiling_schema.sql" >/dev/null
    : >"$CEILING"
    local clients
    for clients in $BENCH_CLIENTS; do
        pgbench_run as_coded "$clients" "$REPO/tools/bench/order_create.pgbench"
    done
    psql_bench postgres -c "DROP DATABASE bench_ceiling"
}

# One pgbench run; appends a JSON line to $CEILING and sets LAST_TPS.
pgbench_run() {
    local variant="$1" clients="$2" script="$3" out latency failed
    out="$(pgbench -h 127.0.0.1 -p "$PG_PORT" -U postgres -n -M extended -c "$clients" -j 2 \
        -T "$BENCH_PGBENCH_SECONDS" -f "$script" bench_ceiling 2>&1)" ||
        { echo "$out" >&2; die "pgbench failed at $clients clients"; }
    LAST_TPS="$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out")"
    LAST_TPS="${LAST_TPS:-0}"
    latency="$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' <<<"$out")"
    failed="$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<<"$out")"
    printf '{"variant":"%s","clients":%s,"tps":%s,"latency_avg_ms":%s,"failed":%s}\n' \
        "$variant" "$clients" "$LAST_TPS" "${latency:-0}" "${failed:-0}" >>"$CEILING"
    say "  pgbench ($variant) $clients clients: $LAST_TPS tps (latency avg ${latency:-?} ms)"
}

# ---- the system ------------------------------------------------------------------

start_system() {
    local bus="$1"
    say "starting the system (MESSAGE_BUS=$bus)"
    MESSAGE_BUS="$bus" "$OMS_SH" up >&2
}

stop_system() {
    local bus="$1"
    MESSAGE_BUS="$bus" "$OMS_SH" down >&2
}

# Products with stock for any run length; 409 (there already) is fine.
seed_products() {
    local product code
    for product in ${PRODUCTS//,/ }; do
        # As the gateway would (oms.sh up wrote the service headers), at the
        # price loadgen orders at.
        code="$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 -H 'Content-Type: application/json' \
            -H "@$OMS_RUN_DIR/service-headers" \
            -d "{\"product_id\": \"$product\", \"name\": \"Bench $product\", \"stock\": 1000000000, \"price\": 1.00}" \
            "http://127.0.0.1:$INVENTORY_PORT/products")" || code=000
        case "$code" in
            201 | 409) ;;
            *) die "seeding: POST /products $product answered $code" ;;
        esac
    done
}

# Non-final orders of one run (customer ids "<prefix>-N").
unfinished_orders() {
    psql_bench orders -v prefix="$1-%" <<SQL
SELECT count(*) FROM orders WHERE customer_id LIKE :'prefix' AND status NOT IN $FINAL_STATES;
SQL
}

wait_until_final() {
    local prefix="$1" deadline=$((SECONDS + BENCH_DRAIN_TIMEOUT_S)) left
    while :; do
        left="$(unfinished_orders "$prefix")"
        [ "$left" = 0 ] && return 0
        if [ "$SECONDS" -ge "$deadline" ]; then
            say "  $left orders still not final after ${BENCH_DRAIN_TIMEOUT_S}s; measured as they are"
            return 0
        fi
        sleep 0.5
    done
}

# Waits until earlier runs have left nothing behind (every order of the
# system final, and no message waiting in the pg bus: re-sent commands and
# their replies outlive the orders), so that one run's backlog is not
# measured in the next. Prints how many orders and messages were still
# waiting when it gave up (0 when none).
settle() {
    local deadline=$((SECONDS + BENCH_DRAIN_TIMEOUT_S)) left queued
    while :; do
        left="$(psql_bench orders -c "SELECT count(*) FROM orders WHERE status NOT IN $FINAL_STATES")"
        queued="$(psql_bench bus -c "SELECT CASE WHEN to_regclass('bus_queue') IS NULL THEN 0 ELSE 1 END" )"
        [ "$queued" = 0 ] || queued="$(psql_bench bus -c "SELECT count(*) FROM bus_queue")"
        left=$((left + queued))
        if [ "$left" = 0 ] || [ "$SECONDS" -ge "$deadline" ]; then
            echo "$left"
            return 0
        fi
        sleep 1
    done
}

# Counts and latencies of one run, from the stored timestamps.
saga_metrics() {
    psql_bench orders -v prefix="$1-%" <<SQL
WITH o AS (
    SELECT status, created_at, modified_at,
           extract(epoch FROM modified_at - created_at) * 1000 AS final_ms
    FROM orders WHERE customer_id LIKE :'prefix'
)
SELECT json_build_object(
    'orders', count(*),
    'confirmed', count(*) FILTER (WHERE status = 'INVENTORY_CONFIRMED'),
    'failed', count(*) FILTER (WHERE status = 'FAILED'),
    'cancelled', count(*) FILTER (WHERE status = 'CANCELLED'),
    'unfinished', count(*) FILTER (WHERE status NOT IN $FINAL_STATES),
    'span_s', extract(epoch FROM max(modified_at) FILTER (WHERE status = 'INVENTORY_CONFIRMED') - min(created_at)),
    'final_p50_ms', percentile_cont(0.5) WITHIN GROUP (ORDER BY final_ms) FILTER (WHERE status = 'INVENTORY_CONFIRMED'),
    'final_p99_ms', percentile_cont(0.99) WITHIN GROUP (ORDER BY final_ms) FILTER (WHERE status = 'INVENTORY_CONFIRMED'),
    'final_max_ms', max(final_ms) FILTER (WHERE status = 'INVENTORY_CONFIRMED'))
FROM o;
SQL
}

# Samples, 4 times a second until killed, what every client backend of the
# bench PostgreSQL is doing (CPU, a wait event, or idle in transaction: waiting
# for its client) and the depth of each bus queue; one line per group.
start_sampler() {
    local file="$1"
    printf '%s\n' \
        "SELECT 'backends', datname || ' ' || CASE WHEN state = 'active'" \
        "  THEN coalesce(wait_event_type || ':' || wait_event, 'CPU') ELSE replace(state, ' ', '_') END, count(*)" \
        "  FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()" \
        "  AND state <> 'idle' AND datname IN ('orders', 'inventory', 'payments', 'bus') GROUP BY 2" \
        "UNION ALL SELECT 'queue', topic, count(*) FROM bus_queue GROUP BY topic" \
        "UNION ALL SELECT 'sample', '-', 1" \
        '\watch 0.25' |
        psql -X -q -tA -F ' ' -h 127.0.0.1 -p "$PG_PORT" -U postgres -d bus >"$file" 2>/dev/null &
    SAMPLER_PID=$!
}

stop_sampler() {
    [ -n "${SAMPLER_PID:-}" ] || return 0
    kill "$SAMPLER_PID" 2>/dev/null || true
    wait "$SAMPLER_PID" 2>/dev/null || true
    SAMPLER_PID=
}

# One load run; appends one JSON line to $RUNS. $3: "--clients N" or "--rate R".
load_run() {
    local bus="$1" mode="$2" flag="$3" value="$4"
    local tag="$bus-$mode-$value"
    tag="${tag//./_}"
    local prefix="bench-$RUN_ID-$tag" pm before after loadgen_json metrics rss load1 wall_start backlog
    backlog="$(settle)"
    [ "$backlog" = 0 ] || say "run $tag starts with $backlog orders and bus messages of earlier runs still open"
    pm="$(postmaster_pid)"
    load1="$(cut -d' ' -f1 /proc/loadavg)"
    reset_peak_rss
    before="$(cpu_snapshot "$pm")"
    wall_start="$(date +%s%N)"
    start_sampler "$OUT/samples/$tag.txt"
    say "run $tag: loadgen $flag $value for ${BENCH_SECONDS}s"
    loadgen_json="$("$LOADGEN" --url "$GATEWAY_URL" "$flag" "$value" --duration "$BENCH_SECONDS" \
        --customer-prefix "$prefix" --products "$PRODUCTS" --ids-file "$OUT/ids/$tag.txt" | tail -n 1)"
    say "  loadgen: $loadgen_json"
    wait_until_final "$prefix"
    after="$(cpu_snapshot "$pm")"
    stop_sampler
    rss="$(peak_rss_kib)"
    metrics="$(saga_metrics "$prefix")"
    say "  orders: $metrics"
    printf '{"bus":"%s","mode":"%s","load":%s,"orders":%s,"peak_rss_kib":%s,"cpu_before":%s,"cpu_after":%s,"wall_s":%s,"loadavg_1m_before":%s,"clk_tck":%s,"samples":"%s","backlog_before":%s}\n' \
        "$bus" "$mode" "$loadgen_json" "$metrics" "$rss" "$before" "$after" \
        "$(awk -v a="$wall_start" -v b="$(date +%s%N)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')" "$load1" "$(getconf CLK_TCK)" "$OUT/samples/$tag.txt" "$backlog" >>"$RUNS"
}

closed_loop_runs() {
    local bus="$1" clients
    shift
    for clients in "$@"; do
        load_run "$bus" closed --clients "$clients"
    done
}

# BENCH_OPEN_FRACTION of the best sagas/s of the closed-loop runs on `bus`.
open_loop_rate() {
    "$PYTHON" - "$RUNS" "$1" "$BENCH_OPEN_FRACTION" <<'PY'
import json, sys
best = 0.0
for line in open(sys.argv[1]):
    r = json.loads(line)
    o = r["orders"]
    if r["bus"] == sys.argv[2] and r["mode"] == "closed" and o.get("span_s"):
        best = max(best, o["confirmed"] / o["span_s"])
print("%.1f" % max(best * float(sys.argv[3]), 1.0))
PY
}

# ---- Pulsar -------------------------------------------------------------------

# Prints why the Pulsar runs cannot happen, or nothing when they can.
pulsar_skip_reason() {
    [ "$BENCH_PULSAR" = 0 ] && { echo "BENCH_PULSAR=0"; return; }
    [ -x "$PULSAR_SH" ] || { echo "$PULSAR_SH is missing"; return; }
    command -v java >/dev/null || { echo "no java on PATH (scripts/deps.sh --test installs it)"; return; }
    return 0
}

pulsar_runs() {
    local reason
    reason="$(pulsar_skip_reason)"
    if [ -n "$reason" ]; then
        say "Pulsar runs skipped: $reason"
        echo "$reason" >"$OUT/pulsar-skipped.txt"
        return 0
    fi
    [ "$BENCH_FRESH" = 1 ] && rm -rf "$PULSAR_DIR/data"
    stop_system pg
    # One more try when a start fails (a broker that is slow to come up, a
    # port held for a moment).
    if ! start_system pulsar && ! { stop_system pulsar; start_system pulsar; }; then
        reason="the Pulsar broker or the services did not start (logs: $PULSAR_DIR/logs, $OMS_RUN_DIR/logs)"
        say "Pulsar runs skipped: $reason"
        echo "$reason" >"$OUT/pulsar-skipped.txt"
        stop_system pulsar || true
        return 0
    fi
    seed_products
    # shellcheck disable=SC2086 # a list of client counts
    closed_loop_runs pulsar $BENCH_PULSAR_CLIENTS
}

# ---- main -------------------------------------------------------------------------

main() {
    SECONDS=0
    "$REPO/scripts/deps.sh"
    command -v pgbench >/dev/null || die "pgbench is missing (postgresql-contrib / postgresql-15)"
    build
    prepare_python
    rm -rf "$OUT"
    mkdir -p "$OUT/ids" "$OUT/samples"
    : >"$RUNS"
    rm -f "$OUT/pulsar-skipped.txt"
    trap stop_everything EXIT
    trap 'exit 130' INT TERM

    # Nothing of ours may be running from an earlier, interrupted bench.
    MESSAGE_BUS=pulsar "$OMS_SH" down >&2 || true
    if [ "$BENCH_FRESH" = 1 ]; then
        say "a new PostgreSQL cluster in $OMS_RUN_DIR"
        "$PG_SH" destroy >&2 || true
    fi
    "$PG_SH" start >&2
    run_ceiling

    start_system pg
    seed_products
    # shellcheck disable=SC2086 # a list of client counts
    closed_loop_runs pg $BENCH_CLIENTS
    load_run pg open --rate "$(open_loop_rate pg)"

    pulsar_runs

    printf '{"pg_version":"%s","bench_seconds":%s,"pgbench_seconds":%s,"run_id":"%s","elapsed_s":%s}\n' \
        "$(psql_bench postgres -c 'SHOW server_version')" "$BENCH_SECONDS" "$BENCH_PGBENCH_SECONDS" "$RUN_ID" \
        "$SECONDS" >"$META"
    local docs=()
    [ "$BENCH_DOCS" = 1 ] && docs=(--docs "$REPO/docs/benchmarks.md")
    "$PYTHON" "$REPO/tools/bench/report.py" --runs "$RUNS" --ceiling "$CEILING" --meta "$META" \
        --pulsar-skipped "$OUT/pulsar-skipped.txt" --json "$OUT/report.json" --chart "$OUT/chart.png" "${docs[@]}"
    say "done in ${SECONDS}s: $OUT/report.json, $OUT/chart.png${docs:+, docs/benchmarks.md}"
}

main "$@"
