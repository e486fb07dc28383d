#!/usr/bin/env bash
# scripts/oms.sh -- runs the whole system on this machine.
#
#   oms.sh run      build, start PostgreSQL (and Pulsar when MESSAGE_BUS=pulsar)
#                   and the four processes in the foreground, log lines prefixed
#                   with the process name; Ctrl-C (or SIGTERM) stops everything.
#   oms.sh up       the same in the background (logs in $OMS_RUN_DIR/logs); starts
#                   only what is not running yet, returns once every /ready answers.
#   oms.sh down     stops everything up/run started; leaves no process behind.
#   oms.sh status   what is running.
#
# Settings (environment), with defaults:
#   OMS_RUN_DIR=<repo>/.run   pids/, logs/, the PostgreSQL cluster
#   PG_PORT=55432             the private PostgreSQL (infrastructure/postgres/pg.sh)
#   GATEWAY_PORT=8080 ORDER_PORT=8001 INVENTORY_PORT=8002 PAYMENT_PORT=8003
#   BIN_DIR=build/release/bin where the four binaries are (tests: build/asan/bin)
#   MESSAGE_BUS=pg            pg | pulsar (then infrastructure/pulsar/pulsar.sh is
#                             started, PULSAR_HOST=127.0.0.1 PULSAR_PORT=6650, and
#                             each service gets its own role's token from it)
#   OMS_SKIP_BUILD=0          1: do not run make first
#   OMS_READY_TIMEOUT_S=60    how long to wait for /ready
#   OMS_STOP_TIMEOUT_S=20     how long a process may take to stop before SIGKILL
#   OMS_LOCAL_RUN=1           the gateway's local-run switch (docs: README, Security)
#   INTERNAL_API_KEY          the gateway-to-services credential; default: one
#                             made for $OMS_RUN_DIR (internal-api-key, mode 0600)
# Everything else in the environment (LOG_LEVEL, SAGA_STEP_TIMEOUT_S, API_KEYS,
# JWT_*, ...) is passed on to the processes as it is.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

OMS_RUN_DIR="${OMS_RUN_DIR:-$REPO/.run}"
mkdir -p "$OMS_RUN_DIR"
OMS_RUN_DIR="$(cd "$OMS_RUN_DIR" && pwd)"
export OMS_RUN_DIR
export PG_PORT="${PG_PORT:-55432}"
GATEWAY_PORT="${GATEWAY_PORT:-8080}"
ORDER_PORT="${ORDER_PORT:-8001}"
INVENTORY_PORT="${INVENTORY_PORT:-8002}"
PAYMENT_PORT="${PAYMENT_PORT:-8003}"
BIN_DIR="${BIN_DIR:-build/release/bin}"
[[ "$BIN_DIR" = /* ]] || BIN_DIR="$REPO/$BIN_DIR"
export MESSAGE_BUS="${MESSAGE_BUS:-pg}"
export PULSAR_HOST="${PULSAR_HOST:-127.0.0.1}"
export PULSAR_PORT="${PULSAR_PORT:-6650}"
export PULSAR_DIR="${PULSAR_DIR:-$OMS_RUN_DIR/pulsar}"
OMS_SKIP_BUILD="${OMS_SKIP_BUILD:-0}"
OMS_READY_TIMEOUT_S="${OMS_READY_TIMEOUT_S:-60}"
OMS_STOP_TIMEOUT_S="${OMS_STOP_TIMEOUT_S:-20}"

PG_SH="$REPO/infrastructure/postgres/pg.sh"
PULSAR_SH="$REPO/infrastructure/pulsar/pulsar.sh"
PID_DIR="$OMS_RUN_DIR/pids"
LOG_DIR="$OMS_RUN_DIR/logs"
PULSAR_MARK="$OMS_RUN_DIR/pulsar.started-by-oms"

# Start order: order-service first, as it sets up the bus database the
# others wait for (pg.sh: least privilege); the gateway last, so its
# upstreams are there first.
NAMES=(order inventory payment gateway)

say() { echo "oms: $*"; }
die() {
    echo "oms: $*" >&2
    exit 1
}

binary_of() {
    case "$1" in
        gateway) echo "$BIN_DIR/api-gateway" ;;
        *) echo "$BIN_DIR/$1-service" ;;
    esac
}

port_of() {
    case "$1" in
        gateway) echo "$GATEWAY_PORT" ;;
        order) echo "$ORDER_PORT" ;;
        inventory) echo "$INVENTORY_PORT" ;;
        payment) echo "$PAYMENT_PORT" ;;
    esac
}

# The credential the gateway presents to the services (X-OMS-Internal-Key,
# docs/architecture.md): INTERNAL_API_KEY from the environment when set, else
# a random one made once per run directory (mode 0600), passed by file name
# so that it never shows on a command line. Prints the setting for env(1):
# NAME=VALUE with `name` the gateway's or the services' variable.
internal_key_setting() {
    local name="$1"
    if [ -n "${INTERNAL_API_KEY:-}" ]; then
        echo "$name=$INTERNAL_API_KEY"
        return 0
    fi
    local file="$OMS_RUN_DIR/internal-api-key"
    if [ ! -s "$file" ]; then
        (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$file")
    fi
    echo "${name}_FILE=$file"
}

# PULSAR_AUTH_TOKEN_FILE=<the service's token> when the local broker runs
# with authentication (pulsar.sh made the token), else nothing.
pulsar_token_of() {
    local token="$PULSAR_DIR/auth/tokens/$1-service.token"
    if [ "$MESSAGE_BUS" = pulsar ] && [ -s "$token" ]; then
        echo PULSAR_AUTH_TOKEN_FILE="$token"
    fi
}

# The environment of one process, as NAME=VALUE words for env(1).
# OMS_LOCAL_RUN=1 tells the processes this is a local run: the gateway,
# without API_KEYS or a JWT key, then serves every request as admin (it
# refuses to start so anywhere else), and RATE_LIMIT_RPS is off unless set;
# the services listen on 127.0.0.1 and open accounts with DEFAULT_CREDIT
# 1000.00 unless set.
env_of() {
    local name="$1"
    local common=(PORT="$(port_of "$name")")
    case "$name" in
        gateway)
            echo SERVICE_NAME=api-gateway "${common[@]}" \
                OMS_LOCAL_RUN="${OMS_LOCAL_RUN:-1}" RATE_LIMIT_RPS="${RATE_LIMIT_RPS:-0}" \
                "$(internal_key_setting INTERNAL_API_KEY)" \
                ORDER_SERVICE_URL="http://127.0.0.1:$ORDER_PORT" \
                INVENTORY_SERVICE_URL="http://127.0.0.1:$INVENTORY_PORT" \
                PAYMENT_SERVICE_URL="http://127.0.0.1:$PAYMENT_PORT"
            ;;
        order | inventory | payment)
            local database
            case "$name" in
                order) database=orders ;;
                inventory) database=inventory ;;
                payment) database=payments ;;
            esac
            # The service's own PostgreSQL role, its password in a file of
            # the run (pg.sh: least privilege), and its own Pulsar token.
            local token
            token="$(pulsar_token_of "$name")"
            echo SERVICE_NAME="$name-service" "${common[@]}" POSTGRES_HOST=127.0.0.1 POSTGRES_PORT="$PG_PORT" \
                POSTGRES_USER="$name-service" PGPASSFILE="$("$PG_SH" pgpass "$name-service")" \
                POSTGRES_DB="$database" BUS_POSTGRES_DB=bus OMS_LOCAL_RUN="${OMS_LOCAL_RUN:-1}" \
                "$(internal_key_setting INTERNAL_API_KEYS)" \
                MIGRATIONS_DIR="$REPO/services/$name-service/migrations" ${token:+"$token"}
            ;;
    esac
}

# The start time of a running process (field 22 of /proc/PID/stat), or
# nothing when it is gone or a zombie (exited, not yet reaped by `run`).
start_time_of() {
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 0
    stat="${stat##*) }" # after "pid (comm) ": field 3 (state) onwards
    [ "${stat%% *}" = Z ] && return 0
    cut -d' ' -f20 <<<"$stat"
}

# The pid of a process this script started and that still runs, or nothing.
# The pid file holds "pid start-time": a recycled pid has another start time,
# so it is never taken for ours (and never signalled).
live_pid() {
    local file="$PID_DIR/$1.pid" pid started
    [ -f "$file" ] || return 0
    read -r pid started <"$file" || true
    [[ "${pid:-}" =~ ^[0-9]+$ ]] || return 0
    if [ -n "${started:-}" ] && [ "$(start_time_of "$pid")" = "$started" ]; then
        echo "$pid"
    fi
    return 0
}

answers() { curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$1$2" 2>/dev/null; }

build() {
    [ "$OMS_SKIP_BUILD" = 1 ] && return 0
    case "$BIN_DIR" in
        "$REPO/build/release/bin") say "building (make)"; make -s -j2 programs ;;
        "$REPO/build/asan/bin") say "building (make SANITIZE=1)"; make -s -j2 SANITIZE=1 programs ;;
        *) say "BIN_DIR=$BIN_DIR is not a build of this Makefile: not building" ;;
    esac
    local name
    for name in "${NAMES[@]}"; do
        [ -x "$(binary_of "$name")" ] || die "$(binary_of "$name") is missing: build it first"
    done
}

start_infrastructure() {
    "$PG_SH" start
    if [ "$MESSAGE_BUS" = pulsar ]; then
        [ -x "$PULSAR_SH" ] || die "MESSAGE_BUS=pulsar but $PULSAR_SH is missing"
        if ! "$PULSAR_SH" status >/dev/null 2>&1; then
            "$PULSAR_SH" start
            touch "$PULSAR_MARK"
        fi
    fi
}

stop_infrastructure() {
    "$PG_SH" stop || true
    if [ -f "$PULSAR_MARK" ]; then
        "$PULSAR_SH" stop || true
        rm -f "$PULSAR_MARK"
    fi
}

# Starts one process unless it runs already. $2 = foreground: its output goes
# to our stdout with a "name | " prefix (and the log file); else to the log.
start_process() {
    local name="$1" mode="$2" port pid bin
    port="$(port_of "$name")"
    bin="$(binary_of "$name")"
    pid="$(live_pid "$name")"
    if [ -n "$pid" ]; then
        say "$name already running (pid $pid, port $port)"
        return 0
    fi
    answers "$port" /health && die "port $port ($name) is taken by a process this script did not start"
    # setsid: Ctrl-C in the terminal reaches only this script, which then stops
    # the processes in order with SIGTERM.
    local -a environment
    read -r -a environment <<<"$(env_of "$name")"
    if [ "$mode" = foreground ]; then
        local prefix
        prefix="$(printf '%-9s| ' "$name")"
        # The prefixer ignores SIGINT so that Ctrl-C does not cut the last lines.
        setsid env "${environment[@]}" "$bin" \
            > >(trap '' INT; sed -u "s/^/$prefix/" | tee -a "$LOG_DIR/$name.log") 2>&1 </dev/null &
    else
        setsid env "${environment[@]}" "$bin" >>"$LOG_DIR/$name.log" 2>&1 </dev/null &
    fi
    pid=$!
    echo "$pid $(start_time_of "$pid")" >"$PID_DIR/$name.pid"
    say "started $name (pid $pid, port $port)"
}

wait_ready() {
    local deadline=$((SECONDS + OMS_READY_TIMEOUT_S)) name port waiting
    while :; do
        waiting=()
        for name in "${NAMES[@]}"; do
            if [ -z "$(live_pid "$name")" ]; then
                tail -n 20 "$LOG_DIR/$name.log" >&2 2>/dev/null || true
                die "$name exited during start (log: $LOG_DIR/$name.log)"
            fi
            port="$(port_of "$name")"
            answers "$port" /ready || waiting+=("$name")
        done
        [ ${#waiting[@]} -eq 0 ] && return 0
        if [ "$SECONDS" -ge "$deadline" ]; then
            for name in "${waiting[@]}"; do
                curl -sS --max-time 2 "http://127.0.0.1:$(port_of "$name")/ready" >&2 || true
                echo >&2
            done
            die "not ready after ${OMS_READY_TIMEOUT_S}s: ${waiting[*]} (logs: $LOG_DIR)"
        fi
        sleep 0.3
    done
}

# The headers a request of this script to a service carries in place of the
# gateway's (docs/architecture.md, "The gateway and the services"): the
# internal credential and an admin principal, written to a file for curl -H @.
service_headers() {
    local file="$OMS_RUN_DIR/service-headers" key
    if [ -n "${INTERNAL_API_KEY:-}" ]; then
        key="$INTERNAL_API_KEY"
    else
        key="$(cat "$OMS_RUN_DIR/internal-api-key")"
    fi
    (umask 077 && printf 'X-OMS-Internal-Key: %s\nX-OMS-Role: admin\nX-OMS-Principal: local\n' "$key" >"$file")
    echo "$file"
}

# Demo data (SPEC 2): product-1 (10.50) and product-2 (5.25) with ample
# stock. 409 = already there.
seed_demo_data() {
    local product number code headers prices=(0 10.50 5.25)
    headers="$(service_headers)"
    for number in 1 2; do
        product="product-$number"
        code="$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 \
            -H 'Content-Type: application/json' -H "@$headers" \
            -d "{\"product_id\": \"$product\", \"name\": \"Demo product $number\", \"stock\": 1000000, \"price\": ${prices[$number]}}" \
            "http://127.0.0.1:$INVENTORY_PORT/products")" || code=000
        case "$code" in
            201) say "demo data: $product created (price ${prices[$number]}, stock 1000000)" ;;
            409) ;;
            *) die "demo data: POST /products $product answered $code" ;;
        esac
    done
}

print_welcome() {
    cat <<TEXT
oms: ready in ${SECONDS}s on http://localhost:$GATEWAY_PORT (message bus: $MESSAGE_BUS)
oms: try:
  curl -s -X POST http://localhost:$GATEWAY_PORT/orders -H 'Content-Type: application/json' \\
    -d '{"customer_id":"customer-1","items":[{"product_id":"product-1","quantity":2,"unit_price":10.50}]}'
  curl -s 'http://localhost:$GATEWAY_PORT/orders/<id>?include_saga_history=true'
  curl -s -X POST http://localhost:$GATEWAY_PORT/orders/<id>/cancel -H 'Content-Type: application/json' -d '{"reason":"changed my mind"}'
TEXT
}

# SIGTERM to every process we started, SIGKILL to those still there after
# OMS_STOP_TIMEOUT_S. Returns once none is left.
stop_processes() {
    local name pid pids=() names=()
    for name in "${NAMES[@]}"; do
        pid="$(live_pid "$name")"
        if [ -n "$pid" ]; then
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
            names+=("$name")
        fi
    done
    local deadline=$((SECONDS + OMS_STOP_TIMEOUT_S)) i alive
    while :; do
        alive=()
        for i in "${!names[@]}"; do
            [ -n "$(live_pid "${names[$i]}")" ] && alive+=("$i")
        done
        [ ${#alive[@]} -eq 0 ] && break
        if [ "$SECONDS" -ge "$deadline" ]; then
            for i in "${alive[@]}"; do
                say "${names[$i]} did not stop in ${OMS_STOP_TIMEOUT_S}s: SIGKILL"
                kill -KILL "${pids[$i]}" 2>/dev/null || true
            done
            sleep 0.5
            break
        fi
        sleep 0.2
    done
    for name in "${names[@]}"; do say "stopped $name"; done
    for name in "${NAMES[@]}"; do rm -f "$PID_DIR/$name.pid"; done
}

prepare() {
    mkdir -p "$PID_DIR" "$LOG_DIR"
    "$REPO/scripts/deps.sh"
    build
    start_infrastructure
}

cmd_up() {
    prepare
    local name
    for name in "${NAMES[@]}"; do start_process "$name" background; done
    wait_ready
    seed_demo_data
    print_welcome
    say "logs in $LOG_DIR; stop with: scripts/oms.sh down (make down)"
}

shutdown_foreground() {
    trap - EXIT INT TERM
    echo
    say "stopping"
    stop_processes
    stop_infrastructure
    say "stopped in ${SECONDS}s"
    exit "${1:-0}"
}

cmd_run() {
    prepare
    trap 'shutdown_foreground 1' EXIT
    trap 'shutdown_foreground 0' INT TERM
    local name
    for name in "${NAMES[@]}"; do start_process "$name" foreground; done
    wait_ready
    seed_demo_data
    print_welcome
    say "Ctrl-C stops everything"
    SECONDS=0
    while :; do
        for name in "${NAMES[@]}"; do
            if [ -z "$(live_pid "$name")" ]; then
                say "$name exited; stopping the rest"
                trap - EXIT
                shutdown_foreground 1
            fi
        done
        # sleep in the background so a signal is handled at once
        sleep 1 &
        wait $! || true
    done
}

cmd_down() {
    SECONDS=0
    stop_processes
    stop_infrastructure
    say "down in ${SECONDS}s"
}

cmd_status() {
    local name pid port state all_up=0
    for name in "${NAMES[@]}"; do
        pid="$(live_pid "$name")"
        port="$(port_of "$name")"
        if [ -z "$pid" ]; then
            state="stopped"
            all_up=3
        elif answers "$port" /ready; then
            state="ready (pid $pid)"
        else
            state="running, not ready (pid $pid)"
        fi
        printf '%-10s port %-5s %s\n' "$name" "$port" "$state"
    done
    "$PG_SH" status || all_up=3
    if [ "$MESSAGE_BUS" = pulsar ] && [ -x "$PULSAR_SH" ]; then
        "$PULSAR_SH" status || all_up=3
    fi
    return "$all_up"
}

case "${1:-}" in
    run) cmd_run ;;
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    *)
        echo "usage: $0 {run|up|down|status}" >&2
        exit 2
        ;;
esac
